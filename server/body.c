/*
** server/body.c -- ingest bodies (NDJSON and TSV) into validated rows.
**
** Both formats are first reduced to the same thing: for each row, the text
** of every known column (JSON values are rendered to text: strings as-is,
** integers in decimal, true/false as 1/0, null as empty).  One validator per
** row kind then applies the public-file rules to that text, so the two
** formats accept and reject exactly the same rows.  Why text and not typed
** JSON: the public files are text, ids above 2^53 are only exact as text,
** and a single rule set is easier to keep right than two.
**
** Rules (same as the public files, design.md §2):
**   ratings    noteId, raterParticipantId (or participantId), createdAtMillis
**              required; helpfulnessLevel, else legacy helpful/notHelpful,
**              else the row is rejected; 22 tags 0/1 (absent = 0);
**              ratingSourceBucketed DEFAULT|POPULATION_SAMPLED (absent =
**              DEFAULT).
**   notes      noteId, noteAuthorParticipantId (or participantId),
**              createdAtMillis required; tweetId (absent = -1),
**              classification (absent/empty = none).
**   enrollment participantId, enrollmentState (name or code 0..8) required;
**              the other columns default to 0 / none.
** Participant ids: 1..NS_BODY_MAX_ID bytes of valid UTF-8 without control
** characters (they end up in TSV exports).
**
** Who calls it: libuv worker threads (server.c), tests, fuzz_body.  No
** shared state: everything lives in the caller's ns__batch.
*/
#include "server_int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../base/dataset.h"

/* ---- the known columns ------------------------------------------------- */

enum col {
  C_NOTE_ID = 0,
  C_RATER,              /* raterParticipantId */
  C_PARTICIPANT,        /* participantId (old name, and enrollment) */
  C_AUTHOR,             /* noteAuthorParticipantId */
  C_CREATED,
  C_HELPFUL,
  C_NOT_HELPFUL,
  C_LEVEL,
  C_SOURCE,
  C_TWEET,
  C_CLASS,
  C_ESTATE,
  C_ENEEDED,
  C_ELAST_CHANGE,
  C_ELAST_EARNOUT,
  C_EPOPULATION,
  C_EGROUP,
  C_ETIMES_OUT,
  C_TAG0,               /* C_TAG0 + i for ns_tag_names[i] */
  C_COUNT = C_TAG0 + NS_N_TAGS
};

static const char *const col_names[C_TAG0] = {
    "noteId", "raterParticipantId", "participantId", "noteAuthorParticipantId",
    "createdAtMillis", "helpful", "notHelpful", "helpfulnessLevel",
    "ratingSourceBucketed", "tweetId", "classification", "enrollmentState",
    "successfulRatingNeededToEarnIn", "timestampOfLastStateChange",
    "timestampOfLastEarnOut", "modelingPopulation", "modelingGroup",
    "numberOfTimesEarnedOut"};

static const char *col_name(int c) {
  return c < C_TAG0 ? col_names[c] : ns_tag_names[c - C_TAG0];
}

/* Column id of a name, or -1.  Names are few (40) and keys are short, so a
** length check before memcmp keeps this cheap enough per JSON key. */
static int col_find(const char *s, size_t len) {
  for (int c = 0; c < C_COUNT; c++) {
    const char *n = col_name(c);
    if (n[0] == s[0] && strlen(n) == len && memcmp(n, s, len) == 0) return c;
  }
  return -1;
}

/* One row as column texts (pointers borrowed from the body or from a
** per-row scratch buffer). */
typedef struct row {
  const char *v[C_COUNT];
  size_t n[C_COUNT];
  uint64_t present;     /* bit c set when column c was given */
} row;

#define HAS(r, c) (((r)->present >> (c)) & 1u)

/* ---- small parsers ------------------------------------------------------ */

/* Strict decimal int64: optional '-', digits only, no overflow. */
static int parse_i64(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  uint64_t v = 0, lim;
  if (n && s[0] == '-') { neg = 1; i = 1; }
  if (i == n) return -1;
  lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n; i++) {
    unsigned d = (unsigned)(unsigned char)s[i] - '0';
    if (d > 9) return -1;
    if (v > (lim - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

/* An integer that may be written as a double ("1.6e12", "3.0"), as pandas
** writes nullable columns.  Must be integral and within int64. */
static int parse_i64_loose(const char *s, size_t n, int64_t *out) {
  char buf[64], *end;
  double d;
  if (parse_i64(s, n, out) == 0) return 0;
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  errno = 0;
  d = strtod(buf, &end);
  if (errno || *end || !isfinite(d) || d != floor(d) || fabs(d) >= 9.2e18) return -1;
  *out = (int64_t)d;
  return 0;
}

/* Valid UTF-8, no control characters (< 0x20, 0x7f). */
static int id_ok(const unsigned char *s, size_t n) {
  size_t i = 0;
  if (n == 0 || n > NS_BODY_MAX_ID) return 0;
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
    /* overlongs, surrogates, > U+10FFFF */
    if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += k + 1;
  }
  return 1;
}

static int text_is(const char *s, size_t n, const char *lit) {
  return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* ---- batch helpers -------------------------------------------------------- */

static void reject(ns__batch *b, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Makes msg valid UTF-8 in place: every byte that does not start a complete,
** valid sequence becomes '?'.  Reasons quote client bytes (an excerpt may
** also end inside a multibyte character), and the JSON answer must carry
** every reason, so it must be encodable. */
static void utf8_clean(char *msg) {
  size_t n = strlen(msg);
  for (size_t i = 0; i < n;) {
    size_t k = 1;
    while (k <= 4 && i + k <= n && !id_ok((const unsigned char *)msg + i, k)) k++;
    if (k <= 4 && i + k <= n) {
      i += k;
    } else {
      /* id_ok() also refuses control characters; keep those (JSON escapes them) */
      unsigned char c = (unsigned char)msg[i];
      if (c >= 0x80) msg[i] = '?';
      i++;
    }
  }
}

static void reject(ns__batch *b, uint32_t line, const char *fmt, ...) {
  ns__body_reject r;
  va_list ap;
  b->n_rejected++;
  if (b->rejects.n >= NS_BODY_MAX_REJECTS) return;
  r.line = line;
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
  for (size_t i = 0; i < b->notes.n; i++) OFF2PTR(b->notes.a[i].author);
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

/* ---- row validators ------------------------------------------------------ */

/* Each returns 0 (row stored), 1 (row rejected, reported) or NS_ENOMEM. */

static int need_i64(ns__batch *b, uint32_t line, const row *r, int c, int64_t *out) {
  const char *why;
  if (!HAS(r, c) || r->n[c] == 0) {
    reject(b, line, "missing %s", col_name(c));
    return 1;
  }
  if (parse_i64(r->v[c], r->n[c], out) != 0) {
    reject(b, line, "%s: expected an integer, got '%.*s'", col_name(c),
           (int)NS_MIN(r->n[c], 32), r->v[c]);
    return 1;
  }
  /* the value domains the file reader applies too (base/dataset.h) */
  why = c == C_NOTE_ID ? ns_check_note_id(*out) : c == C_CREATED ? ns_check_created_ms(*out) : NULL;
  if (why) {
    reject(b, line, "%s: %s, got '%.*s'", col_name(c), why, (int)NS_MIN(r->n[c], 32), r->v[c]);
    return 1;
  }
  return 0;
}

/* Optional integer (double spelling allowed); absent/empty -> dflt. */
static int opt_i64(ns__batch *b, uint32_t line, const row *r, int c, int64_t dflt,
                   int64_t *out) {
  *out = dflt;
  if (!HAS(r, c) || r->n[c] == 0) return 0;
  if (parse_i64_loose(r->v[c], r->n[c], out) != 0) {
    reject(b, line, "%s: expected a number, got '%.*s'", col_name(c),
           (int)NS_MIN(r->n[c], 32), r->v[c]);
    return 1;
  }
  return 0;
}

/* A 0/1 flag ("0.0"/"1.0" too); *out = -1 when absent or empty. */
static int flag01(ns__batch *b, uint32_t line, const row *r, int c, int *out) {
  *out = 0;
  if (!HAS(r, c) || r->n[c] == 0) { *out = -1; return 0; }
  if (text_is(r->v[c], r->n[c], "0") || text_is(r->v[c], r->n[c], "0.0")) return 0;
  if (text_is(r->v[c], r->n[c], "1") || text_is(r->v[c], r->n[c], "1.0")) { *out = 1; return 0; }
  reject(b, line, "%s: expected 0 or 1, got '%.*s'", col_name(c), (int)NS_MIN(r->n[c], 32),
         r->v[c]);
  return 1;
}

/* The participant id of a row: first of the given columns present. */
static int need_id(ns__batch *b, uint32_t line, const row *r, int c1, int c2, int64_t *off) {
  int c = HAS(r, c1) && r->n[c1] ? c1 : c2;
  if (!HAS(r, c) || r->n[c] == 0) {
    reject(b, line, "missing %s", col_name(c1));
    return 1;
  }
  if (!id_ok((const unsigned char *)r->v[c], r->n[c])) {
    reject(b, line, "%s: not a valid participant id", col_name(c));
    return 1;
  }
  if ((*off = arena_add(b, r->v[c], r->n[c])) < 0) return NS_ENOMEM;
  return 0;
}

static int row_rating(ns__batch *b, uint32_t line, const row *r) {
  ns_ingest_rating x;
  int64_t off;
  int rc, h, nh, t;
  size_t mark = b->arena_n;
  memset(&x, 0, sizeof x);
  if ((rc = need_i64(b, line, r, C_NOTE_ID, &x.note_id)) != 0) return rc;
  if ((rc = need_i64(b, line, r, C_CREATED, &x.created_ms)) != 0) return rc;
  if ((rc = flag01(b, line, r, C_HELPFUL, &h)) != 0) return rc;
  if ((rc = flag01(b, line, r, C_NOT_HELPFUL, &nh)) != 0) return rc;
  if (HAS(r, C_LEVEL) && r->n[C_LEVEL]) {
    const char *s = r->v[C_LEVEL];
    size_t n = r->n[C_LEVEL];
    if (text_is(s, n, "HELPFUL")) x.level = NS_LEVEL_HELPFUL;
    else if (text_is(s, n, "SOMEWHAT_HELPFUL")) x.level = NS_LEVEL_SOMEWHAT_HELPFUL;
    else if (text_is(s, n, "NOT_HELPFUL")) x.level = NS_LEVEL_NOT_HELPFUL;
    else {
      reject(b, line, "helpfulnessLevel: unknown value '%.*s'", (int)NS_MIN(n, 32), s);
      return 1;
    }
  } else if (nh == 1) {
    x.level = NS_LEVEL_NOT_HELPFUL;   /* the reference applies notHelpful last */
  } else if (h == 1) {
    x.level = NS_LEVEL_HELPFUL;
  } else {
    reject(b, line, "no helpfulnessLevel and no legacy helpful/notHelpful");
    return 1;
  }
  for (int i = 0; i < NS_N_TAGS; i++) {
    if ((rc = flag01(b, line, r, C_TAG0 + i, &t)) != 0) return rc;
    if (t == 1) x.tags |= NS_TAG_BIT(i);
  }
  if (HAS(r, C_SOURCE) && r->n[C_SOURCE]) {
    if (text_is(r->v[C_SOURCE], r->n[C_SOURCE], "DEFAULT")) x.source = NS_SOURCE_DEFAULT;
    else if (text_is(r->v[C_SOURCE], r->n[C_SOURCE], "POPULATION_SAMPLED"))
      x.source = NS_SOURCE_POPULATION_SAMPLED;
    else {
      reject(b, line, "ratingSourceBucketed: unknown value '%.*s'",
             (int)NS_MIN(r->n[C_SOURCE], 32), r->v[C_SOURCE]);
      return 1;
    }
  }
  if ((rc = need_id(b, line, r, C_RATER, C_PARTICIPANT, &off)) != 0) return rc;
  x.rater = (const char *)(uintptr_t)off;
  if (ns_vec_push(&b->ratings, x)) {
    b->arena_n = mark;
    return NS_ENOMEM;
  }
  return 0;
}

static int row_note(ns__batch *b, uint32_t line, const row *r) {
  ns_ingest_note x;
  int64_t off;
  int rc;
  memset(&x, 0, sizeof x);
  if ((rc = need_i64(b, line, r, C_NOTE_ID, &x.note_id)) != 0) return rc;
  if ((rc = need_i64(b, line, r, C_CREATED, &x.created_ms)) != 0) return rc;
  if ((rc = opt_i64(b, line, r, C_TWEET, -1, &x.tweet_id)) != 0) return rc;
  if (HAS(r, C_CLASS) && r->n[C_CLASS]) {
    const char *s = r->v[C_CLASS];
    size_t n = r->n[C_CLASS];
    if (text_is(s, n, "MISINFORMED_OR_POTENTIALLY_MISLEADING")) x.classification = NS_CLASS_MISLEADING;
    else if (text_is(s, n, "NOT_MISLEADING")) x.classification = NS_CLASS_NOT_MISLEADING;
    else {
      reject(b, line, "classification: unknown value '%.*s'", (int)NS_MIN(n, 40), s);
      return 1;
    }
  }
  if ((rc = need_id(b, line, r, C_AUTHOR, C_PARTICIPANT, &off)) != 0) return rc;
  x.author = (const char *)(uintptr_t)off;
  return ns_vec_push(&b->notes, x) ? NS_ENOMEM : 0;
}

static int row_enroll(ns__batch *b, uint32_t line, const row *r) {
  ns_ingest_enrollment x;
  int64_t off, v, pop;
  int rc;
  memset(&x, 0, sizeof x);
  if (!HAS(r, C_ESTATE) || r->n[C_ESTATE] == 0) {
    reject(b, line, "missing enrollmentState");
    return 1;
  }
  if ((v = ns_enroll_parse(r->v[C_ESTATE], r->n[C_ESTATE])) < 0 &&
      (parse_i64(r->v[C_ESTATE], r->n[C_ESTATE], &v) != 0 || v < 0 || v > 8)) {
    reject(b, line, "enrollmentState: unknown value '%.*s'", (int)NS_MIN(r->n[C_ESTATE], 32),
           r->v[C_ESTATE]);
    return 1;
  }
  x.state = (int8_t)v;
  if ((rc = opt_i64(b, line, r, C_ENEEDED, 0, &x.successful_needed)) != 0) return rc;
  if ((rc = opt_i64(b, line, r, C_ELAST_CHANGE, 0, &x.ts_last_state_change)) != 0) return rc;
  if ((rc = opt_i64(b, line, r, C_ELAST_EARNOUT, NS_TS_NONE, &x.ts_last_earn_out)) != 0) return rc;
  if ((rc = opt_i64(b, line, r, C_ETIMES_OUT, 0, &x.times_earned_out)) != 0) return rc;
  if ((rc = opt_i64(b, line, r, C_EGROUP, -1, &v)) != 0) return rc;
  if (v < -1 || v > INT32_MAX) {
    reject(b, line, "modelingGroup: out of range");
    return 1;
  }
  x.modeling_group = (int32_t)v;
  if (HAS(r, C_EPOPULATION) && r->n[C_EPOPULATION] >= 16) {
    reject(b, line, "modelingPopulation: too long");
    return 1;
  }
  if (HAS(r, C_EPOPULATION) && r->n[C_EPOPULATION] &&
      !id_ok((const unsigned char *)r->v[C_EPOPULATION], r->n[C_EPOPULATION])) {
    reject(b, line, "modelingPopulation: invalid text");
    return 1;
  }
  if ((rc = need_id(b, line, r, C_PARTICIPANT, C_PARTICIPANT, &off)) != 0) return rc;
  pop = arena_add(b, HAS(r, C_EPOPULATION) ? r->v[C_EPOPULATION] : "",
                  HAS(r, C_EPOPULATION) ? r->n[C_EPOPULATION] : 0);
  if (pop < 0) return NS_ENOMEM;
  x.participant = (const char *)(uintptr_t)off;
  x.modeling_population = (const char *)(uintptr_t)pop;
  return ns_vec_push(&b->enroll, x) ? NS_ENOMEM : 0;
}

static int row_dispatch(ns__batch *b, uint32_t line, const row *r) {
  switch (b->kind) {
  case NS_FILE_RATINGS: return row_rating(b, line, r);
  case NS_FILE_NOTES: return row_note(b, line, r);
  default: return row_enroll(b, line, r);
  }
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

/* Renders one JSON value as column text into scratch (for numbers) or as a
** borrowed string.  Returns 0, or 1 when the type cannot be a column. */
static int json_text(json_t *v, char *scratch, size_t cap, const char **s, size_t *n) {
  switch (json_typeof(v)) {
  case JSON_STRING:
    *s = json_string_value(v);
    *n = json_string_length(v);
    return 0;
  case JSON_INTEGER:
    *n = (size_t)snprintf(scratch, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    *s = scratch;
    return 0;
  case JSON_REAL:
    *n = (size_t)snprintf(scratch, cap, "%.17g", json_real_value(v));
    *s = scratch;
    return 0;
  case JSON_TRUE: *s = "1"; *n = 1; return 0;
  case JSON_FALSE: *s = "0"; *n = 1; return 0;
  case JSON_NULL: *s = ""; *n = 0; return 0;
  default: return 1;
  }
}

static int ndjson_line(ns__batch *b, uint32_t line, const char *s, size_t n) {
  json_error_t err;
  json_t *obj, *v;
  const char *key;
  row r;
  char scratch[C_COUNT][32];
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
    reject(b, line, "invalid JSON: %s", err.text);
    return 0;
  }
  if (!json_is_object(obj)) {
    reject(b, line, "expected a JSON object");
    goto out;
  }
  r.present = 0;
  json_object_foreach(obj, key, v) {
    int c = col_find(key, strlen(key));
    if (c < 0) continue;   /* unknown fields are ignored, like unknown columns */
    if (json_is_boolean(v) && c < C_TAG0 && c != C_HELPFUL && c != C_NOT_HELPFUL) {
      /* true/false stand for 1/0 only in the 0/1 flag columns */
      reject(b, line, "%s: booleans are only allowed for tags and helpful/notHelpful", key);
      goto out;
    }
    if (json_text(v, scratch[c], sizeof scratch[c], &r.v[c], &r.n[c])) {
      reject(b, line, "%s: arrays and objects are not allowed", key);
      goto out;
    }
    r.present |= 1ull << c;
  }
  rc = row_dispatch(b, line, &r);
  if (rc > 0) rc = 0;
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

/* Splits line into at most max fields; returns the number of fields. */
static size_t split_tabs(const char *s, size_t n, const char **f, size_t *fl, size_t max) {
  size_t k = 0, start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == '\t') {
      if (k < max) { f[k] = s + start; fl[k] = i - start; }
      k++;
      start = i + 1;
    }
  }
  return k;
}

#define TSV_MAX_COLS 64

static int parse_tsv(ns__batch *b, const char *p, size_t len) {
  const char *f[TSV_MAX_COLS];
  size_t fl[TSV_MAX_COLS], ncols = 0, i = 0;
  int map[TSV_MAX_COLS];
  uint64_t have = 0;
  uint32_t line = 0;
  int rc, header = 1;

  i = ns_bom_len(p, len);   /* skipped, as by the file reader (store/tsv.c) */
  while (i < len) {
    const char *nl = memchr(p + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - p) : len, n = end - i, k;
    const char *s = p + i;
    line++;
    i = end + 1;
    if (n && s[n - 1] == '\r') n--;
    if (n == 0) continue;
    k = split_tabs(s, n, f, fl, TSV_MAX_COLS);
    if (header) {
      int c;
      if (k > TSV_MAX_COLS) {
        snprintf(b->body_error, sizeof b->body_error, "line %u: more than %d columns",
                 (unsigned)line, TSV_MAX_COLS);
        return 0;
      }
      {
        int first, dup = ns_header_dup(f, fl, (int)k, &first);
        if (dup >= 0) {
          snprintf(b->body_error, sizeof b->body_error,
                   "line %u, column %d: duplicate column '%.*s' (also column %d)",
                   (unsigned)line, dup + 1, (int)NS_MIN(fl[dup], 64), f[dup], first + 1);
          utf8_clean(b->body_error);
          return 0;
        }
      }
      for (size_t j = 0; j < k; j++) {
        map[j] = c = fl[j] ? col_find(f[j], fl[j]) : -1;
        if (c >= 0) have |= 1ull << c;
      }
      ncols = k;
      header = 0;
      /* a missing required column makes every row unusable: say so once */
      c = -1;
      if (!(have >> C_NOTE_ID & 1) && b->kind != NS_FILE_ENROLLMENT) c = C_NOTE_ID;
      else if (b->kind == NS_FILE_RATINGS && !(have >> C_RATER & 1) && !(have >> C_PARTICIPANT & 1)) c = C_RATER;
      else if (b->kind == NS_FILE_NOTES && !(have >> C_AUTHOR & 1) && !(have >> C_PARTICIPANT & 1)) c = C_AUTHOR;
      else if (b->kind != NS_FILE_ENROLLMENT && !(have >> C_CREATED & 1)) c = C_CREATED;
      else if (b->kind == NS_FILE_ENROLLMENT && !(have >> C_PARTICIPANT & 1)) c = C_PARTICIPANT;
      else if (b->kind == NS_FILE_ENROLLMENT && !(have >> C_ESTATE & 1)) c = C_ESTATE;
      if (c >= 0) {
        snprintf(b->body_error, sizeof b->body_error, "line %u: missing required column %s",
                 (unsigned)line, col_name(c));
        return 0;
      }
      continue;
    }
    if (k != ncols) {
      reject(b, line, "expected %zu fields, got %zu", ncols, k);
      continue;
    }
    {
      row r;
      r.present = 0;
      for (size_t j = 0; j < k; j++) {
        if (map[j] < 0) continue;
        r.v[map[j]] = f[j];
        r.n[map[j]] = fl[j];
        r.present |= 1ull << map[j];
      }
      rc = row_dispatch(b, line, &r);
      if (rc < 0) return rc;
    }
  }
  if (header) snprintf(b->body_error, sizeof b->body_error, "empty body: no header line");
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
