/*
** engine/guard_logit.c -- the harassment/abuse tag-consensus model
** (reference-algorithm.md §3.6): a logistic matrix factorization
**
**   z_e = mu + i_u + i_n + f_u.f_n,   p_e = sigmoid(z_e)
**   L = (1/N) sum_e BCE_pw(z_e, y_e) + lambda_i mean_u(i_u^2)
**       + lambda_f mean_u(|f_u|^2) + lambda_i mean_n(i_n^2)
**       + lambda_f mean_n(|f_n|^2) + lambda_mu mu^2
**
** with BCE_pw = pw*softplus(-z) for y = 1 and softplus(z) for y = 0, pw =
** (1-p)/p (p = positive rate).  The reference trains it with Adam (lr 2.0);
** we use block coordinate descent: with the other side fixed, each row is a
** small convex penalised logistic regression, and we take damped Newton steps
** on it (exact (k+1)x(k+1) Hessian).  The step control needs no loss value
** (row_update): a step that moves no logit by more than ln 2 is a sure
** decrease and is taken as is; a bigger one is checked by the sign of the
** directional derivative at its end.  So a pass costs one inline exp per
** rating and side, no log (the earlier step halving on the row objective
** cost two exp and two log1p).  Rows are independent, so a pass is parallel
** over rows with disjoint writes, and mu's sums go by fixed chunks: the
** result is the same for any thread count.
**
** Who calls it: engine/pipeline_help.c (ns__helpfulness), run thread.
*/
#include "guardrails.h"
#include "../factorization/mf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ns_guard_logit_params_default(ns_guard_logit_params *p) {
  p->lambda_i = 0.15;
  p->lambda_f = 0.03;
  p->lambda_mu = 0.15;
  p->iters = 50;
  p->tol = 1e-4;
  p->passes_out = NULL;
}

int ns_guard_harassment_labels(size_t n_ratings, const uint8_t *r_level,
                               const uint32_t *r_tags, const int64_t *r_created_ms,
                               const int32_t *r_note, const int32_t *r_rater,
                               size_t n_notes, size_t n_raters, int8_t *label) {
  int32_t *cn = ns_calloc(n_notes ? n_notes : 1, sizeof *cn);
  int32_t *cu = ns_calloc(n_raters ? n_raters : 1, sizeof *cu);
  int rc = 0;
  if (!cn || !cu) {
    rc = NS_ENOMEM;
    goto out;
  }
  for (size_t e = 0; e < n_ratings; e++) {
    if (r_note[e] < 0 || (size_t)r_note[e] >= n_notes || r_rater[e] < 0 ||
        (size_t)r_rater[e] >= n_raters) {
      rc = NS_EINVAL;
      goto out;
    }
    label[e] = r_created_ms[e] >= NS_GUARD_HARASS_MIN_MS
                   ? (int8_t)ns_guard_harassment_label(r_level[e], r_tags[e])
                   : -1;
  }
  /* filter_ratings(raters >= 10, notes >= 5): notes, raters, notes again,
  ** one pass each as in the reference (not to convergence). */
  for (int pass = 0; pass < 3; pass++) {
    int notes_pass = pass != 1;
    memset(cn, 0, n_notes * sizeof *cn);
    memset(cu, 0, n_raters * sizeof *cu);
    for (size_t e = 0; e < n_ratings; e++)
      if (label[e] >= 0) cn[r_note[e]]++, cu[r_rater[e]]++;
    for (size_t e = 0; e < n_ratings; e++) {
      if (label[e] < 0) continue;
      if (notes_pass ? cn[r_note[e]] < 5 : cu[r_rater[e]] < 10) label[e] = -1;
    }
  }
out:
  free(cn);
  free(cu);
  return rc;
}

/* One side's rows as CSR over the labelled ratings.  A slot packs what a
** row sweep reads, the other side's row and the label (row << 1 | label),
** so a sweep streams its slots and gathers only the other side's parameter
** block; the earlier layout stored edge ids, and the rater-side sweep paid
** three random reads per rating (other row, label, then the parameters). */
typedef struct lside {
  size_t n;                /* rows */
  size_t *off;             /* n + 1 */
  uint32_t *slot;          /* other row << 1 | label */
} lside;

static int lside_build(lside *s, size_t n, size_t ne, const int32_t *row, const int32_t *other,
                       const int8_t *label) {
  size_t *pos;
  s->n = n;
  s->off = ns_calloc(n + 1, sizeof *s->off);
  s->slot = ns_mallocn(ne ? ne : 1, sizeof *s->slot);
  pos = ns_mallocn(n ? n : 1, sizeof *pos);
  if (!s->off || !s->slot || !pos) {
    free(pos);
    return NS_ENOMEM;
  }
  for (size_t e = 0; e < ne; e++)
    if (label[e] >= 0) s->off[row[e] + 1]++;
  for (size_t i = 0; i < n; i++) s->off[i + 1] += s->off[i];
  memcpy(pos, s->off, n * sizeof *pos);
  for (size_t e = 0; e < ne; e++)
    if (label[e] >= 0) s->slot[pos[row[e]]++] = (uint32_t)other[e] << 1 | (uint32_t)(label[e] > 0);
  free(pos);
  return 0;
}

static void lside_free(lside *s) {
  free(s->off);
  free(s->slot);
}

/* sigmoid(z) with a = e^-|z| and the numerator (1 or a) picked by a bit
** mask: the sign of z is data-dependent and a branch on it mispredicts
** (the same as guard_diligence.c). */
static inline double sigmoid_bl(double z) {
  double a = ns__guard_exp_neg(-fabs(z)), num;
  uint64_t ab, one = 0x3ff0000000000000ull, m = (uint64_t)0 - (uint64_t)(z >= 0), nb;
  memcpy(&ab, &a, sizeof ab);
  nb = (one & m) | (ab & ~m);
  memcpy(&num, &nb, sizeof num);
  return num / (1.0 + a);
}

/* Parameters: one block of m = k + 1 doubles per row, (i, f[0..k-1]), so a
** slot's gather is one cache line. */
typedef struct logit_ctx {
  const lside *s;
  int k;
  double mu, pen_i, pen_f;
  double wy[2];                /* loss weight by label: 1, pw */
  double *self;                /* this side's blocks (updated) */
  const double *other;         /* the other side's blocks (fixed) */
  double *chunk_delta;         /* per chunk: max |step| this pass */
  double *chunk_g, *chunk_h;   /* rater side: per chunk, mu's data sums */
} logit_ctx;

#define LN2 0.6931471805599453
#define MAX_INNER 12   /* Newton iterations per row and pass */
#define MAX_TRIES 4    /* evaluated step lengths before the radius step */
#define ROWS 512       /* rows per pool chunk */

/* Data-term gradient g and Hessian H (row-major m x m, lower triangle
** filled) of row r at theta t, and mx[j] = the largest |feature j| over
** the row's ratings.  One exp per rating, no log.  k = 1 (the default)
** has its own loop with the sums in registers. */
static void row_derivs(const logit_ctx *c, size_t r, const double *t, double *g, double *H,
                       double *mx) {
  const int k = c->k, m = k + 1;
  const uint32_t *slot = c->s->slot;
  const double *other = c->other, w0 = c->wy[0], w1 = c->wy[1];
  const size_t lo = c->s->off[r], hi = c->s->off[r + 1];
  if (k == 1) {
    double g0 = 0, g1 = 0, h00 = 0, h01 = 0, h11 = 0, m1 = 0;
    const double base = c->mu + t[0], t1 = t[1];
    for (size_t p = lo; p < hi; p++) {
      uint32_t sl = slot[p];
      const double *q = other + (size_t)(sl >> 1) * 2;
      double x1 = q[1], y = (double)(sl & 1), w = (sl & 1) ? w1 : w0;
      double s = sigmoid_bl(base + q[0] + x1 * t1);
      double dz = w * (s - y), hz = w * s * (1.0 - s);
      g0 += dz;
      g1 += dz * x1;
      h00 += hz;
      h01 += hz * x1;
      h11 += hz * x1 * x1;
      m1 = fabs(x1) > m1 ? fabs(x1) : m1;
    }
    g[0] = g0, g[1] = g1;
    H[0] = h00, H[2] = h01, H[3] = h11, H[1] = 0;
    mx[0] = 1.0, mx[1] = m1;
    return;
  }
  double x[NS_GUARD_MAX_K + 1];
  memset(g, 0, (size_t)m * sizeof *g);
  memset(H, 0, (size_t)(m * m) * sizeof *H);
  memset(mx, 0, (size_t)m * sizeof *mx);
  mx[0] = 1.0;
  x[0] = 1.0;
  for (size_t p = lo; p < hi; p++) {
    uint32_t sl = slot[p];
    const double *q = other + (size_t)(sl >> 1) * m;
    double z = c->mu + q[0] + t[0], y = (double)(sl & 1), w = (sl & 1) ? w1 : w0;
    for (int j = 1; j < m; j++) x[j] = q[j], z += q[j] * t[j];
    double s = sigmoid_bl(z);
    double dz = w * (s - y), hz = w * s * (1.0 - s);
    for (int i = 0; i < m; i++) {
      g[i] += dz * x[i];
      for (int j = 0; j <= i; j++) H[i * m + j] += hz * x[i] * x[j];
      if (fabs(x[i]) > mx[i]) mx[i] = fabs(x[i]);
    }
  }
}

/* Adds the penalty's gradient and Hessian at t and mirrors the lower
** triangle. */
static void add_penalty(const logit_ctx *c, const double *t, double *g, double *H) {
  const int m = c->k + 1;
  g[0] += 2 * c->pen_i * t[0];
  H[0] += 2 * c->pen_i;
  for (int j = 1; j < m; j++) {
    g[j] += 2 * c->pen_f * t[j];
    H[j * m + j] += 2 * c->pen_f;
  }
  for (int i = 0; i < m; i++)
    for (int j = i + 1; j < m; j++) H[i * m + j] = H[j * m + i];
}

/* One row: damped Newton iterations without ever evaluating the loss.
** Along a step the logistic curvature s(1-s) of a rating changes by at
** most e^|dz|, so a step that moves no rating's logit by more than ln 2
** (bound sum_j mx_j |d_j|) sees at most twice the curvature it was computed
** with and surely lowers the (convex) row objective: it is taken and the
** row is done for this pass.  A bigger step is evaluated at its end (which
** yields the next step's derivatives): kept while the objective is still
** going down there (g' . d <= 0), else shortened to the secant root of the
** directional derivative, at most MAX_TRIES times, then to the ln 2
** radius.  Returns the row's largest parameter change. */
static double row_update(const logit_ctx *c, size_t r) {
  const int k = c->k, m = k + 1;
  double *th = c->self + r * (size_t)m;
  double t[NS_GUARD_MAX_K + 1], tn[NS_GUARD_MAX_K + 1];
  double g[NS_GUARD_MAX_K + 1], d[NS_GUARD_MAX_K + 1], mx[NS_GUARD_MAX_K + 1];
  double H[(NS_GUARD_MAX_K + 1) * (NS_GUARD_MAX_K + 1)], A[(NS_GUARD_MAX_K + 1) * (NS_GUARD_MAX_K + 1)];
  int have = 0;
  memcpy(t, th, (size_t)m * sizeof *t);
  for (int it = 0; it < MAX_INNER; it++) {
    if (!have) {
      row_derivs(c, r, t, g, H, mx);
      add_penalty(c, t, g, H);
    }
    have = 0;
    memcpy(A, H, (size_t)(m * m) * sizeof *A);
    for (int j = 0; j < m; j++) d[j] = -g[j];
    if (ns_mf_chol_solve(m, A, d) != 0) break; /* not with pen > 0 */
    double bound = 0, D = 0;
    for (int j = 0; j < m; j++) bound += mx[j] * fabs(d[j]), D -= g[j] * d[j];
    if (bound <= LN2 || !(D > 0)) {
      for (int j = 0; j < m; j++) t[j] += d[j];
      break;
    }
    double tmin = LN2 / bound, step = 1.0;
    for (int tries = 0;; tries++) {
      if (tries == MAX_TRIES) {
        step = tmin;
        break;
      }
      for (int j = 0; j < m; j++) tn[j] = t[j] + step * d[j];
      row_derivs(c, r, tn, g, H, mx);
      add_penalty(c, tn, g, H);
      double slope = 0;
      for (int j = 0; j < m; j++) slope += g[j] * d[j];
      if (slope <= 0) {
        have = 1; /* still descending there: keep it, reuse g and H */
        break;
      }
      step *= D / (D + slope); /* secant root of the directional derivative */
      if (step <= tmin) {
        step = tmin;
        break;
      }
    }
    for (int j = 0; j < m; j++) t[j] += step * d[j];
  }
  double dmax = 0;
  for (int j = 0; j < m; j++)
    if (fabs(t[j] - th[j]) > dmax) dmax = fabs(t[j] - th[j]);
  memcpy(th, t, (size_t)m * sizeof *t);
  return dmax;
}

/* A chunk of rows.  On the rater side it also sums mu's data gradient and
** curvature at the rows' new parameters (every rating is in exactly one
** rater row, and d z / d mu = 1): the same exp per rating as a separate
** pass over the ratings, but on slots that are still in cache. */
static void logit_rows(void *vctx, size_t chunk, size_t begin, size_t end) {
  logit_ctx *c = vctx;
  const int m = c->k + 1;
  double dmax = 0, gs = 0, hs = 0;
  double g[NS_GUARD_MAX_K + 1], mx[NS_GUARD_MAX_K + 1];
  double H[(NS_GUARD_MAX_K + 1) * (NS_GUARD_MAX_K + 1)];
  for (size_t r = begin; r < end; r++) {
    if (c->s->off[r] == c->s->off[r + 1]) continue;
    double d = row_update(c, r);
    if (d > dmax) dmax = d;
    if (c->chunk_g) {
      row_derivs(c, r, c->self + r * (size_t)m, g, H, mx);
      gs += g[0];
      hs += H[0];
    }
  }
  c->chunk_delta[chunk] = dmax;
  if (c->chunk_g) {
    c->chunk_g[chunk] = gs;
    c->chunk_h[chunk] = hs;
  }
}

/* Largest per-row step of the last pass (max is order-independent, so the
** stopping decision does not depend on the thread count). */
static double max_delta(const double *d, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = d[i] > m ? d[i] : m;
  return m;
}

int ns_guard_harassment_fit(size_t n_notes, size_t n_raters, int k,
                            size_t n_ratings, const int32_t *r_note,
                            const int32_t *r_rater, const int8_t *label,
                            const double *init_note_fac, const double *init_rater_fac,
                            const ns_guard_logit_params *p, ns_pool *pool,
                            double *note_icpt, double *note_fac,
                            double *rater_icpt, double *rater_fac, double *mu_out) {
  lside sn = {0}, su = {0};
  double *nb = NULL, *rb = NULL, *dn = NULL, *mg = NULL;
  int rc = 0;
  size_t N = 0, npos = 0, nn_act = 0, nu_act = 0, m = (size_t)k + 1;
  if (k < 1 || k > NS_GUARD_MAX_K || !p || !note_icpt) return NS_EINVAL;
  if (n_ratings >= UINT32_MAX || n_notes >= INT32_MAX || n_raters >= INT32_MAX)
    return NS_EINVAL; /* slots pack a row index and the label into 32 bits */
  for (size_t e = 0; e < n_ratings; e++) {
    if (label[e] < 0) continue;
    if (r_note[e] < 0 || (size_t)r_note[e] >= n_notes || r_rater[e] < 0 ||
        (size_t)r_rater[e] >= n_raters)
      return NS_EINVAL;
    N++;
    npos += label[e] > 0;
  }
  for (size_t n = 0; n < n_notes; n++) note_icpt[n] = NAN;
  if (mu_out) *mu_out = NAN;
  if (p->passes_out) *p->passes_out = 0;
  /* The reference skips the model when the positive rate is 0 or 1. */
  if (N == 0 || npos == 0 || npos == N) return 0;
  double pw = (double)(N - npos) / (double)npos; /* (1-p)/p */

  nb = ns_calloc(n_notes ? n_notes * m : 1, sizeof *nb);
  rb = ns_calloc(n_raters ? n_raters * m : 1, sizeof *rb);
  if (!nb || !rb) {
    rc = NS_ENOMEM;
    goto out;
  }
  if ((rc = lside_build(&sn, n_notes, n_ratings, r_note, r_rater, label)) != 0) goto out;
  if ((rc = lside_build(&su, n_raters, n_ratings, r_rater, r_note, label)) != 0) goto out;
  for (size_t n = 0; n < n_notes; n++) nn_act += sn.off[n + 1] > sn.off[n];
  for (size_t u = 0; u < n_raters; u++) nu_act += su.off[u + 1] > su.off[u];
  /* Init: intercepts 0, factors doubled from the helpfulness model. */
  for (size_t n = 0; n < n_notes; n++)
    for (int j = 0; j < k; j++)
      nb[n * m + 1 + j] = init_note_fac ? 2.0 * init_note_fac[n * k + j]
                                        : 0.1 * ((double)(ns_hash64(n * 8 + j) >> 11) * 0x1p-53 - 0.5);
  for (size_t u = 0; u < n_raters; u++)
    for (int j = 0; j < k; j++)
      rb[u * m + 1 + j] = init_rater_fac ? 2.0 * init_rater_fac[u * k + j]
                                         : 0.1 * ((double)(ns_hash64(~(u * 8 + j)) >> 11) * 0x1p-53 - 0.5);
  double mu = 0.0;
  size_t ncn = ns_pool_nchunks(n_notes, ROWS), ncu = ns_pool_nchunks(n_raters, ROWS);
  dn = ns_calloc(ncn + ncu + 1, sizeof *dn);
  mg = ns_calloc(2 * ncu + 1, sizeof *mg);
  if (!dn || !mg) {
    rc = NS_ENOMEM;
    goto out;
  }
  logit_ctx cn = {&sn, k, 0, 0, 0, {1.0, pw}, nb, rb, dn, NULL, NULL};
  logit_ctx cu = {&su, k, 0, 0, 0, {1.0, pw}, rb, nb, dn + ncn, mg, mg + ncu};
  /* Mean regulariser times N: ridge lambda * N / #rows per row. */
  cn.pen_i = p->lambda_i * (double)N / (double)nn_act;
  cn.pen_f = p->lambda_f * (double)N / (double)nn_act;
  cu.pen_i = p->lambda_i * (double)N / (double)nu_act;
  cu.pen_f = p->lambda_f * (double)N / (double)nu_act;
  for (int it = 0; it < p->iters; it++) {
    if (p->passes_out) *p->passes_out = it + 1;
    cn.mu = cu.mu = mu;
    ns_pool_for(pool, n_notes, ROWS, logit_rows, &cn);
    ns_pool_for(pool, n_raters, ROWS, logit_rows, &cu);
    /* mu: one damped Newton step on the sums of the rater sweep, added in
    ** chunk order */
    double g = 2 * p->lambda_mu * (double)N * mu, h = 2 * p->lambda_mu * (double)N;
    for (size_t i = 0; i < ncu; i++) g += mg[i], h += mg[ncu + i];
    double dmu = 0;
    if (h > 0) {
      dmu = g / h; /* cap the step: Newton on a logistic can overshoot */
      dmu = dmu > 1.0 ? 1.0 : dmu < -1.0 ? -1.0 : dmu;
      mu -= dmu;
    }
    /* converged: no parameter moved more than tol in this pass */
    if (fabs(dmu) < p->tol && max_delta(dn, ncn + ncu) < p->tol) break;
  }
  for (size_t n = 0; n < n_notes; n++) {
    int has = sn.off[n + 1] > sn.off[n];
    note_icpt[n] = has ? nb[n * m] : NAN;
    if (note_fac)
      for (int j = 0; j < k; j++) note_fac[n * k + j] = has ? nb[n * m + 1 + j] : NAN;
  }
  for (size_t u = 0; u < n_raters; u++) {
    int has = su.off[u + 1] > su.off[u];
    if (rater_icpt) rater_icpt[u] = has ? rb[u * m] : NAN;
    if (rater_fac)
      for (int j = 0; j < k; j++) rater_fac[u * k + j] = has ? rb[u * m + 1 + j] : NAN;
  }
  if (mu_out) *mu_out = mu;
out:
  lside_free(&sn);
  lside_free(&su);
  free(nb);
  free(rb);
  free(dn);
  free(mg);
  return rc;
}
