/*
** guard/diligence.c -- the low-diligence model (reference-algorithm.md
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
** updates every note row, then mu, then every rater row, then mu.
**
** Step control: the shared row solver of factorization/logit.h (damped
** Newton on the row's free parameters, no loss evaluations; a step that
** moves no logit by more than ln 2 is a sure decrease), with this model's
** derivative loop and a closed-form 2x2 solve.
**
** mu.  Every logit has mu with feature 1, so a row's derivatives also give
** its share of d/dmu, d2/dmu2 and the cross terms with its parameters.
** After each side's sweep, mu takes a Newton step on the reduced function
** "mu with that side's rows re-optimised" (curvature: the Schur complement
** of the rows), and every row of the side moves by its first-order
** response (mu_step).  A plain step on mu, which the next sweep largely
** undid, left a slow mode (round 3: mu up, every i_n down; at a rate of
** about 0.3 per pass).  d/dmu at a row's new point is linearised from its
** last evaluation: no pass over the ratings of its own, exact at a fixed
** point.  Then the mean rater intercept (and in round 1, where rho = 1,
** the mean note intercept) is moved into mu: every logit stays the same
** and the intercept penalty drops.  That direction is flat in the data
** and held only by the penalties; block descent alone crawls along it for
** dozens of passes.
**
** Memory.  Rows are renumbered compactly, heaviest first, and a sweep
** reads the other side through a float copy of its parameters (the block
** comment at NB / RB): at 10 M ratings the gathers of the other side's
** parameters, not the exp, were half of a sweep.  Per labelled rating the
** fit holds a slot (4 bytes) and a base weight (4; none when unweighted)
** on each side, 16 in all; a round's weight is computed from the base as a sweep reads it
** (slot_weight) rather than stored as a double per slot and side (32
** before).  engine/pipeline_guard.c hands the ratings over as a view of
** the run's edges (ns_guard_diligence_fit_view), labels from their tags.
**
** Determinism: rows are updated in parallel with disjoint writes (Jacobi
** within a side); maxima are order-free and the mu terms are added in
** original row order, so results are identical for any thread count.
**
** Who calls it: engine/pipeline_guard.c (ns__guardrails), run thread; the
** row sweeps fan out on the run's pool.
*/
#include "guard.h"
#include "../factorization/logit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MU_STEP_CAP 1.0     /* |mu step| per pass: Newton on a logit can overshoot */
#define CHUNK 256           /* rows per pool chunk */
#define PF 16               /* slots ahead whose neighbour copy is prefetched */
#define FLOAT_TOL 1e-5      /* tolerances at least this read neighbours as float */


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
  p->tol = 2e-2;
  p->max_codes = 0;
}

int ns_guard_diligence_label(uint32_t tags) { return (tags & NS_GUARD_DILIGENCE_TAGS) != 0; }

int ns_guard_low_diligence(double icpt) { return !isnan(icpt) && icpt > NS_GUARD_LOW_DILIGENCE; }

/* ---- data layout -------------------------------------------------------- */

/* One side's rows (compact ids, heaviest first: ns_logit_order_rows) as
** CSR over the labelled ratings, with what a row sweep reads stored per
** slot, so the inner loop streams one contiguous run and gathers only the
** other side's parameters.  Slots of a row are in rating order. */
typedef struct dside {
  size_t n;                /* rows */
  size_t *off;             /* n + 1 */
  uint32_t *slot;          /* other side's row << sh | base code << 1 | target */
  unsigned sh;             /* 1 + the code's bits (1: no code) */
  uint32_t cmask;          /* the code's mask (after >> 1) */
  const float *btab;       /* code -> base weight, or NULL (no code) */
  float *base;             /* base weight per slot when the weights are too
                              many for the codes (else NULL: by code, or 1);
                              the round's weight is computed from it as a
                              sweep reads it (slot_weight), not stored */
} dside;

static void dside_free(dside *s) { free(s->off), free(s->slot), free(s->base); }

/* The base weight of slot p (value sl): stored, by code, or 1. */
static inline double dside_base(const dside *s, size_t p, uint32_t sl) {
  return s->base ? (double)s->base[p] : s->btab ? (double)s->btab[(sl >> 1) & s->cmask] : 1.0;
}

/* A weighted fit's few distinct base weights (the engine's coordination
** weights) as a code in each slot's spare bits instead of a float per slot
** and side: 8 bytes per labelled rating less.  Up to DCODES codes, fewer
** when the rows leave fewer bits (or ns_guard_diligence_params.max_codes
** says so); past that the weights go per slot. */
#define DCODES NS_KEYCODES_MAX
typedef struct dcodes {
  ns_keycodes k;             /* weight bits -> code */
  float tab[DCODES];         /* code -> weight */
  unsigned cbits;
} dcodes;

/* The code of weight w (by its bits), added in order of first appearance;
** -1 when the table is full. */
static int dcode(dcodes *t, float w) {
  uint32_t b;
  int c;
  memcpy(&b, &w, sizeof b);
  if ((c = ns_keycodes_get(&t->k, b)) >= 0) t->tab[c] = w;
  return c;
}

static int dside_alloc(dside *s, size_t n, const uint32_t *deg, const int32_t *orig, size_t N,
                       int per_slot, const dcodes *ct) {
  s->n = n;
  s->sh = ct ? 1 + ct->cbits : 1;
  s->cmask = ct ? ((1u << ct->cbits) - 1) : 0;
  s->btab = ct ? ct->tab : NULL;
  s->off = ns_mallocn(n + 1, sizeof *s->off);
  s->slot = ns_mallocn(N, sizeof *s->slot);
  s->base = per_slot ? ns_mallocn(N, sizeof *s->base) : NULL;
  if (!s->off || !s->slot || (per_slot && !s->base)) return NS_ENOMEM;
  s->off[0] = 0;
  for (size_t j = 0; j < n; j++) s->off[j + 1] = s->off[j] + deg[orig[j]];
  return 0;
}

/* Parameters.  Every row has two free-able parameters (theta0, theta1):
**   note  n: nb[2n] = i_n, nb[2n+1] = f_n;
**            slot of rater u: z = (mu + i_u) + rho_u i_n + f_u f_n
**   rater u: rb[3u] = i_u, rb[3u+1] = rho_u, rb[3u+2] = f_u (fixed);
**            slot of note n:  z = (mu + f_u f_n) + i_u + i_n rho_u
** A sweep reads the other side through a float copy (nt: i_n, f_n; rt:
** i_u, rho_u, f_u, pad), refreshed before the sweep: half the bytes per
** gather, and the copies of the rows that are read most stay in cache.
** Rounding a neighbour to float moves a logit by ~1e-7, far below the
** fit's tolerance; the row's own parameters and all sums stay double.  A
** fit asked for a tolerance below FLOAT_TOL (tests that check
** stationarity) reads double copies instead: float noise would keep its
** rows moving by ~1e-8. */
#define NB 2
#define RB 3
#define NT 2
#define RT 4

enum { SIDE_NOTE, SIDE_RATER };

typedef struct sweep_ctx {
  int side;
  const dside *s;
  double *self;             /* this side's parameters (NB / RB per row) */
  const float *of;          /* the other side's copy (NT / RT per row), */
  const double *od;         /* float, or double below FLOAT_TOL */
  double mu;
  unsigned free_mask;       /* bit j: theta_j of a row is free */
  double pen[2];            /* ridge per parameter (lambda * mult * N / rows) */
  double *move;             /* per row: largest parameter change this pass */
  double *mg;               /* per row, 4: mu's reduced Newton terms (below) */
  /* the round's weights (slot_weight) */
  double pos_weight;
  const double *rep, *tot;  /* round 3: per rater / per note factor; else NULL */
} sweep_ctx;

/* Weight of slot p of row r in this round: base * (y ? pos_weight : 1),
** in round 3 times the rater's reputation factor and the note's
** normalisation -- the same products, in the same order, a stored weight
** array held, so the fit's bits do not depend on storing it. */
static inline double slot_weight(const sweep_ctx *c, size_t r, size_t p, uint32_t sl) {
  double b = dside_base(c->s, p, sl), w = (sl & 1) ? b * c->pos_weight : b;
  if (c->rep)
    w = c->side == SIDE_NOTE ? w * c->rep[sl >> c->s->sh] * c->tot[r]
                             : w * c->rep[r] * c->tot[sl >> c->s->sh];
  return w;
}

/* Derivatives of the data term of row r at (t0, t1): gradient g, Hessian
** h, the largest |feature| m of each parameter, and the mu terms: gm =
** d/dmu, hm = d2/dmu2, c = d2/dmu dtheta (every logit has mu with feature
** 1).  One exp per rating. */
typedef struct rowd {
  double g0, g1, h00, h01, h11, m0, m1;
  double gm, hm, c0, c1;
  double e0, e1;            /* the point evaluated (set by derivs_cb) */
} rowd;

#define ROW_DERIVS(NAME, T, TABLE)                                             \
static void NAME(const sweep_ctx *c, size_t r, double t0, double t1, rowd *o) { \
  const uint32_t *slot = c->s->slot;                                           \
  const T *other = c->TABLE;                                                   \
  const size_t lo = c->s->off[r], hi = c->s->off[r + 1], end = c->s->off[c->s->n]; \
  const unsigned sh = c->s->sh;                                                \
  double g0 = 0, g1 = 0, h00 = 0, h01 = 0, h11 = 0, m0 = 0, m1 = 0;            \
  /* the two sides' slot layouts, written out so the loop has no branch on     \
  ** the side */                                                               \
  if (c->side == SIDE_NOTE) {                                                  \
    double gm = 0, hm = 0, c0 = 0, c1 = 0;                                     \
    for (size_t p = lo; p < hi; p++) {                                         \
      if (p + PF < end) __builtin_prefetch(other + (size_t)(slot[p + PF] >> sh) * RT); \
      const T *u = other + (size_t)(slot[p] >> sh) * RT;                       \
      double x0 = u[1], x1 = u[2];                                             \
      double s = ns_logit_sigmoid(c->mu + (double)u[0] + x0 * t0 + x1 * t1);         \
      double w = slot_weight(c, r, p, slot[p]);                                \
      double gr = w * (s - (double)(slot[p] & 1)), cu = w * s * (1.0 - s);     \
      g0 += gr * x0;                                                           \
      g1 += gr * x1;                                                           \
      gm += gr;                                                                \
      h00 += cu * x0 * x0;                                                     \
      h01 += cu * x0 * x1;                                                     \
      h11 += cu * x1 * x1;                                                     \
      hm += cu;                                                                \
      c0 += cu * x0;                                                           \
      c1 += cu * x1;                                                           \
      m0 = fabs(x0) > m0 ? fabs(x0) : m0;                                      \
      m1 = fabs(x1) > m1 ? fabs(x1) : m1;                                      \
    }                                                                          \
    o->gm = gm, o->hm = hm, o->c0 = c0, o->c1 = c1;                            \
  } else {                                                                     \
    const double base = c->mu, fu = c->self[r * RB + 2];                       \
    m0 = 1.0;                                                                  \
    for (size_t p = lo; p < hi; p++) {                                         \
      if (p + PF < end) __builtin_prefetch(other + (size_t)(slot[p + PF] >> sh) * NT); \
      const T *n = other + (size_t)(slot[p] >> sh) * NT;                       \
      double x1 = n[0];                                                        \
      double s = ns_logit_sigmoid(base + fu * (double)n[1] + t0 + x1 * t1);          \
      double w = slot_weight(c, r, p, slot[p]);                                \
      double gr = w * (s - (double)(slot[p] & 1)), cu = w * s * (1.0 - s);     \
      g0 += gr;                                                                \
      g1 += gr * x1;                                                           \
      h00 += cu;                                                               \
      h01 += cu * x1;                                                          \
      h11 += cu * x1 * x1;                                                     \
      m1 = fabs(x1) > m1 ? fabs(x1) : m1;                                      \
    }                                                                          \
    /* the intercept's feature is 1, like mu's */                              \
    o->gm = g0, o->hm = h00, o->c0 = h00, o->c1 = h01;                         \
  }                                                                            \
  o->g0 = g0, o->g1 = g1, o->h00 = h00, o->h01 = h01, o->h11 = h11, o->m0 = m0, o->m1 = m1; \
}

ROW_DERIVS(row_derivs_f, float, of)
ROW_DERIVS(row_derivs_d, double, od)

static inline void row_derivs(const sweep_ctx *c, size_t r, double t0, double t1, rowd *o) {
  if (c->of) row_derivs_f(c, r, t0, t1, o);
  else row_derivs_d(c, r, t0, t1, o);
}

/* ns_logit_newton's view of a row: the free parameters (free_mask) are
** its theta, the others stay at the row's stored values. */
typedef struct row_view {
  const sweep_ctx *c;
  unsigned fm;
  double th0, th1;          /* stored values */
} row_view;

static void derivs_cb(const void *ctx, size_t r, const double *theta, double *g, double *H,
                      double *mx, void *ev) {
  const row_view *v = ctx;
  rowd *o = ev;
  double t0 = v->th0, t1 = v->th1;
  if (v->fm == 3) t0 = theta[0], t1 = theta[1];
  else if (v->fm == 1) t0 = theta[0];
  else t1 = theta[0];
  row_derivs(v->c, r, t0, t1, o);
  o->e0 = t0, o->e1 = t1;
  if (v->fm == 3) {
    g[0] = o->g0, g[1] = o->g1;
    H[0] = o->h00, H[2] = o->h01, H[3] = o->h11;
    mx[0] = o->m0, mx[1] = o->m1;
  } else if (v->fm == 1) {
    g[0] = o->g0, H[0] = o->h00, mx[0] = o->m0;
  } else {
    g[0] = o->g1, H[0] = o->h11, mx[0] = o->m1;
  }
}

/* The Newton system of at most two parameters by Cramer's rule (the
** penalties make it positive definite, det > 0). */
static int solve_cramer(int m, double *A, double *b) {
  if (m == 1) {
    b[0] = b[0] / A[0];
    return 0;
  }
  double det = A[0] * A[3] - A[2] * A[2];
  double x0 = (A[3] * b[0] - A[2] * b[1]) / det, x1 = (A[0] * b[1] - A[2] * b[0]) / det;
  b[0] = x0, b[1] = x1;
  return 0;
}

/* One row's update: ns_logit_newton on the free parameters; returns the
** row's largest parameter change.
**
** mu terms (mg[4r..4r+3]), from the derivatives at the last evaluated
** point e and the final point t: the data d/dmu at t, linearised (gm +
** c.(t - e)); the row's share of mu's reduced curvature, hm - c' H^-1 c
** over the free parameters (H penalised); and the response x = H^-1 c, by
** which the row's optimum moves down per unit of mu. */
static double row_update(sweep_ctx *c, size_t r) {
  const unsigned fm = c->free_mask;
  const double p0 = c->pen[0], p1 = c->pen[1];
  double *th = c->self + r * (c->side == SIDE_NOTE ? NB : RB);
  row_view v = {c, fm, th[0], th[1]};
  double theta[2], pen[2];
  int m = 0;
  rowd dv;
  ns_logit_row row = {0, pen, derivs_cb, &v, r, solve_cramer, sizeof dv, &dv, NULL};
  if (fm & 1) theta[m] = th[0], pen[m++] = p0;
  if (fm & 2) theta[m] = th[1], pen[m++] = p1;
  row.m = m;
  ns_logit_newton(&row, theta);
  double t0 = (fm & 1) ? theta[0] : th[0], t1 = (fm & 2) ? theta[m - 1] : th[1];
  double e0 = dv.e0, e1 = dv.e1;
  {
    double b0 = (fm & 1) ? dv.c0 : 0, b1 = (fm & 2) ? dv.c1 : 0, x0 = 0, x1 = 0;
    double H00 = dv.h00 + 2.0 * p0, H11 = dv.h11 + 2.0 * p1;
    if (fm == 3) {
      double det = H00 * H11 - dv.h01 * dv.h01;
      x0 = (H11 * b0 - dv.h01 * b1) / det;
      x1 = (H00 * b1 - dv.h01 * b0) / det;
    } else if (fm == 1) {
      x0 = b0 / H00;
    } else {
      x1 = b1 / H11;
    }
    double *mg = c->mg + 4 * r;
    mg[0] = dv.gm + b0 * (t0 - e0) + b1 * (t1 - e1);
    mg[1] = dv.hm - (b0 * x0 + b1 * x1);
    mg[2] = x0;
    mg[3] = x1;
  }
  double d = fmax(fabs(t0 - th[0]), fabs(t1 - th[1]));
  th[0] = t0;
  th[1] = t1;
  return d;
}

static void sweep_rows(void *vctx, size_t chunk, size_t begin, size_t end) {
  sweep_ctx *c = vctx;
  (void)chunk;
  for (size_t r = begin; r < end; r++) c->move[r] = row_update(c, r);
}

/* ---- the fit ------------------------------------------------------------ */

typedef struct dfit {
  size_t N, nn, nu;         /* labelled ratings, compact note / rater rows */
  size_t n_notes, n_raters; /* original row counts */
  int32_t *nid, *uid;       /* original row -> compact row (-1: no rating) */
  int32_t *norig, *uorig;   /* compact row -> original row */
  dside sn, su;             /* notes -> raters, raters -> notes */
  double *nb, *rb;          /* parameters (NB / RB per row) */
  float *nt, *rt;           /* their copies (NT / RT per row), float */
  double *ntd, *rtd;        /* or double (tol < FLOAT_TOL) */
  double *mvn, *mvu;        /* per row: last move */
  double *mgn, *mgu;        /* per row: mu terms (4) */
  double *rep, *tot;        /* round 3: per rater / per note weight factor */
} dfit;

static double maxv(const double *v, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
  return m;
}

/* mu's Newton step with one side's rows re-optimised to first order (the
** Schur complement of the rows in the Hessian): g = d/dmu, S = the reduced
** curvature, step = -g / S, and each row moves by -x step.  Without the
** rows' response, a step on mu is mostly undone by the next sweep, and the
** mode "mu up, every i_n down by 1/rho" (round 3) or "mu up, every rho
** down" (round 2) converged at a rate of about 0.3 per pass.  The sums go
** in original row order.  Returns the step; adds each row's response to
** its move. */
static double mu_step(const int32_t *id, size_t n_orig, const double *mg, double *par,
                      size_t stride, double *move, size_t n, double pen_mu, double mu) {
  double g = 2.0 * pen_mu * mu, S = 2.0 * pen_mu, step = 0;
  for (size_t i = 0; i < n_orig; i++) {
    int32_t r = id[i];
    if (r < 0) continue;
    g += mg[4 * (size_t)r];
    S += mg[4 * (size_t)r + 1];
  }
  if (!(S > 0)) return 0;
  step = -g / S;
  step = step > MU_STEP_CAP ? MU_STEP_CAP : step < -MU_STEP_CAP ? -MU_STEP_CAP : step;
  for (size_t r = 0; r < n; r++) {
    const double *x = mg + 4 * r + 2;
    par[r * stride] -= x[0] * step;
    par[r * stride + 1] -= x[1] * step;
    move[r] += fmax(fabs(x[0]), fabs(x[1])) * fabs(step);
  }
  return step;
}

/* One round: passes of (note sweep, mu, rater sweep, mu, recentring) until
** no parameter moves more than tol.  Returns the passes run. */
static int run_round(dfit *F, const ns_guard_diligence_params *p, unsigned note_free,
                     unsigned rater_free, int recentre_notes, double pos_weight,
                     const double *rep, const double *tot, double *mu, ns_pool *pool) {
  const double N = (double)F->N, lam = p->lambda, pen_mu = lam * p->mult_mu * N;
  const int dbl = F->ntd != NULL;
  sweep_ctx cn, cu;
  int it = 0;
  memset(&cn, 0, sizeof cn);
  memset(&cu, 0, sizeof cu);
  /* mean regulariser times N: lambda * mult * N / #rows per row */
  cn.side = SIDE_NOTE;
  cn.s = &F->sn;
  cn.self = F->nb;
  if (dbl) cn.od = F->rtd;
  else cn.of = F->rt;
  cn.free_mask = note_free;
  cn.pen[0] = lam * p->mult_note_icpt * N / (double)F->nn;
  cn.pen[1] = lam * N / (double)F->nn;
  cn.move = F->mvn;
  cn.mg = F->mgn;
  cn.pos_weight = pos_weight, cn.rep = rep, cn.tot = tot;
  cu.side = SIDE_RATER;
  cu.s = &F->su;
  cu.self = F->rb;
  if (dbl) cu.od = F->ntd;
  else cu.of = F->nt;
  cu.free_mask = rater_free;
  cu.pen[0] = lam * p->mult_rater_icpt * N / (double)F->nu;
  cu.pen[1] = lam * p->mult_reputation * N / (double)F->nu;
  cu.move = F->mvu;
  cu.mg = F->mgu;
  cu.pos_weight = pos_weight, cu.rep = rep, cu.tot = tot;
  while (it < p->max_passes) {
    double mu0 = *mu;
    it++;
    for (size_t u = 0; u < F->nu; u++)
      for (int j = 0; j < RB; j++)
        if (dbl) F->rtd[u * RT + j] = F->rb[u * RB + j];
        else F->rt[u * RT + j] = (float)F->rb[u * RB + j];
    cn.mu = *mu;
    ns_pool_for(pool, F->nn, CHUNK, sweep_rows, &cn);
    *mu += mu_step(F->nid, F->n_notes, F->mgn, F->nb, NB, F->mvn, F->nn, pen_mu, *mu);
    for (size_t n = 0; n < F->nn; n++)
      for (int j = 0; j < NB; j++)
        if (dbl) F->ntd[n * NT + j] = F->nb[n * NB + j];
        else F->nt[n * NT + j] = (float)F->nb[n * NB + j];
    cu.mu = *mu;
    ns_pool_for(pool, F->nu, CHUNK, sweep_rows, &cu);
    *mu += mu_step(F->uid, F->n_raters, F->mgu, F->rb, RB, F->mvu, F->nu, pen_mu, *mu);
    /* recentre (file comment); only while mu is unregularised, where the
    ** shift is free in the data and lowers the penalty */
    if (pen_mu == 0) {
      double su = 0, sn = 0;
      for (size_t i = 0; i < F->n_raters; i++)
        if (F->uid[i] >= 0) su += F->rb[(size_t)F->uid[i] * RB];
      su /= (double)F->nu;
      for (size_t u = 0; u < F->nu; u++) F->rb[u * RB] -= su;
      if (recentre_notes) {
        for (size_t i = 0; i < F->n_notes; i++)
          if (F->nid[i] >= 0) sn += F->nb[(size_t)F->nid[i] * NB];
        sn /= (double)F->nn;
        for (size_t n = 0; n < F->nn; n++) F->nb[n * NB] -= sn;
      }
      *mu += su + sn;
    }
    double d = fmax(maxv(F->mvn, F->nn), maxv(F->mvu, F->nu));
    if (fmax(d, fabs(*mu - mu0)) < p->tol) break;
  }
  return it;
}

static void dfit_free(dfit *F) {
  dside_free(&F->sn);
  dside_free(&F->su);
  free(F->nid), free(F->uid), free(F->norig), free(F->uorig);
  free(F->nb), free(F->rb), free(F->nt), free(F->rt), free(F->ntd), free(F->rtd);
  free(F->mvn), free(F->mvu), free(F->mgn), free(F->mgu), free(F->rep), free(F->tot);
}

int ns_guard_diligence_fit(size_t n_notes, size_t n_raters, size_t n_ratings,
                           const int32_t *r_note, const int32_t *r_rater,
                           const int8_t *label, const float *r_weight,
                           const double *rater_fac,
                           const ns_guard_diligence_params *p, ns_pool *pool,
                           ns_guard_diligence_out *out) {
  ns_guard_fit f;
  memset(&f, 0, sizeof f);
  f.n_notes = n_notes, f.n_raters = n_raters, f.n_ratings = n_ratings;
  f.r_note = r_note, f.r_rater = r_rater, f.r_weight = r_weight;
  if (!label) return NS_EINVAL;
  return ns_guard_diligence_fit_view(&f, label, rater_fac, p, pool, out);
}

/* Label of rating j: label[j], or from its tags when label is NULL. */
static inline int8_t dlabel(const ns_guard_fit *f, const int8_t *label, size_t j) {
  return label ? label[j] : (int8_t)ns_guard_diligence_label(ns_guard_tags(f, j));
}

int ns_guard_diligence_fit_view(const ns_guard_fit *f, const int8_t *label,
                                const double *rater_fac, const ns_guard_diligence_params *p,
                                ns_pool *pool, ns_guard_diligence_out *out) {
  const size_t n_notes = f->n_notes, n_raters = f->n_raters, n_ratings = f->n_ratings;
  dfit F;
  dcodes *ct = NULL;
  double sw1 = 0, sw0 = 0, mu;
  uint32_t *degn = NULL, *degu = NULL;
  size_t npos = 0;
  int rc = 0;
  if (!p || !out || !out->note_icpt || n_ratings >= UINT32_MAX || p->max_passes < 1 ||
      n_notes >= INT32_MAX || n_raters >= INT32_MAX)
    return NS_EINVAL;
  memset(&F, 0, sizeof F);
  if (!label && !f->r_meta) return NS_EINVAL;
  for (size_t e = 0; e < n_ratings; e++) {
    int8_t y = dlabel(f, label, e);
    int32_t n = ns_guard_note(f, e), u = ns_guard_rater(f, e);
    if (y < 0) continue;
    if (n < 0 || (size_t)n >= n_notes || u < 0 || (size_t)u >= n_raters) return NS_EINVAL;
    if (!(ns_guard_weight(f, e) > 0)) return NS_EINVAL;
    F.N++;
    npos += y > 0;
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

  /* Compact rows, heaviest first: the other side's parameters that a sweep
  ** gathers most often share cache lines (on gen data at 10 M, the top
  ** 14 % of raters hold half the ratings). */
  F.n_notes = n_notes, F.n_raters = n_raters;
  degn = ns_calloc(n_notes, sizeof *degn);
  degu = ns_calloc(n_raters, sizeof *degu);
  F.nid = ns_mallocn(n_notes, sizeof *F.nid);
  F.uid = ns_mallocn(n_raters, sizeof *F.uid);
  F.norig = ns_mallocn(n_notes, sizeof *F.norig);
  F.uorig = ns_mallocn(n_raters, sizeof *F.uorig);
  if (!degn || !degu || !F.nid || !F.uid || !F.norig || !F.uorig) {
    rc = NS_ENOMEM;
    goto out;
  }
  for (size_t e = 0; e < n_ratings; e++)
    if (dlabel(f, label, e) >= 0) degn[ns_guard_note(f, e)]++, degu[ns_guard_rater(f, e)]++;
  F.nn = ns_logit_order_rows(n_notes, degn, F.nid, F.norig);
  F.nu = ns_logit_order_rows(n_raters, degu, F.uid, F.uorig);
  const size_t nn = F.nn, nu = F.nu;
  /* Unweighted (no r_weight): every base weight is 1, none stored.
  ** Weighted: a code per slot into the table of the distinct weights, in
  ** the bits the rows leave; the weights per slot only when they are more
  ** than the codes (or the rows leave no bits). */
  const int weighted = ns_guard_weighted(f);
  int per_slot = 0;
  if (weighted) {
    unsigned rbits = 1;
    size_t rows = nn > nu ? nn : nu;
    while (rbits < 31 && ((size_t)1 << rbits) < rows) rbits++;
    if (!(ct = ns_mallocn(1, sizeof *ct))) {
      rc = NS_ENOMEM;
      goto out;
    }
    unsigned cap;
    ct->cbits = 31 - rbits;
    cap = ct->cbits >= 12 ? DCODES : (1u << ct->cbits);
    if (p->max_codes > 0 && (unsigned)p->max_codes < cap) cap = (unsigned)p->max_codes;
    ns_keycodes_init(&ct->k, cap);
    for (size_t e = 0; e < n_ratings && !per_slot; e++)
      if (dlabel(f, label, e) >= 0 && dcode(ct, ns_guard_weight(f, e)) < 0) per_slot = 1;
    if (per_slot || ct->cbits == 0) {
      per_slot = 1;
      free(ct);
      ct = NULL;
    }
  }
  if (dside_alloc(&F.sn, nn, degn, F.norig, F.N, per_slot, ct) ||
      dside_alloc(&F.su, nu, degu, F.uorig, F.N, per_slot, ct)) {
    rc = NS_ENOMEM;
    goto out;
  }
  F.nb = ns_calloc(nn * NB, sizeof *F.nb);
  F.rb = ns_calloc(nu * RB, sizeof *F.rb);
  if (p->tol >= FLOAT_TOL) {
    F.nt = ns_calloc(nn * NT, sizeof *F.nt);
    F.rt = ns_calloc(nu * RT, sizeof *F.rt);
  } else {
    F.ntd = ns_calloc(nn * NT, sizeof *F.ntd);
    F.rtd = ns_calloc(nu * RT, sizeof *F.rtd);
  }
  F.mvn = ns_calloc(nn, sizeof *F.mvn);
  F.mvu = ns_calloc(nu, sizeof *F.mvu);
  F.mgn = ns_calloc(nn * 4, sizeof *F.mgn);
  F.mgu = ns_calloc(nu * 4, sizeof *F.mgu);
  F.rep = ns_calloc(nu, sizeof *F.rep);
  F.tot = ns_calloc(nn, sizeof *F.tot);
  if (!F.nb || !F.rb || !(F.nt || F.ntd) || !(F.rt || F.rtd) || !F.mvn || !F.mvu || !F.mgn || !F.mgu || !F.rep ||
      !F.tot) {
    rc = NS_ENOMEM;
    goto out;
  }
  /* Both sides' slots in one pass over the ratings (the degrees gave the
  ** offsets); degn / degu become the fill positions. */
  for (size_t j = 0; j < nn; j++) degn[F.norig[j]] = (uint32_t)F.sn.off[j];
  for (size_t j = 0; j < nu; j++) degu[F.uorig[j]] = (uint32_t)F.su.off[j];
  for (size_t e = 0; e < n_ratings; e++) {
    int8_t l = dlabel(f, label, e);
    if (l < 0) continue;
    int32_t n = ns_guard_note(f, e), u = ns_guard_rater(f, e);
    uint32_t y = (uint32_t)(l > 0), pn = degn[n]++, pu = degu[u]++;
    float b = ns_guard_weight(f, e);
    uint32_t code = ct ? (uint32_t)dcode(ct, b) << 1 : 0; /* found: added above */
    F.sn.slot[pn] = (uint32_t)F.uid[u] << F.sn.sh | code | y;
    if (F.sn.base) F.sn.base[pn] = b;
    F.su.slot[pu] = (uint32_t)F.nid[n] << F.su.sh | code | y;
    if (F.su.base) F.su.base[pu] = b;
    if (y) sw1 += (double)b * p->pos_weight[0];
    else sw0 += (double)b;
  }

  /* Start: rho = 1, f_u given, the rest 0; mu at the weighted log-odds of
  ** the round-1 targets, so the intercepts start centred. */
  for (size_t u = 0; u < nu; u++) {
    F.rb[u * RB + 1] = 1.0;
    F.rb[u * RB + 2] = rater_fac ? rater_fac[F.uorig[u]] : 0.0;
  }
  mu = log(sw1 / sw0);

  /* Rounds 1 and 2: weights base * pos_weight for y = 1.  Round 1: notes
  ** (i, f), raters (i), rho = 1; round 2: notes (f), i_n frozen, raters
  ** (i, rho). */
  for (int round = 0; round < 2; round++) {
    double pw = p->pos_weight[round];
    out->passes[round] = round == 0 ? run_round(&F, p, 0x3, 0x1, 1, pw, NULL, NULL, &mu, pool)
                                    : run_round(&F, p, 0x2, 0x3, 0, pw, NULL, NULL, &mu, pool);
    out->mu[round] = mu;
  }

  /* Round 3: reputation-weighted, note-normalised weights (a note's sum in
  ** rating order); f and rho frozen; i_n, i_u and mu learnt. */
  for (size_t u = 0; u < nu; u++) {
    double rho = F.rb[u * RB + 1];
    F.rep[u] = (p->rep_alpha + pow(rho > 0 ? rho : 0.0, p->rep_exp)) / (1.0 + p->rep_alpha);
  }
  for (size_t n = 0; n < nn; n++) {
    double t = 0;
    for (size_t q = F.sn.off[n]; q < F.sn.off[n + 1]; q++) {
      uint32_t sl = F.sn.slot[q];
      double b = dside_base(&F.sn, q, sl);
      t += ((sl & 1) ? b * p->pos_weight[2] : b) * F.rep[sl >> F.sn.sh];
    }
    F.tot[n] = pow(t + 0x1p-20, p->note_norm_exp3);
  }
  out->passes[2] = run_round(&F, p, 0x1, 0x1, 0, p->pos_weight[2], F.rep, F.tot, &mu, pool);
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
  free(degn), free(degu);
  free(ct);
  dfit_free(&F);
  return rc;
}
