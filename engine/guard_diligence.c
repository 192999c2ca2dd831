/*
** engine/guard_diligence.c -- the low-diligence model (reference-algorithm.md
** §4.5): the reputation matrix factorization of §6 on a 0/1 target ("this
** rating carries notHelpfulIncorrect, notHelpfulIrrelevantSources or
** notHelpfulSourcesMissingOrUnreliable"), BCE-with-logits loss, three
** rounds.  Its round-3 note intercept is `lowDiligenceIntercept`, which
** FilterLowDiligence compares against 0.263.  guardrails.h states the loss
** and the one simplification (the rater factor is an input).
**
** Solver.  The reference trains each round with full-batch Adam.  With the
** rater factor fixed, every round's loss is convex, and we minimise it by
** block coordinate descent: with the raters (and mu) fixed it splits into
** one penalised weighted logistic regression per note in that note's free
** parameters (i_n, f_n in round 1; f_n in round 2; i_n in round 3), and
** with the notes fixed, one per rater (i_u; i_u, rho_u; i_u).  A pass
** updates every note row, then every rater row, then mu.
**
** Step control.  Along a step the logistic curvature s(1-s) of one rating
** changes by at most a factor e^|dz| (d/dz log s(1-s) = 1 - 2s lies in
** (-1, 1)).  If no rating's logit moves by more than ln 2, the Hessian
** along the whole step stays below twice the one the step was computed
** with, and the full Newton step is then guaranteed to lower the row
** objective (the penalty part is exactly quadratic).  So a step whose bound
** sum_j max_e|x_ej| |d_j| is <= ln 2 is taken without evaluating the loss:
** one exp per rating and no log, and the row is done for this pass.  A
** larger step (a row far from its optimum, e.g. a note whose ratings are
** nearly all positive, whose intercept sits several logits out) is
** backtracked on the row objective down to that radius, which again needs
** no check, and the row iterates (at most MAX_INNER times) until a step
** falls inside the radius.  Every step lowers the objective.
**
** mu.  Every rater row has its intercept i_u free with feature 1, so the
** data part of d/d i_u summed over raters is d/d mu.  After a rater row's
** update the Newton model predicts that part as (1-t) g_0 - 2 pen_iu i_u
** (t = the fraction of the last step taken); summing it over raters gives
** mu's gradient without another pass over the ratings.  At a fixed point
** the prediction is exact.  Then the mean rater intercept (and in round 1,
** where rho = 1, the mean note intercept) is moved into mu: every logit
** stays the same and the intercept penalty drops.  That direction is flat
** in the data and held only by the penalties; block descent alone crawls
** along it for dozens of passes.
**
** Determinism: rows are updated in parallel with disjoint writes (Jacobi
** within a side); per-chunk maxima and the per-rater mu terms are combined
** in a fixed order, so results are identical for any thread count.
**
** Who calls it: engine/pipeline_guard.c (ns__guardrails), run thread; the
** row sweeps fan out on the run's pool.
*/
#include "guardrails.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LN2 0.6931471805599453
#define MU_STEP_CAP 1.0     /* |mu step| per pass: Newton on a logit can overshoot */
#define MAX_INNER 12        /* Newton iterations per row and pass */
#define MAX_TRIES 4         /* evaluated step lengths before the radius step */
#define CHUNK 256           /* rows per pool chunk */

const double ns__guard_exp2_64[64] = {
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

void ns_guard_diligence_params_default(ns_guard_diligence_params *p) {
  p->lambda = 0.03;
  p->mult_note_icpt = 1.0;
  p->mult_rater_icpt = 10.0;
  p->mult_reputation = 50.0;
  p->mult_mu = 0.0;
  p->pos_weight[0] = 100.0;
  p->pos_weight[1] = 100.0 * 1.0;
  p->pos_weight[2] = 100.0 * 5.0;
  p->note_norm_exp3 = -0.5;
  p->rep_exp = 0.5;
  p->rep_alpha = 0.1;
  p->max_passes = 30;
  p->tol = 1e-2;
}

int ns_guard_diligence_label(uint32_t tags) { return (tags & NS_GUARD_DILIGENCE_TAGS) != 0; }

int ns_guard_low_diligence(double icpt) { return !isnan(icpt) && icpt > NS_GUARD_LOW_DILIGENCE; }

/* ---- row order ------------------------------------------------------------ */

size_t ns__guard_order_rows(size_t n, const uint32_t *deg, int32_t *new_id, int32_t *orig) {
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

/* ---- data layout -------------------------------------------------------- */

/* One side's rows as CSR over the labelled ratings, with what a row sweep
** reads stored per slot, so the inner loop streams one contiguous run and
** gathers only the other side's parameter block. */
typedef struct dside {
  size_t n;                /* rows */
  size_t *off;             /* n + 1 */
  int32_t *oth;            /* slot -> row on the other side */
  uint32_t *edge;          /* slot -> rating id (weight scatter) */
  uint8_t *y;              /* slot -> target */
  double *w;               /* slot -> weight of the current round */
} dside;

static void dside_free(dside *s) {
  free(s->off), free(s->oth), free(s->edge), free(s->y), free(s->w);
}

/* Rows and other-side rows are the compact ids (rmap / omap of the
** original ids, see ns__guard_order_rows); slots of a row in rating order. */
static int dside_build(dside *s, size_t n, size_t ne, const int32_t *row, const int32_t *other,
                       const int32_t *rmap, const int32_t *omap, const int8_t *label) {
  size_t *pos;
  s->n = n;
  s->off = ns_calloc(n + 1, sizeof *s->off);
  s->oth = ns_mallocn(ne ? ne : 1, sizeof *s->oth);
  s->edge = ns_mallocn(ne ? ne : 1, sizeof *s->edge);
  s->y = ns_mallocn(ne ? ne : 1, 1);
  s->w = ns_mallocn(ne ? ne : 1, sizeof *s->w);
  pos = ns_mallocn(n ? n : 1, sizeof *pos);
  if (!s->off || !s->oth || !s->edge || !s->y || !s->w || !pos) {
    free(pos);
    return NS_ENOMEM;
  }
  for (size_t e = 0; e < ne; e++)
    if (label[e] >= 0) s->off[rmap[row[e]] + 1]++;
  for (size_t i = 0; i < n; i++) s->off[i + 1] += s->off[i];
  memcpy(pos, s->off, n * sizeof *pos);
  for (size_t e = 0; e < ne; e++) {
    if (label[e] < 0) continue;
    size_t p = pos[rmap[row[e]]]++;
    s->oth[p] = omap[other[e]];
    s->edge[p] = (uint32_t)e;
    s->y[p] = (uint8_t)(label[e] > 0);
  }
  free(pos);
  return 0;
}

/* Parameter blocks.  Every row has two parameters (theta0, theta1):
**   note  n: NB[2n] = i_n, NB[2n+1] = f_n;
**            slot of rater u: z = (mu + i_u) + rho_u i_n + f_u f_n
**   rater u: RB[3u] = i_u, RB[3u+1] = rho_u, RB[3u+2] = f_u (fixed);
**            slot of note n:  z = (mu + f_u f_n) + i_u + i_n rho_u */
#define NB 2
#define RB 3

enum { SIDE_NOTE, SIDE_RATER };

typedef struct sweep_ctx {
  int side;
  const dside *s;
  double *self;             /* this side's block */
  const double *other;      /* the other side's block */
  double mu;
  unsigned free_mask;       /* bit j: theta_j of a row is free */
  double pen[2];            /* ridge per parameter (lambda * mult * N / rows) */
  double *chunk_delta;      /* per chunk: largest parameter change */
  double *mu_g, *mu_h;      /* rater side: per row, predicted d/dmu terms */
} sweep_ctx;

/* Offset and the two features of slot p of row r: z = off + x0 t0 + x1 t1. */
static inline double slot_x(const sweep_ctx *c, size_t r, size_t p, double *x0, double *x1) {
  int32_t o = c->s->oth[p];
  if (c->side == SIDE_NOTE) {
    const double *u = c->other + (size_t)o * RB;
    *x0 = u[1];
    *x1 = u[2];
    return c->mu + u[0];
  }
  const double *n = c->other + (size_t)o * NB;
  *x0 = 1.0;
  *x1 = n[0];
  return c->mu + c->self[r * RB + 2] * n[1];
}

/* sigmoid(z) = 1/(1+e^-z) for z >= 0, e^z/(1+e^z) below, with a = e^-|z|
** and the numerator chosen by a bit mask: the sign of z is data-dependent,
** and a branch on it mispredicts often enough to dominate the loop. */
static inline double sigmoid_bl(double z) {
  double a = ns__guard_exp_neg(-fabs(z)), num;
  uint64_t ab, one = 0x3ff0000000000000ull, m = (uint64_t)0 - (uint64_t)(z >= 0), nb;
  memcpy(&ab, &a, sizeof ab);
  nb = (one & m) | (ab & ~m);
  memcpy(&num, &nb, sizeof num);
  return num / (1.0 + a);
}

/* Gradient and Hessian of the data term of row r at (t0, t1), plus the
** largest |feature| of each parameter.  One exp per rating. */
typedef struct rowd {
  double g0, g1, h00, h01, h11, m0, m1;
} rowd;

static void row_derivs(const sweep_ctx *c, size_t r, double t0, double t1, rowd *o) {
  const int32_t *oth = c->s->oth;
  const uint8_t *yv = c->s->y;
  const double *wv = c->s->w, *other = c->other;
  const size_t lo = c->s->off[r], hi = c->s->off[r + 1];
  double g0 = 0, g1 = 0, h00 = 0, h01 = 0, h11 = 0, m0 = 0, m1 = 0;
  /* the two sides' slot layouts (see NB / RB), written out so the loop
  ** has no branch on the side */
  double base, fu = 0;
  int note = c->side == SIDE_NOTE;
  if (!note) fu = c->self[r * RB + 2];
  base = c->mu;
  if (note) {
    for (size_t p = lo; p < hi; p++) {
      const double *u = other + (size_t)oth[p] * RB;
      double x0 = u[1], x1 = u[2];
      double z = base + u[0] + x0 * t0 + x1 * t1;
      double s = sigmoid_bl(z);
      double gr = wv[p] * (s - (double)yv[p]), cu = wv[p] * s * (1.0 - s);
      g0 += gr * x0;
      g1 += gr * x1;
      h00 += cu * x0 * x0;
      h01 += cu * x0 * x1;
      h11 += cu * x1 * x1;
      m0 = fabs(x0) > m0 ? fabs(x0) : m0;
      m1 = fabs(x1) > m1 ? fabs(x1) : m1;
    }
  } else {
    m0 = 1.0;
    for (size_t p = lo; p < hi; p++) {
      const double *n = other + (size_t)oth[p] * NB;
      double x1 = n[0];
      double z = base + fu * n[1] + t0 + x1 * t1;
      double s = sigmoid_bl(z);
      double gr = wv[p] * (s - (double)yv[p]), cu = wv[p] * s * (1.0 - s);
      g0 += gr;
      g1 += gr * x1;
      h00 += cu;
      h01 += cu * x1;
      h11 += cu * x1 * x1;
      m1 = fabs(x1) > m1 ? fabs(x1) : m1;
    }
  }
  o->g0 = g0, o->g1 = g1, o->h00 = h00, o->h01 = h01, o->h11 = h11, o->m0 = m0, o->m1 = m1;
}

/* One row's update (see the file comment); returns its largest parameter
** change.
**
** A step d is computed from the penalised gradient G and Hessian at the
** current point.  If its logit bound is <= ln 2 it is taken blind and the
** row is done.  Otherwise the full step is evaluated (which yields G and H
** there for the next step); it is kept if the row objective is still going
** down at its end (G' . d <= 0: by convexity it is then lower than at the
** start), else the step shrinks to the secant root of the directional
** derivative and is evaluated again, and at the radius ln 2 / bound it is
** taken blind.  So every step lowers the objective, no loss value (no log)
** is ever computed, and each evaluation doubles as the next step's
** derivatives. */
static double row_update(sweep_ctx *c, size_t r) {
  const unsigned fm = c->free_mask;
  const double p0 = c->pen[0], p1 = c->pen[1];
  double *th = c->self + r * (c->side == SIDE_NOTE ? NB : RB);
  double t0 = th[0], t1 = th[1];
  double G0 = 0, G1 = 0, h00 = 0;  /* penalised gradient predicted at (t0, t1) */
  int have = 0;                    /* 1: dv holds the derivatives at (t0, t1) */
  rowd dv;
  for (int it = 0; it < MAX_INNER; it++) {
    if (!have) row_derivs(c, r, t0, t1, &dv);
    have = 0;
    G0 = dv.g0 + 2.0 * p0 * t0, G1 = dv.g1 + 2.0 * p1 * t1, h00 = dv.h00;
    double H00 = dv.h00 + 2.0 * p0, H11 = dv.h11 + 2.0 * p1, d0 = 0, d1 = 0;
    if (fm == 3) {
      double det = H00 * H11 - dv.h01 * dv.h01; /* > 0: the penalties make it PD */
      d0 = -(H11 * G0 - dv.h01 * G1) / det;
      d1 = -(H00 * G1 - dv.h01 * G0) / det;
    } else if (fm == 1) {
      d0 = -G0 / H00;
    } else {
      d1 = -G1 / H11;
    }
    double bound = dv.m0 * fabs(d0) + dv.m1 * fabs(d1);
    double D = -(G0 * d0 + G1 * d1); /* Newton decrement^2 > 0 */
    if (bound <= LN2 || !(D > 0)) {
      /* blind step; the Newton model puts the gradient at 0 there */
      t0 += d0, t1 += d1;
      G0 = 0;
      break;
    }
    double tmin = LN2 / bound, t = 1.0;
    for (int tries = 0;; tries++) {
      if (tries == MAX_TRIES) {
        t = tmin;
        break;
      }
      row_derivs(c, r, t0 + t * d0, t1 + t * d1, &dv);
      double slope = (dv.g0 + 2.0 * p0 * (t0 + t * d0)) * d0 +
                     (dv.g1 + 2.0 * p1 * (t1 + t * d1)) * d1;
      if (slope <= 0) {
        have = 1; /* still descending at t: keep it, reuse dv */
        break;
      }
      t *= D / (D + slope); /* secant root of phi' on [0, t] */
      if (t <= tmin) {
        t = tmin; /* the radius step: a guaranteed decrease */
        break;
      }
    }
    t0 += t * d0, t1 += t * d1;
    /* for the mu prediction if the iteration cap ends the loop here */
    if (have) G0 = dv.g0 + 2.0 * p0 * t0, h00 = dv.h00;
    else G0 *= 1.0 - t;
  }
  if (c->mu_g) {
    /* data part of d/d i_u at the new point = this rater's share of d/dmu */
    c->mu_g[r] = G0 - 2.0 * p0 * t0;
    c->mu_h[r] = h00;
  }
  double d = fmax(fabs(t0 - th[0]), fabs(t1 - th[1]));
  th[0] = t0;
  th[1] = t1;
  return d;
}

static void sweep_rows(void *vctx, size_t chunk, size_t begin, size_t end) {
  sweep_ctx *c = vctx;
  double dmax = 0;
  for (size_t r = begin; r < end; r++) {
    if (c->s->off[r] == c->s->off[r + 1]) continue;
    double d = row_update(c, r);
    if (d > dmax) dmax = d;
  }
  c->chunk_delta[chunk] = dmax;
}

/* ---- the fit ------------------------------------------------------------ */

typedef struct dfit {
  size_t N, nn_act, nu_act;
  size_t n_notes, n_raters; /* original row counts */
  int32_t *nid, *uid;       /* original row -> compact row (-1: no rating) */
  int32_t *norig, *uorig;   /* compact row -> original row */
  dside sn, su;             /* notes -> raters, raters -> notes */
  double *nb, *rb;          /* parameter blocks (NB / RB per row) */
  double *we;               /* per rating: weight of the current round */
  double *mu_g, *mu_h;      /* per rater */
  double *dn, *du;          /* per chunk deltas */
  size_t ncn, ncu;
} dfit;

static double maxv(const double *v, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
  return m;
}

/* Copies the per-rating weights into both sides' slot order. */
static void scatter_weights(dfit *F) {
  for (size_t p = 0; p < F->N; p++) F->sn.w[p] = F->we[F->sn.edge[p]];
  for (size_t p = 0; p < F->N; p++) F->su.w[p] = F->we[F->su.edge[p]];
}

/* One round: passes of (note sweep, rater sweep, mu) until no parameter
** moves more than tol.  Returns the passes run. */
static int run_round(dfit *F, const ns_guard_diligence_params *p, unsigned note_free,
                     unsigned rater_free, int recentre_notes, double *mu, ns_pool *pool) {
  const double N = (double)F->N, lam = p->lambda, pen_mu = lam * p->mult_mu * N;
  sweep_ctx cn, cu;
  int it = 0;
  memset(&cn, 0, sizeof cn);
  memset(&cu, 0, sizeof cu);
  /* mean regulariser times N: lambda * mult * N / #rows per row */
  cn.side = SIDE_NOTE;
  cn.s = &F->sn;
  cn.self = F->nb;
  cn.other = F->rb;
  cn.free_mask = note_free;
  cn.pen[0] = lam * p->mult_note_icpt * N / (double)F->nn_act;
  cn.pen[1] = lam * N / (double)F->nn_act;
  cn.chunk_delta = F->dn;
  cu.side = SIDE_RATER;
  cu.s = &F->su;
  cu.self = F->rb;
  cu.other = F->nb;
  cu.free_mask = rater_free;
  cu.pen[0] = lam * p->mult_rater_icpt * N / (double)F->nu_act;
  cu.pen[1] = lam * p->mult_reputation * N / (double)F->nu_act;
  cu.chunk_delta = F->du;
  cu.mu_g = F->mu_g;
  cu.mu_h = F->mu_h;
  while (it < p->max_passes) {
    it++;
    cn.mu = cu.mu = *mu;
    ns_pool_for(pool, F->sn.n, CHUNK, sweep_rows, &cn);
    ns_pool_for(pool, F->su.n, CHUNK, sweep_rows, &cu);
    /* mu: Newton step on the predicted gradient, summed in rater order */
    double g = 2.0 * pen_mu * *mu, h = 2.0 * pen_mu, dmu = 0;
    for (size_t i = 0; i < F->n_raters; i++) {
      int32_t u = F->uid[i];
      if (u < 0) continue;
      g += F->mu_g[u];
      h += F->mu_h[u];
    }
    if (h > 0) {
      dmu = -g / h;
      dmu = dmu > MU_STEP_CAP ? MU_STEP_CAP : dmu < -MU_STEP_CAP ? -MU_STEP_CAP : dmu;
    }
    /* recentre (file comment); only while mu is unregularised, where the
    ** shift is free in the data and lowers the penalty */
    double su = 0, sn = 0;
    if (pen_mu == 0) {
      for (size_t i = 0; i < F->n_raters; i++)
        if (F->uid[i] >= 0) su += F->rb[(size_t)F->uid[i] * RB];
      su /= (double)F->nu_act;
      for (size_t u = 0; u < F->su.n; u++) F->rb[u * RB] -= su;
      if (recentre_notes) {
        for (size_t i = 0; i < F->n_notes; i++)
          if (F->nid[i] >= 0) sn += F->nb[(size_t)F->nid[i] * NB];
        sn /= (double)F->nn_act;
        for (size_t n = 0; n < F->sn.n; n++) F->nb[n * NB] -= sn;
      }
    }
    *mu += dmu + su + sn;
    double d = fmax(maxv(F->dn, F->ncn), maxv(F->du, F->ncu));
    if (fmax(d, fabs(dmu)) < p->tol) break;
  }
  return it;
}

static void dfit_free(dfit *F) {
  dside_free(&F->sn);
  dside_free(&F->su);
  free(F->nb), free(F->rb), free(F->we), free(F->mu_g), free(F->mu_h);
  free(F->dn), free(F->du);
  free(F->nid), free(F->uid), free(F->norig), free(F->uorig);
}

int ns_guard_diligence_fit(size_t n_notes, size_t n_raters, size_t n_ratings,
                           const int32_t *r_note, const int32_t *r_rater,
                           const int8_t *label, const float *r_weight,
                           const double *rater_fac,
                           const ns_guard_diligence_params *p, ns_pool *pool,
                           ns_guard_diligence_out *out) {
  dfit F;
  double sw1 = 0, sw0 = 0, mu, *tot = NULL;
  size_t npos = 0;
  int rc = 0;
  if (!p || !out || !out->note_icpt || n_ratings >= UINT32_MAX || p->max_passes < 1)
    return NS_EINVAL;
  memset(&F, 0, sizeof F);
  for (size_t e = 0; e < n_ratings; e++) {
    if (label[e] < 0) continue;
    if (r_note[e] < 0 || (size_t)r_note[e] >= n_notes || r_rater[e] < 0 ||
        (size_t)r_rater[e] >= n_raters)
      return NS_EINVAL;
    if (r_weight && !(r_weight[e] > 0)) return NS_EINVAL;
    F.N++;
    npos += label[e] > 0;
  }
  for (size_t n = 0; n < n_notes; n++) {
    out->note_icpt[n] = NAN;
    if (out->note_fac) out->note_fac[n] = NAN;
  }
  for (size_t u = 0; u < n_raters; u++) {
    if (out->rater_icpt) out->rater_icpt[u] = NAN;
    if (out->rater_rep) out->rater_rep[u] = NAN;
  }
  for (int r = 0; r < 3; r++) out->mu[r] = NAN, out->passes[r] = 0;
  /* All targets equal: mu (unregularised) has no finite optimum. */
  if (F.N == 0 || npos == 0 || npos == F.N) return 0;

  /* Compact rows, heaviest first: the other side's parameter blocks that
  ** a sweep gathers most often share cache lines (on gen data at 10 M,
  ** the top 14 % of raters hold half the ratings). */
  {
    uint32_t *dn = ns_calloc(n_notes ? n_notes : 1, sizeof *dn);
    uint32_t *du = ns_calloc(n_raters ? n_raters : 1, sizeof *du);
    F.n_notes = n_notes, F.n_raters = n_raters;
    F.nid = ns_mallocn(n_notes ? n_notes : 1, sizeof *F.nid);
    F.uid = ns_mallocn(n_raters ? n_raters : 1, sizeof *F.uid);
    F.norig = ns_mallocn(n_notes ? n_notes : 1, sizeof *F.norig);
    F.uorig = ns_mallocn(n_raters ? n_raters : 1, sizeof *F.uorig);
    if (!dn || !du || !F.nid || !F.uid || !F.norig || !F.uorig) {
      free(dn), free(du);
      rc = NS_ENOMEM;
      goto out;
    }
    for (size_t e = 0; e < n_ratings; e++)
      if (label[e] >= 0) dn[r_note[e]]++, du[r_rater[e]]++;
    F.nn_act = ns__guard_order_rows(n_notes, dn, F.nid, F.norig);
    F.nu_act = ns__guard_order_rows(n_raters, du, F.uid, F.uorig);
    free(dn), free(du);
  }
  const size_t nn = F.nn_act, nu = F.nu_act;
  if ((rc = dside_build(&F.sn, nn, n_ratings, r_note, r_rater, F.nid, F.uid, label)) != 0) goto out;
  if ((rc = dside_build(&F.su, nu, n_ratings, r_rater, r_note, F.uid, F.nid, label)) != 0) goto out;
  F.nb = ns_calloc(nn ? nn * NB : 1, sizeof *F.nb);
  F.rb = ns_calloc(nu ? nu * RB : 1, sizeof *F.rb);
  F.we = ns_mallocn(n_ratings ? n_ratings : 1, sizeof *F.we);
  F.mu_g = ns_calloc(nu ? nu : 1, sizeof *F.mu_g);
  F.mu_h = ns_calloc(nu ? nu : 1, sizeof *F.mu_h);
  F.ncn = ns_pool_nchunks(nn, CHUNK);
  F.ncu = ns_pool_nchunks(nu, CHUNK);
  F.dn = ns_calloc(F.ncn + 1, sizeof *F.dn);
  F.du = ns_calloc(F.ncu + 1, sizeof *F.du);
  tot = ns_calloc(n_notes ? n_notes : 1, sizeof *tot);
  if (!F.nb || !F.rb || !F.we || !F.mu_g || !F.mu_h || !F.dn || !F.du || !tot) {
    rc = NS_ENOMEM;
    goto out;
  }

  /* Start: rho = 1, f_u given, the rest 0; mu at the weighted log-odds of
  ** the round-1 targets, so the intercepts start centred. */
  for (size_t u = 0; u < nu; u++) {
    F.rb[u * RB + 1] = 1.0;
    F.rb[u * RB + 2] = rater_fac ? rater_fac[F.uorig[u]] : 0.0;
  }
  for (size_t e = 0; e < n_ratings; e++) {
    if (label[e] < 0) continue;
    double b = r_weight ? r_weight[e] : 1.0;
    if (label[e] > 0) sw1 += b * p->pos_weight[0];
    else sw0 += b;
  }
  mu = log(sw1 / sw0);

  /* Rounds 1 and 2: weights base * pos_weight for y = 1.  Round 1: notes
  ** (i, f), raters (i), rho = 1; round 2: notes (f), i_n frozen, raters
  ** (i, rho). */
  for (int round = 0; round < 2; round++) {
    for (size_t e = 0; e < n_ratings; e++) {
      if (label[e] < 0) continue;
      double b = r_weight ? r_weight[e] : 1.0;
      F.we[e] = label[e] > 0 ? b * p->pos_weight[round] : b;
    }
    scatter_weights(&F);
    out->passes[round] = round == 0 ? run_round(&F, p, 0x3, 0x1, 1, &mu, pool)
                                    : run_round(&F, p, 0x2, 0x3, 0, &mu, pool);
    out->mu[round] = mu;
  }

  /* Round 3: reputation-weighted, note-normalised weights (summed in
  ** rating order); f and rho frozen; i_n, i_u and mu learnt.  The mu_g /
  ** mu_h arrays are free here and hold the per-rater factor. */
  for (size_t u = 0; u < nu; u++) {
    double rho = F.rb[u * RB + 1];
    F.mu_g[u] = (p->rep_alpha + pow(rho > 0 ? rho : 0.0, p->rep_exp)) / (1.0 + p->rep_alpha);
  }
  for (size_t e = 0; e < n_ratings; e++) {
    if (label[e] < 0) continue;
    double b = r_weight ? r_weight[e] : 1.0;
    F.we[e] = (label[e] > 0 ? b * p->pos_weight[2] : b) * F.mu_g[F.uid[r_rater[e]]];
    tot[r_note[e]] += F.we[e];
  }
  for (size_t n = 0; n < n_notes; n++) tot[n] = pow(tot[n] + 0x1p-20, p->note_norm_exp3);
  for (size_t e = 0; e < n_ratings; e++)
    if (label[e] >= 0) F.we[e] *= tot[r_note[e]];
  scatter_weights(&F);
  out->passes[2] = run_round(&F, p, 0x1, 0x1, 0, &mu, pool);
  out->mu[2] = mu;

  for (size_t n = 0; n < nn; n++) {
    out->note_icpt[F.norig[n]] = F.nb[n * NB];
    if (out->note_fac) out->note_fac[F.norig[n]] = F.nb[n * NB + 1];
  }
  for (size_t u = 0; u < nu; u++) {
    if (out->rater_icpt) out->rater_icpt[F.uorig[u]] = F.rb[u * RB];
    if (out->rater_rep) out->rater_rep[F.uorig[u]] = F.rb[u * RB + 1];
  }
out:
  free(tot);
  dfit_free(&F);
  return rc;
}
