/*
** engine/score_db.c -- one scoring run of a SQLite store, from snapshot to
** publication (see score_db.h).  Both `score --db` and `serve` come here,
** so a run row always has the same params JSON and the same life:
** running -> published | failed | abandoned.
*/
#include "score_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"

/* The compute steps, for opts->run. */
typedef struct job {
  ns_store *st;
  ns_dataset **ds;
  ns_params *p;
  atomic_int *cancel;
  ns_scores **sc;
  ns_run_stats *stats;
} job;

static int job_snapshot(void *arg) {
  job *j = arg;
  return ns_store_snapshot(j->st, j->ds);
}

static int job_pipeline(void *arg) {
  job *j = arg;
  return ns_pipeline_run(*j->ds, j->p, j->cancel, j->sc, j->stats);
}

static int run_job(const ns_score_db_opts *o, int (*fn)(void *), void *arg) {
  return o->run ? o->run(fn, arg) : fn(arg);
}

int ns_score_db(const char *db_path, ns_params *p, const ns_score_db_opts *opts,
                ns_score_db_result *r) {
  ns_store *st = NULL;
  ns_dataset *ds = NULL;
  ns_scores *sc = NULL;
  char *json = NULL;
  double t0 = ns_monotonic_s();
  job j = {NULL, &ds, p, opts->cancel, &sc, &r->stats};
  int rc;

  memset(r, 0, sizeof *r);
  if ((rc = ns_store_open(db_path, 0, &st)) != 0) {
    snprintf(r->msg, sizeof r->msg, "%s: %s", db_path, ns_strerror(rc));
    goto out;
  }
  j.st = st;
  if ((rc = run_job(opts, job_snapshot, &j)) != 0) {
    snprintf(r->msg, sizeof r->msg, "%s: snapshot: %s", db_path, ns_strerror(rc));
    goto out;
  }
  r->load_seconds = ns_monotonic_s() - t0;
  if (opts->require_data && (ds->n_notes == 0 || ds->n_ratings == 0)) {
    snprintf(r->msg, sizeof r->msg,
             "%s: no %s in the database (import some first: `notescore import --db %s FILES`)",
             db_path, ds->n_notes == 0 ? "notes" : "ratings", db_path);
    rc = NS_ENODATA;
    goto out;
  }
  if (opts->now == NS_SCORE_NOW_DATA) p->now_ms = ns_pipeline_default_now(ds);
  else if (opts->now == NS_SCORE_NOW_CLOCK) p->now_ms = ns_now_ms();

  /* The params are recorded before the run: a failed or abandoned row says
  ** what was attempted. */
  if (!(json = ns_params_to_json(p, opts->source, db_path))) {
    rc = NS_ENOMEM;
    snprintf(r->msg, sizeof r->msg, "%s: %s", db_path, ns_strerror(rc));
    goto out;
  }
  if ((rc = ns_store_run_begin(st, json, &r->run_id)) != 0) {
    snprintf(r->msg, sizeof r->msg, "%s: %s", db_path, ns_store_errmsg(st));
    r->run_id = 0;
    goto out;
  }

  rc = run_job(opts, job_pipeline, &j);
  if (rc) {
    snprintf(r->msg, sizeof r->msg, "score: %s",
             rc == NS_ENODATA ? "no notes in the input" : ns_strerror(rc));
  } else {
    double tp = ns_monotonic_s();
    ns_run_timing tm = {r->stats.seconds, r->stats.mf_passes, r->stats.stage_seconds,
                        NS_STAGE_COUNT};
    if ((rc = ns_store_run_publish(st, r->run_id, sc, ds, &tm)) != 0)
      snprintf(r->msg, sizeof r->msg, "%s: publish: %s", db_path, ns_store_errmsg(st));
    r->stats.stage_seconds[NS_STAGE_PUBLISH] = ns_monotonic_s() - tp;
  }
  if (rc) ns_store_run_fail(st, r->run_id, rc == NS_ECANCELED ? "abandoned" : "failed");

out:
  free(json);
  ns_store_close(st);
  if (rc == 0 && sc) r->n_notes = sc->n_notes;
  if (rc == 0 && opts->keep) {
    r->ds = ds;
    r->sc = sc;
  } else {
    ns_scores_free(sc);
    ns_dataset_free(ds);
  }
  return rc;
}
