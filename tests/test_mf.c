/*
** tests/test_mf.c -- factorization/: the ALS fit of mf.h.
**
** The checks are independent of the solver's internals: the loss and its
** gradient are written here as plain loops straight from the formula in
** mf.h, and a naive reference ALS (scan every rating for every row, solve
** by Gaussian elimination) is run side by side with ns_mf_fit.  Small
** cases are worked out by hand.  Run by tests/runner.c, one process per
** test.
*/
#include "harness.h"

#include "../factorization/mf.h"
#include "../graph/graph.h"

/* ------------------------------------------------------------------------
** A random rating problem: distinct (rater, note) pairs.
*/
typedef struct prob {
  size_t nu, nn, ne;
  int32_t *er, *en;
  float *val, *w;       /* w NULL unless weighted */
  ns_bigraph *g;
} prob;

static void prob_free(prob *p) {
  ns_bigraph_free(p->g);
  free(p->er);
  free(p->en);
  free(p->val);
  free(p->w);
  memset(p, 0, sizeof *p);
}

/* ne ratings on distinct pairs of nu x nn; values in {0, .5, 1}. */
static void prob_random(prob *p, size_t nu, size_t nn, size_t ne, int weighted, uint64_t seed) {
  ns_rng r;
  unsigned char *used = calloc(nu * nn, 1);
  memset(p, 0, sizeof *p);
  ASSERT(ne <= nu * nn && used);
  p->nu = nu;
  p->nn = nn;
  p->ne = ne;
  p->er = malloc(ne * sizeof *p->er);
  p->en = malloc(ne * sizeof *p->en);
  p->val = malloc(ne * sizeof *p->val);
  p->w = weighted ? malloc(ne * sizeof *p->w) : NULL;
  ns_rng_seed(&r, seed);
  for (size_t e = 0; e < ne;) {
    size_t u = ns_rng_below(&r, nu), n = ns_rng_below(&r, nn);
    if (used[u * nn + n]) continue;
    used[u * nn + n] = 1;
    p->er[e] = (int32_t)u;
    p->en[e] = (int32_t)n;
    /* a little structure so the factor is not pure noise */
    p->val[e] = (float)(0.5 * (double)ns_rng_below(&r, 3));
    if ((u % 2) == (n % 2) && ns_rng_uniform(&r) < 0.5) p->val[e] = 1.0f;
    if (weighted) p->w[e] = (float)(0.25 + 2 * ns_rng_uniform(&r));
    e++;
  }
  free(used);
  ASSERT_OK(ns_bigraph_build(nu, nn, ne, p->er, p->en, &p->g));
}

/* ------------------------------------------------------------------------
** Plain-loop loss and gradient, straight from the formula in mf.h.
*/
typedef struct grad {
  double *ui, *uf, *ni, *nf, mu;
} grad;

static double pred(const ns_mf_model *m, int use_mu, size_t u, size_t n) {
  double r = (use_mu ? m->mu : 0) + m->user_icpt[u] + m->note_icpt[n];
  for (int q = 0; q < m->k; q++) r += m->user_fac[u * m->k + q] * m->note_fac[n * m->k + q];
  return r;
}

static double plain_loss(const prob *p, const ns_mf_params *pr, const ns_mf_model *m,
                         grad *gr) {
  const int k = m->k;
  double N = (double)p->ne, nu = (double)p->nu;
  double nd = pr->note_reg_scale > 0 ? pr->note_reg_scale : (double)p->nn;
  double L = 0;
  if (gr) {
    memset(gr->ui, 0, p->nu * sizeof(double));
    memset(gr->uf, 0, p->nu * k * sizeof(double));
    memset(gr->ni, 0, p->nn * sizeof(double));
    memset(gr->nf, 0, p->nn * k * sizeof(double));
    gr->mu = 0;
  }
  for (size_t e = 0; e < p->ne; e++) {
    size_t u = (size_t)p->er[e], n = (size_t)p->en[e];
    double w = p->w ? p->w[e] : 1.0, res = p->val[e] - pred(m, pr->use_mu, u, n);
    L += w * res * res / N;
    if (gr) {
      double d = -2 * w * res / N;
      gr->ui[u] += d;
      gr->ni[n] += d;
      gr->mu += d;
      for (int q = 0; q < k; q++) {
        gr->uf[u * k + q] += d * m->note_fac[n * k + q];
        gr->nf[n * k + q] += d * m->user_fac[u * k + q];
      }
    }
  }
  for (size_t u = 0; u < p->nu; u++) {
    L += pr->lambda_i * m->user_icpt[u] * m->user_icpt[u] / nu;
    if (gr) gr->ui[u] += 2 * pr->lambda_i * m->user_icpt[u] / nu;
    for (int q = 0; q < k; q++) {
      double f = m->user_fac[u * k + q];
      L += pr->lambda_f * f * f / nu;
      if (gr) gr->uf[u * k + q] += 2 * pr->lambda_f * f / nu;
    }
  }
  for (size_t n = 0; n < p->nn; n++) {
    L += pr->lambda_in * m->note_icpt[n] * m->note_icpt[n] / nd;
    if (gr) gr->ni[n] += 2 * pr->lambda_in * m->note_icpt[n] / nd;
    for (int q = 0; q < k; q++) {
      double f = m->note_fac[n * k + q];
      L += pr->lambda_fn * f * f / nd;
      if (gr) gr->nf[n * k + q] += 2 * pr->lambda_fn * f / nd;
    }
  }
  if (pr->use_mu) {
    L += pr->lambda_mu * m->mu * m->mu;
    if (gr) gr->mu += 2 * pr->lambda_mu * m->mu;
  }
  return L;
}

static double max_abs(const double *x, size_t n) {
  double a = 0;
  for (size_t i = 0; i < n; i++) a = fmax(a, fabs(x[i]));
  return a;
}

/* Fits to tight convergence, then checks every gradient component the fit
** was allowed to move is ~0 and the reported loss matches plain_loss. */
static void check_stationary(int k, int weighted, int freeze_users) {
  prob p;
  ns_mf_params pr;
  ns_mf_model m;
  ns_pool *pool;
  grad gr;
  double L;

  prob_random(&p, 30, 40, 400, weighted, 100 + (uint64_t)k);
  ASSERT_OK(ns_pool_new(2, &pool));
  ns_mf_params_default(&pr);
  pr.k = k;
  pr.tol = 0;
  pr.max_iters = 20000;
  ASSERT_OK(ns_mf_model_init(&m, p.nu, p.nn, k));
  if (freeze_users) {
    /* users from a previous fit on the same data, then frozen */
    ASSERT_OK(ns_mf_fit(p.g, p.val, p.w, &pr, pool, &m));
    for (size_t n = 0; n < p.nn; n++) m.note_icpt[n] = 0.3; /* move notes away */
    pr.freeze_users = 1;
    pr.init_from_model = 1;
    pr.max_iters = 2000;
  }
  ASSERT_OK(ns_mf_fit(p.g, p.val, p.w, &pr, pool, &m));

  gr.ui = calloc(p.nu, sizeof(double));
  gr.uf = calloc(p.nu * k, sizeof(double));
  gr.ni = calloc(p.nn, sizeof(double));
  gr.nf = calloc(p.nn * k, sizeof(double));
  L = plain_loss(&p, &pr, &m, &gr);
  ASSERT_NEAR(m.loss, L, 1e-12 * L);
  ASSERT_NEAR(ns_mf_loss(p.g, p.val, p.w, &pr, pool, &m), L, 1e-12 * L);
  ASSERT(max_abs(gr.ni, p.nn) < 1e-9);
  ASSERT(max_abs(gr.nf, p.nn * k) < 1e-9);
  if (!freeze_users) {
    ASSERT(max_abs(gr.ui, p.nu) < 1e-9);
    ASSERT(max_abs(gr.uf, p.nu * k) < 1e-9);
    ASSERT(fabs(gr.mu) < 1e-9);
  }
  /* the factor part really is used: not collapsed to 0 */
  ASSERT(max_abs(m.note_fac, p.nn * k) > 1e-3);
  free(gr.ui);
  free(gr.uf);
  free(gr.ni);
  free(gr.nf);
  ns_mf_model_free(&m);
  ns_pool_free(pool);
  prob_free(&p);
}

TEST(mf_stationary_k1) { check_stationary(1, 0, 0); }
TEST(mf_stationary_k1_weighted) { check_stationary(1, 1, 0); }
TEST(mf_stationary_k3) { check_stationary(3, 0, 0); }
TEST(mf_stationary_k3_weighted) { check_stationary(3, 1, 0); }
TEST(mf_stationary_k1_freeze_users) { check_stationary(1, 1, 1); }
TEST(mf_stationary_k3_freeze_users) { check_stationary(3, 0, 1); }

/* ------------------------------------------------------------------------
** Naive reference ALS: for each row scan all ratings, build the normal
** equations, solve by Gaussian elimination with partial pivoting.
*/
static void gauss_solve(int n, double *A, double *b) {
  for (int c = 0; c < n; c++) {
    int piv = c;
    for (int r = c + 1; r < n; r++)
      if (fabs(A[r * n + c]) > fabs(A[piv * n + c])) piv = r;
    if (piv != c) {
      for (int j = 0; j < n; j++) {
        double t = A[c * n + j];
        A[c * n + j] = A[piv * n + j];
        A[piv * n + j] = t;
      }
      double t = b[c];
      b[c] = b[piv];
      b[piv] = t;
    }
    for (int r = c + 1; r < n; r++) {
      double f = A[r * n + c] / A[c * n + c];
      for (int j = c; j < n; j++) A[r * n + j] -= f * A[c * n + j];
      b[r] -= f * b[c];
    }
  }
  for (int r = n - 1; r >= 0; r--) {
    double s = b[r];
    for (int j = r + 1; j < n; j++) s -= A[r * n + j] * b[j];
    b[r] = s / A[r * n + r];
  }
}

/* Solves one row of side `notes` (0 = users) with the other side fixed. */
static void ref_row(const prob *p, const ns_mf_params *pr, ns_mf_model *m, int notes, size_t row) {
  const int k = m->k, n = k + 1;
  double A[81] = {0}, b[9] = {0}, x[9];
  double N = (double)p->ne;
  double den = notes ? (pr->note_reg_scale > 0 ? pr->note_reg_scale : (double)p->nn)
                     : (double)p->nu;
  int any = 0;
  for (size_t e = 0; e < p->ne; e++) {
    size_t u = (size_t)p->er[e], nt = (size_t)p->en[e];
    if ((notes ? nt : u) != row) continue;
    any = 1;
    double w = p->w ? p->w[e] : 1.0;
    double oi = notes ? m->user_icpt[u] : m->note_icpt[nt];
    const double *of = notes ? m->user_fac + u * k : m->note_fac + nt * k;
    double t = p->val[e] - (pr->use_mu ? m->mu : 0) - oi;
    x[0] = 1;
    for (int q = 0; q < k; q++) x[q + 1] = of[q];
    for (int i = 0; i < n; i++) {
      b[i] += w * x[i] * t;
      for (int j = 0; j < n; j++) A[i * n + j] += w * x[i] * x[j];
    }
  }
  double *icpt = notes ? &m->note_icpt[row] : &m->user_icpt[row];
  double *fac = notes ? m->note_fac + row * k : m->user_fac + row * k;
  if (!any) {
    *icpt = 0;
    for (int q = 0; q < k; q++) fac[q] = 0;
    return;
  }
  A[0] += (notes ? pr->lambda_in : pr->lambda_i) * N / den;
  for (int q = 1; q < n; q++) A[q * n + q] += (notes ? pr->lambda_fn : pr->lambda_f) * N / den;
  gauss_solve(n, A, b);
  *icpt = b[0];
  for (int q = 0; q < k; q++) fac[q] = b[q + 1];
}

static void ref_als(const prob *p, const ns_mf_params *pr, ns_mf_model *m, int passes) {
  for (int it = 0; it < passes; it++) {
    if (!pr->freeze_users)
      for (size_t u = 0; u < p->nu; u++) ref_row(p, pr, m, 0, u);
    if (!pr->freeze_notes)
      for (size_t n = 0; n < p->nn; n++) ref_row(p, pr, m, 1, n);
    if (pr->use_mu && !pr->freeze_users && !pr->freeze_mu) {
      double s = 0, sw = 0;
      for (size_t e = 0; e < p->ne; e++) {
        double w = p->w ? p->w[e] : 1.0;
        s += w * (p->val[e] - (pred(m, 1, (size_t)p->er[e], (size_t)p->en[e]) - m->mu));
        sw += w;
      }
      m->mu = s / (sw + pr->lambda_mu * (double)p->ne);
    }
  }
}

/* Same start for both: small test-chosen values, intercepts 0.3 / -0.1. */
static void test_init(ns_mf_model *m) {
  ns_rng r;
  ns_rng_seed(&r, 5);
  for (size_t u = 0; u < m->n_users; u++) {
    m->user_icpt[u] = -0.1;
    for (int q = 0; q < m->k; q++) m->user_fac[u * m->k + q] = ns_rng_normal(&r) * 0.3;
  }
  for (size_t n = 0; n < m->n_notes; n++) {
    m->note_icpt[n] = 0.3;
    for (int q = 0; q < m->k; q++) m->note_fac[n * m->k + q] = ns_rng_normal(&r) * 0.3;
  }
  m->mu = 0.1;
}

static void check_vs_reference(int k, int weighted, int ratio, int freeze_notes) {
  prob p;
  ns_mf_params pr;
  ns_mf_model a, b;
  ns_pool *pool;
  const int passes = 7;

  prob_random(&p, 30, 40, 400, weighted, 7 + (uint64_t)k);
  ASSERT_OK(ns_pool_new(2, &pool));
  ns_mf_params_default(&pr);
  pr.k = k;
  pr.tol = 0;
  pr.max_iters = passes;
  pr.flip_sign = 0;
  pr.init_from_model = 1;
  pr.freeze_notes = freeze_notes;
  if (ratio) pr.note_reg_scale = 23.5;
  ASSERT_OK(ns_mf_model_init(&a, p.nu, p.nn, k));
  ASSERT_OK(ns_mf_model_init(&b, p.nu, p.nn, k));
  test_init(&a);
  test_init(&b);
  /* a rater without ratings must end at 0 in both */
  ASSERT_OK(ns_mf_fit(p.g, p.val, p.w, &pr, pool, &a));
  ASSERT_EQ(a.iters, passes);
  ref_als(&p, &pr, &b, passes);
  for (size_t i = 0; i < (p.nu + p.nn) * (size_t)(k + 1); i++)
    ASSERT_NEAR(a.block[i], b.block[i], 1e-9);
  ASSERT_NEAR(a.mu, b.mu, 1e-9);
  ASSERT_NEAR(a.loss, plain_loss(&p, &pr, &b, NULL), 1e-9);
  ns_mf_model_free(&a);
  ns_mf_model_free(&b);
  ns_pool_free(pool);
  prob_free(&p);
}

TEST(mf_matches_reference_k1) { check_vs_reference(1, 0, 0, 0); }
TEST(mf_matches_reference_k1_weighted_ratio) { check_vs_reference(1, 1, 1, 0); }
TEST(mf_matches_reference_k3) { check_vs_reference(3, 0, 0, 0); }
TEST(mf_matches_reference_k3_weighted_ratio) { check_vs_reference(3, 1, 1, 0); }
TEST(mf_matches_reference_k2_freeze_notes) { check_vs_reference(2, 1, 0, 1); }

/* ------------------------------------------------------------------------
** Thread-count independence: 1 and 2 threads give the same bits.
*/
static void check_threads(int k, int weighted) {
  prob p;
  ns_mf_params pr;
  ns_mf_model m[2];
  prob_random(&p, 3000, 700, 60000, weighted, 99);
  ns_mf_params_default(&pr);
  pr.k = k;
  pr.max_iters = 15;
  pr.seed = 1234;
  for (int t = 0; t < 2; t++) {
    ns_pool *pool;
    ASSERT_OK(ns_pool_new(t + 1, &pool));
    ASSERT_OK(ns_mf_model_init(&m[t], p.nu, p.nn, k));
    ASSERT_OK(ns_mf_fit(p.g, p.val, p.w, &pr, pool, &m[t]));
    ns_pool_free(pool);
  }
  ASSERT(memcmp(m[0].block, m[1].block, (p.nu + p.nn) * (size_t)(k + 1) * sizeof(double)) == 0);
  ASSERT(memcmp(&m[0].mu, &m[1].mu, sizeof(double)) == 0);
  ASSERT(memcmp(&m[0].loss, &m[1].loss, sizeof(double)) == 0);
  ASSERT_EQ(m[0].iters, m[1].iters);
  ns_mf_model_free(&m[0]);
  ns_mf_model_free(&m[1]);
  prob_free(&p);
}

TEST(mf_threads_identical_k1) { check_threads(1, 1); }
TEST(mf_threads_identical_k3) { check_threads(3, 0); }

/* Coordination-like weights: 1/m for m = 1..5, so a fit has few distinct
** (value, weight) pairs (15) and they fit a table. */
static void prob_weight_levels(prob *p) {
  for (size_t e = 0; e < p->ne; e++) p->w[e] = 1.0f / (float)(1 + (e * 7 + e / 3) % 5);
}

/* The packed sides of ns_mf_fit_gathered laid out by hand from a prob (row
** by row, ratings in edge order) with row_bits row bits; *rsl etc. are
** malloc'd.  per_slot = 0: the codes name (value, weight) pairs (weight
** 1.0f unweighted), per_slot = 1: values only, the weights per slot (the
** fallback layout).  The codes come from ns_mf_codes, as in the pipeline,
** but in another order (first appearance in reverse edge order, after one
** pair no slot uses), so a code is only a name.  Returns 0, or -1 when
** the pairs do not fit the codes (the arrays are then freed). */
static int pack_prob(const prob *p, unsigned row_bits, int per_slot, ns_bigraph *sides,
                     ns_mf_gathered *d, uint32_t **rsl, uint32_t **nsl, float **rpw,
                     float **npw) {
  const ns_bigraph *g = p->g;
  ns_mf_codes *t = malloc(sizeof *t);
  int *code = malloc(g->n_edges * sizeof *code);
  int weighted = p->w != NULL;
  *rsl = malloc(g->n_edges * sizeof **rsl);
  *nsl = malloc(g->n_edges * sizeof **nsl);
  *rpw = weighted && per_slot ? malloc(g->n_edges * sizeof **rpw) : NULL;
  *npw = weighted && per_slot ? malloc(g->n_edges * sizeof **npw) : NULL;
  ASSERT(t && code && *rsl && *nsl && (!(weighted && per_slot) || (*rpw && *npw)));
  memset(d, 0, sizeof *d);
  ns_mf_codes_init(t, d, ns_mf_max_codes(row_bits));
  ASSERT_EQ(ns_mf_code(t, d, 0.25f, 3.0f), 0);   /* unused by any slot */
  for (size_t e = g->n_edges; e-- > 0;) {
    float w = weighted && !per_slot ? p->w[e] : 1.0f;
    if ((code[e] = ns_mf_code(t, d, p->val[e], w)) < 0) {
      free(t), free(code), free(*rsl), free(*nsl), free(*rpw), free(*npw);
      *rsl = *nsl = NULL;
      *rpw = *npw = NULL;
      return -1;
    }
  }
  for (size_t j = 0; j < g->n_edges; j++) {
    uint32_t a = g->rater_edges[j], b = ns_bigraph_note_edge(g, j);
    (*rsl)[j] = ns_mf_slot((uint32_t)g->edge_note[a], (unsigned)code[a], row_bits);
    (*nsl)[j] = ns_mf_slot((uint32_t)g->edge_rater[b], (unsigned)code[b], row_bits);
    if (*rpw) {
      (*rpw)[j] = p->w[a];
      (*npw)[j] = p->w[b];
    }
  }
  free(t);
  free(code);
  memset(sides, 0, sizeof *sides);
  sides->n_raters = p->nu;
  sides->n_notes = p->nn;
  sides->n_edges = g->n_edges;
  sides->rater_off = g->rater_off;
  sides->note_off = g->note_off;
  d->rater_slot = *rsl;
  d->note_slot = *nsl;
  d->rater_pw = *rpw;
  d->note_pw = *npw;
  d->row_bits = row_bits;
  return 0;
}

/* Parameters, mu, loss, mse and passes of two fits are the same bits. */
static void assert_same_fit(const ns_mf_model *a, const ns_mf_model *b) {
  ASSERT(memcmp(a->block, b->block,
                (a->n_users + a->n_notes) * (size_t)(a->k + 1) * sizeof(double)) == 0);
  ASSERT(memcmp(&a->mu, &b->mu, sizeof(double)) == 0);
  ASSERT(memcmp(&a->loss, &b->loss, sizeof(double)) == 0);
  ASSERT(memcmp(&a->mse, &b->mse, sizeof(double)) == 0);
  ASSERT_EQ(a->iters, b->iters);
}

/* ns_mf_fit_gathered on packed sides laid out by hand gives ns_mf_fit's
** bits on the same ratings: engine/pipeline.c relies on it.  Weighted,
** three layouts: the (value, weight) table with the fewest row bits and
** with more, and the per-slot weights (the fallback: 30 row bits leave 4
** codes, the 3 values and the unused pair); unweighted, the table's 1.0f
** weights.  With threads > 1 the packed passes run on a pool. */
static void check_gathered(int k, int weighted, int threads) {
  const int layouts = weighted ? 3 : 2;
  prob p;
  ns_mf_params pr;
  ns_mf_model m[2];
  ns_bigraph sides;
  ns_mf_gathered *d = malloc(sizeof *d);
  uint32_t *rsl, *nsl;
  float *rpw, *npw;
  ns_pool *pool = NULL;
  unsigned rb;
  float keep;
  ASSERT(d);
  if (threads > 1) ASSERT_OK(ns_pool_new(threads, &pool));
  prob_random(&p, 500, 300, 8000, weighted, 7);
  if (weighted) prob_weight_levels(&p);
  rb = ns_mf_row_bits(500);
  ASSERT_EQ(rb, 9u);
  for (int lay = 0; lay < layouts; lay++) {
    unsigned bits = lay == 0 ? rb : lay == 1 ? 20 : NS_MF_MAX_ROW_BITS;
    ASSERT_OK(pack_prob(&p, bits, lay == 2, &sides, d, &rsl, &nsl, &rpw, &npw));
    /* the table: 1 unused + 3 values x (5 weights | 1) */
    ASSERT_EQ(d->n_codes, lay == 2 ? 4u : weighted ? 16u : 4u);
    ASSERT((d->rater_pw != NULL) == (lay == 2));
    ns_mf_params_default(&pr);
    pr.k = k;
    pr.max_iters = 12;
    pr.seed = 5;
    ASSERT_OK(ns_mf_model_init(&m[0], p.nu, p.nn, k));
    ASSERT_OK(ns_mf_model_init(&m[1], p.nu, p.nn, k));
    ASSERT_OK(ns_mf_fit(p.g, p.val, p.w, &pr, pool, &m[0]));
    ASSERT_OK(ns_mf_fit_gathered(&sides, d, &pr, pool, &m[1]));
    ASSERT(m[0].iters > 1);
    ASSERT(m[0].loss > 0 && m[0].mse > 0);
    assert_same_fit(&m[0], &m[1]);
    /* a frozen-rater refit from the fitted model (the final-scoring shape)
    ** matches too */
    pr.freeze_users = 1;
    pr.init_from_model = 1;
    pr.flip_sign = 0;
    pr.note_reg_scale = 3.5;
    ASSERT_OK(ns_mf_fit(p.g, p.val, p.w, &pr, pool, &m[0]));
    ASSERT_OK(ns_mf_fit_gathered(&sides, d, &pr, pool, &m[1]));
    assert_same_fit(&m[0], &m[1]);
    /* the table is what the fit reads: another value for code 1 gives
    ** another model, and so does another weight (unless per slot) */
    keep = d->values[1];
    d->values[1] = keep == 1.0f ? 0.75f : 1.0f;
    ASSERT_OK(ns_mf_fit_gathered(&sides, d, &pr, pool, &m[1]));
    ASSERT(memcmp(m[0].block, m[1].block, (p.nu + p.nn) * (size_t)(k + 1) * sizeof(double)) != 0);
    d->values[1] = keep;
    d->weights[1] *= 2;
    ASSERT_OK(ns_mf_fit_gathered(&sides, d, &pr, pool, &m[1]));
    ASSERT((memcmp(m[0].block, m[1].block, (p.nu + p.nn) * (size_t)(k + 1) * sizeof(double)) ==
            0) == (lay == 2));
    ns_mf_model_free(&m[0]);
    ns_mf_model_free(&m[1]);
    free(rsl), free(nsl), free(rpw), free(npw);
  }
  prob_free(&p);
  free(d);
  ns_pool_free(pool);
}

TEST(mf_gathered_matches_fit_k1_weighted) { check_gathered(1, 1, 1); }
TEST(mf_gathered_matches_fit_k1_weighted_pool) { check_gathered(1, 1, 2); }
TEST(mf_gathered_matches_fit_k2) { check_gathered(2, 0, 1); }
TEST(mf_gathered_matches_fit_k3_weighted_pool) { check_gathered(3, 1, 2); }

/* The row bits and the codes they leave. */
TEST(mf_gathered_row_bits) {
  ASSERT_EQ(ns_mf_row_bits(0), 0u);
  ASSERT_EQ(ns_mf_row_bits(1), 0u);
  ASSERT_EQ(ns_mf_row_bits(2), 1u);
  ASSERT_EQ(ns_mf_row_bits(3), 2u);
  ASSERT_EQ(ns_mf_row_bits(1024), 10u);
  ASSERT_EQ(ns_mf_row_bits(1025), 11u);
  ASSERT_EQ(ns_mf_row_bits(NS_MF_MAX_ROWS), 30u);
  ASSERT_EQ(ns_mf_row_bits(NS_MF_MAX_ROWS + 1), 31u);
  ASSERT(NS_MF_MAX_ROWS == (size_t)1 << 30);
  ASSERT_EQ(NS_MF_MAX_CODES, 4096u);
  ASSERT_EQ(ns_mf_max_codes(0), NS_MF_MAX_CODES);
  ASSERT_EQ(ns_mf_max_codes(20), 4096u);
  ASSERT_EQ(ns_mf_max_codes(21), 2048u);
  ASSERT_EQ(ns_mf_max_codes(23), 512u);
  ASSERT_EQ(ns_mf_max_codes(30), 4u);
  ASSERT_EQ(ns_mf_slot((1u << 30) - 1, 3, 30), 0xFFFFFFFFu);
  ASSERT_EQ(ns_mf_slot(5, 2, 30), 0x80000005u);
  ASSERT_EQ(ns_mf_slot(5, 1023, 14), 5u | 1023u << 14);
  ASSERT_EQ(ns_mf_slot(0, 7, 0), 7u);
}

/* More distinct pairs than codes: ns_mf_code says so (-1, the table
** unchanged), the caller falls back to codes of values and per-slot
** weights, and that fit is still ns_mf_fit's bit for bit.  Weights drawn
** uniformly give ~8000 pairs; the 9 row bits leave 4096 codes. */
TEST(mf_gathered_fallback_too_many_pairs) {
  prob p;
  ns_mf_params pr;
  ns_mf_model m[2];
  ns_bigraph sides;
  ns_mf_gathered *d = malloc(sizeof *d);
  ns_mf_codes *t = malloc(sizeof *t);
  uint32_t *rsl, *nsl;
  float *rpw, *npw;
  unsigned rb;
  ASSERT(d && t);
  prob_random(&p, 500, 300, 8000, 1, 11);
  rb = ns_mf_row_bits(NS_MAX(p.nu, p.nn));
  ASSERT_EQ(ns_mf_max_codes(rb), NS_MF_MAX_CODES);
  ASSERT_EQ(pack_prob(&p, rb, 0, &sides, d, &rsl, &nsl, &rpw, &npw), -1);
  /* the cap: the first 4096 distinct pairs get codes, the next is refused
  ** and leaves the table as it was; a pair already in it still has its code */
  memset(d, 0, sizeof *d);
  ns_mf_codes_init(t, d, NS_MF_MAX_CODES);
  {
    size_t e = 0;
    int c = 0, first = -1;
    for (; e < p.ne && (c = ns_mf_code(t, d, p.val[e], p.w[e])) >= 0; e++)
      if (first < 0) first = c;
    ASSERT(e < p.ne && c == -1);
    ASSERT_EQ(d->n_codes, NS_MF_MAX_CODES);
    ASSERT_EQ(first, 0);
    ASSERT(d->values[0] == p.val[0] && d->weights[0] == p.w[0]);
    ASSERT_EQ(ns_mf_code(t, d, p.val[e], p.w[e]), -1);
    ASSERT_EQ(ns_mf_code(t, d, p.val[0], p.w[0]), 0);
    ASSERT_EQ(d->n_codes, NS_MF_MAX_CODES);
  }
  /* a small cap (30 row bits: 4 codes) refuses the fifth pair */
  ns_mf_codes_init(t, d, ns_mf_max_codes(30));
  ASSERT_EQ(d->n_codes, 0u);
  for (int i = 0; i < 4; i++) ASSERT_EQ(ns_mf_code(t, d, (float)i, 1.0f), i);
  ASSERT_EQ(ns_mf_code(t, d, 0.0f, 0.5f), -1);
  ASSERT_EQ(ns_mf_code(t, d, 3.0f, 1.0f), 3);
  /* -0.0f and 0.0f are different bits, so different pairs */
  ns_mf_codes_init(t, d, 8);
  ASSERT_EQ(ns_mf_code(t, d, 0.0f, 1.0f), 0);
  ASSERT_EQ(ns_mf_code(t, d, -0.0f, 1.0f), 1);
  /* the fallback layout */
  ASSERT_OK(pack_prob(&p, rb, 1, &sides, d, &rsl, &nsl, &rpw, &npw));
  ASSERT(d->rater_pw && d->note_pw);
  ASSERT_EQ(d->n_codes, 4u);
  ns_mf_params_default(&pr);
  pr.max_iters = 10;
  ASSERT_OK(ns_mf_model_init(&m[0], p.nu, p.nn, 1));
  ASSERT_OK(ns_mf_model_init(&m[1], p.nu, p.nn, 1));
  ASSERT_OK(ns_mf_fit(p.g, p.val, p.w, &pr, NULL, &m[0]));
  ASSERT_OK(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m[1]));
  ASSERT(m[0].iters > 1);
  assert_same_fit(&m[0], &m[1]);
  ns_mf_model_free(&m[0]);
  ns_mf_model_free(&m[1]);
  free(rsl), free(nsl), free(rpw), free(npw);
  prob_free(&p);
  free(d);
  free(t);
}

/* What ns_mf_fit_gathered refuses: a side with more rows than the slot's
** row bits can name, or row bits past NS_MF_MAX_ROW_BITS (NS_ERANGE, before
** anything is read: no 2^30-row model needed); a slot's row or code out of
** range, a non-finite table entry in use, a negative or non-finite table
** weight, a negative slot weight, one weight side without the other, too
** many codes (NS_EINVAL). */
TEST(mf_gathered_rejects_bad_input) {
  prob p;
  ns_mf_params pr;
  ns_mf_model m;
  ns_bigraph sides, big;
  ns_mf_gathered *d = malloc(sizeof *d);
  uint32_t *rsl, *nsl, keep;
  float *rpw, *npw;
  unsigned rb;
  ASSERT(d);
  prob_random(&p, 40, 30, 300, 1, 3);
  prob_weight_levels(&p);
  rb = ns_mf_row_bits(40);
  ASSERT_EQ(rb, 6u);
  ns_mf_params_default(&pr);
  ASSERT_OK(ns_mf_model_init(&m, p.nu, p.nn, 1));

  /* the table layout */
  ASSERT_OK(pack_prob(&p, rb, 0, &sides, d, &rsl, &nsl, &rpw, &npw));
  ASSERT_OK(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m));
  /* the row range: too few row bits for the raters (40 > 32) or the notes */
  d->row_bits = 5;
  ASSERT_ERR(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m), NS_ERANGE);
  d->row_bits = NS_MF_MAX_ROW_BITS + 1;
  ASSERT_ERR(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m), NS_ERANGE);
  d->row_bits = 30;
  big = sides;
  big.n_notes = NS_MF_MAX_ROWS + 1;
  ASSERT_ERR(ns_mf_fit_gathered(&big, d, &pr, NULL, &m), NS_ERANGE);
  big = sides;
  big.n_raters = NS_MF_MAX_ROWS + 1;
  ASSERT_ERR(ns_mf_fit_gathered(&big, d, &pr, NULL, &m), NS_ERANGE);
  big = sides;
  big.n_raters = 65;  /* > 2^6 */
  d->row_bits = rb;
  ASSERT_ERR(ns_mf_fit_gathered(&big, d, &pr, NULL, &m), NS_ERANGE);
  big = sides;
  big.n_notes = 65;
  ASSERT_ERR(ns_mf_fit_gathered(&big, d, &pr, NULL, &m), NS_ERANGE);
  /* a row past the other side's rows (the code bits are not the row) */
  keep = rsl[7];
  rsl[7] = ns_mf_slot((uint32_t)p.nn, 1, rb);
  ASSERT_ERR(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m), NS_EINVAL);
  rsl[7] = keep;
  keep = nsl[9];
  nsl[9] = ns_mf_slot((uint32_t)p.nu, 0, rb);
  ASSERT_ERR(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m), NS_EINVAL);
  nsl[9] = keep;
  /* a code past the table's entries in use */
  keep = nsl[4];
  nsl[4] = ns_mf_slot(keep & 63u, d->n_codes, rb);
  ASSERT_ERR(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m), NS_EINVAL);
  nsl[4] = keep;
  d->n_codes = NS_MF_MAX_CODES + 1;
  ASSERT_ERR(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m), NS_EINVAL);
  d->n_codes = 16;
  /* table entries in use: finite values, finite weights >= 0 (code 0 is
  ** used by no slot but is in use) */
  d->values[0] = NAN;
  ASSERT_ERR(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m), NS_EINVAL);
  d->values[0] = INFINITY;
  ASSERT_ERR(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m), NS_EINVAL);
  d->values[0] = 0;
  d->weights[0] = -1;
  ASSERT_ERR(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m), NS_EINVAL);
  d->weights[0] = NAN;
  ASSERT_ERR(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m), NS_EINVAL);
  d->weights[0] = 3;
  /* entries past n_codes are not read */
  d->values[16] = NAN;
  d->weights[16] = -1;
  ASSERT_OK(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m));
  free(rsl), free(nsl), free(rpw), free(npw);

  /* the per-slot layout: the slot weights are checked, the table's not */
  ASSERT_OK(pack_prob(&p, rb, 1, &sides, d, &rsl, &nsl, &rpw, &npw));
  d->weights[1] = -1;
  ASSERT_OK(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m));
  rpw[11] = -1;
  ASSERT_ERR(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m), NS_EINVAL);
  rpw[11] = 1;
  d->note_pw = NULL;
  ASSERT_ERR(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m), NS_EINVAL);
  d->note_pw = npw;
  ASSERT_ERR(ns_mf_fit_gathered(NULL, d, &pr, NULL, &m), NS_EINVAL);
  ASSERT_ERR(ns_mf_fit_gathered(&sides, NULL, &pr, NULL, &m), NS_EINVAL);
  ASSERT_OK(ns_mf_fit_gathered(&sides, d, &pr, NULL, &m));
  ns_mf_model_free(&m);
  free(rsl), free(nsl), free(rpw), free(npw);
  prob_free(&p);
  free(d);
}

/* Same seed, same start; different seed, different start. */
TEST(mf_init_deterministic) {
  prob p;
  ns_mf_params pr;
  ns_mf_model a, b;
  prob_random(&p, 50, 60, 600, 0, 3);
  ns_mf_params_default(&pr);
  pr.max_iters = 0;
  pr.flip_sign = 0;
  ASSERT_OK(ns_mf_model_init(&a, p.nu, p.nn, 1));
  ASSERT_OK(ns_mf_model_init(&b, p.nu, p.nn, 1));
  ASSERT_OK(ns_mf_fit(p.g, p.val, NULL, &pr, NULL, &a));
  ASSERT_OK(ns_mf_fit(p.g, p.val, NULL, &pr, NULL, &b));
  ASSERT_EQ(a.iters, 0);
  ASSERT(memcmp(a.block, b.block, (p.nu + p.nn) * 2 * sizeof(double)) == 0);
  ASSERT(max_abs(a.note_fac, p.nn) > 0.01 && max_abs(a.note_fac, p.nn) <= 0.1);
  pr.seed = 1;
  ASSERT_OK(ns_mf_fit(p.g, p.val, NULL, &pr, NULL, &b));
  ASSERT(memcmp(a.note_fac, b.note_fac, p.nn * sizeof(double)) != 0);
  ns_mf_model_free(&a);
  ns_mf_model_free(&b);
  prob_free(&p);
}

/* ------------------------------------------------------------------------
** Planted structure.
*/
static double corr(const double *x, const double *y, size_t n) {
  double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= (double)n;
  my /= (double)n;
  for (size_t i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / sqrt(sxx * syy);
}

/* Ratings from known parameters; frac_pos of the raters have a positive
** factor.  After the fit the larger group must be negative. */
static void check_planted(double frac_pos) {
  const size_t nu = 400, nn = 300, per_user = 60;
  prob p;
  ns_mf_params pr;
  ns_mf_model m;
  ns_pool *pool;
  ns_rng r;
  double *ti = malloc(nn * sizeof(double)), *tf = malloc(nn * sizeof(double));
  double *ui = malloc(nu * sizeof(double)), *uf = malloc(nu * sizeof(double));
  size_t neg = 0;

  memset(&p, 0, sizeof p);
  ns_rng_seed(&r, 2024);
  for (size_t n = 0; n < nn; n++) {
    ti[n] = 0.25 * ns_rng_normal(&r);
    tf[n] = 0.4 * ns_rng_normal(&r);
  }
  for (size_t u = 0; u < nu; u++) {
    ui[u] = 0.1 * ns_rng_normal(&r);
    uf[u] = (ns_rng_uniform(&r) < frac_pos ? 1 : -1) * (0.8 + 0.2 * ns_rng_uniform(&r));
  }
  p.nu = nu;
  p.nn = nn;
  p.ne = nu * per_user;
  p.er = malloc(p.ne * sizeof *p.er);
  p.en = malloc(p.ne * sizeof *p.en);
  p.val = malloc(p.ne * sizeof *p.val);
  /* each rater rates a random set of notes (a well-mixed graph: a banded
  ** one can trap 1-D factorizations in sign-domain local minima) */
  unsigned char *seen = calloc(nn, 1);
  for (size_t u = 0, e = 0; u < nu; u++) {
    memset(seen, 0, nn);
    for (size_t j = 0; j < per_user; e++, j++) {
      size_t n;
      do n = ns_rng_below(&r, nn); while (seen[n]);
      seen[n] = 1;
      p.er[e] = (int32_t)u;
      p.en[e] = (int32_t)n;
      p.val[e] = (float)(0.4 + ui[u] + ti[n] + uf[u] * tf[n] + 0.05 * ns_rng_normal(&r));
    }
  }
  free(seen);
  ASSERT_OK(ns_bigraph_build(nu, nn, p.ne, p.er, p.en, &p.g));

  ASSERT_OK(ns_pool_new(2, &pool));
  ns_mf_params_default(&pr);
  ASSERT_OK(ns_mf_model_init(&m, nu, nn, 1));
  ASSERT_OK(ns_mf_fit(p.g, p.val, NULL, &pr, pool, &m));
  ASSERT(m.iters < pr.max_iters);
  for (size_t u = 0; u < nu; u++) neg += m.user_fac[u] < 0;
  ASSERT(2 * neg > nu);
  /* the fitted factors line up with the planted ones, up to that sign */
  double cf = corr(m.note_fac, tf, nn), cu = corr(m.user_fac, uf, nu);
  ASSERT(corr(m.note_icpt, ti, nn) > 0.95);
  if (frac_pos < 0.5) {
    ASSERT(cf > 0.95 && cu > 0.95);
  } else {
    ASSERT(cf < -0.95 && cu < -0.95);
  }
  ASSERT(m.mse < 0.01);
  free(ti);
  free(tf);
  free(ui);
  free(uf);
  ns_mf_model_free(&m);
  ns_pool_free(pool);
  prob_free(&p);
}

TEST(mf_planted_majority_negative) { check_planted(0.4); }
TEST(mf_planted_majority_positive_flips) { check_planted(0.6); }

/* ------------------------------------------------------------------------
** Freezing.
*/
TEST(mf_freeze_users_bit_identical) {
  prob p;
  ns_mf_params pr;
  ns_mf_model m;
  ns_pool *pool;
  double *before, mu;
  size_t nub;
  prob_random(&p, 60, 50, 900, 1, 11);
  ASSERT_OK(ns_pool_new(2, &pool));
  ns_mf_params_default(&pr);
  pr.k = 2;
  ASSERT_OK(ns_mf_model_init(&m, p.nu, p.nn, 2));
  ASSERT_OK(ns_mf_fit(p.g, p.val, p.w, &pr, pool, &m));
  nub = p.nu * 3 * sizeof(double); /* user_icpt then user_fac lead the block */
  before = malloc(nub);
  memcpy(before, m.block, nub);
  mu = m.mu;
  for (size_t n = 0; n < p.nn; n++) m.note_icpt[n] = 0;
  pr.freeze_users = 1;
  pr.init_from_model = 1;
  ASSERT_OK(ns_mf_fit(p.g, p.val, p.w, &pr, pool, &m));
  ASSERT(m.iters >= 1);
  ASSERT(memcmp(before, m.block, nub) == 0);
  ASSERT(memcmp(&mu, &m.mu, sizeof mu) == 0);
  /* a fresh start initializes only the side being fitted */
  pr.init_from_model = 0;
  ASSERT_OK(ns_mf_fit(p.g, p.val, p.w, &pr, pool, &m));
  ASSERT(memcmp(before, m.block, nub) == 0);
  ASSERT(memcmp(&mu, &m.mu, sizeof mu) == 0);
  free(before);
  ns_mf_model_free(&m);
  ns_pool_free(pool);
  prob_free(&p);
}

/* use_mu = 0 keeps mu at 0 and the loss has no mu term. */
TEST(mf_no_global_intercept) {
  prob p;
  ns_mf_params pr;
  ns_mf_model m;
  prob_random(&p, 30, 40, 400, 0, 12);
  ns_mf_params_default(&pr);
  pr.use_mu = 0;
  pr.tol = 0;
  pr.max_iters = 3000;
  ASSERT_OK(ns_mf_model_init(&m, p.nu, p.nn, 1));
  m.mu = 0.7; /* ignored: use_mu = 0 forces 0 */
  pr.init_from_model = 1;
  ASSERT_OK(ns_mf_fit(p.g, p.val, NULL, &pr, NULL, &m));
  ASSERT(m.mu == 0.0);
  ASSERT_NEAR(m.loss, plain_loss(&p, &pr, &m, NULL), 1e-12);
  ns_mf_model_free(&m);
  prob_free(&p);
}

/* ------------------------------------------------------------------------
** Hand-worked cases of the penalty scaling.
*/

/* One note, two raters rating it 1; note frozen at i_n = 0.1, f_n = 1,
** mu frozen at 0.2.  Each rater's problem, times N = 2:
**   (t - i - f)^2 + (0.15 * 2 / n_users) i^2 + (0.03 * 2 / n_users) f^2,
** t = 1 - 0.2 - 0.1 = 0.7.  n_users = 2: penalties 0.15, 0.03, so
**   [1.15 1; 1 1.03] [i; f] = [0.7; 0.7]
**   det = 0.1845, i = 0.021 / 0.1845, f = 0.105 / 0.1845.
** A third rater without ratings makes n_users = 3: penalties 0.1, 0.02,
**   [1.1 1; 1 1.02], det = 0.122, i = 0.014 / 0.122, f = 0.07 / 0.122. */
static void hand_two_raters(size_t nu, double want_i, double want_f) {
  int32_t er[2] = {0, 1}, en[2] = {0, 0};
  float val[2] = {1, 1};
  ns_bigraph *g;
  ns_mf_params pr;
  ns_mf_model m;
  ASSERT_OK(ns_bigraph_build(nu, 1, 2, er, en, &g));
  ns_mf_params_default(&pr);
  pr.freeze_notes = 1;
  pr.freeze_mu = 1;
  pr.init_from_model = 1;
  pr.flip_sign = 0;
  ASSERT_OK(ns_mf_model_init(&m, nu, 1, 1));
  m.note_icpt[0] = 0.1;
  m.note_fac[0] = 1;
  m.mu = 0.2;
  for (size_t u = 0; u < nu; u++) {
    m.user_icpt[u] = 0.5; /* overwritten; the empty rater goes to 0 */
    m.user_fac[u] = -0.5;
  }
  ASSERT_OK(ns_mf_fit(g, val, NULL, &pr, NULL, &m));
  for (size_t u = 0; u < 2; u++) {
    ASSERT_NEAR(m.user_icpt[u], want_i, 1e-13);
    ASSERT_NEAR(m.user_fac[u], want_f, 1e-13);
  }
  if (nu == 3) {
    ASSERT(m.user_icpt[2] == 0 && m.user_fac[2] == 0);
  }
  ASSERT(m.mu == 0.2);
  ASSERT(m.note_icpt[0] == 0.1 && m.note_fac[0] == 1);
  /* exact after one pass: the second pass changes nothing */
  ASSERT(m.iters <= 2);
  ns_mf_model_free(&m);
  ns_bigraph_free(g);
}

TEST(mf_hand_penalty_two_raters) { hand_two_raters(2, 0.021 / 0.1845, 0.105 / 0.1845); }
TEST(mf_hand_penalty_empty_rater_counts) { hand_two_raters(3, 0.014 / 0.122, 0.07 / 0.122); }

/* One note rated 1 and 0 by raters with (i_u, f_u) = (0.1, 1), (0.2, -1),
** users and mu = 0 frozen.  With x = [1, +-1] the normal equations are
** diagonal: i_n = (t1 + t2) / (2 + p_i), f_n = (t1 - t2) / (2 + p_f) with
** t = (0.9, -0.2).  Mean mode (n_notes = 1): p_i = 0.15 * 2 = 0.3,
** p_f = 0.06.  Ratio mode, note_reg_scale = 0.5: p_i = 0.6, p_f = 0.12. */
static void hand_one_note(double scale, double want_i, double want_f) {
  int32_t er[2] = {0, 1}, en[2] = {0, 0};
  float val[2] = {1, 0};
  ns_bigraph *g;
  ns_mf_params pr;
  ns_mf_model m;
  ASSERT_OK(ns_bigraph_build(2, 1, 2, er, en, &g));
  ns_mf_params_default(&pr);
  pr.freeze_users = 1;
  pr.init_from_model = 1;
  pr.note_reg_scale = scale;
  ASSERT_OK(ns_mf_model_init(&m, 2, 1, 1));
  m.user_icpt[0] = 0.1;
  m.user_fac[0] = 1;
  m.user_icpt[1] = 0.2;
  m.user_fac[1] = -1;
  ASSERT_OK(ns_mf_fit(g, val, NULL, &pr, NULL, &m));
  ASSERT_NEAR(m.note_icpt[0], want_i, 1e-13);
  ASSERT_NEAR(m.note_fac[0], want_f, 1e-13);
  /* the loss uses the same note denominator as the solve */
  {
    double r1 = 1 - (0.1 + want_i + want_f), r2 = 0 - (0.2 + want_i - want_f);
    double nd = scale > 0 ? scale : 1.0;
    double L = (r1 * r1 + r2 * r2) / 2 + (0.15 * (0.01 + 0.04) + 0.03 * 2) / 2 +
               (0.15 * want_i * want_i + 0.03 * want_f * want_f) / nd;
    ASSERT_NEAR(m.loss, L, 1e-14);
  }
  ns_mf_model_free(&m);
  ns_bigraph_free(g);
}

TEST(mf_hand_note_mean_mode) { hand_one_note(0, 0.7 / 2.3, 1.1 / 2.06); }
TEST(mf_hand_note_ratio_mode) { hand_one_note(0.5, 0.7 / 2.6, 1.1 / 2.12); }

/* ------------------------------------------------------------------------
** Argument checks.
*/
TEST(mf_rejects_bad_input) {
  prob p;
  ns_mf_params pr;
  ns_mf_model m;
  prob_random(&p, 10, 10, 30, 1, 1);
  ns_mf_params_default(&pr);
  ASSERT_OK(ns_mf_model_init(&m, p.nu, p.nn, 1));
  pr.k = 2; /* does not match the model */
  ASSERT_ERR(ns_mf_fit(p.g, p.val, NULL, &pr, NULL, &m), NS_EINVAL);
  pr.k = 1;
  pr.lambda_f = -1;
  ASSERT_ERR(ns_mf_fit(p.g, p.val, NULL, &pr, NULL, &m), NS_EINVAL);
  pr.lambda_f = 0.03;
  p.w[3] = -1;
  ASSERT_ERR(ns_mf_fit(p.g, p.val, p.w, &pr, NULL, &m), NS_EINVAL);
  p.val[2] = NAN;
  ASSERT_ERR(ns_mf_fit(p.g, p.val, NULL, &pr, NULL, &m), NS_EINVAL);
  ns_mf_model_free(&m);
  ASSERT_OK(ns_mf_model_init(&m, p.nu + 1, p.nn, 1)); /* size mismatch */
  p.val[2] = 0;
  ASSERT_ERR(ns_mf_fit(p.g, p.val, NULL, &pr, NULL, &m), NS_EINVAL);
  ns_mf_model_free(&m);
  ASSERT_ERR(ns_mf_model_init(&m, 1, 1, 0), NS_EINVAL);
  ASSERT_ERR(ns_mf_model_init(&m, 1, 1, NS_MF_MAX_K + 1), NS_EINVAL);
  ns_mf_model_free(NULL);
  prob_free(&p);
}

/* No ratings at all: everything fitted ends at 0 and nothing divides by 0. */
TEST(mf_empty_graph) {
  ns_bigraph *g;
  ns_mf_params pr;
  ns_mf_model m;
  ASSERT_OK(ns_bigraph_build(3, 2, 0, NULL, NULL, &g));
  ns_mf_params_default(&pr);
  ASSERT_OK(ns_mf_model_init(&m, 3, 2, 2));
  pr.k = 2;
  ASSERT_OK(ns_mf_fit(g, NULL, NULL, &pr, NULL, &m));
  for (size_t i = 0; i < (3 + 2) * 3; i++) ASSERT(m.block[i] == 0.0);
  ASSERT(m.mu == 0.0 && m.loss == 0.0 && m.mse == 0.0);
  ns_mf_model_free(&m);
  ns_bigraph_free(g);
}

/* k > 1: the sign rule holds column by column. */
TEST(mf_flip_per_column_k2) {
  prob p;
  ns_mf_params pr;
  ns_mf_model m;
  prob_random(&p, 80, 60, 1500, 0, 21);
  ns_mf_params_default(&pr);
  pr.k = 2;
  ASSERT_OK(ns_mf_model_init(&m, p.nu, p.nn, 2));
  for (uint64_t seed = 0; seed < 4; seed++) {
    pr.seed = seed;
    ASSERT_OK(ns_mf_fit(p.g, p.val, NULL, &pr, NULL, &m));
    for (int q = 0; q < 2; q++) {
      size_t neg = 0, nz = 0;
      for (size_t u = 0; u < p.nu; u++) {
        neg += m.user_fac[u * 2 + q] < 0;
        nz += m.user_fac[u * 2 + q] != 0;
      }
      ASSERT(nz > 0 && 2 * neg >= nz);
    }
    /* flipping does not change the fit */
    ASSERT_NEAR(m.loss, plain_loss(&p, &pr, &m, NULL), 1e-12);
  }
  ns_mf_model_free(&m);
  prob_free(&p);
}

/* ------------------------------------------------------------------------
** The SPD solvers (factorization/spd.c): LAPACKE and the in-house Cholesky
** agree, both solve the system, and both reject what is not SPD.
*/

/* A random SPD n x n matrix (row-major, full) and right-hand side:
** M M^T + d I with M uniform in [-1, 1) and d in [0.01, 1), so the
** condition number varies over a few decades. */
static void random_spd(ns_rng *r, int n, double *A, double *b) {
  double M[81];
  for (int i = 0; i < n * n; i++) M[i] = 2 * ns_rng_uniform(r) - 1;
  double d = 0.01 + ns_rng_uniform(r);
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++) {
      double v = 0;
      for (int q = 0; q < n; q++) v += M[i * n + q] * M[j * n + q];
      A[i * n + j] = v + (i == j ? d : 0);
    }
    b[i] = 2 * ns_rng_uniform(r) - 1;
  }
}

TEST(mf_spd_lapack_matches_inhouse) {
  ns_rng r;
  ns_rng_seed(&r, 7);
  for (int n = 2; n <= NS_MF_MAX_K + 1; n++) {
    for (int rep = 0; rep < 300; rep++) {
      double A[81], b[9], A1[81], x1[9], A2[81], x2[9];
      random_spd(&r, n, A, b);
      memcpy(A1, A, sizeof A), memcpy(x1, b, sizeof b);
      memcpy(A2, A, sizeof A), memcpy(x2, b, sizeof b);
      /* only the lower triangle may be read: spoil the upper one */
      for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) A1[i * n + j] = A2[i * n + j] = NAN;
      ASSERT_OK(ns_mf_chol_solve(n, A1, x1));
      ASSERT_OK(ns_mf_lapack_solve(n, A2, x2));
      double xmax = 0;
      for (int i = 0; i < n; i++) xmax = fmax(xmax, fabs(x1[i]));
      for (int i = 0; i < n; i++) {
        ASSERT_NEAR(x1[i], x2[i], 1e-9 * (1 + xmax));
        /* and x solves the original system */
        double res = -b[i];
        for (int j = 0; j < n; j++) res += A[i * n + j] * x2[j];
        ASSERT_NEAR(res, 0.0, 1e-9 * (1 + xmax));
      }
      /* both leave the same factor L in the lower triangle */
      for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) ASSERT_NEAR(A1[i * n + j], A2[i * n + j], 1e-9);
    }
  }
}

TEST(mf_spd_rejects_non_spd) {
  /* eigenvalues 3 and -1: not positive definite */
  double A[4] = {1, 0, 2, 1}, b[2] = {1, 1};
  ASSERT_ERR(ns_mf_chol_solve(2, A, b), NS_ERANGE);
  double B[9] = {1, 0, 0, 2, 1, 0, 0, 0, 1}, c[3] = {1, 1, 1};
  ASSERT_ERR(ns_mf_lapack_solve(3, B, c), NS_ERANGE);
  double C[9] = {1, 0, 0, 0, NAN, 0, 0, 0, 1}, e[3] = {1, 1, 1};
  ASSERT_ERR(ns_mf_lapack_solve(3, C, e), NS_ERANGE);
  double D[9] = {1, 0, 0, 0, NAN, 0, 0, 0, 1}, f[3] = {1, 1, 1};
  ASSERT_ERR(ns_mf_chol_solve(3, D, f), NS_ERANGE);
  ASSERT_ERR(ns_mf_chol_solve(0, A, b), NS_EINVAL);
  ASSERT_ERR(ns_mf_lapack_solve(NS_MF_MAX_K + 2, A, b), NS_EINVAL);
  ASSERT_ERR(ns_mf_set_solver(7), NS_EINVAL);
}

/* ns_mf_spd_solve: n <= 2 always in-house; larger n by the setting. */
TEST(mf_spd_solve_dispatch) {
  ns_rng r;
  ns_rng_seed(&r, 11);
  for (int n = 2; n <= 5; n++) {
    double A[81], b[9], A1[81], x1[9], A2[81], x2[9], A3[81], x3[9];
    random_spd(&r, n, A, b);
    memcpy(A1, A, sizeof A), memcpy(x1, b, sizeof b);
    memcpy(A2, A, sizeof A), memcpy(x2, b, sizeof b);
    ASSERT_OK(ns_mf_chol_solve(n, A1, x1));
    ASSERT_OK(ns_mf_lapack_solve(n, A2, x2));
    ASSERT_OK(ns_mf_set_solver(NS_MF_SOLVER_LAPACK));
    ASSERT_EQ(ns_mf_solver(), NS_MF_SOLVER_LAPACK);
    memcpy(A3, A, sizeof A), memcpy(x3, b, sizeof b);
    ASSERT_OK(ns_mf_spd_solve(n, A3, x3));
    ASSERT(memcmp(x3, n <= 2 ? x1 : x2, (size_t)n * sizeof *x3) == 0);
    ASSERT_OK(ns_mf_set_solver(NS_MF_SOLVER_INHOUSE));
    memcpy(A3, A, sizeof A), memcpy(x3, b, sizeof b);
    ASSERT_OK(ns_mf_spd_solve(n, A3, x3));
    ASSERT(memcmp(x3, x1, (size_t)n * sizeof *x3) == 0);
  }
}

/* A whole ALS fit agrees to 1e-9 whichever solver does the k > 1 rows (a
** fixed number of passes, so both do the same work), and the LAPACKE fit
** is bit-identical on 1 and 2 threads. */
static void check_fit_solvers(int k) {
  prob p;
  ns_mf_params pr;
  ns_mf_model m[3];
  prob_random(&p, 400, 150, 6000, 1, 5);
  ns_mf_params_default(&pr);
  pr.k = k;
  pr.max_iters = 8;
  pr.tol = 0;
  pr.seed = 99;
  for (int v = 0; v < 3; v++) {
    ns_pool *pool;
    ASSERT_OK(ns_mf_set_solver(v == 0 ? NS_MF_SOLVER_INHOUSE : NS_MF_SOLVER_LAPACK));
    ASSERT_OK(ns_pool_new(v == 2 ? 2 : 1, &pool));
    ASSERT_OK(ns_mf_model_init(&m[v], p.nu, p.nn, k));
    ASSERT_OK(ns_mf_fit(p.g, p.val, p.w, &pr, pool, &m[v]));
    ASSERT_EQ(m[v].iters, 8);
    ns_pool_free(pool);
  }
  size_t nb = (p.nu + p.nn) * (size_t)(k + 1);
  for (size_t i = 0; i < nb; i++) ASSERT_NEAR(m[0].block[i], m[1].block[i], 1e-9);
  ASSERT_NEAR(m[0].mu, m[1].mu, 1e-9);
  ASSERT(memcmp(m[1].block, m[2].block, nb * sizeof(double)) == 0);
  ASSERT(memcmp(&m[1].mu, &m[2].mu, sizeof(double)) == 0);
  for (int v = 0; v < 3; v++) ns_mf_model_free(&m[v]);
  prob_free(&p);
}

TEST(mf_fit_lapack_matches_inhouse_k2) { check_fit_solvers(2); }
TEST(mf_fit_lapack_matches_inhouse_k4) { check_fit_solvers(4); }
TEST(mf_fit_lapack_matches_inhouse_k8) { check_fit_solvers(8); }
