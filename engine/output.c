/*
** engine/output.c -- writes a run's results in the reference's TSV layouts:
** scored_notes.tsv, helpfulness_scores.tsv, note_status_history.tsv and
** aux_note_info.tsv.
**
** Every file starts with all of the reference's columns, named and ordered
** as the reference writes them (shared reference-output-columns.md; the
** copy the tests check against is tests/data/reference_columns.txt), so a
** notebook written for the reference's output reads notescore's.  Columns
** notescore has no value for are written empty (NaN); docs/algorithm.md
** ("Output columns without a value") lists them.  notescore's own columns
** come after the reference's.
**
** Formatting is deterministic and reads back in pandas as the reference's
** output does:
**   - doubles as "%.9g" (enough for float32 parity, stable across
**     machines), -0 as 0; NaN, inf and absent values as the empty field;
**   - integers in decimal; the integer-valued columns the reference types
**     as floats (modelingGroup, *NumFinalRoundRatings, the nullable
**     timestamps of the history) with a ".0", so pandas gives them the
**     reference's float64 dtype even when no row is empty;
**   - booleans as True / False (pandas' bool, or object with NaN);
**   - rules as "Name (vX.Y)" joined by ",", the reference's RuleID strings;
**     the meta rules in the order the reference's meta-scorer runs them.
** Every file is written to NAME.tmp; the four are renamed only once all
** were written, so a reader never sees a half-written file and a failure
** leaves no new file behind.
**
** Who calls it: tools/ (score CLI), engine/ server.  Reads sc and ds only.
*/
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_int.h"
#include "../store/format.h"

void ns__fmt_double(char *buf, size_t cap, double v) {
  if (isnan(v) || isinf(v)) {
    buf[0] = 0;
    return;
  }
  if (v == 0) v = 0; /* turns -0 into +0 */
  snprintf(buf, cap, "%.9g", v);
}

/* ---- rule names ----------------------------------------------------------
** The reference names a rule "Name (vX.Y)" (scoring_rules.py RuleID) in
** every output column.  The strings are built once from ns_rule_names and
** ns_rule_versions (base/rules.c), so the two tables stay the only list. */

static char rule_ref[NS_RULE_COUNT][64];
static pthread_once_t rule_ref_once = PTHREAD_ONCE_INIT;

static void rule_ref_init(void) {
  for (int r = 0; r < NS_RULE_COUNT; r++)
    snprintf(rule_ref[r], sizeof rule_ref[r], "%s (v%s)", ns_rule_names[r], ns_rule_versions[r]);
}

const char *ns__rule_ref_name(int rule) {
  if (rule < 0 || rule >= NS_RULE_COUNT) return "";
  pthread_once(&rule_ref_once, rule_ref_init);
  return rule_ref[rule];
}

const char *ns__meta_rule_name(int rule) {
  /* decided_by INITIAL_NMR (before NS_RULE_META_INITIAL_NMR existed) is the
  ** meta-scorer's own initial rule */
  if (rule == NS_RULE_INITIAL_NMR) return "MetaInitialNMR";
  if (rule < 0 || rule >= NS_RULE_COUNT) return "";
  return ns_rule_names[rule];
}

/* decidedBy: "Name (vX.Y)" in the meta context. */
static const char *meta_ref_name(int rule) {
  return ns__rule_ref_name(rule == NS_RULE_INITIAL_NMR ? NS_RULE_META_INITIAL_NMR : rule);
}

/* ---- field writers ----------------------------------------------------- */

static void put_sep(FILE *f, int *first) {
  if (!*first) fputc('\t', f);
  *first = 0;
}

static void put_str(FILE *f, int *first, const char *s) {
  put_sep(f, first);
  fputs(s, f);
}

static void put_nan(FILE *f, int *first) { put_sep(f, first); }

static void put_dbl(FILE *f, int *first, double v) {
  char b[40];
  ns__fmt_double(b, sizeof b, v);
  put_str(f, first, b);
}

static void put_i64(FILE *f, int *first, int64_t v) {
  put_sep(f, first);
  fprintf(f, "%" PRId64, v);
}

/* An integer in a column the reference types as a float: "13.0". */
static void put_i64f(FILE *f, int *first, int64_t v) {
  put_sep(f, first);
  fprintf(f, "%" PRId64 ".0", v);
}

static void put_ts(FILE *f, int *first, int64_t v) {
  if (v == NS_TS_NONE) put_nan(f, first);
  else put_i64(f, first, v);
}

static void put_tsf(FILE *f, int *first, int64_t v) {
  if (v == NS_TS_NONE) put_nan(f, first);
  else put_i64f(f, first, v);
}

/* A double of a float column: integral values as "14.0" (like the
** reference), others as ns__fmt_double. */
static void put_real(FILE *f, int *first, double v) {
  if (isfinite(v) && v == floor(v) && fabs(v) < 9e15) put_i64f(f, first, (int64_t)v);
  else put_dbl(f, first, v);
}

static void put_bool(FILE *f, int *first, int v) {
  put_str(f, first, v < 0 ? "" : v ? "True" : "False");
}

static void put_status(FILE *f, int *first, int s) { put_str(f, first, ns_status_name(s)); }

static void put_tag(FILE *f, int *first, int t) {
  put_str(f, first, (t >= 0 && t < NS_N_TAGS) ? ns_tag_names[t] : "");
}

/* A scorer's ActiveRules: the rules in mask, in rule order. */
static void put_rules(FILE *f, int *first, uint64_t mask) {
  int any = 0;
  put_sep(f, first);
  /* in the order the chain runs them (base/rules.h), then any other bit */
  for (int i = 0; i < NS_SCORER_RULE_ORDER_LEN; i++) {
    int r = ns_scorer_rule_order[i];
    if (!(mask & (1ull << r))) continue;
    if (any) fputc(',', f);
    fputs(ns__rule_ref_name(r), f);
    mask &= ~(1ull << r);
    any = 1;
  }
  for (int r = 0; r < NS_RULE_COUNT; r++) {
    if (!(mask & (1ull << r))) continue;
    if (any) fputc(',', f);
    fputs(ns__rule_ref_name(r), f);
    any = 1;
  }
}

/* metaScorerActiveRules: the meta rules in the order they run
** (ns__meta_order, engine/meta.c), as the reference writes them; a legacy
** INITIAL_NMR bit is the meta-scorer's MetaInitialNMR; a bit of a rule
** that is not a meta rule (none today) goes last, in rule order. */
static void put_meta_rules(FILE *f, int *first, uint64_t mask) {
  int any = 0;
  put_sep(f, first);
  if (mask & (1ull << NS_RULE_INITIAL_NMR)) mask |= 1ull << NS_RULE_META_INITIAL_NMR;
  mask &= ~(1ull << NS_RULE_INITIAL_NMR);
  for (int i = 0; i < NS__META_ORDER_LEN; i++) {
    int r = ns__meta_order[i];
    if (!(mask & (1ull << r))) continue;
    if (any) fputc(',', f);
    fputs(ns__rule_ref_name(r), f);
    mask &= ~(1ull << r);
    any = 1;
  }
  for (int r = 0; r < NS_RULE_COUNT; r++) {
    if (!(mask & (1ull << r))) continue;
    if (any) fputc(',', f);
    fputs(ns__rule_ref_name(r), f);
    any = 1;
  }
}

static void put_tags(FILE *f, int *first, uint32_t mask) {
  int any = 0;
  put_sep(f, first);
  for (int t = 0; t < NS_N_TAGS; t++) {
    if (!(mask & NS_TAG_BIT(t))) continue;
    if (any) fputc(',', f);
    fputs(ns_tag_names[t], f);
    any = 1;
  }
}

typedef struct out_col {
  const char *name;
  uint8_t kind;
  int8_t model; /* enum ns_model for the M_* kinds */
} out_col;

static void put_header(FILE *f, const out_col *cols, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (i) fputc('\t', f);
    fputs(cols[i].name, f);
  }
  fputc('\n', f);
}

/* Row of the sorted history with note_id, or NULL. */
static const ns_nsh *find_history(const ns_nsh *h, size_t n, int64_t note_id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (h[mid].note_id < note_id) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && h[lo].note_id == note_id ? &h[lo] : NULL;
}

/* ---- scored_notes.tsv -------------------------------------------------- */

enum {
  K_NAN, /* a reference column notescore has no value for */
  K_NOTE_ID, K_CORE_INT, K_CORE_FAC, K_FINAL, K_TAG1, K_TAG2, K_CORE_RULES, K_FILTER_TAGS,
  K_CLASS, K_CREATED, K_CORE_STATUS, K_META_RULES, K_DECIDED, K_CORE_MIN, K_CORE_MAX,
  K_MGROUP, K_NUM_RATINGS, K_TS_CURRENT, K_TOPIC, K_TOPIC_CONF, K_CORE_NFR, K_MMGROUP,
  K_CWT_MIN, K_CWT_MAX, K_TS_STABLE, K_CORE_NHV, K_CORE_NC, K_CORE_POP,
  /* one scorer's value (col.model) */
  K_M_INT, K_M_FAC, K_M_STATUS, K_M_RULES, K_M_NFR, K_M_NHV, K_M_NC,
  /* notescore's own */
  K_R1_INT, K_R1_FAC, K_PROV, K_LOWDIL
};

#define C(n, k) {n, k, -1}
#define M(n, k, m) {n, k, m}
#define CWT NS_MODEL_CORE_WITH_TOPICS
#define EXP NS_MODEL_EXPANSION
#define EXPP NS_MODEL_EXPANSION_PLUS
#define GRP NS_MODEL_GROUP
#define MGRP NS_MODEL_MULTI_GROUP
#define TOP NS_MODEL_TOPIC
#define GAU NS_MODEL_GAUSSIAN
#define GCWT NS_MODEL_GAUSSIAN_CORE_WITH_TOPICS

/* The reference's 96 columns (constants.py noteModelOutputTSVColumns at
** 08c656b), then notescore's. */
static const out_col note_cols[] = {
    C("noteId", K_NOTE_ID), C("coreNoteIntercept", K_CORE_INT),
    C("coreNoteFactor1", K_CORE_FAC), C("finalRatingStatus", K_FINAL), C("firstTag", K_TAG1),
    C("secondTag", K_TAG2), C("coreActiveRules", K_CORE_RULES),
    C("activeFilterTags", K_FILTER_TAGS), C("classification", K_CLASS),
    C("createdAtMillis", K_CREATED), C("coreRatingStatus", K_CORE_STATUS),
    C("metaScorerActiveRules", K_META_RULES), C("decidedBy", K_DECIDED),
    M("expansionNoteIntercept", K_M_INT, EXP), M("expansionNoteFactor1", K_M_FAC, EXP),
    M("expansionRatingStatus", K_M_STATUS, EXP), C("coverageNoteIntercept", K_NAN),
    C("coverageNoteFactor1", K_NAN), C("coverageRatingStatus", K_NAN),
    C("coreNoteInterceptMin", K_CORE_MIN), C("coreNoteInterceptMax", K_CORE_MAX),
    C("expansionNoteInterceptMin", K_NAN), C("expansionNoteInterceptMax", K_NAN),
    C("coverageNoteInterceptMin", K_NAN), C("coverageNoteInterceptMax", K_NAN),
    M("groupNoteIntercept", K_M_INT, GRP), M("groupNoteFactor1", K_M_FAC, GRP),
    M("groupRatingStatus", K_M_STATUS, GRP), C("groupNoteInterceptMax", K_NAN),
    C("groupNoteInterceptMin", K_NAN), C("modelingGroup", K_MGROUP),
    C("numRatings", K_NUM_RATINGS), C("timestampMillisOfCurrentStatus", K_TS_CURRENT),
    M("expansionPlusNoteIntercept", K_M_INT, EXPP), M("expansionPlusNoteFactor1", K_M_FAC, EXPP),
    M("expansionPlusRatingStatus", K_M_STATUS, EXPP), M("topicNoteIntercept", K_M_INT, TOP),
    M("topicNoteFactor1", K_M_FAC, TOP), M("topicRatingStatus", K_M_STATUS, TOP),
    C("noteTopic", K_TOPIC), C("topicNoteConfident", K_TOPIC_CONF),
    M("expansionActiveRules", K_M_RULES, EXP), M("expansionPlusActiveRules", K_M_RULES, EXPP),
    M("groupActiveRules", K_M_RULES, GRP), M("topicActiveRules", K_M_RULES, TOP),
    C("coreNumFinalRoundRatings", K_CORE_NFR), M("expansionNumFinalRoundRatings", K_M_NFR, EXP),
    M("expansionPlusNumFinalRoundRatings", K_M_NFR, EXPP),
    M("groupNumFinalRoundRatings", K_M_NFR, GRP), M("topicNumFinalRoundRatings", K_M_NFR, TOP),
    C("rescoringActiveRules", K_NAN), M("multiGroupNoteIntercept", K_M_INT, MGRP),
    M("multiGroupNoteFactor1", K_M_FAC, MGRP), M("multiGroupRatingStatus", K_M_STATUS, MGRP),
    C("modelingMultiGroup", K_MMGROUP), M("multiGroupActiveRules", K_M_RULES, MGRP),
    M("multiGroupNumFinalRoundRatings", K_M_NFR, MGRP),
    M("coreWithTopicsNoteFactor1", K_M_FAC, CWT), M("coreWithTopicsNoteIntercept", K_M_INT, CWT),
    M("coreWithTopicsRatingStatus", K_M_STATUS, CWT),
    M("coreWithTopicsActiveRules", K_M_RULES, CWT),
    M("coreWithTopicsNumFinalRoundRatings", K_M_NFR, CWT),
    C("coreWithTopicsNoteInterceptMin", K_CWT_MIN), C("coreWithTopicsNoteInterceptMax", K_CWT_MAX),
    C("timestampMillisOfNmrDueToMinStableCrhTime", K_TS_STABLE),
    C("coreNoteInterceptNoHighVol", K_CORE_NHV),
    M("coreWithTopicsNoteInterceptNoHighVol", K_M_NHV, CWT),
    M("expansionNoteInterceptNoHighVol", K_M_NHV, EXP),
    M("expansionPlusNoteInterceptNoHighVol", K_M_NHV, EXPP),
    M("groupNoteInterceptNoHighVol", K_M_NHV, GRP),
    M("multiGroupNoteInterceptNoHighVol", K_M_NHV, MGRP),
    M("topicNoteInterceptNoHighVol", K_M_NHV, TOP), C("coreNoteInterceptNoCorrelated", K_CORE_NC),
    C("coreNoteInterceptPopulationSampled", K_CORE_POP),
    M("coreWithTopicsNoteInterceptNoCorrelated", K_M_NC, CWT),
    M("expansionNoteInterceptNoCorrelated", K_M_NC, EXP),
    M("expansionPlusNoteInterceptNoCorrelated", K_M_NC, EXPP),
    M("groupNoteInterceptNoCorrelated", K_M_NC, GRP),
    M("multiGroupNoteInterceptNoCorrelated", K_M_NC, MGRP),
    M("topicNoteInterceptNoCorrelated", K_M_NC, TOP), M("gaussianNoteIntercept", K_M_INT, GAU),
    M("gaussianNoteFactor1", K_M_FAC, GAU), M("gaussianRatingStatus", K_M_STATUS, GAU),
    M("gaussianActiveRules", K_M_RULES, GAU), M("gaussianNoteInterceptNoCorrelated", K_M_NC, GAU),
    M("gaussianNoteInterceptNoHighVol", K_M_NHV, GAU),
    C("gaussianNoteInterceptPopulationSampled", K_NAN),
    M("gaussianNumFinalRoundRatings", K_M_NFR, GAU),
    M("gaussianCoreWithTopicsNoteIntercept", K_M_INT, GCWT),
    M("gaussianCoreWithTopicsNoteFactor1", K_M_FAC, GCWT),
    M("gaussianCoreWithTopicsRatingStatus", K_M_STATUS, GCWT),
    M("gaussianCoreWithTopicsActiveRules", K_M_RULES, GCWT),
    M("gaussianCoreWithTopicsNoteInterceptNoHighVol", K_M_NHV, GCWT),
    M("gaussianCoreWithTopicsNoteInterceptNoCorrelated", K_M_NC, GCWT),
    C("gaussianCoreWithTopicsNoteInterceptPopulationSampled", K_NAN),
    M("gaussianCoreWithTopicsNumFinalRoundRatings", K_M_NFR, GCWT),
    /* notescore */
    C("coreNoteInterceptRound1", K_R1_INT), C("coreNoteFactor1Round1", K_R1_FAC),
    C("coreProvisionalRatingStatus", K_PROV),
    /* also in aux_note_info.tsv (the reference's place); kept here for the
    ** readers of scored_notes.tsv from before aux_note_info.tsv existed */
    C("lowDiligenceIntercept", K_LOWDIL)};

#undef C
#undef M

static void put_note_col(FILE *f, int *first, const out_col *c, const ns_note_score *s,
                         const ns_scores *sc) {
  const ns_model_score *m = c->model >= 0 ? &s->model[c->model] : NULL;
  switch (c->kind) {
  case K_NOTE_ID: put_i64(f, first, s->note_id); break;
  case K_CORE_INT: put_dbl(f, first, s->intercept); break;
  case K_CORE_FAC: put_dbl(f, first, s->factor); break;
  case K_FINAL: put_status(f, first, s->final_status); break;
  case K_TAG1: put_tag(f, first, s->first_tag); break;
  case K_TAG2: put_tag(f, first, s->second_tag); break;
  case K_CORE_RULES: put_rules(f, first, s->core_rules); break;
  case K_FILTER_TAGS: put_tags(f, first, s->active_filter_tags); break;
  case K_CLASS: put_str(f, first, ns_fmt_class_name(s->classification)); break;
  case K_CREATED: put_ts(f, first, s->created_ms); break;
  case K_CORE_STATUS: put_status(f, first, s->core_status); break;
  case K_META_RULES: put_meta_rules(f, first, s->meta_rules); break;
  case K_DECIDED: put_str(f, first, meta_ref_name(s->decided_by)); break;
  case K_CORE_MIN: put_dbl(f, first, s->intercept_min); break;
  case K_CORE_MAX: put_dbl(f, first, s->intercept_max); break;
  case K_MGROUP:
    if (s->modeling_group >= 0) put_i64f(f, first, s->modeling_group);
    else put_nan(f, first);
    break;
  case K_NUM_RATINGS: put_i64(f, first, s->num_ratings); break;
  case K_TS_CURRENT: put_tsf(f, first, sc->now_ms); break;
  case K_TOPIC:
    put_str(f, first, s->topic > 0 && s->topic < NS_TOPIC_COUNT ? ns_topic_names[s->topic] : "");
    break;
  case K_TOPIC_CONF: put_bool(f, first, s->topic_confident); break;
  case K_CORE_NFR:
    if (s->core_status != NS_STATUS_UNSET) put_i64f(f, first, s->num_final_round_ratings);
    else put_nan(f, first);
    break;
  case K_MMGROUP:
    if (s->modeling_multi_group >= 0) put_i64f(f, first, s->modeling_multi_group);
    else put_nan(f, first);
    break;
  case K_CWT_MIN: put_dbl(f, first, s->cwt_intercept_min); break;
  case K_CWT_MAX: put_dbl(f, first, s->cwt_intercept_max); break;
  case K_TS_STABLE: {
    /* the value the history row carries after this run (pipeline_history.c) */
    const ns_nsh *h = find_history(sc->history, sc->n_history, s->note_id);
    put_tsf(f, first, h ? h->ts_nmr_due_to_stable_crh : NS_TS_NONE);
    break;
  }
  case K_CORE_NHV: put_dbl(f, first, s->intercept_no_high_vol); break;
  case K_CORE_NC: put_dbl(f, first, s->intercept_no_correlated); break;
  case K_CORE_POP: put_dbl(f, first, s->intercept_pop); break;
  case K_M_INT: put_dbl(f, first, m->intercept); break;
  case K_M_FAC: put_dbl(f, first, m->factor); break;
  case K_M_STATUS: put_status(f, first, m->status); break;
  case K_M_RULES: put_rules(f, first, m->status != NS_STATUS_UNSET ? m->rules : 0); break;
  case K_M_NFR:
    if (m->status != NS_STATUS_UNSET) put_i64f(f, first, m->n_final_round);
    else put_nan(f, first);
    break;
  case K_M_NHV: put_dbl(f, first, m->intercept_no_high_vol); break;
  case K_M_NC: put_dbl(f, first, m->intercept_no_correlated); break;
  case K_R1_INT: put_dbl(f, first, s->intercept_r1); break;
  case K_R1_FAC: put_dbl(f, first, s->factor_r1); break;
  case K_PROV: put_status(f, first, s->provisional_status); break;
  case K_LOWDIL: put_dbl(f, first, s->low_diligence_intercept); break;
  default: put_nan(f, first); break;
  }
}

static void write_notes(FILE *f, const ns_scores *sc, const ns_dataset *ds) {
  (void)ds;
  put_header(f, note_cols, NS_ARRAY_LEN(note_cols));
  for (size_t i = 0; i < sc->n_notes; i++) {
    int first = 1;
    for (size_t c = 0; c < NS_ARRAY_LEN(note_cols); c++)
      put_note_col(f, &first, &note_cols[c], &sc->notes[i], sc);
    fputc('\n', f);
  }
}

/* ---- helpfulness_scores.tsv -------------------------------------------- */

enum {
  R_NAN, R_ID, R_INT, R_FAC, R_RATIO_DIFF, R_MEAN_SCORE, R_AGREE, R_S_H, R_S_NH, R_S_TOT,
  R_U_H, R_U_NH, R_U_TOT, R_AWAITING, R_AFTER, R_CRH, R_CRNH, R_NMR, R_E_STATE, R_E_NEEDED,
  R_E_TS_CHANGE, R_ABOVE, R_E_TS_EARN_OUT, R_E_GROUP, R_E_EARNED_OUT, R_INT_R1, R_FAC_R1,
  R_MULTI_GROUP,
  /* another scorer's rater intercept / factor: R_M_INT + m, R_M_FAC + m (m an ns_model) */
  R_M_INT, R_M_FAC = R_M_INT + NS_MODEL_COUNT, R_M_END = R_M_FAC + NS_MODEL_COUNT,
  /* notescore */
  R_AGREE_HARASS, R_NUM_RATINGS, R_TRUST, R_GROUP_ID, R_QCLIQUE
};

#define C(n, k) {n, k, -1}
/* The reference's 47 columns (helpfulnessScoresTSVColumns), then
** notescore's.  The enrollment columns are the run's userEnrollment input,
** as in the reference (which writes the state before this run's update). */
static const out_col rater_cols[] = {
    C("raterParticipantId", R_ID), C("coreRaterIntercept", R_INT),
    C("coreRaterFactor1", R_FAC), C("crhCrnhRatioDifference", R_RATIO_DIFF),
    C("meanNoteScore", R_MEAN_SCORE), C("raterAgreeRatio", R_AGREE),
    C("successfulRatingHelpfulCount", R_S_H), C("successfulRatingNotHelpfulCount", R_S_NH),
    C("successfulRatingTotal", R_S_TOT), C("unsuccessfulRatingHelpfulCount", R_U_H),
    C("unsuccessfulRatingNotHelpfulCount", R_U_NH), C("unsuccessfulRatingTotal", R_U_TOT),
    C("ratingsAwaitingMoreRatings", R_AWAITING), C("ratedAfterDecision", R_AFTER),
    C("notesCurrentlyRatedHelpful", R_CRH), C("notesCurrentlyRatedNotHelpful", R_CRNH),
    C("notesAwaitingMoreRatings", R_NMR), C("enrollmentState", R_E_STATE),
    C("successfulRatingNeededToEarnIn", R_E_NEEDED), C("authorTopNotHelpfulTagValues", R_NAN),
    C("timestampOfLastStateChange", R_E_TS_CHANGE), C("aboveHelpfulnessThreshold", R_ABOVE),
    C("isEmergingWriter", R_NAN), C("aggregateRatingReceivedTotal", R_NAN),
    C("timestampOfLastEarnOut", R_E_TS_EARN_OUT), C("groupRaterIntercept", R_M_INT + NS_MODEL_GROUP),
    C("groupRaterFactor1", R_M_FAC + NS_MODEL_GROUP), C("modelingGroup", R_E_GROUP),
    C("raterHelpfulnessReputation", R_NAN), C("numberOfTimesEarnedOut", R_E_EARNED_OUT),
    C("expansionRaterIntercept", R_M_INT + NS_MODEL_EXPANSION), C("expansionRaterFactor1", R_M_FAC + NS_MODEL_EXPANSION),
    C("expansionPlusRaterIntercept", R_M_INT + NS_MODEL_EXPANSION_PLUS), C("expansionPlusRaterFactor1", R_M_FAC + NS_MODEL_EXPANSION_PLUS),
    C("multiGroupRaterIntercept", R_M_INT + NS_MODEL_MULTI_GROUP), C("multiGroupRaterFactor1", R_M_FAC + NS_MODEL_MULTI_GROUP),
    C("modelingMultiGroup", R_MULTI_GROUP), C("coreWithTopicsRaterIntercept", R_M_INT + NS_MODEL_CORE_WITH_TOPICS),
    C("coreWithTopicsRaterFactor1", R_M_FAC + NS_MODEL_CORE_WITH_TOPICS), C("coreFirstRoundRaterIntercept", R_INT_R1),
    C("coreFirstRoundRaterFactor1", R_FAC_R1), C("crhTotal14d", R_NAN),
    C("crnhTotal14d", R_NAN), C("nmrTotal14d", R_NAN), C("crhTotal90d", R_NAN),
    C("crnhTotal90d", R_NAN), C("nmrTotal90d", R_NAN),
    /* notescore */
    C("raterAgreeRatioWithHarassmentAbusePenalty", R_AGREE_HARASS), C("numRatings", R_NUM_RATINGS),
    C("raterTrust", R_TRUST), C("coordinatedGroupId", R_GROUP_ID), C("quasiCliqueId", R_QCLIQUE)};
#undef C

static void put_rater_col(FILE *f, int *first, int kind, const ns_rater_score *r,
                          const ns_enrollment *e, const ns_dataset *ds) {
  if (kind >= R_M_INT && kind < R_M_END) {
    int fac = kind >= R_M_FAC, m = kind - (fac ? R_M_FAC : R_M_INT);
    put_dbl(f, first, fac ? r->model_factor[m] : r->model_intercept[m]);
    return;
  }
  switch (kind) {
  case R_ID: put_str(f, first, ns_strtab_str(ds->participants, r->participant)); break;
  case R_MULTI_GROUP:
    if (r->modeling_multi_group >= 0) put_i64f(f, first, r->modeling_multi_group);
    else put_nan(f, first);
    break;
  case R_INT: put_dbl(f, first, r->intercept); break;
  case R_FAC: put_dbl(f, first, r->factor); break;
  case R_RATIO_DIFF: put_dbl(f, first, r->crh_crnh_ratio_diff); break;
  case R_MEAN_SCORE: put_dbl(f, first, r->mean_note_score); break;
  case R_AGREE: put_dbl(f, first, r->agree_ratio); break;
  case R_S_H: put_i64(f, first, r->successful_helpful); break;
  case R_S_NH: put_i64(f, first, r->successful_not_helpful); break;
  case R_S_TOT: put_i64(f, first, (int64_t)r->successful_helpful + r->successful_not_helpful); break;
  case R_U_H: put_i64(f, first, r->unsuccessful_helpful); break;
  case R_U_NH: put_i64(f, first, r->unsuccessful_not_helpful); break;
  case R_U_TOT:
    put_i64(f, first, (int64_t)r->unsuccessful_helpful + r->unsuccessful_not_helpful);
    break;
  case R_AWAITING: put_i64(f, first, r->ratings_awaiting); break;
  case R_AFTER: put_i64(f, first, r->rated_after_decision); break;
  /* the author counts: NaN for a rater who authored no scored note, as the
  ** reference (its author table is merged in, NaN where absent) */
  case R_CRH:
  case R_CRNH:
  case R_NMR:
    if (r->notes_crh + r->notes_crnh + r->notes_nmr == 0) put_nan(f, first);
    else put_i64(f, first, kind == R_CRH ? r->notes_crh : kind == R_CRNH ? r->notes_crnh : r->notes_nmr);
    break;
  /* the reference writes the state's thrift code, not its name
  ** (constants.py enrollmentStateToThrift) */
  case R_E_STATE:
    if (e && e->state >= 0) put_i64(f, first, e->state); /* enum ns_enroll = thrift code */
    else
      put_nan(f, first);
    break;
  case R_E_NEEDED: put_ts(f, first, e ? e->successful_needed : NS_TS_NONE); break;
  case R_E_TS_CHANGE: put_ts(f, first, e ? e->ts_last_state_change : NS_TS_NONE); break;
  case R_ABOVE: put_bool(f, first, r->above_threshold); break;
  case R_E_TS_EARN_OUT: put_tsf(f, first, e ? e->ts_last_earn_out : NS_TS_NONE); break;
  case R_E_GROUP:
    if (e && e->modeling_group >= 0) put_i64f(f, first, e->modeling_group);
    else put_nan(f, first);
    break;
  case R_E_EARNED_OUT: put_ts(f, first, e ? e->times_earned_out : NS_TS_NONE); break;
  case R_INT_R1: put_dbl(f, first, r->intercept_r1); break;
  case R_FAC_R1: put_dbl(f, first, r->factor_r1); break;
  case R_AGREE_HARASS: put_dbl(f, first, r->agree_ratio_harassment); break;
  case R_NUM_RATINGS: put_i64(f, first, r->num_ratings); break;
  case R_TRUST: put_dbl(f, first, r->trust); break;
  case R_GROUP_ID:
    if (r->group_id > 0) put_i64(f, first, r->group_id);
    else put_nan(f, first);
    break;
  case R_QCLIQUE: put_i64(f, first, r->qclique_id); break;
  default: put_nan(f, first); break;
  }
}

static int write_raters(FILE *f, const ns_scores *sc, const ns_dataset *ds) {
  size_t np = ns_strtab_count(ds->participants);
  int32_t *enr = ns_mallocn(np, sizeof *enr); /* participant -> enrollment row */
  if (!enr) return NS_ENOMEM;
  for (size_t p = 0; p < np; p++) enr[p] = -1;
  for (size_t i = 0; i < ds->n_enrollment; i++) {
    int32_t p = ds->enrollment[i].participant;
    if (p >= 0 && (size_t)p < np) enr[p] = (int32_t)i;
  }
  put_header(f, rater_cols, NS_ARRAY_LEN(rater_cols));
  for (size_t i = 0; i < sc->n_raters; i++) {
    const ns_rater_score *r = &sc->raters[i];
    const ns_enrollment *e = NULL;
    int first = 1;
    if (r->participant >= 0 && (size_t)r->participant < np && enr[r->participant] >= 0)
      e = &ds->enrollment[enr[r->participant]];
    for (size_t c = 0; c < NS_ARRAY_LEN(rater_cols); c++)
      put_rater_col(f, &first, rater_cols[c].kind, r, e, ds);
    fputc('\n', f);
  }
  free(enr);
  return 0;
}

/* ---- note_status_history.tsv ------------------------------------------- */

/* The public noteStatusHistory layout: its column table (store/format.c)
** gives the names, the order and where each value is in ns_nsh; its first
** 23 columns are the reference's output columns, abovePcrhThresholdTime
** (an input column the reference does not write back) comes last.  Like
** the reference, the nullable timestamps and the modeling groups are
** written as floats ("1767225600000.0"); noteId and createdAtMillis as
** integers. */
static int write_history(FILE *f, const ns_scores *sc, const ns_dataset *ds) {
  const ns_fmt_kind *k = ns_fmt_kind_get(NS_FILE_HISTORY);
  for (int c = 0; c < k->ncols; c++) {
    if (c) fputc('\t', f);
    fputs(k->cols[c].name, f);
  }
  fputc('\n', f);
  for (size_t i = 0; i < sc->n_history; i++) {
    const ns_nsh *h = &sc->history[i];
    int first = 1;
    for (int c = 0; c < k->ncols; c++) {
      const ns_fmt_col *col = &k->cols[c];
      const void *v = (const char *)h + col->off;
      switch (col->type) {
      case NS_FT_PARTICIPANT:
        put_str(f, &first, h->author >= 0 ? ns_strtab_str(ds->participants, h->author) : "");
        break;
      case NS_FT_NOTE_ID: put_i64(f, &first, *(const int64_t *)v); break;
      case NS_FT_OPT_INT:
        if (col->off == offsetof(ns_nsh, created_ms)) put_ts(f, &first, *(const int64_t *)v);
        else put_tsf(f, &first, *(const int64_t *)v);
        break;
      case NS_FT_STATUS: put_status(f, &first, *(const int8_t *)v); break;
      case NS_FT_TEXT: put_str(f, &first, (const char *)v); break;
      case NS_FT_REAL: put_real(f, &first, *(const double *)v); break;
      default: put_nan(f, &first); break;
      }
    }
    fputc('\n', f);
  }
  return 0;
}

/* ---- aux_note_info.tsv ------------------------------------------------- */

/* The reference's emergingWriterDays: numRatingsLast28 counts the ratings
** made after now - 28 days (note_ratings.py compute_note_stats). */
#define LAST28_MS (28LL * 24 * 3600 * 1000)

static int write_aux(FILE *f, const ns_scores *sc, const ns_dataset *ds) {
  static const char *const head[] = {
      "noteId", "ratingWeight", "createdAtMillis", "noteAuthorParticipantId", "awaitingBool",
      "numRatingsLast28", "numPopulationSampledRatings", "currentStatus", "crhBool",
      "crnhBool", "unlockedRatingStatus", "preStabilizationRatingStatus"};
  static const char *const tail[] = {
      "notHelpfulIncorrect_interval", "p_incorrect_user_interval", "num_voters_interval",
      "tf_idf_incorrect_interval", "lowDiligenceIntercept",
      "coreNegFactor_populationSampledRatingCount", "corePosFactor_populationSampledRatingCount"};
  size_t r = 0;  /* cursor: a rating, or a noteId run when packed */
  /* header: 12 + 22 tag counts + 13 Adjusted + 13 AdjustedRatio + 7 */
  for (size_t i = 0; i < NS_ARRAY_LEN(head); i++) fprintf(f, "%s%s", i ? "\t" : "", head[i]);
  for (int t = 0; t < NS_N_TAGS; t++) fprintf(f, "\t%s", ns_tag_names[t]);
  for (int t = NS_N_HELPFUL_TAGS; t < NS_N_TAGS; t++) fprintf(f, "\t%sAdjusted", ns_tag_names[t]);
  for (int t = NS_N_HELPFUL_TAGS; t < NS_N_TAGS; t++)
    fprintf(f, "\t%sAdjustedRatio", ns_tag_names[t]);
  for (size_t i = 0; i < NS_ARRAY_LEN(tail); i++) fprintf(f, "\t%s", tail[i]);
  fputc('\n', f);

  for (size_t i = 0; i < sc->n_notes; i++) {
    const ns_note_score *s = &sc->notes[i];
    const ns_nsh *prev = find_history(ds->history, ds->n_history, s->note_id);
    const ns_nsh *now = find_history(sc->history, sc->n_history, s->note_id);
    int64_t tags[NS_N_TAGS] = {0}, last28 = 0, pop = 0;
    int32_t author = s->note_index >= 0 ? ds->note_author[s->note_index]
                                        : now ? now->author : -1;
    int first = 1;
    size_t r0, r1;
    /* the note's ratings [r0, r1): ds ratings are sorted by noteId, notes
    ** too; the noteId column, or its runs when the caller packed it
    ** (ns_dataset_pack_note_ids) */
    if (ds->r_note_id) {
      while (r < ds->n_ratings && ds->r_note_id[r] < s->note_id) r++;
      for (r0 = r; r < ds->n_ratings && ds->r_note_id[r] == s->note_id; r++) {}
      r1 = r;
    } else {
      while (r < ds->n_note_runs && ds->r_note_run_id[r] < s->note_id) r++;
      r0 = r1 = 0;
      if (r < ds->n_note_runs && ds->r_note_run_id[r] == s->note_id)
        r0 = ds->r_note_run_off[r], r1 = ds->r_note_run_off[r + 1];
    }
    for (size_t q = r0; q < r1; q++) {
      for (int t = 0; t < NS_N_TAGS; t++) tags[t] += (ns_r_tags(ds, q) >> t) & 1;
      last28 += ns_r_created(ds, q) > sc->now_ms - LAST28_MS;
      pop += ns_r_source(ds, q) == NS_SOURCE_POPULATION_SAMPLED;
    }
    put_i64(f, &first, s->note_id);
    put_nan(f, &first); /* ratingWeight */
    put_ts(f, &first, s->created_ms);
    put_str(f, &first, author >= 0 ? ns_strtab_str(ds->participants, author) : "");
    put_bool(f, &first, s->final_status == NS_STATUS_NMR);
    put_i64(f, &first, last28);
    put_i64(f, &first, pop);
    /* currentStatus: the status before this run (the input history) */
    put_status(f, &first, prev ? prev->current_status : NS_STATUS_UNSET);
    put_bool(f, &first, s->final_status == NS_STATUS_CRH);
    put_bool(f, &first, s->final_status == NS_STATUS_CRNH);
    put_nan(f, &first); /* unlockedRatingStatus */
    put_nan(f, &first); /* preStabilizationRatingStatus */
    for (int t = 0; t < NS_N_TAGS; t++) put_i64(f, &first, tags[t]);
    for (int t = 0; t < 2 * NS_N_NOT_HELPFUL_TAGS + 4; t++) put_nan(f, &first);
    put_dbl(f, &first, s->low_diligence_intercept);
    put_nan(f, &first);
    put_nan(f, &first);
    fputc('\n', f);
  }
  return 0;
}

typedef int (*writer_fn)(FILE *f, const ns_scores *sc, const ns_dataset *ds);

static int wr_notes(FILE *f, const ns_scores *sc, const ns_dataset *ds) {
  write_notes(f, sc, ds);
  return 0;
}

/* Writes one file to DIR/NAME.tmp.  Returns 0 or -errno / NS_EIO /
** NS_ENOMEM (the .tmp file is removed on failure). */
static int write_tmp(const char *dir, const char *name, writer_fn fn, const ns_scores *sc,
                     const ns_dataset *ds) {
  char tmp[4200];
  FILE *f;
  int rc = 0;

  if (snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name) >= (int)sizeof tmp) return NS_EINVAL;
  if (!(f = fopen(tmp, "w"))) return -errno;
  setvbuf(f, NULL, _IOFBF, 1 << 20);
  rc = fn(f, sc, ds);
  if (ferror(f) && !rc) rc = NS_EIO;
  if (fclose(f) != 0 && !rc) rc = -errno;
  if (rc) remove(tmp);
  return rc;
}

/* DIR/NAME.tmp -> DIR/NAME, or (undo) just remove DIR/NAME.tmp. */
static int finish_tmp(const char *dir, const char *name, int undo) {
  char path[4096], tmp[4200];
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return NS_EINVAL;
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (undo) {
    remove(tmp);
    return 0;
  }
  if (rename(tmp, path) != 0) {
    int rc = -errno;
    remove(tmp);
    return rc;
  }
  return 0;
}

int ns_scores_write_tsv(const ns_scores *sc, const ns_dataset *ds, const char *outdir) {
  static const char *const names[4] = {"scored_notes.tsv", "helpfulness_scores.tsv",
                                       "note_status_history.tsv", "aux_note_info.tsv"};
  const writer_fn fns[4] = {wr_notes, write_raters, write_history, write_aux};
  int rc = 0, i, done = 0;
  if (!sc || !ds || !outdir) return NS_EINVAL;
  if ((rc = ns_mkdir_p(outdir)) != 0) return rc;
  /* All four are written as .tmp first and renamed only when every one
  ** was written: a failure (disk full, ...) leaves the previous files, not
  ** a mix of old and new. */
  for (i = 0; i < 4 && !rc; i++)
    if ((rc = write_tmp(outdir, names[i], fns[i], sc, ds)) == 0) done = i + 1;
  for (i = 0; i < done; i++) {
    int r2 = finish_tmp(outdir, names[i], rc != 0);
    if (r2 && !rc) rc = r2;
  }
  return rc;
}
