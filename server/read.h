/*
** server/read.h -- read endpoints of the server (read.c).
** Internal to server/; see server_int.h for the map of the server files.
*/
#ifndef NS_SERVER_READ_H
#define NS_SERVER_READ_H

#include "server_int.h"

/* One read request.  The loop fills the inputs, a worker runs
** ns__read_work(), the loop sends status/body and frees it. */
typedef struct ns__read {
  uv_work_t work;
  void *server;               /* loop thread only */
  void *conn;                 /* NULL once the client left */
  int route;                  /* NS_ROUTE_NOTE / NOTE_EXPLAIN / NOTES / RUNS /
                                 RUNS_LATEST / METRICS / REPORT / RUN_CHANGES */
  int64_t note_id;            /* NOTE, NOTE_EXPLAIN */
  ns__list_query list;        /* NOTES */
  int64_t run_a, run_b;       /* RUN_CHANGES: from run a to run b */
  int head_only;              /* HEAD request */
  const char *db_path;        /* borrowed from the server options */
  char *prefix;               /* METRICS: the loop's counters, owned */
  struct ns__dash_cache *cache; /* REPORT: the server's render cache */
  uint64_t generation;        /* REPORT: runs + refreshes finished so far */
  double test_delay_s;        /* test hook: sleep before answering */
  int rendered;               /* out: REPORT was rendered (not cached) */
  int status;                 /* out */
  char *body;                 /* out: malloc'ed response body */
} ns__read;

/* The last /report page rendered, reused while no run was published,
** failed or refreshed since (a render reads the whole current run: 0.25 s
** on a 2 M-rating DB).  Shared by the workers; the mutex guards it. */
typedef struct ns__dash_cache {
  uv_mutex_t mu;
  char *html;                 /* NULL = empty */
  int64_t current_run, last_run; /* the DB's current_run and max(run_id) */
  uint64_t generation;        /* the server's run + refresh count */
} ns__dash_cache;

/* The body of GET / (static, JSON): what the server answers and where. */
const char *ns__read_index(void);

/* j as compact JSON text like json_dumps(j, JSON_COMPACT), except that
** reals print in their shortest form that reads back to the same double
** (1.428, not 1.4279999999999999).  malloc'ed; NULL when out of memory. */
struct json_t;
char *ns__json_text(const struct json_t *j);

/* Runs the query of r (worker thread); sets r->status and r->body. */
void ns__read_work(ns__read *r);
void ns__read_free(ns__read *r);

#endif /* NS_SERVER_READ_H */
