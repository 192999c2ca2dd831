/*
** engine/pipeline_history.c -- the note status history update (reference
** §4.9, note_status_history.py): current status and its timestamp, the
** scorers' statuses it tracks (Core, Expansion, the note's group and
** multi-group models and their modeling groups), currentDecidedBy as the
** reference's "Name (vX.Y)", the first and the most recent non-NMR status,
** the most recent change, the stabilization clock and the two-week lock.
**
** The output history is the next run's input, so these fields carry the
** state that makes scoring incremental: GeneralCRHInertia reads
** currentStatus, ScoringDriftGuard reads lockedStatus, and the validity of
** ratings (§3.1) reads timestampMillisOfLatestNonNMRStatus.
**
** Who calls it: engine/pipeline.c, per note.  Pure function.
*/
#include <math.h>
#include <string.h>

#include "pipeline_int.h"

int ns__locking_enabled(int rule) {
  /* scoring_rules.py RuleID, third field (lockingEnabled): the models whose
  ** decisions show to everyone lock; the experimental or guarding ones
  ** (ExpansionPlusModel, the topic models, PopulationSampledIntercept,
  ** NmrDueToMinStableCrhTime, ScoringDriftGuard, MetaInitialNMR) do not. */
  if (rule >= NS_RULE_GROUP_MODEL_01 && rule <= NS_RULE_GROUP_MODEL_14) return 1;
  switch (rule) {
  case NS_RULE_CORE_MODEL:
  case NS_RULE_CORE_WITH_TOPICS_MODEL:
  case NS_RULE_EXPANSION_MODEL:
  case NS_RULE_MULTI_GROUP_MODEL_01:
  case NS_RULE_GROUP_MODEL_33:
  case NS_RULE_GROUP_MODEL_33_NMR:
  case NS_RULE_GROUP_MODEL_18_NMR:
  case NS_RULE_GAUSSIAN_MODEL:
  case NS_RULE_GAUSSIAN_CORE_WITH_TOPICS_MODEL:
  case NS_RULE_INSUFFICIENT_EXPL:
    return 1;
  default:
    return 0;
  }
}

void ns__history_update(const ns_nsh *prev, int64_t note_id, int32_t author, int64_t created,
                        const ns_note_score *sc, int64_t now_ms, ns_nsh *out) {
  int8_t final = sc->final_status;
  int64_t t_new = sc->ts_nmr_due_to_stable_crh;

  if (prev) {
    *out = *prev;
  } else {
    ns_nsh_init(out, note_id);
  }
  if (out->author < 0) out->author = author;
  if (out->created_ms == NS_TS_NONE) out->created_ms = created;

  /* Most recent change: now when the status moved; otherwise the previous
  ** value stays, and a missing one becomes -1. */
  if (out->current_status != final) out->ts_most_recent_change = now_ms;
  else if (out->ts_most_recent_change == NS_TS_NONE) out->ts_most_recent_change = -1;

  /* This run's verdicts of the scorers the history tracks (FIRM_REJECT and
  ** NYH are written as they are, UNSET as empty). */
  out->current_status = final;
  out->ts_current = now_ms;
  out->current_core_status = sc->core_status;
  out->current_expansion_status = sc->model[NS_MODEL_EXPANSION].status;
  out->current_group_status = sc->model[NS_MODEL_GROUP].status;
  out->current_modeling_group = sc->modeling_group >= 0 ? (double)sc->modeling_group : NAN;
  out->current_multi_group_status = sc->model[NS_MODEL_MULTI_GROUP].status;
  out->current_modeling_multi_group =
      sc->modeling_multi_group >= 0 ? (double)sc->modeling_multi_group : NAN;
  ns__meta_rule_label(sc->decided_by, out->decided_by, sizeof out->decided_by);

  /* Two-week lock: once a note is older than 14 days, a status decided by
  ** a locking rule becomes permanent (ScoringDriftGuard enforces it). */
  if (out->locked_status == NS_STATUS_UNSET && out->created_ms != NS_TS_NONE &&
      now_ms - out->created_ms > NS__LOCK_MS && ns__locking_enabled(sc->decided_by)) {
    out->locked_status = final;
    out->ts_lock = now_ms;
  }

  /* Stabilization clock (§4.8): a locked note leaves stabilization for
  ** good (-1); otherwise the meta step's updated value replaces it (0 or
  ** NS_TS_NONE: the rule did not cover the note, keep it), and the first
  ** value it ever takes -- even -1 -- is remembered as the first start. */
  if (out->locked_status != NS_STATUS_UNSET) {
    out->ts_nmr_due_to_stable_crh = -1;
  } else if (t_new != 0 && t_new != NS_TS_NONE) {
    out->ts_nmr_due_to_stable_crh = t_new;
    if (out->ts_first_nmr_due_to_stable_crh == NS_TS_NONE)
      out->ts_first_nmr_due_to_stable_crh = t_new;
  }

  /* Notes from before 2022-05-19 keep their first/latest non-NMR fields
  ** (the reference returns before updating them). */
  if (out->created_ms != NS_TS_NONE && out->created_ms < NS__HISTORICAL_CUTOFF_MS) return;

  if (final != NS_STATUS_NMR && final >= 0) {
    if (out->first_non_nmr_status == NS_STATUS_UNSET) {
      out->first_non_nmr_status = final;
      out->ts_first_non_nmr = now_ms;
    }
    /* first non-NMR status, or a CRH <-> CRNH flip */
    if (out->most_recent_non_nmr_status != final) {
      out->most_recent_non_nmr_status = final;
      out->ts_latest_non_nmr = now_ms;
    }
  }
}
