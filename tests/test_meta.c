/*
** tests/test_meta.c -- the meta-scorer (engine/meta.c) on hand-built note
** rows, one group of cases per reference rule: the order (later rules win),
** the group bands and blocks, the NMR groups, Gaussian coverage, the topic
** models, stabilization, the drift guard and the explanation rule; each
** checks the status, decidedBy and the active-rule mask.  Then the status
** history fields and the lock by decidedBy (engine/pipeline_history.c).
*/
#include "harness.h"

#include "../engine/pipeline_int.h"

#define BIT(r) (1ull << (r))
#define NOW 1767225600000LL
#define MIN 60000LL
#define DAY 86400000LL

enum { C = NS_STATUS_CRH, N = NS_STATUS_NMR, X = NS_STATUS_CRNH, F = NS_STATUS_FIRM_REJECT,
       Y = NS_STATUS_NYH, U = NS_STATUS_UNSET };

/* A note nobody has scored, with no history and enough tags of both
** valences for InsufficientExplanation to pass; stabilization off. */
static void fresh(ns__note_facts *f, ns_note_score *s) {
  memset(f, 0, sizeof *f);
  f->icpt = f->fac = NAN;
  f->prev_status = f->locked_status = f->first_non_nmr = U;
  f->t_stab = NS_TS_NONE;
  f->icpt_pop = NAN;
  f->now_ms = NOW;
  f->tag_count[1] = f->tag_count[2] = 3;    /* helpfulInformative, helpfulClear */
  f->tag_count[10] = f->tag_count[13] = 3;  /* notHelpfulIncorrect, MissingKeyPoints */
  ns_note_score_init(s, 1);
}

static const uint64_t BASE = BIT(NS_RULE_META_INITIAL_NMR);

/* ---- order ------------------------------------------------------------- */

TEST(meta_order_later_model_wins) {
  ns__note_facts f;
  ns_note_score s;
  ns__meta_out m;
  char lab[64];
  fresh(&f, &s);

  ns__rules_meta(&f, &s, &m);  /* nobody scored it */
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_META_INITIAL_NMR);
  ASSERT_EQ(m.rules, BASE);

  /* every plain model scored it: Core, the last one, decides, and all of
  ** them touched the note */
  s.model[NS_MODEL_EXPANSION_PLUS].status = C;
  s.model[NS_MODEL_EXPANSION].status = X;
  s.model[NS_MODEL_CORE_WITH_TOPICS].status = N;
  s.core_status = C;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ASSERT_EQ(m.rules, BASE | BIT(NS_RULE_EXPANSION_PLUS_MODEL) | BIT(NS_RULE_EXPANSION_MODEL) |
                         BIT(NS_RULE_CORE_WITH_TOPICS_MODEL) | BIT(NS_RULE_CORE_MODEL));
  /* the two helpful tags, both used by >= 2 raters */
  ASSERT(m.first_tag >= 1 && m.first_tag <= 2 && m.second_tag == 3 - m.first_tag);

  /* without Core, CoreWithTopics decides; it says NMR even where an
  ** earlier model said CRH */
  s.core_status = U;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_WITH_TOPICS_MODEL);
  ASSERT(!(m.rules & BIT(NS_RULE_CORE_MODEL)));

  /* FIRM_REJECT is shown as NMR, by the rule that carried it */
  s.model[NS_MODEL_CORE_WITH_TOPICS].status = U;
  s.model[NS_MODEL_EXPANSION].status = F;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_EXPANSION_MODEL);

  /* only ExpansionPlus scored it */
  s.model[NS_MODEL_EXPANSION].status = U;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_EXPANSION_PLUS_MODEL);
  ASSERT_EQ(m.rules, BASE | BIT(NS_RULE_EXPANSION_PLUS_MODEL));

  /* the reference's labels and order */
  ns__meta_rule_label(NS_RULE_EXPANSION_PLUS_MODEL, lab, sizeof lab);
  ASSERT_STREQ(lab, "ExpansionPlusModel (v1.1)");
  ns__meta_rule_label(NS_RULE_META_INITIAL_NMR, lab, sizeof lab);
  ASSERT_STREQ(lab, "MetaInitialNMR (v1.0)");
  ns__meta_rule_label(NS_RULE_GROUP_MODEL_33_NMR, lab, sizeof lab);
  ASSERT_STREQ(lab, "GroupModel33NMR (v1.1)");
  ns__meta_rule_label(NS_RULE_TOPIC_MODEL_05, lab, sizeof lab);
  ASSERT_STREQ(lab, "TopicModel05 (v1.0)");
  ns__meta_rule_label(-1, lab, sizeof lab);
  ASSERT_STREQ(lab, "");
  ASSERT_EQ(ns__meta_order[0], NS_RULE_META_INITIAL_NMR);
  ASSERT_EQ(ns__meta_order[4], NS_RULE_CORE_MODEL);
  ASSERT_EQ(ns__meta_order[19], NS_RULE_GROUP_MODEL_14);
  ASSERT_EQ(ns__meta_order[NS__META_ORDER_LEN - 1], NS_RULE_INSUFFICIENT_EXPL);
  /* every meta rule once */
  {
    uint64_t seen = 0;
    for (int i = 0; i < NS__META_ORDER_LEN; i++) {
      ASSERT(!(seen & BIT(ns__meta_order[i])));
      seen |= BIT(ns__meta_order[i]);
    }
    ASSERT(seen & BIT(NS_RULE_GROUP_MODEL_01 + 12));
    ASSERT(!(seen & BIT(NS_RULE_INITIAL_NMR)));
  }
}

/* ---- MultiGroupModel01 --------------------------------------------------- */

TEST(meta_multi_group_and_block) {
  ns__note_facts f;
  ns_note_score s;
  ns__meta_out m;
  fresh(&f, &s);
  s.model[NS_MODEL_EXPANSION].status = N;
  s.core_status = N;
  s.model[NS_MODEL_MULTI_GROUP].status = C;

  /* not in multi-group 1: ignored */
  s.modeling_multi_group = 2;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ASSERT(!(m.rules & BIT(NS_RULE_MULTI_GROUP_MODEL_01)));

  /* in it: overrides Core */
  s.modeling_multi_group = 1;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_MULTI_GROUP_MODEL_01);
  ASSERT(m.rules & BIT(NS_RULE_CORE_MODEL));

  /* Core FIRM_REJECT or CRNH blocks its CRH */
  s.core_status = F;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ASSERT(!(m.rules & BIT(NS_RULE_MULTI_GROUP_MODEL_01)));
  s.core_status = X;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, X);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);

  /* ... and its NYH */
  s.model[NS_MODEL_MULTI_GROUP].status = Y;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);

  /* a blocked note still takes the multi-group's NMR (and its FIRM_REJECT
  ** as NMR): the block is only against CRH/NYH */
  s.model[NS_MODEL_MULTI_GROUP].status = F;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_MULTI_GROUP_MODEL_01);

  /* Expansion's reject blocks only where Core did not score the note */
  s.model[NS_MODEL_MULTI_GROUP].status = C;
  s.core_status = U;
  s.model[NS_MODEL_EXPANSION].status = X;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, X);
  ASSERT_EQ(m.decided_by, NS_RULE_EXPANSION_MODEL);
  s.core_status = N;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_MULTI_GROUP_MODEL_01);
}

/* ---- GroupModel01..14, 33 ---------------------------------------------- */

/* Status and decider of a note Core scored NMR with intercept icpt (NAN:
** Core did not score it; Expansion then NMR with intercept eicpt) whose
** group g model says gs. */
static int group_case(int g, int8_t gs, double icpt, double eicpt, int8_t *by) {
  ns__note_facts f;
  ns_note_score s;
  ns__meta_out m;
  fresh(&f, &s);
  s.model[NS_MODEL_EXPANSION].status = N;
  s.model[NS_MODEL_EXPANSION].intercept = eicpt;
  if (!isnan(icpt)) s.core_status = N;
  s.intercept = icpt;
  s.modeling_group = g;
  s.model[NS_MODEL_GROUP].status = gs;
  ns__rules_meta(&f, &s, &m);
  *by = m.decided_by;
  ASSERT(m.rules & BIT(m.decided_by));
  if (m.decided_by >= NS_RULE_GROUP_MODEL_01 && m.decided_by <= NS_RULE_GROUP_MODEL_33)
    ASSERT_EQ(m.decided_by, g == 33 ? NS_RULE_GROUP_MODEL_33 : NS_RULE_GROUP_MODEL_01 + g - 1);
  return m.status;
}

TEST(meta_group_band_edges) {
  int8_t by;
  /* groups 1..13: strictly inside (0.30, 0.40) */
  ASSERT_EQ(group_case(5, C, 0.35, NAN, &by), C);
  ASSERT_EQ(by, NS_RULE_GROUP_MODEL_01 + 4);
  ASSERT_EQ(group_case(5, C, 0.30, NAN, &by), N);
  ASSERT_EQ(by, NS_RULE_CORE_MODEL);
  ASSERT_EQ(group_case(5, C, 0.3001, NAN, &by), C);
  ASSERT_EQ(group_case(5, C, 0.40, NAN, &by), N);
  ASSERT_EQ(group_case(5, C, 0.3999, NAN, &by), C);
  ASSERT_EQ(group_case(1, C, 0.35, NAN, &by), C);
  ASSERT_EQ(by, NS_RULE_GROUP_MODEL_01);
  ASSERT_EQ(group_case(13, C, 0.35, NAN, &by), C);
  ASSERT_EQ(by, NS_RULE_GROUP_MODEL_01 + 12);
  /* Core's intercept counts when present, else Expansion's */
  ASSERT_EQ(group_case(5, C, 0.45, 0.35, &by), N);
  ASSERT_EQ(group_case(5, C, NAN, 0.35, &by), C);
  ASSERT_EQ(group_case(5, C, NAN, 0.45, &by), N);
  ASSERT_EQ(by, NS_RULE_EXPANSION_MODEL);
  ASSERT_EQ(group_case(5, C, NAN, NAN, &by), N);
  /* the trial group 14 and group 33: above 0.25, no upper bound */
  ASSERT_EQ(group_case(14, C, 0.26, NAN, &by), C);
  ASSERT_EQ(by, NS_RULE_GROUP_MODEL_14);
  ASSERT_EQ(group_case(14, C, 0.25, NAN, &by), N);
  ASSERT_EQ(group_case(14, C, 0.95, NAN, &by), C);
  ASSERT_EQ(group_case(33, C, 0.95, NAN, &by), C);
  ASSERT_EQ(by, NS_RULE_GROUP_MODEL_33);
  ASSERT_EQ(group_case(33, C, 0.25, NAN, &by), N);
  /* groups without a promoting rule: 15..32 (18 only demotes) */
  ASSERT_EQ(group_case(15, C, 0.35, NAN, &by), N);
  ASSERT_EQ(group_case(18, C, 0.35, NAN, &by), N);
  ASSERT_EQ(by, NS_RULE_CORE_MODEL);
  /* the group's NYH promotes too (shown NMR without stabilization), but
  ** its NMR/CRNH/FIRM_REJECT never do */
  ASSERT_EQ(group_case(5, Y, 0.35, NAN, &by), N);
  ASSERT_EQ(by, NS_RULE_GROUP_MODEL_01 + 4);
  ASSERT_EQ(group_case(5, X, 0.35, NAN, &by), N);
  ASSERT_EQ(by, NS_RULE_CORE_MODEL);
  ASSERT_EQ(group_case(5, F, 0.35, NAN, &by), N);
  ASSERT_EQ(by, NS_RULE_CORE_MODEL);
}

TEST(meta_group_only_promotes_unblocked_nmr_or_nyh) {
  ns__note_facts f;
  ns_note_score s;
  ns__meta_out m;
  fresh(&f, &s);
  s.intercept = 0.35;
  s.modeling_group = 5;
  s.model[NS_MODEL_GROUP].status = C;

  /* a Core CRNH (or FIRM_REJECT) blocks the group */
  s.core_status = X;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, X);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  s.core_status = F;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  /* a note already CRH is left alone (decidedBy stays Core) */
  s.core_status = C;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ASSERT_EQ(m.rules, BASE | BIT(NS_RULE_CORE_MODEL));
  /* NYH -> CRH is a change; NYH -> NYH is not */
  s.core_status = Y;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_GROUP_MODEL_01 + 4);
  s.model[NS_MODEL_GROUP].status = Y;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ASSERT(!(m.rules & BIT(NS_RULE_GROUP_MODEL_01 + 4)));
}

/* ---- GroupModel33NMR, GroupModel18NMR ------------------------------------ */

TEST(meta_nmr_groups_demote) {
  ns__note_facts f;
  ns_note_score s;
  ns__meta_out m;
  fresh(&f, &s);
  s.core_status = C;
  s.intercept = 0.5;

  s.modeling_group = 33;
  s.model[NS_MODEL_GROUP].status = N;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_GROUP_MODEL_33_NMR);
  ASSERT_EQ(m.rules, BASE | BIT(NS_RULE_CORE_MODEL) | BIT(NS_RULE_GROUP_MODEL_33_NMR));

  s.modeling_group = 18;
  s.model[NS_MODEL_GROUP].status = X;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_GROUP_MODEL_18_NMR);

  /* a NYH is taken away too (then shown NMR) */
  s.core_status = Y;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.decided_by, NS_RULE_GROUP_MODEL_18_NMR);

  /* the group's CRH or FIRM_REJECT does not demote; nor does another
  ** group's NMR; nor is an NMR note touched */
  s.core_status = C;
  s.model[NS_MODEL_GROUP].status = F;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  s.model[NS_MODEL_GROUP].status = N;
  s.modeling_group = 13;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  s.modeling_group = 33;
  s.core_status = N;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ASSERT(!(m.rules & BIT(NS_RULE_GROUP_MODEL_33_NMR)));
}

/* ---- GaussianModel, GaussianCoreWithTopicsModel -------------------------- */

TEST(meta_gaussian_coverage) {
  ns__note_facts f;
  ns_note_score s;
  ns__meta_out m;
  fresh(&f, &s);
  s.core_status = N;

  /* NMR -> CRH */
  s.model[NS_MODEL_GAUSSIAN].status = C;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_GAUSSIAN_MODEL);
  /* the second coverage model finds it CRH: no update */
  s.model[NS_MODEL_GAUSSIAN_CORE_WITH_TOPICS].status = X;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_GAUSSIAN_MODEL);
  ASSERT(!(m.rules & BIT(NS_RULE_GAUSSIAN_CORE_WITH_TOPICS_MODEL)));

  /* CRNH coverage, even where Core firmly rejected */
  s.core_status = F;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, X);
  ASSERT_EQ(m.decided_by, NS_RULE_GAUSSIAN_CORE_WITH_TOPICS_MODEL);
  ASSERT_EQ(m.rules, BASE | BIT(NS_RULE_CORE_MODEL) | BIT(NS_RULE_GAUSSIAN_CORE_WITH_TOPICS_MODEL));

  /* ... but no CRH there (the firm-reject block) */
  s.model[NS_MODEL_GAUSSIAN_CORE_WITH_TOPICS].status = N;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);

  /* a CRH/CRNH note is not touched */
  s.core_status = X;
  s.model[NS_MODEL_GAUSSIAN].status = X;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);

  /* NYH -> NYH is no update; NYH -> CRH is */
  s.core_status = Y;
  s.model[NS_MODEL_GAUSSIAN].status = Y;
  s.model[NS_MODEL_GAUSSIAN_CORE_WITH_TOPICS].status = C;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_GAUSSIAN_CORE_WITH_TOPICS_MODEL);
  ASSERT(!(m.rules & BIT(NS_RULE_GAUSSIAN_MODEL)));
  /* NMR -> NYH is an update, and the second one's NYH then is not */
  s.core_status = N;
  s.model[NS_MODEL_GAUSSIAN_CORE_WITH_TOPICS].status = Y;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);  /* NYH shown as NMR without stabilization */
  ASSERT_EQ(m.decided_by, NS_RULE_GAUSSIAN_MODEL);
  ASSERT(!(m.rules & BIT(NS_RULE_GAUSSIAN_CORE_WITH_TOPICS_MODEL)));
  /* the model's FIRM_REJECT is nothing to cover with */
  s.model[NS_MODEL_GAUSSIAN].status = F;
  s.model[NS_MODEL_GAUSSIAN_CORE_WITH_TOPICS].status = U;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
}

/* ---- TopicModel01..05 ---------------------------------------------------- */

static int8_t topic_case(int topic, int confident, double ti, double tf, int8_t core,
                         int8_t *status) {
  ns__note_facts f;
  ns_note_score s;
  ns__meta_out m;
  fresh(&f, &s);
  s.core_status = core;
  s.topic = (int8_t)topic;
  s.topic_confident = (int8_t)confident;
  s.model[NS_MODEL_TOPIC].intercept = ti;
  s.model[NS_MODEL_TOPIC].factor = tf;
  s.model[NS_MODEL_TOPIC].status = C;
  ns__rules_meta(&f, &s, &m);
  *status = m.status;
  return m.decided_by;
}

TEST(meta_topic_demotion) {
  int8_t st;
  /* confident model, low intercept or large factor -> NMR */
  ASSERT_EQ(topic_case(NS_TOPIC_UKRAINE_CONFLICT, 1, 0.20, 0.0, C, &st), NS_RULE_TOPIC_MODEL_01);
  ASSERT_EQ(st, N);
  ASSERT_EQ(topic_case(NS_TOPIC_SCAMS, 1, 0.30, -0.6, C, &st), NS_RULE_TOPIC_MODEL_01 + 3);
  ASSERT_EQ(st, N);
  ASSERT_EQ(topic_case(NS_TOPIC_SCAMS, 1, 0.24, 0.51, C, &st), NS_RULE_CORE_MODEL);
  ASSERT_EQ(st, C);
  ASSERT_EQ(topic_case(NS_TOPIC_GAZA_CONFLICT, 1, 0.2399, 0.0, C, &st), NS_RULE_TOPIC_MODEL_01 + 1);
  /* NYH is demoted too */
  ASSERT_EQ(topic_case(NS_TOPIC_MESSI_RONALDO, 1, 0.1, 0.0, Y, &st), NS_RULE_TOPIC_MODEL_01 + 2);
  /* not confident, or no confidence value, or no topic: nothing */
  ASSERT_EQ(topic_case(NS_TOPIC_UKRAINE_CONFLICT, 0, 0.20, 0.0, C, &st), NS_RULE_CORE_MODEL);
  ASSERT_EQ(st, C);
  ASSERT_EQ(topic_case(NS_TOPIC_UKRAINE_CONFLICT, -1, 0.20, 0.0, C, &st), NS_RULE_CORE_MODEL);
  ASSERT_EQ(topic_case(NS_TOPIC_NONE, 1, 0.20, 0.0, C, &st), NS_RULE_CORE_MODEL);
  /* NaN topic scores never demote */
  ASSERT_EQ(topic_case(NS_TOPIC_UKRAINE_CONFLICT, 1, NAN, NAN, C, &st), NS_RULE_CORE_MODEL);
  /* a NMR/CRNH note is not touched */
  ASSERT_EQ(topic_case(NS_TOPIC_UKRAINE_CONFLICT, 1, 0.20, 0.0, X, &st), NS_RULE_CORE_MODEL);
  ASSERT_EQ(st, X);
  /* InDimensionTwo: intercept below 0.51 or |factor| above 1.0 */
  ASSERT_EQ(topic_case(NS_TOPIC_IN_DIMENSION_TWO, 1, 0.45, 0.9, C, &st), NS_RULE_TOPIC_MODEL_05);
  ASSERT_EQ(st, N);
  ASSERT_EQ(topic_case(NS_TOPIC_IN_DIMENSION_TWO, 1, 0.51, 1.0, C, &st), NS_RULE_CORE_MODEL);
  ASSERT_EQ(st, C);
  ASSERT_EQ(topic_case(NS_TOPIC_IN_DIMENSION_TWO, 1, 0.60, -1.01, C, &st), NS_RULE_TOPIC_MODEL_05);
  /* the same scores under the other topics' bounds: |factor| 1.0 > 0.51 */
  ASSERT_EQ(topic_case(NS_TOPIC_SCAMS, 1, 0.51, 1.0, C, &st), NS_RULE_TOPIC_MODEL_01 + 3);
  /* and 0.30/0.6, fine elsewhere but for the factor, is low for
  ** InDimensionTwo's intercept bound */
  ASSERT_EQ(topic_case(NS_TOPIC_IN_DIMENSION_TWO, 1, 0.30, 0.5, C, &st), NS_RULE_TOPIC_MODEL_05);
  ASSERT_EQ(topic_case(NS_TOPIC_SCAMS, 1, 0.30, 0.5, C, &st), NS_RULE_CORE_MODEL);
}

/* ---- PopulationSampledIntercept ------------------------------------------ */

TEST(meta_population_sampled_after_models) {
  ns__note_facts f;
  ns_note_score s;
  ns__meta_out m;
  fresh(&f, &s);
  f.guard = 1;
  f.icpt = 0.45;
  f.icpt_pop = 0.20;
  f.pop_neg = f.pop_pos = 4;
  /* a CRH from the Gaussian coverage is held at NMR too: the rule reads
  ** the status so far, not Core's */
  s.core_status = N;
  s.model[NS_MODEL_GAUSSIAN].status = C;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_POPULATION_SAMPLED);
  ASSERT_EQ(m.rules, BASE | BIT(NS_RULE_CORE_MODEL) | BIT(NS_RULE_GAUSSIAN_MODEL) |
                         BIT(NS_RULE_POPULATION_SAMPLED));
  /* a NYH is not */
  s.model[NS_MODEL_GAUSSIAN].status = Y;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.decided_by, NS_RULE_GAUSSIAN_MODEL);
}

/* ---- NmrDueToMinStableCrhTime ---------------------------------------------- */

TEST(meta_stabilization_scope_and_topic) {
  ns__note_facts f;
  ns_note_score s;
  ns__meta_out m;
  fresh(&f, &s);
  f.stab = 1;
  s.core_status = C;
  s.topic = NS_TOPIC_SCAMS;
  s.topic_confident = 0;
  s.model[NS_MODEL_TOPIC].intercept = 0.1; /* would demote if confident */
  s.model[NS_MODEL_TOPIC].factor = 0.0;

  /* a new CRH note: held at NMR, clock starts; the non-confident topic
  ** model does not demote */
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_STABILIZATION);
  ASSERT_EQ(m.rules, BASE | BIT(NS_RULE_CORE_MODEL) | BIT(NS_RULE_STABILIZATION));
  ASSERT_EQ(m.t_stab, NOW);

  /* 45 min in: the non-confident topic keeps it waiting, clock unchanged */
  f.t_stab = NOW - 45 * MIN;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_STABILIZATION);
  ASSERT_EQ(m.t_stab, NOW - 45 * MIN);
  /* past 60 min it is released whatever the topic says; Core decides */
  f.t_stab = NOW - 61 * MIN;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ASSERT(!(m.rules & BIT(NS_RULE_STABILIZATION)));
  ASSERT_EQ(m.t_stab, -1);

  /* a confident topic model demotes first; the note, now NMR, leaves its
  ** period (-1) */
  s.topic_confident = 1;
  f.t_stab = NOW - 45 * MIN;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_TOPIC_MODEL_01 + 3);
  ASSERT_EQ(m.t_stab, -1);

  /* outside the rule's scope the clock is "keep": an NMR note never in a
  ** period, and a note that was CRH before */
  s.topic = NS_TOPIC_NONE;
  s.core_status = N;
  f.t_stab = NS_TS_NONE;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.t_stab, NS_TS_NONE);
  f.t_stab = -1;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.t_stab, NS_TS_NONE);
  f.prev_status = C;
  s.core_status = C;
  f.t_stab = NOW - 45 * MIN;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ASSERT_EQ(m.t_stab, NS_TS_NONE);
  /* ... whose NYH, from any model, is held at CRH by the rule */
  s.core_status = N;
  s.model[NS_MODEL_GAUSSIAN].status = Y;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_STABILIZATION);
  ASSERT(m.rules & BIT(NS_RULE_GAUSSIAN_MODEL));

  /* a new note a group model makes NYH waits at NMR (stabilization is how
  ** NYH becomes public) */
  f.prev_status = U;
  f.t_stab = NS_TS_NONE;
  s.model[NS_MODEL_GAUSSIAN].status = U;
  s.intercept = 0.35;
  s.modeling_group = 2;
  s.model[NS_MODEL_GROUP].status = Y;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_STABILIZATION);
  ASSERT(m.rules & BIT(NS_RULE_GROUP_MODEL_01 + 1));
  ASSERT_EQ(m.t_stab, NOW);
}

/* ---- ScoringDriftGuard, InsufficientExplanation ------------------------------ */

TEST(meta_drift_guard_then_explanation) {
  ns__note_facts f;
  ns_note_score s;
  ns__meta_out m;
  fresh(&f, &s);
  s.model[NS_MODEL_EXPANSION_PLUS].status = C;
  s.core_status = N;

  /* locked CRNH beats every model */
  f.locked_status = X;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, X);
  ASSERT_EQ(m.decided_by, NS_RULE_DRIFT_GUARD);
  ASSERT_EQ(m.rules, BASE | BIT(NS_RULE_EXPANSION_PLUS_MODEL) | BIT(NS_RULE_CORE_MODEL) |
                         BIT(NS_RULE_DRIFT_GUARD));
  /* the two not-helpful tags */
  ASSERT(m.first_tag + m.second_tag == 23 && (m.first_tag == 10 || m.first_tag == 13));
  /* a lock equal to the status is no update */
  f.locked_status = N;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ASSERT(!(m.rules & BIT(NS_RULE_DRIFT_GUARD)));
  /* the lock undoes a topic demotion */
  f.locked_status = C;
  s.core_status = C;
  s.topic = NS_TOPIC_UKRAINE_CONFLICT;
  s.topic_confident = 1;
  s.model[NS_MODEL_TOPIC].intercept = 0.1;
  s.model[NS_MODEL_TOPIC].factor = 0;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, C);
  ASSERT_EQ(m.decided_by, NS_RULE_DRIFT_GUARD);
  ASSERT(m.rules & BIT(NS_RULE_TOPIC_MODEL_01));

  /* ... and InsufficientExplanation, after it, unsets a locked CRH that
  ** lacks two helpful tags */
  f.tag_count[2] = 1;
  ns__rules_meta(&f, &s, &m);
  ASSERT_EQ(m.status, N);
  ASSERT_EQ(m.decided_by, NS_RULE_INSUFFICIENT_EXPL);
  ASSERT(m.rules & BIT(NS_RULE_DRIFT_GUARD));
  ASSERT(m.rules & BIT(NS_RULE_INSUFFICIENT_EXPL));
  ASSERT_EQ(m.first_tag, -1);
}

/* ---- status history: fields and lock ----------------------------------------- */

TEST(meta_history_lock_by_decider) {
  static const int locking[] = {
      NS_RULE_CORE_MODEL, NS_RULE_CORE_WITH_TOPICS_MODEL, NS_RULE_EXPANSION_MODEL,
      NS_RULE_MULTI_GROUP_MODEL_01, NS_RULE_GROUP_MODEL_01, NS_RULE_GROUP_MODEL_01 + 6,
      NS_RULE_GROUP_MODEL_14, NS_RULE_GROUP_MODEL_33, NS_RULE_GROUP_MODEL_33_NMR,
      NS_RULE_GROUP_MODEL_18_NMR, NS_RULE_GAUSSIAN_MODEL, NS_RULE_GAUSSIAN_CORE_WITH_TOPICS_MODEL,
      NS_RULE_INSUFFICIENT_EXPL};
  static const int not_locking[] = {
      NS_RULE_META_INITIAL_NMR, NS_RULE_EXPANSION_PLUS_MODEL, NS_RULE_TOPIC_MODEL_01,
      NS_RULE_TOPIC_MODEL_05, NS_RULE_POPULATION_SAMPLED, NS_RULE_STABILIZATION,
      NS_RULE_DRIFT_GUARD, NS_RULE_INITIAL_NMR, NS_RULE_GENERAL_CRH, -1};
  int n_lock = 0;
  ns_note_score s;
  ns_nsh h;
  const int64_t created = NOW - 15 * DAY;

  for (size_t i = 0; i < NS_ARRAY_LEN(locking); i++) ASSERT_EQ(ns__locking_enabled(locking[i]), 1);
  for (size_t i = 0; i < NS_ARRAY_LEN(not_locking); i++)
    ASSERT_EQ(ns__locking_enabled(not_locking[i]), 0);
  for (int r = 0; r < NS_RULE_COUNT; r++) n_lock += ns__locking_enabled(r);
  ASSERT_EQ(n_lock, 24);  /* the 13 above plus GroupModel02..06, 08..13 */

  ns_note_score_init(&s, 9);
  s.final_status = C;
  s.model[NS_MODEL_EXPANSION_PLUS].status = C;

  /* 15 days old, decided by ExpansionPlusModel: no lock */
  s.decided_by = NS_RULE_EXPANSION_PLUS_MODEL;
  ns__history_update(NULL, 9, 2, created, &s, NOW, &h);
  ASSERT_EQ(h.locked_status, U);
  ASSERT_EQ(h.ts_lock, NS_TS_NONE);
  ASSERT_STREQ(h.decided_by, "ExpansionPlusModel (v1.1)");
  /* by CoreModel: locks */
  s.decided_by = NS_RULE_CORE_MODEL;
  s.core_status = C;
  ns__history_update(NULL, 9, 2, created, &s, NOW, &h);
  ASSERT_EQ(h.locked_status, C);
  ASSERT_EQ(h.ts_lock, NOW);
  ASSERT_STREQ(h.decided_by, "CoreModel (v1.1)");
  /* by GaussianModel, 13 days old: too young */
  s.decided_by = NS_RULE_GAUSSIAN_MODEL;
  ns__history_update(NULL, 9, 2, NOW - 13 * DAY, &s, NOW, &h);
  ASSERT_EQ(h.locked_status, U);
  ASSERT_STREQ(h.decided_by, "GaussianModel (v1.0)");
}

TEST(meta_history_fields) {
  ns_note_score s;
  ns_nsh h0, h1, h2;
  ns_note_score_init(&s, 9);
  s.final_status = N;
  s.decided_by = NS_RULE_MULTI_GROUP_MODEL_01;
  s.core_status = F;
  s.model[NS_MODEL_EXPANSION].status = Y;
  s.model[NS_MODEL_GROUP].status = X;
  s.modeling_group = 13;
  s.model[NS_MODEL_MULTI_GROUP].status = N;
  s.modeling_multi_group = 1;
  s.ts_nmr_due_to_stable_crh = NS_TS_NONE;

  /* a new note: scorer statuses as they are, modeling groups as numbers */
  ns__history_update(NULL, 9, 2, NOW - DAY, &s, NOW, &h0);
  ASSERT_EQ(h0.current_status, N);
  ASSERT_EQ(h0.current_core_status, F);
  ASSERT_EQ(h0.current_expansion_status, Y);
  ASSERT_EQ(h0.current_group_status, X);
  ASSERT(h0.current_modeling_group == 13.0);
  ASSERT_EQ(h0.current_multi_group_status, N);
  ASSERT(h0.current_modeling_multi_group == 1.0);
  ASSERT_STREQ(h0.decided_by, "MultiGroupModel01 (v1.0)");
  ASSERT_EQ(h0.ts_most_recent_change, NOW); /* UNSET -> NMR is a change */
  ASSERT_EQ(h0.first_non_nmr_status, U);
  ASSERT_EQ(h0.ts_nmr_due_to_stable_crh, NS_TS_NONE);
  ASSERT_EQ(h0.ts_first_nmr_due_to_stable_crh, NS_TS_NONE);

  /* no scorer: empty fields; same status: the last change stays; the
  ** stabilization clock starts and is remembered as the first start */
  s.core_status = U;
  s.model[NS_MODEL_EXPANSION].status = U;
  s.model[NS_MODEL_GROUP].status = U;
  s.modeling_group = -1;
  s.model[NS_MODEL_MULTI_GROUP].status = U;
  s.modeling_multi_group = -1;
  s.decided_by = NS_RULE_STABILIZATION;
  s.ts_nmr_due_to_stable_crh = NOW + 1000;
  ns__history_update(&h0, 9, 2, NOW - DAY, &s, NOW + 1000, &h1);
  ASSERT_EQ(h1.current_core_status, U);
  ASSERT(isnan(h1.current_modeling_group));
  ASSERT(isnan(h1.current_modeling_multi_group));
  ASSERT_EQ(h1.ts_most_recent_change, NOW);
  ASSERT_EQ(h1.ts_nmr_due_to_stable_crh, NOW + 1000);
  ASSERT_EQ(h1.ts_first_nmr_due_to_stable_crh, NOW + 1000);
  ASSERT_STREQ(h1.decided_by, "NmrDueToMinStableCrhTime (v1.0)");

  /* released: -1, first start kept; "keep" (NONE) keeps */
  s.final_status = C;
  s.decided_by = NS_RULE_CORE_MODEL;
  s.ts_nmr_due_to_stable_crh = -1;
  ns__history_update(&h1, 9, 2, NOW - DAY, &s, NOW + 2000, &h2);
  ASSERT_EQ(h2.ts_nmr_due_to_stable_crh, -1);
  ASSERT_EQ(h2.ts_first_nmr_due_to_stable_crh, NOW + 1000);
  ASSERT_EQ(h2.ts_most_recent_change, NOW + 2000);
  ASSERT_EQ(h2.first_non_nmr_status, C);
  s.ts_nmr_due_to_stable_crh = NS_TS_NONE;
  ns__history_update(&h2, 9, 2, NOW - DAY, &s, NOW + 3000, &h1);
  ASSERT_EQ(h1.ts_nmr_due_to_stable_crh, -1);
  ASSERT_EQ(h1.ts_most_recent_change, NOW + 2000);

  /* a first value of -1 is remembered too (the reference copies whatever
  ** the clock holds when the first start is empty) */
  s.ts_nmr_due_to_stable_crh = -1;
  ns__history_update(NULL, 9, 2, NOW - DAY, &s, NOW, &h1);
  ASSERT_EQ(h1.ts_first_nmr_due_to_stable_crh, -1);

  /* a locked note leaves stabilization for good: clock -1, first start
  ** untouched */
  s.ts_nmr_due_to_stable_crh = NOW;
  ns__history_update(NULL, 9, 2, NOW - 20 * DAY, &s, NOW, &h1);
  ASSERT_EQ(h1.locked_status, C);
  ASSERT_EQ(h1.ts_nmr_due_to_stable_crh, -1);
  ASSERT_EQ(h1.ts_first_nmr_due_to_stable_crh, NS_TS_NONE);

  /* a note from before 2022-05-19 keeps its first/latest non-NMR fields,
  ** new in the history or not */
  ns__history_update(NULL, 9, 2, 1600000000000LL, &s, NOW, &h1);
  ASSERT_EQ(h1.current_status, C);
  ASSERT_EQ(h1.first_non_nmr_status, U);
  ASSERT_EQ(h1.ts_first_non_nmr, NS_TS_NONE);
}
