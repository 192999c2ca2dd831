/*
** dash/explain.c -- why a note has its status: everything the
** current published run knows about one note, as a JSON object
** (ns_dash_explain, contract in dashboard.h).
**
** All queries go through the documented views (current_note_status,
** note_history) or the score tables' primary keys, inside one read
** transaction: the explanation describes exactly one run even when a writer
** publishes the next one meanwhile.  Cost: a few index lookups plus one
** pass over the note's own ratings (ratings' primary key starts with
** note_id), so it stays in the milliseconds on any DB size.
**
** Who calls it: tools/cmd_explain.c (and any reader wanting the same
** answer).  Threads: any; one call per connection at a time.
*/
#include "dash.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../base/dataset.h"
#include "../engine/pipeline.h"
#include "../store/store.h"

/* A small query helper: the statement lives in q->st until the next
** q_prep() or q_done(). */
typedef struct query {
  sqlite3 *db;
  sqlite3_stmt *st;
  char *msg;
  size_t msg_len;
} query;

static void set_msg(query *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(query *q, const char *fmt, ...) {
  va_list ap;
  if (!q->msg || !q->msg_len) return;
  va_start(ap, fmt);
  vsnprintf(q->msg, q->msg_len, fmt, ap);
  va_end(ap);
}

static int q_prep(query *q, const char *sql) {
  sqlite3_finalize(q->st);
  q->st = NULL;
  if (sqlite3_prepare_v2(q->db, sql, -1, &q->st, NULL) != SQLITE_OK) {
    set_msg(q, "%s", sqlite3_errmsg(q->db));
    return NS_ESQL;
  }
  return 0;
}

/* Steps; returns 1 for a row, 0 at the end, <0 on error. */
static int q_step(query *q) {
  int src = sqlite3_step(q->st);
  if (src == SQLITE_ROW) return 1;
  if (src == SQLITE_DONE) return 0;
  set_msg(q, "%s", sqlite3_errmsg(q->db));
  return src == SQLITE_BUSY ? NS_EBUSY : NS_ESQL;
}

/* Column value as JSON by its SQLite type (NULL -> null). */
static json_t *col_json(sqlite3_stmt *st, int i) {
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, i));
  case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, i));
  case SQLITE_NULL: return json_null();
  default: {
    json_t *v = json_stringn((const char *)sqlite3_column_text(st, i),
                             (size_t)sqlite3_column_bytes(st, i));
    return v ? v : json_null(); /* invalid UTF-8 */
  }
  }
}

/* A REAL column as JSON; NULL stays null (json_real(NAN) would fail). */
static json_t *col_real(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
                                                   : json_real(sqlite3_column_double(st, i));
}

static json_t *id_string(int64_t id) {
  char b[24];
  snprintf(b, sizeof b, "%lld", (long long)id);
  return json_string(b);
}

static const char *class_name(int c) {
  return c == NS_CLASS_MISLEADING       ? "MISINFORMED_OR_POTENTIALLY_MISLEADING"
         : c == NS_CLASS_NOT_MISLEADING ? "NOT_MISLEADING"
                                        : "";
}

/* The condition under which a rule fires, with the run's numbers filled in
** (the thresholds are those the run recorded in runs.params).
** *limit receives the numeric bound the intercept (or interceptMax) was
** compared with, NAN when the rule has no single bound. */
static void rule_text(int rule, const ns_params *p, double factor, uint32_t filter_tags,
                      char *buf, size_t n, double *limit) {
  double crnh = p->crnh_threshold + p->crnh_factor_mult * fabs(isnan(factor) ? 0.0 : factor);
  *limit = NAN;
  switch (rule) {
  case NS_RULE_INITIAL_NMR:
    snprintf(buf, n, "every note starts NEEDS_MORE_RATINGS");
    break;
  case NS_RULE_GENERAL_CRH:
    *limit = p->crh_threshold;
    snprintf(buf, n, "intercept >= %.2f with >= %d ratings, not a NOT_MISLEADING note",
             p->crh_threshold, p->min_ratings_note);
    break;
  case NS_RULE_GENERAL_CRNH:
    *limit = crnh;
    snprintf(buf, n, "intercept <= %.2f %+.1f*|factor| = %.4f with >= %d ratings",
             p->crnh_threshold, p->crnh_factor_mult, crnh, p->min_ratings_note);
    break;
  case NS_RULE_UCB_CRNH:
    *limit = -0.04;
    snprintf(buf, n, "interceptMax (pseudo-rater upper bound) < -0.04");
    break;
  case NS_RULE_RATIO_CRNH:
    snprintf(buf, n, ">= 3 raters on each factor side, mean helpfulness <= 0.4 on each side "
                     "and <= 0.3 on average");
    break;
  case NS_RULE_NM_CRNH:
    *limit = p->nm_crnh_threshold;
    snprintf(buf, n, "NOT_MISLEADING note with intercept < %.2f", p->nm_crnh_threshold);
    break;
  case NS_RULE_CRH_INERTIA:
    *limit = p->crh_threshold - p->inertia_delta;
    snprintf(buf, n, "CRH in the previous run and intercept >= %.2f (%.2f - %.2f)",
             p->crh_threshold - p->inertia_delta, p->crh_threshold, p->inertia_delta);
    break;
  case NS_RULE_TAG_FILTER: {
    /* the tags that fired (activeFilterTags), comma-joined */
    size_t w = (size_t)snprintf(buf, n, "raters near the note's factor name one not-helpful "
                                        "tag far more than on CRH notes:");
    for (int t = 0; t < NS_N_TAGS && w < n; t++)
      if (filter_tags & NS_TAG_BIT(t)) w += (size_t)snprintf(buf + w, n - w, " %s", ns_tag_names[t]);
    break;
  }
  case NS_RULE_INCORRECT_FILTER:
    snprintf(buf, n, "'incorrect' tags from raters near the note's factor, beyond what their "
                     "tagging habits explain (tf-idf >= 2.5)");
    break;
  case NS_RULE_LOW_DILIGENCE:
    *limit = 0.263;
    snprintf(buf, n, "lowDiligenceIntercept > 0.263: its Incorrect / sources tags go beyond "
                     "what its raters' habits explain");
    break;
  case NS_RULE_LARGE_FACTOR:
    *limit = p->factor_threshold;
    snprintf(buf, n, "CRH with |factor| > %.2f (explained by one side)", p->factor_threshold);
    break;
  case NS_RULE_REJECT_LOW_INTERCEPT:
    *limit = p->firm_reject_threshold;
    snprintf(buf, n, "intercept < %.2f: firm reject, no later rule may make it CRH",
             p->firm_reject_threshold);
    break;
  case NS_RULE_MIN_MINORITY_RATERS:
    snprintf(buf, n, "CRH needs >= %d net helpful ratings from each factor side",
             p->min_minority_net_helpful);
    break;
  case NS_RULE_RATER_BALANCE:
    snprintf(buf, n, "weaker side has %d..9 net helpful ratings and < %.0f%% of the signed ratings",
             p->min_minority_net_helpful, p->min_minority_net_ratio * 100.0);
    break;
  case NS_RULE_NO_HIGH_VOL:
    snprintf(buf, n, "intercept without high-volume raters below the CRH threshold");
    break;
  case NS_RULE_NO_CORRELATED:
    snprintf(buf, n, "intercept without correlated raters below the CRH threshold");
    break;
  case NS_RULE_POPULATION_SAMPLED:
    snprintf(buf, n, "intercept on population-sampled ratings below the CRH threshold");
    break;
  case NS_RULE_STABILIZATION:
    snprintf(buf, n, "CRH not yet stable for the minimum time");
    break;
  case NS_RULE_DRIFT_GUARD:
    snprintf(buf, n, "status locked (two weeks after creation)");
    break;
  case NS_RULE_INSUFFICIENT_EXPL:
    snprintf(buf, n, "fewer than two explanation tags");
    break;
  case NS_RULE_CORE_MODEL:
    snprintf(buf, n, "status taken from the Core model");
    break;
  default:
    snprintf(buf, n, "rule %d", rule);
    break;
  }
}

/* The rules that fired, Core chain first then meta rules, each in bit order
** (which is the order the pipeline evaluates them: later rules win). */
static json_t *rules_json(const ns_params *p, uint32_t core, uint32_t meta, double factor,
                          uint32_t filter_tags) {
  json_t *a = json_array();
  for (int pass = 0; a && pass < 2; pass++) {
    uint32_t bits = pass ? meta : core;
    for (int i = 0; i < NS_RULE_COUNT; i++) {
      char text[512];
      double limit;
      json_t *o;
      if (!(bits & (1u << i))) continue;
      rule_text(i, p, factor, filter_tags, text, sizeof text, &limit);
      o = json_pack("{s:s, s:s, s:s}", "name", ns_rule_names[i], "kind", pass ? "meta" : "core",
                    "threshold", text);
      if (o && !isnan(limit)) json_object_set_new(o, "limit", json_real(limit));
      if (!o || json_array_append_new(a, o)) {
        json_decref(a);
        return NULL;
      }
    }
  }
  return a;
}

/* The three level counters of one factor side (or of all ratings). */
static json_t *levels_json(const int64_t c[3]) {
  return json_pack("{s:I, s:I, s:I, s:I}", "helpful", (json_int_t)c[NS_LEVEL_HELPFUL],
                   "somewhatHelpful", (json_int_t)c[NS_LEVEL_SOMEWHAT_HELPFUL], "notHelpful",
                   (json_int_t)c[NS_LEVEL_NOT_HELPFUL], "total",
                   (json_int_t)(c[0] + c[1] + c[2]));
}

/* Ratings by rater factor side and level, and the tag counts.  One pass
** over the note's ratings (primary key prefix note_id) with a point lookup
** of each rater's score in the same run.  The side is what the bridging
** model is about: a helpful note must be rated helpful from both signs of
** the factor, so the neg/pos split shows whether it was.  Raters with no
** factor in this run (dropped by the helpfulness filter, too few ratings,
** or unknown) are "none": their ratings still count in numRatings. */
static int ratings_part(query *q, int64_t run_id, int64_t note_id, json_t *o) {
  int64_t by[3][3] = {{0}}, lvl[3] = {0}, tags[NS_N_TAGS] = {0}, total = 0;
  int rc;
  int order[NS_N_TAGS], k = 0;
  json_t *sides, *top;
  /* side: 0 neg, 1 pos, 2 none (rater not in the run, or factor 0/NULL) */
  if ((rc = q_prep(q, "SELECT CASE WHEN s.factor < 0 THEN 0 WHEN s.factor > 0 THEN 1 ELSE 2 END,"
                      " r.level, r.tags"
                      " FROM ratings r LEFT JOIN rater_scores s"
                      "   ON s.run_id = ?1 AND s.rater_id = r.rater_id"
                      " WHERE r.note_id = ?2")) != 0)
    return rc;
  sqlite3_bind_int64(q->st, 1, run_id);
  sqlite3_bind_int64(q->st, 2, note_id);
  while ((rc = q_step(q)) == 1) {
    int side = sqlite3_column_int(q->st, 0), level = sqlite3_column_int(q->st, 1);
    uint32_t t = (uint32_t)sqlite3_column_int64(q->st, 2);
    if (level < 0 || level > 2) continue; /* the store never writes these */
    by[side][level]++;
    lvl[level]++;
    total++;
    for (int i = 0; i < NS_N_TAGS; i++) tags[i] += (t >> i) & 1u;
  }
  if (rc < 0) return rc;

  sides = json_pack("{s:o, s:o, s:o}", "neg", levels_json(by[0]), "pos", levels_json(by[1]),
                    "none", levels_json(by[2]));
  if (!sides || json_object_set_new(o, "ratings",
                                    json_pack("{s:I, s:o, s:o}", "total", (json_int_t)total,
                                              "bySide", sides, "byLevel", levels_json(lvl))))
    return NS_ENOMEM;

  /* top tags: count desc, then the reference tie-break rank desc; a tiny
  ** selection sort over 22 entries */
  for (int i = 0; i < NS_N_TAGS; i++)
    if (tags[i] > 0) order[k++] = i;
  for (int i = 0; i < k; i++)
    for (int j = i + 1; j < k; j++) {
      int a = order[i], b = order[j];
      if (tags[b] > tags[a] || (tags[b] == tags[a] && ns_tag_rank[b] > ns_tag_rank[a])) {
        order[i] = b;
        order[j] = a;
      }
    }
  if (!(top = json_array())) return NS_ENOMEM;
  for (int i = 0; i < k && i < 5; i++)
    json_array_append_new(top, json_pack("{s:s, s:I}", "tag", ns_tag_names[order[i]], "count",
                                         (json_int_t)tags[order[i]]));
  return json_object_set_new(o, "topTags", top) ? NS_ENOMEM : 0;
}

/* The note's status in every published run (note_history view, answered
** by the note_scores_by_note index) and its status-history record. */
static int history_part(query *q, int64_t note_id, json_t *o) {
  json_t *a = json_array(), *h;
  int rc;
  if (!a || json_object_set_new(o, "history", a)) return NS_ENOMEM;
  if ((rc = q_prep(q, "SELECT run_id, scored_at_ms, status, decided_by, intercept, factor"
                      " FROM note_history WHERE note_id = ?1 ORDER BY run_id")) != 0)
    return rc;
  sqlite3_bind_int64(q->st, 1, note_id);
  while ((rc = q_step(q)) == 1) {
    json_t *row = json_object();
    if (!row) return NS_ENOMEM;
    json_object_set_new(row, "runId", json_integer(sqlite3_column_int64(q->st, 0)));
    json_object_set_new(row, "scoredAtMillis", col_json(q->st, 1));
    json_object_set_new(row, "status", col_json(q->st, 2));
    json_object_set_new(row, "decidedBy", col_json(q->st, 3));
    json_object_set_new(row, "intercept", col_real(q->st, 4));
    json_object_set_new(row, "factor", col_real(q->st, 5));
    json_array_append_new(a, row);
  }
  if (rc < 0) return rc;

  /* the note_status_history row (timestamps of first/latest non-NMR
  ** status, lock), column names as in the table */
  if (!(h = json_object()) || json_object_set_new(o, "statusHistory", h)) return NS_ENOMEM;
  if ((rc = q_prep(q, "SELECT * FROM note_status_history WHERE note_id = ?1")) != 0) return rc;
  sqlite3_bind_int64(q->st, 1, note_id);
  if ((rc = q_step(q)) == 1) {
    for (int i = 0; i < sqlite3_column_count(q->st); i++) {
      const char *name = sqlite3_column_name(q->st, i);
      if (!strcmp(name, "note_id") || !strcmp(name, "author_id")) continue;
      json_object_set_new(h, name, col_json(q->st, i));
    }
  }
  return rc < 0 ? rc : 0;
}

int ns_dash_explain(struct sqlite3 *db, int64_t note_id, json_t **out, char *msg,
                    size_t msg_len) {
  query q = {db, NULL, msg, msg_len};
  json_t *o = NULL;
  int64_t run_id;
  uint32_t core, meta;
  double factor;
  uint32_t ftags;
  ns_params p;
  int rc;
  *out = NULL;
  ns_params_default(&p);
  if (msg && msg_len) msg[0] = 0;
  /* One read transaction: every query below sees the same run. */
  if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    set_msg(&q, "%s", sqlite3_errmsg(db));
    return NS_ESQL;
  }
  if ((rc = q_prep(&q, "SELECT run_id FROM current_run")) != 0) goto out;
  if ((rc = q_step(&q)) <= 0) {
    if (rc == 0) {
      rc = NS_ENODATA;
      set_msg(&q, "no published scoring run (run `notescore score --db DB` first)");
    }
    goto out;
  }
  run_id = sqlite3_column_int64(q.st, 0);
  {
    /* the thresholds the run was scored with (old runs: defaults) */
    char *pj = NULL;
    if ((rc = ns_store_run_params(db, run_id, &pj)) == 0)
      rc = ns_params_from_json(pj, &p, msg, msg_len);
    free(pj);
    if (rc) goto out;
  }

  if ((rc = q_prep(&q, "SELECT run_id, scored_at_ms, status, core_status, decided_by,"
                       " classification, num_ratings, num_final_round_ratings, intercept,"
                       " factor, intercept_min, intercept_max, intercept_r1, factor_r1,"
                       " first_tag, second_tag, core_rules, meta_rules"
                       " FROM current_note_status WHERE note_id = ?1")) != 0)
    goto out;
  sqlite3_bind_int64(q.st, 1, note_id);
  if ((rc = q_step(&q)) <= 0) {
    if (rc == 0) {
      rc = NS_ENOTFOUND;
      set_msg(&q, "note %lld is not in the current run %lld", (long long)note_id,
              (long long)run_id);
    }
    goto out;
  }
  rc = NS_ENOMEM;
  if (!(o = json_object())) goto out;
  json_object_set_new(o, "noteId", id_string(note_id));
  json_object_set_new(o, "runId", json_integer(run_id));
  json_object_set_new(o, "scoredAtMillis", col_json(q.st, 1));
  json_object_set_new(o, "status", col_json(q.st, 2));
  json_object_set_new(o, "coreStatus", col_json(q.st, 3));
  json_object_set_new(o, "decidedBy", col_json(q.st, 4));
  json_object_set_new(o, "classification", json_string(class_name(sqlite3_column_int(q.st, 5))));
  json_object_set_new(o, "numRatings", col_json(q.st, 6));
  json_object_set_new(o, "numFinalRoundRatings", col_json(q.st, 7));
  json_object_set_new(o, "intercept", col_real(q.st, 8));
  json_object_set_new(o, "factor", col_real(q.st, 9));
  json_object_set_new(o, "interceptMin", col_real(q.st, 10));
  json_object_set_new(o, "interceptMax", col_real(q.st, 11));
  json_object_set_new(o, "interceptRound1", col_real(q.st, 12));
  json_object_set_new(o, "factorRound1", col_real(q.st, 13));
  json_object_set_new(o, "firstTag", col_json(q.st, 14));
  json_object_set_new(o, "secondTag", col_json(q.st, 15));
  factor = sqlite3_column_type(q.st, 9) == SQLITE_NULL ? NAN : sqlite3_column_double(q.st, 9);
  core = (uint32_t)sqlite3_column_int64(q.st, 16);
  meta = (uint32_t)sqlite3_column_int64(q.st, 17);
  /* the low-diligence model's verdict input (schema v4) and the tags the
  ** tag filter fired on, from note_scores */
  if ((rc = q_prep(&q, "SELECT low_diligence_intercept, active_filter_tags FROM note_scores"
                       " WHERE run_id = ?1 AND note_id = ?2")) != 0)
    goto out;
  sqlite3_bind_int64(q.st, 1, run_id);
  sqlite3_bind_int64(q.st, 2, note_id);
  if ((rc = q_step(&q)) < 0) goto out;
  json_object_set_new(o, "lowDiligenceIntercept", rc ? col_real(q.st, 0) : json_null());
  ftags = rc ? (uint32_t)sqlite3_column_int64(q.st, 1) : 0;
  rc = NS_ENOMEM;
  if (json_object_set_new(o, "rules", rules_json(&p, core, meta, factor, ftags))) goto out;

  if ((rc = ratings_part(&q, run_id, note_id, o)) != 0) goto out;
  rc = history_part(&q, note_id, o);
out:
  sqlite3_finalize(q.st);
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL); /* read-only: ends the snapshot */
  if (rc == NS_ENOMEM) set_msg(&q, "out of memory");
  if (rc) json_decref(o);
  else *out = o;
  ns_params_release(&p);
  return rc;
}
