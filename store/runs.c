/*
** store/runs.c -- scoring runs in the DB: begin, publish (atomically), fail.
**
** Who calls it: `notescore score --db`, the engine's scheduler (writer
** thread).  Thread: the handle's.
**
** Publication is atomic for readers: WAL readers see the previous run or
** the new one, never a mix; dashboards read through the views, which all go
** through current_run (note_history through runs.status = 'published').  The
** run's note_scores and rater_scores rows are keyed by its run_id, so they
** are invisible until the run is published: they are written first, in
** transactions of PUBLISH_CHUNK rows that leave SQLite's write lock to
** serve's ingest commits in between (one transaction of every row held it
** for hundreds of ms on 10^4 notes and 2*10^4 raters, and ingest acks
** waited that long -- issue #18).  The last, short transaction writes the
** updated note_status_history rows, the run row (status 'published',
** counts) and the current_run pointer.  If publication fails, the rows
** already written are deleted again (best effort; rows of a run that never
** became 'published' are invisible either way).
*/
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Score rows per publication transaction, and the pause after each commit
** in which a waiting writer (busy handler: 1 ms retries) takes the lock. */
#define PUBLISH_CHUNK 500
#define PUBLISH_YIELD_MS 2

/* ---- run ownership ------------------------------------------------------
** A 'running' row says nothing about whether its process still lives (a
** `score --db` killed with -9 leaves one forever).  So the process that
** begins a run takes an open-file-description lock (F_OFD_SETLK) on byte
** run_id of the file DB-runlock and keeps it until the run is published or
** failed.  The kernel releases it when the process dies; OFD locks (unlike
** classic POSIX ones) also conflict between two descriptors of the same
** process and survive closing other descriptors of the file, so a check
** from this process sees its own live run as locked too. */

/* Opens DB-runlock; -1 when the DB has no file (in-memory) or on error. */
static int open_runlock(ns_store *s) {
  const char *db = sqlite3_db_filename(s->db, "main");
  char path[4096];
  int fd;
  if (!db || !*db) return -1;
  if (snprintf(path, sizeof path, "%s-runlock", db) >= (int)sizeof path) return -1;
  do fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  while (fd < 0 && errno == EINTR);
  return fd;
}

static void lock_range(struct flock *fl, short type, int64_t run_id) {
  memset(fl, 0, sizeof *fl);
  fl->l_type = type;
  fl->l_whence = SEEK_SET;
  fl->l_start = (off_t)run_id;
  fl->l_len = 1;
}

void ns__run_unlock(ns_store *s) {
  if (s->run_lock_fd >= 0) close(s->run_lock_fd);   /* drops the lock */
  s->run_lock_fd = -1;
}

/* 1 if some live descriptor holds run_id's lock, 0 if none, <0 error. */
static int run_locked(int fd, int64_t run_id) {
  struct flock fl;
  lock_range(&fl, F_WRLCK, run_id);
  if (fcntl(fd, F_OFD_GETLK, &fl) != 0) return -errno;
  return fl.l_type != F_UNLCK;
}

int ns_store_runs_reap(ns_store *s, int *n_reaped) {
  sqlite3_stmt *st = NULL, *up = NULL;
  int fd, rc, n = 0;
  if (n_reaped) *n_reaped = 0;
  if (s->readonly) return NS_EINVAL;
  if ((fd = open_runlock(s)) < 0) return 0;
  if ((rc = ns__db_prepare(s, "SELECT run_id FROM runs WHERE status = 'running'", &st)) != 0 ||
      (rc = ns__db_prepare(s,
                           "UPDATE runs SET status = 'abandoned', finished_ms = ?2"
                           " WHERE run_id = ?1 AND status = 'running'",
                           &up)) != 0)
    goto out;
  for (;;) {
    int src = sqlite3_step(st), held;
    int64_t id;
    if (src == SQLITE_DONE) break;
    if (src != SQLITE_ROW) {
      rc = ns__db_err(s, src);
      goto out;
    }
    id = sqlite3_column_int64(st, 0);
    if ((held = run_locked(fd, id)) < 0) {
      rc = held;
      goto out;
    }
    if (held) continue;
    sqlite3_bind_int64(up, 1, id);
    sqlite3_bind_int64(up, 2, ns_now_ms());
    if ((rc = ns__db_step_done(s, up)) != 0) goto out;
    if (sqlite3_changes(s->db) > 0) {
      n++;
      ns_warn("store: run %lld was left 'running' by a process (or store handle) that is gone: marked abandoned",
              (long long)id);
    }
  }
out:
  sqlite3_finalize(st);
  sqlite3_finalize(up);
  close(fd);
  if (n_reaped) *n_reaped = n;
  return rc;
}

int ns_store_run_begin(ns_store *s, const char *params_json, int64_t *run_id) {
  sqlite3_stmt *st = NULL;
  struct flock fl;
  int rc, fd = -1;
  *run_id = 0;
  if (s->readonly) return NS_EINVAL;
  if ((rc = ns_store_runs_reap(s, NULL)) != 0) return rc;
  ns__run_unlock(s);   /* a run this handle left unfinished is orphaned now */
  /* the row becomes visible (COMMIT) only once its lock is held, so a
  ** reaper never sees a live run unlocked */
  if ((rc = ns__db_exec(s, "BEGIN IMMEDIATE")) != 0) return rc;
  if ((rc = ns__db_prepare(s,
                           "INSERT INTO runs(started_ms, status, params, version)"
                           " VALUES(?, 'running', ?, ?)",
                           &st)) != 0)
    goto fail;
  sqlite3_bind_int64(st, 1, ns_now_ms());
  ns__db_bind_text(st, 2, params_json);
  sqlite3_bind_text(st, 3, NS_VERSION, -1, SQLITE_STATIC);
  if ((rc = ns__db_step_done(s, st)) != 0) goto fail;
  *run_id = sqlite3_last_insert_rowid(s->db);
  if ((fd = open_runlock(s)) >= 0) {
    lock_range(&fl, F_WRLCK, *run_id);
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
      rc = -errno;
      close(fd);
      fd = -1;
      goto fail;
    }
  }
  if ((rc = ns__db_exec(s, "COMMIT")) != 0) goto fail;
  sqlite3_finalize(st);
  s->run_lock_fd = fd;
  return 0;
fail:
  if (fd >= 0) close(fd);
  sqlite3_finalize(st);
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  *run_id = 0;
  return rc;
}

int ns_store_run_fail(ns_store *s, int64_t run_id, const char *status) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (!status || (strcmp(status, "failed") && strcmp(status, "abandoned"))) return NS_EINVAL;
  if ((rc = ns__db_prepare(s,
                           "UPDATE runs SET status = ?, finished_ms = ?"
                           " WHERE run_id = ? AND status = 'running'",
                           &st)) != 0)
    return rc;
  sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, ns_now_ms());
  sqlite3_bind_int64(st, 3, run_id);
  rc = ns__db_step_done(s, st);
  if (rc == 0 && sqlite3_changes(s->db) == 0) rc = NS_ENOTFOUND;
  sqlite3_finalize(st);
  if (rc == 0) ns__run_unlock(s);
  return rc;
}

/* the 7 placeholders of one scorer's columns (?25.. in column order) */
#define MODEL_Q(p) "?,?,?,?,?,?,?,"
static const char sql_note_score[] =
    "INSERT OR REPLACE INTO note_scores(run_id, note_id, created_ms, classification,"
    " num_ratings, num_final_round_ratings, intercept, factor, intercept_r1, factor_r1,"
    " intercept_min, intercept_max, intercept_no_high_vol, intercept_no_correlated,"
    " core_status, core_rules, final_status, decided_by, meta_rules, first_tag, second_tag,"
    " active_filter_tags, provisional_status, low_diligence_intercept," NS__MODEL_COLS
    " " NS__NOTE_V6_COLS ")"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,"
    "?24," NS__MODEL_LIST(MODEL_Q) "?,?,?,?,?,?,?)";

static const char sql_rater_score[] =
    "INSERT OR REPLACE INTO rater_scores(run_id, rater_id, intercept, factor, intercept_r1,"
    " factor_r1, crh_crnh_ratio_diff, mean_note_score, agree_ratio, agree_ratio_harassment,"
    " above_threshold, successful_helpful, successful_not_helpful, unsuccessful_helpful,"
    " unsuccessful_not_helpful, ratings_awaiting, rated_after_decision, notes_crh, notes_crnh,"
    " notes_nmr, num_ratings, trust, group_id, qclique_id)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,"
    "?24)";

static const char sql_run_done[] =
    "UPDATE runs SET status = 'published', finished_ms = ?2, now_ms = ?3, n_ratings = ?4,"
    " n_notes = ?5, n_raters = ?6, n_ratings_round1 = ?7, n_ratings_round2 = ?8,"
    " n_raters_round1 = ?9, n_raters_round2 = ?10, n_notes_round1 = ?11, n_notes_round2 = ?12,"
    " n_crh = ?13, n_crnh = ?14, n_nmr = ?15, mf_passes = ?16, seconds = ?17,"
    " stage_seconds = ?18, global_intercept = ?19, global_intercept_r1 = ?20"
    " WHERE run_id = ?1 AND status = 'running'";

static void bind_tag(sqlite3_stmt *st, int i, int tag) {
  if (tag >= 0 && tag < NS_N_TAGS) sqlite3_bind_text(st, i, ns_tag_names[tag], -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

/* The v6 columns from index i on: each scorer's NS__MODEL_FIELDS, then
** the NS__NOTE_V6_COLS.  A scorer that did not score the note (status
** UNSET) gets NULL rules and count, like its NULL intercept. */
static void bind_models(sqlite3_stmt *st, int i, const ns_note_score *n) {
  for (int m = 0; m < NS_MODEL_COUNT; m++) {
    const ns_model_score *x = &n->model[m];
    int scored = x->status != NS_STATUS_UNSET;
    ns__db_bind_f64(st, i++, x->intercept);
    ns__db_bind_f64(st, i++, x->factor);
    ns__db_bind_status(st, i++, x->status);
    if (scored) sqlite3_bind_int64(st, i, x->rules);
    else sqlite3_bind_null(st, i);
    i++;
    if (scored) sqlite3_bind_int(st, i, x->n_final_round);
    else sqlite3_bind_null(st, i);
    i++;
    ns__db_bind_f64(st, i++, x->intercept_no_high_vol);
    ns__db_bind_f64(st, i++, x->intercept_no_correlated);
  }
  if (n->modeling_group >= 0) sqlite3_bind_int(st, i, n->modeling_group);
  else sqlite3_bind_null(st, i);
  i++;
  if (n->modeling_multi_group >= 0) sqlite3_bind_int(st, i, n->modeling_multi_group);
  else sqlite3_bind_null(st, i);
  i++;
  if (n->topic > 0 && n->topic < NS_TOPIC_COUNT)
    sqlite3_bind_text(st, i, ns_topic_names[n->topic], -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
  i++;
  if (n->topic_confident >= 0) sqlite3_bind_int(st, i, n->topic_confident);
  else sqlite3_bind_null(st, i);
  i++;
  ns__db_bind_f64(st, i++, n->intercept_pop);
  ns__db_bind_f64(st, i++, n->cwt_intercept_min);
  ns__db_bind_f64(st, i, n->cwt_intercept_max);
}

/* note_scores rows of notes [b, e) */
static int put_notes(ns_store *s, int64_t run_id, const ns_scores *sc, size_t b, size_t e) {
  sqlite3_stmt *st = NULL;
  int rc = ns__db_prepare(s, sql_note_score, &st);
  for (size_t i = b; i < e && !rc; i++) {
    const ns_note_score *n = &sc->notes[i];
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, n->note_id);
    ns__db_bind_opt(st, 3, n->created_ms);
    sqlite3_bind_int(st, 4, n->classification);
    sqlite3_bind_int(st, 5, n->num_ratings);
    sqlite3_bind_int(st, 6, n->num_final_round_ratings);
    ns__db_bind_f64(st, 7, n->intercept);
    ns__db_bind_f64(st, 8, n->factor);
    ns__db_bind_f64(st, 9, n->intercept_r1);
    ns__db_bind_f64(st, 10, n->factor_r1);
    ns__db_bind_f64(st, 11, n->intercept_min);
    ns__db_bind_f64(st, 12, n->intercept_max);
    ns__db_bind_f64(st, 13, n->intercept_no_high_vol);
    ns__db_bind_f64(st, 14, n->intercept_no_correlated);
    ns__db_bind_status(st, 15, n->core_status);
    sqlite3_bind_int64(st, 16, n->core_rules);
    ns__db_bind_status(st, 17, n->final_status);
    if (n->decided_by >= 0 && n->decided_by < NS_RULE_COUNT)
      /* a legacy INITIAL_NMR decision is the meta-scorer's MetaInitialNMR */
      sqlite3_bind_text(st, 18,
                        ns_rule_names[n->decided_by == NS_RULE_INITIAL_NMR ? NS_RULE_META_INITIAL_NMR
                                                                           : n->decided_by],
                        -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(st, 18);
    sqlite3_bind_int64(st, 19, n->meta_rules);
    bind_tag(st, 20, n->first_tag);
    bind_tag(st, 21, n->second_tag);
    sqlite3_bind_int64(st, 22, n->active_filter_tags);
    ns__db_bind_status(st, 23, n->provisional_status);
    ns__db_bind_f64(st, 24, n->low_diligence_intercept);
    bind_models(st, 25, n);
    rc = ns__db_step_done(s, st);
  }
  sqlite3_finalize(st);
  return rc;
}

/* rater_scores rows of raters [b, e) */
static int put_raters(ns_store *s, int64_t run_id, const ns_scores *sc, const ns_dataset *ds,
                      size_t b, size_t e) {
  sqlite3_stmt *st = NULL;
  int rc = ns__db_prepare(s, sql_rater_score, &st);
  for (size_t i = b; i < e && !rc; i++) {
    const ns_rater_score *r = &sc->raters[i];
    const char *pid = ns_strtab_str(ds->participants, r->participant);
    int64_t id;
    if (!*pid) continue; /* index outside the table: nothing to key it by */
    if ((rc = ns__pcache_get(s, pid, strlen(pid), &id)) != 0) break;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, id);
    ns__db_bind_f64(st, 3, r->intercept);
    ns__db_bind_f64(st, 4, r->factor);
    ns__db_bind_f64(st, 5, r->intercept_r1);
    ns__db_bind_f64(st, 6, r->factor_r1);
    ns__db_bind_f64(st, 7, r->crh_crnh_ratio_diff);
    ns__db_bind_f64(st, 8, r->mean_note_score);
    ns__db_bind_f64(st, 9, r->agree_ratio);
    ns__db_bind_f64(st, 10, r->agree_ratio_harassment);
    if (r->above_threshold >= 0) sqlite3_bind_int(st, 11, r->above_threshold);
    else sqlite3_bind_null(st, 11);
    sqlite3_bind_int(st, 12, r->successful_helpful);
    sqlite3_bind_int(st, 13, r->successful_not_helpful);
    sqlite3_bind_int(st, 14, r->unsuccessful_helpful);
    sqlite3_bind_int(st, 15, r->unsuccessful_not_helpful);
    sqlite3_bind_int(st, 16, r->ratings_awaiting);
    sqlite3_bind_int(st, 17, r->rated_after_decision);
    sqlite3_bind_int(st, 18, r->notes_crh);
    sqlite3_bind_int(st, 19, r->notes_crnh);
    sqlite3_bind_int(st, 20, r->notes_nmr);
    sqlite3_bind_int(st, 21, r->num_ratings);
    ns__db_bind_f64(st, 22, r->trust);
    sqlite3_bind_int(st, 23, r->group_id);
    sqlite3_bind_int(st, 24, r->qclique_id);
    rc = ns__db_step_done(s, st);
  }
  sqlite3_finalize(st);
  return rc;
}

/* note_status_history rows [b, e) */
static int put_history(ns_store *s, const ns_scores *sc, const ns_dataset *ds, size_t b, size_t e) {
  ns__writer w;
  int rc = ns__writer_init(s, &w);
  for (size_t i = b; i < e && !rc; i++) {
    const ns_nsh *h = &sc->history[i];
    const char *a = h->author >= 0 ? ns_strtab_str(ds->participants, h->author) : "";
    rc = ns__writer_history(&w, h, a, strlen(a));
  }
  ns__writer_free(&w);
  return rc;
}

/* Deletes the score rows of a run whose publication failed (best effort:
** the caller reports the publication's error, and the rows of a run that is
** not published are invisible anyway).  Keeps the error message. */
static void drop_rows(ns_store *s, int64_t run_id) {
  char sql[512], guard[160], keep[sizeof s->errbuf];
  snprintf(guard, sizeof guard,
           "NOT EXISTS (SELECT 1 FROM runs WHERE run_id = %lld AND status = 'published')",
           (long long)run_id);
  memcpy(keep, s->errbuf, sizeof keep);
  /* never the rows of a published run (the guard is belt and braces:
  ** ns_store_run_publish writes rows only for a running run) */
  snprintf(sql, sizeof sql,
           "DELETE FROM note_scores WHERE run_id = %lld AND %s;"
           " DELETE FROM rater_scores WHERE run_id = %lld AND %s",
           (long long)run_id, guard, (long long)run_id, guard);
  if (ns__db_begin_write(s) == 0) {
    if (ns__db_exec(s, sql) == 0) (void)ns__db_commit(s);
    else ns__db_rollback(s);
  }
  memcpy(s->errbuf, keep, sizeof keep);
}

int ns_store_run_publish(ns_store *s, int64_t run_id, const ns_scores *sc, const ns_dataset *ds,
                         const ns_run_timing *t) {
  sqlite3_stmt *st = NULL;
  int64_t crh = 0, crnh = 0, nmr = 0;
  char stages[512];
  size_t k = 0;
  int rc;
  if (s->readonly || !sc || !ds) return NS_EINVAL;
  for (size_t i = 0; i < sc->n_notes; i++) {
    crh += sc->notes[i].final_status == NS_STATUS_CRH;
    crnh += sc->notes[i].final_status == NS_STATUS_CRNH;
    nmr += sc->notes[i].final_status == NS_STATUS_NMR;
  }
  /* stage timings as a JSON array (doubles printed round-trippably) */
  stages[k++] = '[';
  for (size_t i = 0; t && i < t->n_stages && k < sizeof stages; i++)
    k += (size_t)snprintf(stages + k, sizeof stages - k, "%s%.6g", i ? "," : "",
                          t->stage_seconds[i]);
  if (k < sizeof stages) snprintf(stages + k, sizeof stages - k, "]");

  /* only a running run gets rows: rows written for a published one would be
  ** visible at once (and deleted again by drop_rows) */
  if ((rc = ns__db_prepare(s, "SELECT 1 FROM runs WHERE run_id = ? AND status = 'running'",
                           &st)) != 0)
    return rc;
  sqlite3_bind_int64(st, 1, run_id);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  st = NULL;
  if (rc != SQLITE_ROW) {
    if (rc != SQLITE_DONE) return ns__db_err(s, rc);
    snprintf(s->errbuf, sizeof s->errbuf, "run %lld is not running", (long long)run_id);
    return NS_ENOTFOUND;
  }
  /* the score rows, chunk by chunk (invisible until the run is published) */
  for (size_t b = 0; b < sc->n_notes + sc->n_raters; b += PUBLISH_CHUNK) {
    size_t e = b + PUBLISH_CHUNK < sc->n_notes + sc->n_raters ? b + PUBLISH_CHUNK
                                                              : sc->n_notes + sc->n_raters;
    struct timespec ts = {0, PUBLISH_YIELD_MS * 1000000L};
    if (b > 0) nanosleep(&ts, NULL);
    if ((rc = ns__db_begin_write(s)) != 0) goto undo;
    if (b < sc->n_notes && (rc = put_notes(s, run_id, sc, b, e < sc->n_notes ? e : sc->n_notes)))
      goto fail;
    if (e > sc->n_notes &&
        (rc = put_raters(s, run_id, sc, ds, b > sc->n_notes ? b - sc->n_notes : 0, e - sc->n_notes)))
      goto fail;
    if ((rc = ns__db_commit(s)) != 0) goto undo;
  }
  /* the flip: history, run row, current_run -- one short transaction */
  if ((rc = ns__db_begin_write(s)) != 0) goto undo;
  if ((rc = put_history(s, sc, ds, 0, sc->n_history)) != 0) goto fail;
  if ((rc = ns__db_prepare(s, sql_run_done, &st)) != 0) goto fail;
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_int64(st, 2, ns_now_ms());
  ns__db_bind_opt(st, 3, sc->now_ms ? sc->now_ms : NS_TS_NONE);
  sqlite3_bind_int64(st, 4, (int64_t)sc->n_ratings_in);
  sqlite3_bind_int64(st, 5, (int64_t)sc->n_notes);
  sqlite3_bind_int64(st, 6, (int64_t)sc->n_raters);
  sqlite3_bind_int64(st, 7, (int64_t)sc->n_ratings_round1);
  sqlite3_bind_int64(st, 8, (int64_t)sc->n_ratings_round2);
  sqlite3_bind_int64(st, 9, (int64_t)sc->n_raters_round1);
  sqlite3_bind_int64(st, 10, (int64_t)sc->n_raters_round2);
  sqlite3_bind_int64(st, 11, (int64_t)sc->n_notes_round1);
  sqlite3_bind_int64(st, 12, (int64_t)sc->n_notes_round2);
  sqlite3_bind_int64(st, 13, crh);
  sqlite3_bind_int64(st, 14, crnh);
  sqlite3_bind_int64(st, 15, nmr);
  if (t) {
    sqlite3_bind_int(st, 16, t->mf_passes);
    ns__db_bind_f64(st, 17, t->seconds);
    sqlite3_bind_text(st, 18, stages, -1, SQLITE_TRANSIENT);
  } /* else ?16..?18 stay NULL */
  ns__db_bind_f64(st, 19, sc->global_intercept);
  ns__db_bind_f64(st, 20, sc->global_intercept_r1);
  if ((rc = ns__db_step_done(s, st)) != 0) goto fail;
  if (sqlite3_changes(s->db) != 1) {
    snprintf(s->errbuf, sizeof s->errbuf, "run %lld is not running", (long long)run_id);
    rc = NS_ENOTFOUND;
    goto fail;
  }
  sqlite3_finalize(st);
  st = NULL;
  if ((rc = ns__db_prepare(s, "INSERT OR REPLACE INTO current_run(id, run_id) VALUES(1, ?)", &st)))
    goto fail;
  sqlite3_bind_int64(st, 1, run_id);
  if ((rc = ns__db_step_done(s, st)) != 0) goto fail;
  sqlite3_finalize(st);
  st = NULL;
  if ((rc = ns__db_commit(s)) != 0) goto undo;
  ns__run_unlock(s);
  return 0;
fail:
  sqlite3_finalize(st);
  ns__db_rollback(s);
undo:
  drop_rows(s, run_id);
  return rc;
}

/* Note refresh: the refreshed notes' rows of the current run are replaced in
** place (note_scores is keyed by (run_id, note_id)) together with their
** status-history rows, and only while run_id is still the current run -- a
** full run that published meanwhile wins.  Each note's two rows change in
** one transaction; the notes go in transactions of PUBLISH_CHUNK notes, so
** a refresh of every note (10^4 notes rewritten, a trigger per row) does not
** hold SQLite's write lock for hundreds of ms against ingest (issue #18).
** A reader between two chunks sees some notes refreshed and others not yet,
** as if the refresh had been smaller.  (When the history rows are not one
** per note in the notes' order, the refresh is one transaction.)  If a chunk
** fails the chunks before it stay: rows of the current run, each consistent;
** the caller does not accept the refresh, so the next one redoes them. */
int ns_store_run_refresh(ns_store *s, int64_t run_id, const ns_scores *sc, const ns_dataset *ds) {
  sqlite3_stmt *st = NULL;
  size_t step, n;
  int rc = 0, paired;
  if (s->readonly || !sc || !ds) return NS_EINVAL;
  paired = sc->n_history == sc->n_notes;
  for (size_t i = 0; paired && i < sc->n_notes; i++)
    paired = sc->history[i].note_id == sc->notes[i].note_id;
  n = sc->n_notes > sc->n_history ? sc->n_notes : sc->n_history;
  step = paired ? PUBLISH_CHUNK : n;
  for (size_t b = 0; b < n || b == 0; b += step) {
    size_t e = step && b + step < n ? b + step : n;
    struct timespec ts = {0, PUBLISH_YIELD_MS * 1000000L};
    if (b > 0) nanosleep(&ts, NULL);
    if ((rc = ns__db_begin_write(s)) != 0) return rc;
    if ((rc = ns__db_prepare(s, "SELECT run_id FROM current_run WHERE id = 1", &st)) != 0) goto fail;
    if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) != run_id) {
      snprintf(s->errbuf, sizeof s->errbuf, "run %lld is not the current run", (long long)run_id);
      rc = NS_ENOTFOUND;
      goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = put_notes(s, run_id, sc, paired ? b : 0, paired ? e : sc->n_notes)) != 0) goto fail;
    if ((rc = put_history(s, sc, ds, paired ? b : 0, paired ? e : sc->n_history)) != 0) goto fail;
    if ((rc = ns__db_commit(s)) != 0) return rc;
    if (n == 0) break;
  }
  return 0;
fail:
  sqlite3_finalize(st);
  ns__db_rollback(s);
  return rc;
}

/* ---- params of a run, for the readers of the views ---------------------- */

int ns_store_run_params(sqlite3 *db, int64_t run_id, char **json) {
  sqlite3_stmt *st = NULL;
  int src, rc = 0;
  *json = NULL;
  if (sqlite3_prepare_v2(db, "SELECT params FROM runs WHERE run_id = ?", -1, &st, NULL) !=
      SQLITE_OK)
    return NS_ESQL;
  sqlite3_bind_int64(st, 1, run_id);
  src = sqlite3_step(st);
  if (src == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    if (t && !(*json = ns_strdup(t))) rc = NS_ENOMEM;
  } else if (src != SQLITE_ROW && src != SQLITE_DONE) {
    rc = NS_ESQL;
  }
  sqlite3_finalize(st);
  return rc;
}
