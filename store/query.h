/*
** store/query.h -- the read side of the score DB: a read-only handle and the
** queries behind the dashboards (dash/) and the server's read endpoints
** (server/read.c), handing back plain C rows.
**
** Every statement reads the documented dashboard views (docs/dashboards.md:
** current_note_status, note_history, run_summary, status_changes) or the
** score tables' primary keys; nothing outside store/ runs SQL.  The callers
** only format what they get.
**
** Row conventions:
**   - a SQL NULL integer is NS_Q_NULL, a NULL real is NAN, a NULL text is
**     a NULL pointer;
**   - text pointers of a row are borrowed: valid during the callback that
**     receives the row, or, for the single-row getters, until the next call
**     on the same reader (like LMDB's values);
**   - iterations call fn once per row in the stated order; a non-zero return
**     from fn stops the iteration and is returned as is.
** Errors: NS_ESQL (query failed, e.g. a table missing), NS_EBUSY, NS_ENOMEM,
** NS_ENODATA / NS_ENOTFOUND where a getter says so; ns_reader_errmsg()
** tells the SQLite reason.
**
** Who calls it: dash/explain.c, dash/report.c, server/read.c, tools/.
** Threads: a reader belongs to one thread at a time; open one per thread
** (WAL: readers never wait for the writer and see its last commit).
*/
#ifndef NS_STORE_QUERY_H
#define NS_STORE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "../base/base.h"
#include "../base/dataset.h"

/* A SQL NULL in an integer field of a row. */
#define NS_Q_NULL INT64_MIN

typedef struct ns_reader ns_reader;

/* Opens the DB at path read-only (through ns_store_open(NS_STORE_READONLY):
** the schema must be current, else NS_ESCHEMA; a missing file gives
** NS_ENOTFOUND).  Lock waits give up after 10 s.  *out is NULL on error. */
int ns_reader_open(const char *path, ns_reader **out);
/* Closes the reader (ends an open snapshot).  Accepts NULL. */
void ns_reader_close(ns_reader *r);
/* The reason of the last failure on r (valid until the next call). */
const char *ns_reader_errmsg(const ns_reader *r);

/* Starts a snapshot: every query until ns_reader_end() sees the same
** committed state (one published run, never a mix of two).  Without one,
** each query is its own snapshot.  Returns 0 or an error. */
int ns_reader_begin(ns_reader *r);
void ns_reader_end(ns_reader *r);

/* ---- runs ----------------------------------------------------------------- */

/* The current (latest published) run id: 0, or NS_ENODATA when no run was
** ever published. */
int ns_q_current_run(ns_reader *r, int64_t *run_id);
/* The server's /dashboard cache key: the current run id and max(run_id),
** each 0 when there is none. */
int ns_q_run_ids(ns_reader *r, int64_t *current, int64_t *newest);
/* Seconds from start to finish of the newest finished run (any status):
** 0, or NS_ENODATA when no run finished yet. */
int ns_q_last_run_seconds(ns_reader *r, double *seconds);
/* The params JSON of run_id (runs.params; engine/params.c reads it back),
** in the reader's snapshot.  *json is malloc'ed, NULL when the run has no
** params.  Returns 0, NS_ESQL, NS_ENOMEM. */
int ns_q_run_params(ns_reader *r, int64_t run_id, char **json);
/* finished_ms of the newest published run; NS_ENODATA when none was ever published. */
int ns_q_last_success_ms(ns_reader *r, int64_t *ms);

/* One row of the run_summary view. */
typedef struct ns_q_run {
  int64_t run_id;
  const char *status;           /* running | published | failed | abandoned */
  int64_t started_ms, finished_ms;
  double wall_seconds;          /* (finished - started) / 1000 */
  double seconds;               /* the run's own timing (runs.seconds) */
  const char *version;
  const char *params;           /* JSON text */
  int64_t n_ratings, n_notes, n_raters, n_crh, n_crnh, n_nmr;
  int is_current;               /* 1: the published run readers see */
  int64_t now_ms;
  int64_t n_ratings_round1, n_ratings_round2, n_raters_round1, n_raters_round2;
  int64_t n_notes_round1, n_notes_round2, mf_passes;
  const char *stage_seconds;    /* JSON text */
  double global_intercept;
  int64_t prev_run_id;          /* the published run before it */
} ns_q_run;

typedef struct ns_q_run_filter {
  int current_only;             /* only the current run (is_current) */
  const char *status;           /* NULL = any */
  int64_t limit;                /* the newest `limit` runs (0 = all) */
  int oldest_first;             /* order of delivery; default newest first */
} ns_q_run_filter;

typedef int (*ns_q_run_fn)(void *ctx, const ns_q_run *run);
/* The runs matching f (NULL = all), newest first unless f->oldest_first. */
int ns_q_runs(ns_reader *r, const ns_q_run_filter *f, ns_q_run_fn fn, void *ctx);

/* ---- notes of the current run ---------------------------------------------- */

/* One scorer's columns of a note (schema v6; base/dataset.h ns_model_score).
** status NULL and intercept NAN: the scorer did not score the note. */
typedef struct ns_q_model {
  double intercept, factor;
  double intercept_no_high_vol, intercept_no_correlated;
  const char *status;
  uint64_t rules;               /* bit i = ns_rule_names[i]; 0 when NULL */
  int64_t n_final_round;        /* NS_Q_NULL when not scored */
} ns_q_model;

/* One row of the current_note_status view. */
typedef struct ns_q_note {
  int64_t note_id, run_id;
  int64_t scored_at_ms;         /* the run's finished_ms */
  const char *status, *core_status, *decided_by;
  int classification;           /* ns_class */
  int64_t num_ratings, num_final_round_ratings;
  double intercept, factor;     /* NAN: no model (too few ratings) */
  double intercept_min, intercept_max, intercept_r1, factor_r1;
  double low_diligence_intercept;
  const char *first_tag, *second_tag;
  uint64_t core_rules;  /* bit i = ns_rule_names[i] */
  uint64_t meta_rules;
  uint32_t active_filter_tags;      /* bit t = ns_tag_names[t] */
  int64_t created_ms;
  /* v6: the other scorers (enum ns_model order) and the note's scopes */
  ns_q_model model[NS_MODEL_COUNT];
  int64_t modeling_group, modeling_multi_group;  /* NS_Q_NULL = none */
  const char *topic;            /* ns_topic_names[], NULL = none */
  int topic_confident;          /* 1/0, -1 = none */
  double intercept_pop;         /* coreNoteInterceptPopulationSampled */
  double cwt_intercept_min, cwt_intercept_max;
} ns_q_note;

/* The note in the current run: 0, NS_ENOTFOUND (not in it; also when no
** run is published). */
int ns_q_note_get(ns_reader *r, int64_t note_id, ns_q_note *out);

typedef struct ns_q_note_filter {
  int scored_only;              /* only notes with an intercept and a factor */
  const char *status;           /* NULL = any */
  const char *decided_by;       /* NULL = any */
  int64_t changed_since;        /* NS_Q_NULL = any; else only notes with a
                                   status_changes row of a run finished at
                                   or after this time (ms) */
  int64_t after_note_id;        /* keyset: only note_id > this (0 = all) */
  int64_t limit;                /* rows at most (0 = all) */
} ns_q_note_filter;

typedef int (*ns_q_note_fn)(void *ctx, const ns_q_note *n);
/* The notes of the current run matching f (NULL = all), in note_id order. */
int ns_q_notes(ns_reader *r, const ns_q_note_filter *f, ns_q_note_fn fn, void *ctx);

/* Notes per public status in the current run, in status order. */
int ns_q_status_counts(ns_reader *r, int (*fn)(void *ctx, const char *status, int64_t n),
                       void *ctx);

/* ---- one note's detail ------------------------------------------------------- */

/* Every rating of the note with the side of its rater's factor in run_id:
** side 0 negative, 1 positive, 2 none (rater not in the run, factor 0 or
** NULL); level as stored (ns_level); tags the bit set.  Order unspecified. */
int ns_q_note_ratings(ns_reader *r, int64_t run_id, int64_t note_id,
                      int (*fn)(void *ctx, int side, int level, uint32_t tags), void *ctx);

/* One row of the note_history view. */
typedef struct ns_q_history {
  int64_t run_id, scored_at_ms;
  const char *status, *decided_by;
  double intercept, factor;
} ns_q_history;
/* The note in every published run, in run order. */
int ns_q_note_history(ns_reader *r, int64_t note_id,
                      int (*fn)(void *ctx, const ns_q_history *h), void *ctx);

/* A value of a row whose columns are not fixed here. */
enum { NS_QV_NULL = 0, NS_QV_INT, NS_QV_REAL, NS_QV_TEXT };
typedef struct ns_q_value {
  int type;                     /* NS_QV_* (a BLOB reads as TEXT) */
  int64_t i;
  double d;
  const char *s;                /* TEXT: s[0..len) */
  size_t len;
} ns_q_value;
/* The note's note_status_history row, column by column in table order,
** each named as the same field of the public noteStatusHistory file
** (currentStatus, timestampMillisOfCurrentStatus, ...; a column without a
** public name keeps the table's); noteId and the author are left out.  No
** row: fn is never called, 0 is returned. */
int ns_q_status_history(ns_reader *r, int64_t note_id,
                        int (*fn)(void *ctx, const char *column, const ns_q_value *v),
                        void *ctx);

/* ---- raters and changes --------------------------------------------------------- */

enum { NS_Q_RATER_FACTOR = 0, NS_Q_RATER_TRUST = 1 };
/* One figure (NS_Q_RATER_*) of every rater of run_id that has it
** (non-NULL), in rater order. */
int ns_q_rater_values(ns_reader *r, int64_t run_id, int which,
                      int (*fn)(void *ctx, double v), void *ctx);

/* The change log of run_id: notes whose status changed against the
** previous published run (*changed) and notes new in it (*fresh). */
int ns_q_change_counts(ns_reader *r, int64_t run_id, int64_t *changed, int64_t *fresh);

/* One row of the status_changes view. */
typedef struct ns_q_change {
  int64_t note_id;
  const char *old_status, *new_status, *decided_by;
  double old_intercept, new_intercept;
} ns_q_change;
/* The notes of run_id that changed status (new notes left out), in note_id
** order, at most limit of them. */
int ns_q_changes(ns_reader *r, int64_t run_id, int64_t limit,
                 int (*fn)(void *ctx, const ns_q_change *c), void *ctx);

/* The notes whose public status differs between the published runs from
** and to (either order; a run against itself has none), and the notes in
** only one of them (NULL status on the side missing it), in note_id order.
** decided_by is run to's (NULL when the note is not in it).  The dashboard's
** "changes between two runs" (server: GET /v1/runs/{a}/changes/{b}).
** NS_ENOTFOUND unless both runs are published.  Run it in a snapshot
** (ns_reader_begin) so the check and the rows see the same runs. */
int ns_q_run_changes(ns_reader *r, int64_t from, int64_t to,
                     int (*fn)(void *ctx, const ns_q_change *c), void *ctx);

#endif /* NS_STORE_QUERY_H */
