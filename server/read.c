/*
** server/read.c -- the read endpoints, answered off the loop thread.
**
** GET /v1/notes, /v1/notes/{id}, /v1/notes/{id}/explain, /v1/runs,
** /v1/runs/latest, /v1/runs/{a}/changes/{b}, /report and the DB part of
** /metrics run as
** uv_queue_work items: each opens its own reader (store/query.h: a
** read-only connection; WAL, so it never waits for the writer and sees the
** last commit), gets plain rows from the store's read layer and shapes them
** into the JSON of docs/api.md.  No SQL here: the store owns every query.
**
** JSON conventions (docs/api.md "Conventions"): camelCase keys, note ids as
** strings (public ids exceed 2^53), nested objects and arrays instead of
** JSON text in strings, reals in their shortest round-trip form
** (ns__json_text; jansson prints 17 digits: 1.4279999999999999).
**
** Opening a reader per request costs ~0.1 ms; reads are rare next to
** ingest, so a connection pool would buy nothing worth its locking.
**
** Threads: ns__read_work() runs on a libuv worker; it touches only its
** ns__read (and the /report cache under its mutex).  The parsers of the
** query string run on the loop thread (routing) and are pure.
*/
#include "read.h"

#include "../base/dataset.h"
#include "../base/rules.h"
#include "../dash/dash.h"
#include "../engine/pipeline.h"
#include "../store/query.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- JSON text ------------------------------------------------------------- */

static void put_string(FILE *f, const char *s, size_t n) {
  fputc('"', f);
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    switch (ch) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\b': fputs("\\b", f); break;
    case '\f': fputs("\\f", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    default:
      if (ch < 0x20) fprintf(f, "\\u%04X", ch);
      else fputc(ch, f);   /* jansson strings are valid UTF-8 */
      break;
    }
  }
  fputc('"', f);
}

/* The shortest %.Ng (N = 1..17) that strtod reads back as d; 17 always
** does for a finite double.  Then jansson's touches: a ".0" when it would
** read as an integer, no '+' and no leading zeros in the exponent. */
static void put_real(FILE *f, double d) {
  char b[40], out[40];
  size_t k = 0;
  for (int p = 1; p <= 17; p++) {
    snprintf(b, sizeof b, "%.*g", p, d);
    if (strtod(b, NULL) == d) break;
  }
  for (const char *s = b; *s; s++) {
    out[k++] = *s;
    if (*s == 'e') {
      if (s[1] == '+') s++;
      else if (s[1] == '-') out[k++] = *++s;
      while (s[1] == '0' && s[2]) s++;
    }
  }
  out[k] = '\0';
  if (!strpbrk(out, ".e")) strcat(out, ".0");
  fputs(out, f);
}

static void put_json(FILE *f, const json_t *j) {
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    const char *key;
    json_t *v;
    int first = 1;
    fputc('{', f);
    json_object_foreach((json_t *)j, key, v) {
      if (!first) fputc(',', f);
      first = 0;
      put_string(f, key, strlen(key));
      fputc(':', f);
      put_json(f, v);
    }
    fputc('}', f);
    break;
  }
  case JSON_ARRAY:
    fputc('[', f);
    for (size_t i = 0; i < json_array_size(j); i++) {
      if (i) fputc(',', f);
      put_json(f, json_array_get(j, i));
    }
    fputc(']', f);
    break;
  case JSON_STRING: put_string(f, json_string_value(j), json_string_length(j)); break;
  case JSON_INTEGER: fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(j)); break;
  case JSON_REAL: put_real(f, json_real_value(j)); break;
  case JSON_TRUE: fputs("true", f); break;
  case JSON_FALSE: fputs("false", f); break;
  default: fputs("null", f); break;
  }
}

char *ns__json_text(const json_t *j) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  if (j) put_json(f, j);
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* ---- query string of GET /v1/notes ------------------------------------------ */

static int hexval(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes s[0..n) ('+' is a space) into out; -1 if malformed or
** longer than cap - 1. */
static int url_decode(const char *s, size_t n, char *out, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '+') c = ' ';
    else if (c == '%') {
      if (i + 2 >= n) return -1;
      if (hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) return -1;
      c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
      i += 2;
    }
    if (k + 1 >= cap || c == 0) return -1;
    out[k++] = (char)c;
  }
  out[k] = '\0';
  return 0;
}

/* A non-negative decimal integer, the whole string. */
static int parse_u63(const char *s, int64_t *out) {
  int64_t v = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return 0;
}

/* The cursor is opaque to clients: "n1" (version) and the last note id of
** the page in hex.  Only this file reads it. */
void ns__list_cursor(int64_t after, char *buf, size_t n) {
  snprintf(buf, n, "n1%llx", (unsigned long long)after);
}

static int parse_cursor(const char *s, int64_t *after) {
  uint64_t v = 0;
  size_t n = strlen(s);
  if (n < 3 || n > 2 + 16 || s[0] != 'n' || s[1] != '1') return -1;
  for (size_t i = 2; i < n; i++) {
    int h = hexval(s[i]);
    if (h < 0 || (s[i] >= 'A' && s[i] <= 'F')) return -1;
    v = v * 16 + (uint64_t)h;
  }
  if (v == 0 || v > INT64_MAX) return -1;
  *after = (int64_t)v;
  return 0;
}

static const char *const public_statuses[] = {
    "CURRENTLY_RATED_HELPFUL", "CURRENTLY_RATED_NOT_HELPFUL", "NEEDS_MORE_RATINGS"};

int ns__list_query_parse(const char *query, ns__list_query *q, const char **err) {
  enum { P_STATUS, P_DECIDED, P_SINCE, P_LIMIT, P_CURSOR, P_N };
  static const char *const names[P_N] = {"status", "decidedBy", "changedSince", "limit",
                                         "cursor"};
  /* the reasons name the parameter; static, so the router can keep them */
  static const char *const twice[P_N] = {
      "status is given twice", "decidedBy is given twice", "changedSince is given twice",
      "limit is given twice", "cursor is given twice"};
  static const char *const empty[P_N] = {
      "status needs a value (status=NAME; percent-encoding must be %XX)",
      "decidedBy needs a value (decidedBy=RULE; percent-encoding must be %XX)",
      "changedSince needs a value (changedSince=MILLIS)",
      "limit needs a value (limit=N)",
      "cursor needs a value (the nextCursor of the previous page)"};
  int seen[P_N] = {0};
  const char *p = query ? query : "";
  memset(q, 0, sizeof *q);
  q->changed_since = -1;
  q->limit = NS_LIST_DEFAULT;
  while (*p) {
    const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    size_t klen = (size_t)((eq ? eq : end) - p);
    char val[256];
    int which = -1;
    int64_t v;
    if (klen == 0 && end == p) { /* empty segment ("a=1&&b=2", a trailing '&') */
      p = amp ? amp + 1 : end;
      continue;
    }
    for (int i = 0; i < P_N; i++)
      if (strlen(names[i]) == klen && !memcmp(p, names[i], klen)) which = i;
    if (which < 0) {
      *err = "unknown parameter (GET /v1/notes takes status, decidedBy, changedSince, limit, "
             "cursor)";
      return -1;
    }
    if (seen[which]++) {
      *err = twice[which];
      return -1;
    }
    if (!eq || url_decode(eq + 1, (size_t)(end - eq - 1), val, sizeof val) != 0 || !val[0]) {
      *err = empty[which];
      return -1;
    }
    switch (which) {
    case P_STATUS: {
      size_t i;
      for (i = 0; i < NS_ARRAY_LEN(public_statuses) && strcmp(val, public_statuses[i]); i++) {}
      if (i == NS_ARRAY_LEN(public_statuses)) {
        *err = "status must be CURRENTLY_RATED_HELPFUL, CURRENTLY_RATED_NOT_HELPFUL or "
               "NEEDS_MORE_RATINGS";
        return -1;
      }
      snprintf(q->status, sizeof q->status, "%s", public_statuses[i]);
      break;
    }
    case P_DECIDED: {
      /* the bare name, or the reference's "Name (vX.Y)" as the TSV files
      ** write it (the version must be the rule's) */
      char ref[64];
      int i;
      for (i = 0; i < NS_RULE_COUNT; i++) {
        if (!strcmp(val, ns_rule_names[i])) break;
        snprintf(ref, sizeof ref, "%s (v%s)", ns_rule_names[i], ns_rule_versions[i]);
        if (!strcmp(val, ref)) break;
      }
      if (i == NS_RULE_COUNT) {
        *err = "decidedBy must be a rule name (as in a note's decidedBy, e.g. CoreModel)";
        return -1;
      }
      snprintf(q->decided_by, sizeof q->decided_by, "%s", ns_rule_names[i]);
      break;
    }
    case P_SINCE:
      if (parse_u63(val, &v) != 0) {
        *err = "changedSince must be a time in milliseconds (a non-negative integer)";
        return -1;
      }
      q->changed_since = v;
      break;
    case P_LIMIT:
      if (parse_u63(val, &v) != 0 || v < 1) {
        *err = "limit must be a positive integer (pages hold at most 1000 notes)";
        return -1;
      }
      q->limit = v > NS_LIST_MAX ? NS_LIST_MAX : (int)v;
      break;
    default:
      if (parse_cursor(val, &q->after) != 0) {
        *err = "cursor is not one this server handed out (use nextCursor as is)";
        return -1;
      }
      break;
    }
    p = amp ? amp + 1 : end;
  }
  return 0;
}

/* ---- rows as JSON ------------------------------------------------------------- */

static json_t *id_json(int64_t id) {
  char b[24];
  snprintf(b, sizeof b, "%lld", (long long)id);
  return json_string(b);
}

static json_t *str_json(const char *s) {
  json_t *v = s ? json_string(s) : NULL;
  return v ? v : json_null();   /* NULL, or not UTF-8 */
}

static json_t *int_json(int64_t v) { return v == NS_Q_NULL ? json_null() : json_integer(v); }
static json_t *real_json(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static const char *class_name(int c) {
  return c == NS_CLASS_MISLEADING       ? "MISINFORMED_OR_POTENTIALLY_MISLEADING"
         : c == NS_CLASS_NOT_MISLEADING ? "NOT_MISLEADING"
                                        : NULL;
}

/* The scorers beside Core that scored the note (a NULL status and
** intercept: out of the scorer's scope, left out), keyed by the reference's
** column prefix: {"expansion": {"intercept": .., "factor": .., "status": ..,
** "rules": [..], "numFinalRoundRatings": .., "interceptNoHighVol": ..,
** "interceptNoCorrelated": ..}, ...}. */
static json_t *scorers_json(const ns_q_note *n) {
  json_t *o = json_object();
  for (int m = 0; o && m < NS_MODEL_COUNT; m++) {
    const ns_q_model *x = &n->model[m];
    json_t *e, *names;
    if (!x->status && !isfinite(x->intercept)) continue;
    if (!(e = json_object()) || !(names = json_array())) {
      json_decref(e);
      json_decref(o);
      return json_null();
    }
    for (int i = 0; i < NS_RULE_COUNT; i++)
      if (x->rules & (1ull << i)) json_array_append_new(names, json_string(ns_rule_names[i]));
    json_object_set_new(e, "intercept", real_json(x->intercept));
    json_object_set_new(e, "factor", real_json(x->factor));
    json_object_set_new(e, "status", str_json(x->status));
    json_object_set_new(e, "rules", names);
    json_object_set_new(e, "numFinalRoundRatings", int_json(x->n_final_round));
    json_object_set_new(e, "interceptNoHighVol", real_json(x->intercept_no_high_vol));
    json_object_set_new(e, "interceptNoCorrelated", real_json(x->intercept_no_correlated));
    json_object_set_new(o, ns_model_prefix[m], e);
  }
  return o ? o : json_null();
}

/* A note of the current run (GET /v1/notes/{id} and each entry of the
** list). */
static json_t *note_json(const ns_q_note *n) {
  json_t *o = json_object(), *names = json_array();
  uint64_t bits = n->core_rules | n->meta_rules;
  if (!o || !names) {
    json_decref(o);
    json_decref(names);
    return NULL;
  }
  json_object_set_new(o, "noteId", id_json(n->note_id));
  json_object_set_new(o, "runId", json_integer(n->run_id));
  json_object_set_new(o, "status", str_json(n->status));
  json_object_set_new(o, "decidedBy", str_json(n->decided_by));
  json_object_set_new(o, "coreStatus", str_json(n->core_status));
  json_object_set_new(o, "intercept", real_json(n->intercept));
  json_object_set_new(o, "factor", real_json(n->factor));
  json_object_set_new(o, "interceptRound1", real_json(n->intercept_r1));
  json_object_set_new(o, "factorRound1", real_json(n->factor_r1));
  json_object_set_new(o, "interceptMin", real_json(n->intercept_min));
  json_object_set_new(o, "interceptMax", real_json(n->intercept_max));
  json_object_set_new(o, "lowDiligenceIntercept", real_json(n->low_diligence_intercept));
  json_object_set_new(o, "firstTag", str_json(n->first_tag));
  json_object_set_new(o, "secondTag", str_json(n->second_tag));
  json_object_set_new(o, "classification", str_json(class_name(n->classification)));
  json_object_set_new(o, "numRatings", int_json(n->num_ratings));
  json_object_set_new(o, "numFinalRoundRatings", int_json(n->num_final_round_ratings));
  json_object_set_new(o, "coreRules", json_integer(n->core_rules));
  json_object_set_new(o, "metaRules", json_integer(n->meta_rules));
  for (int i = 0; i < NS_RULE_COUNT; i++)
    if (bits & (1ull << i)) json_array_append_new(names, json_string(ns_rule_names[i]));
  json_object_set_new(o, "rules", names);
  json_object_set_new(o, "createdAtMillis", int_json(n->created_ms));
  json_object_set_new(o, "scoredAtMillis", int_json(n->scored_at_ms));
  /* schema v6: the note's scopes and the other scorers that scored it */
  json_object_set_new(o, "modelingGroup", int_json(n->modeling_group));
  json_object_set_new(o, "modelingMultiGroup", int_json(n->modeling_multi_group));
  json_object_set_new(o, "topic", str_json(n->topic));
  json_object_set_new(o, "topicConfident",
                      n->topic_confident < 0 ? json_null() : json_boolean(n->topic_confident));
  json_object_set_new(o, "interceptPopulationSampled", real_json(n->intercept_pop));
  json_object_set_new(o, "scorers", scorers_json(n));
  return o;
}

/* snake_case -> camelCase ("now_ms" -> "nowMs"), keys of params only. */
static json_t *camel_keys(json_t *j) {
  const char *key;
  json_t *v, *o;
  if (!json_is_object(j)) return j;
  if (!(o = json_object())) {
    json_decref(j);
    return NULL;
  }
  json_object_foreach(j, key, v) {
    char k[128];
    size_t w = 0;
    for (const char *s = key; *s && w + 1 < sizeof k; s++)
      k[w++] = (*s == '_' && s[1]) ? (char)toupper((unsigned char)*++s) : *s;
    k[w] = '\0';
    json_object_set_new(o, k, camel_keys(json_incref(v)));
  }
  json_decref(j);
  return o;
}

/* The stage timings: stored as a JSON array in the pipeline's stage order
** (engine/pipeline.h ns_run_stats.stage_seconds), keyed by ns_stage_names. */
static json_t *stages_json(const char *text) {
  json_t *a = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL, *o;
  if (!json_is_array(a) || json_array_size(a) != NS_STAGE_COUNT) return a ? a : json_null();
  if (!(o = json_object())) {
    json_decref(a);
    return NULL;
  }
  for (size_t i = 0; i < NS_STAGE_COUNT; i++)
    json_object_set(o, ns_stage_names[i], json_array_get(a, i));
  json_decref(a);
  return o;
}

static json_t *run_json(const ns_q_run *r) {
  json_t *o = json_object(), *params;
  if (!o) return NULL;
  params = r->params ? json_loads(r->params, JSON_DECODE_ANY, NULL) : NULL;
  json_object_set_new(o, "runId", json_integer(r->run_id));
  json_object_set_new(o, "status", str_json(r->status));
  json_object_set_new(o, "isCurrent", json_boolean(r->is_current));
  json_object_set_new(o, "startedAtMillis", int_json(r->started_ms));
  json_object_set_new(o, "finishedAtMillis", int_json(r->finished_ms));
  json_object_set_new(o, "wallSeconds", real_json(r->wall_seconds));
  json_object_set_new(o, "seconds", real_json(r->seconds));
  json_object_set_new(o, "version", str_json(r->version));
  json_object_set_new(o, "params", params ? camel_keys(params) : json_null());
  json_object_set_new(o, "nowMillis", int_json(r->now_ms));
  json_object_set_new(o, "numRatings", int_json(r->n_ratings));
  json_object_set_new(o, "numNotes", int_json(r->n_notes));
  json_object_set_new(o, "numRaters", int_json(r->n_raters));
  json_object_set_new(o, "numCrh", int_json(r->n_crh));
  json_object_set_new(o, "numCrnh", int_json(r->n_crnh));
  json_object_set_new(o, "numNmr", int_json(r->n_nmr));
  json_object_set_new(o, "numRatingsRound1", int_json(r->n_ratings_round1));
  json_object_set_new(o, "numRatingsRound2", int_json(r->n_ratings_round2));
  json_object_set_new(o, "numRatersRound1", int_json(r->n_raters_round1));
  json_object_set_new(o, "numRatersRound2", int_json(r->n_raters_round2));
  json_object_set_new(o, "numNotesRound1", int_json(r->n_notes_round1));
  json_object_set_new(o, "numNotesRound2", int_json(r->n_notes_round2));
  json_object_set_new(o, "mfPasses", int_json(r->mf_passes));
  json_object_set_new(o, "stageSeconds", stages_json(r->stage_seconds));
  json_object_set_new(o, "globalIntercept", real_json(r->global_intercept));
  json_object_set_new(o, "prevRunId", int_json(r->prev_run_id));
  return o;
}

/* ---- answers ---------------------------------------------------------------------- */

static void set_body(ns__read *r, int status, json_t *j) {
  r->status = status;
  r->body = j ? ns__json_text(j) : NULL;
  json_decref(j);
  if (!r->body) {
    r->status = 500;
    r->body = ns_strdup("{\"error\":\"out of memory\"}");
  }
}

static void set_error(ns__read *r, int status, const char *msg) {
  set_body(r, status, json_pack("{s:s}", "error", msg));
}

/* A failed query: busy -> 503 (Retry-After), else 500 with the reason. */
static void set_failure(ns__read *r, ns_reader *rd, int rc) {
  set_error(r, rc == NS_EBUSY ? 503 : 500, rc == NS_ENOMEM ? "out of memory" : ns_reader_errmsg(rd));
}

static int append_run(void *ctx, const ns_q_run *run) {
  json_t *o = run_json(run);
  return !o || json_array_append_new(ctx, o) ? NS_ENOMEM : 0;
}

static int take_run(void *ctx, const ns_q_run *run) {
  *(json_t **)ctx = run_json(run);
  return *(json_t **)ctx ? 1 : NS_ENOMEM;
}

static void read_runs(ns__read *r, ns_reader *rd) {
  json_t *arr = NULL, *one = NULL;
  int rc;
  if (r->route == NS_ROUTE_RUNS) {
    ns_q_run_filter f = {.limit = 100};
    if (!(arr = json_array())) {
      set_error(r, 500, "out of memory");
      return;
    }
    if ((rc = ns_q_runs(rd, &f, append_run, arr)) != 0) {
      json_decref(arr);
      set_failure(r, rd, rc);
      return;
    }
    set_body(r, 200, json_pack("{s:o}", "runs", arr));
    return;
  }
  {
    ns_q_run_filter f = {.current_only = 1};
    rc = ns_q_runs(rd, &f, take_run, &one);
  }
  if (rc < 0) {
    set_failure(r, rd, rc);
    return;
  }
  if (!one) {
    set_error(r, 404, "no published run yet");
    return;
  }
  set_body(r, 200, one);
}

static void read_note(ns__read *r, ns_reader *rd) {
  ns_q_note n;
  int rc = ns_q_note_get(rd, r->note_id, &n);
  if (rc == NS_ENOTFOUND) {
    set_error(r, 404, "note not scored (or unknown)");
    return;
  }
  if (rc != 0) {
    set_failure(r, rd, rc);
    return;
  }
  set_body(r, 200, note_json(&n));
}

static void read_explain(ns__read *r, ns_reader *rd) {
  json_t *o = NULL;
  char msg[256];
  int rc = ns_dash_explain(rd, r->note_id, &o, msg, sizeof msg);
  if (rc == NS_ENOTFOUND || rc == NS_ENODATA) {
    set_error(r, 404, msg);
    return;
  }
  if (rc == NS_EBUSY) {
    set_error(r, 503, msg);
    return;
  }
  if (rc != 0) {
    set_error(r, 500, msg[0] ? msg : ns_strerror(rc));
    return;
  }
  set_body(r, 200, o);
}

typedef struct page {
  json_t *notes;
  int limit, n;
  int64_t last;         /* note id of the page's last row */
  int more;             /* a row past the limit exists */
} page;

static int page_row(void *ctx, const ns_q_note *n) {
  page *pg = ctx;
  json_t *o;
  if (pg->n == pg->limit) {
    pg->more = 1;
    return 1;
  }
  if (!(o = note_json(n)) || json_array_append_new(pg->notes, o)) return NS_ENOMEM;
  pg->n++;
  pg->last = n->note_id;
  return 0;
}

/* GET /v1/notes: one page in note id order (keyset: the cursor holds the
** last id handed out, so pages neither repeat nor skip a note whatever is
** published between them). */
static void read_list(ns__read *r, ns_reader *rd) {
  const ns__list_query *q = &r->list;
  page pg = {json_array(), q->limit, 0, 0, 0};
  ns_q_note_filter f = {0, q->status[0] ? q->status : NULL,
                        q->decided_by[0] ? q->decided_by : NULL,
                        q->changed_since >= 0 ? q->changed_since : NS_Q_NULL, q->after,
                        (int64_t)q->limit + 1};
  int64_t run_id = 0;
  json_t *o;
  char cur[24];
  int rc;
  if (!pg.notes) {
    set_error(r, 500, "out of memory");
    return;
  }
  /* one snapshot: the page's runId is the run its rows come from */
  if ((rc = ns_reader_begin(rd)) == 0 && (rc = ns_q_current_run(rd, &run_id)) == 0) {
    rc = ns_q_notes(rd, &f, page_row, &pg);
    if (rc == 1) rc = 0;
  } else if (rc == NS_ENODATA) {
    rc = 0;
  }
  ns_reader_end(rd);
  if (rc != 0) {
    json_decref(pg.notes);
    set_failure(r, rd, rc);
    return;
  }
  if (pg.more) ns__list_cursor(pg.last, cur, sizeof cur);
  o = json_object();
  if (!o) {
    json_decref(pg.notes);
    set_error(r, 500, "out of memory");
    return;
  }
  json_object_set_new(o, "runId", run_id ? json_integer(run_id) : json_null());
  json_object_set_new(o, "notes", pg.notes);
  json_object_set_new(o, "nextCursor", pg.more ? json_string(cur) : json_null());
  set_body(r, 200, o);
}

const char *ns__read_index(void) {
  /* static: the same for every request, no DB */
  return "{\"name\":\"notescore\",\"version\":\"" NS_VERSION "\","
         "\"docs\":\"docs/api.md (HTTP API), docs/dashboards.md (dashboard views)\","
         "\"links\":["
         "{\"rel\":\"dashboard\",\"method\":\"GET\",\"href\":\"/dashboard\"},"
         "{\"rel\":\"notes\",\"method\":\"GET\",\"href\":\"/v1/notes\","
         "\"params\":[\"status\",\"decidedBy\",\"changedSince\",\"limit\",\"cursor\"]},"
         "{\"rel\":\"note\",\"method\":\"GET\",\"href\":\"/v1/notes/{noteId}\"},"
         "{\"rel\":\"explain\",\"method\":\"GET\",\"href\":\"/v1/notes/{noteId}/explain\"},"
         "{\"rel\":\"runs\",\"method\":\"GET\",\"href\":\"/v1/runs\"},"
         "{\"rel\":\"latestRun\",\"method\":\"GET\",\"href\":\"/v1/runs/latest\"},"
         "{\"rel\":\"runChanges\",\"method\":\"GET\",\"href\":\"/v1/runs/{a}/changes/{b}\"},"
         "{\"rel\":\"report\",\"method\":\"GET\",\"href\":\"/report\"},"
         "{\"rel\":\"metrics\",\"method\":\"GET\",\"href\":\"/metrics\"},"
         "{\"rel\":\"health\",\"method\":\"GET\",\"href\":\"/healthz\"},"
         "{\"rel\":\"ingestRatings\",\"method\":\"POST\",\"href\":\"/v1/ratings\"},"
         "{\"rel\":\"ingestNotes\",\"method\":\"POST\",\"href\":\"/v1/notes\"},"
         "{\"rel\":\"ingestEnrollment\",\"method\":\"POST\",\"href\":\"/v1/enrollment\"}]}";
}

/* ---- /metrics, changes between runs, /report ----------------------------------------------------- */

static int metric_status(void *ctx, const char *s, int64_t n) {
  char clean[64];
  size_t k = 0;
  /* label values: keep [A-Za-z0-9_] only, nothing to escape */
  for (; s && *s && k + 1 < sizeof clean; s++)
    if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')
      clean[k++] = *s;
  clean[k] = '\0';
  fprintf(ctx, "notescore_notes_by_status{status=\"%s\"} %lld\n", clean, (long long)n);
  return 0;
}

/* Appends the DB-derived metrics to r->prefix (the loop's counters). */
static void read_metrics(ns__read *r, ns_reader *rd) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  double secs;
  int64_t last_ms;
  if (!f) {
    set_error(r, 500, "out of memory");
    return;
  }
  fputs(r->prefix ? r->prefix : "", f);
  fputs("# HELP notescore_notes_by_status Notes by final status in the latest published run.\n"
        "# TYPE notescore_notes_by_status gauge\n", f);
  if (rd) ns_q_status_counts(rd, metric_status, f);   /* a failure leaves the gauge out */
  fputs("# HELP notescore_last_run_seconds Duration of the latest finished scoring run.\n"
        "# TYPE notescore_last_run_seconds gauge\n", f);
  if (rd && ns_q_last_run_seconds(rd, &secs) == 0)
    fprintf(f, "notescore_last_run_seconds %.3f\n", secs);
  /* from the DB, not the process: true across restarts and for runs
  ** published by `score --db`; absent until a run was ever published */
  fputs("# HELP notescore_last_run_success_timestamp_seconds When the latest published run "
        "finished (Unix time).\n"
        "# TYPE notescore_last_run_success_timestamp_seconds gauge\n", f);
  if (rd && ns_q_last_success_ms(rd, &last_ms) == 0)
    fprintf(f, "notescore_last_run_success_timestamp_seconds %.3f\n", (double)last_ms / 1000.0);
  fclose(f);
  r->status = 200;
  r->body = buf;
}

/* GET /v1/runs/{a}/changes/{b}: what changed from run a to run b (any two
** published runs, either order; the dashboard's changes table).  Every
** change is counted in "total", the first CHANGES_MAX are listed. */
#define CHANGES_MAX 1000

typedef struct changes_ctx {
  json_t *rows;
  int64_t total;
} changes_ctx;

static int change_row(void *ctx, const ns_q_change *c) {
  changes_ctx *x = ctx;
  json_t *o;
  if (x->total++ >= CHANGES_MAX) return 0;
  o = json_object();
  if (!o || json_array_append_new(x->rows, o) != 0) return NS_ENOMEM;
  json_object_set_new(o, "noteId", id_json(c->note_id));
  json_object_set_new(o, "oldStatus", str_json(c->old_status));
  json_object_set_new(o, "newStatus", str_json(c->new_status));
  json_object_set_new(o, "decidedBy", str_json(c->decided_by));
  json_object_set_new(o, "oldIntercept", real_json(c->old_intercept));
  json_object_set_new(o, "newIntercept", real_json(c->new_intercept));
  return 0;
}

static void read_changes(ns__read *r, ns_reader *rd) {
  changes_ctx x = {json_array(), 0};
  int rc;
  if (!x.rows) {
    set_error(r, 500, "out of memory");
    return;
  }
  rc = ns_reader_begin(rd);
  if (rc == 0) rc = ns_q_run_changes(rd, r->run_a, r->run_b, change_row, &x);
  ns_reader_end(rd);
  if (rc == NS_ENOTFOUND) {
    json_decref(x.rows);
    set_error(r, 404, "both runs must be published runs (see /v1/runs)");
    return;
  }
  if (rc != 0) {
    json_decref(x.rows);
    set_failure(r, rd, rc);
    return;
  }
  set_body(r, 200, json_pack("{s:o,s:o,s:I,s:i,s:o}", "fromRunId", id_json(r->run_a),
                             "toRunId", id_json(r->run_b), "total", (json_int_t)x.total,
                             "limit", CHANGES_MAX, "changes", x.rows));
}

/* GET /report: the same page as `notescore report` (dash/report.c),
** rendered once per run (see ns__dash_cache). */
static void read_report(ns__read *r, ns_reader *rd) {
  ns__dash_cache *k = r->cache;
  char *buf = NULL;
  size_t len = 0;
  int64_t cur = -1, last = -1;
  FILE *f;
  int rc;
  /* the cache key of the DB side: current_run and the newest run id (a run
  ** published or failed by another process changes one of them) */
  if (ns_q_run_ids(rd, &cur, &last) != 0) cur = last = -1;
  if (k && cur >= 0) {
    uv_mutex_lock(&k->mu);
    if (k->html && k->current_run == cur && k->last_run == last &&
        k->generation == r->generation)
      r->body = ns_strdup(k->html);
    uv_mutex_unlock(&k->mu);
    if (r->body) {
      r->status = 200;
      return;
    }
  }
  f = open_memstream(&buf, &len);
  rc = f ? ns_report_html(rd, f, NULL) : NS_ENOMEM;
  if (f) fclose(f);
  if (rc != 0) {
    free(buf);
    set_error(r, rc == NS_EBUSY ? 503 : 500, "report failed");
    return;
  }
  if (k && cur >= 0) {
    char *copy = ns_strdup(buf);   /* no memory: simply not cached */
    if (copy) {
      uv_mutex_lock(&k->mu);
      free(k->html);
      k->html = copy;
      k->current_run = cur;
      k->last_run = last;
      k->generation = r->generation;
      uv_mutex_unlock(&k->mu);
    }
  }
  r->status = 200;
  r->body = buf;
  r->rendered = 1;
}

void ns__read_work(ns__read *r) {
  ns_reader *rd = NULL;
  if (r->test_delay_s > 0 && r->route != NS_ROUTE_METRICS)
    uv_sleep((unsigned)(r->test_delay_s * 1000.0));
  if (ns_reader_open(r->db_path, &rd) != 0) {
    /* no DB yet, or one without the score schema */
    if (r->route == NS_ROUTE_METRICS) read_metrics(r, NULL);
    else set_error(r, 503, "database not readable");
    return;
  }
  switch (r->route) {
  case NS_ROUTE_METRICS: read_metrics(r, rd); break;
  case NS_ROUTE_REPORT: read_report(r, rd); break;
  case NS_ROUTE_RUN_CHANGES: read_changes(r, rd); break;
  case NS_ROUTE_NOTE: read_note(r, rd); break;
  case NS_ROUTE_NOTE_EXPLAIN: read_explain(r, rd); break;
  case NS_ROUTE_NOTES: read_list(r, rd); break;
  default: read_runs(r, rd); break;
  }
  ns_reader_close(rd);
}

void ns__read_free(ns__read *r) {
  if (!r) return;
  free(r->body);
  free(r->prefix);
  free(r);
}
