/*
** store/import.c -- writing input rows into SQLite: the row writer shared by
** bulk import (ns_store_import) and the server's ingest batches
** (ns_store_ingest, store.c), and the two-thread bulk import pipeline.
**
** Who calls it: store.c, the CLI `notescore import`.  Thread: the handle's;
** each imported file also runs one writer thread of its own (below),
** which is then the only thread touching the SQLite handle.
**
** Upsert rules (the same as ns_dataset_normalize, so a snapshot of the DB
** equals the normalized TSV load of the same files):
**   ratings  key (note_id, rater_id); the row with the later created_ms
**            wins, and on equal created_ms the later row wins;
**   notes / note_status_history / user_enrollment: the later row wins.
** Hence importing the same files twice leaves the tables unchanged.
**
** Speed (docs/architecture.md, store/; numbers in docs/operations.md):
**   - participant ids resolved through the in-memory cache (no SELECT per
**     row), with the hash computed and the table slot / string prefetched a
**     few rows before the lookup (a lookup among 200 k+ random ids otherwise
**     waits on two cache misses);
**   - ratings are buffered in batches and sorted by key, so the WITHOUT
**     ROWID B-tree is filled mostly in order, and each batch is upserted by
**     ONE statement reading the eponymous virtual table ns_rating_batch
**     (no per-row bind/step/reset: half the SQLite cost of a bound INSERT);
**   - a file is parsed, interned and sorted on the caller's thread
**     while a writer thread upserts the previous batches (bounded queue of
**     NBATCH batches: constant memory);
**   - one transaction per 2^18 rows (per file in strict mode), with a short
**     pause between them so a server beside the import gets the write lock.
*/
#include "store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>

#define RBUF_ROWS (256u * 1024u) /* ingest / row writer: flush threshold */
#define COMMIT_ROWS (1u << 18)   /* rows per transaction (non-strict import) */
/* After each commit the writer sleeps this long before it takes the write
** lock again, so a server's group commit waiting in the busy handler (which
** polls every millisecond, store.c) gets in: a concurrent ingest waits at
** most about one transaction (2^18 rows, ~0.15 s), not the whole import.
** Costs 2 ms per 2^18 rows. */
#define IMPORT_YIELD_MS 2

/* A row without a summary (an NDJSON ingest that leaves it out) keeps the
** stored one: the text of a note does not change once written. */
static const char sql_note[] =
    "INSERT INTO notes(note_id, author_id, created_ms, tweet_id, classification, summary)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(note_id) DO UPDATE SET"
    " author_id = excluded.author_id, created_ms = excluded.created_ms,"
    " tweet_id = excluded.tweet_id, classification = excluded.classification,"
    " summary = coalesce(excluded.summary, notes.summary)";

/* One statement per batch: SQLite steps through the batch rows itself.
** "WHERE 1" is required by the grammar (an upsert after a SELECT).  The
** update applies when the new row is later, or equally late and different:
** a row identical to the stored one is left alone, so re-importing a file
** rewrites nothing (same result as rewriting it, at a third of the cost). */
static const char sql_rating_batch[] =
    "INSERT INTO ratings(note_id, rater_id, created_ms, level, tags, source)"
    " SELECT note_id, rater_id, created_ms, level, tags, source FROM ns_rating_batch WHERE 1"
    " ON CONFLICT(note_id, rater_id) DO UPDATE SET"
    " created_ms = excluded.created_ms, level = excluded.level, tags = excluded.tags,"
    " source = excluded.source WHERE excluded.created_ms > ratings.created_ms OR"
    " (excluded.created_ms = ratings.created_ms AND (excluded.level <> ratings.level OR"
    " excluded.tags <> ratings.tags OR excluded.source <> ratings.source))";

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

/* ---- the ns_rating_batch virtual table ---------------------------------- */

/* Eponymous-only (no xCreate): "FROM ns_rating_batch" works on this
** connection without a CREATE VIRTUAL TABLE, so the schema is untouched. */
typedef struct vb_tab {
  sqlite3_vtab base;
  ns_store *s;
} vb_tab;

typedef struct vb_cur {
  sqlite3_vtab_cursor base;
  const ns_store *s;
  size_t i;
} vb_cur;

static int vb_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **err) {
  vb_tab *v;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(note_id, rater_id, created_ms, level, tags, source)");
  (void)argc;
  (void)argv;
  (void)err;
  if (rc != SQLITE_OK) return rc;
  if (!(v = sqlite3_malloc(sizeof *v))) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->s = aux;
  /* not usable from triggers or views, only by our own statement */
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *out = &v->base;
  return SQLITE_OK;
}

static int vb_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

static int vb_best_index(sqlite3_vtab *v, sqlite3_index_info *info) {
  (void)v;
  info->estimatedCost = 1e5;
  info->estimatedRows = 100000;
  return SQLITE_OK;
}

static int vb_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out) {
  vb_cur *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->s = ((vb_tab *)v)->s;
  *out = &c->base;
  return SQLITE_OK;
}

static int vb_close(sqlite3_vtab_cursor *c) {
  sqlite3_free(c);
  return SQLITE_OK;
}

static int vb_filter(sqlite3_vtab_cursor *c, int idx_num, const char *idx_str, int argc,
                     sqlite3_value **argv) {
  (void)idx_num;
  (void)idx_str;
  (void)argc;
  (void)argv;
  ((vb_cur *)c)->i = 0;
  return SQLITE_OK;
}

static int vb_next(sqlite3_vtab_cursor *c) {
  ((vb_cur *)c)->i++;
  return SQLITE_OK;
}

static int vb_eof(sqlite3_vtab_cursor *c) {
  const vb_cur *k = (const vb_cur *)c;
  return k->i >= k->s->vb_n;
}

static int vb_column(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int col) {
  const vb_cur *k = (const vb_cur *)c;
  const ns__rbuf *r = &k->s->vb_rows[k->i];
  switch (col) {
  case 0: sqlite3_result_int64(ctx, r->note_id); break;
  case 1: sqlite3_result_int64(ctx, r->rater_id); break;
  case 2: sqlite3_result_int64(ctx, r->created_ms); break;
  case 3: sqlite3_result_int(ctx, r->level); break;
  case 4: sqlite3_result_int64(ctx, r->tags); break;
  default: sqlite3_result_int(ctx, r->source); break;
  }
  return SQLITE_OK;
}

static int vb_rowid(sqlite3_vtab_cursor *c, sqlite3_int64 *rowid) {
  *rowid = (sqlite3_int64)((vb_cur *)c)->i;
  return SQLITE_OK;
}

static const sqlite3_module vb_module = {
    .iVersion = 0,
    .xConnect = vb_connect,
    .xBestIndex = vb_best_index,
    .xDisconnect = vb_disconnect,
    .xOpen = vb_open,
    .xClose = vb_close,
    .xFilter = vb_filter,
    .xNext = vb_next,
    .xEof = vb_eof,
    .xColumn = vb_column,
    .xRowid = vb_rowid,
};

int ns__rbatch_register(ns_store *s) {
  int src = sqlite3_create_module(s->db, "ns_rating_batch", &vb_module, s);
  if (src != SQLITE_OK) {
    snprintf(s->errbuf, sizeof s->errbuf, "%s", sqlite3_errmsg(s->db));
    return ns__db_err(s, src);
  }
  return 0;
}

/* Upserts rows[0..n) (rater_id = participants.id) with one statement. */
static int upsert_ratings(ns_store *s, sqlite3_stmt *st, const ns__rbuf *rows, size_t n) {
  int rc;
  if (!n) return 0;
  s->vb_rows = rows;
  s->vb_n = n;
  rc = ns__db_step_done(s, st);
  s->vb_rows = NULL;
  s->vb_n = 0;
  return rc;
}

/* ---- sorting a batch --------------------------------------------------- */

/* Order (note_id, rater_id, seq): seq keeps file order among duplicates, so
** "on equal created_ms the later row wins" survives the sort. */
static inline int rb_less(const ns__rbuf *x, const ns__rbuf *y) {
  if (x->note_id != y->note_id) return x->note_id < y->note_id;
  if (x->rater_id != y->rater_id) return x->rater_id < y->rater_id;
  return x->seq < y->seq;
}

/* Bottom-up merge sort: insertion-sorted runs of 32, then merges that are
** skipped in O(1) when the two runs are already in order.  Public ratings
** files come grouped by note, so most merges above the size of a note's
** group are skipped; qsort() would pay n log n compares through a function
** pointer.  tmp holds n rows (a left run can be almost n long). */
#define SORT_RUN 32
static void rb_sort(ns__rbuf *a, size_t n, ns__rbuf *tmp) {
  for (size_t lo = 0; lo < n; lo += SORT_RUN) {
    size_t hi = NS_MIN(lo + SORT_RUN, n);
    for (size_t i = lo + 1; i < hi; i++) {
      ns__rbuf x;
      size_t j = i;
      if (!rb_less(&a[i], &a[i - 1])) continue;
      x = a[i];
      do {
        a[j] = a[j - 1];
        j--;
      } while (j > lo && rb_less(&x, &a[j - 1]));
      a[j] = x;
    }
  }
  for (size_t w = SORT_RUN; w < n; w *= 2) {
    for (size_t lo = 0; lo + w < n; lo += 2 * w) {
      size_t mid = lo + w, hi = NS_MIN(lo + 2 * w, n), i = 0, j = mid, k = lo;
      if (!rb_less(&a[mid], &a[mid - 1])) continue; /* already in order */
      memcpy(tmp, a + lo, w * sizeof *a);
      while (i < w && j < hi) a[k++] = rb_less(&a[j], &tmp[i]) ? a[j++] : tmp[i++];
      while (i < w) a[k++] = tmp[i++];
    }
  }
}

/* ---- the row writer ---------------------------------------------------- */

int ns__writer_init(ns_store *s, ns__writer *w) {
  int rc;
  memset(w, 0, sizeof *w);
  w->s = s;
  if ((rc = ns__db_prepare(s, sql_note, &w->st_note)) != 0 ||
      (rc = ns__db_prepare(s, sql_rating_batch, &w->st_rating)) != 0 ||
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

/* The row statements, given the author's / participant's DB id (0 = NULL);
** shared by the row writer and the import pipeline's writer thread. */
static int put_note(ns_store *s, sqlite3_stmt *st, int64_t note_id, int64_t pid,
                    int64_t created_ms, int64_t tweet_id, int classification, const char *txt,
                    size_t txt_len) {
  sqlite3_bind_int64(st, 1, note_id);
  bind_pid(st, 2, pid);
  sqlite3_bind_int64(st, 3, created_ms);
  sqlite3_bind_int64(st, 4, tweet_id);
  sqlite3_bind_int(st, 5, classification);
  if (txt_len) sqlite3_bind_text(st, 6, txt, (int)txt_len, SQLITE_STATIC);
  else sqlite3_bind_null(st, 6);
  return ns__db_step_done(s, st);
}

/* History and enrollment rows: the statement's parameters are the public
** columns in table order (sql_hist, sql_enroll), so each is bound from the
** column table of store/format.c by its type and offset, not by hand. */
static int put_row(ns_store *s, sqlite3_stmt *st, int kind, const void *row, int64_t pid) {
  const ns_fmt_kind *k = ns_fmt_kind_get(kind);
  for (int c = 0; c < k->ncols; c++) {
    const ns_fmt_col *col = &k->cols[c];
    const void *f = (const char *)row + col->off;
    int i = c + 1;
    switch (col->type) {
    case NS_FT_PARTICIPANT: bind_pid(st, i, pid); break;
    case NS_FT_NOTE_ID: sqlite3_bind_int64(st, i, *(const int64_t *)f); break;
    case NS_FT_OPT_INT: ns__db_bind_opt(st, i, *(const int64_t *)f); break;
    case NS_FT_STATUS: ns__db_bind_status(st, i, *(const int8_t *)f); break;
    case NS_FT_REAL: ns__db_bind_f64(st, i, *(const double *)f); break;
    case NS_FT_TEXT: {
      size_t n = strnlen(f, col->max);
      if (n) sqlite3_bind_text(st, i, f, (int)n, SQLITE_TRANSIENT);
      else sqlite3_bind_null(st, i);
      break;
    }
    case NS_FT_GROUP: {
      int32_t g = *(const int32_t *)f;
      if (g >= 0) sqlite3_bind_int(st, i, g);
      else sqlite3_bind_null(st, i);
      break;
    }
    case NS_FT_ENUM: {
      int8_t v = *(const int8_t *)f;
      if (v >= 0 && v < col->nvalues) sqlite3_bind_text(st, i, col->values[v], -1, SQLITE_STATIC);
      else sqlite3_bind_null(st, i);
      break;
    }
    default: sqlite3_bind_null(st, i); break;
    }
  }
  return ns__db_step_done(s, st);
}

static int put_history(ns_store *s, sqlite3_stmt *st, const ns_nsh *h, int64_t pid) {
  return put_row(s, st, NS_FILE_HISTORY, h, pid);
}

static int put_enroll(ns_store *s, sqlite3_stmt *st, const ns_enrollment *e, int64_t pid) {
  if (!pid) return NS_EINVAL;
  return put_row(s, st, NS_FILE_ENROLLMENT, e, pid);
}

int ns__writer_note(ns__writer *w, const ns__note_row *r) {
  int64_t pid;
  char *txt = NULL;
  size_t tl = r->summary_len;
  int rc = ns__pcache_get(w->s, r->author, r->author_len, &pid);
  if (rc) return rc;
  if (tl > INT32_MAX) return NS_ERANGE;
  if (r->summary_dq) {
    if (!(txt = ns_malloc(tl ? tl : 1))) return NS_ENOMEM;
    tl = ns_fmt_text_copy(txt, r->summary, tl, 1);
  }
  rc = put_note(w->s, w->st_note, r->note_id, pid, r->created_ms, r->tweet_id, r->classification,
                txt ? txt : r->summary, tl);
  free(txt);
  return rc;
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
      ns__rbuf *n = ns_realloc(w->rb, nc * sizeof *n);
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

int ns__writer_flush(ns__writer *w) {
  ns__rbuf *tmp;
  int rc;
  if (!w->rb_n) return 0;
  /* give new participants their ids, then cache index -> participants.id */
  if ((rc = ns__pcache_flush(w->s)) != 0) return rc;
  for (size_t i = 0; i < w->rb_n; i++) w->rb[i].rater_id = w->s->pc_id[w->rb[i].rater_id];
  if (!(tmp = ns_malloc(w->rb_n * sizeof *tmp))) return NS_ENOMEM;
  rb_sort(w->rb, w->rb_n, tmp);
  free(tmp);
  rc = upsert_ratings(w->s, w->st_rating, w->rb, w->rb_n);
  w->rb_n = 0;
  w->seq = 0;
  return rc;
}

void ns__writer_discard(ns__writer *w) {
  w->rb_n = 0;
  w->seq = 0;
}

int ns__writer_history(ns__writer *w, const ns_nsh *h, const char *author, size_t len) {
  int64_t pid;
  int rc = ns__pcache_get(w->s, author, len, &pid);
  return rc ? rc : put_history(w->s, w->st_hist, h, pid);
}

int ns__writer_enroll(ns__writer *w, const ns_enrollment *e, const char *p, size_t len) {
  int64_t pid;
  int rc = ns__pcache_get(w->s, p, len, &pid);
  return rc ? rc : put_enroll(w->s, w->st_enroll, e, pid);
}

/* ---- the import pipeline ----------------------------------------------- */

/* A ratings file is the bulk of any import (100 M+ rows in the public
** data), and its two halves cost about the same: parsing + interning +
** sorting on one side, SQLite's upserts on the other.  So the caller's
** thread parses and fills batches, and a writer thread -- the only SQLite
** user while the file is being read -- writes them.  The other three files
** take the same road (their rows are bound one by one on the writer).
**
**   caller (parser)                          writer thread
**   parse row -> ring of RING rows in flight
**     (hash computed, slot/string prefetched)
**   intern participant -> cache index; a new
**     one is noted in the batch (index, string)
**   batch full: sort ratings by                queue (NBATCH batches in all:
**     (note, index, seq)                  ->     bounded memory)
**                                            INSERT the batch's new
**                                              participants, ids in index
**                                              order; index -> id; one
**                                              upsert of the rating batch;
**                                              COMMIT + BEGIN every 2^18 rows
**
** Participant ids are handed out in cache-index order (first-seen order),
** so the order by index that the parser sorts on is also the order by id
** the B-tree wants; each batch's new participants are INSERTed sorted by
** string, so the UNIQUE index on participant_id is filled in order too.  The parser owns s->pc_tab, the writer owns s->pc_id /
** s->pc_max, until the writer is joined.  The caller keeps the outer
** transaction: it BEGINs before the writer starts and COMMITs or rolls back
** after it has stopped, so strict mode and error handling are unchanged. */

#define BATCH_BYTES (64u * 1024u * sizeof(ns__rbuf)) /* 64 k ratings */
#define NBATCH 3   /* one being filled, one queued, one being written */
#define RING 8     /* ratings in flight between hashing and interning */
#define AHEAD 4    /* a rater's string is prefetched AHEAD rows before use */

/* A buffered notes row: author is a cache index, -1 for none; the summary
** is txt_len bytes at txt_off in its batch's text arena. */
typedef struct nbuf {
  int64_t note_id, created_ms, tweet_id;
  size_t txt_off;
  uint32_t txt_len;
  int32_t author;
  uint8_t classification;
} nbuf;

/* A notes batch is also sent once its summaries reach this many bytes, so
** memory stays bounded (three batches in flight). */
#define BATCH_TEXT_BYTES (16u << 20)

typedef struct newp {
  int32_t idx;
  uint32_t len;
  const char *str;      /* in the cache's arena: stable, read by the writer */
} newp;

/* Rows of one kind; history / enrollment rows carry the participant's
** cache index in their author / participant field (-1 for none). */
typedef struct batch {
  union {
    void *any;
    ns__rbuf *r;
    nbuf *nt;
    ns_nsh *h;
    ns_enrollment *e;
  } rows;               /* BATCH_BYTES */
  size_t n;
  newp *np;             /* participants first seen in this batch, index order */
  size_t np_n, np_cap;
  char *txt;            /* notes: the rows' summaries */
  size_t txt_n, txt_cap;
} batch;

typedef struct inflight {
  ns__rbuf r;
  uint64_t h;
  uint32_t len;
  char id[256];         /* the parser caps participant ids at 255 bytes */
} inflight;

typedef struct imp_pipe {
  ns_store *s;
  int kind, strict;
  size_t cap;           /* rows per batch for this kind */
  pthread_t th;
  int started;
  /* shared, under mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  batch *q[NBATCH];     /* full batches, FIFO */
  size_t q_head, q_n;
  batch *fr[NBATCH];    /* free batches */
  size_t fr_n;
  int closing;          /* the parser sends nothing more */
  int err;              /* first error: the writer's, or NS_ECANCELED */
  /* writer only */
  sqlite3_stmt *st_row, *st_pins, *st_psel, *st_max;
  uint64_t in_txn;
  int foreign;          /* another writer added participants meanwhile */
  double w_cpu, w_idle; /* writer CPU seconds; seconds waiting for batches */
  /* parser only */
  double p_cpu0, p_wait; /* parser CPU at start; seconds waiting for a batch */
  batch *cur;
  ns__rbuf *tmp;        /* sort scratch */
  inflight ring[RING];
  size_t r_head, r_n;
  uint32_t seq;
  batch bufs[NBATCH];
} imp_pipe;

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void pipe_set_err(imp_pipe *p, int e) {
  pthread_mutex_lock(&p->mu);
  if (!p->err) p->err = e;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

/* -- writer side -- */

/* Highest participants.id; notes when someone else added participants
** since this handle last looked (they may hold strings we meet later). */
static int pipe_refresh_max(imp_pipe *p) {
  ns_store *s = p->s;
  int src = sqlite3_step(p->st_max);
  if (src == SQLITE_ROW) {
    int64_t m = sqlite3_column_int64(p->st_max, 0);
    if (m > s->pc_max) {
      s->pc_max = m;
      p->foreign = 1;
    }
    src = sqlite3_step(p->st_max);
  }
  sqlite3_reset(p->st_max);
  if (src != SQLITE_DONE) {
    snprintf(s->errbuf, sizeof s->errbuf, "%s", sqlite3_errmsg(s->db));
    return ns__db_err(s, src);
  }
  return 0;
}

/* INSERTs a new participant with id *id; when another writer has inserted
** the same string meanwhile, takes its id instead (*id is then unused). */
static int pipe_participant(imp_pipe *p, const newp *e, int64_t *id) {
  ns_store *s = p->s;
  int rc, src;
  sqlite3_bind_int64(p->st_pins, 1, *id);
  sqlite3_bind_text(p->st_pins, 2, e->str, (int)e->len, SQLITE_STATIC);
  if ((rc = ns__db_step_done(s, p->st_pins)) != 0) return rc;
  if (sqlite3_changes(s->db) == 1) return 0;
  p->foreign = 1;
  sqlite3_bind_text(p->st_psel, 1, e->str, (int)e->len, SQLITE_STATIC);
  src = sqlite3_step(p->st_psel);
  *id = src == SQLITE_ROW ? sqlite3_column_int64(p->st_psel, 0) : 0;
  sqlite3_reset(p->st_psel);
  if (src != SQLITE_ROW) {
    snprintf(s->errbuf, sizeof s->errbuf, "participant '%.64s' vanished during import", e->str);
    return NS_ESQL;
  }
  return 0;
}

/* participants.id of a cache index (-1: none -> 0, bound as NULL) */
static inline int64_t pid_of(const ns_store *s, int32_t idx) { return idx < 0 ? 0 : s->pc_id[idx]; }

static int pipe_write(imp_pipe *p, batch *b) {
  ns_store *s = p->s;
  int rc = 0;
  if (b->np_n) {
    /* The batch's new participants have consecutive cache indexes
    ** first..first+np_n-1 and get ids in that order; they come sorted by
    ** string, so the UNIQUE index on participant_id is filled in order. */
    int32_t first = b->np[0].idx, last = first;
    int64_t base = s->pc_max + 1;
    for (size_t i = 1; i < b->np_n; i++) {
      first = NS_MIN(first, b->np[i].idx);
      last = b->np[i].idx > last ? b->np[i].idx : last;
    }
    if ((size_t)last >= s->pc_cap) {
      size_t nc = s->pc_cap ? s->pc_cap : 4096;
      int64_t *n;
      while (nc <= (size_t)last) nc *= 2;
      if (!(n = ns_realloc(s->pc_id, nc * sizeof *n))) return NS_ENOMEM;
      s->pc_id = n;
      s->pc_cap = nc;
    }
    for (size_t i = 0; i < b->np_n; i++) {
      const newp *e = &b->np[i];
      int64_t id = base + (e->idx - first);
      if ((rc = pipe_participant(p, e, &id)) != 0) return rc;
      s->pc_id[e->idx] = id;
    }
    s->pc_max = base + (last - first);
  }
  switch (p->kind) {
  case NS_FILE_RATINGS:
    for (size_t i = 0; i < b->n; i++) b->rows.r[i].rater_id = s->pc_id[b->rows.r[i].rater_id];
    rc = upsert_ratings(s, p->st_row, b->rows.r, b->n);
    break;
  case NS_FILE_NOTES:
    for (size_t i = 0; i < b->n && !rc; i++) {
      const nbuf *x = &b->rows.nt[i];
      rc = put_note(s, p->st_row, x->note_id, pid_of(s, x->author), x->created_ms, x->tweet_id,
                    x->classification, b->txt + x->txt_off, x->txt_len);
    }
    break;
  case NS_FILE_HISTORY:
    for (size_t i = 0; i < b->n && !rc; i++)
      rc = put_history(s, p->st_row, &b->rows.h[i], pid_of(s, b->rows.h[i].author));
    break;
  default:
    for (size_t i = 0; i < b->n && !rc; i++)
      rc = put_enroll(s, p->st_row, &b->rows.e[i], pid_of(s, b->rows.e[i].participant));
    break;
  }
  if (rc) return rc;
  p->in_txn += b->n;
  if (!p->strict && p->in_txn >= COMMIT_ROWS) {
    /* not ns__db_commit/begin_write: those touch the parser's cache */
    p->in_txn = 0;
    if ((rc = ns__db_exec(s, "COMMIT")) != 0) return rc;
    {
      struct timespec ts = {0, IMPORT_YIELD_MS * 1000000L};
      nanosleep(&ts, NULL);
    }
    if ((rc = ns__db_exec(s, "BEGIN IMMEDIATE")) != 0) return rc;
    if ((rc = pipe_refresh_max(p)) != 0) return rc;
  }
  return 0;
}

static void *pipe_writer(void *arg) {
  imp_pipe *p = arg;
  for (;;) {
    batch *b;
    int rc = 0, err;
    double t0 = ns_monotonic_s();
    pthread_mutex_lock(&p->mu);
    while (!p->q_n && !p->closing) pthread_cond_wait(&p->cv, &p->mu);
    p->w_idle += ns_monotonic_s() - t0;
    if (!p->q_n) {
      pthread_mutex_unlock(&p->mu);
      break;
    }
    b = p->q[p->q_head];
    p->q_head = (p->q_head + 1) % NBATCH;
    p->q_n--;
    err = p->err;
    pthread_mutex_unlock(&p->mu);
    if (!err) rc = pipe_write(p, b); /* after an error, batches are just returned */
    pthread_mutex_lock(&p->mu);
    if (rc && !p->err) p->err = rc;
    p->fr[p->fr_n++] = b;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
  p->w_cpu = thread_cpu_s();
  return NULL;
}

/* -- parser side -- */

/* BINARY collation order, as the UNIQUE index on participant_id has it */
static int cmp_newp(const void *a, const void *b) {
  const newp *x = a, *y = b;
  int c = memcmp(x->str, y->str, NS_MIN(x->len, y->len));
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void pipe_send(imp_pipe *p) {
  batch *b = p->cur;
  if (p->kind == NS_FILE_RATINGS) rb_sort(b->rows.r, b->n, p->tmp);
  if (b->np_n > 1) qsort(b->np, b->np_n, sizeof *b->np, cmp_newp);
  p->cur = NULL;
  p->seq = 0;
  pthread_mutex_lock(&p->mu);
  p->q[(p->q_head + p->q_n) % NBATCH] = b;
  p->q_n++;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

/* The batch to append to (a free one, waiting while all are queued or
** being written); NULL after a writer error, with *rc set. */
static batch *pipe_batch(imp_pipe *p, int *rc) {
  int err;
  double t0;
  if (p->cur) return p->cur;
  t0 = ns_monotonic_s();
  pthread_mutex_lock(&p->mu);
  while (!p->fr_n && !p->err) pthread_cond_wait(&p->cv, &p->mu);
  p->p_wait += ns_monotonic_s() - t0;
  err = p->err;
  if (!err) p->cur = p->fr[--p->fr_n];
  pthread_mutex_unlock(&p->mu);
  if ((*rc = err) != 0) return NULL;
  p->cur->n = 0;
  p->cur->np_n = 0;
  p->cur->txt_n = 0;
  return p->cur;
}

/* Counts a row appended to the current batch; sends the batch when full. */
static void pipe_added(imp_pipe *p) {
  if (++p->cur->n == p->cap) pipe_send(p);
}

/* Cache index of a participant string (len 0: -1); a new one is noted in
** batch b for the writer.  h: the string's hash. */
static int pipe_intern(imp_pipe *p, batch *b, const char *str, size_t len, uint64_t h,
                       int32_t *idx) {
  ns_strtab *t = p->s->pc_tab;
  size_t before = ns_strtab_count(t);
  int rc;
  *idx = -1;
  if (!len) return 0;
  if ((rc = ns_strtab_intern_hashed(t, str, len, h, idx)) != 0) return rc;
  if (ns_strtab_count(t) != before) {
    if (b->np_n == b->np_cap) {
      size_t nc = b->np_cap ? b->np_cap * 2 : 1024;
      newp *n = ns_realloc(b->np, nc * sizeof *n);
      if (!n) return NS_ENOMEM;
      b->np = n;
      b->np_cap = nc;
    }
    b->np[b->np_n++] = (newp){*idx, (uint32_t)len, ns_strtab_str(t, *idx)};
  }
  return 0;
}

/* Interns the oldest rating in flight and appends it to the batch. */
static int pipe_resolve(imp_pipe *p) {
  inflight *e = &p->ring[p->r_head];
  int32_t idx;
  batch *b;
  int rc;
  p->r_head = (p->r_head + 1) % RING;
  p->r_n--;
  if (!(b = pipe_batch(p, &rc))) return rc;
  if ((rc = pipe_intern(p, b, e->id, e->len, e->h, &idx)) != 0) return rc;
  e->r.rater_id = idx;
  e->r.seq = p->seq++;
  b->rows.r[b->n] = e->r;
  pipe_added(p);
  return 0;
}

static int pipe_rating(void *ctx, const ns__rating_row *r) {
  imp_pipe *p = ctx;
  const ns_strtab *t = p->s->pc_tab;
  inflight *e;
  int rc;
  if (r->rater_len == 0 || r->rater_len >= sizeof e->id) return NS_EINVAL;
  if (p->r_n == RING && (rc = pipe_resolve(p)) != 0) return rc;
  e = &p->ring[(p->r_head + p->r_n++) % RING];
  e->r.note_id = r->note_id;
  e->r.created_ms = r->created_ms;
  e->r.tags = r->tags;
  e->r.level = r->level;
  e->r.source = r->source;
  e->h = ns_strtab_hash(r->rater, r->rater_len);
  ns_strtab_prefetch(t, e->h, 0);
  memcpy(e->id, r->rater, r->rater_len);
  e->len = (uint32_t)r->rater_len;
  if (p->r_n > AHEAD) ns_strtab_prefetch(t, p->ring[(p->r_head + p->r_n - 1 - AHEAD) % RING].h, 1);
  return 0;
}

static int pipe_note(void *ctx, const ns__note_row *r) {
  imp_pipe *p = ctx;
  batch *b;
  nbuf *x;
  int rc;
  if (!(b = pipe_batch(p, &rc))) return rc;
  x = &b->rows.nt[b->n];
  if ((rc = pipe_intern(p, b, r->author, r->author_len, ns_strtab_hash(r->author, r->author_len),
                        &x->author)) != 0)
    return rc;
  x->note_id = r->note_id;
  x->created_ms = r->created_ms;
  x->tweet_id = r->tweet_id;
  x->classification = r->classification;
  if (r->summary_len > INT32_MAX) return NS_ERANGE;
  if (r->summary_len > b->txt_cap - b->txt_n) {
    size_t nc = b->txt_cap ? b->txt_cap : 1 << 16;
    char *t;
    while (nc - b->txt_n < r->summary_len) nc *= 2;
    if (!(t = ns_realloc(b->txt, nc))) return NS_ENOMEM;
    b->txt = t;
    b->txt_cap = nc;
  }
  x->txt_off = b->txt_n;
  x->txt_len = (uint32_t)ns_fmt_text_copy(b->txt + b->txt_n, r->summary, r->summary_len,
                                          r->summary_dq);
  b->txt_n += x->txt_len;
  if (b->txt_n >= BATCH_TEXT_BYTES && b->n + 1 < p->cap) {
    b->n++; /* pipe_added's count, then send the batch early */
    pipe_send(p);
    return 0;
  }
  pipe_added(p);
  return 0;
}

static int pipe_history(void *ctx, const ns_nsh *h, const char *a, size_t n) {
  imp_pipe *p = ctx;
  batch *b;
  ns_nsh *x;
  int rc;
  if (!(b = pipe_batch(p, &rc))) return rc;
  x = &b->rows.h[b->n];
  *x = *h;
  if ((rc = pipe_intern(p, b, a, n, ns_strtab_hash(a, n), &x->author)) != 0) return rc;
  pipe_added(p);
  return 0;
}

static int pipe_enroll(void *ctx, const ns_enrollment *e, const char *str, size_t n) {
  imp_pipe *p = ctx;
  batch *b;
  ns_enrollment *x;
  int rc;
  if (!n) return NS_EINVAL;
  if (!(b = pipe_batch(p, &rc))) return rc;
  x = &b->rows.e[b->n];
  *x = *e;
  if ((rc = pipe_intern(p, b, str, n, ns_strtab_hash(str, n), &x->participant)) != 0) return rc;
  pipe_added(p);
  return 0;
}

static void pipe_free(imp_pipe *p) {
  for (int i = 0; i < NBATCH; i++) {
    free(p->bufs[i].rows.any);
    free(p->bufs[i].np);
    free(p->bufs[i].txt);
  }
  free(p->tmp);
  sqlite3_finalize(p->st_row);
  sqlite3_finalize(p->st_pins);
  sqlite3_finalize(p->st_psel);
  sqlite3_finalize(p->st_max);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
}

/* Call inside the caller's write transaction (the cache is synced). */
static int pipe_start(imp_pipe *p, ns_store *s, int kind, int strict) {
  const char *sql;
  size_t row;
  int rc;
  memset(p, 0, sizeof *p);
  p->s = s;
  p->kind = kind;
  p->strict = strict;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  switch (kind) {
  case NS_FILE_RATINGS: row = sizeof(ns__rbuf); sql = sql_rating_batch; break;
  case NS_FILE_NOTES: row = sizeof(nbuf); sql = sql_note; break;
  case NS_FILE_HISTORY: row = sizeof(ns_nsh); sql = sql_hist; break;
  default: row = sizeof(ns_enrollment); sql = sql_enroll; break;
  }
  p->cap = BATCH_BYTES / row;
  for (int i = 0; i < NBATCH; i++) {
    if (!(p->bufs[i].rows.any = ns_malloc(BATCH_BYTES))) return NS_ENOMEM;
    p->fr[p->fr_n++] = &p->bufs[i];
  }
  if (kind == NS_FILE_RATINGS && !(p->tmp = ns_malloc(BATCH_BYTES))) return NS_ENOMEM;
  if ((rc = ns__db_prepare(s, sql, &p->st_row)) != 0 ||
      (rc = ns__db_prepare(s,
                           "INSERT INTO participants(id, participant_id) VALUES(?, ?)"
                           " ON CONFLICT(participant_id) DO NOTHING",
                           &p->st_pins)) != 0 ||
      (rc = ns__db_prepare(s, "SELECT id FROM participants WHERE participant_id = ?",
                           &p->st_psel)) != 0 ||
      (rc = ns__db_prepare(s, "SELECT max(id) FROM participants", &p->st_max)) != 0)
    return rc;
  if ((rc = pipe_refresh_max(p)) != 0) return rc;
  p->p_cpu0 = thread_cpu_s();
  if ((rc = pthread_create(&p->th, NULL, pipe_writer, p)) != 0) return -rc;
  p->started = 1;
  return 0;
}

/* Flushes what the parser holds (when parse_rc is 0), stops the writer and
** returns the first error of either side. */
static int pipe_finish(imp_pipe *p, int parse_rc) {
  int rc = parse_rc;
  if (!rc) {
    while (p->r_n && !rc) rc = pipe_resolve(p);
    if (!rc && p->cur && p->cur->n) pipe_send(p);
  }
  if (rc) pipe_set_err(p, NS_ECANCELED); /* the writer skips what is queued */
  if (p->started) {
    pthread_mutex_lock(&p->mu);
    p->closing = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    p->started = 0;
    /* which side bounds the speed: the one that waits less */
    ns_debug("import: parser %.2f s CPU (waited %.2f s for the writer), writer %.2f s CPU"
             " (idle %.2f s)",
             thread_cpu_s() - p->p_cpu0, p->p_wait, p->w_cpu, p->w_idle);
  }
  if (!rc) rc = p->err;
  return rc;
}

/* ---- bulk import ------------------------------------------------------- */

/* stdin: the kind is known only once the parse has read the header; the
** write transaction and the pipe start there (import_one). */
typedef struct imp_hdr {
  ns_store *s;
  imp_pipe *p;
  ns__tsv_sink *sink;
  int strict, began;
} imp_hdr;

static int imp_on_header(void *ctx, int kind) {
  imp_hdr *h = ctx;
  int rc;
  if ((rc = ns__db_begin_write(h->s)) != 0) return rc;
  h->began = 1;
  if (!(h->p = ns_malloc(sizeof *h->p))) return NS_ENOMEM;
  if ((rc = pipe_start(h->p, h->s, kind, h->strict)) != 0) return rc;
  h->sink->ctx = h->p;
  return 0;
}

static int import_one(ns_store *s, const char *path, const ns_load_opts *opts,
                      ns_load_stats *stats) {
  imp_pipe *p = NULL;
  ns__tsv_src src = {path, path, NULL, 0, NS__TSV_BLOCK, 0};
  ns__tsv_sink sink = {NULL, pipe_note, pipe_rating, pipe_history, pipe_enroll};
  int rc, kind, strict = opts && opts->strict;

  memset(stats, 0, sizeof *stats);
  if (!strcmp(path, "-")) {
    /* stdin is read once: no separate detection */
    imp_hdr h = {s, NULL, &sink, strict, 0};
    src.on_header = imp_on_header;
    src.hctx = &h;
    rc = ns__tsv_parse(&src, &sink, opts, stats);
    p = h.p;
    if (!h.began) return rc; /* the header failed: nothing was opened */
  } else {
    char msg[512];
    /* Detect first: a file that is not a public TSV never opens a write
    ** transaction (and the header error is reported once, by the parse). */
    if ((rc = ns_tsv_sniff(path, &kind, msg, sizeof msg)) != 0) {
      /* a header problem: parse again to report it (the parse stops at the
      ** header, so the sink, which has no pipe, is never called); any other
      ** failure (no memory, read error) is returned as is (fault sweep,
      ** tests/test_fault.c: the parse went on into the rows) */
      if (rc != NS_EPARSE && rc != NS_ECOLUMN) {
        if (msg[0]) ns__tsv_report(opts, "%s", msg);
        else ns__tsv_report(opts, "%s: %s", path, ns_strerror(rc));
        return rc;
      }
      return ns__tsv_parse(&src, &sink, opts, stats);
    }
    if ((rc = ns__db_begin_write(s)) != 0) return rc;
    if (!(p = ns_malloc(sizeof *p))) {
      rc = NS_ENOMEM;
    } else if ((rc = pipe_start(p, s, kind, strict)) == 0) {
      sink.ctx = p;
      rc = ns__tsv_parse(&src, &sink, opts, stats);
    }
  }
  if (p) {
    rc = pipe_finish(p, rc);
    /* participants another writer added are not in the cache: reload it at
    ** the next transaction */
    if (p->foreign) ns__pcache_drop(s);
    pipe_free(p);
    free(p);
  }
  if (rc == 0) rc = ns__db_commit(s);
  if (rc) {
    ns__db_rollback(s);
    stats->rows_ok = 0; /* rolled back: nothing of the file is kept */
    if (rc != NS_EPARSE && rc != NS_ECOLUMN && s->errbuf[0])
      ns__tsv_report(opts, "%s: %s", path, s->errbuf);
  }
  return rc;
}

int ns_store_import(ns_store *s, const char *path, const ns_load_opts *opts,
                    ns_load_stats *stats) {
  char **list = NULL;
  size_t n = 0;
  ns_load_stats one, tmp;
  int rc, first = 0;
  double t0;
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
  /* With synchronous=FULL a checkpoint syncs the WAL and then the DB.  The
  ** PASSIVE one does the bulk of the copying without blocking writers (a
  ** server beside the import keeps committing); the TRUNCATE one, which
  ** blocks them, then has only their few frames left to copy, and gives the
  ** WAL's disk space back. */
  t0 = ns_monotonic_s();
  rc = ns__db_exec(s, "PRAGMA wal_checkpoint(PASSIVE)");
  if (rc == 0) rc = ns__db_exec(s, "PRAGMA wal_checkpoint(TRUNCATE)");
  ns_debug("import: final checkpoint %.2f s", ns_monotonic_s() - t0);
  ns__db_exec(s, "PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=1000");
  if (rc && !first) first = rc;
  ns_tsv_list_free(list, n);
  return first;
}
