/*
** engine/meta.c -- the meta rules (reference §4.7): from every scorer's
** status of one note (ns_note_score: Core's fields, model[] and the note's
** scopes) and the note's history facts to the public finalRatingStatus,
** decidedBy and metaScorerActiveRules.
**
** The rules run in the reference's order (run_scoring.py meta_score,
** 08c656b lines 815-1040, listed in ns__meta_order below).  A rule "touches"
** a note when the reference's rule returns the note among its status
** updates, whether or not the status changes (ApplyModelResult returns
** every note its scorer scored); every touching rule goes into the mask and
** the last one is decidedBy (scoring_rules.py apply_scoring_rules).
**
** Pure functions of their arguments, called per note from pool workers
** (engine/pipeline.c) and by the note refresh (engine/refresh.c).
*/
#include <math.h>
#include <stdio.h>

#include "../guard/guard.h"
#include "pipeline_int.h"

#define BIT(r) (1ull << (r))

/* Bounds of the group rules (scoring_rules.py ApplyGroupModelResult): the
** actionable intercept (Core's, else Expansion's) must lie in (0.30, 0.40)
** -- minSafeguardThreshold and the Core/Expansion crhThreshold -- or, for
** the trial group 14 and group 33, above 0.25 with no upper bound. */
#define GROUP_MIN_SAFEGUARD 0.30
#define GROUP_CRH_THRESHOLD 0.40
#define GROUP_TRIAL_MIN_SAFEGUARD 0.25
#define GROUP_TRIAL 14
#define GROUP_NMR 33         /* nmrScoringGroup */
#define GROUP_NMR_TRIAL 18   /* nmrTrialScoringGroup */
/* ApplyTopicModelResult: a confident topic model with intercept below 0.24
** or |factor| above 0.51 demotes; InDimensionTwo uses 0.51 and 1.0. */
#define TOPIC_NMR_INTERCEPT 0.24
#define TOPIC_NMR_FACTOR 0.51
#define TOPIC_D2_NMR_INTERCEPT 0.51
#define TOPIC_D2_NMR_FACTOR 1.0

const int8_t ns__meta_order[NS__META_ORDER_LEN] = {
    NS_RULE_META_INITIAL_NMR, NS_RULE_EXPANSION_PLUS_MODEL, NS_RULE_EXPANSION_MODEL,
    NS_RULE_CORE_WITH_TOPICS_MODEL, NS_RULE_CORE_MODEL, NS_RULE_MULTI_GROUP_MODEL_01,
    NS_RULE_GROUP_MODEL_01 + 0, NS_RULE_GROUP_MODEL_01 + 1, NS_RULE_GROUP_MODEL_01 + 2,
    NS_RULE_GROUP_MODEL_01 + 3, NS_RULE_GROUP_MODEL_01 + 4, NS_RULE_GROUP_MODEL_01 + 5,
    NS_RULE_GROUP_MODEL_01 + 6, NS_RULE_GROUP_MODEL_01 + 7, NS_RULE_GROUP_MODEL_01 + 8,
    NS_RULE_GROUP_MODEL_01 + 9, NS_RULE_GROUP_MODEL_01 + 10, NS_RULE_GROUP_MODEL_01 + 11,
    NS_RULE_GROUP_MODEL_01 + 12, NS_RULE_GROUP_MODEL_14, NS_RULE_GROUP_MODEL_33,
    NS_RULE_GROUP_MODEL_33_NMR, NS_RULE_GROUP_MODEL_18_NMR, NS_RULE_GAUSSIAN_MODEL,
    NS_RULE_GAUSSIAN_CORE_WITH_TOPICS_MODEL, NS_RULE_TOPIC_MODEL_01 + 0,
    NS_RULE_TOPIC_MODEL_01 + 1, NS_RULE_TOPIC_MODEL_01 + 2, NS_RULE_TOPIC_MODEL_01 + 3,
    NS_RULE_TOPIC_MODEL_05, NS_RULE_POPULATION_SAMPLED, NS_RULE_STABILIZATION,
    NS_RULE_DRIFT_GUARD, NS_RULE_INSUFFICIENT_EXPL};

void ns__meta_rule_label(int rule, char *buf, size_t cap) {
  if (rule < 0 || rule >= NS_RULE_COUNT) {
    if (cap) buf[0] = 0;
    return;
  }
  snprintf(buf, cap, "%s (v%s)", ns__meta_rule_name(rule), ns_rule_versions[rule]);
}

/* ---- helpers ----------------------------------------------------------- */

static void touch(ns__meta_out *out, int rule, int8_t status) {
  out->status = status;
  out->decided_by = (int8_t)rule;
  out->rules |= BIT(rule);
}

static int is_crh_or_nyh(int s) { return s == NS_STATUS_CRH || s == NS_STATUS_NYH; }
static int is_nmr_or_nyh(int s) { return s == NS_STATUS_NMR || s == NS_STATUS_NYH; }
static int is_reject(int s) { return s == NS_STATUS_FIRM_REJECT || s == NS_STATUS_CRNH; }

/* ApplyModelResult: any status the scorer gave, FIRM_REJECT shown as NMR
** (NYH stays internal until stabilization). */
static void apply_model(ns__meta_out *out, int rule, int8_t status) {
  if (status == NS_STATUS_UNSET) return;
  touch(out, rule, status == NS_STATUS_FIRM_REJECT ? NS_STATUS_NMR : status);
}

/* Core or Expansion rejected the note (FIRM_REJECT/CRNH; Expansion counts
** only where Core did not score it): no downstream rule may make it CRH or
** NYH (scoring_rules.py crhBlocked / blocked). */
static int crh_blocked(const ns_note_score *s) {
  return is_reject(s->core_status) ||
         (s->core_status == NS_STATUS_UNSET && is_reject(s->model[NS_MODEL_EXPANSION].status));
}

/* The actionable-intercept test of ApplyGroupModelResult: Core's intercept
** when Core has one, else Expansion's, strictly inside (lo, hi) (hi < 0:
** no upper bound); neither intercept -> not actionable. */
static int actionable(const ns_note_score *s, double lo, double hi) {
  double v = s->intercept;
  if (isnan(v)) v = s->model[NS_MODEL_EXPANSION].intercept;
  if (isnan(v)) return 0;
  return v > lo && (hi < 0 || v < hi);
}

/* ApplyGroupModelResult for group g: promotes a current NMR/NYH to the
** group model's CRH/NYH (not NYH -> NYH). */
static void apply_group(ns__meta_out *out, const ns_note_score *s, int rule, int g, double lo,
                        double hi, int blocked) {
  int8_t gs = s->model[NS_MODEL_GROUP].status;
  if (blocked || s->modeling_group != g || !is_crh_or_nyh(gs)) return;
  if (!is_nmr_or_nyh(out->status) || (gs == NS_STATUS_NYH && out->status == NS_STATUS_NYH)) return;
  if (!actionable(s, lo, hi)) return;
  touch(out, rule, gs);
}

/* ApplyNMRGroupModelResult for group g: demotes a current CRH/NYH to NMR
** when the group model says NMR or CRNH. */
static void apply_nmr_group(ns__meta_out *out, const ns_note_score *s, int rule, int g) {
  int8_t gs = s->model[NS_MODEL_GROUP].status;
  if (s->modeling_group != g || (gs != NS_STATUS_NMR && gs != NS_STATUS_CRNH)) return;
  if (!is_crh_or_nyh(out->status)) return;
  touch(out, rule, NS_STATUS_NMR);
}

/* ApplyCoverageModelResult with checkFirmReject and crnhCoverage: a
** current NMR/NYH takes the model's CRH/NYH (unless blocked) or CRNH; a
** NYH -> NYH change is no update. */
static void apply_coverage(ns__meta_out *out, int rule, int8_t ms, int blocked) {
  int take = (is_crh_or_nyh(ms) && !blocked) || ms == NS_STATUS_CRNH;
  if (!take || !is_nmr_or_nyh(out->status)) return;
  if (ms == NS_STATUS_NYH && out->status == NS_STATUS_NYH) return;
  touch(out, rule, ms);
}

/* ---- meta rules -------------------------------------------------------- */

void ns__rules_meta(const ns__note_facts *f, const ns_note_score *s, ns__meta_out *out) {
  const int blocked = crh_blocked(s);
  int8_t t1 = -1, t2 = -1;

  /* MetaInitialNMR: every note starts NMR. */
  out->status = NS_STATUS_NMR;
  out->decided_by = NS_RULE_META_INITIAL_NMR;
  out->rules = BIT(NS_RULE_META_INITIAL_NMR);
  out->first_tag = out->second_tag = -1;

  /* The plain models, lowest priority first: Core, where it scored the
  ** note, has the last word. */
  apply_model(out, NS_RULE_EXPANSION_PLUS_MODEL, s->model[NS_MODEL_EXPANSION_PLUS].status);
  apply_model(out, NS_RULE_EXPANSION_MODEL, s->model[NS_MODEL_EXPANSION].status);
  apply_model(out, NS_RULE_CORE_WITH_TOPICS_MODEL, s->model[NS_MODEL_CORE_WITH_TOPICS].status);
  apply_model(out, NS_RULE_CORE_MODEL, s->core_status);

  /* MultiGroupModel01 overrides for the notes of multi-group 1, except a
  ** CRH/NYH that Core/Expansion rejected. */
  if (s->modeling_multi_group == 1) {
    int8_t ms = s->model[NS_MODEL_MULTI_GROUP].status;
    if (!(blocked && is_crh_or_nyh(ms))) apply_model(out, NS_RULE_MULTI_GROUP_MODEL_01, ms);
  }

  /* GroupModel01..13 in (0.30, 0.40), then the trial group 14 and group 33
  ** above 0.25.  A note has one modelingGroup, so at most one fires. */
  for (int g = 1; g <= 14; g++) {
    int trial = g == GROUP_TRIAL;
    apply_group(out, s, NS_RULE_GROUP_MODEL_01 + g - 1, g,
                trial ? GROUP_TRIAL_MIN_SAFEGUARD : GROUP_MIN_SAFEGUARD,
                trial ? -1.0 : GROUP_CRH_THRESHOLD, blocked);
  }
  apply_group(out, s, NS_RULE_GROUP_MODEL_33, GROUP_NMR, GROUP_TRIAL_MIN_SAFEGUARD, -1.0, blocked);
  /* The NMR groups only ever take CRH away (GroupModel15NMR does not exist
  ** at the pinned commit). */
  apply_nmr_group(out, s, NS_RULE_GROUP_MODEL_33_NMR, GROUP_NMR);
  apply_nmr_group(out, s, NS_RULE_GROUP_MODEL_18_NMR, GROUP_NMR_TRIAL);

  /* The Gaussian scorers extend coverage (CRH/NYH and CRNH) to notes still
  ** NMR/NYH. */
  apply_coverage(out, NS_RULE_GAUSSIAN_MODEL, s->model[NS_MODEL_GAUSSIAN].status, blocked);
  apply_coverage(out, NS_RULE_GAUSSIAN_CORE_WITH_TOPICS_MODEL,
                 s->model[NS_MODEL_GAUSSIAN_CORE_WITH_TOPICS].status, blocked);

  /* TopicModel01..05: a confident topic model that finds a CRH/NYH note
  ** weak on its topic (low intercept or large factor) holds it at NMR. */
  if (s->topic > NS_TOPIC_NONE && s->topic < NS_TOPIC_COUNT && s->topic_confident == 1 &&
      is_crh_or_nyh(out->status)) {
    int d2 = s->topic == NS_TOPIC_IN_DIMENSION_TWO;
    double ti = s->model[NS_MODEL_TOPIC].intercept, tf = s->model[NS_MODEL_TOPIC].factor;
    if (ti < (d2 ? TOPIC_D2_NMR_INTERCEPT : TOPIC_NMR_INTERCEPT) ||
        fabs(tf) > (d2 ? TOPIC_D2_NMR_FACTOR : TOPIC_NMR_FACTOR))
      touch(out, NS_RULE_TOPIC_MODEL_01 + s->topic - 1, NS_STATUS_NMR);
  }

  /* PopulationSampledIntercept (§4.7 step 8): a CRH note whose intercept
  ** among population-sampled raters of both sides is low, and clearly below
  ** the Core intercept, is held at NMR. */
  if (f->guard && ns_guard_pop_demote(out->status, f->icpt, f->icpt_pop, f->pop_neg, f->pop_pos))
    touch(out, NS_RULE_POPULATION_SAMPLED, NS_STATUS_NMR);

  /* NmrDueToMinStableCrhTime (§4.8): a note newly going CRH waits (NMR)
  ** until it has been CRH-worthy for long enough; a previously-CRH note
  ** scored NYH stays CRH; the clock lives in the history's
  ** timestampMillisOfNmrDueToMinStableCrhTime.  t_stab is the reference's
  ** updated timestamp: NS_TS_NONE (keep the history's) for notes outside
  ** the rule's scope -- previously CRH, or neither going CRH/NYH nor in a
  ** period. */
  out->t_stab = NS_TS_NONE;
  if (f->stab) {
    int topic_unconfident = s->topic != NS_TOPIC_NONE && s->topic_confident == 0;
    ns_guard_stab_in si = {f->prev_status, out->status, f->t_stab, f->first_non_nmr,
                           topic_unconfident, -1 /* no pflip model */, f->now_ms};
    ns_guard_stab_out so;
    ns_guard_stabilize(&si, &so);
    if (f->prev_status != NS_STATUS_CRH &&
        (is_crh_or_nyh(out->status) || (f->t_stab != NS_TS_NONE && f->t_stab > 0)))
      out->t_stab = so.t_stab;
    if (so.fired) touch(out, NS_RULE_STABILIZATION, (int8_t)so.status);
  }

  /* ScoringDriftGuard: a locked note keeps its locked status. */
  if (f->locked_status >= 0 && f->locked_status != out->status)
    touch(out, NS_RULE_DRIFT_GUARD, f->locked_status);

  /* InsufficientExplanation: a rated note must carry two tags of its valence
  ** used by >= 2 raters each; it also fills firstTag/secondTag.  It runs
  ** after the drift guard, so it can unset a locked CRH, as the reference. */
  if (out->status == NS_STATUS_CRH || out->status == NS_STATUS_CRNH) {
    int n = ns__top_two_tags(f->tag_count, out->status == NS_STATUS_CRH, &t1, &t2);
    if (n >= NS__MIN_TAGS_NEEDED) {
      out->first_tag = t1;
      out->second_tag = t2;
    } else {
      touch(out, NS_RULE_INSUFFICIENT_EXPL, NS_STATUS_NMR);
    }
  }

  /* NYH is internal.  With stabilization on it never gets here (the rule
  ** turns every NYH into CRH or NMR); without it the reference would
  ** publish NEEDS_YOUR_HELP, notescore publishes NMR. */
  if (out->status == NS_STATUS_NYH) out->status = NS_STATUS_NMR;
}

void ns__rules_meta_core(const ns__note_facts *f, int8_t core_status, ns__meta_out *out) {
  ns_note_score s;
  ns_note_score_init(&s, 0);
  s.core_status = core_status;
  s.intercept = f->icpt;
  ns__rules_meta(f, &s, out);
}
