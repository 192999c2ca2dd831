/*
** engine/server_read.h -- read endpoints of the server (server_read.c).
** Internal to engine/; see server_int.h for the map of the server files.
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
  int route;                  /* NS_ROUTE_NOTE / RUNS / RUNS_LATEST / METRICS */
  int64_t note_id;
  int head_only;              /* HEAD request */
  const char *db_path;        /* borrowed from the server options */
  char *prefix;               /* METRICS: the loop's counters, owned */
  int status;                 /* out */
  char *body;                 /* out: malloc'ed response body */
} ns__read;

/* Runs the query of r (worker thread); sets r->status and r->body. */
void ns__read_work(ns__read *r);
void ns__read_free(ns__read *r);

#endif /* NS_SERVER_READ_H */
