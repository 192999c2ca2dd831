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
** Phases 1 and 2 -- the layout of same-value events and the bounded count
** of collision pairs -- live in collide.c (shared with coord.c); pairs with
** more than min_pair_count collisions seed, optionally only above chance
** (lift).  docs/trust.md §9 has the reasoning and the measurements.
**
**  3. Greedy growth from each seed in order (count desc, a, b), with the
**     group's actions, post participation and candidate scores maintained
**     incrementally: adding a member or raising the action threshold
**     touches only the events that change, so a clique of m members costs
**     about O(sum of the events' sizes) instead of O(m^2 x degree).
*/
#include "collide.h"

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

typedef ns__cpair qpair;
typedef ns__cpair_vec qpair_vec;
typedef ns__clayout layout;
#define level_of ns__level_of

static int cmp_qpair(const void *x, const void *y) {
  const qpair *a = x, *b = y;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  if (a->a != b->a) return a->a < b->a ? -1 : 1;
  return (a->b > b->b) - (a->b < b->b);
}



static int seed_pairs(layout *L, const ns_qclique_params *p, const int32_t *community,
                      ns_pool *pool, qpair_vec *pairs, ns_qclique_stats *st) {
  qpair_vec raw = {0};
  ns__null N;
  int32_t *comm = NULL;
  uint8_t *need = NULL;
  size_t C = 1;
  int rc = ns__collide_pairs(L, p->neighbours, (uint32_t)p->min_pair_count, pool, &raw,
                             &st->pair_updates);
  memset(&N, 0, sizeof N);
  if (rc) goto out;
  if (p->min_seed_lift > 0 && raw.n > 0) {
    /* Chance co-rating from the null model (collide.h): the pair's
    ** activities, communities and own mixes, values ignored. */
    comm = ns_mallocn(L->g->n_raters, sizeof *comm);
    if (!comm) { rc = NS_ENOMEM; goto out; }
    if ((rc = ns__null_communities(L->g->n_raters, community, comm, &C)) != 0) goto out;
    need = ns_calloc(L->g->n_raters, 1);
    if (!need) { rc = NS_ENOMEM; goto out; }
    for (size_t i = 0; i < raw.n; i++) need[raw.a[i].a] = need[raw.a[i].b] = 1;
    if ((rc = ns__null_build(&N, L, comm, C, NULL, 0, 0, need)) != 0) goto out;
  }
  for (size_t i = 0; i < raw.n; i++) {
    const qpair *q = &raw.a[i];
    /* Lift: collisions per chance co-rating. */
    double E = p->min_seed_lift > 0 ? ns__null_expect(&N, q->a, q->b) : 0;
    double lift = E > 0 ? (double)q->count / E : INFINITY;
    if (p->min_seed_lift > 0 && !(lift >= p->min_seed_lift)) {
      st->low_lift_pairs++;
      continue;
    }
    if (ns_vec_push(pairs, *q)) {
      rc = NS_ENOMEM;
      goto out;
    }
  }
  if (pairs->n > 1) qsort(pairs->a, pairs->n, sizeof *pairs->a, cmp_qpair);
  st->seed_pairs = pairs->n + st->low_lift_pairs;
out:
  ns_vec_free(&raw);
  ns__null_free(&N);
  free(comm);
  free(need);
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
    uint32_t e = ns_bigraph_note_edge(g, k);
    int32_t u = g->edge_rater[e];
    if (level_of(L->level[e]) != lv) continue;
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
    int32_t j = L->note_pos[ns_bigraph_edge_note(g, e)];
    int lv = level_of(L->level[e]);
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
      int32_t j = L->note_pos[ns_bigraph_edge_note(g, e)];
      int lv = level_of(L->level[e]);
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

int ns_qclique_detect(const ns_bigraph *g, const uint8_t *edge_level, const int64_t *note_post,
                      const int32_t *community, const ns_qclique_params *p, ns_pool *pool, int32_t *clique_id,
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
  if (!g || !clique_id || (g->n_edges && (!edge_level || !g->rater_edges)) || (g->n_notes && !note_post) ||
      p->neighbours < 1 || p->min_pair_count < 0 || !(p->min_seed_lift >= 0) || p->min_size < 2 || p->max_size < 2 ||
      p->min_posts < 0 || !(p->action_frac >= 0 && p->action_frac <= 1) ||
      !(p->post_frac >= 0 && p->post_frac <= 1) || p->action_min < 1 ||
      g->n_raters >= INT32_MAX || g->n_notes >= INT32_MAX / 3)
    return NS_EINVAL;
  for (size_t u = 0; u < g->n_raters; u++) clique_id[u] = 0;

  if ((rc = ns__clayout_build(&L, g, edge_level, NULL, note_post, p->min_pair_count)) != 0) goto out;
  st.scope_ratings = L.scope_ratings;
  st.eligible_raters = L.eligible_raters;
  st.scope_notes = L.n_scope;
  st.scope_posts = L.n_posts;
  if ((rc = seed_pairs(&L, p, community, pool, &pairs, &st)) != 0) goto out;
  /* The pair layout went with the count (ns__collide_pairs); growth reads
  ** the bigraph. */

  if (pairs.n) {
    size_t nev = 3 * L.n_scope, nr = g->n_raters;
    G.L = &L;
    G.p = p;
    G.assigned = clique_id;
    G.rejected = -1;
    G.ev_cnt = ns_calloc(nev, sizeof *G.ev_cnt);
    G.in_A = ns_calloc(nev, 1);
    G.post_act = ns_calloc(L.n_posts, sizeof *G.post_act);
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
  ns__clayout_free(&L);
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
