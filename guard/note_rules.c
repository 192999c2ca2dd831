/*
** guard/note_rules.c -- per-note guardrail rules that need no model:
** stabilization delay (reference-algorithm.md §4.8) and the harassment
** labels and rater penalty (§3.2, §3.6).  ScoringDriftGuard and the
** two-week lock (§4.9) live in engine/rules.c and engine/pipeline_history.c.
**
** Each rule is a pure function of one note's (or one rating's) fields so the
** pipeline can call it inside whatever loop it already has, and tests can
** walk every branch by hand.
**
** Who calls it: engine/pipeline.c, run thread.  No allocation, no state.
*/
#include "guard.h"

#include <math.h>
#include <string.h>

/* ---- stabilization (NmrDueToMinStableCrhTime) ------------------------- */

void ns_guard_stabilize(const ns_guard_stab_in *in, ns_guard_stab_out *out) {
  int s = in->scored_status;
  int64_t t = in->t_stab;
  int going_crh = s == NS_STATUS_CRH, going_nyh = s == NS_STATUS_NYH;
  out->status = s;
  out->t_stab = t;
  out->fired = 0;

  /* Notes that were CRH in the previous run never enter stabilization; the
  ** only effect is that a drop to NYH is held at CRH. */
  if (in->prev_status == NS_STATUS_CRH) {
    if (going_nyh) {
      out->status = NS_STATUS_CRH;
      out->fired = 1;
    }
    return;
  }

  if (t == NS_TS_NONE) {
    /* (A) never stabilised: a note trying to go CRH/NYH starts the clock */
    if (going_crh || going_nyh) {
      out->status = NS_STATUS_NMR;
      out->t_stab = in->now_ms;
    }
  } else if (t < 0) {
    /* (B) exited an earlier period: CRH restarts it, NYH just waits */
    if (going_crh) {
      out->status = NS_STATUS_NMR;
      out->t_stab = in->now_ms;
    } else if (going_nyh) {
      out->status = NS_STATUS_NMR;
    }
  } else if (t > 0) {
    int64_t el = in->now_ms - t;
    if (!going_crh && !going_nyh) {
      out->t_stab = -1; /* (2) stopped trying: leave the period, keep status */
    } else if (going_crh && el > NS_GUARD_STAB_CRH_MAX_MS) {
      out->status = NS_STATUS_CRH; /* (C)(a) waited long enough */
      out->t_stab = -1;
    } else if (going_nyh && el > NS_GUARD_STAB_NYH_MAX_MS) {
      out->status = NS_STATUS_NMR; /* (C)(b) NYH for too long */
      out->t_stab = -1;
    } else if (el < NS_GUARD_STAB_MIN_MS) {
      out->status = NS_STATUS_NMR; /* (C)(c) too early */
    } else if (in->topic_unconfident) {
      out->status = NS_STATUS_NMR; /* (C)(d) */
    } else if (in->first_non_nmr == NS_STATUS_CRH || in->pflip_crh != 1) {
      /* (C)(e) flipped before, or predicted to flip; a missing pflip
      ** prediction counts as "will flip" in the reference */
      out->status = NS_STATUS_NMR;
    } else if (going_nyh) {
      out->status = NS_STATUS_NMR; /* (C)(f) */
    } else {
      out->status = NS_STATUS_CRH; /* (C)(g) stable: release */
      out->t_stab = -1;
    }
  }
  out->fired = out->status != s;
}

/* ---- harassment labels and penalty ------------------------------------ */

int ns_guard_harassment_label(uint8_t level, uint32_t tags) {
  if (tags & NS_TAG_BIT(NS_TAG_NH_SPAM_HARASSMENT)) return 1;
  if (level == NS_LEVEL_HELPFUL) return 0;
  if (tags & NS_TAG_BIT(NS_TAG_NH_OTHER)) return 0;
  return -1;
}

void ns_guard_harassment_penalty(const ns_bigraph *g, const ns_dataset *ds,
                                 const uint32_t *r_src, const double *note_icpt,
                                 double *penalty) {
  memset(penalty, 0, g->n_raters * sizeof *penalty);
  for (size_t e = 0, cur = 0; e < g->n_edges; e++) {
    int32_t n = ns_bigraph_next_note(g, e, &cur), u = g->edge_rater[e];
    if (ns_r_level(ds, r_src ? r_src[e] : e) != NS_LEVEL_HELPFUL) continue;
    double h = note_icpt[n];
    /* every helpful rating on a note the model calls abusive costs the rater
    ** 10 x (intercept / 2); NaN (note not in the model) costs nothing */
    if (!isnan(h) && h >= NS_GUARD_HARASS_MIN)
      penalty[u] += NS_GUARD_HARASS_PENALTY * (h / NS_GUARD_HARASS_MIN);
  }
}
