/*
** tests/test_scorers.c -- the scorer table (engine/scorers.c) and the
** scorers' views of a run: rater populations, unassigned raters, capture
** thresholds, strictInclusion, topic scopes, each scorer's constants, and
** a whole run with enrollment (Core vs Expansion vs group rows; 1 vs 2
** threads identical).
*/
#include "harness.h"

#include "../base/dataset.h"
#include "../engine/pipeline.h"
#include "../engine/pipeline_int.h"
#include "../graph/graph.h"

static const ns__scorer_spec *spec(const char *name) {
  for (int i = 0; i < ns__n_scorers; i++)
    if (strcmp(ns__scorers[i].name, name) == 0) return &ns__scorers[i];
  NS__FAIL("no scorer %s", name);
  return NULL;
}

/* ---- populations ------------------------------------------------------- */

TEST(scorers_rater_populations) {
  const ns__scorer_spec *core = spec("MFCoreScorer"), *exp = spec("MFExpansionScorer");
  const ns__scorer_spec *plus = spec("MFExpansionPlusScorer"), *g3 = spec("MFGroupScorer_3");
  const ns__scorer_spec *gauss = spec("GaussianScorer"), *multi = spec("MFMultiGroupScorer_1");
  const ns__scorer_spec *topic = spec("MFTopicScorer_Scams");

  /* Core is run first: the other scorers read its run */
  ASSERT(strcmp(ns__scorers[0].name, "MFCoreScorer") == 0);
  ASSERT_EQ(ns__scorers[0].slot, NS__SLOT_CORE);
  /* core groups; 0 ("unassigned" as a group) is expansion */
  ASSERT(ns__scorer_rater_in(core, 13));
  ASSERT(ns__scorer_rater_in(core, 21));
  ASSERT(!ns__scorer_rater_in(core, 4));
  ASSERT(!ns__scorer_rater_in(core, 0));
  ASSERT(!ns__scorer_rater_in(core, 17));
  /* absent from userEnrollment: includeUnassigned (Core yes, groups no) */
  ASSERT(ns__scorer_rater_in(core, NS__GROUP_ABSENT));
  ASSERT(ns__scorer_rater_in(exp, NS__GROUP_ABSENT));
  ASSERT(!ns__scorer_rater_in(g3, NS__GROUP_ABSENT));
  /* an enrollment row without modelingGroup is in no set */
  ASSERT(!ns__scorer_rater_in(core, NS__GROUP_NONE));
  ASSERT(!ns__scorer_rater_in(plus, NS__GROUP_NONE));
  /* expansion = core + expansion groups; expansionPlus adds 17,18,30-32 */
  ASSERT(ns__scorer_rater_in(exp, 13) && ns__scorer_rater_in(exp, 0) && ns__scorer_rater_in(exp, 33));
  ASSERT(!ns__scorer_rater_in(exp, 17));
  ASSERT(ns__scorer_rater_in(plus, 17) && ns__scorer_rater_in(plus, 32) && ns__scorer_rater_in(plus, 4));
  ASSERT(!ns__scorer_rater_in(plus, 34));
  /* a group model: its group only */
  ASSERT(ns__scorer_rater_in(g3, 3));
  ASSERT(!ns__scorer_rater_in(g3, 13));
  /* coverage = core minus 21 */
  ASSERT(ns__scorer_rater_in(gauss, 13));
  ASSERT(!ns__scorer_rater_in(gauss, 21));
  /* multi-group 1 = {4,5,7,12,26} */
  ASSERT(ns__scorer_rater_in(multi, 26) && ns__scorer_rater_in(multi, 12));
  ASSERT(!ns__scorer_rater_in(multi, 6));
  /* topic scorers: every rater */
  ASSERT(ns__scorer_rater_in(topic, 17) && ns__scorer_rater_in(topic, NS__GROUP_ABSENT) &&
         ns__scorer_rater_in(topic, NS__GROUP_NONE));
}

/* ---- constants --------------------------------------------------------- */

TEST(scorers_constants_differ_as_the_reference) {
  const ns__scorer_spec *core = spec("MFCoreScorer"), *cwt = spec("MFCoreWithTopicsScorer");
  const ns__scorer_spec *exp = spec("MFExpansionScorer"), *plus = spec("MFExpansionPlusScorer");
  const ns__scorer_spec *g1 = spec("MFGroupScorer_1"), *g14 = spec("MFGroupScorer_14");
  const ns__scorer_spec *g33 = spec("MFGroupScorer_33"), *g18 = spec("MFGroupScorer_18");
  const ns__scorer_spec *t1 = spec("MFTopicScorer_UkraineConflict");
  const ns__scorer_spec *t5 = spec("GaussianTopicScorer_InDimensionTwo");
  const ns__scorer_spec *gs = spec("GaussianScorer"), *gcwt = spec("GaussianCoreWithTopicsScorer");
  ns_params base, p;

  ASSERT_EQ(ns__n_scorers, 28);
  ASSERT(ns__n_scorers <= NS_SCORER_MAX);
  /* Core: capture 0.5, topics out, firm reject 0.3, pseudo-raters */
  ASSERT_NEAR(core->capture, 0.5, 0);
  ASSERT_EQ(core->topic_mode, NS__TOPICS_EXCLUDE);
  ASSERT_NEAR(core->firm_reject, 0.3, 0);
  ASSERT_EQ(core->pseudoraters, 1);
  /* CoreWithTopics: topics in, no firm reject */
  ASSERT_EQ(cwt->topic_mode, NS__TOPICS_INCLUDE);
  ASSERT(isnan(cwt->firm_reject));
  ASSERT_EQ(cwt->pseudoraters, 1);
  /* Expansion: firm reject, no pseudo-raters; ExpansionPlus: no capture */
  ASSERT_NEAR(exp->firm_reject, 0.3, 0);
  ASSERT_EQ(exp->pseudoraters, 0);
  ASSERT(isnan(plus->capture));
  ASSERT(isnan(plus->firm_reject));
  /* groups: capture 0.8, group raters only, default thresholds */
  ASSERT_NEAR(g1->capture, 0.8, 0);
  ASSERT_EQ(g1->include_unassigned, 0);
  ASSERT_NEAR(g1->crh, 0.40, 0);
  ASSERT_EQ(g1->slot, NS_MODEL_GROUP);
  ASSERT_EQ(g1->group_id, 1);
  /* group 14, the expanded-consensus trial (run_scoring.py:116-146) */
  ASSERT_NEAR(g14->crh, 0.15, 0);
  ASSERT_NEAR(g14->crnh, -0.01, 0);
  ASSERT_NEAR(g14->crnh_mult, 0, 0);
  ASSERT_NEAR(g14->nm_crnh, -0.02, 0);
  ASSERT_NEAR(g14->thr_no_high_vol, 0.12, 0);
  ASSERT_NEAR(g14->thr_low_diligence, 1000, 0);
  ASSERT_NEAR(g14->factor_thr, 0.4, 0);
  ASSERT_EQ(g14->tag_pct, 90);
  ASSERT_NEAR(g14->incorrect_thr, 1.5, 0);
  ASSERT_NEAR(g14->capture, 0.51, 0);
  ASSERT_NEAR(g14->min_mean_note_score, -0.01, 0);
  ASSERT_NEAR(g14->l_in, 0.9, 1e-12);
  ASSERT_NEAR(g14->l_fu, 0.0075, 1e-12);
  /* group 33: strictInclusion; group 18: its lambdas and thresholds */
  ASSERT_EQ(g33->strict, 1);
  ASSERT_EQ(g1->strict, 0);
  ASSERT_NEAR(g18->crh, 0.2, 0);
  ASSERT_NEAR(g18->thr_no_correlated, 0.18, 0);
  ASSERT(g18->l_mu < 0); /* globalInterceptLambda = 0 */
  ASSERT_NEAR(g18->l_in, 0.15, 1e-12);
  /* topic scorers: round 1 only, no net-helpful minima, confidence 4 */
  ASSERT_EQ(t1->round1_only, 1);
  ASSERT_EQ(t1->min_minority, 0);
  ASSERT_EQ(t1->n_confidence, 4);
  ASSERT_EQ(t1->topic_mode, NS__TOPICS_ONLY);
  ASSERT_EQ(t1->topic, NS_TOPIC_UKRAINE_CONFLICT);
  ASSERT_EQ(t1->no_mu, 0);
  ASSERT_EQ(t5->no_mu, 1);
  ASSERT_NEAR(t5->l_iu, 5, 0);
  /* ... scored by the GaussianTopicScorer in the final run (run_scoring.py:
  ** 175-186): CRH bandwidth 0.05, confident at > 0 raters a side, no
  ** net-helpful rules or firm reject, its MF prescoring round 1 only */
  ASSERT_EQ(t5->kind, NS__KIND_GAUSSIAN);
  ASSERT_EQ(t5->slot, NS_MODEL_TOPIC);
  ASSERT_NEAR(t5->crh_bandwidth, 0.05, 0);
  ASSERT_EQ(t5->n_confidence, 0);
  ASSERT_EQ(t5->net_rules, 0);
  ASSERT_EQ(t5->round1_only, 1);
  ASSERT(isnan(t5->firm_reject));
  ASSERT_NEAR(t5->crh, 0.40, 0);
  ASSERT_NEAR(t5->factor_thr, 0.5, 0);
  ASSERT_NEAR(t5->crh_super, 0.5, 0);
  ASSERT_EQ(t1->kind, NS__KIND_MF);
  ASSERT_EQ(t1->n_confidence, 4);
  ASSERT_NEAR(t1->crh_bandwidth, 0, 0);
  /* Gaussian */
  ASSERT_NEAR(gs->crh, 0.51, 0);
  ASSERT_NEAR(gs->crnh, -0.5, 0);
  ASSERT_NEAR(gs->crnh_mult, 0, 0);
  ASSERT_NEAR(gs->nm_crnh, -0.6, 0);
  ASSERT_NEAR(gs->thr_no_high_vol, 0.45, 0);
  ASSERT_NEAR(gs->factor_thr, 1.0, 0);
  ASSERT_EQ(gs->net_rules, 0);
  ASSERT(isnan(gs->firm_reject));
  ASSERT_EQ(gs->topic_mode, NS__TOPICS_EXCLUDE);
  ASSERT_EQ(gcwt->topic_mode, NS__TOPICS_INCLUDE);

  /* the derived params: thresholds from the spec, the rest from the run */
  ns_params_default(&base);
  base.seed = 7;
  base.pseudoraters = 1;
  ns__scorer_params(g14, &base, &p);
  ASSERT_NEAR(p.crh_threshold, 0.15, 0);
  ASSERT_NEAR(p.factor_threshold, 0.4, 0);
  ASSERT(isnan(p.firm_reject_threshold));
  ASSERT_EQ(p.min_minority_net_helpful, 4);
  ASSERT_EQ(p.pseudoraters, 0);
  ASSERT_EQ(p.seed, 7);
  ns__scorer_params(cwt, &base, &p);
  ASSERT_EQ(p.pseudoraters, 1);
  base.pseudoraters = 0; /* the run's switch wins */
  ns__scorer_params(cwt, &base, &p);
  ASSERT_EQ(p.pseudoraters, 0);
  ns__scorer_params(gs, &base, &p);
  ASSERT_EQ(p.min_minority_net_helpful, 0);
}

/* A misleading note with 20 ratings, 10 on each side of the factor axis,
** all helpful, at intercept icpt and factor 0.1; no guardrail verdicts. */
static void balanced_facts(ns__note_facts *f, double icpt) {
  memset(f, 0, sizeof *f);
  f->n_ratings = 20;
  f->cls = NS_CLASS_MISLEADING;
  f->icpt = icpt;
  f->fac = 0.1;
  f->prev_status = f->locked_status = NS_STATUS_UNSET;
  f->n_neg = f->n_pos = 10;
  f->mean_neg = f->mean_pos = 0.9;
  f->net_neg = f->net_pos = 9;
  f->icpt_max = NAN;
  f->low_diligence = NAN;
  f->icpt_no_high_vol = f->icpt_no_correlated = NAN;
}

/* The same facts give different statuses under Core's and group 14's
** constants: CRH at 0.2 only for group 14; its NoHighVol threshold 0.12
** lets a 0.3 baseline stand where Core's 0.37 demotes to NYH. */
TEST(scorers_rules_use_scorer_constants) {
  ns_params base, p14;
  ns__note_facts f;
  ns__rule_out o;
  balanced_facts(&f, 0.2);
  ns_params_default(&base);
  ns__scorer_params(spec("MFGroupScorer_14"), &base, &p14);
  ns__rules_final(&f, &base, &o);
  ASSERT_EQ(o.status, NS_STATUS_FIRM_REJECT); /* Core: below 0.3 -> RejectLowIntercept */
  ns__rules_final(&f, &p14, &o);
  ASSERT_EQ(o.status, NS_STATUS_CRH);

  f.guard = 1;
  f.icpt = 0.5;
  f.icpt_no_high_vol = 0.3;
  ns__rules_final(&f, &base, &o);
  ASSERT_EQ(o.status, NS_STATUS_NYH);
  ASSERT(o.rules & (1u << NS_RULE_NO_HIGH_VOL));
  f.thr_no_high_vol = 0.12;
  ns__rules_final(&f, &p14, &o);
  ASSERT_EQ(o.status, NS_STATUS_CRH);
  /* group 14's lowDiligenceThreshold 1000 never fires; Core's 0.263 does */
  f.icpt_no_high_vol = NAN;
  f.low_diligence = 0.5;
  f.thr_low_diligence = 1000;
  ns__rules_final(&f, &p14, &o);
  ASSERT_EQ(o.status, NS_STATUS_CRH);
  f.thr_low_diligence = 0;
  ns__rules_final(&f, &base, &o);
  ASSERT_EQ(o.status, NS_STATUS_FIRM_REJECT);
  ASSERT(o.rules & (1u << NS_RULE_LOW_DILIGENCE));
}

/* ---- scopes on a hand-built run ---------------------------------------- */

/* n_notes notes; note n is rated by the raters listed in raters[n] (rater
** indexes), group[u] the raters' modeling groups, topic[n] the topics. */
typedef struct mini {
  ns__run run;
  ns_bigraph *g;
} mini;

static void mini_build(mini *m, size_t n_notes, size_t n_part, const int32_t *group,
                       const int8_t *topic, const int (*rated)[16]) {
  size_t ne = 0;
  memset(m, 0, sizeof *m);
  m->run.n_notes = n_notes;
  m->run.n_part = n_part;
  for (size_t n = 0; n < n_notes; n++)
    for (int j = 0; rated[n][j] >= 0; j++) ne++;
  m->run.n_r = ne;
  m->run.r_note = calloc(ne, sizeof(int32_t));
  m->run.r_rater = calloc(ne, sizeof(int32_t));
  ne = 0;
  for (size_t n = 0; n < n_notes; n++)
    for (int j = 0; rated[n][j] >= 0; j++) {
      m->run.r_note[ne] = (int32_t)n;
      m->run.r_rater[ne] = rated[n][j];
      ne++;
    }
  m->run.rater_group = (int32_t *)group;
  m->run.note_topic = (int8_t *)topic;
  ASSERT_OK(ns_bigraph_build(n_part, n_notes, ne, m->run.r_rater, m->run.r_note, &m->run.g));
}

static void mini_done(mini *m) {
  free(m->run.r_note);
  free(m->run.r_rater);
  ns_bigraph_free(m->run.g);
}

/* scope edges, numRatings and captured of note n for scorer name */
static void view(mini *m, const char *name, size_t n, int32_t *cnt, int *cap) {
  uint8_t *flags = calloc(m->run.n_r, 1), *captured = calloc(m->run.n_notes, 1);
  int32_t *nr = calloc(m->run.n_notes, sizeof *nr);
  /* the scope bit is written, every other bit kept */
  for (size_t e = 0; e < m->run.n_r; e++) flags[e] = (uint8_t)(NS__EF_R2 | (e % 2 ? NS__EF_SCOPE : 0));
  ASSERT_OK(ns__build_scope(&m->run, spec(name), flags, nr, captured));
  *cnt = nr[n];
  *cap = captured[n];
  /* scope agrees with the per-note count */
  int32_t s = 0;
  for (size_t e = 0; e < m->run.n_r; e++) {
    s += ns__ef_get(flags, e, NS__EF_SCOPE) && (size_t)m->run.r_note[e] == n;
    ASSERT(ns__ef_get(flags, e, NS__EF_R2));
  }
  ASSERT_EQ(s, nr[n]);
  free(flags);
  free(captured);
  free(nr);
}

TEST(scorers_scope_capture_and_strict_inclusion) {
  /* raters 0-5 core (13), 6-9 expansion (4), 10-11 absent from enrollment,
  ** 12-19 group 3 (core), 20-27 group 33, 28 in enrollment without group */
  int32_t group[29];
  int8_t topic[6] = {0, 0, 0, 0, 0, 0};
  static const int rated[6][16] = {
      /* 0: 6 core + 4 expansion: core share 0.6 */
      {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1},
      /* 1: 2 core + 4 expansion + 2 unassigned: Core share (2+2)/8 = 0.5 */
      {0, 1, 6, 7, 8, 9, 10, 11, -1},
      /* 2: 1 core + 4 expansion + 1 no-group: Core share 1/6 */
      {0, 6, 7, 8, 9, 28, -1},
      /* 3: 8 group-3 raters + 2 expansion: group 3 share 0.8 */
      {12, 13, 14, 15, 16, 17, 18, 19, 6, 7, -1},
      /* 4: 7 group-33 + 3 expansion: share 0.7 < 0.8 */
      {20, 21, 22, 23, 24, 25, 26, 6, 7, 8, -1},
      /* 5: 8 group-33 + 2 core: share 0.8 */
      {20, 21, 22, 23, 24, 25, 26, 27, 0, 1, -1},
  };
  mini m;
  int32_t cnt;
  int cap;
  for (int u = 0; u < 29; u++)
    group[u] = u < 6 ? 13 : u < 10 ? 4 : u < 12 ? NS__GROUP_ABSENT : u < 20 ? 3 : u < 28 ? 33 : NS__GROUP_NONE;
  mini_build(&m, 6, 29, group, topic, rated);

  view(&m, "MFCoreScorer", 0, &cnt, &cap);
  ASSERT_EQ(cnt, 6);
  ASSERT_EQ(cap, 1);
  view(&m, "MFCoreScorer", 1, &cnt, &cap);
  ASSERT_EQ(cnt, 4); /* unassigned raters count for Core */
  ASSERT_EQ(cap, 1); /* 0.5 >= 0.5 */
  view(&m, "MFCoreScorer", 2, &cnt, &cap);
  ASSERT_EQ(cnt, 1); /* Core still trains on its rater's rating ... */
  ASSERT_EQ(cap, 0); /* ... but does not report the note */
  view(&m, "MFExpansionScorer", 2, &cnt, &cap);
  ASSERT_EQ(cnt, 5); /* the no-group rater is out of every set */
  ASSERT_EQ(cap, 1);
  view(&m, "MFExpansionPlusScorer", 2, &cnt, &cap);
  ASSERT_EQ(cnt, 5);
  ASSERT_EQ(cap, 1); /* no capture threshold */
  /* group 3: capture 0.8 */
  view(&m, "MFGroupScorer_3", 3, &cnt, &cap);
  ASSERT_EQ(cnt, 8);
  ASSERT_EQ(cap, 1);
  view(&m, "MFGroupScorer_3", 0, &cnt, &cap);
  ASSERT_EQ(cnt, 0);
  ASSERT_EQ(cap, 0);
  /* Core sees note 3's group-3 raters (core groups) */
  view(&m, "MFCoreScorer", 3, &cnt, &cap);
  ASSERT_EQ(cnt, 8);
  ASSERT_EQ(cap, 1);
  /* strictInclusion (group 33): a note below 0.8 leaves the input too */
  view(&m, "MFGroupScorer_33", 4, &cnt, &cap);
  ASSERT_EQ(cnt, 0);
  ASSERT_EQ(cap, 0);
  view(&m, "MFGroupScorer_33", 5, &cnt, &cap);
  ASSERT_EQ(cnt, 8);
  ASSERT_EQ(cap, 1);
  /* a group model without strictInclusion keeps training on such a note:
  ** group 1 has nobody here, so check the multi-group on note 4 (3 of 10
  ** raters in group 4): trains on 3, does not report */
  view(&m, "MFMultiGroupScorer_1", 4, &cnt, &cap);
  ASSERT_EQ(cnt, 3);
  ASSERT_EQ(cap, 0);
  mini_done(&m);
}

/* Stable initialization's subset (reference get_ratings_for_stable_init):
** group-13 ratings on notes where group 13 gave >= 75 % of the note's
** training ratings by enrolled raters and there are >= 5 such ratings. */
TEST(scorers_stable_init_subset) {
  /* raters 0-7 group 13, 8-10 group 4, 11-12 absent from enrollment, 13
  ** enrolled without a group */
  int32_t group[14];
  int8_t topic[6] = {0, 0, 0, 0, 0, 0};
  static const int rated[6][16] = {
      /* 0: 6 g13 + 2 g4: 6/8 = 0.75 -> the 6 g13 ratings qualify */
      {0, 1, 2, 3, 4, 5, 8, 9, -1},
      /* 1: 5 g13 + 2 g4: 5/7 < 0.75 -> no */
      {0, 1, 2, 3, 4, 8, 9, -1},
      /* 2: 4 g13 + 3 absent: enrolled 4 < 5 -> no (absent raters count
      ** in neither part: the inner merge) */
      {0, 1, 2, 3, 11, 12, 11, -1},
      /* 3: 5 g13 + 5 absent: 5/5 enrolled, 5 >= 5 -> the 5 g13 ratings */
      {0, 1, 2, 3, 4, 11, 12, 11, 12, 11, -1},
      /* 4: 6 g13 + 2 no-group enrolled: 6/8 = 0.75 -> yes; 6 g13 + 3
      ** would not be (checked on note 5) */
      {0, 1, 2, 3, 4, 5, 13, 13, -1},
      /* 5: 6 g13 + 2 no-group + 1 g4: 6/9 < 0.75 -> no */
      {0, 1, 2, 3, 4, 5, 13, 13, 10, -1},
  };
  mini m;
  uint8_t *flags;
  size_t sel, per_note[6] = {0};
  for (int u = 0; u < 14; u++)
    group[u] = u < 8 ? 13 : u < 11 ? 4 : u < 13 ? NS__GROUP_ABSENT : NS__GROUP_NONE;
  mini_build(&m, 6, 14, group, topic, rated);
  /* the training set and the subset are two bits of one flags byte */
  flags = calloc(m.run.n_r, 1);
  for (size_t e = 0; e < m.run.n_r; e++) flags[e] = NS__EF_R1 | NS__EF_SCOPE;
  sel = ns__stable_init_mask(&m.run, flags, NS__EF_R1, NS__EF_STABLE);
  for (size_t e = 0; e < m.run.n_r; e++) {
    ASSERT_EQ(flags[e] & (NS__EF_R1 | NS__EF_SCOPE), NS__EF_R1 | NS__EF_SCOPE); /* kept */
    if (!ns__ef_get(flags, e, NS__EF_STABLE)) continue;
    per_note[m.run.r_note[e]]++;
    ASSERT_EQ(group[m.run.r_rater[e]], 13); /* only the group's own ratings */
  }
  ASSERT_EQ(per_note[0], 6);
  ASSERT_EQ(per_note[1], 0);
  ASSERT_EQ(per_note[2], 0);
  ASSERT_EQ(per_note[3], 5);
  ASSERT_EQ(per_note[4], 6);
  ASSERT_EQ(per_note[5], 0);
  ASSERT_EQ(sel, 17);
  /* only training edges count: dropping note 0's two g4 ratings from the
  ** training set leaves it qualifying; dropping two of its g13 ones makes
  ** 4/6 < 0.75 */
  for (size_t e = 0; e < m.run.n_r; e++)
    if (m.run.r_note[e] == 0 && (m.run.r_rater[e] == 0 || m.run.r_rater[e] == 1))
      ns__ef_put(flags, e, NS__EF_R1, 0);
  sel = ns__stable_init_mask(&m.run, flags, NS__EF_R1, NS__EF_STABLE);
  ASSERT_EQ(sel, 11);
  for (size_t e = 0; e < m.run.n_r; e++)
    ASSERT(!(ns__ef_get(flags, e, NS__EF_STABLE) && m.run.r_note[e] == 0));
  /* no group 13 at all: nothing selected (round 1 then fits as without
  ** the flag) */
  for (int u = 0; u < 8; u++) group[u] = 3;
  ASSERT_EQ(ns__stable_init_mask(&m.run, flags, NS__EF_R1, NS__EF_STABLE), 0);
  for (size_t e = 0; e < m.run.n_r; e++) ASSERT(!ns__ef_get(flags, e, NS__EF_STABLE));
  free(flags);
  mini_done(&m);
  /* the reference's flags: the Core family on, group and topic scorers off */
  ASSERT_EQ(spec("MFCoreScorer")->stable_init, 1);
  ASSERT_EQ(spec("MFCoreWithTopicsScorer")->stable_init, 1);
  ASSERT_EQ(spec("MFExpansionScorer")->stable_init, 1);
  ASSERT_EQ(spec("MFExpansionPlusScorer")->stable_init, 1);
  ASSERT_EQ(spec("MFGroupScorer_13")->stable_init, 0);
  ASSERT_EQ(spec("MFMultiGroupScorer_1")->stable_init, 0);
  ASSERT_EQ(spec("MFTopicScorer_Scams")->stable_init, 0);
}

/* CRHSuperThreshold / ElevatedCRHInertia (note_ratings.py:827-845). */
TEST(scorers_crh_super_threshold) {
  ns_params p, p14;
  ns__note_facts f;
  ns__rule_out o;
  balanced_facts(&f, 0.5);
  f.guard = 1;
  f.tag_fired = 1; /* the tag filter fires */
  ns_params_default(&p);
  /* at the threshold (0 = the default 0.5): CRH again after TagFilter */
  ns__rules_final(&f, &p, &o);
  ASSERT_EQ(o.status, NS_STATUS_CRH);
  ASSERT(o.rules & (1ull << NS_RULE_TAG_FILTER));
  ASSERT(o.rules & (1ull << NS_RULE_CRH_SUPER));
  ASSERT(!(o.rules & (1ull << NS_RULE_ELEVATED_CRH_INERTIA)));
  /* just below: the tag filter's FIRM_REJECT stands */
  f.icpt = 0.4999;
  ns__rules_final(&f, &p, &o);
  ASSERT_EQ(o.status, NS_STATUS_FIRM_REJECT);
  ASSERT(!(o.rules & (1ull << NS_RULE_CRH_SUPER)));
  /* ... unless the note was CRH last run: ElevatedCRHInertia at 0.49 */
  f.icpt = 0.49;
  f.prev_status = NS_STATUS_CRH;
  ns__rules_final(&f, &p, &o);
  ASSERT_EQ(o.status, NS_STATUS_CRH);
  ASSERT(o.rules & (1ull << NS_RULE_ELEVATED_CRH_INERTIA));
  ASSERT(!(o.rules & (1ull << NS_RULE_CRH_SUPER)));
  f.icpt = 0.4899; /* below 0.5 - 0.01 */
  ns__rules_final(&f, &p, &o);
  ASSERT_EQ(o.status, NS_STATUS_FIRM_REJECT);
  f.prev_status = NS_STATUS_UNSET;
  /* a NOT_MISLEADING note never becomes CRH */
  f.icpt = 0.8;
  f.cls = NS_CLASS_NOT_MISLEADING;
  ns__rules_final(&f, &p, &o);
  ASSERT(o.status != NS_STATUS_CRH);
  ASSERT(!(o.rules & (1ull << NS_RULE_CRH_SUPER)));
  f.cls = NS_CLASS_MISLEADING;
  /* too few ratings */
  f.n_ratings = 4;
  ns__rules_final(&f, &p, &o);
  ASSERT(!(o.rules & (1ull << NS_RULE_CRH_SUPER)));
  f.n_ratings = 20;
  /* the later filters still apply: a large factor rejects it again */
  f.fac = 0.7;
  ns__rules_final(&f, &p, &o);
  ASSERT_EQ(o.status, NS_STATUS_FIRM_REJECT);
  ASSERT(o.rules & (1ull << NS_RULE_CRH_SUPER));
  ASSERT(o.rules & (1ull << NS_RULE_LARGE_FACTOR));
  f.fac = 0.1;
  /* the scorer's own threshold: ExpansionPlus 0.6, Gaussian 0.65, group
  ** 14 none */
  f.crh_super = spec("MFExpansionPlusScorer")->crh_super;
  ASSERT_NEAR(f.crh_super, 0.6, 0);
  f.icpt = 0.59;
  ns__rules_final(&f, &p, &o);
  ASSERT(!(o.rules & (1ull << NS_RULE_CRH_SUPER)));
  f.icpt = 0.6;
  ns__rules_final(&f, &p, &o);
  ASSERT(o.rules & (1ull << NS_RULE_CRH_SUPER));
  ASSERT_NEAR(spec("GaussianScorer")->crh_super, 0.65, 0);
  ASSERT_NEAR(spec("MFCoreScorer")->crh_super, 0.5, 0);
  ASSERT_NEAR(spec("MFGroupScorer_3")->crh_super, 0.5, 0);
  f.crh_super = spec("MFGroupScorer_14")->crh_super;
  ASSERT(f.crh_super < 0);
  ns__scorer_params(spec("MFGroupScorer_14"), &p, &p14);
  f.icpt = 0.9;
  ns__rules_final(&f, &p14, &o);
  ASSERT(!(o.rules & (1ull << NS_RULE_CRH_SUPER)));
  ASSERT(o.status != NS_STATUS_CRH);
  /* the new ids are above bit 31: the masks are 64-bit */
  ASSERT(NS_RULE_CRH_SUPER > 31);
  ASSERT_EQ(strcmp(ns_rule_names[NS_RULE_CRH_SUPER], "CRHSuperThreshold"), 0);
  ASSERT_EQ(strcmp(ns_rule_names[NS_RULE_ELEVATED_CRH_INERTIA], "ElevatedCRHInertia"), 0);
}

TEST(scorers_scope_topics) {
  int32_t group[10];
  int8_t topic[3] = {NS_TOPIC_NONE, NS_TOPIC_SCAMS, NS_TOPIC_GAZA_CONFLICT};
  static const int rated[3][16] = {
      {0, 1, 2, 3, 4, 5, -1}, {0, 1, 2, 3, 4, 5, 6, 7, -1}, {0, 1, 2, 3, 8, 9, -1}};
  mini m;
  int32_t cnt;
  int cap;
  for (int u = 0; u < 10; u++) group[u] = u < 8 ? 13 : 17;
  mini_build(&m, 3, 10, group, topic, rated);
  /* Core excludes topic notes; CoreWithTopics keeps them */
  view(&m, "MFCoreScorer", 0, &cnt, &cap);
  ASSERT_EQ(cnt, 6);
  ASSERT_EQ(cap, 1);
  view(&m, "MFCoreScorer", 1, &cnt, &cap);
  ASSERT_EQ(cnt, 0);
  ASSERT_EQ(cap, 0);
  view(&m, "MFCoreWithTopicsScorer", 1, &cnt, &cap);
  ASSERT_EQ(cnt, 8);
  ASSERT_EQ(cap, 1);
  view(&m, "GaussianScorer", 1, &cnt, &cap);
  ASSERT_EQ(cap, 0);
  view(&m, "GaussianCoreWithTopicsScorer", 1, &cnt, &cap);
  ASSERT_EQ(cap, 1);
  /* a topic scorer: its topic's notes only, every rater (17 too) */
  view(&m, "MFTopicScorer_Scams", 1, &cnt, &cap);
  ASSERT_EQ(cnt, 8);
  ASSERT_EQ(cap, 1);
  view(&m, "MFTopicScorer_Scams", 0, &cnt, &cap);
  ASSERT_EQ(cnt, 0);
  view(&m, "MFTopicScorer_Scams", 2, &cnt, &cap);
  ASSERT_EQ(cnt, 0);
  view(&m, "MFTopicScorer_GazaConflict", 2, &cnt, &cap);
  ASSERT_EQ(cnt, 6);
  ASSERT_EQ(cap, 1);
  mini_done(&m);
}

/* ---- a whole run with enrollment --------------------------------------- */

#define DAY 86400000LL

static int32_t part(ns_dataset *ds, const char *name) {
  int32_t idx;
  ASSERT_OK(ns_strtab_intern(ds->participants, name, strlen(name), &idx));
  return idx;
}

/* 40 raters: r00-r19 core (group 13), r20-r39 expansion (group 4).  Notes
** 1-16 are rated by the core raters, 101-116 by the expansion raters;
** notes 3, 7, 11, 15 (and 103, ...) helpful to nearly everyone, notes 2,
** 6, 10, 14 split the raters, the rest not helpful. */
static ns_dataset *two_population_ds(void) {
  ns_dataset *ds;
  int64_t t0 = 1700000000000LL;
  ASSERT_OK(ns_dataset_new(&ds));
  for (int side = 0; side < 2; side++)
    for (int i = 1; i <= 16; i++) {
      size_t k = ds->n_notes;
      char a[16];
      snprintf(a, sizeof a, "author%d", side);
      ASSERT_OK(ns_dataset_reserve_notes(ds, k + 1));
      ds->note_id[k] = side * 100 + i;
      ds->note_author[k] = part(ds, a);
      ds->note_created_ms[k] = t0 + i * 1000;
      ds->note_tweet_id[k] = 5000 + side * 100 + i;
      ds->note_class[k] = NS_CLASS_MISLEADING;
      ds->n_notes++;
    }
  for (int u = 0; u < 40; u++) {
    char r[16];
    int side = u / 20;
    snprintf(r, sizeof r, "r%02d", u);
    for (int i = 1; i <= 16; i++) {
      size_t k = ds->n_ratings;
      ASSERT_OK(ns_dataset_reserve_ratings(ds, k + 1));
      ds->r_note_id[k] = side * 100 + i;
      ds->r_rater[k] = part(ds, r);
      unsigned lv;
      /* notes 2, 6, 10, 14 split the raters (even / odd): the factor
      ** explains those, the intercepts the rest */
      if (i % 4 == 2) lv = (u % 2) ? NS_LEVEL_NOT_HELPFUL : NS_LEVEL_HELPFUL;
      else if (i % 4 == 3) lv = (u % 5 == 0) ? NS_LEVEL_SOMEWHAT_HELPFUL : NS_LEVEL_HELPFUL;
      else lv = (u % 7 == 0) ? NS_LEVEL_SOMEWHAT_HELPFUL : NS_LEVEL_NOT_HELPFUL;
      ASSERT_OK(ns_dataset_set_rating_meta(ds, k, t0 + DAY + u * 1000 + i, lv, 0, NS_SOURCE_DEFAULT));
      ds->n_ratings++;
    }
  }
  ds->enrollment = calloc(40, sizeof *ds->enrollment);
  for (int u = 0; u < 40; u++) {
    char r[16];
    snprintf(r, sizeof r, "r%02d", u);
    ns_enrollment *e = &ds->enrollment[ds->n_enrollment++];
    e->participant = part(ds, r);
    e->state = NS_ENROLL_EARNED_IN;
    e->ts_last_earn_out = NS_TS_NONE;
    e->modeling_group = u < 20 ? 13 : 4;
    strcpy(e->modeling_population, u < 20 ? "CORE" : "EXPANSION");
  }
  ASSERT_OK(ns_dataset_normalize(ds));
  return ds;
}

static const ns_note_score *row(const ns_scores *sc, int64_t id) {
  for (size_t i = 0; i < sc->n_notes; i++)
    if (sc->notes[i].note_id == id) return &sc->notes[i];
  NS__FAIL("no row for note %lld", (long long)id);
  return NULL;
}

static ns_scores *run_threads(const ns_dataset *ds, int threads, int profile) {
  ns_params p;
  ns_scores *sc;
  ns_params_default(&p);
  ns_params_profile(&p, profile);
  p.now_ms = 1700000000000LL + 30 * DAY;
  p.threads = threads;
  ASSERT_OK(ns_pipeline_run(ds, &p, NULL, &sc, NULL));
  return sc;
}

TEST(scorers_run_populations) {
  ns_dataset *ds = two_population_ds();
  ns_scores *sc = run_threads(ds, 1, NS_PROFILE_REFERENCE);
  const ns_note_score *c = row(sc, 3), *x = row(sc, 103);

  /* a core note: Core scores it, so do CoreWithTopics, Expansion,
  ** ExpansionPlus and group model 13 (all its raters are group 13) */
  ASSERT(!isnan(c->intercept));
  ASSERT_NE(c->core_status, NS_STATUS_UNSET);
  ASSERT(!isnan(c->model[NS_MODEL_CORE_WITH_TOPICS].intercept));
  ASSERT(!isnan(c->model[NS_MODEL_EXPANSION].intercept));
  ASSERT(!isnan(c->model[NS_MODEL_EXPANSION_PLUS].intercept));
  ASSERT_EQ(c->modeling_group, 13);
  ASSERT(!isnan(c->model[NS_MODEL_GROUP].intercept));
  ASSERT_EQ(c->modeling_multi_group, -1);
  ASSERT_EQ(c->model[NS_MODEL_MULTI_GROUP].status, NS_STATUS_UNSET);
  ASSERT_EQ(c->model[NS_MODEL_TOPIC].status, NS_STATUS_UNSET);

  /* an expansion note: Core did not score it (NaN / unset), CoreWithTopics
  ** neither; Expansion, ExpansionPlus, group 4 and multi-group 1 did */
  ASSERT(isnan(x->intercept));
  ASSERT(isnan(x->factor));
  ASSERT_EQ(x->core_status, NS_STATUS_UNSET);
  ASSERT_EQ(x->core_rules, 0);
  ASSERT_EQ(x->model[NS_MODEL_CORE_WITH_TOPICS].status, NS_STATUS_UNSET);
  ASSERT(!isnan(x->model[NS_MODEL_EXPANSION].intercept));
  ASSERT_NE(x->model[NS_MODEL_EXPANSION].status, NS_STATUS_UNSET);
  ASSERT_NE(x->model[NS_MODEL_EXPANSION_PLUS].status, NS_STATUS_UNSET);
  ASSERT_EQ(x->modeling_group, 4);
  ASSERT_NE(x->model[NS_MODEL_GROUP].status, NS_STATUS_UNSET);
  ASSERT_EQ(x->modeling_multi_group, 1);
  ASSERT_NE(x->model[NS_MODEL_MULTI_GROUP].status, NS_STATUS_UNSET);
  ASSERT_EQ(x->model[NS_MODEL_MULTI_GROUP].n_final_round, x->model[NS_MODEL_GROUP].n_final_round);
  /* the helpful and unhelpful notes come apart in the expansion model */
  ASSERT(x->model[NS_MODEL_EXPANSION].intercept >
         row(sc, 104)->model[NS_MODEL_EXPANSION].intercept + 0.1);
  ASSERT(c->intercept > row(sc, 4)->intercept + 0.1);

  /* rater rows: Core's, plus each scorer's rater parameters */
  {
    const ns_rater_score *rc = NULL, *rx = NULL;
    for (size_t i = 0; i < sc->n_raters; i++) {
      const char *id = ns_strtab_str(ds->participants, sc->raters[i].participant);
      if (strcmp(id, "r02") == 0) rc = &sc->raters[i];
      if (strcmp(id, "r22") == 0) rx = &sc->raters[i];
    }
    ASSERT(rc && rx);
    ASSERT(!isnan(rc->intercept_r1));
    ASSERT(!isnan(rc->model_intercept[NS_MODEL_CORE_WITH_TOPICS]));
    ASSERT(!isnan(rc->model_intercept[NS_MODEL_EXPANSION]));
    ASSERT(!isnan(rc->model_factor[NS_MODEL_EXPANSION_PLUS]));
    ASSERT(!isnan(rc->model_intercept[NS_MODEL_GROUP]));
    ASSERT_EQ(rc->modeling_group, 13);
    ASSERT_EQ(rc->modeling_multi_group, -1);
    ASSERT(isnan(rc->model_intercept[NS_MODEL_MULTI_GROUP]));
    ASSERT(isnan(rc->model_intercept[NS_MODEL_TOPIC]));
    /* an expansion rater: not in Core nor CoreWithTopics */
    ASSERT(isnan(rx->intercept_r1));
    ASSERT(isnan(rx->model_intercept[NS_MODEL_CORE_WITH_TOPICS]));
    ASSERT(!isnan(rx->model_intercept[NS_MODEL_EXPANSION]));
    ASSERT_EQ(rx->modeling_group, 4);
    ASSERT_EQ(rx->modeling_multi_group, 1);
    ASSERT(!isnan(rx->model_factor[NS_MODEL_MULTI_GROUP]));
  }
  ns_scores_free(sc);
  ns_dataset_free(ds);
}

TEST(scorers_threads_identical) {
  ns_dataset *ds = two_population_ds();
  for (int prof = 0; prof < 2; prof++) {
    ns_scores *a = run_threads(ds, 1, prof), *b = run_threads(ds, 2, prof);
    ASSERT_EQ(a->n_notes, b->n_notes);
    ASSERT(memcmp(a->notes, b->notes, a->n_notes * sizeof *a->notes) == 0);
    ASSERT_EQ(a->n_raters, b->n_raters);
    ASSERT(memcmp(a->raters, b->raters, a->n_raters * sizeof *a->raters) == 0);
    ns_scores_free(a);
    ns_scores_free(b);
  }
  ns_dataset_free(ds);
}

/* Profiles: reference turns trust and the share test off; notescore keeps
** today's defaults; both are recorded in the params JSON. */
TEST(scorers_profiles) {
  ns_params p, q;
  char *js;
  ns_params_default(&p);
  ASSERT_EQ(p.profile, NS_PROFILE_NOTESCORE);
  ASSERT_EQ(p.trust, 1);
  ASSERT_EQ(p.tag_share_test, 1);
  ns_params_profile(&p, NS_PROFILE_REFERENCE);
  ASSERT_EQ(p.trust, 0);
  ASSERT_EQ(p.tag_share_test, 0);
  ASSERT_EQ(ns_profile_parse("reference"), NS_PROFILE_REFERENCE);
  ASSERT_EQ(ns_profile_parse("notescore"), NS_PROFILE_NOTESCORE);
  ASSERT_EQ(ns_profile_parse("ref"), -1);
  js = ns_params_to_json(&p, "score", NULL);
  ASSERT(js && strstr(js, "\"profile\":1"));
  ASSERT_OK(ns_params_from_json(js, &q, NULL, 0));
  ASSERT_EQ(q.profile, NS_PROFILE_REFERENCE);
  ASSERT_EQ(q.trust, 0);
  free(js);
  ns_params_release(&q);
}

/* A refresh refits Core only: other scorers' columns come from the full
** run unchanged, and a note outside Core's scope keeps empty Core fields. */
TEST(scorers_refresh_carries_other_scorers) {
  ns_dataset *ds = two_population_ds();
  ns_scores *sc = run_threads(ds, 1, NS_PROFILE_REFERENCE), *rs = NULL;
  ns_refresh_base *b = NULL;
  ns_params p;
  int64_t ids[2] = {3, 103};
  ns_params_default(&p);
  ns_params_profile(&p, NS_PROFILE_REFERENCE);
  p.now_ms = sc->now_ms;
  ASSERT_OK(ns_refresh_base_new(ds, sc, &p, &b));
  ASSERT_OK(ns_pipeline_refresh(b, ds, ids, 2, sc->now_ms + 1000, &rs));
  ASSERT_EQ(rs->n_notes, 2);
  const ns_note_score *c0 = row(sc, 3), *c1 = row(rs, 3);
  const ns_note_score *x0 = row(sc, 103), *x1 = row(rs, 103);
  /* Core refit: back to the full run's optimum (ALS tolerance) */
  ASSERT_NEAR(c1->intercept, c0->intercept, 1e-3);
  ASSERT_EQ(c1->core_status, c0->core_status);
  /* the expansion note: no Core, the other scorers as in the full run */
  ASSERT(isnan(x1->intercept));
  ASSERT_EQ(x1->core_status, NS_STATUS_UNSET);
  ASSERT(memcmp(x1->model, x0->model, sizeof x0->model) == 0);
  ASSERT_EQ(x1->modeling_group, 4);
  ASSERT_EQ(x1->modeling_multi_group, 1);
  ASSERT(memcmp(c1->model, c0->model, sizeof c0->model) == 0);
  ns_scores_free(rs);
  ns_refresh_base_free(b);
  ns_scores_free(sc);
  ns_dataset_free(ds);
}

/* Trust on: a rating counts in a capture share with its coordination
** weight, so a detected group cannot decide which scorer reports a note. */
TEST(scorers_capture_share_uses_coordination_weights) {
  int32_t group[10];
  int8_t topic[1] = {0};
  static const int rated[1][16] = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1}};
  mini m;
  int32_t cnt;
  int cap;
  ns__cw cw;
  float *w = malloc(10 * sizeof *w);
  /* 4 core raters, 6 expansion raters of which 4 form a detected group */
  for (int u = 0; u < 10; u++) group[u] = u < 4 ? 13 : 4;
  mini_build(&m, 1, 10, group, topic, rated);
  view(&m, "MFCoreScorer", 0, &cnt, &cap);
  ASSERT_EQ(cnt, 4);
  ASSERT_EQ(cap, 0); /* 4 / 10 < 0.5 */
  for (int e = 0; e < 10; e++) w[e] = m.run.r_rater[e] >= 6 ? 0.25f : 1.0f;
  memset(&cw, 0, sizeof cw);
  ns__cw_take(&cw, w, 10);
  m.run.cw = &cw;
  view(&m, "MFCoreScorer", 0, &cnt, &cap);
  ASSERT_EQ(cnt, 4); /* numRatings stays the raw count */
  ASSERT_EQ(cap, 1); /* 4 / (4 + 2 + 4 * 0.25) >= 0.5 */
  view(&m, "MFExpansionScorer", 0, &cnt, &cap);
  ASSERT_EQ(cap, 1);
  m.run.cw = NULL;
  free(cw.code);
  free(cw.w);
  mini_done(&m);
}
