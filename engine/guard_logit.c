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

/* CSR over one side: rows -> edge ids with label >= 0. */
typedef struct side {
  size_t n;
  size_t *off;
  uint32_t *idx;
} side;

static int side_build(side *s, size_t n, size_t ne, const int32_t *row, const int8_t *label) {
  s->n = n;
  s->off = ns_calloc(n + 1, sizeof *s->off);
  s->idx = ns_mallocn(ne ? ne : 1, sizeof *s->idx);
  if (!s->off || !s->idx) return NS_ENOMEM;
  for (size_t e = 0; e < ne; e++)
    if (label[e] >= 0) s->off[row[e] + 1]++;
  for (size_t i = 0; i < n; i++) s->off[i + 1] += s->off[i];
  size_t *pos = ns_mallocn(n ? n : 1, sizeof *pos);
  if (!pos) return NS_ENOMEM;
  memcpy(pos, s->off, n * sizeof *pos);
  for (size_t e = 0; e < ne; e++)
    if (label[e] >= 0) s->idx[pos[row[e]]++] = (uint32_t)e;
  free(pos);
  return 0;
}

static void side_free(side *s) {
  free(s->off);
  free(s->idx);
}

/* sigma(z) with the inline e^x (guardrails.h). */
static double sigmoid(double z) {
  double a = ns__guard_exp_neg(-fabs(z));
  return z >= 0 ? 1.0 / (1.0 + a) : a / (1.0 + a);
}

typedef struct logit_ctx {
  const int32_t *self_idx, *other_idx; /* per edge: this side's row / other row */
  const int8_t *label;
  const side *s;
  int k;
  double mu, pw, pen_i, pen_f;
  double *icpt, *fac;                  /* this side (updated) */
  const double *oicpt, *ofac;          /* other side (fixed) */
  double *chunk_delta;                 /* per chunk: max |step| this pass */
} logit_ctx;

#define LN2 0.6931471805599453
#define MAX_INNER 12   /* Newton iterations per row and pass */
#define MAX_TRIES 4    /* evaluated step lengths before the radius step */

/* Gradient g and Hessian H (row-major m x m, m = k + 1) of row r's
** objective at theta t -- data term plus penalty -- and mx[j] = the largest
** |feature j| over the row's ratings.  One exp per rating, no log. */
static void row_derivs(const logit_ctx *c, size_t r, const double *t, double *g, double *H,
                       double *mx) {
  const int k = c->k, m = k + 1;
  double x[NS_GUARD_MAX_K + 1];
  memset(H, 0, (size_t)(m * m) * sizeof *H);
  memset(mx, 0, (size_t)m * sizeof *mx);
  g[0] = 2 * c->pen_i * t[0];
  H[0] = 2 * c->pen_i;
  for (int j = 1; j < m; j++) {
    g[j] = 2 * c->pen_f * t[j];
    H[j * m + j] = 2 * c->pen_f;
  }
  mx[0] = 1.0;
  for (size_t p = c->s->off[r]; p < c->s->off[r + 1]; p++) {
    uint32_t e = c->s->idx[p];
    int32_t o = c->other_idx[e];
    x[0] = 1.0;
    for (int j = 0; j < k; j++) x[j + 1] = c->ofac[(size_t)o * k + j];
    double z = c->mu + c->oicpt[o];
    for (int j = 0; j < m; j++) z += x[j] * t[j];
    double s = sigmoid(z), dz, hz;
    if (c->label[e]) {
      dz = -c->pw * (1.0 - s);
      hz = c->pw * s * (1.0 - s);
    } else {
      dz = s;
      hz = s * (1.0 - s);
    }
    for (int i = 0; i < m; i++) {
      g[i] += dz * x[i];
      for (int j = 0; j <= i; j++) H[i * m + j] += hz * x[i] * x[j];
      if (fabs(x[i]) > mx[i]) mx[i] = fabs(x[i]);
    }
  }
  for (int i = 0; i < m; i++) /* mirror the lower triangle */
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
  double t[NS_GUARD_MAX_K + 1], t0[NS_GUARD_MAX_K + 1], tn[NS_GUARD_MAX_K + 1];
  double g[NS_GUARD_MAX_K + 1], d[NS_GUARD_MAX_K + 1], mx[NS_GUARD_MAX_K + 1];
  double H[(NS_GUARD_MAX_K + 1) * (NS_GUARD_MAX_K + 1)], A[(NS_GUARD_MAX_K + 1) * (NS_GUARD_MAX_K + 1)];
  int have = 0;
  t[0] = c->icpt[r];
  for (int j = 0; j < k; j++) t[j + 1] = c->fac[r * k + j];
  memcpy(t0, t, (size_t)m * sizeof *t);
  for (int it = 0; it < MAX_INNER; it++) {
    if (!have) row_derivs(c, r, t, g, H, mx);
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
    if (fabs(t[j] - t0[j]) > dmax) dmax = fabs(t[j] - t0[j]);
  c->icpt[r] = t[0];
  for (int j = 0; j < k; j++) c->fac[r * k + j] = t[j + 1];
  return dmax;
}

static void logit_rows(void *vctx, size_t chunk, size_t begin, size_t end) {
  logit_ctx *c = vctx;
  double dmax = 0;
  for (size_t r = begin; r < end; r++) {
    if (c->s->off[r] == c->s->off[r + 1]) continue;
    double d = row_update(c, r);
    if (d > dmax) dmax = d;
  }
  c->chunk_delta[chunk] = dmax;
}

/* mu's gradient and curvature over a chunk of ratings (partials summed in
** chunk order by the caller, so the sum does not depend on threads). */
typedef struct mu_ctx {
  size_t n_ratings;
  const int32_t *r_note, *r_rater;
  const int8_t *label;
  int k;
  double mu, pw;
  const double *ni, *nf, *ui, *uf;
  double *g, *h;                       /* per chunk */
} mu_ctx;

#define MU_CHUNK 16384

static void mu_chunk(void *vctx, size_t chunk, size_t begin, size_t end) {
  mu_ctx *c = vctx;
  double g = 0, h = 0;
  for (size_t e = begin; e < end; e++) {
    if (c->label[e] < 0) continue;
    int32_t n = c->r_note[e], u = c->r_rater[e];
    double z = c->mu + c->ni[n] + c->ui[u];
    for (int j = 0; j < c->k; j++) z += c->nf[(size_t)n * c->k + j] * c->uf[(size_t)u * c->k + j];
    double s = sigmoid(z);
    if (c->label[e]) {
      g += -c->pw * (1.0 - s);
      h += c->pw * s * (1.0 - s);
    } else {
      g += s;
      h += s * (1.0 - s);
    }
  }
  c->g[chunk] = g;
  c->h[chunk] = h;
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
  side sn = {0}, su = {0};
  double *blk = NULL, *dn = NULL, *mg = NULL;
  int rc = 0;
  size_t N = 0, npos = 0, nn_act = 0, nu_act = 0;
  if (k < 1 || k > NS_GUARD_MAX_K || !p || !note_icpt) return NS_EINVAL;
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

  blk = ns_calloc((n_notes + n_raters) * (size_t)(k + 1), sizeof *blk);
  if (!blk) return NS_ENOMEM;
  double *ni = blk, *nf = ni + n_notes, *ui = nf + n_notes * k, *uf = ui + n_raters;
  if ((rc = side_build(&sn, n_notes, n_ratings, r_note, label)) != 0) goto out;
  if ((rc = side_build(&su, n_raters, n_ratings, r_rater, label)) != 0) goto out;
  for (size_t n = 0; n < n_notes; n++) nn_act += sn.off[n + 1] > sn.off[n];
  for (size_t u = 0; u < n_raters; u++) nu_act += su.off[u + 1] > su.off[u];
  /* Init: intercepts 0, factors doubled from the helpfulness model. */
  for (size_t n = 0; n < n_notes; n++)
    for (int j = 0; j < k; j++)
      nf[n * k + j] = init_note_fac ? 2.0 * init_note_fac[n * k + j]
                                    : 0.1 * ((double)(ns_hash64(n * 8 + j) >> 11) * 0x1p-53 - 0.5);
  for (size_t u = 0; u < n_raters; u++)
    for (int j = 0; j < k; j++)
      uf[u * k + j] = init_rater_fac ? 2.0 * init_rater_fac[u * k + j]
                                     : 0.1 * ((double)(ns_hash64(~(u * 8 + j)) >> 11) * 0x1p-53 - 0.5);
  double mu = 0.0;
  size_t ncn = ns_pool_nchunks(n_notes, 512), ncu = ns_pool_nchunks(n_raters, 512);
  size_t ncm = ns_pool_nchunks(n_ratings, MU_CHUNK);
  dn = ns_calloc(ncn + ncu + 1, sizeof *dn);
  mg = ns_calloc(2 * ncm + 1, sizeof *mg);
  if (!dn || !mg) {
    rc = NS_ENOMEM;
    goto out;
  }
  logit_ctx cn = {r_note, r_rater, label, &sn, k, 0, pw, 0, 0, ni, nf, ui, uf, dn};
  logit_ctx cu = {r_rater, r_note, label, &su, k, 0, pw, 0, 0, ui, uf, ni, nf, dn + ncn};
  /* Mean regulariser times N: ridge lambda * N / #rows per row. */
  cn.pen_i = p->lambda_i * (double)N / (double)nn_act;
  cn.pen_f = p->lambda_f * (double)N / (double)nn_act;
  cu.pen_i = p->lambda_i * (double)N / (double)nu_act;
  cu.pen_f = p->lambda_f * (double)N / (double)nu_act;
  for (int it = 0; it < p->iters; it++) {
    if (p->passes_out) *p->passes_out = it + 1;
    cn.mu = cu.mu = mu;
    ns_pool_for(pool, n_notes, 512, logit_rows, &cn);
    ns_pool_for(pool, n_raters, 512, logit_rows, &cu);
    /* mu: one damped Newton step; the sums go by fixed chunks of ratings */
    mu_ctx mc = {n_ratings, r_note, r_rater, label, k, mu, pw, ni, nf, ui, uf, mg, mg + ncm};
    ns_pool_for(pool, n_ratings, MU_CHUNK, mu_chunk, &mc);
    double g = 2 * p->lambda_mu * (double)N * mu, h = 2 * p->lambda_mu * (double)N;
    for (size_t i = 0; i < ncm; i++) g += mg[i], h += mg[ncm + i];
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
    note_icpt[n] = has ? ni[n] : NAN;
    if (note_fac)
      for (int j = 0; j < k; j++) note_fac[n * k + j] = has ? nf[n * k + j] : NAN;
  }
  for (size_t u = 0; u < n_raters; u++) {
    int has = su.off[u + 1] > su.off[u];
    if (rater_icpt) rater_icpt[u] = has ? ui[u] : NAN;
    if (rater_fac)
      for (int j = 0; j < k; j++) rater_fac[u * k + j] = has ? uf[u * k + j] : NAN;
  }
  if (mu_out) *mu_out = mu;
out:
  side_free(&sn);
  side_free(&su);
  free(blk);
  free(dn);
  free(mg);
  return rc;
}
