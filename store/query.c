/*
** store/query.c -- the read-only queries of the dashboards and the read
** endpoints (contract in query.h).
**
** Each function prepares its statement, steps it and hands the rows out as
** the plain structs of query.h; nothing here formats.  The statements read
** the dashboard views (docs/dashboards.md), so a dashboard and this file
** agree on what a column means, and the views stay the one contract with
** the score tables.  Statements are prepared per call: the reads are few
** next to their rows (an explanation is ~6 statements, a report ~8), and a
** reader stays a plain connection with nothing to keep in step with the
** schema.
**
** Who calls it: dash/, server/read.c, tools/.  Thread: the reader's.
*/
#include "query.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

struct ns_reader {
  ns_store *s;          /* opened NS_STORE_READONLY */
  sqlite3_stmt *held;   /* the last single-row getter's statement: its
                           text columns back the row handed out */
  int in_txn;           /* between ns_reader_begin and ns_reader_end */
  char err[256];
};

/* ---- handle ----------------------------------------------------------------- */

int ns_reader_open(const char *path, ns_reader **out) {
  ns_reader *r = ns_calloc(1, sizeof *r);
  int rc;
  *out = NULL;
  if (!r) return NS_ENOMEM;
  if ((rc = ns_store_open(path, NS_STORE_READONLY, &r->s)) != 0) {
    free(r);
    return rc;
  }
  /* SQLite's default 2 MB page cache, not the store's 64 MiB: a reader
  ** lives for one request or one page, and a large cache only mallocs and
  ** faults in a fresh page for every page read (a report of 30 000 notes
  ** took twice the CPU with it) */
  if (sqlite3_exec(r->s->db, "PRAGMA cache_size=-2000", NULL, NULL, NULL) != SQLITE_OK) {
    ns_store_close(r->s);
    free(r);
    return NS_ESQL;
  }
  *out = r;
  return 0;
}

static void release(ns_reader *r) {
  sqlite3_finalize(r->held);
  r->held = NULL;
}

void ns_reader_close(ns_reader *r) {
  if (!r) return;
  release(r);
  ns_reader_end(r);
  ns_store_close(r->s);
  free(r);
}

const char *ns_reader_errmsg(const ns_reader *r) {
  if (!r) return "no reader";
  return r->err[0] ? r->err : "no error";
}

/* Records the connection's message and maps the SQLite code. */
static int fail(ns_reader *r, int src) {
  snprintf(r->err, sizeof r->err, "%s", sqlite3_errmsg(r->s->db));
  return ns__db_err(r->s, src);
}

int ns_reader_begin(ns_reader *r) {
  int src;
  release(r);
  if (r->in_txn) return 0;
  if ((src = sqlite3_exec(r->s->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK) return fail(r, src);
  r->in_txn = 1;
  return 0;
}

void ns_reader_end(ns_reader *r) {
  if (!r || !r->in_txn) return;
  release(r);
  /* read-only: COMMIT only ends the snapshot */
  sqlite3_exec(r->s->db, "COMMIT", NULL, NULL, NULL);
  r->in_txn = 0;
}

/* ---- statement helpers ----------------------------------------------------- */

static int prep(ns_reader *r, const char *sql, sqlite3_stmt **st) {
  int src;
  release(r);
  if ((src = sqlite3_prepare_v2(r->s->db, sql, -1, st, NULL)) != SQLITE_OK) {
    *st = NULL;
    return fail(r, src);
  }
  return 0;
}

/* Steps: 1 a row, 0 the end, <0 an error. */
static int step(ns_reader *r, sqlite3_stmt *st) {
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) return 1;
  if (src == SQLITE_DONE) return 0;
  return fail(r, src);
}

static int64_t col_i64(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NS_Q_NULL : sqlite3_column_int64(st, i);
}

static double col_f64(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static const char *col_txt(sqlite3_stmt *st, int i) {
  return (const char *)sqlite3_column_text(st, i);   /* NULL for SQL NULL */
}

/* ---- runs ----------------------------------------------------------------- */

int ns_q_current_run(ns_reader *r, int64_t *run_id) {
  sqlite3_stmt *st;
  int rc;
  *run_id = 0;
  if ((rc = prep(r, "SELECT run_id FROM current_run", &st)) != 0) return rc;
  if ((rc = step(r, st)) == 1) *run_id = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc < 0 ? rc : rc == 0 ? NS_ENODATA : 0;
}

int ns_q_run_ids(ns_reader *r, int64_t *current, int64_t *newest) {
  sqlite3_stmt *st;
  int rc;
  *current = *newest = 0;
  if ((rc = prep(r, "SELECT (SELECT run_id FROM current_run), (SELECT max(run_id) FROM runs)",
                 &st)) != 0)
    return rc;
  if ((rc = step(r, st)) == 1) {
    *current = sqlite3_column_int64(st, 0);   /* NULL reads as 0 */
    *newest = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  return rc < 0 ? rc : 0;
}

int ns_q_last_run_seconds(ns_reader *r, double *seconds) {
  sqlite3_stmt *st;
  int rc;
  *seconds = 0;
  if ((rc = prep(r, "SELECT (finished_ms - started_ms) / 1000.0 FROM runs"
                    " WHERE finished_ms IS NOT NULL ORDER BY run_id DESC LIMIT 1", &st)) != 0)
    return rc;
  if ((rc = step(r, st)) == 1) *seconds = sqlite3_column_double(st, 0);
  sqlite3_finalize(st);
  return rc < 0 ? rc : rc == 0 ? NS_ENODATA : 0;
}

int ns_q_last_success_ms(ns_reader *r, int64_t *ms) {
  sqlite3_stmt *st;
  int rc;
  *ms = 0;
  if ((rc = prep(r, "SELECT max(finished_ms) FROM runs WHERE status = 'published'", &st)) != 0)
    return rc;
  if ((rc = step(r, st)) == 1) {
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) rc = 0;
    else *ms = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return rc < 0 ? rc : rc == 0 ? NS_ENODATA : 0;
}

int ns_q_run_params(ns_reader *r, int64_t run_id, char **json) {
  return ns_store_run_params(r->s->db, run_id, json);
}

/* run_summary's columns, in the order of ns_q_run. */
#define RUN_COLS                                                                       \
  "run_id, status, started_ms, finished_ms, wall_seconds, seconds, version, params,"  \
  " n_ratings, n_notes, n_raters, n_crh, n_crnh, n_nmr, is_current, now_ms,"          \
  " n_ratings_round1, n_ratings_round2, n_raters_round1, n_raters_round2,"            \
  " n_notes_round1, n_notes_round2, mf_passes, stage_seconds, global_intercept,"      \
  " prev_run_id"

static void run_row(sqlite3_stmt *st, ns_q_run *o) {
  o->run_id = sqlite3_column_int64(st, 0);
  o->status = col_txt(st, 1);
  o->started_ms = col_i64(st, 2);
  o->finished_ms = col_i64(st, 3);
  o->wall_seconds = col_f64(st, 4);
  o->seconds = col_f64(st, 5);
  o->version = col_txt(st, 6);
  o->params = col_txt(st, 7);
  o->n_ratings = col_i64(st, 8);
  o->n_notes = col_i64(st, 9);
  o->n_raters = col_i64(st, 10);
  o->n_crh = col_i64(st, 11);
  o->n_crnh = col_i64(st, 12);
  o->n_nmr = col_i64(st, 13);
  o->is_current = sqlite3_column_int(st, 14) != 0;
  o->now_ms = col_i64(st, 15);
  o->n_ratings_round1 = col_i64(st, 16);
  o->n_ratings_round2 = col_i64(st, 17);
  o->n_raters_round1 = col_i64(st, 18);
  o->n_raters_round2 = col_i64(st, 19);
  o->n_notes_round1 = col_i64(st, 20);
  o->n_notes_round2 = col_i64(st, 21);
  o->mf_passes = col_i64(st, 22);
  o->stage_seconds = col_txt(st, 23);
  o->global_intercept = col_f64(st, 24);
  o->prev_run_id = col_i64(st, 25);
}

int ns_q_runs(ns_reader *r, const ns_q_run_filter *f, ns_q_run_fn fn, void *ctx) {
  static const ns_q_run_filter all = {0};
  char sql[768];
  sqlite3_stmt *st;
  int rc;
  if (!f) f = &all;
  /* the newest `limit` rows first, then in the asked order */
  snprintf(sql, sizeof sql,
           "SELECT * FROM (SELECT " RUN_COLS " FROM run_summary WHERE 1%s%s"
           " ORDER BY run_id DESC LIMIT ?2) ORDER BY run_id %s",
           f->current_only ? " AND is_current = 1" : "", f->status ? " AND status = ?1" : "",
           f->oldest_first ? "ASC" : "DESC");
  if ((rc = prep(r, sql, &st)) != 0) return rc;
  if (f->status) sqlite3_bind_text(st, 1, f->status, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, f->limit > 0 ? f->limit : -1);
  while ((rc = step(r, st)) == 1) {
    ns_q_run row;
    run_row(st, &row);
    if ((rc = fn(ctx, &row)) != 0) break;
  }
  sqlite3_finalize(st);
  return rc;
}

/* ---- notes of the current run ------------------------------------------------ */

#define NOTE_COLS                                                                     \
  "note_id, run_id, scored_at_ms, status, core_status, decided_by, classification,"  \
  " num_ratings, num_final_round_ratings, intercept, factor, intercept_min,"         \
  " intercept_max, intercept_r1, factor_r1, low_diligence_intercept, first_tag,"     \
  " second_tag, core_rules, meta_rules, active_filter_tags, created_ms," NS__MODEL_COLS \
  " " NS__NOTE_V6_COLS

/* The v6 columns from column c on: NS__MODEL_COLS then NS__NOTE_V6_COLS. */
static void note_row_v6(sqlite3_stmt *st, int c, ns_q_note *o) {
  for (int m = 0; m < NS_MODEL_COUNT; m++) {
    ns_q_model *x = &o->model[m];
    x->intercept = col_f64(st, c++);
    x->factor = col_f64(st, c++);
    x->status = col_txt(st, c++);
    x->rules = (uint64_t)sqlite3_column_int64(st, c++); /* NULL reads 0 */
    x->n_final_round = col_i64(st, c++);
    x->intercept_no_high_vol = col_f64(st, c++);
    x->intercept_no_correlated = col_f64(st, c++);
  }
  o->modeling_group = col_i64(st, c++);
  o->modeling_multi_group = col_i64(st, c++);
  o->topic = col_txt(st, c++);
  o->topic_confident =
      sqlite3_column_type(st, c) == SQLITE_NULL ? -1 : sqlite3_column_int(st, c);
  c++;
  o->intercept_pop = col_f64(st, c++);
  o->cwt_intercept_min = col_f64(st, c++);
  o->cwt_intercept_max = col_f64(st, c);
}

static void note_row(sqlite3_stmt *st, ns_q_note *o) {
  o->note_id = sqlite3_column_int64(st, 0);
  o->run_id = sqlite3_column_int64(st, 1);
  o->scored_at_ms = col_i64(st, 2);
  o->status = col_txt(st, 3);
  o->core_status = col_txt(st, 4);
  o->decided_by = col_txt(st, 5);
  o->classification = sqlite3_column_int(st, 6);
  o->num_ratings = col_i64(st, 7);
  o->num_final_round_ratings = col_i64(st, 8);
  o->intercept = col_f64(st, 9);
  o->factor = col_f64(st, 10);
  o->intercept_min = col_f64(st, 11);
  o->intercept_max = col_f64(st, 12);
  o->intercept_r1 = col_f64(st, 13);
  o->factor_r1 = col_f64(st, 14);
  o->low_diligence_intercept = col_f64(st, 15);
  o->first_tag = col_txt(st, 16);
  o->second_tag = col_txt(st, 17);
  o->core_rules = (uint64_t)sqlite3_column_int64(st, 18);
  o->meta_rules = (uint64_t)sqlite3_column_int64(st, 19);
  o->active_filter_tags = (uint32_t)sqlite3_column_int64(st, 20);
  o->created_ms = col_i64(st, 21);
  note_row_v6(st, 22, o);
}

int ns_q_note_get(ns_reader *r, int64_t note_id, ns_q_note *out) {
  sqlite3_stmt *st;
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = prep(r, "SELECT " NOTE_COLS " FROM current_note_status WHERE note_id = ?1", &st)))
    return rc;
  sqlite3_bind_int64(st, 1, note_id);
  if ((rc = step(r, st)) != 1) {
    sqlite3_finalize(st);
    return rc < 0 ? rc : NS_ENOTFOUND;
  }
  note_row(st, out);
  r->held = st;   /* its text backs *out until the next call */
  return 0;
}

int ns_q_notes(ns_reader *r, const ns_q_note_filter *f, ns_q_note_fn fn, void *ctx) {
  static const ns_q_note_filter all = {0, NULL, NULL, NS_Q_NULL, 0, 0};
  char sql[4096];   /* NOTE_COLS is ~2 kB since v6; the filters add < 400 bytes */
  _Static_assert(sizeof("SELECT " NOTE_COLS " FROM current_note_status") + 400 < sizeof sql,
                 "ns_q_notes: the SQL buffer is too small for NOTE_COLS");
  sqlite3_stmt *st;
  int rc;
  if (!f) f = &all;
  /* Keyset order: note_id, the key of note_scores within a run.  A change
  ** filter goes through note_status_changes' primary key (run_id, note_id)
  ** of the runs finished since then. */
  snprintf(sql, sizeof sql,
           "SELECT " NOTE_COLS " FROM current_note_status WHERE note_id > ?1%s%s%s%s"
           " ORDER BY note_id LIMIT ?5",
           f->scored_only ? " AND intercept IS NOT NULL AND factor IS NOT NULL" : "",
           f->status ? " AND status = ?2" : "", f->decided_by ? " AND decided_by = ?3" : "",
           f->changed_since != NS_Q_NULL
               ? " AND note_id IN (SELECT x.note_id FROM note_status_changes x"
                 " JOIN runs q ON q.run_id = x.run_id WHERE q.finished_ms >= ?4)"
               : "");
  if ((rc = prep(r, sql, &st)) != 0) return rc;
  sqlite3_bind_int64(st, 1, f->after_note_id);
  if (f->status) sqlite3_bind_text(st, 2, f->status, -1, SQLITE_STATIC);
  if (f->decided_by) sqlite3_bind_text(st, 3, f->decided_by, -1, SQLITE_STATIC);
  if (f->changed_since != NS_Q_NULL) sqlite3_bind_int64(st, 4, f->changed_since);
  sqlite3_bind_int64(st, 5, f->limit > 0 ? f->limit : -1);
  while ((rc = step(r, st)) == 1) {
    ns_q_note row;
    note_row(st, &row);
    if ((rc = fn(ctx, &row)) != 0) break;
  }
  sqlite3_finalize(st);
  return rc;
}

int ns_q_status_counts(ns_reader *r, int (*fn)(void *ctx, const char *status, int64_t n),
                       void *ctx) {
  sqlite3_stmt *st;
  int rc;
  if ((rc = prep(r, "SELECT status, count(*) FROM current_note_status GROUP BY 1", &st)) != 0)
    return rc;
  while ((rc = step(r, st)) == 1)
    if ((rc = fn(ctx, col_txt(st, 0), sqlite3_column_int64(st, 1))) != 0) break;
  sqlite3_finalize(st);
  return rc;
}

/* ---- one note's detail ------------------------------------------------------- */

int ns_q_note_ratings(ns_reader *r, int64_t run_id, int64_t note_id,
                      int (*fn)(void *ctx, int side, int level, uint32_t tags), void *ctx) {
  sqlite3_stmt *st;
  int rc;
  /* one pass over the note's ratings (primary key prefix note_id), a point
  ** lookup of each rater's score in the same run */
  if ((rc = prep(r, "SELECT CASE WHEN s.factor < 0 THEN 0 WHEN s.factor > 0 THEN 1 ELSE 2 END,"
                    " r.level, r.tags"
                    " FROM ratings r LEFT JOIN rater_scores s"
                    "   ON s.run_id = ?1 AND s.rater_id = r.rater_id"
                    " WHERE r.note_id = ?2", &st)) != 0)
    return rc;
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_int64(st, 2, note_id);
  while ((rc = step(r, st)) == 1)
    if ((rc = fn(ctx, sqlite3_column_int(st, 0), sqlite3_column_int(st, 1),
                 (uint32_t)sqlite3_column_int64(st, 2))) != 0)
      break;
  sqlite3_finalize(st);
  return rc;
}

int ns_q_note_history(ns_reader *r, int64_t note_id,
                      int (*fn)(void *ctx, const ns_q_history *h), void *ctx) {
  sqlite3_stmt *st;
  int rc;
  if ((rc = prep(r, "SELECT run_id, scored_at_ms, status, decided_by, intercept, factor"
                    " FROM note_history WHERE note_id = ?1 ORDER BY run_id", &st)) != 0)
    return rc;
  sqlite3_bind_int64(st, 1, note_id);
  while ((rc = step(r, st)) == 1) {
    ns_q_history h = {sqlite3_column_int64(st, 0), col_i64(st, 1), col_txt(st, 2),
                      col_txt(st, 3), col_f64(st, 4), col_f64(st, 5)};
    if ((rc = fn(ctx, &h)) != 0) break;
  }
  sqlite3_finalize(st);
  return rc;
}

/* note_status_history's columns and the public noteStatusHistory names of
** the same fields (store/tsv.c ns__history_cols, the reference's file). */
static const char *const nsh_names[][2] = {
    {"created_ms", "createdAtMillis"},
    {"ts_first_non_nmr", "timestampMillisOfFirstNonNMRStatus"},
    {"first_non_nmr_status", "firstNonNMRStatus"},
    {"ts_current", "timestampMillisOfCurrentStatus"},
    {"current_status", "currentStatus"},
    {"ts_latest_non_nmr", "timestampMillisOfLatestNonNMRStatus"},
    {"most_recent_non_nmr_status", "mostRecentNonNMRStatus"},
    {"ts_lock", "timestampMillisOfStatusLock"},
    {"locked_status", "lockedStatus"},
    {"ts_retro_lock", "timestampMillisOfRetroLock"},
    {"current_core_status", "currentCoreStatus"},
    {"current_expansion_status", "currentExpansionStatus"},
    {"current_group_status", "currentGroupStatus"},
    {"current_decided_by", "currentDecidedBy"},
    {"current_modeling_group", "currentModelingGroup"},
    {"ts_most_recent_change", "timestampMillisOfMostRecentStatusChange"},
    {"ts_nmr_due_to_stable_crh", "timestampMillisOfNmrDueToMinStableCrhTime"},
    {"current_multi_group_status", "currentMultiGroupStatus"},
    {"current_modeling_multi_group", "currentModelingMultiGroup"},
    {"ts_minute_final_output", "timestampMinuteOfFinalScoringOutput"},
    {"ts_first_nmr_due_to_stable_crh", "timestampMillisOfFirstNmrDueToMinStableCrhTime"},
    {"above_pcrh_threshold_time", "abovePcrhThresholdTime"},
};

static const char *public_name(const char *column) {
  for (size_t i = 0; i < NS_ARRAY_LEN(nsh_names); i++)
    if (!strcmp(column, nsh_names[i][0])) return nsh_names[i][1];
  return column;   /* a column newer than this table: its own name */
}

int ns_q_status_history(ns_reader *r, int64_t note_id,
                        int (*fn)(void *ctx, const char *column, const ns_q_value *v),
                        void *ctx) {
  sqlite3_stmt *st;
  int rc;
  /* every column: the table grows with the public format, and the
  ** explanation shows whatever it holds */
  if ((rc = prep(r, "SELECT * FROM note_status_history WHERE note_id = ?1", &st)) != 0) return rc;
  sqlite3_bind_int64(st, 1, note_id);
  if ((rc = step(r, st)) == 1) {
    rc = 0;
    for (int i = 0; i < sqlite3_column_count(st) && !rc; i++) {
      const char *name = sqlite3_column_name(st, i);
      ns_q_value v = {0};
      if (!strcmp(name, "note_id") || !strcmp(name, "author_id")) continue;
      switch (sqlite3_column_type(st, i)) {
      case SQLITE_INTEGER: v.type = NS_QV_INT; v.i = sqlite3_column_int64(st, i); break;
      case SQLITE_FLOAT: v.type = NS_QV_REAL; v.d = sqlite3_column_double(st, i); break;
      case SQLITE_NULL: v.type = NS_QV_NULL; break;
      default:
        v.type = NS_QV_TEXT;
        v.s = col_txt(st, i);
        v.len = (size_t)sqlite3_column_bytes(st, i);
        break;
      }
      rc = fn(ctx, public_name(name), &v);
    }
  }
  sqlite3_finalize(st);
  return rc;
}

/* ---- raters and changes --------------------------------------------------------- */

int ns_q_rater_values(ns_reader *r, int64_t run_id, int which,
                      int (*fn)(void *ctx, double v), void *ctx) {
  sqlite3_stmt *st;
  int rc;
  if ((rc = prep(r, which == NS_Q_RATER_TRUST
                        ? "SELECT trust FROM rater_scores WHERE run_id = ?1 AND trust IS NOT NULL"
                        : "SELECT factor FROM rater_scores WHERE run_id = ?1"
                          " AND factor IS NOT NULL",
                 &st)) != 0)
    return rc;
  sqlite3_bind_int64(st, 1, run_id);
  while ((rc = step(r, st)) == 1)
    if ((rc = fn(ctx, sqlite3_column_double(st, 0))) != 0) break;
  sqlite3_finalize(st);
  return rc;
}

int ns_q_change_counts(ns_reader *r, int64_t run_id, int64_t *changed, int64_t *fresh) {
  sqlite3_stmt *st;
  int rc;
  *changed = *fresh = 0;
  if ((rc = prep(r, "SELECT count(old_status), count(*) - count(old_status)"
                    " FROM note_status_changes WHERE run_id = ?1", &st)) != 0)
    return rc;
  sqlite3_bind_int64(st, 1, run_id);
  if ((rc = step(r, st)) == 1) {
    *changed = sqlite3_column_int64(st, 0);
    *fresh = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  return rc < 0 ? rc : 0;
}

/* Steps st (columns: note id, old and new status, decided by, old and new
** intercept), hands each row to fn, finalizes st. */
static int each_change(ns_reader *r, sqlite3_stmt *st,
                       int (*fn)(void *ctx, const ns_q_change *c), void *ctx) {
  int rc;
  while ((rc = step(r, st)) == 1) {
    ns_q_change c = {sqlite3_column_int64(st, 0), col_txt(st, 1), col_txt(st, 2),
                     col_txt(st, 3), col_f64(st, 4), col_f64(st, 5)};
    if ((rc = fn(ctx, &c)) != 0) break;
  }
  sqlite3_finalize(st);
  return rc;
}

int ns_q_changes(ns_reader *r, int64_t run_id, int64_t limit,
                 int (*fn)(void *ctx, const ns_q_change *c), void *ctx) {
  sqlite3_stmt *st;
  int rc;
  if ((rc = prep(r, "SELECT note_id, old_status, new_status, decided_by, old_intercept,"
                    " new_intercept FROM status_changes WHERE run_id = ?1"
                    " AND old_status IS NOT NULL ORDER BY note_id LIMIT ?2", &st)) != 0)
    return rc;
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_int64(st, 2, limit);
  return each_change(r, st, fn, ctx);
}

int ns_q_run_changes(ns_reader *r, int64_t from, int64_t to,
                     int (*fn)(void *ctx, const ns_q_change *c), void *ctx) {
  sqlite3_stmt *st;
  int rc, published = 0;
  if ((rc = prep(r, "SELECT count(*) FROM run_summary WHERE run_id IN (?1, ?2)"
                    " AND status = 'published'", &st)) != 0)
    return rc;
  sqlite3_bind_int64(st, 1, from);
  sqlite3_bind_int64(st, 2, to);
  if ((rc = step(r, st)) == 1) published = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (rc < 0) return rc;
  if (published != (from == to ? 1 : 2)) return NS_ENOTFOUND;
  /* both halves walk note_scores by its primary key (run_id, note_id):
  ** the notes of `to` with another status (or none) in `from`, then the
  ** notes of `from` missing in `to` */
  if ((rc = prep(r, "SELECT b.note_id, a.final_status, b.final_status, b.decided_by,"
                    " a.intercept, b.intercept FROM note_scores b LEFT JOIN note_scores a"
                    " ON a.run_id = ?1 AND a.note_id = b.note_id WHERE b.run_id = ?2"
                    " AND a.final_status IS NOT b.final_status"
                    " UNION ALL SELECT a.note_id, a.final_status, NULL, NULL, a.intercept, NULL"
                    " FROM note_scores a WHERE a.run_id = ?1 AND NOT EXISTS (SELECT 1 FROM"
                    " note_scores b WHERE b.run_id = ?2 AND b.note_id = a.note_id)"
                    " ORDER BY 1", &st)) != 0)
    return rc;
  sqlite3_bind_int64(st, 1, from);
  sqlite3_bind_int64(st, 2, to);
  return each_change(r, st, fn, ctx);
}
