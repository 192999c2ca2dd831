/*
** engine/pipeline_history.c -- the note status history update (reference
** §4.9): current status and its timestamp, the first and the most recent
** non-NMR status, the most recent change, and the two-week lock.
**
** The output history is the next run's input, so these fields carry the
** state that makes scoring incremental: GeneralCRHInertia reads
** currentStatus, ScoringDriftGuard reads lockedStatus, and the validity of
** ratings (§3.1) reads timestampMillisOfLatestNonNMRStatus.
**
** Who calls it: engine/pipeline.c, per note.  Pure function.
*/
#include <string.h>

#include "pipeline_int.h"

int ns__locking_enabled(int rule) {
  /* Of the rules notescore runs, CoreModel and InsufficientExplanation lock;
  ** ScoringDriftGuard and MetaInitialNMR do not (reference lockingEnabled). */
  return rule == NS_RULE_CORE_MODEL || rule == NS_RULE_INSUFFICIENT_EXPL;
}

void ns__history_update(const ns_nsh *prev, int64_t note_id, int32_t author, int64_t created,
                        const ns_note_score *sc, int64_t now_ms, ns_nsh *out) {
  int8_t final = sc->final_status;
  int keep_old_fields;

  if (prev) {
    *out = *prev;
  } else {
    ns_nsh_init(out, note_id);
  }
  if (out->author < 0) out->author = author;
  if (out->created_ms == NS_TS_NONE) out->created_ms = created;

  /* Notes from before 2022-05-19 that already have a history row keep their
  ** first/latest non-NMR fields (the reference leaves them untouched). */
  keep_old_fields = prev && out->created_ms != NS_TS_NONE &&
                    out->created_ms < NS__HISTORICAL_CUTOFF_MS;

  /* Most recent change: now when the status moved, else -1. */
  out->ts_most_recent_change = out->current_status != final ? now_ms : -1;

  if (!keep_old_fields && final != NS_STATUS_NMR && final >= 0) {
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

  out->current_status = final;
  out->ts_current = now_ms;
  out->current_core_status = sc->core_status;
  out->current_expansion_status = NS_STATUS_UNSET;
  out->current_group_status = NS_STATUS_UNSET;
  out->current_multi_group_status = NS_STATUS_UNSET;
  /* Stabilization clock (§4.8): the meta step's new value; 0 = it did not
  ** run, keep the previous one.  The first start is remembered too. */
  if (sc->ts_nmr_due_to_stable_crh != 0) {
    int64_t t = sc->ts_nmr_due_to_stable_crh;
    if (t > 0 && t != out->ts_nmr_due_to_stable_crh &&
        out->ts_first_nmr_due_to_stable_crh == NS_TS_NONE)
      out->ts_first_nmr_due_to_stable_crh = t;
    out->ts_nmr_due_to_stable_crh = t;
  }
  snprintf(out->decided_by, sizeof out->decided_by, "%s", ns__meta_rule_name(sc->decided_by));

  /* Two-week lock: once a note is older than 14 days, a status decided by
  ** a locking rule becomes permanent (ScoringDriftGuard enforces it). */
  if (out->locked_status == NS_STATUS_UNSET && out->created_ms != NS_TS_NONE &&
      now_ms - out->created_ms > NS__LOCK_MS && ns__locking_enabled(sc->decided_by)) {
    out->locked_status = final;
    out->ts_lock = now_ms;
  }
}
