/*
** guard/harassment.c -- the harassment/abuse tag-consensus model
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
** small convex penalised logistic regression, and the shared solver of
** factorization/logit.h takes damped Newton steps on it (exact (k+1)x(k+1)
** Hessian, no loss evaluations: a step that moves no logit by more than
** ln 2 is a sure decrease).  This file supplies the per-row derivative
** loop over its CSR layout, mu and the active-row bookkeeping.  Rows are
** independent, so a sweep is parallel over rows with disjoint writes.
**
** mu.  Every rating is in one rater row, whose intercept has feature 1 like
** mu, so the data part of d/dmu is the sum over raters of the data part of
** d/d i_u.  Each rater row's last Newton step predicts that part at its new
** point (exact at a fixed point), and mu takes a capped Newton step on the
** sum, added in rater order: no pass over the ratings of its own.
**
** Active rows.  On gen data the fit needs 20-40 passes (a few notes flip
** their factor late, one cluster at a time), but after the first dozen
** most rows no longer move.  A row is updated in a pass only if it moved
** more than ACTIVE_FRAC * tol in its last update or a neighbour on the
** other side did since (and every row when mu has drifted that much since
** the last full pass).  The stopping test is only taken on a full pass
** (every row updated), so skipping changes the cost, not the criterion.
**
** Determinism: row updates write only their own row; the active marks and
** the mu sums are serial loops in row order; max is order-independent.
** The result is the same for any thread count.
**
** Who calls it: engine/pipeline_help.c (ns__helpfulness), run thread.
*/
#include "guard.h"
#include "../factorization/logit.h"

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

int ns_guard_harassment_labels(const ns_bigraph *g, const ns_dataset *ds, const uint32_t *r_src,
                               int8_t *label) {
  const size_t n_ratings = g->n_edges;
  const int32_t *r_rater = g->edge_rater;
  int32_t *cn = ns_calloc(g->n_notes, sizeof *cn);
  int32_t *cu = ns_calloc(g->n_raters, sizeof *cu);
  int rc = 0;
  if (!cn || !cu) {
    rc = NS_ENOMEM;
    goto out;
  }
  for (size_t e = 0, cur = 0; e < n_ratings; e++) {
    size_t s = r_src ? r_src[e] : e;
    if (s >= ds->n_ratings) {
      rc = NS_EINVAL;
      goto out;
    }
    label[e] = ns_r_created(ds, s) >= NS_GUARD_HARASS_MIN_MS
                   ? (int8_t)ns_guard_harassment_label(ns_r_level(ds, s), ns_r_tags(ds, s))
                   : -1;
    if (label[e] >= 0) cn[ns_bigraph_next_note(g, e, &cur)]++, cu[r_rater[e]]++;
  }
  /* filter_ratings(raters >= 10, notes >= 5): notes, raters, notes again,
  ** one pass each as in the reference (not to convergence).  Each pass
  ** judges by the counts at its start, so it decrements only the other
  ** side's counts; the note counts are final for the notes that survive
  ** the first pass. */
  for (size_t e = 0, cur = 0; e < n_ratings; e++)
    if (label[e] >= 0 && cn[ns_bigraph_next_note(g, e, &cur)] < 5) label[e] = -1, cu[r_rater[e]]--;
  for (size_t e = 0, cur = 0; e < n_ratings; e++)
    if (label[e] >= 0 && cu[r_rater[e]] < 10) label[e] = -1, cn[ns_bigraph_next_note(g, e, &cur)]--;
  for (size_t e = 0, cur = 0; e < n_ratings; e++)
    if (label[e] >= 0 && cn[ns_bigraph_next_note(g, e, &cur)] < 5) label[e] = -1;
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

/* Both sides' CSR over compact rows (new ids from ns_logit_order_rows)
** from the degrees, in one pass over the ratings; slots of a row in rating
** order. */
static int lside_build(lside *s, size_t n, const uint32_t *deg, const int32_t *orig, size_t N) {
  s->n = n;
  s->off = ns_mallocn(n + 1, sizeof *s->off);
  s->slot = ns_mallocn(N, sizeof *s->slot);
  if (!s->off || !s->slot) return NS_ENOMEM;
  s->off[0] = 0;
  for (size_t j = 0; j < n; j++) s->off[j + 1] = s->off[j] + deg[orig[j]];
  return 0;
}

static void lside_free(lside *s) {
  free(s->off);
  free(s->slot);
}

/* Parameters: one block of m = k + 1 doubles per row, (i, f[0..k-1]).  A
** sweep reads the other side through a copy of its blocks, in float (half
** the bytes per gather; at 10 M ratings the copy of the most-read rows
** stays in cache) unless the tolerance is below FLOAT_TOL: rounding a
** neighbour to float moves a logit by ~1e-7, and the rows would keep
** moving by about that much.  The row's own parameters and all sums are
** double. */
typedef struct logit_ctx {
  const lside *s;
  int k;
  double mu, pen_i, pen_f;
  double wy[2];                /* loss weight by label: 1, pw */
  double *self;                /* this side's blocks (updated) */
  const float *of;             /* the other side's copy: float, */
  const double *od;            /* or double (one of them is set) */
  const uint8_t *act;          /* rows to update this pass (NULL = all) */
  double *move;                /* per row: largest change in its last
                                  update, 0 when skipped */
  double *mu_g, *mu_h;         /* rater side: per row, predicted data part
                                  of d/dmu and its curvature (else NULL) */
} logit_ctx;

#define ROWS 512       /* rows per pool chunk */
#define FLOAT_TOL 1e-5 /* tolerances at least this read neighbours as float */
#define PF 16          /* slots ahead whose neighbour copy is prefetched */
#define ACTIVE_FRAC 0.25 /* a move above this share of tol wakes the row
                            and its neighbours (file comment) */

/* Data-term gradient g and Hessian H (row-major m x m, lower triangle
** filled) of row r at theta t, and mx[j] = the largest |feature j| over
** the row's ratings.  One exp per rating, no log.  k = 1 (the default)
** has its own loop with the sums in registers. */
#define ROW_DERIVS(NAME, T, TABLE)                                             \
static void NAME(const logit_ctx *c, size_t r, const double *t, double *g, double *H, \
                 double *mx) {                                                 \
  const int k = c->k, m = k + 1;                                               \
  const uint32_t *slot = c->s->slot;                                           \
  const T *other = c->TABLE;                                                   \
  const double w0 = c->wy[0], w1 = c->wy[1];                                   \
  const size_t lo = c->s->off[r], hi = c->s->off[r + 1], end = c->s->off[c->s->n]; \
  if (k == 1) {                                                                \
    double g0 = 0, g1 = 0, h00 = 0, h01 = 0, h11 = 0, m1 = 0;                  \
    const double base = c->mu + t[0], t1 = t[1];                               \
    for (size_t p = lo; p < hi; p++) {                                         \
      uint32_t sl = slot[p];                                                   \
      if (p + PF < end) __builtin_prefetch(other + (size_t)(slot[p + PF] >> 1) * 2); \
      const T *q = other + (size_t)(sl >> 1) * 2;                              \
      double x1 = q[1], y = (double)(sl & 1), w = (sl & 1) ? w1 : w0;          \
      double s = ns_logit_sigmoid(base + q[0] + x1 * t1);                            \
      double dz = w * (s - y), hz = w * s * (1.0 - s);                         \
      g0 += dz;                                                                \
      g1 += dz * x1;                                                           \
      h00 += hz;                                                               \
      h01 += hz * x1;                                                          \
      h11 += hz * x1 * x1;                                                     \
      m1 = fabs(x1) > m1 ? fabs(x1) : m1;                                      \
    }                                                                          \
    g[0] = g0, g[1] = g1;                                                      \
    H[0] = h00, H[2] = h01, H[3] = h11, H[1] = 0;                              \
    mx[0] = 1.0, mx[1] = m1;                                                   \
    return;                                                                    \
  }                                                                            \
  double x[NS_GUARD_MAX_K + 1];                                                \
  memset(g, 0, (size_t)m * sizeof *g);                                         \
  memset(H, 0, (size_t)(m * m) * sizeof *H);                                   \
  memset(mx, 0, (size_t)m * sizeof *mx);                                       \
  mx[0] = 1.0;                                                                 \
  x[0] = 1.0;                                                                  \
  for (size_t p = lo; p < hi; p++) {                                           \
    uint32_t sl = slot[p];                                                     \
    if (p + PF < end) __builtin_prefetch(other + (size_t)(slot[p + PF] >> 1) * m); \
    const T *q = other + (size_t)(sl >> 1) * m;                                \
    double z = c->mu + q[0] + t[0], y = (double)(sl & 1), w = (sl & 1) ? w1 : w0; \
    for (int j = 1; j < m; j++) x[j] = q[j], z += q[j] * t[j];                 \
    double s = ns_logit_sigmoid(z);                                                  \
    double dz = w * (s - y), hz = w * s * (1.0 - s);                           \
    for (int i = 0; i < m; i++) {                                              \
      g[i] += dz * x[i];                                                       \
      for (int j = 0; j <= i; j++) H[i * m + j] += hz * x[i] * x[j];           \
      if (fabs(x[i]) > mx[i]) mx[i] = fabs(x[i]);                              \
    }                                                                          \
  }                                                                            \
}

ROW_DERIVS(row_derivs_f, float, of)
ROW_DERIVS(row_derivs_d, double, od)

static inline void row_derivs(const logit_ctx *c, size_t r, const double *t, double *g, double *H,
                              double *mx) {
  if (c->of) row_derivs_f(c, r, t, g, H, mx);
  else row_derivs_d(c, r, t, g, H, mx);
}

/* ns_logit_newton's view of row_derivs; the evaluation record is the data
** term's d2/d i^2 (H[0] before the penalty), mu's curvature share. */
static void derivs_cb(const void *ctx, size_t r, const double *t, double *g, double *H,
                      double *mx, void *ev) {
  row_derivs(ctx, r, t, g, H, mx);
  *(double *)ev = H[0];
}

/* One row: ns_logit_newton (factorization/logit.h) on all k + 1
** parameters.  Its predicted penalised d/d i at the new point, less the
** penalty's part, is the row's share of the data part of d/dmu; the data
** curvature at the point the last step came from is its share of mu's
** curvature.  Returns the row's largest parameter change. */
static double row_update(const logit_ctx *c, size_t r, double *mu_g, double *mu_h) {
  const int k = c->k, m = k + 1;
  double *th = c->self + r * (size_t)m;
  double t[NS_LOGIT_MAX_M], pen[NS_LOGIT_MAX_M], h_last = 0, h00 = 0;
  ns_logit_row row = {m, pen, derivs_cb, c, r, NULL, sizeof h_last, &h_last, &h00};
  pen[0] = c->pen_i;
  for (int j = 1; j < m; j++) pen[j] = c->pen_f;
  memcpy(t, th, (size_t)m * sizeof *t);
  double G0 = ns_logit_newton(&row, t);
  if (mu_g) {
    *mu_g = G0 - 2 * c->pen_i * t[0];
    *mu_h = h00;
  }
  double dmax = 0;
  for (int j = 0; j < m; j++)
    if (fabs(t[j] - th[j]) > dmax) dmax = fabs(t[j] - th[j]);
  memcpy(th, t, (size_t)m * sizeof *t);
  return dmax;
}

/* A chunk of rows: every row with ratings that is active this pass. */
static void logit_rows(void *vctx, size_t chunk, size_t begin, size_t end) {
  logit_ctx *c = vctx;
  (void)chunk;
  for (size_t r = begin; r < end; r++) {
    c->move[r] = 0;
    if (c->s->off[r] == c->s->off[r + 1] || (c->act && !c->act[r])) continue;
    c->move[r] = row_update(c, r, c->mu_g ? c->mu_g + r : NULL, c->mu_h ? c->mu_h + r : NULL);
  }
}

/* act[r] for the rows of side `to`: 1 if the row itself moved more than
** thr in its last update (a single Newton step leaves it short of its
** optimum), or if a neighbour on side `from` did (its optimum moved).
** Serial, a pass over both sides' moves plus the slots of the movers. */
static void mark_active(const lside *to, const double *to_move, const lside *from,
                        const double *from_move, double thr, uint8_t *act) {
  for (size_t r = 0; r < to->n; r++) act[r] = to_move[r] > thr;
  for (size_t f = 0; f < from->n; f++) {
    if (!(from_move[f] > thr)) continue;
    for (size_t p = from->off[f]; p < from->off[f + 1]; p++) act[from->slot[p] >> 1] = 1;
  }
}

/* Largest per-row step of the last pass (max is order-independent, so the
** stopping decision does not depend on the thread count). */
static double max_delta(const double *d, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = d[i] > m ? d[i] : m;
  return m;
}

int ns_guard_harassment_fit(const ns_bigraph *g, int k, const int8_t *label,
                            const double *init_note_fac, const double *init_rater_fac,
                            const ns_guard_logit_params *p, ns_pool *pool,
                            double *note_icpt, double *note_fac,
                            double *rater_icpt, double *rater_fac, double *mu_out) {
  lside sn = {0}, su = {0};
  double *nb = NULL, *rb = NULL, *mvn = NULL, *mvu = NULL, *mg = NULL, *tnd = NULL, *tud = NULL;
  float *tn = NULL, *tu = NULL;
  uint8_t *actn = NULL, *actu = NULL;
  uint32_t *degn = NULL, *degu = NULL;
  int32_t *nid = NULL, *uid = NULL, *norig = NULL, *uorig = NULL;
  int rc = 0;
  size_t N = 0, npos = 0, nn = 0, nu = 0, m = (size_t)k + 1;
  const size_t n_notes = g ? g->n_notes : 0, n_raters = g ? g->n_raters : 0;
  const size_t n_ratings = g ? g->n_edges : 0;
  const int32_t *r_rater = g ? g->edge_rater : NULL;
  if (!g || k < 1 || k > NS_GUARD_MAX_K || !p || !note_icpt) return NS_EINVAL;
  if (n_ratings >= UINT32_MAX || n_notes >= INT32_MAX || n_raters >= INT32_MAX)
    return NS_EINVAL; /* slots pack a row index and the label into 32 bits */
  for (size_t e = 0; e < n_ratings; e++) {
    if (label[e] < 0) continue;
    N++;
    npos += label[e] > 0;
  }
  for (size_t n = 0; n < n_notes; n++) note_icpt[n] = NAN;
  if (note_fac)
    for (size_t i = 0; i < n_notes * (size_t)k; i++) note_fac[i] = NAN;
  if (rater_icpt)
    for (size_t u = 0; u < n_raters; u++) rater_icpt[u] = NAN;
  if (rater_fac)
    for (size_t i = 0; i < n_raters * (size_t)k; i++) rater_fac[i] = NAN;
  if (mu_out) *mu_out = NAN;
  if (p->passes_out) *p->passes_out = 0;
  /* The reference skips the model when the positive rate is 0 or 1. */
  if (N == 0 || npos == 0 || npos == N) return 0;
  double pw = (double)(N - npos) / (double)npos; /* (1-p)/p */

  /* Compact rows with labelled ratings, heaviest first: the rows whose
  ** copies are read most often share cache lines. */
  degn = ns_calloc(n_notes, sizeof *degn);
  degu = ns_calloc(n_raters, sizeof *degu);
  nid = ns_mallocn(n_notes, sizeof *nid);
  uid = ns_mallocn(n_raters, sizeof *uid);
  norig = ns_mallocn(n_notes, sizeof *norig);
  uorig = ns_mallocn(n_raters, sizeof *uorig);
  if (!degn || !degu || !nid || !uid || !norig || !uorig) {
    rc = NS_ENOMEM;
    goto out;
  }
  for (size_t e = 0, cur = 0; e < n_ratings; e++)
    if (label[e] >= 0) degn[ns_bigraph_next_note(g, e, &cur)]++, degu[r_rater[e]]++;
  nn = ns_logit_order_rows(n_notes, degn, nid, norig);
  nu = ns_logit_order_rows(n_raters, degu, uid, uorig);
  if (lside_build(&sn, nn, degn, norig, N) || lside_build(&su, nu, degu, uorig, N)) {
    rc = NS_ENOMEM;
    goto out;
  }
  /* the slots in one pass over the ratings; degn / degu become the fill
  ** positions */
  for (size_t j = 0; j < nn; j++) degn[norig[j]] = (uint32_t)sn.off[j];
  for (size_t j = 0; j < nu; j++) degu[uorig[j]] = (uint32_t)su.off[j];
  for (size_t e = 0, cur = 0; e < n_ratings; e++) {
    if (label[e] < 0) continue;
    uint32_t y = (uint32_t)(label[e] > 0);
    int32_t n = ns_bigraph_next_note(g, e, &cur);
    sn.slot[degn[n]++] = (uint32_t)uid[r_rater[e]] << 1 | y;
    su.slot[degu[r_rater[e]]++] = (uint32_t)nid[n] << 1 | y;
  }

  nb = ns_calloc(nn * m, sizeof *nb);
  rb = ns_calloc(nu * m, sizeof *rb);
  mvn = ns_calloc(nn, sizeof *mvn);
  mvu = ns_calloc(nu, sizeof *mvu);
  mg = ns_calloc(2 * nu, sizeof *mg);
  actn = ns_mallocn(nn, 1);
  actu = ns_mallocn(nu, 1);
  if (p->tol >= FLOAT_TOL) {
    tn = ns_mallocn(nn * m, sizeof *tn);
    tu = ns_mallocn(nu * m, sizeof *tu);
  } else {
    tnd = ns_mallocn(nn * m, sizeof *tnd);
    tud = ns_mallocn(nu * m, sizeof *tud);
  }
  if (!nb || !rb || !mvn || !mvu || !mg || !actn || !actu || !(tn || tnd) || !(tu || tud)) {
    rc = NS_ENOMEM;
    goto out;
  }
  /* Init: intercepts 0, factors doubled from the helpfulness model. */
  for (size_t j = 0; j < nn; j++) {
    size_t n = (size_t)norig[j];
    for (int f = 0; f < k; f++)
      nb[j * m + 1 + f] = init_note_fac ? 2.0 * init_note_fac[n * k + f]
                                        : 0.1 * ((double)(ns_hash64(n * 8 + f) >> 11) * 0x1p-53 - 0.5);
  }
  for (size_t j = 0; j < nu; j++) {
    size_t u = (size_t)uorig[j];
    for (int f = 0; f < k; f++)
      rb[j * m + 1 + f] = init_rater_fac ? 2.0 * init_rater_fac[u * k + f]
                                         : 0.1 * ((double)(ns_hash64(~(u * 8 + f)) >> 11) * 0x1p-53 - 0.5);
  }
  double mu = 0.0;
  logit_ctx cn = {&sn, k, 0, 0, 0, {1.0, pw}, nb, tu, tud, NULL, mvn, NULL, NULL};
  logit_ctx cu = {&su, k, 0, 0, 0, {1.0, pw}, rb, tn, tnd, NULL, mvu, mg, mg + nu};
  /* Mean regulariser times N: ridge lambda * N / #rows per row. */
  cn.pen_i = p->lambda_i * (double)N / (double)nn;
  cn.pen_f = p->lambda_f * (double)N / (double)nn;
  cu.pen_i = p->lambda_i * (double)N / (double)nu;
  cu.pen_f = p->lambda_f * (double)N / (double)nu;
  /* full: update every row (first pass, after mu drifted, and the pass
  ** that confirms convergence); else only the rows marked active */
  const double thr = ACTIVE_FRAC * p->tol;
  int full = 1;
  double drift = 0;  /* |mu change| since the last full pass */
  for (int it = 0; it < p->iters; it++) {
    if (p->passes_out) *p->passes_out = it + 1;
    cn.mu = cu.mu = mu;
    cn.act = full ? NULL : actn;
    for (size_t i = 0; i < nu * m; i++)
      if (tu) tu[i] = (float)rb[i];
      else tud[i] = rb[i];
    ns_pool_for(pool, nn, ROWS, logit_rows, &cn);
    if (!full) mark_active(&su, mvu, &sn, mvn, thr, actu);
    cu.act = full ? NULL : actu;
    for (size_t i = 0; i < nn * m; i++)
      if (tn) tn[i] = (float)nb[i];
      else tnd[i] = nb[i];
    ns_pool_for(pool, nu, ROWS, logit_rows, &cu);
    /* mu: one damped Newton step on the rater rows' predicted sums, added
    ** in original rater order */
    double gm = 2 * p->lambda_mu * (double)N * mu, h = 2 * p->lambda_mu * (double)N;
    for (size_t u = 0; u < n_raters; u++)
      if (uid[u] >= 0) gm += mg[uid[u]], h += mg[nu + (size_t)uid[u]];
    double dmu = 0;
    if (h > 0) {
      dmu = gm / h; /* cap the step: Newton on a logistic can overshoot */
      dmu = dmu > 1.0 ? 1.0 : dmu < -1.0 ? -1.0 : dmu;
      mu -= dmu;
    }
    double dmax = fmax(max_delta(mvn, nn), max_delta(mvu, nu));
    /* converged: no parameter moved more than tol in a pass over all rows */
    if (fabs(dmu) < p->tol && dmax < p->tol) {
      if (full) break;
      full = 1;
      continue;
    }
    drift = full ? fabs(dmu) : drift + fabs(dmu);
    full = drift > thr; /* mu moves every row's optimum */
    if (!full) mark_active(&sn, mvn, &su, mvu, thr, actn);
  }
  for (size_t j = 0; j < nn; j++) {
    size_t n = (size_t)norig[j];
    note_icpt[n] = nb[j * m];
    if (note_fac)
      for (int f = 0; f < k; f++) note_fac[n * k + f] = nb[j * m + 1 + f];
  }
  for (size_t j = 0; j < nu; j++) {
    size_t u = (size_t)uorig[j];
    if (rater_icpt) rater_icpt[u] = rb[j * m];
    if (rater_fac)
      for (int f = 0; f < k; f++) rater_fac[u * k + f] = rb[j * m + 1 + f];
  }
  if (mu_out) *mu_out = mu;
out:
  lside_free(&sn);
  lside_free(&su);
  free(nb), free(rb), free(tn), free(tu), free(tnd), free(tud);
  free(mvn), free(mvu), free(mg), free(actn), free(actu);
  free(degn), free(degu), free(nid), free(uid), free(norig), free(uorig);
  return rc;
}
