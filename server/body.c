/*
** server/body.c -- ingest bodies (NDJSON and TSV) into validated rows.
**
** The rules are not here: they are the public file format's, written once
** in store/format.c, so a row sent over HTTP is accepted or rejected
** exactly as `notescore import` would accept or reject it in a file.
**   TSV     the body goes through the file reader itself (ns_tsv_parse_mem:
**           same BOM, quoting, header, field count and UTF-8 rules); this
**           file only turns its rows and rejects into an ns__batch;
**   NDJSON  each object becomes one value per table column (format.h's
**           ns_fmt_val: strings and numbers as text, booleans marked as
**           such, null as empty) and goes to the same row validator.
**           Unknown keys are ignored like unknown columns; a key given
**           under its old name (participantId) counts only when the current
**           name is absent, as in a header.
**
** Who calls it: libuv worker threads (server.c), tests, fuzz_body.  No
** shared state: everything lives in the caller's ns__batch.
*/
#include "server_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../base/dataset.h"
#include "../store/format.h"

/* Valid UTF-8 (strict: no overlongs, surrogates, > U+10FFFF) without
** control characters: a message byte run that passes is kept as is. */
static int utf8_ok(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t k;
    uint32_t cp;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return 0;
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) { k = 1; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { k = 2; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { k = 3; cp = c & 0x07; }
    else return 0;
    if (n - i < k + 1) return 0;   /* truncated sequence */
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += k + 1;
  }
  return 1;
}

/* ---- batch helpers -------------------------------------------------------- */

static void reject(ns__batch *b, uint32_t line, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Makes msg valid UTF-8 in place: every byte that does not start a complete,
** valid sequence becomes '?'.  Reasons quote client bytes (an excerpt may
** also end inside a multibyte character), and the JSON answer must carry
** every reason, so it must be encodable. */
static void utf8_clean(char *msg) {
  size_t n = strlen(msg);
  for (size_t i = 0; i < n;) {
    size_t k = 1;
    while (k <= 4 && i + k <= n && !utf8_ok((const unsigned char *)msg + i, k)) k++;
    if (k <= 4 && i + k <= n) {
      i += k;
    } else {
      /* utf8_ok() also refuses control characters; keep those (JSON escapes them) */
      unsigned char c = (unsigned char)msg[i];
      if (c >= 0x80) msg[i] = '?';
      i++;
    }
  }
}

static void reject(ns__batch *b, uint32_t line, const char *code, const char *fmt, ...) {
  ns__body_reject r;
  va_list ap;
  b->n_rejected++;
  if (b->rejects.n >= NS_BODY_MAX_REJECTS) return;
  r.line = line;
  r.code = code;
  va_start(ap, fmt);
  vsnprintf(r.msg, sizeof r.msg, fmt, ap);
  va_end(ap);
  utf8_clean(r.msg);
  /* Out of memory here only loses the description; the count is kept. */
  (void)ns_vec_push(&b->rejects, r);
}

/* Copies an id into the arena; returns its offset or -1 (no memory).  Rows
** hold offsets until the body is done (the arena may move while growing);
** fix_pointers() turns them into pointers at the end. */
static int64_t arena_add(ns__batch *b, const char *s, size_t n) {
  size_t need = b->arena_n + n + 1;
  if (need > b->arena_cap) {
    size_t cap = b->arena_cap ? b->arena_cap : 4096;
    char *p;
    while (cap < need) cap *= 2;
    if (!(p = ns_realloc(b->arena, cap))) return -1;
    b->arena = p;
    b->arena_cap = cap;
  }
  memcpy(b->arena + b->arena_n, s, n);
  b->arena[b->arena_n + n] = '\0';
  b->arena_n = need;
  return (int64_t)(need - n - 1);
}

#define OFF2PTR(p) ((p) = b->arena + (uintptr_t)(p))

static void fix_pointers(ns__batch *b) {
  for (size_t i = 0; i < b->ratings.n; i++) OFF2PTR(b->ratings.a[i].rater);
  for (size_t i = 0; i < b->notes.n; i++) {
    OFF2PTR(b->notes.a[i].author);
    OFF2PTR(b->notes.a[i].summary);
  }
  for (size_t i = 0; i < b->enroll.n; i++) {
    OFF2PTR(b->enroll.a[i].participant);
    OFF2PTR(b->enroll.a[i].modeling_population);
  }
}

size_t ns__batch_rows(const ns__batch *b) {
  return b->ratings.n + b->notes.n + b->enroll.n;
}

void ns__batch_free(ns__batch *b) {
  if (!b) return;
  ns_vec_free(&b->ratings);
  ns_vec_free(&b->notes);
  ns_vec_free(&b->enroll);
  ns_vec_free(&b->rejects);
  free(b->arena);
  memset(b, 0, sizeof *b);
}

/* ---- validated rows into the batch ---------------------------------------- */

/* Each returns 0 or NS_ENOMEM.  Ids are copied into the arena (offsets
** until fix_pointers()). */

static int add_rating(ns__batch *b, const ns_fmt_rating *r) {
  ns_ingest_rating x;
  size_t mark = b->arena_n;
  int64_t off = arena_add(b, r->rater, r->rater_len);
  if (off < 0) return NS_ENOMEM;
  memset(&x, 0, sizeof x);
  x.note_id = r->note_id;
  x.rater = (const char *)(uintptr_t)off;
  x.created_ms = r->created_ms;
  x.level = r->level;
  x.tags = r->tags;
  x.source = r->source;
  if (ns_vec_push(&b->ratings, x)) {
    b->arena_n = mark;
    return NS_ENOMEM;
  }
  return 0;
}

static int add_note(ns__batch *b, const ns_fmt_note *r) {
  ns_ingest_note x;
  size_t mark = b->arena_n;
  int64_t off = arena_add(b, r->author, r->author_len), txt;
  if (off < 0) return NS_ENOMEM;
  /* the summary, its "" undoubled when it came from a quoted TSV cell */
  if ((txt = arena_add(b, r->summary, r->summary_len)) < 0) {
    b->arena_n = mark;
    return NS_ENOMEM;
  }
  if (r->summary_dq) {
    size_t k = ns_fmt_text_copy(b->arena + txt, b->arena + txt, r->summary_len, 1);
    b->arena[txt + (int64_t)k] = '\0';
    b->arena_n = (size_t)txt + k + 1;
  }
  memset(&x, 0, sizeof x);
  x.note_id = r->note_id;
  x.author = (const char *)(uintptr_t)off;
  x.summary = (const char *)(uintptr_t)txt;
  x.created_ms = r->created_ms;
  x.tweet_id = r->tweet_id;
  x.classification = r->classification;
  if (ns_vec_push(&b->notes, x)) {
    b->arena_n = mark;
    return NS_ENOMEM;
  }
  return 0;
}

static int add_enroll(ns__batch *b, const ns_enrollment *e, const char *p, size_t pn) {
  ns_ingest_enrollment x;
  size_t mark = b->arena_n;
  int64_t off = arena_add(b, p, pn), pop;
  if (off < 0) return NS_ENOMEM;
  pop = arena_add(b, e->modeling_population, strlen(e->modeling_population));
  if (pop < 0) {
    b->arena_n = mark;
    return NS_ENOMEM;
  }
  memset(&x, 0, sizeof x);
  x.participant = (const char *)(uintptr_t)off;
  x.state = e->state;
  x.successful_needed = e->successful_needed;
  x.ts_last_state_change = e->ts_last_state_change;
  x.ts_last_earn_out = e->ts_last_earn_out;
  x.modeling_population = (const char *)(uintptr_t)pop;
  x.modeling_group = e->modeling_group;
  x.times_earned_out = e->times_earned_out;
  if (ns_vec_push(&b->enroll, x)) {
    b->arena_n = mark;
    return NS_ENOMEM;
  }
  return 0;
}

/* Validates one row of values (format.c) and adds it, or records the
** reject.  Returns 0 or NS_ENOMEM. */
static int add_row(ns__batch *b, uint32_t line, const ns_fmt_val *v) {
  ns_fmt_err e;
  switch (b->kind) {
  case NS_FILE_RATINGS: {
    ns_fmt_rating r;
    if (ns_fmt_rating_row(v, &r, &e) == 0) return add_rating(b, &r);
    break;
  }
  case NS_FILE_NOTES: {
    ns_fmt_note r;
    if (ns_fmt_note_row(v, &r, &e) == 0) return add_note(b, &r);
    break;
  }
  default: {
    ns_fmt_enroll r;
    if (ns_fmt_enroll_row(v, &r, &e) == 0)
      return add_enroll(b, &r.e, r.participant, r.participant_len);
    break;
  }
  }
  reject(b, line, e.code, "%s", e.msg);
  return 0;
}

/* ---- NDJSON --------------------------------------------------------------- */

/* jansson reports a failed allocation as a syntax error or not at all (a
** key silently missing from an object), so its allocations go through this
** wrapper, which notes the failure for the line being parsed: such a line
** is the server's failure (NS_ENOMEM), never a bad line of the client. */
static _Thread_local int json_oom;

static void *json_alloc(size_t n) {
  void *p = ns_malloc(n);
  if (!p) json_oom = 1;
  return p;
}

void ns__body_init(void) { json_set_alloc_funcs(json_alloc, free); }

/* One JSON value as a format value: strings borrowed, numbers rendered
** into scratch.  Returns 0, or 1 for an array or object. */
static int json_val(json_t *v, char *scratch, size_t cap, ns_fmt_val *out) {
  switch (json_typeof(v)) {
  case JSON_STRING:
    out->p = json_string_value(v);
    out->n = json_string_length(v);
    out->type = NS_FV_TEXT;
    return 0;
  case JSON_INTEGER:
    out->n = (size_t)snprintf(scratch, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    out->p = scratch;
    out->type = NS_FV_NUMBER;
    return 0;
  case JSON_REAL:
    out->n = (size_t)snprintf(scratch, cap, "%.17g", json_real_value(v));
    out->p = scratch;
    out->type = NS_FV_NUMBER;
    return 0;
  case JSON_TRUE: out->p = "1"; out->n = 1; out->type = NS_FV_BOOL; return 0;
  case JSON_FALSE: out->p = "0"; out->n = 1; out->type = NS_FV_BOOL; return 0;
  case JSON_NULL: out->p = ""; out->n = 0; out->type = NS_FV_NULL; return 0;
  default: return 1;
  }
}

#define MAX_COLS 40 /* >= every table's column count (format.h) */

static int ndjson_line(ns__batch *b, uint32_t line, const char *s, size_t n) {
  json_error_t err;
  json_t *obj, *v;
  const char *key;
  ns_fmt_val vals[MAX_COLS];
  unsigned char by_alias[MAX_COLS];
  char scratch[MAX_COLS][32];
  int rc = 0;

  json_oom = 0;
  obj = json_loadb(s, n, JSON_REJECT_DUPLICATES, &err);
  if (json_oom || (!obj && json_error_code(&err) == json_error_out_of_memory)) {
    /* out of memory is the server's failure, not a bad line (fault sweep,
    ** tests/test_fault.c: such lines were rejected as "invalid JSON") */
    json_decref(obj);
    return NS_ENOMEM;
  }
  if (!obj) {
    reject(b, line, NS_FMT_R_JSON, "invalid JSON: %s", err.text);
    return 0;
  }
  if (!json_is_object(obj)) {
    reject(b, line, NS_FMT_R_JSON, "expected a JSON object");
    goto out;
  }
  memset(vals, 0, sizeof vals);
  memset(by_alias, 0, sizeof by_alias);
  json_object_foreach(obj, key, v) {
    int alias, c = ns_fmt_col_find(b->kind, key, strlen(key), &alias);
    ns_fmt_val x;
    if (c < 0) continue; /* unknown fields are ignored, like unknown columns */
    if (json_val(v, scratch[c], sizeof scratch[c], &x)) {
      reject(b, line, NS_FMT_R_JSON, "%s: arrays and objects are not allowed", key);
      goto out;
    }
    /* the current name wins over the old one, whatever the key order */
    if (alias && vals[c].type != NS_FV_ABSENT && !by_alias[c]) continue;
    vals[c] = x;
    by_alias[c] = (unsigned char)alias;
  }
  rc = add_row(b, line, vals);
out:
  json_decref(obj);
  return rc;
}

static int all_space(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
  return 1;
}

static int parse_ndjson(ns__batch *b, const char *p, size_t len) {
  uint32_t line = 0;
  size_t i = ns_bom_len(p, len);   /* a leading BOM is skipped, as in TSV */
  int rc;
  while (i < len) {
    const char *nl = memchr(p + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - p) : len, n = end - i;
    line++;
    if (n && p[i + n - 1] == '\r') n--;
    if (!all_space(p + i, n) && (rc = ndjson_line(b, line, p + i, n)) != 0) return rc;
    i = end + 1;
  }
  return 0;
}

/* ---- TSV ------------------------------------------------------------------ */

static int tsv_note(void *ctx, const ns_fmt_note *r) { return add_note(ctx, r); }
static int tsv_rating(void *ctx, const ns_fmt_rating *r) { return add_rating(ctx, r); }
static int tsv_enroll(void *ctx, const ns_enrollment *e, const char *p, size_t pn) {
  return add_enroll(ctx, e, p, pn);
}

static void tsv_reject(void *ctx, uint64_t line, int col, const char *code, const char *msg) {
  (void)col;
  reject(ctx, (uint32_t)NS_MIN(line, UINT32_MAX), code, "%s", msg);
}

/* The body through the file reader.  A file-level failure (no header, a
** required column missing, a column named twice) becomes body_error. */
static int parse_tsv(ns__batch *b, const char *p, size_t len) {
  ns_fmt_sink sink = {b, tsv_note, tsv_rating, NULL, tsv_enroll, tsv_reject};
  int rc = ns_tsv_parse_mem(p, len, b->kind, &sink, b->body_error, sizeof b->body_error);
  if (rc == NS_ENOMEM) return rc;
  if (rc && !b->body_error[0])
    snprintf(b->body_error, sizeof b->body_error, "unusable TSV body: %s", ns_strerror(rc));
  utf8_clean(b->body_error);
  return 0;
}

int ns__body_parse(ns__batch *b, int kind, int fmt, const char *body, size_t len) {
  int rc;
  b->kind = kind;
  rc = fmt == NS_BODY_TSV ? parse_tsv(b, body, len) : parse_ndjson(b, body, len);
  /* Pointers are fixed up even on failure so ns__batch_free() stays simple
  ** and a partial batch is never half offsets, half pointers. */
  fix_pointers(b);
  if (rc == 0 && ns__batch_rows(b) == 0 && b->n_rejected == 0 && !b->body_error[0])
    snprintf(b->body_error, sizeof b->body_error, "empty body: no rows");
  return rc;
}
