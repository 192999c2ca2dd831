/*
** server/server_int.h -- internals shared by the server's files.
**
**   body.c          NDJSON / TSV ingest bodies -> ns__batch (rows + rejects)
**   http.c          one HTTP/1.1 connection as a socket-free state machine
**                   over http_parser: bytes in, requests out
**   server.c        the libuv loop: accept, connections, routing, responses
**   server_writer.c the bounded queue and the writer thread (group commit)
**   server_read.c   read endpoints and /metrics (worker threads, read-only)
**
** Nothing here is public API; tests and fuzz targets include this header to
** drive the parsers and the connection state machine without sockets.
**
** Threads: an ns__batch is built by one thread (a libuv worker), then handed
** over whole to the writer thread and back to the loop thread; it is never
** shared.  An ns__http_conn belongs to the loop thread.
*/
#ifndef NS_SERVER_INT_H
#define NS_SERVER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "../base/base.h"
#include "../store/store.h"
#include "server.h"

/* ---- ingest bodies (body.c) -------------------------------------------- */

enum ns__body_fmt { NS_BODY_NDJSON = 1, NS_BODY_TSV = 2 };

/* At most this many rejected rows are described one by one (the response
** stays small); the rest are only counted. */
#define NS_BODY_MAX_REJECTS 100
/* The row rules (participant id length, ...) are the public format's:
** store/format.h. */

typedef struct ns__body_reject {
  uint32_t line;          /* 1-based line of the body */
  const char *code;       /* stable reason code (format.h NS_FMT_R_*), static */
  char msg[200];          /* what is wrong, NUL-terminated */
} ns__body_reject;

/* The parsed form of one ingest body.  Exactly one of ratings / notes /
** enroll is used, chosen by kind.  String fields of the rows point into
** arena and stay valid until ns__batch_free(). */
typedef struct ns__batch {
  int kind;                               /* NS_FILE_RATINGS/NOTES/ENROLLMENT */
  NS_VEC(ns_ingest_rating) ratings;
  NS_VEC(ns_ingest_note) notes;
  NS_VEC(ns_ingest_enrollment) enroll;
  NS_VEC(ns__body_reject) rejects;        /* first NS_BODY_MAX_REJECTS */
  uint64_t n_rejected;                    /* all rejected rows */
  char body_error[160];                   /* body-level failure ("" = none) */
  char *arena;                            /* participant ids, NUL-separated */
  size_t arena_n, arena_cap;
} ns__batch;

/* Parses a whole body of the given kind and format into b (which must be
** zeroed or freshly ns__batch_free'd).  Returns 0 -- even when rows were
** rejected (see b->rejects) or the body as a whole is unusable (then
** b->body_error is set, e.g. a TSV header without a required column) -- or
** NS_ENOMEM.  Never reads past len; body need not be NUL-terminated. */
int ns__body_parse(ns__batch *b, int kind, int fmt, const char *body, size_t len);
/* Routes jansson's allocations through ns_malloc (process-wide; call once
** before threads start), so that running out of memory in a JSON line is
** reported as NS_ENOMEM and not as an invalid line.  ns_server_run() calls
** it. */
void ns__body_init(void);
/* Rows accepted so far. */
size_t ns__batch_rows(const ns__batch *b);
void ns__batch_free(ns__batch *b);

/* ---- HTTP connection state machine (http.c) ----------------------------- */

enum ns__http_method { NS_HTTP_OTHER = 0, NS_HTTP_GET, NS_HTTP_POST, NS_HTTP_HEAD };

/* One request, complete (headers and body) when handed out. */
typedef struct ns__http_req {
  int method;                 /* ns__http_method */
  char path[512];             /* URL path (query string stripped) */
  char query[512];            /* the query string after '?' ("" = none) */
  char content_type[128];     /* media type only, lower-cased, no params */
  char auth[NS_SERVER_MAX_TOKEN + 64]; /* Authorization header value ("" = none):
                                 room for "Bearer " and the longest token */
  int keep_alive;             /* 1: the client wants the connection kept */
  int expect_continue;        /* Expect: 100-continue was sent */
  int has_body;               /* chunked, or Content-Length > 0 */
  uint64_t content_length;    /* as declared (ULLONG_MAX if none) */
  char *body;                 /* malloc'ed, NUL-terminated; owned by req */
  size_t body_len, body_cap;
} ns__http_req;

/* What ns__http_feed() reports. */
enum ns__http_event {
  NS_HTTP_NEED_MORE = 0,      /* everything consumed, no complete request */
  NS_HTTP_REQUEST = 1,        /* conn->req is complete; parser is paused */
  NS_HTTP_ERROR = 2           /* answer conn->err_status (conn->err_msg)
                                 and close the connection */
};

/* Called when a request's headers are complete, before its body is read.
** Returns 0 to read the body, or an HTTP status to answer right away (the
** body is then never read and the connection is closed after the answer).
** The server routes here, so a request that will be refused (401, 404,
** 413, 415, ...) costs no body buffering. */
typedef int (*ns__http_headers_fn)(void *ctx, ns__http_req *req);

typedef struct ns__http_conn {
  http_parser parser;
  ns__http_req req;           /* the request being read / handed out */
  size_t max_body;            /* body limit in bytes */
  size_t *budget;             /* shared body-bytes counter or NULL */
  size_t budget_max;          /* limit of *budget (503 beyond it) */
  ns__http_headers_fn on_headers;
  void *ctx;                  /* for on_headers */
  int err_status;             /* HTTP status for NS_HTTP_ERROR */
  const char *err_msg;        /* static text for NS_HTTP_ERROR */
  int in_message;             /* 1 between message begin and complete */
  int last_was_value;         /* internal: header callback sequencing */
  int header_which;           /* internal: header being read */
  char hname[32];             /* internal: header name being read */
  size_t hname_len;
  size_t hval_len;            /* internal: bytes of the value so far */
} ns__http_conn;

/* Initializes a connection's parser state.  on_headers may be NULL. */
void ns__http_init(ns__http_conn *c, size_t max_body, ns__http_headers_fn on_headers,
                   void *ctx);
/* Frees the request buffers (the conn itself is the caller's). */
void ns__http_free(ns__http_conn *c);
/* Feeds bytes.  *consumed = bytes used; the rest must be fed again after the
** event is handled.  After NS_HTTP_REQUEST answer it, then call
** ns__http_next() before feeding again; after NS_HTTP_ERROR stop. */
int ns__http_feed(ns__http_conn *c, const char *data, size_t len, size_t *consumed);
/* Forgets the answered request and unpauses the parser. */
void ns__http_next(ns__http_conn *c);
/* Takes the body of the complete request: *cap is the accounted capacity
** (give it back with ns__http_budget_release()).  The caller frees it. */
char *ns__http_take_body(ns__http_conn *c, size_t *len, size_t *cap);
void ns__http_budget_release(size_t *budget, size_t cap);
/* 1 when bytes of a request have arrived but the request is incomplete. */
int ns__http_mid_request(const ns__http_conn *c);

/* Formats a complete response into a malloc'ed buffer (*out, *out_len).
** body may be NULL (no body).  extra_headers is NULL or "Name: v\r\n...".
** Returns 0 or NS_ENOMEM. */
int ns__http_format(int status, const char *content_type, const char *body,
                    size_t body_len, int keep_alive, const char *extra_headers,
                    int head_only, char **out, size_t *out_len);
const char *ns__http_reason(int status);

/* ---- routing (server.c) -------------------------------------------------- */

enum ns__route {
  NS_ROUTE_NONE = 0,          /* 404 */
  NS_ROUTE_HEALTHZ,
  NS_ROUTE_METRICS,
  NS_ROUTE_RUNS,
  NS_ROUTE_RUNS_LATEST,
  NS_ROUTE_NOTE,              /* /v1/notes/{noteId} */
  NS_ROUTE_DASHBOARD,         /* /dashboard: the interactive page (dash/dashboard.html) */
  NS_ROUTE_INDEX,             /* /: links to the endpoints (no DB) */
  NS_ROUTE_NOTES,             /* GET /v1/notes?...: the list, keyset pages */
  NS_ROUTE_NOTE_EXPLAIN,      /* /v1/notes/{noteId}/explain */
  NS_ROUTE_REPORT,            /* /report: the HTML report (dash/report.c) */
  NS_ROUTE_RUN_CHANGES,       /* /v1/runs/{a}/changes/{b} */
  NS_ROUTE_INGEST_RATINGS,
  NS_ROUTE_INGEST_NOTES,
  NS_ROUTE_INGEST_ENROLLMENT,
  NS_ROUTE_COUNT
};
extern const char *const ns__route_names[NS_ROUTE_COUNT];

/* GET /v1/notes: the page size when the client gives none, and the cap. */
#define NS_LIST_DEFAULT 100
#define NS_LIST_MAX 1000

/* The parameters of GET /v1/notes (read.c parses them). */
typedef struct ns__list_query {
  char status[32];            /* public status name; "" = any */
  char decided_by[48];        /* rule name; "" = any */
  int64_t changed_since;      /* ms; -1 = any */
  int64_t after;              /* from the cursor: note ids above it (0 = first page) */
  int limit;                  /* 1..NS_LIST_MAX */
} ns__list_query;

/* Parses the query string of GET /v1/notes into q.  Returns 0, or -1 with
** *err a static message for the 400 answer (unknown or repeated parameter,
** bad value, bad cursor).  Pure. */
int ns__list_query_parse(const char *query, ns__list_query *q, const char **err);
/* The opaque cursor continuing after note id `after` (buf >= 24 bytes). */
void ns__list_cursor(int64_t after, char *buf, size_t n);

/* Decision taken from the headers alone, before any body byte is read. */
typedef struct ns__route_decision {
  int route;                  /* ns__route */
  int status;                 /* 0 = go on; else answer this status now */
  int fmt;                    /* ingest body format (ns__body_fmt) */
  int kind;                   /* ingest row kind (ns_file_kind) */
  int64_t note_id;            /* NS_ROUTE_NOTE, NS_ROUTE_NOTE_EXPLAIN */
  ns__list_query list;        /* NS_ROUTE_NOTES */
  int64_t run_a, run_b;       /* NS_ROUTE_RUN_CHANGES */
  const char *error;          /* static message for an error status */
} ns__route_decision;

/* Routes req (headers only) and checks method, auth, content type and the
** declared length.  token is the bearer token or NULL (no auth).  Pure. */
void ns__server_route(const ns__http_req *req, const char *token, size_t max_body,
                      ns__route_decision *d);

/* Formats the JSON answer to an ingest: {"accepted":N,"rejected":[...]}.
** Returns a malloc'ed NUL-terminated string or NULL (no memory). */
char *ns__ingest_response(const ns__batch *b, size_t accepted);

/* Compares a presented Authorization value with "Bearer <token>" in time
** independent of where they differ.  1 = match. */
int ns__auth_ok(const char *header, const char *token);


/* ---- the writer thread (server_writer.c) --------------------------------- */

#include <uv.h>

/* One ingest request on its way: parsed on a worker, stored by the writer,
** answered on the loop.  Owned by whoever holds it at the time. */
typedef struct ns__ingest ns__ingest;
struct ns__ingest {
  uv_work_t work;             /* body parsing on a libuv worker */
  void *server;               /* the loop's server (loop thread only) */
  void *conn;                 /* the connection, NULL once it closed */
  int kind, fmt, route;
  char *body;                 /* request body; freed after parsing */
  size_t body_len, body_cap;
  ns__batch batch;            /* parsed rows */
  int status;                 /* set by the writer: 200, or 500 */
  double t_start;             /* monotonic time the request was complete */
  double t_queued;            /* monotonic time it reached the writer queue */
  ns__ingest *next;           /* queue link */
};

typedef struct ns__server_writer_stats {
  uint64_t commits;           /* transactions */
  uint64_t commit_failures;
  uint64_t rows;              /* rows committed */
  uint64_t batch_hist[12];    /* rows per commit, buckets ns__batch_buckets */
  uint64_t lat_hist[14];      /* commit seconds, buckets ns__lat_buckets */
  double lat_sum;
  size_t queued;              /* requests waiting for the writer now */
} ns__server_writer_stats;
extern const double ns__batch_buckets[11];   /* + Inf */
extern const double ns__lat_buckets[13];     /* + Inf */

typedef struct ns__server_writer ns__server_writer;

/* Starts the writer thread; it takes ownership of st (closes it on stop).
** done is signalled (uv_async_send) whenever answered requests wait in
** ns__server_writer_take_done().  group_max_rows bounds one transaction. */
int ns__server_writer_start(ns_store *st, size_t group_max_rows, double commit_delay_s,
                     uv_async_t *done, ns__server_writer **out);
/* Queues r (never fails: the caller bounds the number in flight). */
void ns__server_writer_submit(ns__server_writer *w, ns__ingest *r);
/* Takes the list (via ->next) of requests whose commit finished. */
ns__ingest *ns__server_writer_take_done(ns__server_writer *w);
void ns__server_writer_get_stats(ns__server_writer *w, ns__server_writer_stats *out);
/* Commits what is queued, stops and joins the thread, closes the store.
** Answered requests may still wait in ns__server_writer_take_done(); free w with
** ns__server_writer_free() after taking them.  Accepts NULL. */
void ns__server_writer_stop(ns__server_writer *w);
void ns__server_writer_free(ns__server_writer *w);

#endif /* NS_SERVER_INT_H */
