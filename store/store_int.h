/*
** store/store_int.h -- internals shared by the files of store/ (not a public
** interface; nothing outside store/ includes it).
**
** The TSV reader is split in two layers so that the same parsing code feeds
** both destinations (an in-memory ns_dataset and the SQLite tables):
**
**   ns__tsv_parse()  reads one file (or memory buffer) block by block, maps
**                    the header, converts every row into a typed record and
**                    hands it to a sink; rejected rows go to the report
**                    callback with FILE:LINE:COL.
**   ns__tsv_sink     what to do with a typed record: append to a dataset
**                    (tsv.c) or upsert into the DB (import.c).
**
** Threads: everything here runs on the caller's thread.
*/
#ifndef NS_STORE_INT_H
#define NS_STORE_INT_H

#include "../base/rules.h"
#include "store.h"
#include "format.h"

#include <sqlite3.h>

/* Size of one read() block.  Records longer than this grow the buffer up to
** NS__TSV_MAX_RECORD; longer records are rejected. */
#define NS__TSV_BLOCK (1u << 20)
#define NS__TSV_MAX_RECORD (16u << 20)

/* Parsed rows and what receives them are the format module's (format.h):
** strings point into the reader's buffer and are valid only during the
** sink call. */
typedef ns_fmt_note ns__note_row;
typedef ns_fmt_rating ns__rating_row;
typedef ns_fmt_sink ns__tsv_sink;

/* Where the bytes come from: a path (a byte source, above: "-" is stdin,
** gzip and zip are unpacked as read) or a memory buffer.  block is the
** read size (NS__TSV_BLOCK normally; the fuzzer uses tiny blocks so that
** records straddle block boundaries). */
typedef struct ns__tsv_src {
  const char *name;        /* used in messages */
  const char *path;        /* NULL: read from mem */
  const char *mem;
  size_t mem_len;
  size_t block;
  int header_only;         /* stop after detecting the kind */
  int kind;                /* expected NS_FILE_* (0: detect from the header) */
  /* optional: called once the header is mapped, before the first row, with
  ** the kind (a stream read once, stdin, cannot be detected beforehand);
  ** an error from it ends the parse with that error */
  int (*on_header)(void *ctx, int kind);
  void *hctx;
} ns__tsv_src;

/* A byte source (store/source.c): a file, stdin ("-"), a gzip file or a
** zip archive of one file, told apart by their first bytes.  open returns 0
** or an error with a reason in msg ("cannot open: ..."); read returns 0
** with *got == 0 at the end, or NS_EIO (bad compressed data) / -errno with ns__bsrc_msg()
** saying why (a truncated gzip names the compressed byte where it ends). */
typedef struct ns__bsrc ns__bsrc;
int ns__bsrc_open(const char *path, ns__bsrc **out, char *msg, size_t cap);
int ns__bsrc_read(ns__bsrc *s, void *buf, size_t n, size_t *got);
const char *ns__bsrc_msg(const ns__bsrc *s);
uint64_t ns__bsrc_raw_bytes(const ns__bsrc *s);   /* read from the file so far */
const char *ns__bsrc_type(const ns__bsrc *s);     /* "plain", "gzip", "zip" */
void ns__bsrc_close(ns__bsrc *s);

/* Parses one file.  Calls sink for every good row; on the first rejected row
** in strict mode stops and returns NS_EPARSE.  Returns 0 (even with rejected
** rows in non-strict mode), NS_ECOLUMN / NS_EPARSE / -errno for file-level
** failures, or the first error a sink returned.  stats is filled on every
** path; stats->kind is set as soon as the header is known. */
int ns__tsv_parse(const ns__tsv_src *src, const ns__tsv_sink *sink,
                  const ns_load_opts *opts, ns_load_stats *stats);

/* Formats a report message and calls opts->report (if any). */
void ns__tsv_report(const ns_load_opts *opts, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));


/* Appends a dataset's worth of rows (dataset sink helpers shared with the
** DB snapshot). */
int ns__ds_push_note(ns_dataset *ds, size_t *cap, int64_t id, int32_t author,
                     int64_t created, int64_t tweet, uint8_t cls);
/* Sets note i's summary from a cell (dq: a quoted TSV cell, "" -> "). */
int ns__ds_note_text(ns_dataset *ds, size_t i, const char *s, size_t n, int dq);
int ns__ds_push_rating(ns_dataset *ds, size_t *cap, int64_t note, int32_t rater,
                       int64_t created, uint8_t level, uint32_t tags, uint8_t src);

/* First invalid byte of a strict UTF-8 check (no overlongs, surrogates or
** code points above U+10FFFF), or (size_t)-1 when s is valid (format.c). */
size_t ns__utf8_bad(const unsigned char *s, size_t n);

/* ---- the SQLite side ---------------------------------------------------- */

struct ns_store {
  sqlite3 *db;
  int readonly;
  char errbuf[512];       /* last error message (ns_store_errmsg) */
  sqlite3_stmt *st_part;  /* INSERT INTO participants(id, participant_id) */
  /* participant cache: strtab index i <-> participants.id pc_id[i] */
  ns_strtab *pc_tab;
  int64_t *pc_id;
  size_t pc_cap;
  int64_t pc_max;         /* largest participants.id known to the cache */
  int32_t *pend;          /* cache indexes handed out but not yet INSERTed */
  size_t pend_n, pend_cap;
  /* rows the ns_rating_batch virtual table shows (import.c) */
  const struct ns__rbuf *vb_rows;
  size_t vb_n;
  /* the run this handle is computing (runs.c): an OFD lock on byte run_id
  ** of DB-runlock, held from ns_store_run_begin to publish/fail/close; the
  ** kernel drops it when the process dies, which is how a later process
  ** tells an orphaned 'running' row from a live one */
  int run_lock_fd;        /* -1 = none */
  /* the background checkpointer (db.c), or NULL: SQLite's automatic one */
  struct ns__ckpt *ckpt;
};

/* Stops the handle's background checkpointer, if any (db.c). */
void ns__ckpt_stop(ns_store *s);

/* Releases the handle's run lock, if any (runs.c). */
void ns__run_unlock(ns_store *s);

/* ---- the other scorers' note columns (schema v6) ------------------------
** note_scores holds, beside Core's columns, one group of columns per scorer
** of enum ns_model (base/dataset.h), in that order, named PREFIX_FIELD:
** core_with_topics_intercept, ..., gaussian_core_with_topics_n_final_round.
** One list here so that the migration (store.c), the publication (runs.c),
** the views (views.c) and the reader (query.c) agree. */
#define NS__MODEL_LIST(X)                                                          \
  X(core_with_topics) X(expansion) X(expansion_plus) X(group) X(multi_group) X(topic) \
  X(gaussian) X(gaussian_core_with_topics)
/* the fields of each scorer, in column order, with their SQL types */
#define NS__MODEL_FIELDS(X)                                                        \
  X(intercept, REAL) X(factor, REAL) X(status, TEXT) X(rules, INTEGER)             \
  X(n_final_round, INTEGER) X(intercept_no_high_vol, REAL) X(intercept_no_correlated, REAL)
#define NS__MODEL_NFIELDS 7
/* the note-level columns of v6, in column order */
#define NS__NOTE_V6_COLS                                                           \
  "modeling_group, modeling_multi_group, topic, topic_confident, intercept_pop,"  \
  " core_with_topics_intercept_min, core_with_topics_intercept_max"
#define NS__NOTE_V6_NCOLS 7
/* "p_intercept, p_factor, ..., " for one scorer, and the whole list */
#define NS__MODEL_COLS1(p)                                                         \
  " " #p "_intercept, " #p "_factor, " #p "_status, " #p "_rules, " #p             \
  "_n_final_round, " #p "_intercept_no_high_vol, " #p "_intercept_no_correlated,"
#define NS__MODEL_COLS NS__MODEL_LIST(NS__MODEL_COLS1)
/* snake-case prefixes of enum ns_model ("core_with_topics", ...), store.c */
extern const char *const ns__model_col[NS_MODEL_COUNT];

/* ---- db.c: the layer below every other file of store/ -------------------
** (db.c calls nothing else in store/; store.c -> views.c, import.c, runs.c;
** runs.c -> import.c; all of them -> db.c.) */

/* Opens a connection: flags NS_STORE_READONLY / NS_STORE_CREATE, the
** busy handler (busy_ms, 0 = 10 s), WAL + synchronous=FULL for writers, no
** checkpoint on close for readers.  msg (may be NULL) receives "path:
** reason" on failure.  Returns 0, NS_ENOTFOUND, NS_EBUSY, NS_ESQL. */
int ns__db_open(const char *path, int flags, int busy_ms, sqlite3 **db, char *msg,
                size_t msg_len);

/* SQLite result code -> ns_err (BUSY -> NS_EBUSY, NOMEM -> NS_ENOMEM, FULL
** -> NS_ENOSPC, else NS_ESQL); s may be NULL.  The message is left in
** s->errbuf by the callers below. */
int ns__db_err(ns_store *s, int sqlite_rc);
int ns__db_exec(ns_store *s, const char *sql);
int ns__db_prepare(ns_store *s, const char *sql, sqlite3_stmt **st);
int ns__db_step_done(ns_store *s, sqlite3_stmt *st);
void ns__db_bind_opt(sqlite3_stmt *st, int i, int64_t v);     /* NS_TS_NONE -> NULL */
void ns__db_bind_f64(sqlite3_stmt *st, int i, double v);      /* NAN -> NULL */
void ns__db_bind_text(sqlite3_stmt *st, int i, const char *s); /* "" -> NULL */
void ns__db_bind_status(sqlite3_stmt *st, int i, int status); /* UNSET -> NULL */
/* BEGIN IMMEDIATE + participant cache sync / COMMIT (rolls back on
** failure) / ROLLBACK (also drops the participant cache). */
int ns__db_begin_write(ns_store *s);
int ns__db_commit(ns_store *s);
void ns__db_rollback(ns_store *s);
int ns__pcache_sync(ns_store *s);
/* INSERTs the pending new participants, sorted by string so the UNIQUE
** index is filled in order (ns__db_commit calls it). */
int ns__pcache_flush(ns_store *s);
void ns__pcache_drop(ns_store *s);
/* participants.id of a participant string (inserted when new); len 0 gives
** *id = 0, meaning "bind NULL". */
int ns__pcache_get(ns_store *s, const char *str, size_t len, int64_t *id);
/* Cache index of a participant string (len > 0); a new one gets its DB id
** (s->pc_id[idx], 0 until then) at the next ns__pcache_flush().  Bulk
** rating import uses this and resolves ids just before inserting. */
int ns__pcache_ref(ns_store *s, const char *str, size_t len, int32_t *idx);

/* A buffered rating: the writer sorts a batch by key before inserting, which
** turns random B-tree inserts into mostly-sequential ones. */
typedef struct ns__rbuf {
  int64_t note_id, rater_id, created_ms;  /* rater_id: cache index until
                                           ** flush, then participants.id */
  uint32_t tags, seq;
  uint8_t level, source;
} ns__rbuf;

/* Registers the eponymous virtual table ns_rating_batch on a writable
** handle: it shows s->vb_rows[0..vb_n) as rows (note_id, rater_id,
** created_ms, level, tags, source), so a whole sorted batch is upserted by
** one INSERT ... SELECT (half the cost of one bound INSERT per row).  The
** table exists only on this connection; nothing is added to the schema. */
int ns__rbatch_register(ns_store *s);

/* Upserts rows into the input tables inside the caller's write transaction
** (import.c).  Ratings are buffered; ns__writer_flush() writes them. */
typedef struct ns__writer {
  ns_store *s;
  sqlite3_stmt *st_note, *st_rating, *st_hist, *st_enroll;
  ns__rbuf *rb;
  size_t rb_n, rb_cap;
  uint32_t seq;
} ns__writer;

int ns__writer_init(ns_store *s, ns__writer *w);
void ns__writer_free(ns__writer *w);
int ns__writer_note(ns__writer *w, const ns__note_row *r);
int ns__writer_rating(ns__writer *w, const ns__rating_row *r);
int ns__writer_history(ns__writer *w, const ns_nsh *h, const char *author, size_t len);
int ns__writer_enroll(ns__writer *w, const ns_enrollment *e, const char *p, size_t len);
int ns__writer_flush(ns__writer *w);
/* Drops buffered rows (after a rollback). */
void ns__writer_discard(ns__writer *w);

/* Schema v2 (views.c): the dashboard views, the status change log and its
** trigger, indexes; backfills the log from runs already published.  Runs
** inside migrate()'s write transaction. */
int ns__views_migrate_v2(ns_store *s);
/* Drops and re-creates every dashboard view at the current version. */
int ns__views_create(ns_store *s);

#endif /* NS_STORE_INT_H */
