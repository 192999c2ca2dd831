/*
** server/server.c -- the serve daemon's event loop: connections, routing,
** responses, shutdown, the scoring schedule.
**
** Life of an ingest request (POST /v1/ratings):
**   1. bytes arrive on the loop thread and go through the connection's
**      ns__http_conn (http.c).  When the headers are complete, on_headers()
**      routes the request and refuses it early (401/404/405/413/415/503) so
**      a refused body is never buffered.
**   2. The complete body is parsed on a libuv worker (body.c) -- parsing
**      JSON is the costliest CPU step, and it must not stall the loop.
**   3. The parsed batch goes to the writer thread (server_writer.c), which
**      stores many queued batches in one durable transaction.
**   4. The writer wakes the loop (uv_async_t); the loop answers 200 with the
**      accepted count and the rejected lines.
** While a request is in flight its connection does not read (pipelined
** bytes wait in conn->pending), so answers go out in request order.
**
** Bounds (docs/api.md): connections (max_conns), body bytes per request
** (max_body) and in total (body_budget), ingest requests in flight
** (queue_max).  Past a bound the answer is 503 + Retry-After, or the
** connection is refused.  Slow clients: a request must arrive completely
** within request_timeout_s of its first byte (408), an idle keep-alive
** connection is closed after idle_timeout_s.
**
** A client that disconnects mid-flight only loses its answer: the in-flight
** object's conn pointer is cleared when the connection closes, and the
** answer is dropped when the work comes back.
**
** Scoring: full runs every score_every_s (score_work) and, with
** refresh_every_s, note refreshes between them (refresh_work,
** engine/refresh.c).  Both run on libuv workers, never at the same time: the
** loop thread starts one only while the other is idle, which is also what
** makes the refresh base (s->rbase) safe to share between them.  With
** keep_runs, a prune of old runs' score rows (prune_work, store/prune.c)
** takes the same slot after each published run and once at start.
**
** Logs: one structured line (ns_log_kv) per run, refresh, prune with work
** done, error, start and stop; the format (logfmt/JSON) is the CLI's choice.
**
** Thread: everything here runs on the loop thread except the bodies of the
** uv_queue_work callbacks named *_work.
*/
#include "server.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "../base/dataset.h"
#include "server_int.h"
#include "read.h"

#include "../dash/dash.h"
#include "../engine/pipeline.h"
#include "../engine/score_db.h"

/* Run and refresh durations in /metrics (histogram upper bounds, seconds;
** one more bucket for +Inf).  Runs take seconds to tens of minutes, a
** refresh milliseconds to seconds. */
static const double run_buckets[] = {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600};
static const double refresh_buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60};
#define N_RUN_BUCKETS (sizeof run_buckets / sizeof run_buckets[0])
#define N_REFRESH_BUCKETS (sizeof refresh_buckets / sizeof refresh_buckets[0])

/* Scheduled runs by outcome (notescore_runs_total{status}). */
enum { RUN_PUBLISHED = 0, RUN_FAILED, RUN_ABANDONED, RUN_NO_DATA, RUN_OUTCOMES };
static const char *const run_outcomes[RUN_OUTCOMES] = {"published", "failed", "abandoned",
                                                       "no_data"};

/* --keep-runs pruning (store/prune.c): rows per delete transaction and the
** pause after each.  A batch of 1000 takes ~15 ms, the longest an ingest
** commit waits for the lock; the pause lets the writer in.  Measured
** (docs/operations.md): ack p99 during a prune as without one; 2000 rows
** and 2 ms doubled the p99. */
#define PRUNE_BATCH 1000
#define PRUNE_PAUSE_S 0.005

const char *const ns__route_names[NS_ROUTE_COUNT] = {
    "other", "healthz", "metrics", "runs", "runs_latest", "note", "dashboard", "index", "notes",
    "note_explain", "report", "run_changes",
    "ingest_ratings", "ingest_notes", "ingest_enrollment"};

/* Status codes counted in /metrics. */
static const int codes[] = {200, 400, 401, 404, 405, 408, 413, 414, 415, 431, 500, 503, 505, 507};
#define N_CODES (sizeof codes / sizeof codes[0])

typedef struct conn conn;

typedef struct server {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_signal_t sigterm, sigint;
  uv_async_t done_async;      /* writer -> loop: commits finished */
  uv_timer_t score_timer;
  ns_server_opts o;
  ns__server_writer *writer;
  conn *conns;                /* open connections (doubly linked) */
  size_t n_conns;
  size_t body_budget_used;    /* bytes of request bodies held */
  size_t inflight;            /* ingest requests parsing or at the writer */
  size_t reads_inflight;      /* reads on workers (bounded by max_reads) */
  uint64_t reads_refused;     /* reads answered 503 at that bound */
  uint64_t dash_renders;      /* /report pages rendered (not cached) */
  ns__dash_cache dash;        /* /report renders, one per run */
  size_t works;               /* uv_queue_work items not yet completed */
  int stopping;
  int finished;               /* the last handles are closing */
  int score_running;
  atomic_int score_cancel;    /* loop -> the scoring worker: stop (shutdown) */
  int score_rc;               /* result of the last run (worker -> loop) */
  uv_work_t score_work;
  /* note refresh (engine/refresh.c): the base of the last full run, used
  ** only by score_work and refresh_work, which never run at once (the loop
  ** thread starts one only when the other is idle) */
  uv_timer_t refresh_timer;
  uv_work_t refresh_work;
  int refresh_running;
  int score_pending;          /* a full run is due once the refresh ends */
  int refresh_rc;             /* worker -> loop */
  size_t refresh_notes;       /* notes refreshed by the last refresh (worker -> loop) */
  double refresh_s;           /* its duration (worker -> loop) */
  ns_refresh_base *rbase;     /* NULL until a full run published */
  int64_t rbase_run;          /* the run rbase belongs to */
  /* metrics (loop thread) */
  uint64_t req_count[NS_ROUTE_COUNT][N_CODES];
  uint64_t rows_accepted[3], rows_rejected[3];   /* ratings, notes, enrollment */
  uint64_t ack_hist[14];      /* request complete -> answer, ns__lat_buckets */
  double ack_sum;
  uint64_t conns_total, conns_refused, timeouts;
  uint64_t conns_evicted;     /* idle connections closed to admit a new one */
  size_t n_closing;           /* of n_conns, closing (no longer counted
                                 against max_conns) */
  uint64_t runs_ok, runs_failed;
  double last_run_s;
  uint64_t refresh_ok, refresh_failed, refresh_notes_total;
  double refresh_seconds_sum;
  /* operations (logs, /metrics, --keep-runs) */
  int64_t start_ms;           /* wall clock at start (process_start_time_seconds) */
  int64_t score_run_id;       /* run id of the last full run, 0 = none begun (worker -> loop) */
  size_t score_notes;         /* notes it scored (worker -> loop) */
  uint64_t runs_by[RUN_OUTCOMES];
  uint64_t run_hist[N_RUN_BUCKETS + 1];
  double run_seconds_sum;
  uint64_t refresh_hist[N_REFRESH_BUCKETS + 1];
  uv_work_t prune_work;       /* runs in the score/refresh slot: never beside them */
  int prune_running;
  atomic_int prune_cancel;    /* set at shutdown */
  int prune_rc;               /* worker -> loop */
  ns_prune_stats prune_st;    /* worker -> loop */
  double prune_s;             /* worker -> loop */
  uint64_t prunes_ok, prunes_failed, pruned_rows_total;
  double refresh_last_s;      /* refresh_s, copied by refresh_after: /metrics
                                 never reads a field a worker may be writing */
} server;

enum { BUSY_NONE = 0, BUSY_INGEST, BUSY_READ };
enum { TIMER_OFF = 0, TIMER_IDLE, TIMER_REQUEST };

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  server *s;
  conn *prev, *next;
  ns__http_conn http;
  ns__route_decision dec;     /* of the current request */
  void *busy;                 /* ns__ingest / ns__read in flight */
  int busy_kind;
  char *pending;              /* bytes after a complete request */
  size_t pending_len, pending_off;
  int closing;
  int n_closed;               /* handles closed (2 = free) */
  int reading;
  int timer_mode;
  int got_bytes;              /* the client has sent at least one byte */
  double t_idle;              /* monotonic time it became idle (TIMER_IDLE) */
  double t_complete;          /* monotonic time the request was complete */
  char rbuf[64 * 1024];
};

typedef struct wreq {
  uv_write_t w;
  conn *c;
  char *buf;                  /* owned, or NULL for static data */
  int then;                   /* what to do once written */
} wreq;
enum { THEN_NOTHING = 0, THEN_NEXT, THEN_CLOSE };

static void conn_close(conn *c);
static void conn_process(conn *c);
static void start_reading(conn *c);

/* conn->busy while an answer is being written (no work item in flight). */
static char answering_tag;
#define ANSWERING ((void *)&answering_tag)
static void maybe_finish(server *s);

/* ---- routing (pure) --------------------------------------------------------- */

int ns__auth_ok(const char *header, const char *token) {
  size_t hl, tl = strlen(token);
  unsigned diff = 0;
  /* the scheme is case-insensitive, then one or more spaces (RFC 7235) */
  if (strncasecmp(header, "Bearer ", 7) != 0) return 0;
  header += 7;
  while (*header == ' ') header++;
  hl = strlen(header);
  /* constant time in the token: every byte of the expected value is
  ** compared whatever the header holds; only the length leaks */
  diff |= (unsigned)(hl != tl);
  for (size_t i = 0; i < tl; i++) {
    char got = i < hl ? header[i] : 0;
    diff |= (unsigned char)(token[i] ^ got);
  }
  return diff == 0 && tl > 0;
}

/* A note id in a URL: decimal digits, a valid public id (positive, the
** domain import and ingest apply too: base/dataset.h). */
static int parse_note_id(const char *s, int64_t *out) {
  int64_t v = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return ns_check_note_id(v) ? -1 : 0;
}

/* A run id in a URL: decimal digits, positive.  end is where it stops. */
static int parse_run_id(const char *s, const char *end, int64_t *out) {
  int64_t v = 0;
  if (s == end) return -1;
  for (; s < end; s++) {
    if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return v > 0 ? 0 : -1;
}

/* "A/changes/B" of /v1/runs/A/changes/B. */
static int parse_run_pair(const char *s, int64_t *a, int64_t *b) {
  const char *mid = strstr(s, "/changes/");
  if (!mid || parse_run_id(s, mid, a) != 0) return -1;
  s = mid + 9;
  return parse_run_id(s, s + strlen(s), b);
}

void ns__server_route(const ns__http_req *req, const char *token, size_t max_body,
                      ns__route_decision *d) {
  const char *p = req->path;
  int is_read = 0;
  memset(d, 0, sizeof *d);
  if (!strcmp(p, "/")) { d->route = NS_ROUTE_INDEX; is_read = 1; }
  else if (!strcmp(p, "/healthz")) { d->route = NS_ROUTE_HEALTHZ; is_read = 1; }
  else if (!strcmp(p, "/metrics")) { d->route = NS_ROUTE_METRICS; is_read = 1; }
  else if (!strcmp(p, "/v1/runs")) { d->route = NS_ROUTE_RUNS; is_read = 1; }
  else if (!strcmp(p, "/v1/runs/latest")) { d->route = NS_ROUTE_RUNS_LATEST; is_read = 1; }
  else if (!strcmp(p, "/dashboard")) { d->route = NS_ROUTE_DASHBOARD; is_read = 1; }
  else if (!strcmp(p, "/report")) { d->route = NS_ROUTE_REPORT; is_read = 1; }
  else if (!strncmp(p, "/v1/runs/", 9) && strstr(p, "/changes/")) {
    d->route = NS_ROUTE_RUN_CHANGES;
    is_read = 1;
    if (parse_run_pair(p + 9, &d->run_a, &d->run_b) != 0) {
      d->status = 400;
      d->error = "want /v1/runs/{runId}/changes/{runId} with positive decimal run ids";
      return;
    }
  }
  else if (!strncmp(p, "/v1/notes/", 10)) {
    /* /v1/notes/{noteId} or /v1/notes/{noteId}/explain */
    char id[24];
    const char *slash = strchr(p + 10, '/');
    size_t n = slash ? (size_t)(slash - (p + 10)) : strlen(p + 10);
    is_read = 1;
    if (slash && strcmp(slash, "/explain") != 0) {
      d->status = 404;
      d->error = "no such endpoint";
      return;
    }
    d->route = slash ? NS_ROUTE_NOTE_EXPLAIN : NS_ROUTE_NOTE;
    if (n < sizeof id) {
      memcpy(id, p + 10, n);
      id[n] = '\0';
    }
    if (n >= sizeof id || parse_note_id(id, &d->note_id) != 0) {
      d->status = 400;
      d->error = "noteId must be a positive decimal integer";
      return;
    }
  }
  else if (!strcmp(p, "/v1/notes") &&
           (req->method == NS_HTTP_GET || req->method == NS_HTTP_HEAD)) {
    /* the same path POSTs notes: the method tells the list from ingest */
    d->route = NS_ROUTE_NOTES;
    if (ns__list_query_parse(req->query, &d->list, &d->error) != 0) d->status = 400;
    return;
  }
  else if (!strcmp(p, "/v1/ratings")) { d->route = NS_ROUTE_INGEST_RATINGS; d->kind = NS_FILE_RATINGS; }
  else if (!strcmp(p, "/v1/notes")) { d->route = NS_ROUTE_INGEST_NOTES; d->kind = NS_FILE_NOTES; }
  else if (!strcmp(p, "/v1/enrollment")) { d->route = NS_ROUTE_INGEST_ENROLLMENT; d->kind = NS_FILE_ENROLLMENT; }
  else {
    d->status = 404;
    d->error = "no such endpoint";
    return;
  }
  if (is_read) {
    if (req->method != NS_HTTP_GET && req->method != NS_HTTP_HEAD) {
      d->status = 405;
      d->error = "method not allowed (use GET)";
    }
    return;
  }
  if (req->method != NS_HTTP_POST) {
    d->status = 405;
    d->error = "method not allowed (use POST)";
  } else if (token && !ns__auth_ok(req->auth, token)) {
    d->status = 401;
    d->error = "missing or wrong bearer token";
  } else if (!strcmp(req->content_type, "application/x-ndjson") ||
             !strcmp(req->content_type, "application/ndjson")) {
    d->fmt = NS_BODY_NDJSON;
  } else if (!strcmp(req->content_type, "text/tab-separated-values")) {
    d->fmt = NS_BODY_TSV;
  } else {
    d->status = 415;
    d->error = "Content-Type must be application/x-ndjson or text/tab-separated-values";
  }
  if (!d->status && req->content_length != UINT64_MAX && req->content_length > max_body) {
    d->status = 413;
    d->error = "body too large";
  }
}

char *ns__ingest_response(const ns__batch *b, size_t accepted) {
  json_t *o = json_object(), *rej = json_array();
  char *out = NULL;
  if (!o || !rej) goto out;
  for (size_t i = 0; i < b->rejects.n; i++) {
    /* reasons are valid UTF-8 (body.c cleans them); should packing still
    ** fail, the line is listed with a generic reason, never dropped */
    json_t *e = json_pack("{s:I,s:s,s:s}", "line", (json_int_t)b->rejects.a[i].line, "error",
                          b->rejects.a[i].msg, "code", b->rejects.a[i].code);
    if (!e) e = json_pack("{s:I,s:s}", "line", (json_int_t)b->rejects.a[i].line, "error",
                          "invalid row");
    if (!e || json_array_append_new(rej, e) != 0) goto out;
  }
  json_object_set_new(o, "accepted", json_integer((json_int_t)accepted));
  json_object_set(o, "rejected", rej);
  json_object_set_new(o, "rejectedTotal", json_integer((json_int_t)b->n_rejected));
  if (b->body_error[0]) json_object_set_new(o, "error", json_string(b->body_error));
  out = json_dumps(o, JSON_COMPACT);
out:
  json_decref(rej);
  json_decref(o);
  return out;
}

/* ---- responses ---------------------------------------------------------------- */

static void count_request(server *s, int route, int status) {
  for (size_t i = 0; i < N_CODES; i++)
    if (codes[i] == status) s->req_count[route][i]++;
}

static void on_written(uv_write_t *w, int status) {
  wreq *r = (wreq *)w;
  conn *c = r->c;
  int then = r->then;
  free(r->buf);
  free(r);
  if (c->closing) return;
  if (status < 0 || then == THEN_CLOSE) conn_close(c);
  else if (then == THEN_NEXT) {
    c->busy = NULL;
    c->busy_kind = BUSY_NONE;
    if (c->s->stopping) conn_close(c);   /* draining: one answer, then close */
    else {
      memset(&c->dec, 0, sizeof c->dec);   /* the next request is routed anew */
      ns__http_next(&c->http);
      conn_process(c);
    }
  }
}

/* Writes buf (taking ownership; static if !owned) and then does `then`. */
static void write_buf(conn *c, char *buf, size_t len, int owned, int then) {
  wreq *r = ns_calloc(1, sizeof *r);
  uv_buf_t b = uv_buf_init(buf, (unsigned)len);
  if (!r) {
    if (owned) free(buf);
    conn_close(c);
    return;
  }
  r->c = c;
  r->buf = owned ? buf : NULL;
  r->then = then;
  if (uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
    free(r->buf);
    free(r);
    conn_close(c);
  }
}

/* Sends a final response to the current request of c. */
static void respond(conn *c, int status, const char *ctype, const char *body, size_t len,
                    const char *extra, int close) {
  server *s = c->s;
  char *out;
  size_t out_len;
  int keep = !close && c->http.req.keep_alive && !s->stopping;
  double dt;
  size_t i;
  count_request(s, c->dec.route, status);
  if (c->t_complete > 0) {
    dt = ns_monotonic_s() - c->t_complete;
    for (i = 0; i < NS_ARRAY_LEN(ns__lat_buckets) && dt > ns__lat_buckets[i]; i++) {}
    s->ack_hist[i]++;
    s->ack_sum += dt;
    c->t_complete = 0;
  }
  if (ns__http_format(status, ctype, body, len, keep, extra,
                      c->http.req.method == NS_HTTP_HEAD, &out, &out_len) != 0) {
    conn_close(c);
    return;
  }
  write_buf(c, out, out_len, 1, keep ? THEN_NEXT : THEN_CLOSE);
}

static const char *extra_for(int status, int route) {
  switch (status) {
  case 401: return "WWW-Authenticate: Bearer\r\n";
  case 405: return route == NS_ROUTE_INGEST_NOTES    ? "Allow: GET, HEAD, POST\r\n"
                  : route >= NS_ROUTE_INGEST_RATINGS ? "Allow: POST\r\n"
                                                     : "Allow: GET, HEAD\r\n";
  case 503: return "Retry-After: 1\r\n";
  case 507: return "Retry-After: 10\r\n";
  default: return NULL;
  }
}

static void respond_error(conn *c, int status, const char *msg, int close) {
  json_t *j = json_pack("{s:s}", "error", msg ? msg : ns__http_reason(status));
  char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  respond(c, status, "application/json", body ? body : "{}", body ? strlen(body) : 2,
          extra_for(status, c->dec.route), close);
  free(body);
}

/* ---- connection timers ---------------------------------------------------------- */

static void on_timer(uv_timer_t *t) {
  conn *c = t->data;
  if (c->closing || c->busy) return;
  c->s->timeouts++;
  c->timer_mode = TIMER_OFF;
  if (ns__http_mid_request(&c->http)) {
    /* slow client: answer 408 and close; stop reading its bytes first */
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
    c->busy = ANSWERING;
    respond_error(c, 408, "request not received in time", 1);
  } else {
    conn_close(c);
  }
}

static void set_timer(conn *c, int mode) {
  double secs;
  if (c->timer_mode == mode) return;   /* a running request timer is not reset */
  c->timer_mode = mode;
  if (mode == TIMER_OFF) {
    uv_timer_stop(&c->timer);
    return;
  }
  if (mode == TIMER_IDLE) {
    c->t_idle = ns_monotonic_s();
    /* a connection that never sent a byte gets the short header timeout:
    ** idle sockets must not hold slots for the whole keep-alive time */
    secs = c->got_bytes ? c->s->o.idle_timeout_s
                        : NS_MIN(c->s->o.idle_timeout_s, c->s->o.header_timeout_s);
  } else {
    secs = c->s->o.request_timeout_s;
  }
  uv_timer_start(&c->timer, on_timer, (uint64_t)(secs * 1000.0 + 0.5), 0);
}

/* ---- work items ------------------------------------------------------------------ */

static void parse_work(uv_work_t *w) {
  ns__ingest *r = w->data;
  int rc = ns__body_parse(&r->batch, r->kind, r->fmt, r->body, r->body_len);
  if (rc != 0) r->status = rc == NS_ENOMEM ? 503 : 500;
}

static int kind_index(int kind) {
  return kind == NS_FILE_RATINGS ? 0 : kind == NS_FILE_NOTES ? 1 : 2;
}

static void ingest_answer(server *s, ns__ingest *r) {
  conn *c = r->conn;
  size_t rows = ns__batch_rows(&r->batch);
  if (r->status == 200) {
    s->rows_accepted[kind_index(r->kind)] += rows;
    s->rows_rejected[kind_index(r->kind)] += r->batch.n_rejected;
  }
  if (c) {
    c->busy = ANSWERING;
    c->busy_kind = BUSY_NONE;
    if (r->status == 500) {
      respond_error(c, 500, "could not store the rows", 0);
    } else if (r->status == 503) {
      respond_error(c, 503, "out of memory while parsing the body: nothing was stored, retry later", 0);
    } else if (r->status == 507) {
      respond_error(c, 507, "storage full: the database cannot grow; nothing of this request "
                            "was stored, retry later", 0);
    } else {
      char *body = ns__ingest_response(&r->batch, r->status == 200 ? rows : 0);
      if (!body) respond_error(c, 500, "out of memory", 1);
      else respond(c, r->status, "application/json", body, strlen(body), NULL, 0);
      free(body);
    }
  }
  ns__batch_free(&r->batch);
  free(r);
}

static void parse_after(uv_work_t *w, int status) {
  ns__ingest *r = w->data;
  server *s = r->server;
  s->works--;
  free(r->body);
  r->body = NULL;
  ns__http_budget_release(&s->body_budget_used, r->body_cap);
  if (status == UV_ECANCELED) r->status = 500;
  if (!r->conn) {
    /* the client left before we stored anything: nothing to acknowledge */
    s->inflight--;
    ns__batch_free(&r->batch);
    free(r);
    maybe_finish(s);
    return;
  }
  if (r->status == 0 && (r->batch.body_error[0] || ns__batch_rows(&r->batch) == 0))
    r->status = 400;
  if (r->status != 0) {
    s->inflight--;
    if (r->status == 400) s->rows_rejected[kind_index(r->kind)] += r->batch.n_rejected;
    r->status = r->status == 400 || r->status == 503 ? r->status : 500;
    if (r->status == 400) {
      /* nothing to store: answer without the writer */
      conn *c = r->conn;
      char *body = ns__ingest_response(&r->batch, 0);
      c->busy = ANSWERING;
      respond(c, 400, "application/json", body ? body : "{}", body ? strlen(body) : 2, NULL, 0);
      free(body);
      ns__batch_free(&r->batch);
      free(r);
    } else {
      ingest_answer(s, r);
    }
    maybe_finish(s);
    return;
  }
  ns__server_writer_submit(s->writer, r);
}

static void on_done(uv_async_t *a) {
  server *s = a->data;
  ns__ingest *r = ns__server_writer_take_done(s->writer), *next;
  for (; r; r = next) {
    next = r->next;
    s->inflight--;
    ingest_answer(s, r);
  }
  maybe_finish(s);
}

static void read_work(uv_work_t *w) { ns__read_work(w->data); }

static void read_after(uv_work_t *w, int status) {
  ns__read *r = w->data;
  server *s = r->server;
  conn *c = r->conn;
  s->works--;
  s->reads_inflight--;
  s->dash_renders += (uint64_t)r->rendered;
  if (c) {
    c->busy = ANSWERING;
    c->busy_kind = BUSY_NONE;
    if (status == UV_ECANCELED || !r->body) {
      respond_error(c, 503, "shutting down", 1);
    } else {
      const char *ct = r->route == NS_ROUTE_METRICS     ? "text/plain; version=0.0.4"
                       : r->route == NS_ROUTE_REPORT ? "text/html; charset=utf-8"
                                                        : "application/json";
      respond(c, r->status, ct, r->body, strlen(r->body), NULL, 0);
    }
  }
  ns__read_free(r);
  maybe_finish(s);
}

/* The loop's own counters in Prometheus text format (malloc'ed). */
/* The cumulative `NAME_bucket{le=...}` lines of one Prometheus histogram:
** hist has n_bounds + 1 counters, the last one for +Inf.  Returns the total
** count. */
static uint64_t hist_buckets(FILE *f, const char *name, const double *bounds, size_t n_bounds,
                             const uint64_t *hist) {
  uint64_t cum = 0;
  for (size_t i = 0; i <= n_bounds; i++) {
    cum += hist[i];
    if (i < n_bounds)
      fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
    else
      fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
  }
  return cum;
}

static char *metrics_text(server *s) {
  char *buf = NULL;
  size_t len = 0, i, j;
  FILE *f = open_memstream(&buf, &len);
  static const char *kinds[3] = {"ratings", "notes", "enrollment"};
  ns__server_writer_stats ws;
  uint64_t cum;
  if (!f) return NULL;
  ns__server_writer_get_stats(s->writer, &ws);
  fputs("# HELP notescore_http_requests_total HTTP requests answered, by endpoint and status.\n"
        "# TYPE notescore_http_requests_total counter\n", f);
  for (i = 0; i < NS_ROUTE_COUNT; i++)
    for (j = 0; j < N_CODES; j++)
      if (s->req_count[i][j])
        fprintf(f, "notescore_http_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n",
                ns__route_names[i], codes[j], (unsigned long long)s->req_count[i][j]);
  fputs("# HELP notescore_rows_accepted_total Rows stored durably, by kind.\n"
        "# TYPE notescore_rows_accepted_total counter\n", f);
  for (i = 0; i < 3; i++)
    fprintf(f, "notescore_rows_accepted_total{kind=\"%s\"} %llu\n", kinds[i],
            (unsigned long long)s->rows_accepted[i]);
  fputs("# HELP notescore_rows_rejected_total Rows rejected by validation, by kind.\n"
        "# TYPE notescore_rows_rejected_total counter\n", f);
  for (i = 0; i < 3; i++)
    fprintf(f, "notescore_rows_rejected_total{kind=\"%s\"} %llu\n", kinds[i],
            (unsigned long long)s->rows_rejected[i]);
  fputs("# HELP notescore_commit_rows Rows per group commit.\n"
        "# TYPE notescore_commit_rows histogram\n", f);
  hist_buckets(f, "notescore_commit_rows", ns__batch_buckets, NS_ARRAY_LEN(ns__batch_buckets),
               ws.batch_hist);
  fprintf(f, "notescore_commit_rows_sum %llu\nnotescore_commit_rows_count %llu\n",
          (unsigned long long)ws.rows, (unsigned long long)ws.commits);
  fputs("# HELP notescore_commit_seconds Duration of a group commit (write + fsync).\n"
        "# TYPE notescore_commit_seconds histogram\n", f);
  hist_buckets(f, "notescore_commit_seconds", ns__lat_buckets, NS_ARRAY_LEN(ns__lat_buckets),
               ws.lat_hist);
  fprintf(f, "notescore_commit_seconds_sum %.6f\nnotescore_commit_seconds_count %llu\n",
          ws.lat_sum, (unsigned long long)ws.commits);
  fprintf(f, "# HELP notescore_commit_failures_total Failed transactions.\n"
             "# TYPE notescore_commit_failures_total counter\n"
             "notescore_commit_failures_total %llu\n", (unsigned long long)ws.commit_failures);
  fputs("# HELP notescore_response_seconds Time from a complete request to its answer.\n"
        "# TYPE notescore_response_seconds histogram\n", f);
  cum = hist_buckets(f, "notescore_response_seconds", ns__lat_buckets,
                     NS_ARRAY_LEN(ns__lat_buckets), s->ack_hist);
  fprintf(f, "notescore_response_seconds_sum %.6f\nnotescore_response_seconds_count %llu\n",
          s->ack_sum, (unsigned long long)cum);
  fprintf(f,
          "# HELP notescore_ingest_inflight Ingest requests being parsed or waiting for the writer.\n"
          "# TYPE notescore_ingest_inflight gauge\nnotescore_ingest_inflight %zu\n"
          "# HELP notescore_writer_queue Requests waiting for the writer thread.\n"
          "# TYPE notescore_writer_queue gauge\nnotescore_writer_queue %zu\n"
          "# HELP notescore_body_bytes Request body bytes held in memory.\n"
          "# TYPE notescore_body_bytes gauge\nnotescore_body_bytes %zu\n"
          "# HELP notescore_connections Open connections.\n"
          "# TYPE notescore_connections gauge\nnotescore_connections %zu\n"
          "# HELP notescore_connections_refused_total Connections over max_conns.\n"
          "# TYPE notescore_connections_refused_total counter\nnotescore_connections_refused_total %llu\n"
          "# HELP notescore_connections_evicted_total Idle connections closed at max_conns to admit new ones.\n"
          "# TYPE notescore_connections_evicted_total counter\nnotescore_connections_evicted_total %llu\n"
          "# HELP notescore_reads_inflight Reads running on worker threads.\n"
          "# TYPE notescore_reads_inflight gauge\nnotescore_reads_inflight %zu\n"
          "# HELP notescore_reads_refused_total Reads answered 503 at --max-reads.\n"
          "# TYPE notescore_reads_refused_total counter\nnotescore_reads_refused_total %llu\n"
          "# HELP notescore_dashboard_renders_total /report pages rendered (the rest came from the per-run cache).\n"
          "# TYPE notescore_dashboard_renders_total counter\nnotescore_dashboard_renders_total %llu\n"
          "# HELP notescore_timeouts_total Connections closed for idleness or slowness.\n"
          "# TYPE notescore_timeouts_total counter\nnotescore_timeouts_total %llu\n"
          "# HELP notescore_runs_total Scheduled scoring runs of this process by outcome.\n"
          "# TYPE notescore_runs_total counter\n",
          s->inflight, ws.queued, s->body_budget_used, s->n_conns,
          (unsigned long long)s->conns_refused, (unsigned long long)s->conns_evicted,
          s->reads_inflight, (unsigned long long)s->reads_refused,
          (unsigned long long)s->dash_renders,
          (unsigned long long)s->timeouts);
  for (i = 0; i < RUN_OUTCOMES; i++)
    fprintf(f, "notescore_runs_total{status=\"%s\"} %llu\n", run_outcomes[i],
            (unsigned long long)s->runs_by[i]);
  fputs("# HELP notescore_run_seconds Duration of the scheduled scoring runs of this process "
        "(published, failed or abandoned).\n"
        "# TYPE notescore_run_seconds histogram\n", f);
  cum = hist_buckets(f, "notescore_run_seconds", run_buckets, N_RUN_BUCKETS, s->run_hist);
  fprintf(f, "notescore_run_seconds_sum %.6f\nnotescore_run_seconds_count %llu\n",
          s->run_seconds_sum, (unsigned long long)cum);
  fprintf(f,
          "# HELP notescore_refreshes_total Note refreshes (--refresh-every) by outcome.\n"
          "# TYPE notescore_refreshes_total counter\n"
          "notescore_refreshes_total{status=\"ok\"} %llu\nnotescore_refreshes_total{status=\"failed\"} %llu\n"
          "# HELP notescore_refreshed_notes_total Notes refit by note refreshes.\n"
          "# TYPE notescore_refreshed_notes_total counter\nnotescore_refreshed_notes_total %llu\n"
          "# HELP notescore_refresh_last_seconds Wall time of the last note refresh.\n"
          "# TYPE notescore_refresh_last_seconds gauge\nnotescore_refresh_last_seconds %.6f\n",
          (unsigned long long)s->refresh_ok, (unsigned long long)s->refresh_failed,
          (unsigned long long)s->refresh_notes_total, s->refresh_last_s);
  fputs("# HELP notescore_refresh_seconds Wall time of note refreshes.\n"
        "# TYPE notescore_refresh_seconds histogram\n", f);
  cum = hist_buckets(f, "notescore_refresh_seconds", refresh_buckets, N_REFRESH_BUCKETS,
                     s->refresh_hist);
  fprintf(f, "notescore_refresh_seconds_sum %.6f\nnotescore_refresh_seconds_count %llu\n",
          s->refresh_seconds_sum, (unsigned long long)cum);
  fprintf(f,
          "# HELP notescore_pruned_rows_total Score rows of old runs deleted by --keep-runs.\n"
          "# TYPE notescore_pruned_rows_total counter\nnotescore_pruned_rows_total %llu\n"
          "# HELP notescore_prunes_total --keep-runs pruning passes by outcome.\n"
          "# TYPE notescore_prunes_total counter\n"
          "notescore_prunes_total{status=\"ok\"} %llu\nnotescore_prunes_total{status=\"failed\"} %llu\n"
          "# HELP notescore_score_every_seconds The configured --score-every (0 = no scheduled runs).\n"
          "# TYPE notescore_score_every_seconds gauge\nnotescore_score_every_seconds %g\n"
          "# HELP notescore_build_info The running notescore version.\n"
          "# TYPE notescore_build_info gauge\nnotescore_build_info{version=\"%s\"} 1\n"
          "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n"
          "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n",
          (unsigned long long)s->pruned_rows_total, (unsigned long long)s->prunes_ok,
          (unsigned long long)s->prunes_failed, s->o.score_every_s, NS_VERSION,
          (double)s->start_ms / 1000.0);
  fclose(f);
  return buf;
}

/* ---- dispatching a complete request --------------------------------------------- */

static void dispatch(conn *c) {
  server *s = c->s;
  ns__route_decision *d = &c->dec;
  set_timer(c, TIMER_OFF);
  c->t_complete = ns_monotonic_s();
  if (d->status) {
    c->busy = ANSWERING;
    respond_error(c, d->status, d->error, 0);
    return;
  }
  switch (d->route) {
  case NS_ROUTE_HEALTHZ:
    c->busy = ANSWERING;   /* answered; resumes in on_written */
    respond(c, 200, "text/plain", "ok\n", 3, NULL, 0);
    return;
  case NS_ROUTE_DASHBOARD:
    /* a static page compiled in (dash/dashboard.html): no DB, no worker;
    ** it reads the JSON endpoints itself.  The policy header keeps the
    ** browser from loading anything but this server's answers. */
    c->busy = ANSWERING;
    respond(c, 200, "text/html; charset=utf-8", ns_dashboard_html, ns_dashboard_html_len,
            "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; img-src data:; connect-src 'self'\r\n", 0);
    return;
  case NS_ROUTE_INDEX: {
    const char *body = ns__read_index();
    c->busy = ANSWERING;
    respond(c, 200, "application/json", body, strlen(body), NULL, 0);
    return;
  }
  case NS_ROUTE_METRICS:
  case NS_ROUTE_RUNS:
  case NS_ROUTE_RUNS_LATEST:
  case NS_ROUTE_REPORT:
  case NS_ROUTE_RUN_CHANGES:
  case NS_ROUTE_NOTES:
  case NS_ROUTE_NOTE_EXPLAIN:
  case NS_ROUTE_NOTE: {
    ns__read *r;
    if (s->reads_inflight >= s->o.max_reads) {
      /* reads share the workers with body parsing: past the bound they
      ** are refused, so ingest never queues behind them */
      s->reads_refused++;
      c->busy = ANSWERING;
      respond_error(c, 503, "too many reads in progress", 0);
      return;
    }
    r = ns_calloc(1, sizeof *r);
    if (!r || (d->route == NS_ROUTE_METRICS && !(r->prefix = metrics_text(s)))) {
      free(r);
      c->busy = ANSWERING;
      respond_error(c, 503, "out of memory", 1);
      return;
    }
    r->server = s;
    r->conn = c;
    r->route = d->route;
    r->note_id = d->note_id;
    r->list = d->list;
    r->run_a = d->run_a;
    r->run_b = d->run_b;
    r->db_path = s->o.db_path;
    r->cache = &s->dash;
    r->generation = s->runs_ok + s->runs_failed + s->refresh_ok;
    r->test_delay_s = s->o.test_read_delay_s;
    r->work.data = r;
    c->busy = r;
    c->busy_kind = BUSY_READ;
    if (uv_queue_work(&s->loop, &r->work, read_work, read_after) != 0) {
      c->busy = ANSWERING;
      c->busy_kind = BUSY_NONE;
      ns__read_free(r);
      respond_error(c, 503, "cannot schedule the read", 1);
      return;
    }
    s->works++;
    s->reads_inflight++;
    return;
  }
  default: {
    ns__ingest *r;
    if (s->stopping || s->inflight >= s->o.queue_max) {
      c->busy = ANSWERING;
      respond_error(c, 503, s->stopping ? "shutting down" : "ingest queue full", 0);
      return;
    }
    if (!(r = ns_calloc(1, sizeof *r))) {
      c->busy = ANSWERING;
      respond_error(c, 503, "out of memory", 1);
      return;
    }
    r->server = s;
    r->conn = c;
    r->kind = d->kind;
    r->fmt = d->fmt;
    r->route = d->route;
    r->t_start = c->t_complete;
    r->body = ns__http_take_body(&c->http, &r->body_len, &r->body_cap);
    if (!r->body) r->body_len = 0;
    r->work.data = r;
    c->busy = r;
    c->busy_kind = BUSY_INGEST;
    s->inflight++;
    if (uv_queue_work(&s->loop, &r->work, parse_work, parse_after) != 0) {
      s->inflight--;
      c->busy = ANSWERING;
      c->busy_kind = BUSY_NONE;
      free(r->body);
      ns__http_budget_release(&s->body_budget_used, r->body_cap);
      free(r);
      respond_error(c, 503, "cannot schedule the parse", 1);
      return;
    }
    s->works++;
    return;
  }
  }
}

/* Headers complete: route, refuse early, or say 100 Continue. */
static int on_headers(void *ctx, ns__http_req *req) {
  conn *c = ctx;
  server *s = c->s;
  ns__server_route(req, s->o.token, s->o.max_body, &c->dec);
  /* a refused request without a body is answered in turn and the
  ** connection kept; with a body, answer now and close (body unread) */
  if (c->dec.status) return req->has_body ? c->dec.status : 0;
  if (c->dec.route >= NS_ROUTE_INGEST_RATINGS && (s->stopping || s->inflight >= s->o.queue_max)) {
    c->dec.status = 503;
    c->dec.error = s->stopping ? "shutting down" : "ingest queue full";
    return 503;
  }
  if (req->expect_continue && req->method == NS_HTTP_POST) {
    static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    write_buf(c, cont, sizeof cont - 1, 0, THEN_NOTHING);
  }
  return 0;
}

/* Feeds pending bytes to the parser until a request completes or they run
** out; then either dispatches, or goes back to reading. */
static void conn_process(conn *c) {
  while (c->pending_off < c->pending_len) {
    size_t used;
    int ev = ns__http_feed(&c->http, c->pending + c->pending_off,
                           c->pending_len - c->pending_off, &used);
    c->pending_off += used;
    if (ev == NS_HTTP_ERROR) {
      uv_read_stop((uv_stream_t *)&c->tcp);
      c->reading = 0;
      set_timer(c, TIMER_OFF);
      c->busy = ANSWERING;
      c->t_complete = 0;
      respond_error(c, c->http.err_status, c->dec.status ? c->dec.error : c->http.err_msg, 1);
      return;
    }
    if (ev == NS_HTTP_REQUEST) {
      if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
      }
      dispatch(c);
      return;
    }
  }
  /* all bytes consumed: read more */
  free(c->pending);
  c->pending = NULL;
  c->pending_len = c->pending_off = 0;
  if (!c->reading && !c->closing) start_reading(c);
  set_timer(c, ns__http_mid_request(&c->http) ? TIMER_REQUEST : TIMER_IDLE);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  conn *c = h->data;
  *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  conn *c = st->data;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  if (nread == 0 || c->closing) return;
  c->got_bytes = 1;
  /* rbuf is reused by the next read; copy it into pending (which is
  ** normally empty here, so this is one memcpy of what arrived) */
  {
    size_t keep = c->pending_len - c->pending_off;
    char *p = ns_malloc(keep + (size_t)nread);
    if (!p) {
      conn_close(c);
      return;
    }
    if (keep) memcpy(p, c->pending + c->pending_off, keep);
    memcpy(p + keep, buf->base, (size_t)nread);
    free(c->pending);
    c->pending = p;
    c->pending_len = keep + (size_t)nread;
    c->pending_off = 0;
  }
  conn_process(c);
}

/* ---- connection lifetime --------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *h) {
  conn *c = h->data;
  server *s = c->s;
  if (++c->n_closed < 2) return;
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  s->n_conns--;
  s->n_closing--;
  ns__http_free(&c->http);
  free(c->pending);
  free(c);
  maybe_finish(s);
}

static void conn_close(conn *c) {
  if (c->closing) return;
  c->closing = 1;
  c->s->n_closing++;
  /* whatever is in flight keeps running; its answer is dropped */
  if (c->busy_kind == BUSY_INGEST) ((ns__ingest *)c->busy)->conn = NULL;
  else if (c->busy_kind == BUSY_READ) ((ns__read *)c->busy)->conn = NULL;
  c->busy = NULL;
  c->busy_kind = BUSY_NONE;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void start_reading(conn *c) {
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
  else conn_close(c);
}

static void on_refused_closed(uv_handle_t *h) { free(h); }

/* At the connection limit: closes the connection idle for the longest
** time (waiting for its first byte or for its next keep-alive request), so
** idle sockets can never lock clients out.  Returns 1 if one was closed. */
static int evict_idle(server *s) {
  conn *c, *oldest = NULL;
  for (c = s->conns; c; c = c->next)
    if (!c->closing && !c->busy && c->timer_mode == TIMER_IDLE &&
        !ns__http_mid_request(&c->http) && (!oldest || c->t_idle < oldest->t_idle))
      oldest = c;
  if (!oldest) return 0;
  s->conns_evicted++;
  conn_close(oldest);
  return 1;
}

static void on_connection(uv_stream_t *l, int status) {
  server *s = l->data;
  conn *c;
  if (status < 0) return;
  if (!s->stopping && s->n_conns - s->n_closing >= s->o.max_conns) evict_idle(s);
  if (s->stopping || s->n_conns - s->n_closing >= s->o.max_conns || !(c = ns_calloc(1, sizeof *c))) {
    uv_tcp_t *t = ns_malloc(sizeof *t);
    s->conns_refused++;
    if (!t) return;
    uv_tcp_init(&s->loop, t);
    if (uv_accept(l, (uv_stream_t *)t) != 0) {}
    uv_close((uv_handle_t *)t, on_refused_closed);
    return;
  }
  uv_tcp_init(&s->loop, &c->tcp);
  uv_timer_init(&s->loop, &c->timer);
  c->s = s;
  c->tcp.data = c->timer.data = c;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->n_conns++;
  s->conns_total++;
  ns__http_init(&c->http, s->o.max_body, on_headers, c);
  c->http.budget = &s->body_budget_used;
  c->http.budget_max = s->o.body_budget;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  start_reading(c);
  set_timer(c, TIMER_IDLE);
}

/* ---- scheduled scoring ------------------------------------------------------------- */

/* Scoring below ingest (issue #18): full runs and refreshes use every core
** (the pipeline's pool), and at equal priority they took CPU from the loop,
** the body parsers and the writer, so acks waited for hundreds of ms.  So
** the snapshot and the computation run on a thread of their own whose nice
** value is SCORE_NICE; the pool threads the pipeline creates inherit it
** (Linux: the nice value is per thread and copied at thread creation).  Not
** on the libuv worker itself: an unprivileged thread cannot lower its nice
** value again, and the worker goes on to parse ingest bodies.  The store
** writes (run row, publication, refresh rows) stay on the worker at normal
** priority: a niced thread holding SQLite's write lock on a busy machine
** made ingest wait for it (priority inversion, measured: lock waits of
** 200+ ms).  If the thread cannot be created the job runs on the worker. */
#define SCORE_NICE 10

typedef struct niced {
  int (*fn)(void *);
  void *arg;
  int rc;
} niced;

static void *niced_main(void *arg) {
  niced *a = arg;
  /* failure (a seccomp filter, say) only costs the priority */
  (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), SCORE_NICE);
  a->rc = a->fn(a->arg);
  return NULL;
}

static int run_niced(int (*fn)(void *), void *arg) {
  niced a = {fn, arg, 0};
  pthread_t t;
  if (pthread_create(&t, NULL, niced_main, &a) != 0) return fn(arg);
  pthread_join(t, NULL);
  return a.rc;
}

/* The niced parts of a run or refresh. */
typedef struct score_job {
  server *s;
  ns_store *st;
  ns_dataset *ds;
  ns_params p;
  ns_scores *sc;
  int64_t *ids;               /* refresh: the notes to refit */
  size_t n;
} score_job;

static int job_refit(void *arg) {
  score_job *j = arg;
  int rc = ns_store_snapshot(j->st, &j->ds);
  if (rc == 0) rc = ns_refresh_changed(j->s->rbase, j->ds, &j->ids, &j->n);
  if (rc == 0 && j->n > 0)
    rc = ns_pipeline_refresh(j->s->rbase, j->ds, j->ids, j->n, ns_now_ms(), &j->sc);
  return rc;
}

/* A run frees a snapshot of the whole DB and its scores (hundreds of MiB at
** 10^6 ratings), spread over the arenas of the pool threads; glibc keeps
** freed memory below the top of each arena mapped, so RSS kept the
** high-water mark of every arena (issue #18).  Give it back. */
static void trim_heap(void) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

/* One full run on a worker (engine/score_db.c, the path `score --db` takes
** too): its own store handle, a snapshot (one read transaction; ingest goes
** on beside it), the pipeline, one publishing transaction.  Cancelled at
** shutdown -> the run row says "abandoned". */
static void score_work(uv_work_t *w) {
  server *s = w->data;
  ns_params p;
  /* snapshot and pipeline niced, the store writes at normal priority */
  ns_score_db_opts so = {"serve", NS_SCORE_NOW_CLOCK, 0, &s->score_cancel,
                         s->o.refresh_every_s > 0, run_niced};
  ns_score_db_result res;
  double t0 = ns_monotonic_s();
  int rc;
  ns_params_default(&p);
  p.progress = 0;
  rc = ns_score_db(s->o.db_path, &p, &so, &res);
  if (rc == 0 && res.sc) {
    /* the refresh base: this run's rater parameters and note rows */
    ns_refresh_base *nb = NULL;
    int brc = ns_refresh_base_new(res.ds, res.sc, &p, &nb);
    if (brc != 0) ns_warn("serve: note refresh disabled until the next run: %s", ns_strerror(brc));
    ns_refresh_base_free(s->rbase);
    s->rbase = nb;
    s->rbase_run = res.run_id;
  }
  s->score_run_id = res.run_id;   /* logged by score_after */
  s->score_notes = rc == 0 ? res.n_notes : 0;
  s->last_run_s = ns_monotonic_s() - t0;
  s->score_rc = rc;   /* read by score_after on the loop thread */
  ns_scores_free(res.sc);
  ns_dataset_free(res.ds);
  ns_params_release(&p);
  trim_heap();
}

static void on_score_timer(uv_timer_t *t);
static void start_prune(server *s);

/* Adds one observation to a histogram of n bounds (+ the +Inf bucket). */
static void observe(uint64_t *hist, const double *bounds, size_t n, double v) {
  size_t i = 0;
  while (i < n && v > bounds[i]) i++;
  hist[i]++;
}

static void score_after(uv_work_t *w, int status) {
  server *s = w->data;
  int rc = status == 0 ? s->score_rc : NS_ECANCELED;
  int outcome = rc == 0 ? RUN_PUBLISHED : rc == NS_ECANCELED ? RUN_ABANDONED
                : rc == NS_ENODATA ? RUN_NO_DATA : RUN_FAILED;
  s->works--;
  s->score_running = 0;
  if (rc == 0) s->runs_ok++;
  else s->runs_failed++;
  s->runs_by[outcome]++;
  if (outcome != RUN_NO_DATA && status == 0) {
    observe(s->run_hist, run_buckets, N_RUN_BUCKETS, s->last_run_s);
    s->run_seconds_sum += s->last_run_s;
  }
  /* the one line per run (docs/operations.md, "Logs") */
  ns_log_kv(outcome == RUN_FAILED ? NS_LOG_WARN : NS_LOG_INFO, "serve: scoring run",
            NS_LF_INT("run_id", s->score_run_id), NS_LF_STR("status", run_outcomes[outcome]),
            NS_LF_NUM("seconds", s->last_run_s), NS_LF_INT("notes", s->score_notes),
            NS_LF_STR("error", outcome == RUN_FAILED ? ns_strerror(rc) : NULL));
  if (rc == 0 && s->o.keep_runs) start_prune(s);
  maybe_finish(s);
}

/* One note refresh on a worker: its own store handle, a snapshot, the notes
** whose ratings changed since the base last saw them, the frozen-rater
** refit (those three niced), their rows of the current run replaced
** (ns_store_run_refresh). */
static void refresh_work(uv_work_t *w) {
  server *s = w->data;
  score_job j;
  double t0 = ns_monotonic_s();
  int rc;
  memset(&j, 0, sizeof j);
  j.s = s;
  s->refresh_notes = 0;
  if ((rc = ns_store_open(s->o.db_path, 0, &j.st)) != 0) goto out;
  if ((rc = run_niced(job_refit, &j)) != 0 || j.n == 0) goto out;
  if ((rc = ns_store_run_refresh(j.st, s->rbase_run, j.sc, j.ds)) != 0) goto out;
  rc = ns_refresh_base_accept(s->rbase, j.ds, j.sc);
  s->refresh_notes = j.sc->n_notes;
out:
  s->refresh_s = ns_monotonic_s() - t0;
  s->refresh_rc = rc;   /* read by refresh_after on the loop thread */
  free(j.ids);
  ns_scores_free(j.sc);
  ns_dataset_free(j.ds);
  ns_store_close(j.st);
  trim_heap();
}

static void refresh_after(uv_work_t *w, int status) {
  server *s = w->data;
  int rc = status == 0 ? s->refresh_rc : NS_ECANCELED;
  s->works--;
  s->refresh_running = 0;
  if (rc == 0) {
    s->refresh_ok++;
    s->refresh_notes_total += s->refresh_notes;
  } else {
    s->refresh_failed++;
  }
  s->refresh_seconds_sum += s->refresh_s;
  observe(s->refresh_hist, refresh_buckets, N_REFRESH_BUCKETS, s->refresh_s);
  /* the one line per refresh */
  ns_log_kv(rc == 0 ? NS_LOG_INFO : NS_LOG_WARN, "serve: note refresh",
            NS_LF_INT("run_id", s->rbase_run), NS_LF_STR("status", rc == 0 ? "ok" : "failed"),
            NS_LF_NUM("seconds", s->refresh_s), NS_LF_INT("notes", rc == 0 ? s->refresh_notes : 0),
            NS_LF_STR("error", rc == 0 ? NULL : ns_strerror(rc)));
  s->refresh_last_s = s->refresh_s;
  if (s->score_pending && !s->stopping) {
    s->score_pending = 0;
    on_score_timer(&s->score_timer);
  }
  maybe_finish(s);
}

/* --keep-runs: deletes old runs' score rows on a worker, in small
** transactions (store/prune.c), with its own handle.  It takes the slot of
** a full run or a refresh -- never beside them -- so the worker threads
** left for ingest parsing stay as docs/operations.md counts them. */
static void prune_work(uv_work_t *w) {
  server *s = w->data;
  ns_store *st = NULL;
  double t0 = ns_monotonic_s();
  int rc;
  memset(&s->prune_st, 0, sizeof s->prune_st);
  if ((rc = ns_store_open(s->o.db_path, 0, &st)) == 0)
    rc = ns_store_prune_runs(st, s->o.keep_runs, PRUNE_BATCH, PRUNE_PAUSE_S, &s->prune_cancel,
                             &s->prune_st);
  s->prune_s = ns_monotonic_s() - t0;
  s->prune_rc = rc;   /* read by prune_after on the loop thread */
  ns_store_close(st);
}

static void prune_after(uv_work_t *w, int status) {
  server *s = w->data;
  int rc = status == 0 ? s->prune_rc : NS_ECANCELED;
  s->works--;
  s->prune_running = 0;
  s->pruned_rows_total += s->prune_st.rows;
  if (rc == 0 || rc == NS_ECANCELED) s->prunes_ok++;
  else s->prunes_failed++;
  /* a line when something was deleted or went wrong; a pass with nothing
  ** to do (every run but the first keep_runs - 1) stays quiet */
  if (s->prune_st.rows || (rc != 0 && rc != NS_ECANCELED))
    ns_log_kv(rc == 0 || rc == NS_ECANCELED ? NS_LOG_INFO : NS_LOG_WARN, "serve: pruned old runs",
              NS_LF_INT("keep_runs", s->o.keep_runs), NS_LF_INT("runs", s->prune_st.runs),
              NS_LF_INT("up_to_run_id", s->prune_st.newest_pruned),
              NS_LF_INT("rows", s->prune_st.rows), NS_LF_NUM("seconds", s->prune_s),
              NS_LF_STR("status", rc == 0 ? "ok" : rc == NS_ECANCELED ? "canceled" : "failed"),
              NS_LF_STR("error", rc == 0 || rc == NS_ECANCELED ? NULL : ns_strerror(rc)));
  if (s->score_pending && !s->stopping) {
    s->score_pending = 0;
    on_score_timer(&s->score_timer);
  }
  maybe_finish(s);
}

static void start_prune(server *s) {
  if (s->stopping || s->score_running || s->refresh_running || s->prune_running) return;
  s->prune_work.data = s;
  if (uv_queue_work(&s->loop, &s->prune_work, prune_work, prune_after) == 0) {
    s->prune_running = 1;
    s->works++;
  }
}

static void on_refresh_timer(uv_timer_t *t) {
  server *s = t->data;
  /* never beside a full run (it replaces the base), never before one */
  if (s->stopping || s->score_running || s->refresh_running || s->prune_running || !s->rbase)
    return;
  s->refresh_work.data = s;
  if (uv_queue_work(&s->loop, &s->refresh_work, refresh_work, refresh_after) == 0) {
    s->refresh_running = 1;
    s->works++;
  }
}

static void on_score_timer(uv_timer_t *t) {
  server *s = t->data;
  if (s->stopping || s->score_running) return;
  if (s->refresh_running || s->prune_running) {   /* start it as soon as that is done */
    s->score_pending = 1;
    return;
  }
  s->score_work.data = s;
  atomic_store_explicit(&s->score_cancel, 0, memory_order_relaxed);
  s->score_run_id = 0;   /* set by score_work once it ran */
  s->score_notes = 0;
  s->last_run_s = 0;
  if (uv_queue_work(&s->loop, &s->score_work, score_work, score_after) == 0) {
    s->score_running = 1;
    s->works++;
  }
}

/* ---- shutdown ---------------------------------------------------------------------- */

static void on_signal(uv_signal_t *sig, int signum) {
  server *s = sig->data;
  conn *c, *next;
  if (s->stopping) return;
  ns_info("serve: %s: draining %zu in-flight ingest request(s)",
          signum == SIGTERM ? "SIGTERM" : "SIGINT", s->inflight);
  s->stopping = 1;
  /* a running scoring run stops and is abandoned; pruning stops after
  ** its current batch */
  atomic_store_explicit(&s->score_cancel, 1, memory_order_relaxed);
  atomic_store_explicit(&s->prune_cancel, 1, memory_order_relaxed);
  uv_close((uv_handle_t *)&s->listener, NULL);
  uv_timer_stop(&s->score_timer);
  uv_timer_stop(&s->refresh_timer);
  for (c = s->conns; c; c = next) {
    next = c->next;
    if (!c->busy) conn_close(c);   /* idle, or a request not yet complete */
  }
  maybe_finish(s);
}

/* Once draining is over, stops the writer and closes the last handles; the
** loop then runs out of work and ns_server_run() returns. */
static void maybe_finish(server *s) {
  if (!s->stopping || s->finished) return;
  if (s->inflight || s->works || s->n_conns) return;
  s->finished = 1;
  ns__server_writer_stop(s->writer);   /* queue is empty: inflight == 0 */
  uv_close((uv_handle_t *)&s->done_async, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
  uv_close((uv_handle_t *)&s->sigint, NULL);
  uv_close((uv_handle_t *)&s->score_timer, NULL);
  uv_close((uv_handle_t *)&s->refresh_timer, NULL);
}

/* ---- setup ----------------------------------------------------------------------------- */

void ns_server_opts_default(ns_server_opts *o) {
  memset(o, 0, sizeof *o);
  o->listen = "127.0.0.1:8080";
  o->max_body = 8u << 20;
  o->queue_max = 64;
  o->max_conns = 256;
  o->body_budget = 256u << 20;
  o->group_max_rows = 250000;
  o->idle_timeout_s = 60;
  o->header_timeout_s = 10;
  o->max_reads = 2;
  o->request_timeout_s = 30;
}

static int parse_listen(const char *spec, struct sockaddr_storage *ss) {
  char host[128];
  const char *colon = strrchr(spec, ':');
  long port;
  char *end;
  size_t hl;
  if (!colon) return NS_EINVAL;
  port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535 || colon == spec) return NS_EINVAL;
  hl = (size_t)(colon - spec);
  if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
    if (hl - 2 >= sizeof host) return NS_EINVAL;
    memcpy(host, spec + 1, hl - 2);
    host[hl - 2] = '\0';
    return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) ? NS_EINVAL : 0;
  }
  if (hl >= sizeof host) return NS_EINVAL;
  memcpy(host, spec, hl);
  host[hl] = '\0';
  return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) ? NS_EINVAL : 0;
}

static int write_port_file(server *s) {
  struct sockaddr_storage ss;
  int len = sizeof ss, port;
  char tmp[4096];
  FILE *f;
  if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) != 0) return NS_EIO;
  port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  ns_log_kv(NS_LOG_INFO, "serve: listening", NS_LF_INT("port", port),
            NS_LF_STR("db", s->o.db_path), NS_LF_STR("version", NS_VERSION),
            NS_LF_INT("pid", getpid()));
  if (!s->o.port_file) return 0;
  /* write then rename, so a reader never sees a half-written file */
  snprintf(tmp, sizeof tmp, "%s.tmp", s->o.port_file);
  if (!(f = fopen(tmp, "w"))) return NS_EIO;
  fprintf(f, "%d\n", port);
  if (fclose(f) != 0 || rename(tmp, s->o.port_file) != 0) return NS_EIO;
  return 0;
}

int ns_server_run(const ns_server_opts *opts) {
  server *s = NULL;
  ns_store *st = NULL;
  struct sockaddr_storage addr;
  int rc, loop_ok = 0;

  if (!opts || !opts->db_path) return NS_EINVAL;
  if (opts->token && (!opts->token[0] || strlen(opts->token) > NS_SERVER_MAX_TOKEN)) {
    ns_error("serve: the bearer token is %zu bytes; it must be 1 to %d bytes",
             strlen(opts->token), NS_SERVER_MAX_TOKEN);
    return NS_EINVAL;
  }
  memset(&addr, 0, sizeof addr);
  if ((rc = parse_listen(opts->listen ? opts->listen : "127.0.0.1:8080", &addr)) != 0) {
    ns_error("serve: --listen: expected ADDR:PORT, got '%s'", opts->listen);
    return rc;
  }
  if (opts->keep_runs == 1 || opts->keep_runs < 0) {
    ns_error("serve: --keep-runs must be 0 (keep all) or at least 2");
    return NS_EINVAL;
  }
  if (!(s = ns_calloc(1, sizeof *s))) return NS_ENOMEM;
  s->o = *opts;
  s->start_ms = ns_now_ms();
  if (!s->o.queue_max) s->o.queue_max = 1;
  if (!s->o.max_reads) s->o.max_reads = 1;
  ns__body_init();
  if (uv_mutex_init(&s->dash.mu) != 0) {
    free(s);
    return NS_ENOMEM;
  }
  if ((rc = ns_store_open(s->o.db_path, NS_STORE_CREATE, &st)) != 0) {
    ns_error("serve: %s: cannot open the database: %s", s->o.db_path, ns_strerror(rc));
    free(s);
    return rc;
  }
  {
    /* runs left 'running' by a killed process: mark them abandoned now,
    ** so /v1/runs and the dashboards say what happened to them */
    int reaped = 0;
    if ((rc = ns_store_runs_reap(st, &reaped)) != 0)
      ns_warn("serve: cannot check for orphaned runs: %s", ns_strerror(rc));
    else if (reaped)
      ns_info("serve: %d orphaned run(s) marked abandoned", reaped);
  }
  if ((rc = uv_loop_init(&s->loop)) != 0) {
    ns_store_close(st);
    free(s);
    return NS_EIO;
  }
  loop_ok = 1;
  uv_async_init(&s->loop, &s->done_async, on_done);
  s->done_async.data = s;
  if (s->o.max_db_bytes && (rc = ns_store_set_max_bytes(st, s->o.max_db_bytes)) != 0) {
    ns_error("serve: --max-db-bytes: %s", ns_strerror(rc));
    ns_store_close(st);
    uv_close((uv_handle_t *)&s->done_async, NULL);
    goto out;
  }
  /* the writer's commits never run a checkpoint themselves: an ack must not
  ** wait for the DB file's copy and fsync (docs/operations.md "Soak") */
  if ((rc = ns_store_checkpoint_in_background(st, 1000)) != 0)
    ns_warn("serve: checkpoints stay in the writer's commits: %s", ns_strerror(rc));
  if ((rc = ns__server_writer_start(st, s->o.group_max_rows, s->o.test_commit_delay_s,
                             &s->done_async, &s->writer)) != 0) {
    ns_store_close(st);
    uv_close((uv_handle_t *)&s->done_async, NULL);
    goto out;
  }
  uv_signal_init(&s->loop, &s->sigterm);
  uv_signal_init(&s->loop, &s->sigint);
  uv_timer_init(&s->loop, &s->score_timer);
  uv_timer_init(&s->loop, &s->refresh_timer);
  s->sigterm.data = s->sigint.data = s->score_timer.data = s->refresh_timer.data = s;
  uv_tcp_init(&s->loop, &s->listener);
  s->listener.data = s;
  if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection)) != 0) {
    ns_error("serve: cannot listen on %s: %s", s->o.listen, uv_strerror(rc));
    rc = rc == UV_EADDRINUSE ? -98 : NS_EIO;
    /* unwind through the normal shutdown path */
    s->stopping = 1;
    uv_close((uv_handle_t *)&s->listener, NULL);
    maybe_finish(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    goto out;
  }
  if ((rc = write_port_file(s)) != 0) ns_warn("serve: cannot write the port file");
  rc = 0;
  uv_signal_start(&s->sigterm, on_signal, SIGTERM);
  uv_signal_start(&s->sigint, on_signal, SIGINT);
  signal(SIGPIPE, SIG_IGN);
  if (s->o.refresh_every_s > 0) {
    /* A refresh needs a full run's rater parameters: run one right away,
    ** then every --score-every seconds (never again if that is 0). */
    uint64_t ms = (uint64_t)(s->o.score_every_s * 1000.0);
    uint64_t rms = (uint64_t)(s->o.refresh_every_s * 1000.0);
    uv_timer_start(&s->score_timer, on_score_timer, 0, ms);
    uv_timer_start(&s->refresh_timer, on_refresh_timer, rms ? rms : 1, rms ? rms : 1);
  } else if (s->o.score_every_s > 0) {
    uint64_t ms = (uint64_t)(s->o.score_every_s * 1000.0);
    uv_timer_start(&s->score_timer, on_score_timer, ms, ms);
  }
  /* old runs left from before --keep-runs (or a smaller one): prune now,
  ** in the background; afterwards after every published run */
  if (s->o.keep_runs) start_prune(s);

  uv_run(&s->loop, UV_RUN_DEFAULT);
  ns_info("serve: stopped");
out:
  if (loop_ok) {
    uv_run(&s->loop, UV_RUN_DEFAULT);   /* close callbacks still pending */
    if (uv_loop_close(&s->loop) != 0) {
      ns_error("serve: handles left open at exit");
      if (rc == 0) rc = NS_EIO;
    }
  }
  ns__server_writer_free(s->writer);
  ns_refresh_base_free(s->rbase);
  free(s->dash.html);
  uv_mutex_destroy(&s->dash.mu);
  free(s);
  return rc;
}
