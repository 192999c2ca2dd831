/*
** engine/meta.c -- the meta rules (reference §4.7): from every scorer's
** status of one note (ns_note_score: Core's fields and model[]) and the
** note's history facts to the public finalRatingStatus, decidedBy and
** metaScorerActiveRules.
**
** The rules run in the reference's order; the last one to touch a note
** decides it.  Pure functions of their arguments, called per note from pool
** workers (engine/pipeline.c) and by the note refresh (engine/refresh.c).
*/
#include <math.h>

#include "../guard/guard.h"
#include "pipeline_int.h"

#define BIT(r) (1ull << (r))

/* ---- meta rules -------------------------------------------------------- */

void ns__rules_meta(const ns__note_facts *f, const ns_note_score *s, ns__meta_out *out) {
  int8_t core_status = s->core_status;
  int8_t t1 = -1, t2 = -1;

  /* MetaInitialNMR: everything starts NMR (decided_by INITIAL_NMR is
  ** written as "MetaInitialNMR"). */
  out->status = NS_STATUS_NMR;
  out->decided_by = NS_RULE_INITIAL_NMR;
  out->rules = BIT(NS_RULE_INITIAL_NMR);
  out->first_tag = out->second_tag = -1;

  /* CoreModel: Core is the only scorer, and authoritative where it scored.
  ** FIRM_REJECT becomes NMR here; NEEDS_YOUR_HELP stays internal until
  ** stabilization has seen it (a previously-CRH note scored NYH is held at
  ** CRH there) and is shown as NMR below. */
  if (core_status != NS_STATUS_UNSET) {
    int8_t cs = core_status;
    if (cs == NS_STATUS_FIRM_REJECT) cs = NS_STATUS_NMR;
    out->status = cs;
    out->decided_by = NS_RULE_CORE_MODEL;
    out->rules |= BIT(NS_RULE_CORE_MODEL);
  }

  /* Slots: MultiGroup/Group/Gaussian/Topic are not run by notescore's
  ** Core-only meta. */

  /* PopulationSampledIntercept (§4.7 step 8): a CRH note whose intercept
  ** among population-sampled raters of both sides is low, and clearly below
  ** the Core intercept, is held at NMR. */
  if (f->guard && ns_guard_pop_demote(out->status, f->icpt, f->icpt_pop, f->pop_neg, f->pop_pos)) {
    out->status = NS_STATUS_NMR;
    out->decided_by = NS_RULE_POPULATION_SAMPLED;
    out->rules |= BIT(NS_RULE_POPULATION_SAMPLED);
  }

  /* NmrDueToMinStableCrhTime (§4.8): a note newly going CRH waits (NMR)
  ** until it has been CRH-worthy for long enough; the clock lives in the
  ** history's timestampMillisOfNmrDueToMinStableCrhTime. */
  out->t_stab = f->t_stab;
  if (f->stab) {
    ns_guard_stab_in si = {f->prev_status, out->status, f->t_stab, f->first_non_nmr,
                           0 /* no topic notes */, -1 /* no pflip model */, f->now_ms};
    ns_guard_stab_out so;
    ns_guard_stabilize(&si, &so);
    out->t_stab = so.t_stab;
    if (so.fired) {
      out->status = (int8_t)so.status;
      out->decided_by = NS_RULE_STABILIZATION;
      out->rules |= BIT(NS_RULE_STABILIZATION);
    }
  }
  if (out->status == NS_STATUS_NYH) out->status = NS_STATUS_NMR; /* internal only */

  /* ScoringDriftGuard: a locked note keeps its locked status. */
  if (f->locked_status >= 0 && f->locked_status != out->status) {
    out->status = f->locked_status;
    out->decided_by = NS_RULE_DRIFT_GUARD;
    out->rules |= BIT(NS_RULE_DRIFT_GUARD);
  }

  /* InsufficientExplanation: a rated note must carry two tags of its valence
  ** used by >= 2 raters each; it also fills firstTag/secondTag.  It runs
  ** after the drift guard, so it can unset a locked CRH, as the reference. */
  if (out->status == NS_STATUS_CRH || out->status == NS_STATUS_CRNH) {
    int n = ns__top_two_tags(f->tag_count, out->status == NS_STATUS_CRH, &t1, &t2);
    if (n >= NS__MIN_TAGS_NEEDED) {
      out->first_tag = t1;
      out->second_tag = t2;
    } else {
      out->status = NS_STATUS_NMR;
      out->decided_by = NS_RULE_INSUFFICIENT_EXPL;
      out->rules |= BIT(NS_RULE_INSUFFICIENT_EXPL);
    }
  }
}


void ns__rules_meta_core(const ns__note_facts *f, int8_t core_status, ns__meta_out *out) {
  ns_note_score s;
  ns_note_score_init(&s, 0);
  s.core_status = core_status;
  ns__rules_meta(f, &s, out);
}
