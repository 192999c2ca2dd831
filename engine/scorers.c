/*
** engine/scorers.c -- the scorer table: every matrix-factorization (and
** Gaussian) scorer of the reference's final scoring run, with its rater
** populations, note scope, capture rule and constants (reference
** run_scoring.py:64-263 at 08c656b, mf_*_scorer.py, constants.py:82-85;
** digest §1.5, §4.9, §4.10).  engine/pipeline.c runs each entry on an index
** view (scope mask) of the run's one rating array.
**
** Who reads it: engine/pipeline.c (per scorer), tests/test_scorers.c.
** Constant data; any thread.
*/
#include <math.h>
#include <string.h>

#include "pipeline_int.h"

/* Each entry starts from the MFBaseScorer defaults (BASE) and names only
** what its class overrides, as the reference's constructors do: a later
** designated initializer replacing an earlier one is the intent here. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Winitializer-overrides"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Woverride-init"
#endif

#define G(x) (1ull << (x))
/* constants.py:82-85 */
#define CORE_GROUPS                                                                          \
  (G(1) | G(2) | G(3) | G(6) | G(8) | G(9) | G(10) | G(11) | G(13) | G(14) | G(19) | G(21) | \
   G(25))
#define COVERAGE_GROUPS (CORE_GROUPS & ~G(21))
#define EXPANSION_GROUPS                                                                    \
  (G(0) | G(4) | G(5) | G(7) | G(12) | G(15) | G(16) | G(20) | G(22) | G(23) | G(24) | G(26) | \
   G(27) | G(28) | G(29) | G(33))
#define EXPANSION_PLUS_GROUPS (G(17) | G(18) | G(30) | G(31) | G(32))

/* MFBaseScorer defaults (mf_base_scorer.py:151-200) with the net-helpful
** minima every MF scorer class but the topic scorer sets (4 / 0.05). */
#define BASE                                                                           \
  .crh = 0.40, .crnh = -0.05, .crnh_mult = -0.8, .nm_crnh = -0.15, .factor_thr = 0.5, \
  .firm_reject = NAN, .min_minority = 4, .min_minority_ratio = 0.05,                  \
  .min_mean_note_score = 0.05, .thr_no_high_vol = 0.37, .thr_no_correlated = 0.37,     \
  .thr_low_diligence = 0.263, .tag_pct = 95, .incorrect_thr = 2.5, .net_rules = 1,     \
  .group_id = -1, .crh_super = 0.5, .stable_init = 0

/* MFGroupScorer (mf_group_scorer.py:70-140): the group's raters only,
** capture 0.8, no pseudo-raters, no firm reject. */
#define GROUP(g)                                                                   \
  {"MFGroupScorer_" #g, NS__KIND_MF, NS_MODEL_GROUP, G(g), 0, 0.8, 0,               \
   NS__TOPICS_INCLUDE, 0, BASE, .group_id = g}

/* MFTopicScorer (mf_topic_scorer.py:39-120): every rater, the topic's notes
** only, no capture rule, useReputation=False (round 1 only), no net-helpful
** minima (MFBaseScorer's None), confident with > 4 raters on each side. */
#define TOPIC(t, name)                                                                \
  {"MFTopicScorer_" name, NS__KIND_MF, NS_MODEL_TOPIC, 0, 1, NAN, 0, NS__TOPICS_ONLY, \
   t, BASE, .min_minority = 0, .round1_only = 1, .n_confidence = 4}

const ns__scorer_spec ns__scorers[] = {
    /* MFCoreScorer (mf_core_scorer.py): first, the others read its run */
    {"MFCoreScorer", NS__KIND_MF, NS__SLOT_CORE, CORE_GROUPS, 1, 0.5, 0, NS__TOPICS_EXCLUDE, 0, BASE,
     .firm_reject = 0.3, .pseudoraters = 1, .stable_init = 1},
    {"MFCoreWithTopicsScorer", NS__KIND_MF, NS_MODEL_CORE_WITH_TOPICS, CORE_GROUPS, 1, 0.5, 0,
     NS__TOPICS_INCLUDE, 0, BASE, .pseudoraters = 1, .stable_init = 1},
    {"MFExpansionScorer", NS__KIND_MF, NS_MODEL_EXPANSION, CORE_GROUPS | EXPANSION_GROUPS, 1, 0.5, 0,
     NS__TOPICS_INCLUDE, 0, BASE, .firm_reject = 0.3, .stable_init = 1},
    /* run_scoring.py:98-100 passes crhSuperThreshold=0.6 */
    {"MFExpansionPlusScorer", NS__KIND_MF, NS_MODEL_EXPANSION_PLUS,
     CORE_GROUPS | EXPANSION_GROUPS | EXPANSION_PLUS_GROUPS, 1, NAN, 0, NS__TOPICS_INCLUDE, 0, BASE,
     .stable_init = 1, .crh_super = 0.6},
    GROUP(1), GROUP(2), GROUP(3), GROUP(4), GROUP(5), GROUP(6), GROUP(7), GROUP(8), GROUP(9),
    GROUP(10), GROUP(11), GROUP(12), GROUP(13),
    /* the "expanded consensus" trial, run_scoring.py:116-146 (its weighted
    ** loss refit and diamond lambda are not run: docs/algorithm.md §9) */
    {"MFGroupScorer_14", NS__KIND_MF, NS_MODEL_GROUP, G(14), 0, 0.51, 0, NS__TOPICS_INCLUDE, 0, BASE,
     .group_id = 14, .l_in = 0.9, .l_iu = 0.15, .l_mu = 0.15, .l_fn = 0.01, .l_fu = 0.0075,
     .min_mean_note_score = -0.01, .crh = 0.15, .crnh = -0.01, .crnh_mult = 0, .nm_crnh = -0.02,
     .thr_no_high_vol = 0.12, .thr_no_correlated = 0.12, .thr_low_diligence = 1000,
     .factor_thr = 0.4, .tag_pct = 90, .incorrect_thr = 1.5, .crh_super = -1 /* None */},
    /* NMR group, run_scoring.py:147-156 */
    {"MFGroupScorer_33", NS__KIND_MF, NS_MODEL_GROUP, G(33), 0, 0.8, 1, NS__TOPICS_INCLUDE, 0, BASE,
     .group_id = 33},
    /* NMR trial group, run_scoring.py:157-173 */
    {"MFGroupScorer_18", NS__KIND_MF, NS_MODEL_GROUP, G(18), 0, 0.51, 0, NS__TOPICS_INCLUDE, 0, BASE,
     .group_id = 18, .l_in = 0.15, .l_iu = 0.03, .l_mu = -1 /* 0 */, .l_fn = 0.03, .l_fu = 0.03,
     .crh = 0.2, .thr_no_high_vol = 0.18, .thr_no_correlated = 0.18},
    /* run_scoring.py:260-262 */
    {"MFMultiGroupScorer_1", NS__KIND_MF, NS_MODEL_MULTI_GROUP, G(4) | G(5) | G(7) | G(12) | G(26),
     0, 0.8, 0, NS__TOPICS_INCLUDE, 0, BASE, .group_id = 1},
    TOPIC(NS_TOPIC_UKRAINE_CONFLICT, "UkraineConflict"),
    TOPIC(NS_TOPIC_GAZA_CONFLICT, "GazaConflict"),
    TOPIC(NS_TOPIC_MESSI_RONALDO, "MessiRonaldo"),
    TOPIC(NS_TOPIC_SCAMS, "Scams"),
    /* InDimensionTwo: the final run scores it with a GaussianTopicScorer
    ** (run_scoring.py:175-186, gaussian_topic_scorer.py) on the rater
    ** factors of its prescoring, the MFTopicScorer with
    ** useGlobalIntercept=False, userInterceptLambda=5 (round 1 only, no
    ** helpfulness filter).  CRH bandwidth 0.05; confident with > 0 raters on
    ** each side.  Its thresholds are GaussianTopicScorer's defaults, which
    ** are BASE's; GaussianScorer leaves firm reject and the net-helpful
    ** minima at None. */
    {"GaussianTopicScorer_InDimensionTwo", NS__KIND_GAUSSIAN, NS_MODEL_TOPIC, 0, 1, NAN, 0,
     NS__TOPICS_ONLY, NS_TOPIC_IN_DIMENSION_TWO, BASE, .min_minority = 0, .net_rules = 0,
     .round1_only = 1, .n_confidence = 0, .no_mu = 1, .l_iu = 5, .crh_bandwidth = 0.05},
    /* gaussian_scorer.py:146-189: coverage groups, capture 0.5 */
    {"GaussianScorer", NS__KIND_GAUSSIAN, NS_MODEL_GAUSSIAN, COVERAGE_GROUPS, 1, 0.5, 0,
     NS__TOPICS_EXCLUDE, 0, BASE, .crh = 0.51, .crnh = -0.5, .crnh_mult = 0, .nm_crnh = -0.6,
     .thr_no_high_vol = 0.45, .thr_no_correlated = 0.45, .factor_thr = 1.0, .min_minority = 0,
     .net_rules = 0, .crh_super = 0.65},
    {"GaussianCoreWithTopicsScorer", NS__KIND_GAUSSIAN, NS_MODEL_GAUSSIAN_CORE_WITH_TOPICS,
     COVERAGE_GROUPS, 1, 0.5, 0, NS__TOPICS_INCLUDE, 0, BASE, .crh = 0.51, .crnh = -0.5,
     .crnh_mult = 0, .nm_crnh = -0.6, .thr_no_high_vol = 0.45, .thr_no_correlated = 0.45,
     .factor_thr = 1.0, .min_minority = 0, .net_rules = 0, .crh_super = 0.65},
};
const int ns__n_scorers = (int)NS_ARRAY_LEN(ns__scorers);
_Static_assert(NS_ARRAY_LEN(ns__scorers) <= NS_SCORER_MAX, "ns_run_stats.scorer_seconds");

const char *ns_scorer_name(int i) {
  return i >= 0 && i < ns__n_scorers ? ns__scorers[i].name : "";
}
int ns_scorer_count(void) { return ns__n_scorers; }

int ns__scorer_rater_in(const ns__scorer_spec *sp, int32_t g) {
  if (sp->groups == 0) return 1;  /* no group filter (topic scorers) */
  if (g == NS__GROUP_ABSENT) return sp->include_unassigned;
  return g >= 0 && g < 64 && (sp->groups & G(g)) != 0;
}

void ns__scorer_params(const ns__scorer_spec *sp, const ns_params *base, ns_params *out) {
  *out = *base;
  out->crh_threshold = sp->crh;
  out->crnh_threshold = sp->crnh;
  out->crnh_factor_mult = sp->crnh_mult;
  out->nm_crnh_threshold = sp->nm_crnh;
  out->factor_threshold = sp->factor_thr;
  out->firm_reject_threshold = sp->firm_reject;
  out->min_minority_net_helpful = sp->net_rules ? sp->min_minority : 0;
  out->min_minority_net_ratio = sp->min_minority_ratio;
  out->min_mean_note_score = sp->min_mean_note_score;
  /* pseudo-raters: the scorer's setting, and only if the run allows them */
  out->pseudoraters = base->pseudoraters && sp->pseudoraters;
}
