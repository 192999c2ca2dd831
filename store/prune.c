/*
** store/prune.c -- deleting the score rows of old runs (serve --keep-runs).
**
** Every published run keeps its note_scores and rater_scores rows forever
** unless someone deletes them; on a server scoring every ten minutes that
** is the whole score table again every ten minutes.  ns_store_prune_runs()
** deletes the rows of the runs older than the newest `keep` published runs
** while the server ingests and readers read:
**
**   - in small transactions (at most `batch` rows each), with a pause after
**     each, so the ingest writer's group commits get the write lock between
**     them (its busy handler retries every millisecond) instead of waiting
**     behind one huge DELETE;
**   - each batch's WAL frames are checkpointed (PASSIVE) by the prune
**     itself: left in the WAL, they made the ingest commit that crossed the
**     auto-checkpoint size copy megabytes of deleted pages -- ack stalls of
**     up to 1 s while pruning 120 000 rows, none with this;
**   - readers are never blocked (WAL): a reader that started before a batch
**     committed still sees the rows, one that starts after does not;
**   - the current run (current_run) and the newest `keep` published runs are
**     never touched, whatever their ids; a 'running' run has no committed
**     rows (ns_store_run_publish writes them in its publishing transaction).
**
** Kept: the runs rows (the record of every run), note_status_changes (the
** status change log: one row per note whose status changed, what the
** status_changes view reads), note_status_history.  The note_history view
** and `explain`'s "status in every published run" list only the runs whose
** rows are kept.  A note refresh compares against the previous published
** run, so keep >= 2 is required.
**
** Durability: the prune handle commits with synchronous=NORMAL -- a crash
** can lose the last batches' deletions, never corrupt the DB (WAL), and the
** next prune deletes them again.
**
** Who calls it: server/server.c (a libuv worker, its own handle).  Thread:
** the handle's; *cancel may be set from any thread.
*/
#include "store_int.h"

#include <stdlib.h>
#include <time.h>

/* The oldest run with score rows in table below cutoff, other than
** current; 0 when there is none.  The primary key (run_id, ...) answers it
** with one index seek. */
static int oldest_run(ns_store *s, const char *table, int64_t cutoff, int64_t current,
                      int64_t *run) {
  char sql[160];
  sqlite3_stmt *st = NULL;
  int rc, src;
  *run = 0;
  snprintf(sql, sizeof sql,
           "SELECT run_id FROM %s WHERE run_id < ?1 AND run_id IS NOT ?2 ORDER BY run_id LIMIT 1",
           table);
  if ((rc = ns__db_prepare(s, sql, &st)) != 0) return rc;
  sqlite3_bind_int64(st, 1, cutoff);
  sqlite3_bind_int64(st, 2, current);
  src = sqlite3_step(st);
  if (src == SQLITE_ROW) *run = sqlite3_column_int64(st, 0);
  else if (src != SQLITE_DONE) {
    snprintf(s->errbuf, sizeof s->errbuf, "%s", sqlite3_errmsg(s->db));
    rc = ns__db_err(s, src);
  }
  sqlite3_finalize(st);
  return rc;
}

/* The boundaries: cutoff = id of the keep-th newest published run (runs
** below it are pruned; 0 = fewer published runs than keep: nothing to do),
** current = the run readers use. */
static int boundaries(ns_store *s, int keep, int64_t *cutoff, int64_t *current) {
  sqlite3_stmt *st = NULL;
  int rc;
  *cutoff = *current = 0;
  if ((rc = ns__db_prepare(s,
                           "SELECT (SELECT run_id FROM runs WHERE status = 'published'"
                           "        ORDER BY run_id DESC LIMIT 1 OFFSET ?1),"
                           "       (SELECT run_id FROM current_run WHERE id = 1)",
                           &st)) != 0)
    return rc;
  sqlite3_bind_int(st, 1, keep - 1);
  if (sqlite3_step(st) == SQLITE_ROW) {
    *cutoff = sqlite3_column_int64(st, 0);   /* NULL reads 0 */
    *current = sqlite3_column_int64(st, 1);
  } else {
    snprintf(s->errbuf, sizeof s->errbuf, "%s", sqlite3_errmsg(s->db));
    rc = NS_ESQL;
  }
  sqlite3_finalize(st);
  return rc;
}

int ns_store_prune_runs(ns_store *s, int keep, size_t batch, double pause_s,
                        const volatile int *cancel, ns_prune_stats *stats) {
  static const char *const tables[2] = {"note_scores", "rater_scores"};
  static const char *const keys[2] = {"note_id", "rater_id"};
  sqlite3_stmt *del[2] = {NULL, NULL};
  struct timespec pause = {(time_t)pause_s, (long)((pause_s - (double)(time_t)pause_s) * 1e9)};
  int64_t cutoff, current, last_run = 0;
  NS_VEC(int64_t) done = {0};   /* runs whose rows were deleted */
  int rc;
  ns_prune_stats st = {0};
  if (stats) *stats = st;
  if (!s || s->readonly || keep < 2 || batch == 0 || pause_s < 0) return NS_EINVAL;
  if ((rc = ns__db_exec(s, "PRAGMA synchronous=NORMAL")) != 0) return rc;
  if ((rc = boundaries(s, keep, &cutoff, &current)) != 0 || cutoff == 0) goto out;
  for (int t = 0; t < 2; t++) {
    char sql[256];
    /* one batch: the first `batch` keys of the run, in key order (the
    ** primary key index, no sort) */
    snprintf(sql, sizeof sql,
             "DELETE FROM %s WHERE run_id = ?1 AND %s IN "
             "(SELECT %s FROM %s WHERE run_id = ?1 ORDER BY %s LIMIT ?2)",
             tables[t], keys[t], keys[t], tables[t], keys[t]);
    if ((rc = ns__db_prepare(s, sql, &del[t])) != 0) goto out;
  }
  for (int t = 0; t < 2; t++) {
    for (;;) {
      int64_t run;
      int changed;
      if (cancel && *cancel) {
        rc = NS_ECANCELED;
        goto out;
      }
      if ((rc = oldest_run(s, tables[t], cutoff, current, &run)) != 0) goto out;
      if (run == 0) break;
      if ((rc = ns__db_exec(s, "BEGIN IMMEDIATE")) != 0) goto out;
      sqlite3_bind_int64(del[t], 1, run);
      sqlite3_bind_int64(del[t], 2, (sqlite3_int64)batch);
      if ((rc = ns__db_step_done(s, del[t])) != 0) {
        ns__db_rollback(s);
        goto out;
      }
      changed = sqlite3_changes(s->db);
      if ((rc = ns__db_exec(s, "COMMIT")) != 0) {
        ns__db_rollback(s);
        goto out;
      }
      /* copy the batch's WAL frames into the DB now, on this thread: left
      ** in the WAL they would be checkpointed by whichever commit crosses
      ** the auto-checkpoint size -- an ingest commit, stalled for it */
      sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
      st.rows += (uint64_t)changed;
      st.batches++;
      if (run != last_run) {   /* a run counted once over both tables */
        int seen = 0;
        for (size_t i = 0; i < done.n && !seen; i++) seen = done.a[i] == run;
        if (!seen && (rc = ns_vec_push(&done, run)) != 0) goto out;
        last_run = run;
      }
      if (pause_s > 0) nanosleep(&pause, NULL);
    }
  }
out:
  sqlite3_finalize(del[0]);
  sqlite3_finalize(del[1]);
  st.runs = done.n;
  for (size_t i = 0; i < done.n; i++) st.newest_pruned = NS_MAX(st.newest_pruned, done.a[i]);
  ns_vec_free(&done);
  /* the handle may serve other work after this: back to the default */
  if (!s->readonly) sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
  if (stats) *stats = st;
  return rc;
}
