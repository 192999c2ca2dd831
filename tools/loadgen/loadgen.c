/*
** tools/loadgen/loadgen.c -- ns-loadgen, an HTTP load generator for
** `notescore serve` (built as its own program: build/ns-loadgen).
**
**   ns-loadgen --port P [--host 127.0.0.1] [--conns 8] [--rows 1000]
**              [--seconds 5] [--rate RATINGS_PER_S] [--token T]
**              [--note-base N] [--notes K | --note-ids FILE] [--fill]
**              [--acked FILE]
**
** N keep-alive connections (libuv, one thread) POST NDJSON bodies of
** --rows ratings to /v1/ratings.  Without --rate each connection sends its
** next body as soon as the previous one is acknowledged (closed loop: the
** sustained durable-ack throughput).  With --rate, bodies are scheduled at
** fixed times and latency is measured from the scheduled time, so a stall
** of the server is charged to every request it delays (no coordinated
** omission).  Every rating is a distinct (noteId, rater) pair, unless
** --notes K bounds the key space: then the bodies cycle over K note ids
** (note-base + 1 .. note-base + K, each owned by one connection so one
** note is never in flight twice) and re-rate them -- the store upserts by
** (noteId, rater) and keeps the later createdAtMillis, so once every key
** was written the DB stops growing (a steady state for a soak).  --fill
** writes each of the K notes once and stops.  createdAtMillis is the wall
** clock at the time the body is built, so a re-rating always wins.
** --note-ids FILE (one note id a line) is the same with those ids as the
** key space: re-rating notes the DB knows, so scoring runs see the load.
**
** --acked FILE writes, for every note whose body was acknowledged, the
** createdAtMillis of its last acknowledged body and the number of rows:
** "note_id<TAB>created_ms<TAB>rows" -- every one of those rows must be in
** the DB with that createdAtMillis or a later one (tools/soak.sh checks).
**
** Prints one line: ratings acknowledged per second, requests, errors and
** the p50 / p99 / max acknowledgement latency.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include <uv.h>

#include "../../base/base.h"

typedef struct lg lg;

typedef struct lgconn {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  http_parser parser;
  lg *g;
  int id;
  int connected, busy, closed;
  uint64_t seq;               /* bodies sent by this connection */
  int64_t note;               /* note id of the request in flight */
  int64_t key;                /* its index in the key space (--notes) */
  int64_t created_ms;         /* its createdAtMillis */
  int done;                   /* --fill: this connection wrote its share */
  double t_sched;             /* when the request in flight was due */
  char *req;                  /* request in flight (headers + body) */
  size_t req_len;
  char rbuf[16384];
} lgconn;

struct lg {
  uv_loop_t loop;
  uv_timer_t tick;
  struct sockaddr_in addr;
  lgconn *conns;
  int nconns;
  int rows;
  double seconds, rate;
  const char *token;
  int64_t note_base;          /* added to every note id (--note-base) */
  int64_t notes;              /* --notes: key space (0 = unbounded) */
  int64_t *ids;               /* --note-ids: the key space's note ids */
  int fill;                   /* --fill: each of the notes once, then stop */
  int64_t *acked_ms;          /* --acked: per note of the key space, the
                                 createdAtMillis last acknowledged (0 = none) */
  const char *acked_path;
  double t0;
  uint64_t due;               /* bodies scheduled so far (rate mode) */
  uint64_t issued;            /* bodies sent */
  uint64_t ok, errors, acked_rows;
  uint64_t refused;           /* connections refused, or closed by the server
                                 before the run ended (counted in errors too) */
  NS_VEC(double) lat;         /* seconds */
  NS_VEC(double) backlog;     /* scheduled times not yet sent (rate mode) */
  size_t backlog_head;
  int rr;                     /* rate mode: next connection to try */
  int stopping;
};

static double now_s(void) { return ns_monotonic_s(); }

/* Notes of the key space owned by connection c: c->id, c->id + nconns, ... */
static int64_t owned_notes(const lg *g, const lgconn *c) {
  return g->notes / g->nconns + (c->id < g->notes % g->nconns);
}

/* One body: rows ratings on a note unique to (connection, seq), or with
** --notes the next note of the connection's share of the key space. */
static int build_request(lgconn *c) {
  lg *g = c->g;
  size_t cap = (size_t)g->rows * 160 + 512, n = 0, hdr;
  char *body, *req;
  int64_t note;
  if (g->notes > 0) {
    int64_t k = (int64_t)((c->seq - 1) % (uint64_t)owned_notes(g, c));
    c->key = c->id + k * g->nconns;
    note = g->ids ? g->ids[c->key] : g->note_base + 1 + c->key;
  } else {
    note = g->note_base + 1000000000LL * (c->id + 1) + (int64_t)c->seq;
  }
  c->note = note;
  /* later than any earlier body on the same note (they were built at least
  ** a round trip ago), so the store's upsert keeps this one */
  c->created_ms = ns_now_ms();
  if (!(body = malloc(cap))) return -1;
  for (int r = 0; r < g->rows; r++)
    n += (size_t)snprintf(body + n, cap - n,
                          "{\"noteId\":\"%" PRId64 "\",\"raterParticipantId\":\"lg%05d\","
                          "\"createdAtMillis\":%" PRId64 ",\"helpfulnessLevel\":\"%s\",\"helpfulClear\":%d}\n",
                          note, r, c->created_ms,
                          r % 3 == 0 ? "HELPFUL" : r % 3 == 1 ? "NOT_HELPFUL" : "SOMEWHAT_HELPFUL",
                          r & 1);
  if (!(req = malloc(n + 512))) {
    free(body);
    return -1;
  }
  hdr = (size_t)snprintf(req, 512,
                         "POST /v1/ratings HTTP/1.1\r\nHost: loadgen\r\n"
                         "Content-Type: application/x-ndjson\r\nContent-Length: %zu\r\n%s%s%s\r\n",
                         n, g->token ? "Authorization: Bearer " : "", g->token ? g->token : "",
                         g->token ? "\r\n" : "");
  memcpy(req + hdr, body, n);
  free(body);
  free(c->req);
  c->req = req;
  c->req_len = hdr + n;
  return 0;
}

static void on_written(uv_write_t *w, int status) {
  lgconn *c = w->data;
  if (status < 0) c->g->errors++;
}

static void send_one(lgconn *c, double t_sched) {
  uv_buf_t b;
  if (c->done) return;
  if (c->g->fill && c->seq >= (uint64_t)owned_notes(c->g, c)) {
    c->done = 1;
    return;
  }
  c->seq++;
  if (build_request(c) != 0) return;
  c->busy = 1;
  c->t_sched = t_sched;
  c->g->issued++;
  b = uv_buf_init(c->req, (unsigned)c->req_len);
  c->write.data = c;
  if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
    c->g->errors++;
    c->busy = 0;
  }
}

/* Rate mode: hand scheduled bodies to idle connections. */
static void pump(lg *g) {
  /* round robin from where the last pump stopped: every connection gets
  ** its share, so none sits unused long enough for the server's
  ** first-byte timeout (--header-timeout) to close it */
  for (int k = 0; k < g->nconns && g->backlog_head < g->backlog.n; k++) {
    lgconn *c = &g->conns[(g->rr + k) % g->nconns];
    if (c->connected && !c->busy && !c->closed && !c->done) {
      send_one(c, g->backlog.a[g->backlog_head++]);
      g->rr = (g->rr + k + 1) % g->nconns;
      k = -1;   /* restart the scan after the one just used */
      if (g->backlog_head >= g->backlog.n) break;
    }
  }
}

static int on_message_complete(http_parser *p) {
  lgconn *c = p->data;
  lg *g = c->g;
  double t = now_s();
  if (p->status_code == 200) {
    g->ok++;
    g->acked_rows += (uint64_t)g->rows;
    if (g->acked_ms) g->acked_ms[c->key] = c->created_ms;
    (void)ns_vec_push(&g->lat, t - c->t_sched);
  } else {
    g->errors++;
  }
  c->busy = 0;
  if (g->stopping) return 0;
  if (g->rate <= 0) send_one(c, t);
  else pump(g);
  return 0;
}

static const http_parser_settings rsettings = {.on_message_complete = on_message_complete};

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  lgconn *c = h->data;
  *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_closed(uv_handle_t *h) { (void)h; }

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  lgconn *c = s->data;
  if (n < 0) {
    if (c->busy) c->g->errors++;
    if (!c->g->stopping) {
      /* the server dropped us (e.g. accepted and closed at its connection
      ** limit): an error even when no request was outstanding */
      c->g->refused++;
      if (!c->busy) c->g->errors++;
    }
    c->busy = 0;
    c->closed = 1;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    return;
  }
  if (http_parser_execute(&c->parser, &rsettings, buf->base, (size_t)n) != (size_t)n) {
    c->g->errors++;
    c->closed = 1;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
  }
}

static void on_connect(uv_connect_t *req, int status) {
  lgconn *c = req->data;
  if (status < 0) {
    fprintf(stderr, "ns-loadgen: connect: %s\n", uv_strerror(status));
    c->closed = 1;
    c->g->errors++;
    c->g->refused++;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    return;
  }
  c->connected = 1;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (c->g->rate <= 0) send_one(c, now_s());
  else pump(c->g);
}

static void on_tick(uv_timer_t *t) {
  lg *g = t->data;
  double now = now_s(), el = now - g->t0;
  int busy = 0;
  if (!g->stopping && el >= g->seconds) g->stopping = 1;
  if (!g->stopping && g->rate > 0) {
    /* schedule every body due by now at its exact due time */
    uint64_t want = (uint64_t)(el * g->rate / g->rows);
    for (; g->due < want; g->due++)
      (void)ns_vec_push(&g->backlog, g->t0 + (double)g->due * g->rows / g->rate);
    pump(g);
  }
  if (g->fill) {
    int all = 1;
    for (int i = 0; i < g->nconns; i++) all &= g->conns[i].done || g->conns[i].closed;
    if (all) g->stopping = 1;
  }
  for (int i = 0; i < g->nconns; i++) busy |= g->conns[i].busy && !g->conns[i].closed;
  if (g->stopping && (!busy || el > g->seconds + 10)) {
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, NULL);
    for (int i = 0; i < g->nconns; i++)
      if (!g->conns[i].closed) {
        g->conns[i].closed = 1;
        uv_close((uv_handle_t *)&g->conns[i].tcp, on_closed);
      }
  }
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *a, size_t n, double q) {
  size_t i;
  if (!n) return 0;
  i = (size_t)(q * (double)(n - 1) + 0.5);
  return a[i];
}

static void usage(FILE *f) {
  fprintf(f, "usage: ns-loadgen --port P [--host 127.0.0.1] [--conns 8] [--rows 1000]\n"
             "                  [--seconds 5] [--rate RATINGS_PER_S] [--token T]\n"
             "                  [--note-base N]   (note ids start above N: runs that\n"
             "                                     must not overwrite each other)\n"
             "                  [--notes K]       (cycle over notes N+1..N+K: re-rate a\n"
             "                                     bounded key space; --fill: each once)\n"
             "                  [--note-ids FILE] (the same over the note ids listed in\n"
             "                                     FILE, one a line)\n"
             "                  [--acked FILE]    (with --notes: note, createdAtMillis and\n"
             "                                     rows of each note's last acked body)\n");
}

int main(int argc, char **argv) {
  lg g;
  const char *host = "127.0.0.1";
  int port = 0;
  double el;
  memset(&g, 0, sizeof g);
  g.nconns = 8;
  g.rows = 1000;
  g.seconds = 5;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
    if (!strcmp(a, "--fill")) { g.fill = 1; continue; }   /* takes no value */
    if (!v) { usage(stderr); return 2; }
    i++;
    if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--conns")) g.nconns = atoi(v);
    else if (!strcmp(a, "--rows")) g.rows = atoi(v);
    else if (!strcmp(a, "--seconds")) g.seconds = atof(v);
    else if (!strcmp(a, "--rate")) g.rate = atof(v);
    else if (!strcmp(a, "--token")) g.token = v;
    else if (!strcmp(a, "--note-base")) g.note_base = atoll(v);
    else if (!strcmp(a, "--notes")) g.notes = atoll(v);
    else if (!strcmp(a, "--acked")) g.acked_path = v;
    else if (!strcmp(a, "--note-ids")) {
      FILE *f = fopen(v, "r");
      long long id;
      size_t cap = 0;
      if (!f) { fprintf(stderr, "ns-loadgen: cannot read %s\n", v); return 2; }
      while (fscanf(f, "%lld", &id) == 1) {
        if ((size_t)g.notes == cap) {
          int64_t *n = realloc(g.ids, (cap = cap ? 2 * cap : 1024) * sizeof *n);
          if (!n) return 1;
          g.ids = n;
        }
        g.ids[g.notes++] = id;
      }
      fclose(f);
    }
    else { usage(stderr); return 2; }
  }
  if (port <= 0 || g.nconns <= 0 || g.rows <= 0 || g.seconds <= 0 || g.notes < 0) { usage(stderr); return 2; }
  if ((g.fill || g.acked_path || g.notes > 0) && g.notes < g.nconns) {
    fprintf(stderr, "ns-loadgen: --fill and --acked need --notes K, and K must be at least --conns\n");
    return 2;
  }
  if (g.acked_path && !(g.acked_ms = calloc((size_t)g.notes, sizeof *g.acked_ms))) return 1;
  if (uv_ip4_addr(host, port, &g.addr) != 0) { fprintf(stderr, "ns-loadgen: bad host\n"); return 2; }
  uv_loop_init(&g.loop);
  g.conns = calloc((size_t)g.nconns, sizeof *g.conns);
  if (!g.conns) return 1;
  g.t0 = now_s();
  for (int i = 0; i < g.nconns; i++) {
    lgconn *c = &g.conns[i];
    c->g = &g;
    c->id = i;
    uv_tcp_init(&g.loop, &c->tcp);
    uv_tcp_nodelay(&c->tcp, 1);
    c->tcp.data = c;
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    c->connect.data = c;
    uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&g.addr, on_connect);
  }
  uv_timer_init(&g.loop, &g.tick);
  g.tick.data = &g;
  uv_timer_start(&g.tick, on_tick, 1, 1);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  el = now_s() - g.t0;
  qsort(g.lat.a, g.lat.n, sizeof *g.lat.a, cmp_d);
  printf("ns-loadgen: %d conns, %d ratings/request, %s, %.1f s: %" PRIu64 " ratings acked "
         "(%.0f ratings/s), %" PRIu64 " requests ok, %" PRIu64 " errors (%" PRIu64
         " connections refused or dropped); ack latency "
         "p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
         g.nconns, g.rows, g.rate > 0 ? "fixed rate" : "closed loop", el, g.acked_rows,
         (double)g.acked_rows / el, g.ok, g.errors, g.refused,
         pct(g.lat.a, g.lat.n, 0.50) * 1e3, pct(g.lat.a, g.lat.n, 0.99) * 1e3,
         g.lat.n ? g.lat.a[g.lat.n - 1] * 1e3 : 0.0);
  if (g.acked_path) {
    FILE *f = fopen(g.acked_path, "w");
    int bad = !f;
    for (int64_t k = 0; f && k < g.notes; k++)
      if (g.acked_ms[k])
        fprintf(f, "%" PRId64 "\t%" PRId64 "\t%d\n", g.ids ? g.ids[k] : g.note_base + 1 + k,
                g.acked_ms[k], g.rows);
    if (f && fclose(f) != 0) bad = 1;
    if (bad) {
      fprintf(stderr, "ns-loadgen: cannot write %s\n", g.acked_path);
      g.errors++;
    }
    free(g.acked_ms);
  }
  free(g.ids);
  for (int i = 0; i < g.nconns; i++) free(g.conns[i].req);
  free(g.conns);
  ns_vec_free(&g.lat);
  ns_vec_free(&g.backlog);
  uv_loop_close(&g.loop);
  return g.ok > 0 && g.errors == 0 ? 0 : 1;
}
