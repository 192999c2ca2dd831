/*
** server/server.h -- the `notescore serve` daemon.
**
** One libuv loop thread accepts HTTP/1.1 connections (keep-alive, requests
** parsed by http_parser), one writer thread owns the SQLite write handle and
** stores ingested rows in group commits, libuv's worker threads parse
** bodies and answer reads on their own read-only connections.  A write is
** answered only after the transaction holding its rows is durable.  Every
** queue and buffer is bounded; when a bound is hit the answer is 503 with
** Retry-After instead of growth.  docs/api.md lists endpoints and limits,
** docs/operations.md how to run it.
**
** Who calls it: tools/cmd_serve.c.  Thread: ns_server_run() blocks the
** calling thread, which becomes the loop thread, until SIGTERM or SIGINT.
*/
#ifndef NS_SERVER_H
#define NS_SERVER_H

#include <stddef.h>

typedef struct ns_server_opts {
  const char *db_path;        /* required; created if absent */
  const char *listen;         /* "ADDR:PORT" (IPv4 or [IPv6]); default
                                 127.0.0.1:8080; port 0 = any free port */
  const char *port_file;      /* if set, the bound port is written there
                                 once listening (tests use port 0) */
  const char *token;          /* bearer token for writes; NULL = no auth;
                                 1..NS_SERVER_MAX_TOKEN bytes */
  double score_every_s;       /* full scoring run period; 0 = never */
  double refresh_every_s;     /* note refresh period; 0 = never */
  size_t max_body;            /* bytes per request body (8 MiB) */
  size_t queue_max;           /* ingest requests being parsed or waiting
                                 for the writer (64) */
  size_t max_conns;           /* open connections (256) */
  size_t body_budget;         /* bytes of bodies buffered over all
                                 connections (256 MiB) */
  size_t group_max_rows;      /* rows per group commit (250000) */
  double idle_timeout_s;      /* keep-alive idle limit (60) */
  double header_timeout_s;    /* a new connection must send its first byte
                                 within (10) */
  double request_timeout_s;   /* whole request must arrive within (30) */
  size_t max_reads;           /* reads (/v1/..., /metrics, /dashboard) on
                                 worker threads at once; more get 503 (2) */
  unsigned long long max_db_bytes; /* the DB may not grow past this (0 = no
                                 limit but the disk): ingest then gets 507 */
  int keep_runs;              /* >= 2: after each published run (and at
                                 start), delete the score rows of runs older
                                 than the newest keep_runs published runs in
                                 the background (store/prune.c); 0 = keep all */
  double test_commit_delay_s; /* test hook: sleep before each commit (0) */
  double test_read_delay_s;   /* test hook: sleep before each read (0) */
} ns_server_opts;

/* The longest bearer token accepted (bytes).  ns_server_run() refuses to
** start with a longer one rather than answer every write 431 / 401. */
#define NS_SERVER_MAX_TOKEN 4096

/* Fills in the defaults above (db_path NULL). */
void ns_server_opts_default(ns_server_opts *o);

/* Runs the daemon until SIGTERM/SIGINT, then stops accepting, commits and
** answers what was already received, abandons a scoring run in progress,
** closes every handle and returns 0.  Returns an error without serving if
** the DB cannot be opened (NS_ESQL, NS_ESCHEMA) or the address cannot be
** bound (-errno).  Progress and errors are logged with ns_log. */
int ns_server_run(const ns_server_opts *o);

#endif /* NS_SERVER_H */
