/*
** graph/collide.c -- same-value collision pairs over the rater-note graph:
** the layout and the bounded pair count shared by the quasi-clique detector
** (qclique.c, reference §7.2) and the coordination test (coord.c).
**
** Terms.  An *event* is (note, helpfulness value): the raters who gave
** that value to that note.  Two raters *collide* on a post when they share
** an event of a note of the post; a pair counts at most once per post.
**
**  1. Layout, in passes over the scope ratings note by note (sequential
**     over the edges).  Scope notes are sorted by (post, note) so a post's
**     notes are adjacent; T[u] = distinct scope posts of rater u.  Only
**     raters with T > min_t are eligible (a pair collides on at most
**     min(T_a, T_b) posts).  When the edges are in note order, ascending
**     by rater within a note (a scoring run's), and no per-note level
**     filter applies, the edges are the event lists ("direct") and nothing
**     more is built; otherwise each event's eligible raters are listed in
**     ascending index (4 bytes per eligible scope rating).
**  2. Pairs.  For each eligible rater a, its scope ratings (the bigraph's
**     rater list) by scope position, so by post; a is paired with the next
**     `neighbours` eligible raters of each of its events (all of them when
**     the event is small): direct, the note's later edges of a's value
**     whose rater is eligible; else the list after a's place, found by
**     binary search.  Counts are per rater a in a dense per-thread array
**     (a post with several notes of a is deduplicated in a small buffer),
**     so no pair hash map is ever built.  The neighbourhood bound keeps the
**     work at O(ratings x neighbours) where enumerating every pair of a
**     popular note is quadratic; it can only lower a count.  Any lists are
**     freed once counted.
**
** Who calls it: graph/qclique.c and graph/coord.c (internal, collide.h).
** Threads: the pair count fans out on the pool; each chunk's pairs are
** appended in chunk order as soon as the chunks before it are in (and
** freed), so the result is the same for every thread count and the pairs
** are not held twice.
*/
#include "collide.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
void ns__clayout_free(ns__clayout *L) {
  free(L->scope_note);
  free(L->note_pos);
  free(L->post_of);
  free(L->T);
  free(L->ev_off);
  free(L->ev_r);
  memset(L, 0, sizeof *L);
}

/* One eligible rating of a note while laying it out. */
typedef struct rl {
  int32_t rater, level;
} rl;

static int cmp_rl(const void *a, const void *b) {
  const rl *x = a, *y = b;
  return (x->rater > y->rater) - (x->rater < y->rater);
}

typedef struct pn {
  int64_t post;
  int32_t note;
} pn;

static int cmp_pn(const void *a, const void *b) {
  const pn *x = a, *y = b;
  if (x->post != y->post) return x->post < y->post ? -1 : 1;
  return (x->note > y->note) - (x->note < y->note);
}

int ns__clayout_build(ns__clayout *L, const ns_bigraph *g, const uint8_t *level,
                      const uint8_t *note_lv, const int64_t *note_post, int min_t) {
  size_t nn = g->n_notes, nr = g->n_raters, nev, ns = 0;
  pn *tmp = NULL;
  int32_t *lastp = NULL;
  uint32_t *cur = NULL;
  uint64_t total;
  rl *buf = NULL;
  uint64_t maxdeg = 0;
  int rc = NS_ENOMEM;

  memset(L, 0, sizeof *L);
  L->g = g;
  L->level = level;
  L->note_lv = note_lv;
  L->min_t = min_t;
  for (size_t n = 0; n < nn; n++) ns += note_post[n] >= 0;
  L->n_scope = ns;
  L->scope_note = ns_mallocn(ns, sizeof *L->scope_note);
  L->post_of = ns_mallocn(ns, sizeof *L->post_of);
  L->note_pos = ns_mallocn(nn, sizeof *L->note_pos);
  L->T = ns_calloc(nr, sizeof *L->T);
  tmp = ns_mallocn(ns, sizeof *tmp);
  lastp = ns_mallocn(nr, sizeof *lastp);
  if (!L->scope_note || !L->post_of || !L->note_pos || !L->T || !tmp || !lastp) goto out;

  /* Scope notes by (post, note); dense post ids in that order. */
  ns = 0;
  for (size_t n = 0; n < nn; n++)
    if (note_post[n] >= 0) tmp[ns++] = (pn){note_post[n], (int32_t)n};
  qsort(tmp, ns, sizeof *tmp, cmp_pn);
  for (size_t n = 0; n < nn; n++) L->note_pos[n] = -1;
  L->n_posts = 0;
  for (size_t j = 0; j < ns; j++) {
    if (j == 0 || tmp[j].post != tmp[j - 1].post) L->n_posts++;
    L->scope_note[j] = tmp[j].note;
    L->post_of[j] = (int32_t)(L->n_posts - 1);
    L->note_pos[tmp[j].note] = (int32_t)j;
  }
  free(tmp);
  tmp = NULL;

  /* One pass over the scope ratings (note-major, so sequential over the
  ** edges): T[u] (a post's notes are adjacent, so "last post seen" dedups
  ** exactly). */
  for (size_t u = 0; u < nr; u++) lastp[u] = -1;
  for (size_t j = 0; j < ns; j++) {
    int32_t n = L->scope_note[j], p = L->post_of[j];
    for (uint64_t k = g->note_off[n]; k < g->note_off[n + 1]; k++) {
      uint32_t e = ns_bigraph_note_edge(g, k);
      int32_t u = g->edge_rater[e];
      if (ns__clayout_level(L, e, n) < 0) continue;
      L->scope_ratings++;
      if (lastp[u] != p) {
        lastp[u] = p;
        L->T[u]++;
      }
    }
  }
  for (size_t u = 0; u < nr; u++) L->eligible_raters += L->T[u] > min_t;

  /* The edges themselves are the event lists when every note's edges are
  ** consecutive ids (no note_edges) strictly ascending by rater, as in the
  ** pipeline (ratings sorted by note, then participant): an event's
  ** eligible raters after a are then the note's later edges of a's level
  ** whose rater is eligible.  No lists are built (4 bytes per eligible
  ** scope rating less at the count's peak).  Not with a per-note level
  ** filter (the dissent pass): its events hold a few of a note's ratings,
  ** which lists keep compactly and a scan of the note would step over. */
  L->direct = g->note_edges == NULL && !note_lv;
  for (size_t j = 0; j < ns && L->direct; j++) {
    int32_t n = L->scope_note[j];
    for (uint64_t k = g->note_off[n] + 1; k < g->note_off[n + 1]; k++)
      if (g->edge_rater[k - 1] >= g->edge_rater[k]) {
        L->direct = 0;
        break;
      }
  }
  if (L->direct) {
    rc = 0;
    goto out;
  }

  /* Otherwise the lists.  A second pass: every event's eligible ratings,
  ** so its slot in ev_r holds exactly them (and the sentinel), not every
  ** rating of the event. */
  nev = 3 * ns;
  L->ev_off = ns_calloc(nev + 1, sizeof *L->ev_off);
  cur = ns_mallocn(nev + 1, sizeof *cur);
  if (!L->ev_off || !cur) goto out;
  for (size_t j = 0; j < ns; j++) {
    int32_t n = L->scope_note[j];
    uint64_t deg = g->note_off[n + 1] - g->note_off[n];
    if (deg > maxdeg) maxdeg = deg;
    for (uint64_t k = g->note_off[n]; k < g->note_off[n + 1]; k++) {
      uint32_t e = ns_bigraph_note_edge(g, k);
      int lv = ns__clayout_level(L, e, n);
      if (lv >= 0 && L->T[g->edge_rater[e]] > min_t) L->ev_off[j * 3 + (size_t)lv + 1]++;
    }
  }

  /* Events of eligible raters.  Each event's list is its eligible raters
  ** ascending, then a -1 sentinel (a note's entries sorted by rater first
  ** where they are not). */
  total = 0;
  for (size_t v = 0; v < nev; v++) {
    total += (uint64_t)L->ev_off[v + 1] + 1; /* + sentinel */
    if (total >= UINT32_MAX) goto out;       /* slots must fit in 32 bits */
    L->ev_off[v + 1] = (uint32_t)total;
  }
  L->ev_r = ns_mallocn(L->ev_off[nev], sizeof *L->ev_r);
  buf = ns_mallocn(maxdeg, sizeof *buf);
  if (!L->ev_r || !buf) goto out;
  memcpy(cur, L->ev_off, nev * sizeof *cur);
  for (size_t j = 0; j < ns; j++) {
    int32_t n = L->scope_note[j];
    size_t m = 0;
    int sorted = 1;
    for (uint64_t k = g->note_off[n]; k < g->note_off[n + 1]; k++) {
      uint32_t e = ns_bigraph_note_edge(g, k);
      int32_t u = g->edge_rater[e];
      int lv = ns__clayout_level(L, e, n);
      if (L->T[u] <= min_t || lv < 0) continue;
      buf[m].rater = u;
      buf[m].level = lv;
      if (m > 0 && buf[m - 1].rater > u) sorted = 0;
      m++;
    }
    if (!sorted) qsort(buf, m, sizeof *buf, cmp_rl);
    for (size_t i = 0; i < m; i++) L->ev_r[cur[j * 3 + (size_t)buf[i].level]++] = buf[i].rater;
  }
  for (size_t v = 0; v < nev; v++) L->ev_r[cur[v]] = -1;
  rc = 0;
out:
  free(tmp);
  free(lastp);
  free(cur);
  free(buf);
  return rc;
}

/* ------------------------------------------------------------------------
** Collision pairs, one chunk of raters per pool task.
*/

/* Per-thread scratch; a task takes a free one (at most `threads` tasks run
** at once).  cnt (collisions with the current rater, per partner) is all
** zero between raters.  Cache-line aligned: the slots sit side by side and
** `busy` is written by every task. */
typedef struct scratch {
  _Alignas(64) atomic_int busy;
  uint32_t *cnt;
  int32_t *touched;
  uint64_t *ev;              /* the current rater's scope events, ascending:
                             ** event << 32 | edge */
  int32_t *nb;               /* [neighbours] partners in one event */
  NS_VEC(int32_t) multi;     /* partners over a multi-note post */
} scratch;

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* Sorts x[0..n) ascending: a rater's events (a few hundred, often nearly
** in order), so insertion sort for short runs under a median-of-three
** quicksort, with no comparison callback (qsort's is most of the cost). */
static void sort_u64(uint64_t *x, size_t n) {
  while (n > 24) {
    uint64_t a = x[0], b = x[n / 2], c = x[n - 1], piv, t;
    size_t i = 0, j = n - 1;
    piv = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
    for (;;) { /* Hoare partition */
      while (x[i] < piv) i++;
      while (x[j] > piv) j--;
      if (i >= j) break;
      t = x[i], x[i] = x[j], x[j] = t;
      i++, j--;
    }
    /* recurse into the smaller part, loop on the larger */
    if (j + 1 < n - j - 1) {
      sort_u64(x, j + 1);
      x += j + 1, n -= j + 1;
    } else {
      sort_u64(x + j + 1, n - j - 1);
      n = j + 1;
    }
  }
  for (size_t i = 1; i < n; i++) {
    uint64_t v = x[i];
    size_t k = i;
    for (; k > 0 && x[k - 1] > v; k--) x[k] = x[k - 1];
    x[k] = v;
  }
}

typedef struct pair_ctx {
  const ns__clayout *L;
  int neighbours;
  uint32_t min_count;
  scratch *sc;
  int n_sc;
  ns__cpair_vec *out;            /* per chunk, until committed */
  uint64_t *updates;         /* per chunk */
  int *err;                  /* per chunk */
  /* Committing: the counted chunks are appended to pairs in chunk order as
  ** soon as every earlier chunk is in (under mu), and freed, so the pairs
  ** are held about once -- not once in the chunks and again in a merged
  ** copy (the untouched growth room of a large array is not resident). */
  pthread_mutex_t mu;
  uint8_t *done;             /* per chunk: counted */
  size_t nch, next;          /* chunks; the first not yet committed */
  ns__cpair_vec *pairs;
  int commit_err;
} pair_ctx;

/* Marks chunk k counted and commits every chunk that can now be. */
static void commit_chunks(pair_ctx *c, size_t k) {
  pthread_mutex_lock(&c->mu);
  c->done[k] = 1;
  while (c->next < c->nch && c->done[c->next]) {
    ns__cpair_vec *o = &c->out[c->next];
    if (o->n && !c->commit_err) {
      if (ns_vec_reserve(c->pairs, c->pairs->n + o->n)) {
        c->commit_err = NS_ENOMEM;
      } else {
        memcpy(c->pairs->a + c->pairs->n, o->a, o->n * sizeof *o->a);
        c->pairs->n += o->n;
      }
    }
    ns_vec_free(o);
    c->next++;
  }
  pthread_mutex_unlock(&c->mu);
}

/* The first W eligible raters of event v after rater a (whose rating in it
** is edge e), ascending, into nb; returns how many. */
static inline uint32_t partners_after(const ns__clayout *L, uint32_t v, int32_t a, uint32_t e,
                                      uint32_t W, int32_t *nb) {
  uint32_t m = 0;
  if (L->direct) {
    const ns_bigraph *g = L->g;
    int32_t n = L->scope_note[v / 3];
    int lv = (int)(v % 3);
    for (uint64_t k = (uint64_t)e + 1, ke = g->note_off[n + 1]; k < ke && m < W; k++) {
      int32_t u = g->edge_rater[k];
      if (ns__clayout_level(L, (uint32_t)k, n) == lv && L->T[u] > L->min_t) nb[m++] = u;
    }
  } else {
    /* binary search of the ascending list, which ends with the -1 sentinel */
    uint32_t lo = L->ev_off[v], hi = L->ev_off[v + 1] - 1; /* [lo, hi): the raters */
    const int32_t *r;
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (L->ev_r[mid] < a) lo = mid + 1;
      else hi = mid;
    }
    for (r = L->ev_r + lo + 1; m < W && r[m] >= 0; m++) nb[m] = r[m];
  }
  return m;
}

static void pair_chunk(void *vctx, size_t chunk, size_t begin, size_t end) {
  pair_ctx *c = vctx;
  const ns__clayout *L = c->L;
  const ns_bigraph *g = L->g;
  scratch *s = NULL;
  uint64_t upd = 0;

  for (int i = 0;; i = (i + 1) % c->n_sc) {
    int zero = 0;
    if (atomic_compare_exchange_strong(&c->sc[i].busy, &zero, 1)) {
      s = &c->sc[i];
      break;
    }
  }
  uint32_t *cnt = s->cnt;
  uint64_t *ev = s->ev;
  int32_t *touched = s->touched, *nb = s->nb;
  const uint32_t W = (uint32_t)c->neighbours;
  for (size_t a = begin; a < end; a++) {
    size_t nt = 0, ke = 0;
    int sorted = 1;
    if (L->T[a] <= L->min_t) continue;
    /* a's scope events (note position x 3 + level) in scope order: the
    ** order of posts, a post's notes adjacent */
    for (uint64_t q = g->rater_off[a]; q < g->rater_off[a + 1]; q++) {
      uint32_t e = g->rater_edges[q];
      int32_t n = ns_bigraph_edge_note(g, e), pos = L->note_pos[n];
      int lv = ns__clayout_level(L, e, n);
      if (lv < 0 || pos < 0) continue;
      ev[ke] = ((uint64_t)pos * 3 + (uint64_t)lv) << 32 | e;
      if (ke > 0 && ev[ke - 1] > ev[ke]) sorted = 0;
      ke++;
    }
    if (!sorted) sort_u64(ev, ke);
    for (size_t k = 0; k < ke;) {
      size_t k2 = k + 1;
      int32_t post = L->post_of[(ev[k] >> 32) / 3];
      /* The events are scattered over the edges (or the lists): fetch a
      ** few ahead (one cache miss per event is the cost of the count). */
      if (k + 4 < ke) {
        if (L->direct) __builtin_prefetch(g->edge_rater + (uint32_t)ev[k + 4]);
        else __builtin_prefetch(L->ev_r + L->ev_off[ev[k + 4] >> 32]);
      }
      while (k2 < ke && L->post_of[(ev[k2] >> 32) / 3] == post) k2++;
      if (k2 == k + 1) {
        /* One note of this post (the usual case): the next W raters of
        ** the event after a, all distinct. */
        uint32_t m = partners_after(L, (uint32_t)(ev[k] >> 32), (int32_t)a, (uint32_t)ev[k], W, nb);
        for (uint32_t i = 0; i < m; i++) {
          upd++;
          if (cnt[nb[i]]++ == 0) touched[nt++] = nb[i];
        }
      } else {
        /* Several notes of one post: count each partner once. */
        s->multi.n = 0;
        for (size_t kk = k; kk < k2; kk++) {
          uint32_t m = partners_after(L, (uint32_t)(ev[kk] >> 32), (int32_t)a, (uint32_t)ev[kk], W, nb);
          for (uint32_t i = 0; i < m; i++) {
            upd++;
            if (ns_vec_push(&s->multi, nb[i])) c->err[chunk] = NS_ENOMEM;
          }
        }
        if (s->multi.n > 1) qsort(s->multi.a, s->multi.n, sizeof *s->multi.a, cmp_i32);
        for (size_t i = 0; i < s->multi.n; i++) {
          int32_t b = s->multi.a[i];
          if ((i > 0 && b == s->multi.a[i - 1]) || b == (int32_t)a) continue;
          if (cnt[b]++ == 0) touched[nt++] = b;
        }
      }
      k = k2;
    }
    for (size_t i = 0; i < nt; i++) {
      int32_t b = touched[i];
      if (cnt[b] > c->min_count && b != (int32_t)a && !c->err[chunk]) {
        ns__cpair q = {(int32_t)a, b, cnt[b]};
        if (ns_vec_push(&c->out[chunk], q)) c->err[chunk] = NS_ENOMEM;
      }
      cnt[b] = 0;
    }
  }
  c->updates[chunk] = upd;
  atomic_store(&s->busy, 0);
  commit_chunks(c, chunk);
}

#define PAIR_CHUNK 64

int ns__collide_pairs(ns__clayout *L, int neighbours, uint32_t min_count, ns_pool *pool,
                      ns__cpair_vec *pairs, uint64_t *updates) {
  const ns_bigraph *g = L->g;
  size_t nr = g->n_raters, nch = ns_pool_nchunks(nr, PAIR_CHUNK);
  uint64_t maxdeg = 1;
  int nth = ns_pool_threads(pool), rc = 0, mu = 0;
  pair_ctx c;

  memset(&c, 0, sizeof c);
  c.L = L, c.neighbours = neighbours, c.min_count = min_count, c.n_sc = nth;
  c.nch = nch, c.pairs = pairs;
  *updates = 0;
  if (nr == 0) goto out;
  for (size_t u = 0; u < nr; u++)
    if (L->T[u] > L->min_t && ns_bigraph_rater_degree(g, u) > maxdeg)
      maxdeg = ns_bigraph_rater_degree(g, u);
  /* aligned: scratch is cache-line aligned (sizeof is a multiple of 64) */
  c.sc = aligned_alloc(64, (size_t)nth * sizeof *c.sc);
  if (c.sc) memset(c.sc, 0, (size_t)nth * sizeof *c.sc);
  c.out = ns_calloc(nch, sizeof *c.out);
  c.updates = ns_calloc(nch, sizeof *c.updates);
  c.err = ns_calloc(nch, sizeof *c.err);
  c.done = ns_calloc(nch, 1);
  if (!c.sc || !c.out || !c.updates || !c.err || !c.done) {
    rc = NS_ENOMEM;
    goto out;
  }
  if (pthread_mutex_init(&c.mu, NULL) != 0) {
    rc = NS_ENOMEM;
    goto out;
  }
  mu = 1;
  for (int i = 0; i < nth; i++) {
    atomic_init(&c.sc[i].busy, 0);
    c.sc[i].cnt = ns_calloc(nr, sizeof *c.sc[i].cnt);
    c.sc[i].touched = ns_mallocn(nr, sizeof *c.sc[i].touched);
    c.sc[i].ev = ns_mallocn((size_t)maxdeg, sizeof *c.sc[i].ev);
    c.sc[i].nb = ns_mallocn((size_t)neighbours, sizeof *c.sc[i].nb);
    if (!c.sc[i].cnt || !c.sc[i].touched || !c.sc[i].ev || !c.sc[i].nb) {
      rc = NS_ENOMEM;
      goto out;
    }
  }
  ns_pool_for(pool, nr, PAIR_CHUNK, pair_chunk, &c);
  for (size_t k = 0; k < nch; k++) {
    if (c.err[k]) {
      rc = c.err[k];
      goto out;
    }
    *updates += c.updates[k];
  }
  if ((rc = c.commit_err) != 0) goto out;
  if (pairs->n > 0 && pairs->n < pairs->cap) { /* the growth room back */
    void *q = ns_realloc(pairs->a, pairs->n * sizeof *pairs->a);
    if (q) pairs->a = q, pairs->cap = pairs->n;
  }
out:
  /* the layout is done with (ns__clayout: the null model does not read it) */
  free(L->ev_off), free(L->ev_r);
  L->ev_off = NULL, L->ev_r = NULL;
  if (mu) pthread_mutex_destroy(&c.mu);
  if (c.sc)
    for (int i = 0; i < nth; i++) {
      free(c.sc[i].cnt);
      free(c.sc[i].touched);
      free(c.sc[i].ev);
      free(c.sc[i].nb);
      ns_vec_free(&c.sc[i].multi);
    }
  free(c.sc);
  if (c.out)
    for (size_t k = 0; k < nch; k++) ns_vec_free(&c.out[k]);
  free(c.out);
  free(c.updates);
  free(c.err);
  free(c.done);
  return rc;
}
