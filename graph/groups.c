/*
** graph/groups.c -- coordinated-group detection by co-rating (reference
** §7.1, "post-selection similarity") and the "a group counts as one rater
** per note" rating filter.
**
** Who calls it: engine/ pipeline, once per scoring run, on all ratings,
** before the round-1 fit.  Threads: the caller's; the pair walk runs on the
** caller's ns_pool with fixed chunking and is bit-identical for any thread
** count (docs/trust.md has the measured cost).
**
** The reference enumerates every rater pair of every post inside the
** 20-minute window, which on popular notes is quadratic and takes hours on
** the public data.  Here a rating is paired only with the next max_window
** qualifying ratings of the same note (sorted by time), so the work is
** O(R * max_window).  Pair counts never go through a global pair table:
** they are accumulated one rater at a time in a dense array (see "The pair
** walk" below), so memory is O(R + raters) whatever the number of distinct
** pairs -- at 10 M ratings a hash map of pairs took 2.5 GB and most of the
** run's time.
*/
#include "graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ns_corate_params_default(ns_corate_params *p) {
  p->window_ms = 20LL * 60 * 1000;
  p->max_window = 64;
  p->min_posts = 10;
  p->npmi_min = 0.55;
  p->minsim_min = 0.4;
  p->smooth = 500.0;
  p->minsim_add = 10.0;
  p->burst_mult = 0.0;
  p->burst_min = 10.0;
}

/* ------------------------------------------------------------------------
** Union-find with the smaller index as root, so the result does not depend
** on the order in which pairs are merged.
*/
/* Root of a, halving the path on the way (parents only move toward the
** smaller-index root, so this never changes which root is found). */
static int32_t uf_find(int32_t *par, int32_t a) {
  while (par[a] != a) {
    par[a] = par[par[a]];
    a = par[a];
  }
  return a;
}

static void uf_union(int32_t *par, int32_t a, int32_t b) {
  a = uf_find(par, a);
  b = uf_find(par, b);
  if (a == b) return;
  if (a < b) par[b] = a;
  else par[a] = b;
}

/* ------------------------------------------------------------------------
** The co-rating index, built once and shared by every pass.
**
** Notes are ranked by (post, note), so the notes of one post are adjacent.
** qs[] holds every QUALIFYING rating (rater with T >= min_posts) grouped by
** note rank and sorted by (time, rater) inside each note: the "window"
** neighbours of a rating are simply its neighbours in qs[].  rpos[] lists,
** per rater, that rater's positions in qs[] in increasing order -- hence
** grouped by post.
*/
typedef struct qrow {
  int64_t time;
  int32_t rater;
  int32_t rank;  /* note rank of this row (its segment in qs[]) */
} qrow;

typedef struct cindex {
  size_t n_ranks;
  size_t n_q;
  qrow *qs;          /* n_q rows */
  uint32_t *qoff;    /* n_ranks + 1: segment of note rank k */
  int32_t *rank_post;/* n_ranks: dense post index of note rank k */
  uint32_t *roff;    /* n_raters + 1 */
  uint32_t *rpos;    /* n_q: positions in qs[] by rater */
  int32_t *T;        /* n_raters: distinct posts rated */
  double N;          /* sum of T */
} cindex;

static void cindex_free(cindex *x) {
  free(x->qs), free(x->qoff), free(x->rank_post);
  free(x->roff), free(x->rpos), free(x->T);
  memset(x, 0, sizeof *x);
}

static int cmp_qrow(const void *a, const void *b) {
  const qrow *x = a, *y = b;
  if (x->time != y->time) return x->time < y->time ? -1 : 1;
  return (x->rater > y->rater) - (x->rater < y->rater);
}

/* Note ranks sorted by (post, note). */
typedef struct nkey {
  int64_t post;
  int32_t note;
} nkey;

static int cmp_nkey(const void *a, const void *b) {
  const nkey *x = a, *y = b;
  if (x->post != y->post) return x->post < y->post ? -1 : 1;
  return (x->note > y->note) - (x->note < y->note);
}

static void sort_segments(void *ctx, size_t chunk, size_t b, size_t e) {
  cindex *x = ctx;
  (void)chunk;
  for (size_t k = b; k < e; k++)
    if (x->qoff[k + 1] - x->qoff[k] > 1)
      qsort(x->qs + x->qoff[k], x->qoff[k + 1] - x->qoff[k], sizeof *x->qs, cmp_qrow);
}

static int cindex_build(cindex *x, size_t nr, const int32_t *rater, const int32_t *note,
                        const int64_t *time_ms, const int64_t *post, size_t n_raters,
                        int min_posts, ns_pool *pool) {
  size_t n_notes = 0, n_ranks = 0, n_q = 0;
  uint32_t *noff = NULL, *byn = NULL, *stamp = NULL;
  int32_t *rank_of = NULL;
  nkey *keys = NULL;
  int rc = 0;

  memset(x, 0, sizeof *x);
  for (size_t i = 0; i < nr; i++)
    if ((size_t)note[i] + 1 > n_notes) n_notes = (size_t)note[i] + 1;
  noff = ns_calloc(n_notes + 1, sizeof *noff);
  byn = ns_mallocn(nr, sizeof *byn);
  rank_of = ns_mallocn(n_notes, sizeof *rank_of);
  keys = ns_mallocn(n_notes, sizeof *keys);
  stamp = ns_calloc(n_raters, sizeof *stamp);
  x->T = ns_calloc(n_raters, sizeof *x->T);
  x->roff = ns_calloc(n_raters + 1, sizeof *x->roff);
  if (!noff || !byn || !rank_of || !keys || !stamp || !x->T || !x->roff) goto nomem;

  /* Ratings by note (counting sort, stable), and each note's post, which
  ** must be the same for all of its ratings. */
  for (size_t i = 0; i < nr; i++) noff[note[i] + 1]++;
  for (size_t n = 0; n < n_notes; n++) noff[n + 1] += noff[n];
  for (size_t i = 0; i < nr; i++) byn[noff[note[i]]++] = (uint32_t)i;
  for (size_t n = n_notes; n > 0; n--) noff[n] = noff[n - 1];
  noff[0] = 0;
  for (size_t n = 0; n < n_notes; n++) {
    rank_of[n] = -1;
    if (noff[n] == noff[n + 1]) continue;
    keys[n_ranks].note = (int32_t)n;
    keys[n_ranks].post = post ? post[byn[noff[n]]] : (int64_t)n;
    for (uint32_t j = noff[n]; post && j < noff[n + 1]; j++)
      if (post[byn[j]] != keys[n_ranks].post) { rc = NS_EINVAL; goto out; }
    n_ranks++;
  }
  qsort(keys, n_ranks, sizeof *keys, cmp_nkey);
  x->n_ranks = n_ranks;
  x->rank_post = ns_mallocn(n_ranks, sizeof *x->rank_post);
  x->qoff = ns_calloc(n_ranks + 1, sizeof *x->qoff);
  if (!x->rank_post || !x->qoff) goto nomem;

  /* T[u] = distinct posts rated by u: a post's ratings are the ratings of
  ** its adjacent note ranks, so a stamp per rater finds the distinct ones. */
  {
    int32_t pi = -1;
    for (size_t k = 0; k < n_ranks; k++) {
      int32_t n = keys[k].note;
      rank_of[n] = (int32_t)k;
      if (k == 0 || keys[k].post != keys[k - 1].post) pi++;
      x->rank_post[k] = pi;
      for (uint32_t j = noff[n]; j < noff[n + 1]; j++) {
        int32_t u = rater[byn[j]];
        if (stamp[u] != (uint32_t)pi + 1) {
          stamp[u] = (uint32_t)pi + 1;
          x->T[u]++;
          x->N += 1;
        }
      }
    }
  }

  /* Qualifying rows in rank order, then each note's segment by time. */
  for (size_t k = 0; k < n_ranks; k++) {
    int32_t n = keys[k].note;
    for (uint32_t j = noff[n]; j < noff[n + 1]; j++)
      if (x->T[rater[byn[j]]] >= min_posts) n_q++;
  }
  if (n_q >= UINT32_MAX) { rc = NS_EINVAL; goto out; }
  x->n_q = n_q;
  x->qs = ns_mallocn(n_q, sizeof *x->qs);
  x->rpos = ns_mallocn(n_q, sizeof *x->rpos);
  if (!x->qs || !x->rpos) goto nomem;
  n_q = 0;
  for (size_t k = 0; k < n_ranks; k++) {
    int32_t n = keys[k].note;
    x->qoff[k] = (uint32_t)n_q;
    for (uint32_t j = noff[n]; j < noff[n + 1]; j++) {
      size_t i = byn[j];
      if (x->T[rater[i]] < min_posts) continue;
      x->qs[n_q].time = time_ms[i];
      x->qs[n_q].rater = rater[i];
      x->qs[n_q].rank = (int32_t)k;
      n_q++;
    }
  }
  x->qoff[n_ranks] = (uint32_t)n_q;
  ns_pool_for(pool, n_ranks, 256, sort_segments, x);

  /* Positions by rater: a counting sort over increasing positions keeps
  ** each rater's list in rank (hence post) order. */
  for (size_t q = 0; q < n_q; q++) x->roff[x->qs[q].rater + 1]++;
  for (size_t u = 0; u < n_raters; u++) x->roff[u + 1] += x->roff[u];
  for (size_t q = 0; q < n_q; q++) x->rpos[x->roff[x->qs[q].rater]++] = (uint32_t)q;
  for (size_t u = n_raters; u > 0; u--) x->roff[u] = x->roff[u - 1];
  x->roff[0] = 0;
  goto out;
nomem:
  rc = NS_ENOMEM;
out:
  if (rc) cindex_free(x);
  free(noff), free(byn), free(rank_of), free(keys), free(stamp);
  return rc;
}

/* ------------------------------------------------------------------------
** The pair walk.  Pair counts are accumulated rater by rater (Gustavson's
** sparse-accumulator scheme): for rater a, every windowed neighbour c > a
** of each of a's rows is counted in a dense per-chunk array, once per post
** (a stamp per c remembers the last (a, post) visit that counted it).
** Each unordered pair is therefore counted exactly once per post, from its
** smaller rater, without any global pair table.  Only pairs whose count
** could pass a criterion (>= cmin) are kept as candidates; everything else
** contributes to the totals (distinct pairs, sum of counts) and is dropped.
*/
typedef struct cand {
  int32_t a, c;
  uint32_t co;
} cand;

typedef struct pass_out {
  uint64_t events, distinct, sum_co;
  NS_VEC(cand) cands;
} pass_out;

typedef struct walk_ctx {
  const cindex *x;
  size_t n_raters, n_passes;
  const ns_corate_params *const *p;
  const uint32_t *cmin;   /* per pass */
  pass_out *out;          /* n_chunks * n_passes, chunk-major */
  int *rc;                /* per chunk */
} walk_ctx;

/* Prefetch distance in rows of a rater's list (see walk_pass). */
#define NS__PF 12

/* Per-rater accumulator slot: the (a, post) visit that last counted this
** rater, and its count for the current a.  Interleaved so one cache line
** serves both. */
typedef struct accslot {
  uint32_t stamp, acc;
} accslot;

/* One pass over raters [b, e): counts every windowed neighbour c > a of
** each of a's rows once per post, then folds a's counts into out. */
static int walk_pass(const cindex *x, const ns_corate_params *p, uint32_t cmin, size_t b,
                     size_t e, accslot *slot, int32_t *touched, pass_out *out) {
  const qrow *qs = x->qs;
  int64_t win = p->window_ms;
  uint32_t W = (uint32_t)p->max_window, visit = 0;
  int rc = 0;

  for (size_t a = b; a < e; a++) {
    size_t nt = 0;
    int32_t last_post = -1;
    uint64_t ev = 0;
    for (uint32_t r = x->roff[a]; r < x->roff[a + 1]; r++) {
      uint32_t q = x->rpos[r];
      int32_t k;
      uint32_t lo, hi;
      int64_t t;
      /* a's rows are scattered over all notes: fetch a later row's
      ** neighbourhood ahead, or the walk is one cache miss per row (it
      ** halved the walk at 10 M ratings).  r + PF may belong to the next
      ** rater: harmless. */
      if (r + NS__PF < x->n_q) {
        uint32_t f = x->rpos[r + NS__PF];
        __builtin_prefetch(&qs[f]);
        if (f + 4 < x->n_q) __builtin_prefetch(&qs[f + 4]);
        if (f >= 4) __builtin_prefetch(&qs[f - 4]);
      }
      k = qs[q].rank;
      lo = x->qoff[k];
      hi = x->qoff[k + 1];
      t = qs[q].time;
      if (x->rank_post[k] != last_post) {
        last_post = x->rank_post[k];
        visit++;
      }
      for (uint32_t j = q + 1; j < hi && j - q <= W; j++) {
        int32_t c = qs[j].rater;
        if (qs[j].time - t > win) break;
        if (c <= (int32_t)a) continue;
        ev++;
        if (slot[c].stamp == visit) continue;
        slot[c].stamp = visit;
        if (slot[c].acc++ == 0) touched[nt++] = c;
      }
      for (uint32_t j = q; j > lo && q - (j - 1) <= W; j--) {
        int32_t c = qs[j - 1].rater;
        if (t - qs[j - 1].time > win) break;
        if (c <= (int32_t)a) continue;
        ev++;
        if (slot[c].stamp == visit) continue;
        slot[c].stamp = visit;
        if (slot[c].acc++ == 0) touched[nt++] = c;
      }
    }
    out->events += ev;
    for (size_t i = 0; i < nt; i++) {
      int32_t c = touched[i];
      uint32_t co = slot[c].acc;
      slot[c].acc = 0;
      out->distinct++;
      out->sum_co += co;
      if (co >= cmin) {
        cand cd = {(int32_t)a, c, co};
        if (ns_vec_push(&out->cands, cd)) rc = NS_ENOMEM;
      }
    }
  }
  return rc;
}

/* Passes run one after another over the chunk's raters, so only one
** pass's accumulator (8 bytes per rater) is hot at a time. */
static void walk_chunk(void *vctx, size_t chunk, size_t b, size_t e) {
  walk_ctx *w = vctx;
  size_t nu = w->n_raters ? w->n_raters : 1;
  accslot *slot = ns_mallocn(nu, sizeof *slot);
  int32_t *touched = ns_mallocn(nu, sizeof *touched);

  if (!slot || !touched) {
    w->rc[chunk] = NS_ENOMEM;
  } else {
    for (size_t s = 0; s < w->n_passes && !w->rc[chunk]; s++) {
      memset(slot, 0, nu * sizeof *slot);
      w->rc[chunk] = walk_pass(w->x, w->p[s], w->cmin[s], b, e, slot, touched,
                               &w->out[chunk * w->n_passes + s]);
    }
  }
  free(slot);
  free(touched);
}

/* The smallest pair count that can pass any enabled criterion of p, given
** that both raters have T >= min_posts (every criterion grows with co and
** shrinks with T).  Rounded down and never below 1, so it is a safe bound:
** a pair below it is certainly not suspect. */
static uint32_t min_suspect_count(const ns_corate_params *p, double N) {
  double c = 1e18;
  double tm = p->min_posts > 0 ? p->min_posts : 0;
  if (p->minsim_min < 1e17) c = NS_MIN(c, p->minsim_min * (tm + p->minsim_add));
  if (p->burst_mult > 0) c = NS_MIN(c, p->burst_min);
  /* NPMI >= m  <=>  ln co (1 + m) >= m ln N - ln N + ln D  (0 < m <= 1). */
  if (p->npmi_min <= 1 && N > 1) {
    double m = p->npmi_min, lnD = 2 * log(tm + p->smooth);
    if (m > 0) c = NS_MIN(c, exp((m * log(N) - log(N) + lnD) / (1 + m)));
    else c = 1;
  }
  c = floor(c * (1 - 1e-9));
  if (!(c >= 1)) return 1;
  return c > (double)UINT32_MAX ? UINT32_MAX : (uint32_t)c;
}

/* Judges one pass's candidates and labels groups, as documented in
** graph.h.  T, N from the index; totals from the walk. */
static int judge(const cindex *x, size_t n_raters, const ns_corate_params *p,
                 const pass_out *outs, size_t n_chunks, size_t n_passes, size_t s,
                 int32_t *group_id, ns_corate_stats *st) {
  int32_t *par = ns_mallocn(n_raters, sizeof *par);
  int32_t *size = ns_calloc(n_raters, sizeof *size);
  const int32_t *T = x->T;
  double N = x->N, rho = 0;
  uint64_t sum_co = 0;

  if (!par || !size) {
    free(par), free(size);
    return NS_ENOMEM;
  }
  for (size_t ch = 0; ch < n_chunks; ch++) {
    const pass_out *o = &outs[ch * n_passes + s];
    st->pair_events += o->events;
    st->distinct_pairs += o->distinct;
    sum_co += o->sum_co;
    st->co_ratings += o->sum_co;
  }
  /* Burst criterion: the pair counts' chance level.  If windowed
  ** co-ratings fell on pairs in proportion to their activity, a pair would
  ** expect rho T_a T_b of them. */
  if (p->burst_mult > 0) {
    double sum_t = 0, sum_t2 = 0, pairs;
    for (size_t u = 0; u < n_raters; u++)
      if (T[u] >= p->min_posts) {
        sum_t += T[u];
        sum_t2 += (double)T[u] * T[u];
      }
    pairs = (sum_t * sum_t - sum_t2) / 2;
    rho = pairs > 0 ? (double)sum_co / pairs : 0;
  }
  for (size_t u = 0; u < n_raters; u++) par[u] = (int32_t)u;
  /* co == N would make -ln(co/N) zero; NPMI is then left undefined (-1)
  ** and only the minSim rule can fire -- it only happens on toy inputs. */
  for (size_t ch = 0; ch < n_chunks; ch++) {
    const pass_out *o = &outs[ch * n_passes + s];
    for (size_t i = 0; i < o->cands.n; i++) {
      const cand *cd = &o->cands.a[i];
      double co = cd->co, ta = T[cd->a], tb = T[cd->c];
      double pmi = log(co * N / ((ta + p->smooth) * (tb + p->smooth))), npmi = -1;
      double minsim = co / (NS_MIN(ta, tb) + p->minsim_add);
      int burst = p->burst_mult > 0 && co >= p->burst_min && co >= p->burst_mult * rho * ta * tb;
      if (co < N) npmi = pmi / -log(co / N);
      if (npmi >= p->npmi_min || minsim >= p->minsim_min || burst) {
        st->suspect_pairs++;
        uf_union(par, cd->a, cd->c);
      }
    }
  }
  /* Ids: components of >= 2 raters, numbered by smallest member.  The
  ** root is the smallest member, so scanning u upward meets each root
  ** before any other member. */
  for (size_t u = 0; u < n_raters; u++) size[uf_find(par, (int32_t)u)]++;
  for (size_t u = 0; u < n_raters; u++) {
    int32_t r = uf_find(par, (int32_t)u);
    if (size[r] < 2) continue;
    if ((size_t)r == u) group_id[u] = (int32_t)++st->n_groups;
    else group_id[u] = group_id[r];
    st->n_grouped++;
  }
  free(par), free(size);
  return 0;
}

int ns_groups_corate_multi(size_t n_ratings, const int32_t *rater, const int32_t *note,
                           const int64_t *time_ms, const int64_t *post, size_t n_raters,
                           size_t n_passes, const ns_corate_params *const *params,
                           ns_pool *pool, int32_t *const *group_ids,
                           ns_corate_stats *stats) {
  cindex x;
  pass_out *outs = NULL;
  int *crc = NULL;
  uint32_t cmin[8];
  size_t hint, n_chunks;
  double t0 = ns_monotonic_s();
  int rc = 0;

  memset(&x, 0, sizeof x);
  if (n_passes < 1 || n_passes > 8 || !params || !group_ids) return NS_EINVAL;
  for (size_t s = 0; s < n_passes; s++) {
    const ns_corate_params *p = params[s];
    if (!p || !group_ids[s] || p->max_window < 1 || p->window_ms < 0 ||
        p->min_posts != params[0]->min_posts)
      return NS_EINVAL;
    for (size_t u = 0; u < n_raters; u++) group_ids[s][u] = 0;
    if (stats) memset(&stats[s], 0, sizeof stats[s]);
  }
  if ((n_ratings && (!rater || !note || !time_ms)) || n_raters >= INT32_MAX ||
      n_ratings >= UINT32_MAX)
    return NS_EINVAL;
  for (size_t i = 0; i < n_ratings; i++)
    if (rater[i] < 0 || (size_t)rater[i] >= n_raters || note[i] < 0) return NS_EINVAL;

  if ((rc = cindex_build(&x, n_ratings, rater, note, time_ms, post, n_raters,
                         params[0]->min_posts, pool)) != 0)
    goto out;
  ns_log(NS_LOG_DEBUG, "co-rating: index of %zu rows built in %.3f s", x.n_q,
         ns_monotonic_s() - t0);
  for (size_t s = 0; s < n_passes; s++) cmin[s] = min_suspect_count(params[s], x.N);
  /* About 32 chunks: enough to balance heavy raters over two to eight
  ** threads, few enough that the per-chunk scratch (12 bytes per rater
  ** per pass) is allocated rarely.  Boundaries depend on n_raters only. */
  hint = n_raters / 32 + 1;
  if (hint < 1024) hint = 1024;
  n_chunks = ns_pool_nchunks(n_raters, hint);
  outs = ns_calloc(n_chunks * n_passes + 1, sizeof *outs);
  crc = ns_calloc(n_chunks + 1, sizeof *crc);
  if (!outs || !crc) { rc = NS_ENOMEM; goto out; }
  {
    walk_ctx w = {&x, n_raters, n_passes, params, cmin, outs, crc};
    ns_pool_for(pool, n_raters, hint, walk_chunk, &w);
  }
  ns_log(NS_LOG_DEBUG, "co-rating: pair walk done at %.3f s", ns_monotonic_s() - t0);
  for (size_t ch = 0; ch < n_chunks; ch++)
    if (crc[ch]) { rc = crc[ch]; goto out; }
  for (size_t s = 0; s < n_passes; s++) {
    ns_corate_stats st;
    memset(&st, 0, sizeof st);
    if ((rc = judge(&x, n_raters, params[s], outs, n_chunks, n_passes, s, group_ids[s], &st)) != 0)
      goto out;
    if (stats) stats[s] = st;
  }

out:
  if (rc)
    for (size_t s = 0; s < n_passes; s++)
      for (size_t u = 0; u < n_raters; u++) group_ids[s][u] = 0;
  if (outs)
    for (size_t i = 0; i < n_chunks * n_passes; i++) ns_vec_free(&outs[i].cands);
  free(outs);
  free(crc);
  cindex_free(&x);
  return rc;
}

int ns_groups_corate(size_t n_ratings, const int32_t *rater, const int32_t *note,
                     const int64_t *time_ms, const int64_t *post, size_t n_raters,
                     const ns_corate_params *p, int32_t *group_id,
                     ns_corate_stats *stats) {
  ns_corate_params defp;
  if (!p) {
    ns_corate_params_default(&defp);
    p = &defp;
  }
  return ns_groups_corate_multi(n_ratings, rater, note, time_ms, post, n_raters, 1, &p, NULL,
                                &group_id, stats);
}

/* ------------------------------------------------------------------------
** One rating per (note, group).
*/
typedef struct drow {
  int32_t note, group, rater;
  int64_t time;
  size_t idx;
} drow;

static int cmp_drow(const void *a, const void *b) {
  const drow *x = a, *y = b;
  if (x->note != y->note) return x->note < y->note ? -1 : 1;
  if (x->group != y->group) return x->group < y->group ? -1 : 1;
  if (x->time != y->time) return x->time < y->time ? -1 : 1;
  if (x->rater != y->rater) return x->rater < y->rater ? -1 : 1;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

int ns_groups_dedup(size_t n_ratings, const int32_t *rater, const int32_t *note,
                    const int64_t *time_ms, size_t n_raters, size_t n_notes,
                    const int32_t *note_author, const int32_t *group_id,
                    uint8_t *drop, size_t *n_dropped) {
  drow *rows = NULL;
  size_t m = 0, nd = 0;
  int rc = 0;

  if (n_dropped) *n_dropped = 0;
  if (!drop || !group_id || (n_ratings && (!rater || !note || !time_ms))) return NS_EINVAL;
  for (size_t i = 0; i < n_ratings; i++) {
    drop[i] = 0;
    if (rater[i] < 0 || (size_t)rater[i] >= n_raters || note[i] < 0 ||
        (size_t)note[i] >= n_notes)
      return NS_EINVAL;
    if (group_id[rater[i]] > 0) m++;
  }
  rows = ns_mallocn(m, sizeof *rows);
  if (!rows) return NS_ENOMEM;
  m = 0;
  for (size_t i = 0; i < n_ratings; i++) {
    int32_t g = group_id[rater[i]], a;
    if (g <= 0) continue;
    /* Members do not rate notes written by their own group. */
    a = note_author ? note_author[note[i]] : -1;
    if (a >= 0 && (size_t)a < n_raters && group_id[a] == g) {
      drop[i] = 1;
      continue;
    }
    rows[m].note = note[i];
    rows[m].group = g;
    rows[m].rater = rater[i];
    rows[m].time = time_ms[i];
    rows[m].idx = i;
    m++;
  }
  /* Sorted by (note, group, time, rater, index): the first row of each
  ** (note, group) run is the earliest rating, which is the one kept. */
  qsort(rows, m, sizeof *rows, cmp_drow);
  for (size_t k = 1; k < m; k++)
    if (rows[k].note == rows[k - 1].note && rows[k].group == rows[k - 1].group)
      drop[rows[k].idx] = 1;
  for (size_t i = 0; i < n_ratings; i++) nd += drop[i];
  if (n_dropped) *n_dropped = nd;
  free(rows);
  return rc;
}
