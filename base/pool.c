/*
** base/pool.c -- a fixed-size thread pool with deterministic chunking.
**
** Chunk boundaries depend only on (n, chunk_hint), never on the number of
** threads, so per-chunk partial results summed in chunk order give the same
** bits for 1 or 64 threads.  Workers grab chunks from an atomic counter.
*/
#include "base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct ns_pool {
  int nthreads;              /* total including the caller */
  pthread_t *tids;           /* nthreads - 1 workers */
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_done;
  uint64_t generation;       /* bumped for every ns_pool_for job */
  int quit;
  /* current job */
  ns_pool_fn fn;
  void *ctx;
  size_t n, chunk, nchunks;
  atomic_size_t next;        /* next chunk to run */
  int active;                /* workers still inside the current job */
};

size_t ns_pool_nchunks(size_t n, size_t chunk_hint) {
  if (n == 0) return 0;
  if (chunk_hint == 0) chunk_hint = 4096;
  return (n + chunk_hint - 1) / chunk_hint;
}

static void run_chunks(ns_pool *p) {
  for (;;) {
    /* relaxed: the counter only hands out chunk numbers; the job fields it
    ** indexes were published under mu (generation), and the results are
    ** seen by the caller through mu again (active, cv_done) */
    size_t c = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
    size_t b, e;
    if (c >= p->nchunks) break;
    b = c * p->chunk;
    e = b + p->chunk < p->n ? b + p->chunk : p->n;
    p->fn(p->ctx, c, b, e);
  }
}

static void *worker(void *arg) {
  ns_pool *p = arg;
  uint64_t seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->quit && p->generation == seen) pthread_cond_wait(&p->cv_work, &p->mu);
    if (p->quit) break;
    seen = p->generation;
    pthread_mutex_unlock(&p->mu);
    run_chunks(p);
    pthread_mutex_lock(&p->mu);
    if (--p->active == 0) pthread_cond_signal(&p->cv_done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

int ns_default_threads(void) {
  const char *e = getenv("NS_THREADS");
  long n;
  if (e && (n = strtol(e, NULL, 10)) > 0 && n < 1024) return (int)n;
  n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 && n < 1024 ? (int)n : 1;
}

int ns_pool_new(int threads, ns_pool **out) {
  ns_pool *p = ns_calloc(1, sizeof *p);
  *out = NULL;
  if (!p) return NS_ENOMEM;
  if (threads < 1) threads = 1;
  p->nthreads = threads;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv_work, NULL);
  pthread_cond_init(&p->cv_done, NULL);
  if (threads > 1) {
    p->tids = ns_calloc((size_t)threads - 1, sizeof *p->tids);
    if (!p->tids) goto fail;
    for (int i = 0; i < threads - 1; i++) {
      if (pthread_create(&p->tids[i], NULL, worker, p) != 0) {
        p->nthreads = i + 1; /* only i workers exist; free joins them */
        ns_pool_free(p);
        return NS_ENOMEM;
      }
    }
  }
  *out = p;
  return 0;
fail:
  free(p);
  return NS_ENOMEM;
}

void ns_pool_free(ns_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  pthread_cond_broadcast(&p->cv_work);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nthreads - 1; i++) pthread_join(p->tids[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv_work);
  pthread_cond_destroy(&p->cv_done);
  free(p->tids);
  free(p);
}

int ns_pool_threads(const ns_pool *p) { return p ? p->nthreads : 1; }

void ns_pool_for(ns_pool *p, size_t n, size_t chunk_hint, ns_pool_fn fn, void *ctx) {
  size_t nchunks = ns_pool_nchunks(n, chunk_hint);
  if (chunk_hint == 0) chunk_hint = 4096;
  if (nchunks == 0) return;
  if (!p || p->nthreads <= 1 || nchunks == 1) {
    for (size_t c = 0; c < nchunks; c++) {
      size_t b = c * chunk_hint, e = b + chunk_hint < n ? b + chunk_hint : n;
      fn(ctx, c, b, e);
    }
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->ctx = ctx;
  p->n = n;
  p->chunk = chunk_hint;
  p->nchunks = nchunks;
  atomic_store_explicit(&p->next, 0, memory_order_relaxed);  /* under mu */
  p->active = p->nthreads - 1;
  p->generation++;
  pthread_cond_broadcast(&p->cv_work);
  pthread_mutex_unlock(&p->mu);
  run_chunks(p); /* the caller works too */
  pthread_mutex_lock(&p->mu);
  while (p->active > 0) pthread_cond_wait(&p->cv_done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}
