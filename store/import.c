/*
** store/import.c -- writing input rows into SQLite: the row writer shared by
** bulk import (ns_store_import) and the server's ingest batches
** (ns_store_ingest, store.c).
**
** Who calls it: store.c, the CLI `notescore import`.  Thread: the handle's.
**
** Upsert rules (the same as ns_dataset_normalize, so a snapshot of the DB
** equals the normalized TSV load of the same files):
**   ratings  key (note_id, rater_id); the row with the later created_ms
**            wins, and on equal created_ms the later row wins;
**   notes / note_status_history / user_enrollment: the later row wins.
** Hence importing the same files twice leaves the tables unchanged.
**
** Speed: prepared statements; participant ids resolved through the
** in-memory cache (no SELECT per row); ratings buffered 256 k at a time and
** sorted by key before insertion so the WITHOUT ROWID B-tree is filled
** mostly in order; one transaction per 1 M rows (per file in strict mode).
*/
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RBUF_ROWS (256u * 1024u)
#define COMMIT_ROWS (1u << 20)

static const char sql_note[] =
    "INSERT INTO notes(note_id, author_id, created_ms, tweet_id, classification)"
    " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(note_id) DO UPDATE SET"
    " author_id = excluded.author_id, created_ms = excluded.created_ms,"
    " tweet_id = excluded.tweet_id, classification = excluded.classification";

static const char sql_rating[] =
    "INSERT INTO ratings(note_id, rater_id, created_ms, level, tags, source)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(note_id, rater_id) DO UPDATE SET"
    " created_ms = excluded.created_ms, level = excluded.level, tags = excluded.tags,"
    " source = excluded.source WHERE excluded.created_ms >= ratings.created_ms";

static const char sql_hist[] =
    "INSERT OR REPLACE INTO note_status_history(note_id, author_id, created_ms,"
    " ts_first_non_nmr, first_non_nmr_status, ts_current, current_status, ts_latest_non_nmr,"
    " most_recent_non_nmr_status, ts_lock, locked_status, ts_retro_lock, current_core_status,"
    " current_expansion_status, current_group_status, current_decided_by,"
    " current_modeling_group, ts_most_recent_change, ts_nmr_due_to_stable_crh,"
    " current_multi_group_status, current_modeling_multi_group, ts_minute_final_output,"
    " ts_first_nmr_due_to_stable_crh, above_pcrh_threshold_time)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24)";

static const char sql_enroll[] =
    "INSERT OR REPLACE INTO user_enrollment(participant, enrollment_state, successful_needed,"
    " ts_last_state_change, ts_last_earn_out, modeling_population, modeling_group,"
    " times_earned_out) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/* ---- the row writer ---------------------------------------------------- */

int ns__writer_init(ns_store *s, ns__writer *w) {
  int rc;
  memset(w, 0, sizeof *w);
  w->s = s;
  if ((rc = ns__db_prepare(s, sql_note, &w->st_note)) != 0 ||
      (rc = ns__db_prepare(s, sql_rating, &w->st_rating)) != 0 ||
      (rc = ns__db_prepare(s, sql_hist, &w->st_hist)) != 0 ||
      (rc = ns__db_prepare(s, sql_enroll, &w->st_enroll)) != 0) {
    ns__writer_free(w);
    return rc;
  }
  return 0;
}

void ns__writer_free(ns__writer *w) {
  sqlite3_finalize(w->st_note);
  sqlite3_finalize(w->st_rating);
  sqlite3_finalize(w->st_hist);
  sqlite3_finalize(w->st_enroll);
  free(w->rb);
  memset(w, 0, sizeof *w);
}

static void bind_pid(sqlite3_stmt *st, int i, int64_t id) {
  if (id) sqlite3_bind_int64(st, i, id);
  else sqlite3_bind_null(st, i);
}

int ns__writer_note(ns__writer *w, const ns__note_row *r) {
  sqlite3_stmt *st = w->st_note;
  int64_t pid;
  int rc = ns__pcache_get(w->s, r->author, r->author_len, &pid);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, r->note_id);
  bind_pid(st, 2, pid);
  sqlite3_bind_int64(st, 3, r->created_ms);
  sqlite3_bind_int64(st, 4, r->tweet_id);
  sqlite3_bind_int(st, 5, r->classification);
  return ns__db_step_done(w->s, st);
}

int ns__writer_rating(ns__writer *w, const ns__rating_row *r) {
  int32_t pid;
  int rc;
  ns__rbuf *b;
  if (r->rater_len == 0) return NS_EINVAL;
  if ((rc = ns__pcache_ref(w->s, r->rater, r->rater_len, &pid)) != 0) return rc;
  if (w->rb_n == w->rb_cap) {
    if (w->rb_cap >= RBUF_ROWS) {
      if ((rc = ns__writer_flush(w)) != 0) return rc;
    } else {
      size_t nc = w->rb_cap ? w->rb_cap * 2 : 4096;
      ns__rbuf *n = realloc(w->rb, nc * sizeof *n);
      if (!n) return NS_ENOMEM;
      w->rb = n;
      w->rb_cap = nc;
    }
  }
  b = &w->rb[w->rb_n++];
  b->note_id = r->note_id;
  b->rater_id = pid;
  b->created_ms = r->created_ms;
  b->tags = r->tags;
  b->level = r->level;
  b->source = r->source;
  b->seq = w->seq++;
  return 0;
}

/* (note_id, rater_id, seq): seq keeps file order among duplicates so that
** "on equal created_ms the later row wins" survives the sort. */
static int cmp_rbuf(const void *a, const void *b) {
  const ns__rbuf *x = a, *y = b;
  if (x->note_id != y->note_id) return x->note_id < y->note_id ? -1 : 1;
  if (x->rater_id != y->rater_id) return x->rater_id < y->rater_id ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int ns__writer_flush(ns__writer *w) {
  sqlite3_stmt *st = w->st_rating;
  int rc = 0;
  if (!w->rb_n) return 0;
  /* give new participants their ids, then cache index -> participants.id */
  if ((rc = ns__pcache_flush(w->s)) != 0) return rc;
  for (size_t i = 0; i < w->rb_n; i++) w->rb[i].rater_id = w->s->pc_id[w->rb[i].rater_id];
  qsort(w->rb, w->rb_n, sizeof *w->rb, cmp_rbuf);
  for (size_t i = 0; i < w->rb_n; i++) {
    const ns__rbuf *b = &w->rb[i];
    sqlite3_bind_int64(st, 1, b->note_id);
    sqlite3_bind_int64(st, 2, b->rater_id);
    sqlite3_bind_int64(st, 3, b->created_ms);
    sqlite3_bind_int(st, 4, b->level);
    sqlite3_bind_int64(st, 5, b->tags);
    sqlite3_bind_int(st, 6, b->source);
    if ((rc = ns__db_step_done(w->s, st)) != 0) break;
  }
  w->rb_n = 0;
  w->seq = 0;
  return rc;
}

void ns__writer_discard(ns__writer *w) {
  w->rb_n = 0;
  w->seq = 0;
}

int ns__writer_history(ns__writer *w, const ns_nsh *h, const char *author, size_t len) {
  sqlite3_stmt *st = w->st_hist;
  int64_t pid;
  int rc = ns__pcache_get(w->s, author, len, &pid);
  char dec[sizeof h->decided_by + 1];
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, h->note_id);
  bind_pid(st, 2, pid);
  ns__db_bind_opt(st, 3, h->created_ms);
  ns__db_bind_opt(st, 4, h->ts_first_non_nmr);
  ns__db_bind_status(st, 5, h->first_non_nmr_status);
  ns__db_bind_opt(st, 6, h->ts_current);
  ns__db_bind_status(st, 7, h->current_status);
  ns__db_bind_opt(st, 8, h->ts_latest_non_nmr);
  ns__db_bind_status(st, 9, h->most_recent_non_nmr_status);
  ns__db_bind_opt(st, 10, h->ts_lock);
  ns__db_bind_status(st, 11, h->locked_status);
  ns__db_bind_opt(st, 12, h->ts_retro_lock);
  ns__db_bind_status(st, 13, h->current_core_status);
  ns__db_bind_status(st, 14, h->current_expansion_status);
  ns__db_bind_status(st, 15, h->current_group_status);
  memcpy(dec, h->decided_by, sizeof h->decided_by);
  dec[sizeof h->decided_by] = '\0';
  if (dec[0]) sqlite3_bind_text(st, 16, dec, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, 16);
  ns__db_bind_f64(st, 17, h->current_modeling_group);
  ns__db_bind_opt(st, 18, h->ts_most_recent_change);
  ns__db_bind_opt(st, 19, h->ts_nmr_due_to_stable_crh);
  ns__db_bind_status(st, 20, h->current_multi_group_status);
  ns__db_bind_f64(st, 21, h->current_modeling_multi_group);
  ns__db_bind_opt(st, 22, h->ts_minute_final_output);
  ns__db_bind_opt(st, 23, h->ts_first_nmr_due_to_stable_crh);
  ns__db_bind_opt(st, 24, h->above_pcrh_threshold_time);
  return ns__db_step_done(w->s, st);
}

int ns__writer_enroll(ns__writer *w, const ns_enrollment *e, const char *p, size_t len) {
  sqlite3_stmt *st = w->st_enroll;
  int64_t pid;
  char pop[sizeof e->modeling_population + 1];
  int rc = ns__pcache_get(w->s, p, len, &pid);
  if (rc) return rc;
  if (!pid) return NS_EINVAL;
  sqlite3_bind_int64(st, 1, pid);
  if (e->state >= 0 && e->state < 9) sqlite3_bind_text(st, 2, ns_enroll_names[e->state], -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 2);
  ns__db_bind_opt(st, 3, e->successful_needed);
  ns__db_bind_opt(st, 4, e->ts_last_state_change);
  ns__db_bind_opt(st, 5, e->ts_last_earn_out);
  memcpy(pop, e->modeling_population, sizeof e->modeling_population);
  pop[sizeof e->modeling_population] = '\0';
  if (pop[0]) sqlite3_bind_text(st, 6, pop, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, 6);
  if (e->modeling_group >= 0) sqlite3_bind_int(st, 7, e->modeling_group);
  else sqlite3_bind_null(st, 7);
  ns__db_bind_opt(st, 8, e->times_earned_out);
  return ns__db_step_done(w->s, st);
}

/* ---- bulk import ------------------------------------------------------- */

typedef struct imp {
  ns__writer w;
  int strict;
  uint64_t in_txn;       /* rows written since the last commit */
} imp;

/* Commits every COMMIT_ROWS rows in non-strict mode, so the WAL stays
** bounded on a 100 M-row file. */
static int imp_tick(imp *k) {
  int rc;
  if (k->strict || ++k->in_txn < COMMIT_ROWS) return 0;
  k->in_txn = 0;
  if ((rc = ns__writer_flush(&k->w)) != 0) return rc;
  if ((rc = ns__db_commit(k->w.s)) != 0) return rc;
  return ns__db_begin_write(k->w.s);
}

static int imp_note(void *ctx, const ns__note_row *r) {
  imp *k = ctx;
  int rc = ns__writer_note(&k->w, r);
  return rc ? rc : imp_tick(k);
}
static int imp_rating(void *ctx, const ns__rating_row *r) {
  imp *k = ctx;
  int rc = ns__writer_rating(&k->w, r);
  return rc ? rc : imp_tick(k);
}
static int imp_history(void *ctx, const ns_nsh *h, const char *a, size_t n) {
  imp *k = ctx;
  int rc = ns__writer_history(&k->w, h, a, n);
  return rc ? rc : imp_tick(k);
}
static int imp_enroll(void *ctx, const ns_enrollment *e, const char *p, size_t n) {
  imp *k = ctx;
  int rc = ns__writer_enroll(&k->w, e, p, n);
  return rc ? rc : imp_tick(k);
}

static int import_one(ns_store *s, const char *path, const ns_load_opts *opts,
                      ns_load_stats *stats) {
  imp k;
  ns__tsv_src src = {path, path, NULL, 0, NS__TSV_BLOCK, 0};
  ns__tsv_sink sink = {&k, imp_note, imp_rating, imp_history, imp_enroll};
  int rc, kind;

  memset(stats, 0, sizeof *stats);
  /* Detect first: a file that is not a public TSV never opens a write
  ** transaction (and the header error is reported once, by the parse). */
  if (ns_tsv_detect(path, &kind) != 0) return ns__tsv_parse(&src, &sink, opts, stats);
  memset(&k, 0, sizeof k);
  k.strict = opts && opts->strict;
  if ((rc = ns__writer_init(s, &k.w)) != 0) return rc;
  if ((rc = ns__db_begin_write(s)) != 0) goto out;
  rc = ns__tsv_parse(&src, &sink, opts, stats);
  if (rc == 0) rc = ns__writer_flush(&k.w);
  if (rc == 0) rc = ns__db_commit(s);
  if (rc) {
    ns__writer_discard(&k.w);
    ns__db_rollback(s);
    if (k.strict) stats->rows_ok = 0;
    if (rc != NS_EPARSE && rc != NS_ECOLUMN && s->errbuf[0])
      ns__tsv_report(opts, "%s: %s", path, s->errbuf);
  }
out:
  ns__writer_free(&k.w);
  return rc;
}

int ns_store_import(ns_store *s, const char *path, const ns_load_opts *opts,
                    ns_load_stats *stats) {
  char **list = NULL;
  size_t n = 0;
  ns_load_stats one, tmp;
  int rc, first = 0;
  if (!stats) stats = &tmp;
  memset(stats, 0, sizeof *stats);
  if (s->readonly) return NS_EINVAL;
  if ((rc = ns_tsv_list(path, &list, &n)) != 0) {
    ns__tsv_report(opts, "%s: cannot open: %s", path, ns_strerror(rc));
    return rc;
  }
  /* NORMAL is enough during the bulk load (WAL keeps the DB consistent;
  ** a crash loses at most the last commits, and import is idempotent).
  ** The checkpoint below syncs everything before we return. */
  ns__db_exec(s, "PRAGMA synchronous=NORMAL");
  /* A bigger page cache (a fixed 256 MiB, whatever the input size) keeps the
  ** ratings B-tree's hot pages in memory, and no automatic checkpoints means
  ** pages are written once to the WAL during the load instead of twice; the
  ** single checkpoint below moves them into the DB. */
  ns__db_exec(s, "PRAGMA cache_size=-262144; PRAGMA wal_autocheckpoint=0");
  for (size_t i = 0; i < n; i++) {
    rc = import_one(s, list[i], opts, &one);
    if (rc && !first) first = rc;
    stats->kind = i == 0 ? one.kind : stats->kind == one.kind ? one.kind : NS_FILE_UNKNOWN;
    stats->rows_read += one.rows_read;
    stats->rows_ok += one.rows_ok;
    stats->rows_rejected += one.rows_rejected;
  }
  ns__db_exec(s, "PRAGMA synchronous=FULL");
  /* With synchronous=FULL the checkpoint syncs the WAL and then the DB;
  ** TRUNCATE also gives the WAL's disk space back. */
  rc = ns__db_exec(s, "PRAGMA wal_checkpoint(TRUNCATE)");
  ns__db_exec(s, "PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=1000");
  if (rc && !first) first = rc;
  ns_tsv_list_free(list, n);
  return first;
}
