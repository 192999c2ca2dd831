/*
** engine/score_db.h -- "score the DB": the one path from a SQLite store to a
** published run, used by `notescore score --db` (tools/cmd_score.c) and by
** the scheduled runs of `serve` (server/server.c).
**
**   open a store handle -> snapshot (one read transaction) -> the run row
**   ("running", params JSON of ns_params_to_json) -> ns_pipeline_run ->
**   publish in one transaction; on an error the row is marked "failed", on
**   cancel "abandoned", and nothing of the run becomes visible.
**
** Who calls it: tools/ (main thread), server/ (a libuv worker).  Threads:
** any; it opens and closes its own store handle.
*/
#ifndef NS_SCORE_DB_H
#define NS_SCORE_DB_H

#include "pipeline.h"

/* Where the run's "now" comes from. */
enum ns_score_now {
  NS_SCORE_NOW_GIVEN = 0, /* p->now_ms as the caller set it */
  NS_SCORE_NOW_DATA,      /* ns_pipeline_default_now(snapshot): output depends
                          ** on the DB's contents only (`score --db`) */
  NS_SCORE_NOW_CLOCK      /* the wall clock right after the snapshot (`serve`) */
};

typedef struct ns_score_db_opts {
  const char *source;     /* recorded in the params JSON: "score", "serve" */
  int now;                /* enum ns_score_now */
  int require_data;       /* 1: a DB without notes or ratings is NS_ENODATA
                          ** before any run row is made (`score --db`); 0: the
                          ** run is attempted and marked failed (`serve`) */
  atomic_int *cancel;     /* may be NULL; nonzero -> NS_ECANCELED, "abandoned" */
  int keep;               /* 1: hand the snapshot and scores back (the caller
                          ** writes TSVs or builds a refresh base from them) */
  /* may be NULL; else the snapshot and the pipeline run as run(fn, arg)
  ** (serve: on a thread at lower priority, issue #18) and the store writes
  ** on the calling thread; run returns fn's result */
  int (*run)(int (*fn)(void *), void *arg);
} ns_score_db_opts;

/* What a run produced.  ds and sc are set only with opts->keep and a
** published run; the caller frees them (ns_dataset_free, ns_scores_free). */
typedef struct ns_score_db_result {
  int64_t run_id;         /* the run row (0 when none was made) */
  ns_dataset *ds;
  ns_scores *sc;
  ns_run_stats stats;     /* the run's timers; stage_seconds[NS_STAGE_PUBLISH] =
                             the publication time */
  double load_seconds;    /* opening the store and the snapshot */
  size_t n_notes;         /* notes scored (published runs; also without keep) */
  char msg[640];          /* on error: "DB: what failed: why", one line */
} ns_score_db_result;

/* Scores the DB at db_path once and publishes the run.  p is the run's
** params (seeds already read: ns_params_load_seeds); p->now_ms is set as
** opts->now says and is the value used on return.  Returns 0, or the first
** error: NS_ENOTFOUND / NS_ESQL / NS_ESCHEMA (open), NS_ENODATA (empty DB,
** with require_data; or the pipeline's "no notes"), NS_ECANCELED, NS_EBUSY,
** NS_ENOMEM, NS_ELAPACK, NS_EINVAL, NS_ENOSPC; r->msg explains it. */
int ns_score_db(const char *db_path, ns_params *p, const ns_score_db_opts *opts,
                ns_score_db_result *r);

#endif /* NS_SCORE_DB_H */
