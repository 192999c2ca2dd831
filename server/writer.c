/*
** server/writer.c -- the writer thread: group commits of ingest rows.
**
** Requests arrive parsed (ns__ingest with an ns__batch).  The writer takes
** everything queued (up to group_max_rows rows), concatenates the rows and
** stores them with ONE ns_store_ingest() call -- one transaction, one fsync
** -- then hands the requests back to the loop through a done list and a
** uv_async_t.  Under load the queue fills while a commit runs, so the next
** commit carries many requests: the fsync cost is shared, which is how
** durable acks reach high throughput.
**
** If a group commit fails, each request of the group is retried alone, so
** one bad request (say, a constraint the store rejects) cannot fail its
** neighbours; the ones that still fail are answered 500.
**
** Where an acknowledgement waits: every request carries the time its body
** was complete (t_start) and the time it reached the queue (t_queued), so
** the writer splits its latency into parsing (t_queued - t_start), queue
** wait (until its group's commit starts), lock wait (busy retries of the
** commit: another connection held SQLite's write lock) and the commit
** itself.  Over each 10 s window in which some request took longer than
** SLOW_ACK_S, one log line gives the worst of each part (issue #18: find
** what stalls ingest during a scoring run).
**
** Threads: ns__server_writer_submit / take_done / get_stats are called from the
** loop thread; the writer thread runs writer_main().  One mutex guards the
** queue, the done list and the stats.
*/
#include "server_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const double ns__batch_buckets[11] = {1, 10, 100, 1000, 2000, 5000, 10000, 20000,
                                      50000, 100000, 250000};
const double ns__lat_buckets[13] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                    0.1, 0.25, 0.5, 1, 2.5, 5};

#define SLOW_ACK_S 0.1
#define SLOW_WINDOW_S 10.0

/* Latency split of one window (writer thread only). */
typedef struct slow_window {
  double t0;
  uint64_t requests, slow;     /* requests, of which > SLOW_ACK_S */
  double parse, queue, lock, commit, total;   /* worst of each part */
  size_t rows_of_worst;        /* rows of the commit with the worst total */
} slow_window;

struct ns__server_writer {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  ns_store *st;               /* owned; used only by the writer thread */
  uv_async_t *done_async;     /* loop's wakeup */
  size_t group_max_rows;
  double commit_delay_s;      /* test hook */
  ns__ingest *q_head, *q_tail;  /* waiting for a commit (mu) */
  ns__ingest *done;           /* answered, for the loop (mu) */
  int stop;                   /* (mu) */
  int started;
  ns__server_writer_stats stats;     /* (mu) */
  slow_window win;             /* writer thread */
  /* scratch arrays of the writer thread (concatenated rows) */
  NS_VEC(ns_ingest_rating) r;
  NS_VEC(ns_ingest_note) n;
  NS_VEC(ns_ingest_enrollment) e;
};

/* Appends the rows of one request to the scratch arrays. */
static int gather(ns__server_writer *w, const ns__batch *b) {
  if (ns_vec_reserve(&w->r, w->r.n + b->ratings.n) ||
      ns_vec_reserve(&w->n, w->n.n + b->notes.n) ||
      ns_vec_reserve(&w->e, w->e.n + b->enroll.n))
    return NS_ENOMEM;
  if (b->ratings.n) memcpy(w->r.a + w->r.n, b->ratings.a, b->ratings.n * sizeof *w->r.a);
  if (b->notes.n) memcpy(w->n.a + w->n.n, b->notes.a, b->notes.n * sizeof *w->n.a);
  if (b->enroll.n) memcpy(w->e.a + w->e.n, b->enroll.a, b->enroll.n * sizeof *w->e.a);
  w->r.n += b->ratings.n;
  w->n.n += b->notes.n;
  w->e.n += b->enroll.n;
  return 0;
}

static int commit_rows(ns__server_writer *w, double *secs, double *lock_s) {
  double t0 = ns_monotonic_s();
  uint64_t b0 = ns_store_busy_retries();
  int rc;
  if (w->commit_delay_s > 0) {
    struct timespec ts = {(time_t)w->commit_delay_s,
                          (long)((w->commit_delay_s - (double)(time_t)w->commit_delay_s) * 1e9)};
    nanosleep(&ts, NULL);
  }
  rc = ns_store_ingest(w->st, w->n.a, w->n.n, w->r.a, w->r.n, w->e.a, w->e.n);
  *secs = ns_monotonic_s() - t0;
  *lock_s = (double)(ns_store_busy_retries() - b0) * 1e-3;
  return rc;
}

static double dmax(double a, double b) { return a > b ? a : b; }

/* Accounts the requests of one committed group (commit started at t_commit,
** took secs of which lock_s waiting for the lock) and logs the window's
** split when it is over and had a slow acknowledgement. */
static void account(ns__server_writer *w, ns__ingest *group, double t_commit, double secs,
                    double lock_s, size_t rows) {
  slow_window *x = &w->win;
  double now = ns_monotonic_s();
  if (x->t0 == 0) x->t0 = now;
  for (ns__ingest *r = group; r; r = r->next) {
    double total = now - r->t_start;
    x->requests++;
    if (total > SLOW_ACK_S) x->slow++;
    x->parse = dmax(x->parse, r->t_queued - r->t_start);
    x->queue = dmax(x->queue, t_commit - r->t_queued);
    if (total > x->total) {
      x->total = total;
      x->rows_of_worst = rows;
    }
  }
  x->lock = dmax(x->lock, lock_s);
  x->commit = dmax(x->commit, secs - lock_s);
  if (now - x->t0 < SLOW_WINDOW_S) return;
  if (x->slow)
    ns_warn("serve: %llu of %llu acks over %.0f ms in %.0f s; worst ack %.0f ms (its commit %zu rows);"
            " worst parts: parse %.0f ms, queue wait %.0f ms, lock wait %.0f ms, commit %.0f ms",
            (unsigned long long)x->slow, (unsigned long long)x->requests, SLOW_ACK_S * 1e3,
            now - x->t0, x->total * 1e3, x->rows_of_worst, x->parse * 1e3, x->queue * 1e3,
            x->lock * 1e3, x->commit * 1e3);
  memset(x, 0, sizeof *x);
  x->t0 = now;
}

static void record(ns__server_writer *w, int rc, size_t rows, double secs) {
  size_t i;
  if (rc != 0) {
    w->stats.commit_failures++;
    return;
  }
  w->stats.commits++;
  w->stats.rows += rows;
  for (i = 0; i < NS_ARRAY_LEN(ns__batch_buckets) && (double)rows > ns__batch_buckets[i]; i++) {}
  w->stats.batch_hist[i]++;
  for (i = 0; i < NS_ARRAY_LEN(ns__lat_buckets) && secs > ns__lat_buckets[i]; i++) {}
  w->stats.lat_hist[i]++;
  w->stats.lat_sum += secs;
}

static void reset_scratch(ns__server_writer *w) { w->r.n = w->n.n = w->e.n = 0; }

/* Commits one group (a list linked by ->next); sets every status. */
static void commit_group(ns__server_writer *w, ns__ingest *group) {
  size_t rows = 0;
  double secs = 0, lock_s = 0, t_commit = ns_monotonic_s();
  int rc = 0;
  reset_scratch(w);
  for (ns__ingest *r = group; r && rc == 0; r = r->next) rc = gather(w, &r->batch);
  if (rc == 0) {
    rows = w->r.n + w->n.n + w->e.n;
    rc = commit_rows(w, &secs, &lock_s);
  }
  pthread_mutex_lock(&w->mu);
  record(w, rc, rows, secs);
  pthread_mutex_unlock(&w->mu);
  if (rc == 0) {
    for (ns__ingest *r = group; r; r = r->next) r->status = 200;
    account(w, group, t_commit, secs, lock_s, rows);
    return;
  }
  ns_warn("serve: group commit of %zu rows failed (%s: %s); retrying request by request",
          rows, ns_strerror(rc), ns_store_errmsg(w->st));
  for (ns__ingest *r = group; r; r = r->next) {
    reset_scratch(w);
    rc = gather(w, &r->batch);
    if (rc == 0) rc = commit_rows(w, &secs, &lock_s);
    pthread_mutex_lock(&w->mu);
    record(w, rc, ns__batch_rows(&r->batch), secs);
    pthread_mutex_unlock(&w->mu);
    /* disk full (or --max-db-bytes): 507, the client retries later */
    r->status = rc == 0 ? 200 : rc == NS_ENOSPC ? 507 : 500;
  }
}

static void *writer_main(void *arg) {
  ns__server_writer *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    ns__ingest *group, *last, *r;
    size_t rows;
    while (!w->q_head && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
    if (!w->q_head) break;   /* stop requested and nothing left to commit */
    /* take requests up to the row bound (always at least one) */
    group = last = w->q_head;
    rows = ns__batch_rows(&group->batch);
    while (last->next && rows + ns__batch_rows(&last->next->batch) <= w->group_max_rows) {
      last = last->next;
      rows += ns__batch_rows(&last->batch);
    }
    w->q_head = last->next;
    if (!w->q_head) w->q_tail = NULL;
    last->next = NULL;
    w->stats.queued = 0;
    for (r = w->q_head; r; r = r->next) w->stats.queued++;
    pthread_mutex_unlock(&w->mu);

    commit_group(w, group);

    pthread_mutex_lock(&w->mu);
    last->next = w->done;
    w->done = group;
    pthread_mutex_unlock(&w->mu);
    uv_async_send(w->done_async);   /* thread-safe; coalesces wakeups */
    pthread_mutex_lock(&w->mu);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

int ns__server_writer_start(ns_store *st, size_t group_max_rows, double commit_delay_s,
                     uv_async_t *done, ns__server_writer **out) {
  ns__server_writer *w = ns_calloc(1, sizeof *w);
  *out = NULL;
  if (!w) return NS_ENOMEM;
  w->st = st;
  w->done_async = done;
  w->group_max_rows = group_max_rows ? group_max_rows : 1;
  w->commit_delay_s = commit_delay_s;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    return NS_ENOMEM;
  }
  w->started = 1;
  *out = w;
  return 0;
}

void ns__server_writer_submit(ns__server_writer *w, ns__ingest *r) {
  r->next = NULL;
  r->t_queued = ns_monotonic_s();
  pthread_mutex_lock(&w->mu);
  if (w->q_tail) w->q_tail->next = r;
  else w->q_head = r;
  w->q_tail = r;
  w->stats.queued++;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

ns__ingest *ns__server_writer_take_done(ns__server_writer *w) {
  ns__ingest *d;
  pthread_mutex_lock(&w->mu);
  d = w->done;
  w->done = NULL;
  pthread_mutex_unlock(&w->mu);
  return d;
}

void ns__server_writer_get_stats(ns__server_writer *w, ns__server_writer_stats *out) {
  pthread_mutex_lock(&w->mu);
  *out = w->stats;
  pthread_mutex_unlock(&w->mu);
}

void ns__server_writer_stop(ns__server_writer *w) {
  if (!w || !w->started) return;
  pthread_mutex_lock(&w->mu);
  w->stop = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  w->started = 0;
  ns_store_close(w->st);
  w->st = NULL;
}

void ns__server_writer_free(ns__server_writer *w) {
  if (!w) return;
  ns__server_writer_stop(w);
  ns_vec_free(&w->r);
  ns_vec_free(&w->n);
  ns_vec_free(&w->e);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
}
