/*
** graph/qclique.c -- quasi-clique (dense-subgraph) detection, reference
** §7.2: groups of raters who keep giving the same rating to the same notes.
**
** Who calls it: engine/pipeline_guard.c, once per scoring run, to find the
** "correlated" raters left out of the NoCorrelated refit (§4.1 step 15).
** Threads: the caller's thread; the pair count fans out on the pool with
** per-chunk outputs merged in chunk order, so the result is the same for
** every thread count.  Everything else is sequential.
**
** Terms.  An *event* is (note, helpfulness value): the raters who gave
** that value to that note.  Two raters *collide* on a post when they share
** an event of a note of the post; a pair counts at most once per post.
**
** Three phases (docs/trust.md §9 has the reasoning and the measurements):
**
**  1. Layout, in passes over the scope ratings note by note (sequential
**     over the edges).  Scope notes are sorted by (post, note) so a post's
**     notes are adjacent; T[u] = distinct scope posts of rater u.  Only
**     raters with T > min_pair_count can be in a seed pair (a pair collides
**     on at most min(T_a, T_b) posts), so only they are laid out: each
**     event's eligible raters in ascending index, and each eligible rater's
**     slots in those lists in post order.
**  2. Seed pairs.  For each eligible rater a and each of its events, a is
**     paired with the next `neighbours` eligible raters of the event (all
**     of them when the event is small).  Counts are per rater a in a dense
**     per-thread array (a post with several notes of a is deduplicated in a
**     small buffer), so no pair hash map is ever built.  Pairs with count >
**     min_pair_count are kept.  The neighbourhood bound keeps the work at
**     O(ratings x neighbours) where enumerating every pair of a popular
**     note is quadratic; it can only lower a count, so a kept pair also
**     seeds in the reference.  Optionally pairs at chance level (lift) are
**     dropped.
**  3. Greedy growth from each seed in order (count desc, a, b), with the
**     group's actions, post participation and candidate scores maintained
**     incrementally: adding a member or raising the action threshold
**     touches only the events that change, so a clique of m members costs
**     about O(sum of the events' sizes) instead of O(m^2 x degree).
*/
#include "graph.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void ns_qclique_params_default(ns_qclique_params *p) {
  p->min_pair_count = 50;
  p->action_frac = 0.25;
  p->action_min = 4;
  p->min_posts = 25;
  p->post_frac = 0.25;
  p->max_size = 2000;
  p->min_size = 5;
  p->neighbours = 16;
  p->max_seeds = 100000;
  p->min_seed_lift = 0;
}

/* Helpfulness value -> event level 0, 1, 2 (0, 0.5, 1); -1 if it is none
** of them (such a rating takes part in no event). */
static int level_of(float v) {
  if (v == 0.0f) return 0;
  if (v == 0.5f) return 1;
  if (v == 1.0f) return 2;
  return -1;
}

/* ------------------------------------------------------------------------
** Shared read-only layout.
*/
typedef struct layout {
  const ns_bigraph *g;
  const float *value;
  size_t n_scope;            /* scope notes */
  int32_t *scope_note;       /* [n_scope] note index, sorted by (post, note) */
  int32_t *note_pos;         /* [n_notes] position in scope_note, -1 = out */
  int32_t *post_of;          /* [n_scope] dense post index */
  size_t n_posts;
  double p_eff;              /* effective number of posts (popularity) */
  int32_t *T;                /* [n_raters] distinct scope posts */
  /* eligible raters only (T > min_pair_count) */
  uint32_t *ev_off;          /* [3 n_scope + 1] */
  int32_t *ev_r;             /* raters of each event ascending, then -1 */
  uint32_t *rm_off;          /* [n_raters + 1] */
  uint32_t *rm_slot;         /* each eligible rater's slots in ev_r, post
                             ** order; NEWPOST marks a post's first */
} layout;

static void layout_free(layout *L) {
  free(L->scope_note);
  free(L->note_pos);
  free(L->post_of);
  free(L->T);
  free(L->ev_off);
  free(L->ev_r);
  free(L->rm_off);
  free(L->rm_slot);
}

#define NEWPOST 0x80000000u

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

static int build_layout(layout *L, const ns_bigraph *g, const float *value,
                        const int64_t *note_post, int min_pair_count,
                        ns_qclique_stats *st) {
  size_t nn = g->n_notes, nr = g->n_raters, nev, ns = 0;
  pn *tmp = NULL;
  int32_t *lastp = NULL;
  uint32_t *cur = NULL, *rcur = NULL;
  rl *buf = NULL;
  uint64_t maxdeg = 0;
  int rc = NS_ENOMEM;

  L->g = g;
  L->value = value;
  for (size_t n = 0; n < nn; n++) ns += note_post[n] >= 0;
  L->n_scope = ns;
  L->scope_note = ns_mallocn(ns ? ns : 1, sizeof *L->scope_note);
  L->post_of = ns_mallocn(ns ? ns : 1, sizeof *L->post_of);
  L->note_pos = ns_mallocn(nn ? nn : 1, sizeof *L->note_pos);
  L->T = ns_calloc(nr ? nr : 1, sizeof *L->T);
  tmp = ns_mallocn(ns ? ns : 1, sizeof *tmp);
  lastp = ns_mallocn(nr ? nr : 1, sizeof *lastp);
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

  /* One pass over the scope ratings (note-major, so sequential over the
  ** edges): T[u] (a post's notes are adjacent, so "last post seen" dedups
  ** exactly), d = each post's distinct raters, and the sizes the layout
  ** below needs -- every event's rating count (a capacity: only eligible
  ** raters are filled in) and every rater's scope ratings.  P_eff =
  ** (sum d)^2 / sum d^2 is the number of equally popular posts with the
  ** same chance of two random (rater, post) incidences meeting. */
  nev = 3 * ns;
  L->ev_off = ns_calloc(nev + 1, sizeof *L->ev_off);
  L->rm_off = ns_calloc(nr + 1, sizeof *L->rm_off);
  cur = ns_mallocn(nev + 1, sizeof *cur);
  rcur = ns_mallocn(nr + 1, sizeof *rcur);
  if (!L->ev_off || !L->rm_off || !cur || !rcur) goto out;
  {
    double sum_d = 0, sum_d2 = 0, d = 0;
    for (size_t u = 0; u < nr; u++) lastp[u] = -1;
    for (size_t j = 0; j < ns; j++) {
      int32_t n = L->scope_note[j], p = L->post_of[j];
      uint64_t deg = g->note_off[n + 1] - g->note_off[n];
      if (deg > maxdeg) maxdeg = deg;
      if (j > 0 && p != L->post_of[j - 1]) {
        sum_d += d, sum_d2 += d * d;
        d = 0;
      }
      for (uint64_t k = g->note_off[n]; k < g->note_off[n + 1]; k++) {
        uint32_t e = g->note_edges[k];
        int32_t u = g->edge_rater[e];
        int lv = level_of(value[e]);
        if (lv < 0) continue;
        st->scope_ratings++;
        L->ev_off[j * 3 + (size_t)lv + 1]++;
        L->rm_off[u + 1]++;
        if (lastp[u] != p) {
          lastp[u] = p;
          L->T[u]++;
          d++;
        }
      }
    }
    sum_d += d, sum_d2 += d * d;
    L->p_eff = sum_d2 > 0 ? sum_d * sum_d / sum_d2 : 0;
  }

  /* Events of eligible raters.  Each event's list is its eligible raters
  ** ascending, then a -1 sentinel (in a slot sized for all its raters).  A
  ** note's edges come in edge-id order, which in the pipeline (ratings
  ** sorted by note, then participant) is already ascending by rater;
  ** otherwise the note's entries are sorted first.  Each eligible rater's
  ** list holds its slots in the event lists in scope (= post) order, the
  ** first slot of every post marked NEWPOST. */
  for (size_t u = 0; u < nr; u++) {
    if (L->T[u] > min_pair_count) st->eligible_raters++;
    else L->rm_off[u + 1] = 0;
  }
  for (size_t v = 0; v < nev; v++) L->ev_off[v + 1] += L->ev_off[v] + 1; /* + sentinel */
  for (size_t u = 0; u < nr; u++) L->rm_off[u + 1] += L->rm_off[u];
  if ((uint64_t)L->ev_off[nev] >= NEWPOST) goto out; /* slots must fit in 31 bits */
  L->ev_r = ns_mallocn(L->ev_off[nev] ? L->ev_off[nev] : 1, sizeof *L->ev_r);
  L->rm_slot = ns_mallocn(L->rm_off[nr] ? L->rm_off[nr] : 1, sizeof *L->rm_slot);
  buf = ns_mallocn(maxdeg ? maxdeg : 1, sizeof *buf);
  if (!L->ev_r || !L->rm_slot || !buf) goto out;
  memcpy(cur, L->ev_off, nev * sizeof *cur);
  memcpy(rcur, L->rm_off, nr * sizeof *rcur);
  for (size_t u = 0; u < nr; u++) lastp[u] = -1;
  for (size_t j = 0; j < ns; j++) {
    int32_t n = L->scope_note[j], p = L->post_of[j];
    size_t m = 0;
    int sorted = 1;
    for (uint64_t k = g->note_off[n]; k < g->note_off[n + 1]; k++) {
      uint32_t e = g->note_edges[k];
      int32_t u = g->edge_rater[e];
      int lv = level_of(value[e]);
      if (L->T[u] <= min_pair_count || lv < 0) continue;
      buf[m].rater = u;
      buf[m].level = lv;
      if (m > 0 && buf[m - 1].rater > u) sorted = 0;
      m++;
    }
    if (!sorted) qsort(buf, m, sizeof *buf, cmp_rl);
    for (size_t i = 0; i < m; i++) {
      int32_t u = buf[i].rater;
      uint32_t slot = cur[j * 3 + (size_t)buf[i].level]++;
      L->ev_r[slot] = u;
      L->rm_slot[rcur[u]++] = slot | (lastp[u] != p ? NEWPOST : 0);
      lastp[u] = p;
    }
  }
  for (size_t v = 0; v < nev; v++) L->ev_r[cur[v]] = -1;
  st->scope_notes = ns;
  st->scope_posts = L->n_posts;
  rc = 0;
out:
  free(tmp);
  free(lastp);
  free(cur);
  free(rcur);
  free(buf);
  return rc;
}

/* ------------------------------------------------------------------------
** Phase 2: seed pairs, one chunk of raters per pool task.
*/
typedef struct qpair {
  int32_t a, b;
  uint32_t count;
} qpair;
typedef NS_VEC(qpair) qpair_vec;

/* Per-thread scratch; a task takes a free one (at most `threads` tasks run
** at once).  cnt (collisions with the current rater, per partner) is all
** zero between raters.  Cache-line aligned: the slots sit side by side and
** `busy` is written by every task. */
typedef struct scratch {
  _Alignas(64) atomic_int busy;
  uint32_t *cnt;
  int32_t *touched;
  NS_VEC(int32_t) multi;     /* partners over a multi-note post */
} scratch;

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

typedef struct pair_ctx {
  const layout *L;
  int neighbours;
  uint32_t min_count;
  scratch *sc;
  int n_sc;
  qpair_vec *out;            /* per chunk */
  uint64_t *updates;         /* per chunk */
  int *err;                  /* per chunk */
} pair_ctx;

static void pair_chunk(void *vctx, size_t chunk, size_t begin, size_t end) {
  pair_ctx *c = vctx;
  const layout *L = c->L;
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
  int32_t *touched = s->touched;
  const uint32_t W = (uint32_t)c->neighbours;
  for (size_t a = begin; a < end; a++) {
    size_t nt = 0;
    uint32_t k = L->rm_off[a], ke = L->rm_off[a + 1];
    while (k < ke) {
      uint32_t k2 = k + 1;
      while (k2 < ke && !(L->rm_slot[k2] & NEWPOST)) k2++;
      if (k2 == k + 1) {
        /* One note of this post (the usual case): the next W raters of
        ** the event after a (up to the -1 sentinel), all distinct. */
        const int32_t *r = L->ev_r + (L->rm_slot[k] & ~NEWPOST) + 1;
        for (uint32_t i = 0; i < W && r[i] >= 0; i++) {
          upd++;
          if (cnt[r[i]]++ == 0) touched[nt++] = r[i];
        }
      } else {
        /* Several notes of one post: count each partner once. */
        s->multi.n = 0;
        for (uint32_t kk = k; kk < k2; kk++) {
          const int32_t *r = L->ev_r + (L->rm_slot[kk] & ~NEWPOST) + 1;
          for (uint32_t i = 0; i < W && r[i] >= 0; i++) {
            upd++;
            if (ns_vec_push(&s->multi, r[i])) c->err[chunk] = NS_ENOMEM;
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
        qpair q = {(int32_t)a, b, cnt[b]};
        if (ns_vec_push(&c->out[chunk], q)) c->err[chunk] = NS_ENOMEM;
      }
      cnt[b] = 0;
    }
  }
  c->updates[chunk] = upd;
  atomic_store(&s->busy, 0);
}

static int cmp_qpair(const void *x, const void *y) {
  const qpair *a = x, *b = y;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  if (a->a != b->a) return a->a < b->a ? -1 : 1;
  return (a->b > b->b) - (a->b < b->b);
}

#define PAIR_CHUNK 64

static int seed_pairs(const layout *L, const ns_qclique_params *p, ns_pool *pool,
                      qpair_vec *pairs, ns_qclique_stats *st) {
  size_t nr = L->g->n_raters, nch = ns_pool_nchunks(nr, PAIR_CHUNK);
  int nth = ns_pool_threads(pool), rc = 0;
  pair_ctx c = {L, p->neighbours, (uint32_t)p->min_pair_count, NULL, nth, NULL, NULL, NULL};

  if (nr == 0) return 0;
  /* aligned: scratch is cache-line aligned (sizeof is a multiple of 64) */
  c.sc = aligned_alloc(64, (size_t)nth * sizeof *c.sc);
  if (c.sc) memset(c.sc, 0, (size_t)nth * sizeof *c.sc);
  c.out = ns_calloc(nch, sizeof *c.out);
  c.updates = ns_calloc(nch, sizeof *c.updates);
  c.err = ns_calloc(nch, sizeof *c.err);
  if (!c.sc || !c.out || !c.updates || !c.err) {
    rc = NS_ENOMEM;
    goto out;
  }
  for (int i = 0; i < nth; i++) {
    atomic_init(&c.sc[i].busy, 0);
    c.sc[i].cnt = ns_calloc(nr, sizeof *c.sc[i].cnt);
    c.sc[i].touched = ns_mallocn(nr, sizeof *c.sc[i].touched);
    if (!c.sc[i].cnt || !c.sc[i].touched) {
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
    st->pair_updates += c.updates[k];
    for (size_t i = 0; i < c.out[k].n; i++) {
      const qpair *q = &c.out[k].a[i];
      /* Lift: collisions per chance co-rating T_a T_b / P_eff. */
      double lift = (double)q->count * L->p_eff / ((double)L->T[q->a] * (double)L->T[q->b]);
      if (p->min_seed_lift > 0 && !(lift >= p->min_seed_lift)) {
        st->low_lift_pairs++;
        continue;
      }
      if (ns_vec_push(pairs, *q)) {
        rc = NS_ENOMEM;
        goto out;
      }
    }
  }
  if (pairs->n > 1) qsort(pairs->a, pairs->n, sizeof *pairs->a, cmp_qpair);
  st->seed_pairs = pairs->n + st->low_lift_pairs;
out:
  if (c.sc)
    for (int i = 0; i < nth; i++) {
      free(c.sc[i].cnt);
      free(c.sc[i].touched);
      ns_vec_free(&c.sc[i].multi);
    }
  free(c.sc);
  if (c.out)
    for (size_t k = 0; k < nch; k++) ns_vec_free(&c.out[k]);
  free(c.out);
  free(c.updates);
  free(c.err);
  return rc;
}

/* ------------------------------------------------------------------------
** Phase 3: greedy growth.
**
** State for the current group M (m members), with threshold
**   t(m) = max(ceil(action_frac m), min(m, action_min)):
**   ev_cnt[ev]   members who did event ev (scope events, all raters)
**   in_A[ev]     ev is a group action (ev_cnt >= t)
**   post_act[p]  group actions on post p; n_qposts = posts with >= 1
**   k(x, p)      (map) group actions on p done by member x
**   part[x]      posts where member x did >= 1 group action
**   score[u]     group actions done by non-member u (candidate score)
** and a max-heap of (score, -u) entries with lazy deletion for the best
** candidate.  Every array is reset through touched lists after a seed, so
** a seed costs what it touches, not O(raters + notes).
*/
typedef struct kmap {
  uint64_t *keys;            /* (x + 1) << 32 | p; 0 = empty */
  int32_t *val;
  size_t cap, n;
} kmap;

static size_t km_slot(const kmap *m, uint64_t key) {
  size_t mask = m->cap - 1, i = (size_t)ns_hash64(key) & mask;
  while (m->keys[i] && m->keys[i] != key) i = (i + 1) & mask;
  return i;
}

/* Adds d to k(key) (inserting at 0) and returns the new value, or -1 on
** allocation failure.  Load <= 1/2. */
static int32_t km_add(kmap *m, uint64_t key, int32_t d) {
  size_t i;
  if ((m->n + 1) * 2 > m->cap) {
    kmap g = {0};
    g.cap = m->cap ? m->cap * 2 : 1024;
    g.keys = ns_calloc(g.cap, sizeof *g.keys);
    g.val = ns_calloc(g.cap, sizeof *g.val);
    if (!g.keys || !g.val) {
      free(g.keys);
      free(g.val);
      return -1;
    }
    for (size_t k = 0; k < m->cap; k++)
      if (m->keys[k]) {
        size_t j = km_slot(&g, m->keys[k]);
        g.keys[j] = m->keys[k];
        g.val[j] = m->val[k];
      }
    g.n = m->n;
    free(m->keys);
    free(m->val);
    *m = g;
  }
  i = km_slot(m, key);
  if (!m->keys[i]) {
    m->keys[i] = key;
    m->n++;
  }
  m->val[i] += d;
  return m->val[i];
}

/* Empties the map.  A table grown large by one big clique is freed rather
** than wiped, so the many small seeds after it do not each clear it. */
static void km_clear(kmap *m) {
  if (m->cap > ((size_t)1 << 16)) {
    free(m->keys);
    free(m->val);
    m->keys = NULL;
    m->val = NULL;
    m->cap = 0;
  } else if (m->cap) {
    memset(m->keys, 0, m->cap * sizeof *m->keys);
    memset(m->val, 0, m->cap * sizeof *m->val);
  }
  m->n = 0;
}

typedef struct grow {
  const layout *L;
  const ns_qclique_params *p;
  const int32_t *assigned;   /* clique id per rater, 0 = free */
  int32_t *ev_cnt;           /* [3 n_scope] */
  uint8_t *in_A;             /* [3 n_scope] */
  int32_t *post_act;         /* [n_posts] */
  int32_t *part, *score;     /* [n_raters] */
  uint8_t *is_mem;           /* [n_raters] */
  kmap km;
  NS_VEC(uint32_t) A;        /* current group actions */
  NS_VEC(uint32_t) tev;      /* touched events */
  NS_VEC(int32_t) tr;        /* raters whose score changed */
  NS_VEC(uint64_t) heap;     /* (score << 32) | (UINT32_MAX - u), max-heap */
  NS_VEC(int32_t) mem;       /* members in order of joining */
  int m, t;
  int32_t rejected;          /* last candidate, rejected; -1 = none */
  size_t n_qposts;
  int err;
} grow;

static void heap_push(grow *G, uint64_t key) {
  size_t i;
  if (ns_vec_push(&G->heap, key)) {
    G->err = NS_ENOMEM;
    return;
  }
  for (i = G->heap.n - 1; i > 0;) {
    size_t up = (i - 1) / 2;
    if (G->heap.a[up] >= key) break;
    G->heap.a[i] = G->heap.a[up];
    i = up;
  }
  G->heap.a[i] = key;
}

static void heap_pop(grow *G) {
  uint64_t last = G->heap.a[--G->heap.n];
  size_t i = 0, n = G->heap.n;
  if (n == 0) return;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, b = i;
    uint64_t bk = last;
    if (l < n && G->heap.a[l] > bk) b = l, bk = G->heap.a[l];
    if (r < n && G->heap.a[r] > bk) b = r;
    if (b == i) break;
    G->heap.a[i] = G->heap.a[b];
    i = b;
  }
  G->heap.a[i] = last;
}

static void set_score(grow *G, int32_t u, int d) {
  if (G->score[u] == 0 && d > 0 && ns_vec_push(&G->tr, u)) G->err = NS_ENOMEM;
  G->score[u] += d;
  if (G->score[u] > 0)
    heap_push(G, ((uint64_t)(uint32_t)G->score[u] << 32) | (UINT32_MAX - (uint32_t)u));
}

/* Member x's group actions on post p change by d. */
static void member_k(grow *G, int32_t x, int32_t p, int d) {
  int32_t v = km_add(&G->km, ((uint64_t)(uint32_t)(x + 1) << 32) | (uint32_t)p, d);
  if (v < 0) {
    G->err = NS_ENOMEM;
    return;
  }
  if (d > 0 && v == 1) G->part[x]++;
  if (d < 0 && v == 0) G->part[x]--;
}

/* Event ev enters (d = +1) or leaves (d = -1) the group actions. */
static void toggle(grow *G, uint32_t ev, int d) {
  const layout *L = G->L;
  const ns_bigraph *g = L->g;
  int32_t j = (int32_t)(ev / 3), lv = (int32_t)(ev % 3), n = L->scope_note[j];
  int32_t p = L->post_of[j];
  G->in_A[ev] = d > 0;
  if (d > 0) {
    if (G->post_act[p]++ == 0) G->n_qposts++;
  } else if (--G->post_act[p] == 0) {
    G->n_qposts--;
  }
  for (uint64_t k = g->note_off[n]; k < g->note_off[n + 1]; k++) {
    uint32_t e = g->note_edges[k];
    int32_t u = g->edge_rater[e];
    if (level_of(L->value[e]) != lv) continue;
    if (G->is_mem[u]) member_k(G, u, p, d);
    else if (!G->assigned[u]) set_score(G, u, d);
  }
}

static int thresh(const ns_qclique_params *p, int m) {
  int a = (int)ceil(p->action_frac * m), b = NS_MIN(m, p->action_min);
  return NS_MAX(a, NS_MAX(b, 1));
}

/* Counts c's events; after the last member of a batch, enters the events
** that reach the threshold.  Member bookkeeping for events already in A. */
static void add_member(grow *G, int32_t c) {
  const layout *L = G->L;
  const ns_bigraph *g = L->g;
  int nt;
  G->m++;
  nt = thresh(G->p, G->m);
  if (nt > G->t) {
    /* Raise the threshold: drop actions now below it (c not counted yet;
    ** an event c is in may leave and re-enter below, which is correct). */
    size_t w = 0;
    G->t = nt;
    for (size_t i = 0; i < G->A.n; i++) {
      uint32_t ev = G->A.a[i];
      if (G->ev_cnt[ev] < G->t) toggle(G, ev, -1);
      else G->A.a[w++] = ev;
    }
    G->A.n = w;
  }
  G->is_mem[c] = 1;
  if (ns_vec_push(&G->mem, c)) G->err = NS_ENOMEM;
  for (uint64_t k = g->rater_off[c]; k < g->rater_off[c + 1]; k++) {
    uint32_t e = g->rater_edges[k], ev;
    int32_t j = L->note_pos[g->edge_note[e]];
    int lv = level_of(L->value[e]);
    if (j < 0 || lv < 0) continue;
    ev = (uint32_t)j * 3 + (uint32_t)lv;
    if (G->ev_cnt[ev]++ == 0 && ns_vec_push(&G->tev, ev)) G->err = NS_ENOMEM;
    if (G->in_A[ev]) {
      member_k(G, c, L->post_of[j], +1);
    } else if (G->ev_cnt[ev] >= G->t) {
      toggle(G, ev, +1);
      if (ns_vec_push(&G->A, ev)) G->err = NS_ENOMEM;
    }
  }
}

/* The group as it stands qualifies: >= min_posts posts with a group action
** and every member in >= post_frac of them. */
static int qualifies(const grow *G) {
  double need = G->p->post_frac * (double)G->n_qposts;
  if (G->n_qposts < (size_t)G->p->min_posts) return 0;
  for (size_t i = 0; i < G->mem.n; i++)
    if ((double)G->part[G->mem.a[i]] < need) return 0;
  return 1;
}

/* Best candidate (most group actions, then smallest index), or -1. */
static int32_t best_candidate(grow *G) {
  while (G->heap.n) {
    uint64_t top = G->heap.a[0];
    int32_t u = (int32_t)(UINT32_MAX - (uint32_t)(top & 0xffffffffu));
    int32_t s = (int32_t)(top >> 32);
    if (!G->is_mem[u] && !G->assigned[u] && G->score[u] == s) return u;
    heap_pop(G);
  }
  return -1;
}

static void grow_reset(grow *G) {
  for (size_t i = 0; i < G->tev.n; i++) {
    uint32_t ev = G->tev.a[i];
    G->ev_cnt[ev] = 0;
    G->in_A[ev] = 0;
    G->post_act[G->L->post_of[ev / 3]] = 0;
  }
  for (size_t i = 0; i < G->tr.n; i++) G->score[G->tr.a[i]] = 0;
  for (size_t i = 0; i < G->mem.n; i++) {
    G->is_mem[G->mem.a[i]] = 0;
    G->part[G->mem.a[i]] = 0;
  }
  if (G->rejected >= 0) {
    G->is_mem[G->rejected] = 0;
    G->part[G->rejected] = 0;
    G->rejected = -1;
  }
  km_clear(&G->km);
  G->A.n = G->tev.n = G->tr.n = G->heap.n = G->mem.n = 0;
  G->m = G->t = 0;
  G->n_qposts = 0;
}

/* Starts the group {a, b} (threshold 2: their common events).  Adding a
** alone first would make every event of a -- a heavy rater, or it would
** not be in a seed pair -- a group action for a moment. */
static void seed_group(grow *G, int32_t a, int32_t b) {
  const layout *L = G->L;
  const ns_bigraph *g = L->g;
  int32_t ab[2] = {a, b};
  G->m = 2;
  G->t = thresh(G->p, 2);
  for (int i = 0; i < 2; i++) {
    G->is_mem[ab[i]] = 1;
    if (ns_vec_push(&G->mem, ab[i])) G->err = NS_ENOMEM;
  }
  for (int i = 0; i < 2; i++)
    for (uint64_t k = g->rater_off[ab[i]]; k < g->rater_off[ab[i] + 1]; k++) {
      uint32_t e = g->rater_edges[k], ev;
      int32_t j = L->note_pos[g->edge_note[e]];
      int lv = level_of(L->value[e]);
      if (j < 0 || lv < 0) continue;
      ev = (uint32_t)j * 3 + (uint32_t)lv;
      if (G->ev_cnt[ev]++ == 0 && ns_vec_push(&G->tev, ev)) G->err = NS_ENOMEM;
      if (i == 1 && !G->in_A[ev] && G->ev_cnt[ev] >= G->t) {
        toggle(G, ev, +1);
        if (ns_vec_push(&G->A, ev)) G->err = NS_ENOMEM;
      }
    }
}

/* Grows a group from seed pair (a, b); on return G->mem holds the accepted
** members (the last candidate, if rejected, is removed from the list). */
static void grow_from(grow *G, int32_t a, int32_t b) {
  seed_group(G, a, b);
  while (!G->err && G->m < G->p->max_size) {
    int32_t c = best_candidate(G);
    if (c < 0) break;
    add_member(G, c);
    if (!qualifies(G)) {
      /* The group without c is the result; c's marks go in grow_reset. */
      G->mem.n--;
      G->rejected = c;
      break;
    }
  }
}

int ns_qclique_detect(const ns_bigraph *g, const float *edge_value, const int64_t *note_post,
                      const ns_qclique_params *p, ns_pool *pool, int32_t *clique_id,
                      ns_qclique_stats *stats) {
  ns_qclique_params defp;
  ns_qclique_stats st;
  layout L;
  grow G;
  qpair_vec pairs = {0};
  int rc = 0;

  memset(&st, 0, sizeof st);
  memset(&L, 0, sizeof L);
  memset(&G, 0, sizeof G);
  if (stats) *stats = st;
  if (!p) {
    ns_qclique_params_default(&defp);
    p = &defp;
  }
  if (!g || !clique_id || (g->n_edges && !edge_value) || (g->n_notes && !note_post) ||
      p->neighbours < 1 || p->min_pair_count < 0 || !(p->min_seed_lift >= 0) || p->min_size < 2 || p->max_size < 2 ||
      p->min_posts < 0 || !(p->action_frac >= 0 && p->action_frac <= 1) ||
      !(p->post_frac >= 0 && p->post_frac <= 1) || p->action_min < 1 ||
      g->n_raters >= INT32_MAX || g->n_notes >= INT32_MAX / 3)
    return NS_EINVAL;
  for (size_t u = 0; u < g->n_raters; u++) clique_id[u] = 0;

  if ((rc = build_layout(&L, g, edge_value, note_post, p->min_pair_count, &st)) != 0) goto out;
  if ((rc = seed_pairs(&L, p, pool, &pairs, &st)) != 0) goto out;
  /* The pair layout is not needed any more; growth reads the bigraph. */
  free(L.ev_off), free(L.ev_r), free(L.rm_off), free(L.rm_slot);
  L.ev_off = NULL, L.rm_off = NULL, L.rm_slot = NULL, L.ev_r = NULL;

  if (pairs.n) {
    size_t nev = 3 * L.n_scope, nr = g->n_raters;
    G.L = &L;
    G.p = p;
    G.assigned = clique_id;
    G.rejected = -1;
    G.ev_cnt = ns_calloc(nev ? nev : 1, sizeof *G.ev_cnt);
    G.in_A = ns_calloc(nev ? nev : 1, 1);
    G.post_act = ns_calloc(L.n_posts ? L.n_posts : 1, sizeof *G.post_act);
    G.part = ns_calloc(nr, sizeof *G.part);
    G.score = ns_calloc(nr, sizeof *G.score);
    G.is_mem = ns_calloc(nr, 1);
    if (!G.ev_cnt || !G.in_A || !G.post_act || !G.part || !G.score || !G.is_mem) {
      rc = NS_ENOMEM;
      goto out;
    }
    for (size_t k = 0; k < pairs.n; k++) {
      int32_t a = pairs.a[k].a, b = pairs.a[k].b;
      if (clique_id[a] || clique_id[b]) continue;
      if (p->max_seeds > 0 && st.seeds_tried >= (size_t)p->max_seeds) break;
      st.seeds_tried++;
      grow_from(&G, a, b);
      if ((rc = G.err) != 0) goto out;
      if (G.mem.n >= (size_t)p->min_size) {
        int32_t id = (int32_t)++st.n_cliques;
        for (size_t i = 0; i < G.mem.n; i++) clique_id[G.mem.a[i]] = id;
        st.n_members += G.mem.n;
        if (G.mem.n > st.largest) st.largest = G.mem.n;
      }
      grow_reset(&G);
    }
  }
  if (stats) *stats = st;

out:
  if (rc)
    for (size_t u = 0; u < g->n_raters; u++) clique_id[u] = 0;
  layout_free(&L);
  free(G.ev_cnt);
  free(G.in_A);
  free(G.post_act);
  free(G.part);
  free(G.score);
  free(G.is_mem);
  free(G.km.keys);
  free(G.km.val);
  ns_vec_free(&G.A);
  ns_vec_free(&G.tev);
  ns_vec_free(&G.tr);
  ns_vec_free(&G.heap);
  ns_vec_free(&G.mem);
  ns_vec_free(&pairs);
  return rc;
}
