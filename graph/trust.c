/*
** graph/trust.c -- personalized-PageRank trust on the agreement bigraph
** and the default seed rule.
**
** Who calls it: engine/ pipeline, once per scoring run, between the rater
** helpfulness stage and round-2 MF; the result is published per rater
** (raterTrust), it weights no rating (docs/trust.md §5 says why).  Threads: the caller's thread; the
** propagation fans out over an optional ns_pool with fixed chunking, so the
** result does not depend on the number of threads.
**
** The formulas and the reasons behind every constant are in docs/trust.md;
** the comments here say how the code realizes them.
*/
#include "graph.h"

#include "../base/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Chunk sizes for ns_pool_for.  They fix the summation order of the global
** L1/dangling sums, so they are constants, never derived from thread count. */
#define CHUNK_RATERS 8192
#define CHUNK_NOTES 8192

void ns_trust_params_default(ns_trust_params *p) {
  p->alpha = 0.85;
  p->tol = 1e-10;
  p->max_iter = 0;
  p->ref_frac = 0.5;
}

void ns_seed_params_default(ns_seed_params *p) {
  p->min_agree = 10;
  p->min_age_ms = 90LL * 24 * 3600 * 1000;
  p->top_frac = 0.25;
}

void ns_trust_result_free(ns_trust_result *r) {
  if (!r) return;
  free(r->mass);
  free(r->per_edge);
  free(r->trust);
  free(r->earned);
  memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------
** Propagation.
**
** The bigraph's CSR lists edge ids; following edge id -> endpoint on every
** iteration is a dependent random load.  We resolve it once into plain
** neighbour arrays (nbr_of_rater: note per edge in rater order, and
** nbr_of_note: rater per edge in note order), so an iteration is two
** streaming gathers: 2 * n_edges edge visits.
*/
typedef struct prop_ctx {
  const ns_bigraph *g;
  const uint32_t *nbr_of_rater;  /* n_edges: note ids, rater-CSR order */
  const uint32_t *nbr_of_note;   /* n_edges: rater ids, note-CSR order */
  const double *inv_deg_r;       /* 1/deg(u), 0 for deg 0 */
  const double *inv_deg_n;       /* 1/deg(n), 0 for deg 0 */
  const double *s;               /* normalized seeds */
  double alpha;
  double *x;                     /* current rater mass */
  double *x_new;
  double *z;                     /* x / deg(u) */
  double *y;                     /* per-note outgoing share */
  double teleport;               /* (1 - alpha + alpha * D) for this step */
  double *part_l1;               /* per rater chunk */
  double *part_dang;             /* per rater chunk: mass on degree-0 raters */
} prop_ctx;

/* y[n] = (sum of z over n's raters) / deg(n), in CSR order. */
static void note_pass(void *vc, size_t chunk, size_t b, size_t e) {
  prop_ctx *c = vc;
  const uint64_t *off = c->g->note_off;
  (void)chunk;
  for (size_t n = b; n < e; n++) {
    double acc = 0;
    for (uint64_t k = off[n]; k < off[n + 1]; k++) acc += c->z[c->nbr_of_note[k]];
    c->y[n] = acc * c->inv_deg_n[n];
  }
}

/* x_new[v] = alpha * sum y over v's notes + teleport * s[v]; also the next
** z, this chunk's L1 change and its dangling mass (of x_new). */
static void rater_pass(void *vc, size_t chunk, size_t b, size_t e) {
  prop_ctx *c = vc;
  const uint64_t *off = c->g->rater_off;
  double l1 = 0, dang = 0;
  for (size_t v = b; v < e; v++) {
    double acc = 0, xv;
    for (uint64_t k = off[v]; k < off[v + 1]; k++) acc += c->y[c->nbr_of_rater[k]];
    xv = c->alpha * acc + c->teleport * c->s[v];
    l1 += fabs(xv - c->x[v]);
    if (off[v + 1] == off[v]) dang += xv;
    c->x_new[v] = xv;
    c->z[v] = xv * c->inv_deg_r[v];
  }
  c->part_l1[chunk] = l1;
  c->part_dang[chunk] = dang;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int ns_trust_propagate(const ns_bigraph *g, const double *seed_w,
                       const ns_trust_params *p, ns_pool *pool,
                       ns_trust_result *out) {
  int rc = 0;
  size_t nr, nn, ne, nch;
  double seed_sum = 0, dang = 0;
  uint32_t *nbr_r = NULL, *nbr_n = NULL;
  double *inv_r = NULL, *inv_n = NULL, *s = NULL, *x = NULL, *x_new = NULL;
  double *z = NULL, *y = NULL, *pl1 = NULL, *pd = NULL, *tmp = NULL;
  ns_trust_params defp;
  prop_ctx c;
  int cap, it;

  memset(out, 0, sizeof *out);
  if (!p) {
    ns_trust_params_default(&defp);
    p = &defp;
  }
  if (!g || (g->n_edges && !g->rater_edges) || !seed_w || !(p->alpha >= 0 && p->alpha < 1) || !(p->tol >= 0) ||
      !(p->ref_frac > 0))
    return NS_EINVAL;
  nr = g->n_raters;
  nn = g->n_notes;
  ne = g->n_edges;
  for (size_t u = 0; u < nr; u++) {
    if (!(seed_w[u] >= 0) || isinf(seed_w[u])) return NS_EINVAL;
    seed_sum += seed_w[u];
  }
  if (!(seed_sum > 0)) return NS_EINVAL;

  nch = ns_pool_nchunks(nr, CHUNK_RATERS);
  nbr_r = ns_mallocn(ne, sizeof *nbr_r);
  nbr_n = ns_mallocn(ne, sizeof *nbr_n);
  inv_r = ns_mallocn(nr, sizeof *inv_r);
  inv_n = ns_mallocn(nn, sizeof *inv_n);
  s = ns_mallocn(nr, sizeof *s);
  x = ns_mallocn(nr, sizeof *x);
  x_new = ns_mallocn(nr, sizeof *x_new);
  z = ns_mallocn(nr, sizeof *z);
  y = ns_mallocn(nn, sizeof *y);
  pl1 = ns_calloc(nch, sizeof *pl1);
  pd = ns_calloc(nch, sizeof *pd);
  if (!nbr_r || !nbr_n || !inv_r || !inv_n || !s || !x || !x_new || !z || !y || !pl1 ||
      !pd) {
    rc = NS_ENOMEM;
    goto out;
  }
  /* Resolve edge ids to endpoints once; every iteration then streams
  ** through these arrays instead of chasing edge -> endpoint. */
  for (size_t k = 0; k < ne; k++) {
    nbr_r[k] = (uint32_t)ns_bigraph_edge_note(g, g->rater_edges[k]);
    nbr_n[k] = (uint32_t)g->edge_rater[ns_bigraph_note_edge(g, k)];
  }
  /* x_0 = s.  z and the dangling mass D are kept in step with x: the
  ** rater pass of iteration t produces the z and D that iteration t+1
  ** needs, so each iteration is exactly one note pass + one rater pass. */
  for (size_t u = 0; u < nr; u++) {
    uint64_t d = ns_bigraph_rater_degree(g, u);
    inv_r[u] = d ? 1.0 / (double)d : 0.0;
    s[u] = seed_w[u] / seed_sum;
    x[u] = s[u];
    z[u] = x[u] * inv_r[u];
    if (!d) dang += x[u];
  }
  for (size_t n = 0; n < nn; n++) {
    uint64_t d = ns_bigraph_note_degree(g, n);
    inv_n[n] = d ? 1.0 / (double)d : 0.0;
  }

  /* Iteration cap: ceil(log2(#nodes + 1)), at least 8.  See docs/trust.md
  ** ("Early termination") for why O(log n) and not "until converged". */
  cap = p->max_iter;
  if (cap <= 0) {
    cap = (int)ceil(log2((double)(nr + nn) + 1.0));
    if (cap < 8) cap = 8;
  }

  c.g = g;
  c.nbr_of_rater = nbr_r;
  c.nbr_of_note = nbr_n;
  c.inv_deg_r = inv_r;
  c.inv_deg_n = inv_n;
  c.s = s;
  c.alpha = p->alpha;
  c.x = x;
  c.x_new = x_new;
  c.z = z;
  c.y = y;
  c.part_l1 = pl1;
  c.part_dang = pd;
  out->last_l1 = 0;
  for (it = 0; it < cap; it++) {
    double l1 = 0, d_new = 0, *sw;
    /* Teleport plus the dangling mass of x: both go to the seeds, so the
    ** total stays 1 (dangling mass is not lost, and not spread uniformly,
    ** which would hand unearned mass to every account including a ring). */
    c.teleport = 1.0 - p->alpha + p->alpha * dang;
    ns_pool_for(pool, nn, CHUNK_NOTES, note_pass, &c);
    ns_pool_for(pool, nr, CHUNK_RATERS, rater_pass, &c);
    /* Chunk partials in chunk order: the same bits for any thread count. */
    for (size_t k = 0; k < nch; k++) {
      l1 += pl1[k];
      d_new += pd[k];
    }
    dang = d_new;
    sw = c.x;
    c.x = c.x_new;
    c.x_new = sw;
    out->last_l1 = l1;
    if (l1 < p->tol) {
      it++;
      break;
    }
  }
  out->iterations = it;
  out->edge_visits = 2 * (uint64_t)ne * (uint64_t)it;

  /* Results.  The final mass vector is c.x (one of the two buffers). */
  out->n_raters = nr;
  out->mass = ns_mallocn(nr, sizeof *out->mass);
  out->per_edge = ns_mallocn(nr, sizeof *out->per_edge);
  out->trust = ns_mallocn(nr, sizeof *out->trust);
  out->earned = ns_mallocn(nr, sizeof *out->earned);
  tmp = ns_mallocn(nr, sizeof *tmp);
  if (!out->mass || !out->per_edge || !out->trust || !out->earned || !tmp) {
    rc = NS_ENOMEM;
    goto out;
  }
  {
    size_t m = 0;
    double ref = 0;
    for (size_t u = 0; u < nr; u++) {
      out->mass[u] = c.x[u];
      out->per_edge[u] = c.x[u] * inv_r[u];
      if (inv_r[u] > 0) tmp[m++] = out->per_edge[u];
    }
    /* Median of per-edge mass over raters with edges: the "typical honest
    ** rater" level.  Upper median for even m (deterministic either way). */
    if (m) {
      qsort(tmp, m, sizeof *tmp, cmp_double);
      ref = tmp[m / 2];
    }
    out->ref = ref;
    for (size_t u = 0; u < nr; u++) {
      double t = out->per_edge[u], q;
      double deg = inv_r[u] > 0 ? (double)ns_bigraph_rater_degree(g, u) : 0.0;
      if (ref > 0) {
        q = t / (p->ref_frac * ref);
        out->trust[u] = q < 1 ? q : 1;
        q = t / ref;
        out->earned[u] = deg * (q < 1 ? q : 1);
      } else {
        out->trust[u] = 0;
        out->earned[u] = 0;
      }
    }
  }

out:
  if (rc) ns_trust_result_free(out);
  free(nbr_r);
  free(nbr_n);
  free(inv_r);
  free(inv_n);
  free(s);
  free(x);
  free(x_new);
  free(z);
  free(y);
  free(pl1);
  free(pd);
  free(tmp);
  return rc;
}

/* ------------------------------------------------------------------------
** Default seeds.
*/
typedef struct seed_rank {
  int32_t agree;
  int64_t first;
  size_t idx;
} seed_rank;

static int cmp_seed(const void *a, const void *b) {
  const seed_rank *x = a, *y = b;
  if (x->agree != y->agree) return x->agree > y->agree ? -1 : 1;
  if (x->first != y->first) return x->first < y->first ? -1 : 1;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

static int enroll_ok(const int8_t *enroll, size_t u) {
  /* earnedIn (1) and apiEarnedIn (7); unknown (-1) does not disqualify,
  ** because the public enrollment file does not cover every rater. */
  return !enroll || enroll[u] < 0 || enroll[u] == NS_ENROLL_EARNED_IN ||
         enroll[u] == NS_ENROLL_API_EARNED_IN;
}

int ns_trust_default_seeds(size_t n_raters, const int32_t *n_agree,
                           const int64_t *first_ms, const int8_t *enroll,
                           int64_t now_ms, const ns_seed_params *p,
                           double *seed_w, size_t *n_seeds) {
  ns_seed_params defp;
  seed_rank *cand = NULL;
  size_t m = 0, take;
  int rc = 0;

  if (n_seeds) *n_seeds = 0;
  if (!p) {
    ns_seed_params_default(&defp);
    p = &defp;
  }
  if (!n_agree || !seed_w || !(p->top_frac > 0 && p->top_frac <= 1)) return NS_EINVAL;
  for (size_t u = 0; u < n_raters; u++) seed_w[u] = 0;
  cand = ns_mallocn(n_raters, sizeof *cand);
  if (!cand) return NS_ENOMEM;

  /* Three passes, each more lenient, until somebody qualifies: a young
  ** deployment (or a test set) may have nobody 90 days old, and running
  ** with no seeds is impossible, while running with weaker seeds is just
  ** weaker.  The pipeline logs the count so an operator can tell. */
  for (int pass = 0; pass < 3 && m == 0; pass++) {
    int32_t min_agree = pass < 2 ? p->min_agree : 1;
    if (min_agree < 1) min_agree = 1;
    for (size_t u = 0; u < n_raters; u++) {
      int64_t f = first_ms ? first_ms[u] : INT64_MIN;
      if (n_agree[u] < min_agree) continue;
      if (pass == 0) {
        if (!enroll_ok(enroll, u)) continue;
        if (first_ms && (f == INT64_MAX || f > now_ms - p->min_age_ms)) continue;
      }
      cand[m].agree = n_agree[u];
      cand[m].first = f;
      cand[m].idx = u;
      m++;
    }
  }
  if (m == 0) {
    rc = NS_ENODATA;
    goto out;
  }
  qsort(cand, m, sizeof *cand, cmp_seed);
  take = (size_t)ceil(p->top_frac * (double)m);
  if (take < 1) take = 1;
  if (take > m) take = m;
  for (size_t i = 0; i < take; i++) seed_w[cand[i].idx] = 1.0;
  if (n_seeds) *n_seeds = take;
out:
  free(cand);
  return rc;
}
