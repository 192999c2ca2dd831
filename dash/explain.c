/*
** dash/explain.c -- why a note has its status: everything the
** current published run knows about one note, as a JSON object
** (ns_dash_explain, contract in dash.h).
**
** The rows come from the store's read layer (store/query.h: the views
** current_note_status and note_history, the score tables' primary keys),
** inside one reader snapshot: the explanation describes exactly one run even when a writer
** publishes the next one meanwhile.  Cost: a few index lookups plus one
** pass over the note's own ratings (ratings' primary key starts with
** note_id), so it stays in the milliseconds on any DB size.
**
** This file only shapes the JSON; it runs no SQL itself.
**
** Who calls it: tools/cmd_explain.c, tools/cmd_compare.c and the server's
** GET /v1/notes/{id}/explain.  Threads: any; one call per reader at a time.
*/
#include "dash.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../base/dataset.h"
#include "../engine/pipeline.h"
#include "../store/query.h"

static void set_msg(char *msg, size_t msg_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_msg(char *msg, size_t msg_len, const char *fmt, ...) {
  va_list ap;
  if (!msg || !msg_len) return;
  va_start(ap, fmt);
  vsnprintf(msg, msg_len, fmt, ap);
  va_end(ap);
}

/* NULL stays null; a string that is not UTF-8 shows as null too. */
static json_t *str_json(const char *s) {
  json_t *v = s ? json_string(s) : NULL;
  return v ? v : json_null();
}

static json_t *int_json(int64_t v) { return v == NS_Q_NULL ? json_null() : json_integer(v); }

/* A real; NAN (SQL NULL) is null (json_real(NAN) would fail). */
static json_t *real_json(double v) { return isnan(v) ? json_null() : json_real(v); }

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
  case NS_RULE_CRH_SUPER:
    *limit = 0.5;
    snprintf(buf, n, "intercept >= 0.50 (crhSuperThreshold) with >= %d ratings: CRH again after "
                     "the tag filter", p->min_ratings_note);
    break;
  case NS_RULE_ELEVATED_CRH_INERTIA:
    *limit = 0.5 - p->inertia_delta;
    snprintf(buf, n, "CRH in the previous run and intercept >= %.2f (0.50 - %.2f)",
             0.5 - p->inertia_delta, p->inertia_delta);
    break;
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

/* The rules that fired, Core chain first then meta rules, each in the order
** the pipeline evaluates them (later rules win): the scorer chain's order
** (base/rules.h), then bit order. */
static json_t *rules_json(const ns_params *pp, uint64_t core, uint64_t meta, double factor,
                          uint32_t filter_tags) {
  const ns_params p = *pp;
  json_t *a = json_array();
  for (int pass = 0; a && pass < 2; pass++) {
    uint64_t bits = pass ? meta : core;
    for (int j = 0; j < NS_SCORER_RULE_ORDER_LEN + NS_RULE_COUNT; j++) {
      int i = j < NS_SCORER_RULE_ORDER_LEN ? ns_scorer_rule_order[j] : j - NS_SCORER_RULE_ORDER_LEN;
      char text[512];
      double limit;
      json_t *o;
      if (!(bits & (1ull << i))) continue;
      bits &= ~(1ull << i);
      rule_text(i, &p, factor, filter_tags, text, sizeof text, &limit);
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
** over the note's ratings with each rater's side in the same run.  The side
** is what the bridging model is about: a helpful note must be rated helpful
** from both signs of the factor, so the neg/pos split shows whether it
** was.  Raters with no factor in this run (dropped by the helpfulness
** filter, too few ratings, or unknown) are "none": their ratings still
** count in numRatings. */
typedef struct tally {
  int64_t by[3][3], lvl[3], tags[NS_N_TAGS], total;
} tally;

static int tally_rating(void *ctx, int side, int level, uint32_t t) {
  tally *y = ctx;
  if (level < 0 || level > 2 || side < 0 || side > 2) return 0; /* the store never writes these */
  y->by[side][level]++;
  y->lvl[level]++;
  y->total++;
  for (int i = 0; i < NS_N_TAGS; i++) y->tags[i] += (t >> i) & 1u;
  return 0;
}

static int ratings_part(ns_reader *rd, int64_t run_id, int64_t note_id, json_t *o) {
  tally y;
  int rc;
  int order[NS_N_TAGS], k = 0;
  json_t *sides, *top;
  memset(&y, 0, sizeof y);
  if ((rc = ns_q_note_ratings(rd, run_id, note_id, tally_rating, &y)) != 0) return rc;

  sides = json_pack("{s:o, s:o, s:o}", "neg", levels_json(y.by[0]), "pos", levels_json(y.by[1]),
                    "none", levels_json(y.by[2]));
  if (!sides || json_object_set_new(o, "ratings",
                                    json_pack("{s:I, s:o, s:o}", "total", (json_int_t)y.total,
                                              "bySide", sides, "byLevel", levels_json(y.lvl))))
    return NS_ENOMEM;

  /* top tags: count desc, then the reference tie-break rank desc; a tiny
  ** selection sort over 22 entries */
  for (int i = 0; i < NS_N_TAGS; i++)
    if (y.tags[i] > 0) order[k++] = i;
  for (int i = 0; i < k; i++)
    for (int j = i + 1; j < k; j++) {
      int a = order[i], b = order[j];
      if (y.tags[b] > y.tags[a] || (y.tags[b] == y.tags[a] && ns_tag_rank[b] > ns_tag_rank[a])) {
        order[i] = b;
        order[j] = a;
      }
    }
  if (!(top = json_array())) return NS_ENOMEM;
  for (int i = 0; i < k && i < 5; i++)
    json_array_append_new(top, json_pack("{s:s, s:I}", "tag", ns_tag_names[order[i]], "count",
                                         (json_int_t)y.tags[order[i]]));
  return json_object_set_new(o, "topTags", top) ? NS_ENOMEM : 0;
}

static int history_row(void *ctx, const ns_q_history *h) {
  json_t *row = json_object();
  if (!row) return NS_ENOMEM;
  json_object_set_new(row, "runId", json_integer(h->run_id));
  json_object_set_new(row, "scoredAtMillis", int_json(h->scored_at_ms));
  json_object_set_new(row, "status", str_json(h->status));
  json_object_set_new(row, "decidedBy", str_json(h->decided_by));
  json_object_set_new(row, "intercept", real_json(h->intercept));
  json_object_set_new(row, "factor", real_json(h->factor));
  return json_array_append_new(ctx, row) ? NS_ENOMEM : 0;
}

/* A column of the status-history row as JSON by its SQLite type. */
static int status_history_field(void *ctx, const char *name, const ns_q_value *v) {
  json_t *j;
  switch (v->type) {
  case NS_QV_INT: j = json_integer(v->i); break;
  case NS_QV_REAL: j = json_real(v->d); break;
  case NS_QV_TEXT: j = json_stringn(v->s ? v->s : "", v->len); break;
  default: j = json_null(); break;
  }
  json_object_set_new(ctx, name, j ? j : json_null()); /* invalid UTF-8 -> null */
  return 0;
}

/* The note's status in every published run (note_history view, answered
** by the note_scores_by_note index) and its status-history record. */
static int history_part(ns_reader *rd, int64_t note_id, json_t *o) {
  json_t *a = json_array(), *h;
  int rc;
  if (!a || json_object_set_new(o, "history", a)) return NS_ENOMEM;
  if ((rc = ns_q_note_history(rd, note_id, history_row, a)) != 0) return rc;
  /* the note_status_history row (timestamps of first/latest non-NMR
  ** status, lock), named as in the public noteStatusHistory file */
  if (!(h = json_object()) || json_object_set_new(o, "statusHistory", h)) return NS_ENOMEM;
  return ns_q_status_history(rd, note_id, status_history_field, h);
}

/* ---- the scorers ------------------------------------------------------- */

/* Which scorer's meta rule decided_by names: -1 Core, an enum ns_model, or
** -2 when no scorer decided (a meta rule of its own: MetaInitialNMR,
** ScoringDriftGuard, NmrDueToMinStableCrhTime, ...).  A name may carry the
** reference's " (vX.Y)" suffix; the DB writes the bare name. */
static int deciding_scorer(const char *d) {
  /* family: a numbered rule (GroupModel01..14, GroupModel33NMR, TopicModel05) */
  static const struct { const char *name; int family, scorer; } map[] = {
      {"CoreModel", 0, -1},
      {"CoreWithTopicsModel", 0, NS_MODEL_CORE_WITH_TOPICS},
      {"ExpansionModel", 0, NS_MODEL_EXPANSION},
      {"ExpansionPlusModel", 0, NS_MODEL_EXPANSION_PLUS},
      {"MultiGroupModel", 1, NS_MODEL_MULTI_GROUP},
      {"GroupModel", 1, NS_MODEL_GROUP},
      {"TopicModel", 1, NS_MODEL_TOPIC},
      {"GaussianModel", 0, NS_MODEL_GAUSSIAN},
      {"GaussianCoreWithTopicsModel", 0, NS_MODEL_GAUSSIAN_CORE_WITH_TOPICS}};
  size_t n;
  if (!d) return -2;
  n = strcspn(d, " ");
  for (size_t i = 0; i < NS_ARRAY_LEN(map); i++) {
    size_t k = strlen(map[i].name);
    if (n < k || memcmp(d, map[i].name, k) != 0) continue;
    if (n == k || (map[i].family && d[k] >= '0' && d[k] <= '9')) return map[i].scorer;
  }
  return -2;
}

/* A scorer's ActiveRules as an array of rule names. */
static json_t *rule_names_json(uint64_t bits) {
  json_t *a = json_array();
  for (int i = 0; a && i < NS_RULE_COUNT; i++)
    if (bits & (1ull << i)) json_array_append_new(a, json_string(ns_rule_names[i]));
  return a ? a : json_null();
}

static json_t *scorer_json(const char *name, double icpt, double fac, const char *status,
                           uint64_t rules, int64_t nfr, double nhv, double nc, int decided) {
  json_t *o = json_object();
  if (!o) return NULL;
  json_object_set_new(o, "scorer", json_string(name));
  json_object_set_new(o, "intercept", real_json(icpt));
  json_object_set_new(o, "factor", real_json(fac));
  json_object_set_new(o, "status", str_json(status));
  json_object_set_new(o, "rules", rule_names_json(rules));
  json_object_set_new(o, "numFinalRoundRatings", int_json(nfr));
  json_object_set_new(o, "interceptNoHighVol", real_json(nhv));
  json_object_set_new(o, "interceptNoCorrelated", real_json(nc));
  json_object_set_new(o, "decided", json_boolean(decided));
  return o;
}

/* decidedByScorer, deciding (the deciding scorer's intercept/factor beside
** Core's), scorers (every scorer that scored the note, Core first) and the
** note's scopes (schema v6). */
static int scorers_part(const ns_q_note *n, json_t *o) {
  int d = deciding_scorer(n->decided_by);
  json_t *a = json_array(), *dec = json_null();
  if (!a) return NS_ENOMEM;
  if (n->core_status || !isnan(n->intercept))
    json_array_append_new(a, scorer_json("core", n->intercept, n->factor, n->core_status,
                                         n->core_rules, n->core_status ? n->num_final_round_ratings
                                                                       : NS_Q_NULL,
                                         NAN, NAN, d == -1));
  for (int m = 0; m < NS_MODEL_COUNT; m++) {
    const ns_q_model *x = &n->model[m];
    if (!x->status && isnan(x->intercept)) continue; /* not in its scope */
    json_array_append_new(a, scorer_json(ns_model_prefix[m], x->intercept, x->factor, x->status,
                                         x->rules, x->n_final_round, x->intercept_no_high_vol,
                                         x->intercept_no_correlated, d == m));
  }
  if (d >= -1) {
    const ns_q_model *x = d >= 0 ? &n->model[d] : NULL;
    dec = json_object();
    if (!dec) {
      json_decref(a);
      return NS_ENOMEM;
    }
    json_object_set_new(dec, "scorer", json_string(x ? ns_model_prefix[d] : "core"));
    json_object_set_new(dec, "rule", str_json(n->decided_by));
    json_object_set_new(dec, "intercept", real_json(x ? x->intercept : n->intercept));
    json_object_set_new(dec, "factor", real_json(x ? x->factor : n->factor));
    json_object_set_new(dec, "status", str_json(x ? x->status : n->core_status));
    json_object_set_new(dec, "coreIntercept", real_json(n->intercept));
    json_object_set_new(dec, "coreFactor", real_json(n->factor));
    json_object_set_new(dec, "coreStatus", str_json(n->core_status));
  }
  json_object_set_new(o, "decidedByScorer",
                      d >= 0 ? json_string(ns_model_prefix[d]) : d == -1 ? json_string("core")
                                                                          : json_null());
  json_object_set_new(o, "deciding", dec);
  json_object_set_new(o, "modelingGroup", int_json(n->modeling_group));
  json_object_set_new(o, "modelingMultiGroup", int_json(n->modeling_multi_group));
  json_object_set_new(o, "topic", str_json(n->topic));
  json_object_set_new(o, "topicConfident",
                      n->topic_confident < 0 ? json_null() : json_boolean(n->topic_confident));
  json_object_set_new(o, "interceptPopulationSampled", real_json(n->intercept_pop));
  return json_object_set_new(o, "scorers", a) ? NS_ENOMEM : 0;
}

int ns_dash_explain(ns_reader *rd, int64_t note_id, json_t **out, char *msg, size_t msg_len) {
  json_t *o = NULL;
  int64_t run_id;
  ns_q_note n;
  ns_params p;
  int rc;
  *out = NULL;
  ns_params_default(&p);
  if (msg && msg_len) msg[0] = 0;
  /* One snapshot: every query below sees the same run. */
  if ((rc = ns_reader_begin(rd)) != 0) {
    set_msg(msg, msg_len, "%s", ns_reader_errmsg(rd));
    return rc;
  }
  if ((rc = ns_q_current_run(rd, &run_id)) != 0) {
    if (rc == NS_ENODATA)
      set_msg(msg, msg_len, "no published scoring run (run `notescore score --db DB` first)");
    goto out;
  }
  {
    /* the thresholds the run was scored with (old runs: defaults) */
    char *pj = NULL;
    if ((rc = ns_q_run_params(rd, run_id, &pj)) == 0)
      rc = ns_params_from_json(pj, &p, msg, msg_len);
    free(pj);
    if (rc) goto out;
  }
  if ((rc = ns_q_note_get(rd, note_id, &n)) != 0) {
    if (rc == NS_ENOTFOUND)
      set_msg(msg, msg_len, "note %lld is not in the current run %lld", (long long)note_id,
              (long long)run_id);
    goto out;
  }
  rc = NS_ENOMEM;
  if (!(o = json_object())) goto out;
  json_object_set_new(o, "noteId", id_string(note_id));
  json_object_set_new(o, "runId", json_integer(run_id));
  json_object_set_new(o, "scoredAtMillis", int_json(n.scored_at_ms));
  json_object_set_new(o, "status", str_json(n.status));
  json_object_set_new(o, "coreStatus", str_json(n.core_status));
  json_object_set_new(o, "decidedBy", str_json(n.decided_by));
  json_object_set_new(o, "classification", json_string(class_name(n.classification)));
  json_object_set_new(o, "numRatings", int_json(n.num_ratings));
  json_object_set_new(o, "numFinalRoundRatings", int_json(n.num_final_round_ratings));
  json_object_set_new(o, "intercept", real_json(n.intercept));
  json_object_set_new(o, "factor", real_json(n.factor));
  json_object_set_new(o, "interceptMin", real_json(n.intercept_min));
  json_object_set_new(o, "interceptMax", real_json(n.intercept_max));
  json_object_set_new(o, "interceptRound1", real_json(n.intercept_r1));
  json_object_set_new(o, "factorRound1", real_json(n.factor_r1));
  json_object_set_new(o, "firstTag", str_json(n.first_tag));
  json_object_set_new(o, "secondTag", str_json(n.second_tag));
  /* the low-diligence model's verdict input (schema v4); the tags the tag
  ** filter fired on name themselves in the TagFilter rule */
  json_object_set_new(o, "lowDiligenceIntercept", real_json(n.low_diligence_intercept));
  if (json_object_set_new(o, "rules",
                          rules_json(&p, n.core_rules, n.meta_rules, n.factor, n.active_filter_tags)))
    goto out;
  if ((rc = scorers_part(&n, o)) != 0) goto out;
  rc = NS_ENOMEM;

  if ((rc = ratings_part(rd, run_id, note_id, o)) != 0) goto out;
  rc = history_part(rd, note_id, o);
out:
  if (rc && rc != NS_ENODATA && rc != NS_ENOTFOUND && !(msg && msg_len && msg[0]))
    set_msg(msg, msg_len, "%s", rc == NS_ENOMEM ? "out of memory" : ns_reader_errmsg(rd));
  ns_reader_end(rd);
  ns_params_release(&p);
  if (rc) json_decref(o);
  else *out = o;
  return rc;
}
