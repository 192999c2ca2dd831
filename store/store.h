/*
** store/store.h -- the public-format TSV reader/writer and the SQLite store.
**
** Two ways in, one shape out:
**   - ns_tsv_load_*() read the public download (notes, ratings, status
**     history, enrollment) straight into an ns_dataset (no DB) -- used by the
**     reproducibility CLI `notescore score -n -r ...`.
**   - ns_store_*() keep the same data in SQLite (WAL): import, ingest batches
**     from the server, snapshots into an ns_dataset, atomic publication of a
**     scoring run (ns_scores) and export back to the public format.
**
** File kinds are detected from the header; columns are mapped by header
** name (participantId / noteAuthorParticipantId / raterParticipantId are all
** accepted); unknown columns are ignored.  Bad rows are reported as
** "FILE:LINE:COL: reason" through the report callback and skipped.
**
** Who calls it: tools/ (CLI), engine/ (pipeline snapshot, server writer
** thread).  Threads: an ns_store handle belongs to one thread at a time;
** open one handle per thread (SQLite WAL lets readers run beside a writer).
*/
#ifndef NS_STORE_H
#define NS_STORE_H

#include <stdatomic.h>
#include <stdint.h>

#include "../base/base.h"
#include "../base/dataset.h"

/* ---- public-format files ----------------------------------------------- */

enum ns_file_kind {
  NS_FILE_UNKNOWN = 0,
  NS_FILE_NOTES,
  NS_FILE_RATINGS,
  NS_FILE_HISTORY,      /* noteStatusHistory */
  NS_FILE_ENROLLMENT    /* userEnrollment */
};
const char *ns_file_kind_name(int kind);

/* Called once per rejected row (and for file-level problems) with a
** complete message "FILE:LINE:COL: reason".  May be NULL. */
typedef void (*ns_report_fn)(void *ctx, const char *msg);

typedef struct ns_load_stats {
  int kind;               /* ns_file_kind */
  uint64_t rows_read;     /* data rows (header excluded) */
  uint64_t rows_ok;       /* rows accepted */
  uint64_t rows_rejected;
} ns_load_stats;

typedef struct ns_load_opts {
  int strict;             /* 1: the first rejected row fails the whole file */
  ns_report_fn report;
  void *report_ctx;
  ns_progress *progress;  /* optional: updated with bytes read of the file;
                          ** the caller starts/finishes it (added by store) */
} ns_load_opts;

/* Detects the kind of a file from its header line.  Returns 0 and *kind, or
** an error (unreadable file, not a TSV). */
int ns_tsv_detect(const char *path, int *kind);
/* The same, with the reason of a failure for people in msg ("PATH:1: not a
** public-format TSV file ...", "PATH: empty file (no header line)",
** "PATH:1: truncated gzip data ...").  msg may be NULL when cap is 0. */
int ns_tsv_sniff(const char *path, int *kind, char *msg, size_t cap);

/* Appends the rows of one public-format file (any kind; plain, gzip or a
** zip of one file; "-" is stdin; a directory means every *.tsv, *.tsv.gz
** and *.zip in it, in name order) to ds.  Returns 0, or NS_ECOLUMN /
** NS_EPARSE / -errno for file-level failures (reported through opts->report
** too).  In strict mode a bad row fails the file and nothing of it is kept. */
int ns_tsv_load(const char *path, ns_dataset *ds, const ns_load_opts *opts,
                ns_load_stats *stats);

/* Called by ns_tsv_load_files() on the caller's thread, in file order, once
** file i was read (rc 0) or failed (rc; the last call), after its report
** messages; dropped: its messages beyond max_msgs (counted, not reported). */
typedef void (*ns_load_done_fn)(void *ctx, size_t i, const char *path, int rc,
                                const ns_load_stats *st, uint64_t dropped);

/* Reads several files (shards) into ds with up to `threads` threads (<= 0:
** ns_default_threads()), each file parsed into its own dataset and appended
** in the order given, so ds, the participant table and the order of the
** report messages are those of reading the files one after the other
** (messages are kept per file until its turn: at most max_msgs each, the
** rest counted).  Stops at the first failed file as a sequential read would
** and returns its error; 0 otherwise.  Paths are files (or "-"), not
** directories: expand those with ns_tsv_list() first. */
int ns_tsv_load_files(const char *const *paths, size_t n, int threads, size_t max_msgs,
                      ns_dataset *ds, const ns_load_opts *opts, ns_load_done_fn done,
                      void *done_ctx);

/* Like ns_tsv_load() for one file held in memory (name is used in
** messages).  The fuzz target and tests use it; block is the read size to
** simulate (0 = the normal 1 MiB). */
int ns_tsv_load_mem(const char *name, const void *buf, size_t len, size_t block,
                    ns_dataset *ds, const ns_load_opts *opts,
                    ns_load_stats *stats);

/* Expands a command-line argument: a file (or "-", stdin) gives itself, a
** directory every *.tsv, *.tsv.gz and *.zip in it in name order.  *out is a malloc'ed array of malloc'ed paths;
** free with ns_tsv_list_free().  Returns 0 or -errno. */
int ns_tsv_list(const char *path, char ***out, size_t *n);
void ns_tsv_list_free(char **list, size_t n);
/* 1 when a directory entry of this name is read (ns_tsv_list). */
int ns_tsv_name_ok(const char *name);

/* Writes ds back in the public layouts into dir: notes-00000.tsv,
** ratings-00000.tsv, noteStatusHistory-00000.tsv, userEnrollment-00000.tsv. */
int ns_tsv_export(const ns_dataset *ds, const char *dir);

/* ---- SQLite store ------------------------------------------------------ */

typedef struct ns_store ns_store;

/* The newest schema version (PRAGMA user_version) this build reads and
** writes; a DB with a larger one is refused with NS_ESCHEMA. */
#define NS_STORE_SCHEMA_VERSION 7

enum {
  NS_STORE_READONLY = 1,  /* open read-only (dashboards, tests) */
  NS_STORE_CREATE = 2     /* create the file and schema if absent */
};

/* Opens (and migrates) the DB at path.  WAL mode, synchronous=FULL for
** writers.  Returns 0, NS_ESQL, NS_ESCHEMA (DB from a newer version). */
int ns_store_open(const char *path, int flags, ns_store **out);
void ns_store_close(ns_store *s);
/* Caps the DB file at about bytes (SQLite max_page_count; never below its
** current size) for writes through this handle: past it, writes fail with
** NS_ENOSPC as on a full disk.  Returns 0 or an error. */
int ns_store_set_max_bytes(ns_store *s, unsigned long long bytes);
/* Moves the WAL checkpoints of commits through this handle off its thread:
** a background thread with its own connection runs a PASSIVE checkpoint
** when a commit leaves >= pages frames in the WAL (SQLite's automatic
** checkpoint, which runs inside the commit, is off for the handle).  For
** the serve writer, whose acks must not wait for a checkpoint's fsync.
** Stopped by ns_store_close.  Returns 0, NS_EINVAL (read-only, in-memory,
** already on, pages <= 0) or the connection's error. */
int ns_store_checkpoint_in_background(ns_store *s, int pages);
/* Last SQLite error message of this handle (valid until the next call). */
const char *ns_store_errmsg(const ns_store *s);
/* Lock-busy retries (about 1 ms of waiting each) of the calling thread on
** any handle so far; differences time lock waits. */
uint64_t ns_store_busy_retries(void);

/* Checks, before any work, that path is a DB this build can use, with no
** lasting effect on the DB or on its other users (a read-only look that
** never checkpoints the WAL).  A missing file is fine unless must_exist
** (the command creates it), and so is an empty file.  On a problem msg
** (may be NULL) receives a one-line "PATH: reason" for people.  Returns 0,
** NS_ENOTFOUND, -errno, NS_EINVAL (a directory), NS_ESCHEMA (not an SQLite
** file, or a schema newer than NS_STORE_SCHEMA_VERSION). */
int ns_store_check_file(const char *path, int must_exist, char *msg, size_t msg_len);

/* A bare SQLite connection for tests and tools that query the views
** directly (dash/ and server/read.c read through store/query.h instead),
** opened the way store/ opens its own (store/db.c): flags NS_STORE_READONLY / NS_STORE_CREATE, a busy
** handler that retries for busy_ms (0 = 10 s), and, read-only, no
** checkpoint on close.  msg (may be NULL) receives "path: reason" on
** failure.  Returns 0, NS_ENOTFOUND, NS_EBUSY, NS_ESQL.  Close it with
** ns_store_sql_close (accepts NULL). */
struct sqlite3;
int ns_store_sql_open(const char *path, int flags, int busy_ms, struct sqlite3 **db, char *msg,
                      size_t msg_len);
void ns_store_sql_close(struct sqlite3 *db);

/* Imports one file or directory (like ns_tsv_load) in large transactions;
** upserts ratings by (noteId, rater).  Strict mode commits nothing of a file
** with a bad row. */
int ns_store_import(ns_store *s, const char *path, const ns_load_opts *opts,
                    ns_load_stats *stats);

/* A consistent snapshot of all inputs (one read transaction), normalized
** with ns_dataset_normalize(). */
int ns_store_snapshot(ns_store *s, ns_dataset **out);

/* Exports the DB in the public format into dir (see ns_tsv_export). */
int ns_store_export(ns_store *s, const char *dir);

/* ---- ingest (server writer thread) ------------------------------------- */

/* A batch of already-parsed rows for one group commit.  The arrays are
** borrowed for the duration of the call.  Participant ids are strings here;
** the store interns them. */
typedef struct ns_ingest_rating {
  int64_t note_id;
  const char *rater;      /* participant id, NUL-terminated */
  int64_t created_ms;
  uint8_t level;          /* ns_level */
  uint32_t tags;
  uint8_t source;
} ns_ingest_rating;

typedef struct ns_ingest_note {
  int64_t note_id;
  const char *author;
  int64_t created_ms;
  int64_t tweet_id;
  uint8_t classification;
  const char *summary;     /* NUL-terminated; NULL or "" = none (a stored
                           ** summary is then kept) */
} ns_ingest_note;

typedef struct ns_ingest_enrollment {
  const char *participant;
  int8_t state;
  int64_t successful_needed;
  int64_t ts_last_state_change;
  int64_t ts_last_earn_out;
  const char *modeling_population;
  int32_t modeling_group;
  int64_t times_earned_out;
} ns_ingest_enrollment;

/* Writes all rows in ONE transaction and commits durably (fsync per commit).
** Either everything is stored or nothing is (returns an error). */
int ns_store_ingest(ns_store *s,
                    const ns_ingest_note *notes, size_t n_notes,
                    const ns_ingest_rating *ratings, size_t n_ratings,
                    const ns_ingest_enrollment *enroll, size_t n_enroll);

/* ---- scoring runs ------------------------------------------------------ */

typedef struct ns_run_info {
  int64_t run_id;
  int64_t started_ms, finished_ms;
  const char *status;     /* "running", "published", "failed", "abandoned" */
  const char *params;     /* JSON text of the parameters used */
  const char *version;    /* notescore version string */
} ns_run_info;

/* Creates a run row in state "running"; *run_id receives its id.  First
** reaps orphans (ns_store_runs_reap).  The handle holds a lock for the run
** until it is published, failed or the handle is closed. */
int ns_store_run_begin(ns_store *s, const char *params_json, int64_t *run_id);
/* Marks every 'running' run whose process is gone (killed, crashed: no
** lock held on it) 'abandoned', with finished_ms = the time it noticed.
** Runs of live processes, this one included, are left alone.  *n_reaped
** (may be NULL) receives the count.  In-memory DBs have nothing to reap. */
int ns_store_runs_reap(ns_store *s, int *n_reaped);
/* How a run went, kept in its runs row beside the results: what the
** producer measured (the engine's ns_run_stats, engine/pipeline.h).  The
** store does not interpret it: stage_seconds[0..n_stages) is stored as a
** JSON array in the producer's stage order. */
typedef struct ns_run_timing {
  double seconds;                /* wall time of the scoring */
  int mf_passes;                 /* ALS passes */
  const double *stage_seconds;   /* per stage */
  size_t n_stages;
} ns_run_timing;

/* Publishes the scores of run_id in one transaction: note scores, rater
** scores, updated status history, run row -> "published" (with timing t;
** NULL leaves those columns NULL).  Readers see the previous run or this
** one, never a mix. */
int ns_store_run_publish(ns_store *s, int64_t run_id, const ns_scores *sc,
                         const ns_dataset *ds, const ns_run_timing *t);
/* Marks a run failed/abandoned (nothing of it becomes visible). */
int ns_store_run_fail(ns_store *s, int64_t run_id, const char *status);

/* The params JSON of run_id (runs.params, docs/dashboards.md "Run
** parameters"; engine/params.c reads it back into an ns_params) on a
** connection of ns_store_sql_open, inside the caller's read transaction if
** it has one.  *json is malloc'ed, NULL when the run has no params or does
** not exist.  Returns 0, NS_ESQL, NS_ENOMEM. */
int ns_store_run_params(struct sqlite3 *db, int64_t run_id, char **json);

/* Note refresh (engine/refresh.c): replaces, in one transaction, the
** note_scores rows of the published run run_id for the notes in sc->notes
** and writes sc->history (participant indexes of ds) into
** note_status_history.  sc->raters is ignored; the runs row is unchanged.
** Readers see every refreshed note old or every one new.  NS_ENOTFOUND if
** run_id is no longer the current run (nothing written). */
int ns_store_run_refresh(ns_store *s, int64_t run_id, const ns_scores *sc, const ns_dataset *ds);

/* ---- operations: pruning and backup (store/prune.c, store/backup.c) ---- */

typedef struct ns_prune_stats {
  uint64_t rows;          /* score rows deleted (note_scores + rater_scores) */
  uint64_t batches;       /* transactions committed */
  size_t runs;            /* runs whose rows were deleted */
  int64_t newest_pruned;  /* the largest such run id (0: none) */
} ns_prune_stats;

/* Deletes the note_scores and rater_scores rows of every run older than the
** newest `keep` (>= 2) published runs, never those of the current run, in
** transactions of at most `batch` rows with a pause of pause_s seconds after
** each, so concurrent writers get the lock in between and readers are never
** blocked.  Stops with NS_ECANCELED between batches once *cancel (may be
** NULL) is set; what was deleted stays deleted.  runs rows, the status
** change log and the status history are kept.  *stats (may be NULL) is
** filled on every path. */
int ns_store_prune_runs(ns_store *s, int keep, size_t batch, double pause_s,
                        atomic_int *cancel, ns_prune_stats *stats);

typedef struct ns_backup_stats {
  uint64_t pages;         /* database pages copied */
  uint64_t bytes;         /* size of the backup file */
  double seconds;
} ns_backup_stats;

/* Writes a consistent copy of the database at src_path to dst_path with
** SQLite's online backup API: one read transaction on the source, so the
** copy holds exactly the commits made before it started, while writers
** (`serve`, `import`) go on beside it.  The copy is written to
** dst_path.tmp-PID, synced and renamed over dst_path (readers of dst_path
** see the old file or the whole new one).  dst_path must not exist unless
** overwrite, and must not be the source.  Returns 0, NS_ENOTFOUND (no
** source), NS_ESCHEMA (not a notescore DB), NS_EINVAL (dst exists / is
** the source), -errno, NS_ESQL; the message is in errbuf (may be NULL). */
int ns_store_backup(const char *src_path, const char *dst_path, int overwrite,
                    ns_backup_stats *stats, char *errbuf, size_t errcap);

#endif /* NS_STORE_H */
