/*
** factorization/logit.c -- the row Newton step of the logistic fits
** (logit.h states the method), the heaviest-first row numbering and the
** table behind ns_logit_exp_neg.
*/
#include "logit.h"

#define LN2 0.6931471805599453

/* Data derivatives at t plus the penalty's: g += 2 pen t, H_jj += 2 pen. */
static void eval_row(const ns_logit_row *row, const double *t, double *g, double *H,
                     double *mx) {
  const int m = row->m;
  row->derivs(row->ctx, row->row, t, g, H, mx, row->ev_last);
  for (int j = 0; j < m; j++) {
    g[j] += 2 * row->pen[j] * t[j];
    H[j * m + j] += 2 * row->pen[j];
  }
}

double ns_logit_newton(const ns_logit_row *row, double *theta) {
  const int m = row->m;
  ns_logit_solve_fn solve = row->solve ? row->solve : ns_mf_spd_solve;
  double t[NS_LOGIT_MAX_M], tn[NS_LOGIT_MAX_M], g[NS_LOGIT_MAX_M], d[NS_LOGIT_MAX_M];
  double mx[NS_LOGIT_MAX_M], H[NS_LOGIT_MAX_M * NS_LOGIT_MAX_M];
  _Alignas(64) double A[NS_LOGIT_MAX_M * NS_LOGIT_MAX_M];
  double G0 = 0;   /* penalised d/dtheta_0: at t, then predicted at the new t */
  int have = 0;    /* 1: g, H, mx hold the derivatives at t */
  memcpy(t, theta, (size_t)m * sizeof *t);
  for (int it = 0; it < NS_LOGIT_MAX_INNER; it++) {
    if (!have) {
      eval_row(row, t, g, H, mx);
      if (row->ev_cur) memcpy(row->ev_cur, row->ev_last, row->ev_size);
    }
    have = 0;
    G0 = g[0];
    memcpy(A, H, (size_t)(m * m) * sizeof *A);
    for (int j = 0; j < m; j++) d[j] = -g[j];
    if (solve(m, A, d) != 0) break; /* not with pen > 0 */
    double bound = 0, D = 0;       /* logit bound; Newton decrement^2 */
    for (int j = 0; j < m; j++) bound += mx[j] * fabs(d[j]), D -= g[j] * d[j];
    if (bound <= LN2 || !(D > 0)) {
      for (int j = 0; j < m; j++) t[j] += d[j]; /* blind step */
      G0 = 0; /* the Newton model's gradient at the full step */
      break;
    }
    double tmin = LN2 / bound, step = 1.0;
    for (int tries = 0;; tries++) {
      if (tries == NS_LOGIT_MAX_TRIES) {
        step = tmin;
        break;
      }
      for (int j = 0; j < m; j++) tn[j] = t[j] + step * d[j];
      eval_row(row, tn, g, H, mx);
      double slope = 0;
      for (int j = 0; j < m; j++) slope += g[j] * d[j];
      if (slope <= 0) {
        have = 1; /* still descending there: keep it, reuse g and H */
        if (row->ev_cur) memcpy(row->ev_cur, row->ev_last, row->ev_size);
        break;
      }
      step *= D / (D + slope); /* secant root of the directional derivative */
      if (step <= tmin) {
        step = tmin; /* the radius step: a guaranteed decrease */
        break;
      }
    }
    for (int j = 0; j < m; j++) t[j] += step * d[j];
    G0 = have ? g[0] : (1.0 - step) * G0; /* exact, or the model's */
  }
  memcpy(theta, t, (size_t)m * sizeof *t);
  return G0;
}

/* ---- row order ------------------------------------------------------------ */

size_t ns_logit_order_rows(size_t n, const uint32_t *deg, int32_t *new_id, int32_t *orig) {
  /* Stable LSD radix sort of the rows with deg > 0 on ~deg, two 16-bit
  ** digits, starting from id order: heaviest first, ties by id. */
  size_t m = 0, cnt[65537];
  int32_t *tmp = new_id; /* scratch for the first digit's output */
  for (size_t r = 0; r < n; r++)
    if (deg[r]) orig[m++] = (int32_t)r;
  for (int sh = 0; sh < 32; sh += 16) {
    const int32_t *src = sh == 0 ? orig : tmp;
    int32_t *dst = sh == 0 ? tmp : orig;
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < m; i++) cnt[((~deg[src[i]]) >> sh & 0xffff) + 1]++;
    for (size_t b = 0; b < 65536; b++) cnt[b + 1] += cnt[b];
    for (size_t i = 0; i < m; i++) dst[cnt[(~deg[src[i]]) >> sh & 0xffff]++] = src[i];
  }
  for (size_t r = 0; r < n; r++) new_id[r] = -1;
  for (size_t j = 0; j < m; j++) new_id[orig[j]] = (int32_t)j;
  return m;
}

/* ---- e^x table ------------------------------------------------------------ */

const double ns_logit_exp2_64[64] = {
    0x1.0000000000000p+0, 0x1.02c9a3e778061p+0, 0x1.059b0d3158574p+0, 0x1.0874518759bc8p+0,
    0x1.0b5586cf9890fp+0, 0x1.0e3ec32d3d1a2p+0, 0x1.11301d0125b51p+0, 0x1.1429aaea92de0p+0,
    0x1.172b83c7d517bp+0, 0x1.1a35beb6fcb75p+0, 0x1.1d4873168b9aap+0, 0x1.2063b88628cd6p+0,
    0x1.2387a6e756238p+0, 0x1.26b4565e27cddp+0, 0x1.29e9df51fdee1p+0, 0x1.2d285a6e4030bp+0,
    0x1.306fe0a31b715p+0, 0x1.33c08b26416ffp+0, 0x1.371a7373aa9cbp+0, 0x1.3a7db34e59ff7p+0,
    0x1.3dea64c123422p+0, 0x1.4160a21f72e2ap+0, 0x1.44e086061892dp+0, 0x1.486a2b5c13cd0p+0,
    0x1.4bfdad5362a27p+0, 0x1.4f9b2769d2ca7p+0, 0x1.5342b569d4f82p+0, 0x1.56f4736b527dap+0,
    0x1.5ab07dd485429p+0, 0x1.5e76f15ad2148p+0, 0x1.6247eb03a5585p+0, 0x1.6623882552225p+0,
    0x1.6a09e667f3bcdp+0, 0x1.6dfb23c651a2fp+0, 0x1.71f75e8ec5f74p+0, 0x1.75feb564267c9p+0,
    0x1.7a11473eb0187p+0, 0x1.7e2f336cf4e62p+0, 0x1.82589994cce13p+0, 0x1.868d99b4492edp+0,
    0x1.8ace5422aa0dbp+0, 0x1.8f1ae99157736p+0, 0x1.93737b0cdc5e5p+0, 0x1.97d829fde4e50p+0,
    0x1.9c49182a3f090p+0, 0x1.a0c667b5de565p+0, 0x1.a5503b23e255dp+0, 0x1.a9e6b5579fdbfp+0,
    0x1.ae89f995ad3adp+0, 0x1.b33a2b84f15fbp+0, 0x1.b7f76f2fb5e47p+0, 0x1.bcc1e904bc1d2p+0,
    0x1.c199bdd85529cp+0, 0x1.c67f12e57d14bp+0, 0x1.cb720dcef9069p+0, 0x1.d072d4a07897cp+0,
    0x1.d5818dcfba487p+0, 0x1.da9e603db3285p+0, 0x1.dfc97337b9b5fp+0, 0x1.e502ee78b3ff6p+0,
    0x1.ea4afa2a490dap+0, 0x1.efa1bee615a27p+0, 0x1.f50765b6e4540p+0, 0x1.fa7c1819e90d8p+0,
};
