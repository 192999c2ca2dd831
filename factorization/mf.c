/*
** factorization/mf.c -- matrix factorization with intercepts, fitted by
** exact alternating least squares (ALS).
**
** Called by engine/ (the scoring pipeline) through ns_mf_fit_gathered(), on
** its packed 4-byte slots, and by tests and tools through ns_mf_fit() on
** per-rating columns; one fit runs on the caller's thread and fans the
** per-row work out over an ns_pool.
**
** Why ALS works here.  Multiply the loss of mf.h by N (the number of
** ratings).  With every note parameter and mu held fixed, the terms that
** involve rater u are
**
**     sum_{e of u} w_e (t_e - i_u - f_u . f_n(e))^2
**       + (lambda_i N / n_users) i_u^2 + (lambda_f N / n_users) |f_u|^2,
**
** t_e = r_e - mu - i_n(e): an ordinary ridge regression of t on
** x_e = [1, f_n(e)].  Its exact minimizer solves the (k+1)x(k+1) normal
** equations
**
**     (sum_e w_e x_e x_e^T + diag(pen_i, pen_f, ..., pen_f)) [i_u; f_u]
**         = sum_e w_e x_e t_e,
**
** which are positive definite whenever the penalties are > 0.  Notes are
** the same with the roles swapped and penalties lambda * N / n_notes (or
** lambda * N / note_reg_scale in ratio mode).  mu has the closed form
** mu = sum w res / (sum w + lambda_mu N), res = r - i_u - i_n - f_u . f_n.
** Each exact block update can only lower L, so L decreases monotonically.
**
** Layout of a pass.  Before a side is solved the other side's parameters
** are packed into one (k+1)-stride array (intercept, then factors), so the
** random access per rating touches one cache line instead of two.  Rows
** are split into chunks whose size depends only on the data; each chunk
** writes its own rows and one slot of partial sums, and the partials are
** added in chunk order, so the result does not depend on the thread count.
** The last side solved in a pass also accumulates sum w, sum w res and
** sum w res^2 (res without mu) with the new parameters: that gives the mu
** update and the loss of the pass without another sweep over the ratings.
*/
#include "mf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


/* Partial sums written by every chunk of a side pass (or loss pass). */
enum {
  P_S0,     /* sum w over the chunk's edges */
  P_S1,     /* sum w * res, res = r - i_u - i_n - f_u.f_n (mu excluded) */
  P_S2,     /* sum w * res^2 */
  P_RI,     /* sum of intercept^2 over the chunk's rows */
  P_RF,     /* sum of |factor|^2 over the chunk's rows */
  P_BAD,    /* rows whose normal equations were not positive definite */
  P_N
};

/* Target number of ratings per chunk: big enough that scheduling costs
** nothing, small enough that two threads stay balanced on skewed degrees. */
#define MF_EDGES_PER_CHUNK 16384
#define MF_MAX_CHUNKS 8192

void ns_mf_params_default(ns_mf_params *p) {
  memset(p, 0, sizeof *p);
  p->k = 1;
  p->lambda_i = 0.15;
  p->lambda_f = 0.03;
  p->lambda_in = 0.15;
  p->lambda_fn = 0.03;
  p->lambda_mu = 0.15;
  p->note_reg_scale = 0;
  p->max_iters = 200;
  p->tol = 1e-7;
  p->seed = 0;
  p->use_mu = 1;
  p->flip_sign = 1;
}

int ns_mf_model_init(ns_mf_model *m, size_t n_users, size_t n_notes, int k) {
  size_t nu, nn, total;
  memset(m, 0, sizeof *m);
  if (k < 1 || k > NS_MF_MAX_K) return NS_EINVAL;
  nu = n_users * (size_t)(k + 1);
  nn = n_notes * (size_t)(k + 1);
  if ((n_users && nu / n_users != (size_t)(k + 1)) ||
      (n_notes && nn / n_notes != (size_t)(k + 1)) || nu + nn < nu)
    return NS_ENOMEM;
  total = nu + nn;
  /* at least one element so an empty model still owns a real block */
  m->block = ns_calloc(total, sizeof(double));
  if (!m->block) return NS_ENOMEM;
  m->n_users = n_users;
  m->n_notes = n_notes;
  m->k = k;
  m->user_icpt = m->block;
  m->user_fac = m->user_icpt + n_users;
  m->note_icpt = m->user_fac + n_users * (size_t)k;
  m->note_fac = m->note_icpt + n_notes;
  return 0;
}

void ns_mf_model_free(ns_mf_model *m) {
  if (!m) return;
  free(m->block);
  memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------------
** One side of the bigraph as the solver sees it.
*/
/* One rating as a side pass reads it in ns_mf_fit's own gathered copy:
** CSR order, so a row's ratings are contiguous and the pass streams
** through memory.  ns_mf_fit_gathered reads the caller's packed slots
** (mf.h) instead: the row and a code into the fit's (value, weight) table
** in one uint32. */
typedef struct mf_edge {
  uint32_t other;           /* row on the other side */
  float value;              /* target r_e */
} mf_edge;

typedef struct mf_side {
  size_t n;                 /* rows on this side */
  const uint64_t *off;      /* CSR offsets (n + 1) */
  const uint32_t *edges;    /* CSR edge ids (graph order); NULL = identity */
  const int32_t *other;     /* per edge id: row on the other side; NULL
                             ** on the rater side of a graph in note order:
                             ** ns_bigraph_edge_note(graph, id) */
  const ns_bigraph *graph;
  mf_edge *pe;              /* per CSR slot: other row and value (ns_mf_fit) */
  const uint32_t *slot;     /* or per CSR slot: other row | code
                             ** (ns_mf_fit_gathered; pe is then NULL) */
  const double *vw;         /* slot only: per code, value and weight as
                             ** doubles (2 per code: one cache line) */
  unsigned shift;           /* slot only: row bits; code = slot >> shift */
  uint32_t mask;            /* slot only: row = slot & mask */
  float *pw;                /* per CSR slot: weight (NULL: all 1, or for
                             ** slots the table's weights) */
  int borrowed;             /* slot / pw are the caller's (ns_mf_fit_gathered) */
  double *icpt;             /* this side's intercepts (model array) */
  double *fac;              /* this side's factors, n x k (model array) */
  double pen_i, pen_f;      /* ridge penalties already scaled by N / n */
  size_t hint, nchunks;     /* fixed chunking of the rows */
} mf_side;

/* Everything a chunk of a side pass needs; shared read-only except part. */
typedef struct mf_pass {
  const mf_side *s;
  const double *oth;        /* other side packed: (k+1) doubles per row */
  int k;
  double mu;
  int solve;                /* 1: solve the rows; 0: only accumulate */
  int want_data;            /* 1: accumulate S0, S1, S2 over the edges */
  double *part;             /* P_N doubles per chunk */
} mf_pass;

/* The hot loops below are written once for the three layouts of a side:
** each takes `packed` as a constant, and side_chunk() calls them through
** three wrappers, so the compiler emits one loop per layout with no
** per-rating branch on the layout.  All read the same float target and
** weight (widened to double), so a fit on any layout sums the same numbers
** in the same order. */
#define MF_INLINE static inline __attribute__((always_inline))
enum {
  MF_PLAIN = 0,     /* ns_mf_fit's pe (+ pw or none) */
  MF_TABLE = 1,     /* slots; value and weight from the table */
  MF_SLOT_PW = 2    /* slots; value from the table, weight from pw */
};

/* Slot j of side s: the row on the other side, the target and the weight.
** On the table layout an unweighted fit reads weight 1.0 from the table:
** every product with it is exact, so the sums are those of w = 1.0. */
MF_INLINE size_t edge_at(const mf_side *s, uint64_t j, const int packed, double *value,
                         double *w) {
  if (packed != MF_PLAIN) {
    uint32_t x = s->slot[j];
    const double *t = s->vw + 2 * (size_t)(x >> s->shift);
    *value = t[0];
    *w = packed == MF_TABLE ? t[1] : (double)s->pw[j];
    return (size_t)(x & s->mask);
  }
  *value = (double)s->pe[j].value;
  *w = s->pw ? (double)s->pw[j] : 1.0;
  return (size_t)s->pe[j].other;
}

/* Solves the row's normal equations for k = 1 in closed form.  Returns 0,
** or NS_ERANGE if the 2x2 system is not positive definite (row left as is). */
MF_INLINE int solve_row_k1(const mf_pass *c, size_t r, const int packed) {
  const mf_side *s = c->s;
  const double *oth = c->oth;
  uint64_t b = s->off[r], e = s->off[r + 1];
  double a00 = s->pen_i, a01 = 0, a11 = s->pen_f, b0 = 0, b1 = 0, det;
  for (uint64_t j = b; j < e; j++) {
    double v, w;
    const double *o = oth + 2 * edge_at(s, j, packed, &v, &w);
    double t = v - c->mu - o[0], wf = w * o[1];
    a00 += w;
    a01 += wf;
    a11 += wf * o[1];
    b0 += w * t;
    b1 += wf * t;
  }
  det = a00 * a11 - a01 * a01;
  /* a00 > 0 and det > 0 <=> positive definite; also rejects NaN */
  if (!(a00 > 0) || !(det > 0)) return NS_ERANGE;
  s->icpt[r] = (a11 * b0 - a01 * b1) / det;
  s->fac[r] = (a00 * b1 - a01 * b0) / det;
  return 0;
}

/* General k: accumulate the lower triangle of A and solve it with
** ns_mf_spd_solve (LAPACKE dposv unless NS_MF_SOLVER=inhouse).  Returns 0
** or the solver's code (row left as is). */
MF_INLINE int solve_row_k(const mf_pass *c, size_t r, const int packed) {
  const mf_side *s = c->s;
  const int k = c->k, n = k + 1;
  _Alignas(64) double A[(NS_MF_MAX_K + 1) * (NS_MF_MAX_K + 1)];
  _Alignas(64) double rhs[NS_MF_MAX_K + 1];
  double x[NS_MF_MAX_K + 1];
  uint64_t b = s->off[r], e = s->off[r + 1];
  int rc;

  memset(A, 0, sizeof A);
  memset(rhs, 0, sizeof rhs);
  x[0] = 1.0;
  for (uint64_t j = b; j < e; j++) {
    double v, w;
    const double *o = c->oth + (size_t)n * edge_at(s, j, packed, &v, &w);
    double t = v - c->mu - o[0];
    for (int q = 1; q < n; q++) x[q] = o[q];
    for (int p = 0; p < n; p++) {
      double wx = w * x[p];
      rhs[p] += wx * t;
      for (int q = 0; q <= p; q++) A[p * n + q] += wx * x[q]; /* (p,q), q <= p */
    }
  }
  A[0] += s->pen_i;
  for (int q = 1; q < n; q++) A[q * n + q] += s->pen_f;
  if ((rc = ns_mf_spd_solve(n, A, rhs)) != 0) return rc;
  s->icpt[r] = rhs[0];
  for (int q = 0; q < k; q++) s->fac[r * (size_t)k + (size_t)q] = rhs[q + 1];
  return 0;
}

/* Residual sums of row r's edges with the row's current parameters. */
MF_INLINE void row_data(const mf_pass *c, size_t r, const int packed, double *s0, double *s1,
                        double *s2) {
  const mf_side *s = c->s;
  const int k = c->k;
  const double *f = s->fac + r * (size_t)k;
  const double ir = s->icpt[r];
  double a0 = 0, a1 = 0, a2 = 0;
  for (uint64_t j = s->off[r]; j < s->off[r + 1]; j++) {
    double v, w;
    const double *o = c->oth + (size_t)(k + 1) * edge_at(s, j, packed, &v, &w);
    double dot = 0, res;
    for (int q = 0; q < k; q++) dot += f[q] * o[q + 1];
    res = v - ir - o[0] - dot;
    a0 += w;
    a1 += w * res;
    a2 += w * res * res;
  }
  *s0 += a0;
  *s1 += a1;
  *s2 += a2;
}

MF_INLINE void side_chunk_impl(void *ctx, size_t chunk, size_t begin, size_t end,
                               const int packed) {
  const mf_pass *c = ctx;
  const mf_side *s = c->s;
  const int k = c->k;
  double *pt = c->part + chunk * P_N;
  double s0 = 0, s1 = 0, s2 = 0, ri = 0, rf = 0, bad = 0;
  for (size_t r = begin; r < end; r++) {
    double *f = s->fac + r * (size_t)k;
    if (c->solve) {
      if (s->off[r] == s->off[r + 1]) {
        /* no ratings: the regularizer alone is minimized at 0 */
        s->icpt[r] = 0;
        for (int q = 0; q < k; q++) f[q] = 0;
      } else if ((k == 1 ? solve_row_k1(c, r, packed) : solve_row_k(c, r, packed)) != 0) {
        bad += 1;
      }
    }
    if (c->want_data) row_data(c, r, packed, &s0, &s1, &s2);
    ri += s->icpt[r] * s->icpt[r];
    for (int q = 0; q < k; q++) rf += f[q] * f[q];
  }
  pt[P_S0] = s0;
  pt[P_S1] = s1;
  pt[P_S2] = s2;
  pt[P_RI] = ri;
  pt[P_RF] = rf;
  pt[P_BAD] = bad;
}

static void side_chunk_plain(void *ctx, size_t chunk, size_t begin, size_t end) {
  side_chunk_impl(ctx, chunk, begin, end, MF_PLAIN);
}

static void side_chunk_table(void *ctx, size_t chunk, size_t begin, size_t end) {
  side_chunk_impl(ctx, chunk, begin, end, MF_TABLE);
}

static void side_chunk_slot_pw(void *ctx, size_t chunk, size_t begin, size_t end) {
  side_chunk_impl(ctx, chunk, begin, end, MF_SLOT_PW);
}

/* Copies intercepts and factors of n rows into the (k+1)-stride array. */
typedef struct mf_pack { const double *icpt, *fac; double *out; int k; } mf_pack;

static void pack_chunk(void *ctx, size_t chunk, size_t begin, size_t end) {
  const mf_pack *c = ctx;
  const size_t k = (size_t)c->k;
  (void)chunk;
  for (size_t r = begin; r < end; r++) {
    double *o = c->out + r * (k + 1);
    o[0] = c->icpt[r];
    memcpy(o + 1, c->fac + r * k, k * sizeof(double));
  }
}

static void pack_side(ns_pool *pool, size_t n, int k, const double *icpt,
                      const double *fac, double *out) {
  mf_pack c = {icpt, fac, out, k};
  ns_pool_for(pool, n, 16384, pack_chunk, &c);
}

/* Row chunking for a side: about MF_EDGES_PER_CHUNK ratings per chunk,
** a function of the data only (never of the thread count). */
static void side_chunking(mf_side *s, size_t n_edges) {
  size_t hint = 64;
  if (s->n && n_edges) {
    double per = (double)MF_EDGES_PER_CHUNK * (double)s->n / (double)n_edges;
    if (per > (double)hint) hint = per > (double)s->n ? s->n : (size_t)per;
  }
  while (ns_pool_nchunks(s->n, hint) > MF_MAX_CHUNKS) hint *= 2;
  s->hint = hint;
  s->nchunks = ns_pool_nchunks(s->n, hint);
}

/* Runs one side pass and adds its chunk partials, in chunk order, to tot. */
static void side_pass(ns_pool *pool, mf_pass *c, double tot[P_N]) {
  const mf_side *s = c->s;
  memset(tot, 0, P_N * sizeof(double));
  if (s->n == 0) return;
  ns_pool_for(pool, s->n, s->hint,
              !s->slot ? side_chunk_plain : s->pw ? side_chunk_slot_pw : side_chunk_table, c);
  for (size_t ch = 0; ch < s->nchunks; ch++)
    for (int q = 0; q < P_N; q++) tot[q] += c->part[ch * P_N + (size_t)q];
}

/* ------------------------------------------------------------------------
** Loss.
*/

static int check_params(const ns_bigraph *g, const ns_mf_params *p, const ns_mf_model *m) {
  if (!g || !p || !m || !m->block) return NS_EINVAL;
  if (p->k != m->k || m->k < 1 || m->k > NS_MF_MAX_K) return NS_EINVAL;
  if (g->n_raters != m->n_users || g->n_notes != m->n_notes) return NS_EINVAL;
  if (!(p->lambda_i >= 0) || !(p->lambda_f >= 0) || !(p->lambda_in >= 0) ||
      !(p->lambda_fn >= 0) || !(p->lambda_mu >= 0) || !(p->note_reg_scale >= 0) ||
      !isfinite(p->lambda_i + p->lambda_f + p->lambda_in + p->lambda_fn + p->lambda_mu +
                p->note_reg_scale))
    return NS_EINVAL;
  if (p->max_iters < 0 || !(p->tol >= 0)) return NS_EINVAL;
  return 0;
}

/* Denominator of the note regularizers: n_notes, or note_reg_scale. */
static double note_den(const ns_mf_params *p, size_t n_notes) {
  return p->note_reg_scale > 0 ? p->note_reg_scale : (double)n_notes;
}

/* L from its pieces: D = sum w (r - r_hat)^2, R* = sums of squares. */
static double assemble_loss(const ns_mf_params *p, size_t n_edges, size_t n_users,
                            size_t n_notes, double D, const double ru[2],
                            const double rn[2], double mu) {
  double L = n_edges ? D / (double)n_edges : 0.0, nd = note_den(p, n_notes);
  if (n_users) L += (p->lambda_i * ru[0] + p->lambda_f * ru[1]) / (double)n_users;
  if (nd > 0) L += (p->lambda_in * rn[0] + p->lambda_fn * rn[1]) / nd;
  L += p->lambda_mu * mu * mu;
  return L;
}

/* Sums of the squared regularized quantities of one side (no solve). */
static void side_reg(ns_pool *pool, mf_side *s, int k, double *part, double out[2]) {
  mf_pass c = {s, NULL, k, 0, 0, 0, part};
  double tot[P_N];
  side_pass(pool, &c, tot);
  out[0] = tot[P_RI];
  out[1] = tot[P_RF];
}

/* Sets up both sides of graph g over model m (penalties from p); the
** packed edge arrays are left NULL (see gather_side). */
static void make_sides(const ns_bigraph *g, const ns_mf_params *p, ns_mf_model *m,
                       mf_side *us, mf_side *ns) {
  double N = (double)g->n_edges, nd = note_den(p, g->n_notes);
  memset(us, 0, sizeof *us);
  memset(ns, 0, sizeof *ns);
  us->n = g->n_raters;
  us->off = g->rater_off;
  us->edges = g->rater_edges;
  us->other = g->edge_note;
  us->graph = g;
  us->icpt = m->user_icpt;
  us->fac = m->user_fac;
  if (g->n_raters) {
    us->pen_i = p->lambda_i * N / (double)g->n_raters;
    us->pen_f = p->lambda_f * N / (double)g->n_raters;
  }
  ns->n = g->n_notes;
  ns->off = g->note_off;
  ns->edges = g->note_edges;
  ns->other = g->edge_rater;
  ns->icpt = m->note_icpt;
  ns->fac = m->note_fac;
  if (nd > 0) {
    ns->pen_i = p->lambda_in * N / nd;
    ns->pen_f = p->lambda_fn * N / nd;
  }
  side_chunking(us, g->n_edges);
  side_chunking(ns, g->n_edges);
}

/* Copies (other row, value, weight) of every rating into CSR order, once
** per fit.  Costs one random-access sweep; every later pass then streams
** (8 bytes per rating per side, 12 with weights) instead of doing three
** dependent random loads per rating. */
typedef struct mf_gather { mf_side *s; const float *value, *weight; } mf_gather;

static void gather_chunk(void *ctx, size_t chunk, size_t begin, size_t end) {
  const mf_gather *c = ctx;
  mf_side *s = c->s;
  (void)chunk;
  for (uint64_t j = s->off[begin]; j < s->off[end]; j++) {
    uint32_t id = s->edges ? s->edges[j] : (uint32_t)j;  /* NULL: identity (graph.h) */
    s->pe[j].other = s->other ? (uint32_t)s->other[id] : (uint32_t)ns_bigraph_edge_note(s->graph, id);
    s->pe[j].value = c->value[id];
    if (s->pw) s->pw[j] = c->weight[id];
  }
}

static int gather_side(ns_pool *pool, mf_side *s, size_t n_edges, const float *value,
                       const float *weight) {
  mf_gather c = {s, value, weight};
  s->pe = ns_mallocn(NS_MAX(n_edges, (size_t)1), sizeof *s->pe);
  s->pw = weight ? ns_mallocn(NS_MAX(n_edges, (size_t)1), sizeof *s->pw) : NULL;
  if (!s->pe || (weight && !s->pw)) return NS_ENOMEM;
  ns_pool_for(pool, s->n, s->hint, gather_chunk, &c);
  return 0;
}

static void release_side(mf_side *s) {
  if (!s->borrowed) {
    free(s->pe);
    free(s->pw);
  }
  s->pe = NULL;
  s->slot = NULL;
  s->pw = NULL;
}

/* Data sums S0, S1, S2 and both regularizer sums at the current parameters,
** by one accumulate-only pass over the notes (ns must be gathered).  pack
** must hold n_users * (k+1) doubles, part max(nchunks) * P_N. */
static void full_sums(ns_pool *pool, mf_side *us, mf_side *ns, int k, double *pack,
                      double *part, double tot[P_N], double ru[2]) {
  mf_pass c = {ns, pack, k, 0, 0, 1, part};
  pack_side(pool, us->n, k, us->icpt, us->fac, pack);
  side_pass(pool, &c, tot);
  side_reg(pool, us, k, part, ru);
}

/* ns_mf_loss() walks the ratings in graph order: it runs once, so it does
** not pay for gathering. */
typedef struct mf_lossc {
  const ns_bigraph *g;
  const float *value, *weight;
  const ns_mf_model *m;
  double mu;
  double *part;             /* one D partial per chunk */
} mf_lossc;

#define MF_LOSS_CHUNK 65536

static void loss_chunk(void *ctx, size_t chunk, size_t begin, size_t end) {
  const mf_lossc *c = ctx;
  const ns_mf_model *m = c->m;
  const size_t k = (size_t)m->k;
  double D = 0;
  size_t cur = begin < end ? (size_t)ns_bigraph_edge_note(c->g, begin) : 0;
  for (size_t e = begin; e < end; e++) {
    size_t u = (size_t)c->g->edge_rater[e], n = (size_t)ns_bigraph_next_note(c->g, e, &cur);
    double w = c->weight ? (double)c->weight[e] : 1.0;
    double res = (double)c->value[e] - c->mu - m->user_icpt[u] - m->note_icpt[n];
    for (size_t q = 0; q < k; q++) res -= m->user_fac[u * k + q] * m->note_fac[n * k + q];
    D += w * res * res;
  }
  c->part[chunk] = D;
}

double ns_mf_loss(const ns_bigraph *g, const float *value, const float *weight,
                  const ns_mf_params *p, ns_pool *pool, const ns_mf_model *m) {
  ns_mf_model mm;
  mf_side us, ns;
  mf_lossc lc;
  double *part, ru[2], rn[2], D = 0;
  size_t nch;
  if (check_params(g, p, m) != 0 || (g->n_edges && !value)) return NAN;
  mm = *m; /* the sides want non-const pointers; nothing is written */
  make_sides(g, p, &mm, &us, &ns);
  nch = NS_MAX(NS_MAX(us.nchunks, ns.nchunks), ns_pool_nchunks(g->n_edges, MF_LOSS_CHUNK));
  part = ns_mallocn(NS_MAX(nch, (size_t)1) * P_N, sizeof(double));
  if (!part) return NAN;
  lc = (mf_lossc){g, value, weight, m, p->use_mu ? m->mu : 0.0, part};
  ns_pool_for(pool, g->n_edges, MF_LOSS_CHUNK, loss_chunk, &lc);
  for (size_t c = 0; c < ns_pool_nchunks(g->n_edges, MF_LOSS_CHUNK); c++) D += part[c];
  side_reg(pool, &us, m->k, part, ru);
  side_reg(pool, &ns, m->k, part, rn);
  free(part);
  return assemble_loss(p, g->n_edges, g->n_raters, g->n_notes, D, ru, rn, lc.mu);
}

/* ------------------------------------------------------------------------
** Fit.
*/

/* Deterministic start: a pure function of (seed, side, row, column), so it
** is the same whatever order or thread fills it.  Uniform in
** [-0.1/sqrt(k), 0.1/sqrt(k)]: small enough that the first passes are
** driven by the data, nonzero so the factors can grow out of the all-zero
** fixed point of ALS. */
static double init_value(uint64_t seed, int side, size_t row, int col, int k) {
  uint64_t h = ns_hash64(seed ^ ns_hash64(((uint64_t)row << 5) | ((uint64_t)col << 1) |
                                          (uint64_t)side));
  double u = (double)(h >> 11) * 0x1.0p-53;
  return (2 * u - 1) * 0.1 / sqrt((double)k);
}

static void init_model(ns_mf_model *m, uint64_t seed, int users, int notes, int mu) {
  const int k = m->k;
  for (size_t u = 0; users && u < m->n_users; u++) {
    m->user_icpt[u] = 0;
    for (int q = 0; q < k; q++)
      m->user_fac[u * (size_t)k + (size_t)q] = init_value(seed, 0, u, q, k);
  }
  for (size_t n = 0; notes && n < m->n_notes; n++) {
    m->note_icpt[n] = 0;
    for (int q = 0; q < k; q++)
      m->note_fac[n * (size_t)k + (size_t)q] = init_value(seed, 1, n, q, k);
  }
  if (mu) m->mu = 0;
}

/* Zeroes the rows of a side that have no ratings. */
static void zero_empty_rows(mf_side *s, int k) {
  for (size_t r = 0; r < s->n; r++)
    if (s->off[r] == s->off[r + 1]) {
      s->icpt[r] = 0;
      memset(s->fac + r * (size_t)k, 0, (size_t)k * sizeof(double));
    }
}

/* Reference §2.5 per factor column: if fewer than half of the raters with a
** nonzero factor have a negative one, negate that column for everyone. */
static void flip_signs(ns_mf_model *m) {
  const size_t k = (size_t)m->k;
  for (size_t q = 0; q < k; q++) {
    size_t neg = 0, nz = 0;
    for (size_t u = 0; u < m->n_users; u++) {
      double f = m->user_fac[u * k + q];
      nz += f != 0;
      neg += f < 0;
    }
    if (nz == 0 || 2 * neg >= nz) continue;
    for (size_t u = 0; u < m->n_users; u++) m->user_fac[u * k + q] = -m->user_fac[u * k + q];
    for (size_t n = 0; n < m->n_notes; n++) m->note_fac[n * k + q] = -m->note_fac[n * k + q];
  }
}

/* Values must be finite, weights finite and >= 0. */
static int check_data(size_t n, const float *value, const float *weight) {
  if (n && !value) return NS_EINVAL;
  for (size_t e = 0; e < n; e++) {
    if (!isfinite(value[e])) return NS_EINVAL;
    if (weight && !(weight[e] >= 0 && isfinite(weight[e]))) return NS_EINVAL;
  }
  return 0;
}

static int fit_impl(const ns_bigraph *g, const float *value, const float *weight,
                    const ns_mf_gathered *d, const ns_mf_params *p, ns_pool *pool,
                    ns_mf_model *m);

int ns_mf_fit(const ns_bigraph *g, const float *value, const float *weight,
              const ns_mf_params *p, ns_pool *pool, ns_mf_model *m) {
  if (g && g->n_edges && !g->rater_edges) return NS_EINVAL;  /* dropped (ns_bigraph_drop_rater_edges) */
  return fit_impl(g, value, weight, NULL, p, pool, m);
}

/* The caller's side arrays must hold rows and codes in range, finite
** values and weights too. */
static int check_gathered(const ns_bigraph *g, const ns_mf_gathered *d) {
  const unsigned sh = d->row_bits;
  const uint32_t mask = (uint32_t)(((uint64_t)1 << sh) - 1);
  if (!g->rater_off || !g->note_off) return NS_EINVAL;
  if (g->n_edges && (!d->rater_slot || !d->note_slot)) return NS_EINVAL;
  if ((d->rater_pw == NULL) != (d->note_pw == NULL)) return NS_EINVAL;
  if (g->rater_off[g->n_raters] != g->n_edges || g->note_off[g->n_notes] != g->n_edges)
    return NS_EINVAL;
  if (d->n_codes > NS_MF_MAX_CODES) return NS_EINVAL;
  for (unsigned c = 0; c < d->n_codes; c++) {
    if (!isfinite(d->values[c])) return NS_EINVAL;
    if (!d->rater_pw && !(d->weights[c] >= 0 && isfinite(d->weights[c]))) return NS_EINVAL;
  }
  for (size_t j = 0; j < g->n_edges; j++) {
    if ((d->rater_slot[j] & mask) >= g->n_notes || (d->note_slot[j] & mask) >= g->n_raters ||
        d->rater_slot[j] >> sh >= d->n_codes || d->note_slot[j] >> sh >= d->n_codes)
      return NS_EINVAL;
    if (d->rater_pw && !(d->rater_pw[j] >= 0 && isfinite(d->rater_pw[j]) && d->note_pw[j] >= 0 &&
                         isfinite(d->note_pw[j])))
      return NS_EINVAL;
  }
  return 0;
}

_Static_assert(NS_MF_MAX_CODES <= NS_KEYCODES_MAX, "a fit's codes come from ns_keycodes");

void ns_mf_codes_init(ns_mf_codes *t, ns_mf_gathered *d, unsigned cap) {
  ns_keycodes_init(t, cap < NS_MF_MAX_CODES ? cap : NS_MF_MAX_CODES);
  d->n_codes = 0;
}

int ns_mf_code(ns_mf_codes *t, ns_mf_gathered *d, float value, float weight) {
  uint32_t vb, wb;
  int c;
  memcpy(&vb, &value, sizeof vb);
  memcpy(&wb, &weight, sizeof wb);
  if ((c = ns_keycodes_get(t, (uint64_t)vb << 32 | wb)) >= 0 && (unsigned)c == d->n_codes) {
    d->values[c] = value;   /* a new pair: its table entry */
    d->weights[c] = weight;
    d->n_codes++;
  }
  return c;
}

int ns_mf_fit_gathered(const ns_bigraph *g, const ns_mf_gathered *d, const ns_mf_params *p,
                       ns_pool *pool, ns_mf_model *m) {
  if (!g || !d) return NS_EINVAL;
  /* a row must fit in the slot's low bits; checked first, so a caller can
  ** learn it without building anything else */
  if (d->row_bits > NS_MF_MAX_ROW_BITS || g->n_raters > (size_t)1 << d->row_bits ||
      g->n_notes > (size_t)1 << d->row_bits)
    return NS_ERANGE;
  return fit_impl(g, NULL, NULL, d, p, pool, m);
}

static int fit_impl(const ns_bigraph *g, const float *value, const float *weight,
                    const ns_mf_gathered *d, const ns_mf_params *p, ns_pool *pool,
                    ns_mf_model *m) {
  const double t0 = ns_monotonic_s();
  mf_side us, ns;
  double *pack = NULL, *part = NULL, *vw = NULL;
  double ru[2] = {0, 0}, rn[2] = {0, 0}, tot[P_N], L, Lprev, D = 0;
  double N, mu;
  int k, fit_users, fit_notes, fit_mu, rc;
  size_t nch, bad = 0;

  if ((rc = check_params(g, p, m)) != 0) return rc;
  if ((rc = d ? check_gathered(g, d) : check_data(g->n_edges, value, weight)) != 0) return rc;
  k = m->k;
  N = (double)g->n_edges;
  fit_users = !p->freeze_users;
  fit_notes = !p->freeze_notes;
  fit_mu = p->use_mu && !p->freeze_users && !p->freeze_mu;

  if (!p->init_from_model) init_model(m, p->seed, fit_users, fit_notes, fit_mu);
  if (!p->use_mu) m->mu = 0;
  make_sides(g, p, m, &us, &ns);
  if (fit_users) zero_empty_rows(&us, k);
  if (fit_notes) zero_empty_rows(&ns, k);

  nch = NS_MAX(us.nchunks, ns.nchunks);
  pack = ns_mallocn(NS_MAX(NS_MAX(g->n_raters, g->n_notes), (size_t)1) * (size_t)(k + 1),
                    sizeof(double));
  part = ns_mallocn(NS_MAX(nch, (size_t)1) * P_N, sizeof(double));
  if (d) vw = ns_mallocn(2 * (size_t)NS_MAX(d->n_codes, 1u), sizeof(double));
  if (!pack || !part || (d && !vw)) {
    rc = NS_ENOMEM;
    goto out;
  }
  if (d) {
    /* the caller's arrays are the gathered sides; a code reads as the
    ** doubles of the float target and weight, as ns_mf_fit reads its
    ** columns (unused weights of the per-slot layout are never read) */
    for (unsigned c = 0; c < d->n_codes; c++) {
      vw[2 * c] = (double)d->values[c];
      vw[2 * c + 1] = d->rater_pw ? 1.0 : (double)d->weights[c];
    }
    us.slot = d->rater_slot;
    us.pw = (float *)d->rater_pw;
    ns.slot = d->note_slot;
    ns.pw = (float *)d->note_pw;
    us.vw = ns.vw = vw;
    us.shift = ns.shift = d->row_bits;
    us.mask = ns.mask = (uint32_t)(((uint64_t)1 << d->row_bits) - 1);
    us.borrowed = ns.borrowed = 1;
  } else if ((fit_users && (rc = gather_side(pool, &us, g->n_edges, value, weight)) != 0) ||
             (rc = gather_side(pool, &ns, g->n_edges, value, weight)) != 0) {
    /* the note side is always gathered: full_sums reads the data through it */
    goto out;
  }
  /* L_0 at the starting point; also the regularizer sums of frozen sides */
  full_sums(pool, &us, &ns, k, pack, part, tot, ru);
  rn[0] = tot[P_RI];
  rn[1] = tot[P_RF];
  mu = m->mu;
  D = NS_MAX(tot[P_S2] - 2 * mu * tot[P_S1] + mu * mu * tot[P_S0], 0.0);
  L = assemble_loss(p, g->n_edges, g->n_raters, g->n_notes, D, ru, rn, mu);
  m->iters = 0;

  for (int it = 0; it < p->max_iters && (fit_users || fit_notes); it++) {
    if (fit_users) {
      mf_pass c = {&us, pack, k, m->mu, 1, !fit_notes, part};
      pack_side(pool, ns.n, k, ns.icpt, ns.fac, pack);
      side_pass(pool, &c, tot);
      ru[0] = tot[P_RI];
      ru[1] = tot[P_RF];
      bad += (size_t)tot[P_BAD];
    }
    if (fit_notes) {
      mf_pass c = {&ns, pack, k, m->mu, 1, 1, part};
      pack_side(pool, us.n, k, us.icpt, us.fac, pack);
      side_pass(pool, &c, tot);
      rn[0] = tot[P_RI];
      rn[1] = tot[P_RF];
      bad += (size_t)tot[P_BAD];
    }
    /* tot now holds the data sums of the last side solved */
    if (fit_mu) {
      double den = tot[P_S0] + p->lambda_mu * N;
      m->mu = den > 0 ? tot[P_S1] / den : 0.0;
    }
    mu = m->mu;
    D = NS_MAX(tot[P_S2] - 2 * mu * tot[P_S1] + mu * mu * tot[P_S0], 0.0);
    Lprev = L;
    L = assemble_loss(p, g->n_edges, g->n_raters, g->n_notes, D, ru, rn, mu);
    m->iters = it + 1;
    if (fabs(L - Lprev) <= p->tol * Lprev) break;
  }
  if (bad)
    ns_debug("mf: %zu row solves were singular (a zero penalty?); rows kept", bad);

  if (p->flip_sign && fit_users && fit_notes) flip_signs(m);
  m->loss = L;
  m->mse = N > 0 ? D / N : 0.0;
  rc = 0;
out:
  release_side(&us);
  release_side(&ns);
  free(pack);
  free(part);
  free(vw);
  m->seconds = ns_monotonic_s() - t0;
  return rc;
}
