/*
** engine/rules.c -- the note status rules: the scorer chain (reference §4.1)
** (engine/meta.c holds the meta rules, §4.7).
**
** Each rule is a small function named after the reference rule.  A rule
** looks at one note's facts (ns__note_facts) and the status so far; when its
** condition holds it "fires" (its bit goes into the note's rule mask, like
** the reference's activeRules) and may overwrite the status -- later rules
** win, as in the reference's ordered rule list.
**
** Who calls it: engine/pipeline.c, per note, from pool workers.  Pure
** functions of their arguments; no shared state.
**
** Guardrail rules read verdicts computed by engine/pipeline_guard.c
** (facts.guard = 1).  Every slot of the reference's chain is evaluated
** (docs/guardrails.md).
*/
#include <math.h>

#include "../guard/guard.h"
#include "pipeline_int.h"

#define BIT(r) (1ull << (r))

/* A rule hit: record it and set the status. */
static void fire(ns__rule_out *o, int rule, int status) {
  o->rules |= BIT(rule);
  o->status = (int8_t)status;
}

static int has_model(const ns__note_facts *f) { return !isnan(f->icpt) && !isnan(f->fac); }

/* ---- guardrail rules (verdicts from engine/pipeline_guard.c) ----------- */

/* UcbCRNH: even the most favourable pseudo-rater cannot lift the note's
** intercept to -0.04. */
static void rule_ucb_crnh(const ns__note_facts *f, ns__rule_out *o) {
  if (f->guard && !isnan(f->icpt_max) && ns_guard_ucb_crnh(f->n_ratings, f->icpt_max))
    fire(o, NS_RULE_UCB_CRNH, NS_STATUS_CRNH);
}

static int reject_status(const ns_params *p);

/* TagFilter / FilterIncorrect: non-CRNH notes only. */
static void rule_tag_filter(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  if (f->guard && f->tag_fired && o->status != NS_STATUS_CRNH)
    fire(o, NS_RULE_TAG_FILTER, reject_status(p));
}
static void rule_incorrect_filter(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  if (f->guard && f->incorrect_fired && o->status != NS_STATUS_CRNH)
    fire(o, NS_RULE_INCORRECT_FILTER, reject_status(p));
}

/* FilterLowDiligence: the low-diligence model (guard_diligence.c) says the
** note's ratings carry the Incorrect / sources tags well beyond what its
** raters' habits explain (lowDiligenceIntercept > 0.263); non-CRNH only. */
static void rule_low_diligence(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  /* the scorer's lowDiligenceThreshold (group 14: 1000, i.e. off) */
  int low = f->thr_low_diligence > 0 ? !isnan(f->low_diligence) && f->low_diligence > f->thr_low_diligence
                                     : ns_guard_low_diligence(f->low_diligence);
  if (f->guard && low && o->status != NS_STATUS_CRNH)
    fire(o, NS_RULE_LOW_DILIGENCE, reject_status(p));
}

/* NoHighVolIntercept: a CRH note whose intercept without high-volume raters
** is below 0.37 (the scorer's crhThresholdNoHighVol) needs your help. */
static void rule_no_high_vol(const ns__note_facts *f, ns__rule_out *o) {
  double thr = f->thr_no_high_vol > 0 ? f->thr_no_high_vol : NS_GUARD_NO_HIGHVOL_CRH;
  if (f->guard && ns_guard_low_baseline(o->status, f->icpt_no_high_vol, thr))
    fire(o, NS_RULE_NO_HIGH_VOL, NS_STATUS_NYH);
}

/* NoCorrelatedIntercept: likewise without the raters of quasi-cliques
** (graph/qclique.c), i.e. a CRH note that rests on a coordinated group. */
static void rule_no_correlated(const ns__note_facts *f, ns__rule_out *o) {
  double thr = f->thr_no_correlated > 0 ? f->thr_no_correlated : NS_GUARD_NO_HIGHVOL_CRH;
  if (f->guard && ns_guard_low_baseline(o->status, f->icpt_no_correlated, thr))
    fire(o, NS_RULE_NO_CORRELATED, NS_STATUS_NYH);
}

/* ---- scorer rules ------------------------------------------------------ */

/* InitialNMR: every note the scorer sees starts NEEDS_MORE_RATINGS. */
static void rule_initial_nmr(ns__rule_out *o) { fire(o, NS_RULE_INITIAL_NMR, NS_STATUS_NMR); }

/* GeneralCRH: n >= 5, i_n >= 0.40, and the note says the post is misleading
** (deleted notes, with no classification, are eligible). */
static void rule_general_crh(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  if (has_model(f) && f->n_ratings >= p->min_ratings_note && f->icpt >= p->crh_threshold &&
      f->cls != NS_CLASS_NOT_MISLEADING)
    fire(o, NS_RULE_GENERAL_CRH, NS_STATUS_CRH);
}

/* GeneralCRNH, the "diamond": i_n <= -0.05 - 0.8 |f_n|.  A note with a large
** factor needs a proportionally lower intercept to be rated not helpful. */
static void rule_general_crnh(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  if (has_model(f) && f->n_ratings >= p->min_ratings_note &&
      f->icpt <= p->crnh_threshold + p->crnh_factor_mult * fabs(f->fac))
    fire(o, NS_RULE_GENERAL_CRNH, NS_STATUS_CRNH);
}

/* RatioCRNH (final round): enough raters on both factor sides, both sides
** mostly not helpful (mean <= 0.4 each, average of the means <= 0.3). */
static void rule_ratio_crnh(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  if (f->n_ratings < p->min_ratings_note) return;
  if (NS_MIN(f->n_neg, f->n_pos) < 3) return;
  if (!(f->mean_neg <= 0.4 && f->mean_pos <= 0.4)) return;
  if (!((f->mean_neg + f->mean_pos) / 2.0 <= 0.3)) return;
  fire(o, NS_RULE_RATIO_CRNH, NS_STATUS_CRNH);
}

/* NmCRNH: a note claiming "not misleading" with a clearly low intercept. */
static void rule_nm_crnh(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  if (has_model(f) && f->cls == NS_CLASS_NOT_MISLEADING && f->icpt < p->nm_crnh_threshold)
    fire(o, NS_RULE_NM_CRNH, NS_STATUS_CRNH);
}

/* GeneralCRHInertia: a note that was CRH last run keeps CRH while its
** intercept stays within inertia_delta below the threshold. */
static void rule_crh_inertia(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  if (o->status == NS_STATUS_CRH) return;
  if (has_model(f) && f->n_ratings >= p->min_ratings_note &&
      f->icpt >= p->crh_threshold - p->inertia_delta && f->prev_status == NS_STATUS_CRH &&
      f->cls != NS_CLASS_NOT_MISLEADING)
    fire(o, NS_RULE_CRH_INERTIA, NS_STATUS_CRH);
}

/* CRHSuperThreshold (reference note_ratings.py:827-845): after TagFilter, a
** note that says the post is misleading, with >= 5 ratings and an
** intercept >= the scorer's crhSuperThreshold (0.5; f->crh_super, 0 = that
** default, < 0 = the scorer has none) is CRH again, whatever the tag filter
** said; the filters after it still apply. */
static double crh_super(const ns__note_facts *f) { return f->crh_super != 0 ? f->crh_super : 0.5; }
static void rule_crh_super(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  double thr = crh_super(f);
  if (thr < 0) return;
  if (has_model(f) && f->n_ratings >= p->min_ratings_note && f->icpt >= thr &&
      f->cls != NS_CLASS_NOT_MISLEADING)
    fire(o, NS_RULE_CRH_SUPER, NS_STATUS_CRH);
}

/* ElevatedCRHInertia: the same inertia as GeneralCRHInertia around the
** super threshold (a note CRH last run keeps CRH above crhSuper - delta). */
static void rule_elevated_inertia(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  double thr = crh_super(f);
  if (thr < 0 || o->status == NS_STATUS_CRH) return;
  if (has_model(f) && f->n_ratings >= p->min_ratings_note && f->icpt >= thr - p->inertia_delta &&
      f->prev_status == NS_STATUS_CRH && f->cls != NS_CLASS_NOT_MISLEADING)
    fire(o, NS_RULE_ELEVATED_CRH_INERTIA, NS_STATUS_CRH);
}

/* The status the Core scorer's filters emit: FIRM_REJECT when a firm-reject
** threshold is configured (MFCoreScorer: 0.3), else NMR. */
static int reject_status(const ns_params *p) {
  return isnan(p->firm_reject_threshold) ? NS_STATUS_NMR : NS_STATUS_FIRM_REJECT;
}

/* FilterLargeFactor: a CRH note explained mostly by one side (|f_n| > 0.5). */
static void rule_large_factor(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  if (o->status == NS_STATUS_CRH && fabs(f->fac) > p->factor_threshold)
    fire(o, NS_RULE_LARGE_FACTOR, reject_status(p));
}

/* RejectLowIntercept: any non-CRNH note with i_n < firm_reject_threshold is
** FIRM_REJECT, so downstream models (group/meta) cannot promote it. */
static void rule_reject_low_intercept(const ns__note_facts *f, const ns_params *p,
                                      ns__rule_out *o) {
  if (isnan(p->firm_reject_threshold) || !has_model(f)) return;
  if (o->status != NS_STATUS_CRNH && f->icpt < p->firm_reject_threshold)
    fire(o, NS_RULE_REJECT_LOW_INTERCEPT, NS_STATUS_FIRM_REJECT);
}

/* Net helpful of the weaker side: max(0, min(net_neg, net_pos)). */
static int32_t net_min_helpful(const ns__note_facts *f) {
  int32_t m = NS_MIN(f->net_neg, f->net_pos);
  return m < 0 ? 0 : m;
}

/* MinMinorityRaters: a CRH note needs >= 4 net helpful ratings from each
** factor side; otherwise NEEDS_YOUR_HELP. */
static void rule_min_minority(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  if (p->min_minority_net_helpful <= 0) return;
  if (o->status == NS_STATUS_CRH && net_min_helpful(f) < p->min_minority_net_helpful)
    fire(o, NS_RULE_MIN_MINORITY_RATERS, NS_STATUS_NYH);
}

/* RaterBalance: CRH with a weak side (4 <= netMin < 10) that is also a tiny
** share of the signed ratings (netMin / total < 0.05) -> NEEDS_YOUR_HELP. */
static void rule_rater_balance(const ns__note_facts *f, const ns_params *p, ns__rule_out *o) {
  int32_t m = net_min_helpful(f), total = f->n_neg + f->n_pos;
  if (p->min_minority_net_helpful <= 0 || o->status != NS_STATUS_CRH) return;
  if (m >= p->min_minority_net_helpful && m < 10 && total > 0 &&
      (double)m / (double)total < p->min_minority_net_ratio)
    fire(o, NS_RULE_RATER_BALANCE, NS_STATUS_NYH);
}

void ns__rules_provisional(const ns__note_facts *f, const ns_params *p, ns__rule_out *out) {
  out->status = NS_STATUS_NMR;
  out->rules = 0;
  rule_initial_nmr(out);
  rule_general_crh(f, p, out);
  rule_general_crnh(f, p, out);
  /* UcbCRNH and RatioCRNH do not run in prescoring (no bounds, final only) */
  rule_nm_crnh(f, p, out);
}

void ns__rules_final(const ns__note_facts *f, const ns_params *p, ns__rule_out *out) {
  out->status = NS_STATUS_NMR;
  out->rules = 0;
  rule_initial_nmr(out);                /* 1 */
  rule_general_crh(f, p, out);          /* 2 */
  rule_general_crnh(f, p, out);         /* 3 */
  rule_ucb_crnh(f, out);                /* 4 */
  rule_ratio_crnh(f, p, out);           /* 5 */
  rule_nm_crnh(f, p, out);              /* 6 */
  rule_crh_inertia(f, p, out);          /* 7 */
  rule_tag_filter(f, p, out);           /* 8 */
  rule_crh_super(f, p, out);            /* 8a */
  rule_elevated_inertia(f, p, out);     /* 8b */
  rule_incorrect_filter(f, p, out);     /* 9 */
  rule_low_diligence(f, p, out);        /* 10 */
  rule_large_factor(f, p, out);         /* 11 */
  rule_reject_low_intercept(f, p, out); /* 12 */
  rule_min_minority(f, p, out);         /* 13 */
  rule_rater_balance(f, p, out);        /* 14 */
  rule_no_high_vol(f, out);             /* 15 */
  rule_no_correlated(f, out);           /* 15 */
}

/* ---- explanation tags -------------------------------------------------- */

/* Tag a beats tag b: more uses, then the higher tie-break rank. */
static int tag_beats(const int32_t *cnt, int a, int b) {
  if (cnt[a] != cnt[b]) return cnt[a] > cnt[b];
  return ns_tag_rank[a] > ns_tag_rank[b];
}

int ns__top_two_tags(const int32_t *tag_count, int want_helpful, int8_t *first, int8_t *second) {
  int lo = want_helpful ? 0 : NS_N_HELPFUL_TAGS;
  int hi = want_helpful ? NS_N_HELPFUL_TAGS : NS_N_TAGS;
  int a = -1, b = -1, n = 0;
  for (int t = lo; t < hi; t++) {
    if (tag_count[t] < NS__MIN_TAG_RATINGS) continue;
    n++;
    if (a < 0 || tag_beats(tag_count, t, a)) {
      b = a;
      a = t;
    } else if (b < 0 || tag_beats(tag_count, t, b)) {
      b = t;
    }
  }
  *first = (int8_t)a;
  *second = (int8_t)b;
  return n > 2 ? 2 : n;
}

/* ---- helpfulness filter bit -------------------------------------------- */

int ns__above_threshold(double ratio_diff, double mean_score, double agree,
                        double agree_harassment, const ns_params *p) {
  /* Authors of scored notes must have a good record; non-authors (both
  ** values NaN) pass this part.  NaN comparisons are false, so a rater with
  ** no valid rating (agree NaN) fails, as in the reference. */
  int author_ok = (ratio_diff >= p->min_crh_vs_crnh && mean_score >= p->min_mean_note_score) ||
                  (isnan(ratio_diff) && isnan(mean_score));
  return author_ok && agree >= p->min_agree_ratio && agree_harassment >= p->min_agree_ratio;
}
