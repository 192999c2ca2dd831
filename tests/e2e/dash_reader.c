/*
** tests/e2e/dash_reader.c -- a dashboard-like reader for dash_consistency.sh.
**
**   dash_reader DB STOPFILE
**
** Opens DB read-only (no busy timeout: a reader that would have to wait for
** the writer fails the test) and, until STOPFILE exists, takes snapshots:
** one read transaction each, querying the views the way a dashboard does,
** and checks that the snapshot is one whole published run:
**   - run_summary's current run has n_notes / n_crh / n_crnh / n_nmr equal
**     to what current_note_status holds, and every row of that view is of
**     that run;
**   - rater_reputation has n_raters rows;
**   - status_changes of the run equals a recomputation from note_scores
**     (the run against the previous published run);
**   - the current run id never goes backwards.
** Prints "snapshots=N runs=M" and exits 0, or prints what broke and exits 1
** (any SQLite error, SQLITE_BUSY included, is a failure).
** After its first snapshot it creates STOPFILE.ready, and the script starts
** the writers only then: the first process to open a WAL database after
** every connection closed rebuilds the WAL index, and a connection without
** a busy handler that begins a read during that rebuild gets
** SQLITE_BUSY_RECOVERY (261).  That start-up race is not a reader waiting
** for a writer; once this reader's connection holds the WAL index, no
** rebuild happens again while it lives.
** Built by the e2e script with `cc dash_reader.c -lsqlite3`; not part of
** the library.
*/
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <unistd.h>

static sqlite3 *db;

static void die(const char *what) {
  fprintf(stderr, "dash_reader: %s: %s (code %d)\n", what, sqlite3_errmsg(db),
          sqlite3_extended_errcode(db));
  exit(1);
}

/* Runs sql with up to two int64 parameters; fills out[0..n) from the first
** row (0 when NULL).  Returns 1 if there was a row. */
static int q(const char *sql, long long p1, long long p2, long long *out, int n) {
  sqlite3_stmt *st = NULL;
  int src, row = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die(sql);
  if (sqlite3_bind_parameter_count(st) >= 1) sqlite3_bind_int64(st, 1, p1);
  if (sqlite3_bind_parameter_count(st) >= 2) sqlite3_bind_int64(st, 2, p2);
  src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    row = 1;
    for (int i = 0; i < n; i++) out[i] = sqlite3_column_int64(st, i);
  } else if (src != SQLITE_DONE) {
    die(sql);
  }
  sqlite3_finalize(st);
  return row;
}

int main(int argc, char **argv) {
  long long snaps = 0, runs = 0, last = -1;
  if (argc != 3) {
    fprintf(stderr, "usage: dash_reader DB STOPFILE\n");
    return 2;
  }
  if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) die("open");
  while (access(argv[2], F_OK) != 0) {
    long long rs[7] = {0}, cn[5] = {0}, rr = 0, ch = 0, re = 0;
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) die("BEGIN");
    if (q("SELECT run_id, n_notes, n_crh, n_crnh, n_nmr, n_raters, prev_run_id"
          " FROM run_summary WHERE is_current = 1", 0, 0, rs, 7)) {
      q("SELECT count(*),"
        " coalesce(sum(status = 'CURRENTLY_RATED_HELPFUL'), 0),"
        " coalesce(sum(status = 'CURRENTLY_RATED_NOT_HELPFUL'), 0),"
        " coalesce(sum(status = 'NEEDS_MORE_RATINGS'), 0),"
        " coalesce(sum(run_id <> ?1), 0) FROM current_note_status",
        rs[0], 0, cn, 5);
      q("SELECT count(*) FROM rater_reputation", 0, 0, &rr, 1);
      q("SELECT count(*) FROM status_changes WHERE run_id = ?1", rs[0], 0, &ch, 1);
      q("SELECT count(*) FROM note_scores n LEFT JOIN note_scores p"
        " ON p.run_id = ?2 AND p.note_id = n.note_id"
        " WHERE n.run_id = ?1 AND p.final_status IS NOT n.final_status",
        rs[0], rs[6], &re, 1);
      if (cn[0] != rs[1] || cn[1] != rs[2] || cn[2] != rs[3] || cn[3] != rs[4] || cn[4] != 0) {
        fprintf(stderr, "dash_reader: run %lld: summary notes/crh/crnh/nmr %lld/%lld/%lld/%lld,"
                        " view %lld/%lld/%lld/%lld (%lld rows of another run)\n",
                rs[0], rs[1], rs[2], rs[3], rs[4], cn[0], cn[1], cn[2], cn[3], cn[4]);
        return 1;
      }
      if (rr != rs[5]) {
        fprintf(stderr, "dash_reader: run %lld: %lld raters in summary, %lld in view\n", rs[0],
                rs[5], rr);
        return 1;
      }
      if (ch != re) {
        fprintf(stderr, "dash_reader: run %lld: %lld status changes, recomputed %lld\n", rs[0],
                ch, re);
        return 1;
      }
      if (rs[0] < last) {
        fprintf(stderr, "dash_reader: current run went back from %lld to %lld\n", last, rs[0]);
        return 1;
      }
      if (rs[0] != last) runs++;
      last = rs[0];
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) die("COMMIT");
    if (snaps++ == 0) {
      /* STOPFILE.ready: the connection is set up (see the file comment) */
      char ready[4096];
      FILE *rf;
      snprintf(ready, sizeof ready, "%s.ready", argv[2]);
      if ((rf = fopen(ready, "w")) != NULL) fclose(rf);
    }
  }
  sqlite3_close(db);
  printf("snapshots=%lld runs=%lld last=%lld\n", snaps, runs, last);
  return 0;
}
