/*
** factorization/logit.h -- the logistic matrix-factorization solver shared
** by the harassment model (guard/harassment.c) and the low-diligence model
** (guard/diligence.c).
**
** Both models minimise, by block coordinate descent, a sum of
** BCE-with-logits terms plus ridge penalties.  With the other side fixed,
** every row is a small convex penalised logistic regression in its free
** parameters theta (m of them, 1..NS_LOGIT_MAX_M), and a row is updated by
** ns_logit_newton(): damped Newton steps on the exact m x m Hessian that
** never evaluate the loss.
**
** Step control.  Along a step the logistic curvature s(1-s) of one rating
** changes by at most a factor e^|dz| (d/dz log s(1-s) = 1 - 2s lies in
** (-1, 1)).  If no rating's logit moves by more than ln 2 (bound
** sum_j mx_j |d_j|, mx_j = the largest |feature j| of the row), the Hessian
** along the whole step stays below twice the one the step was computed
** with, so the full Newton step surely lowers the row objective (the
** penalty part is exactly quadratic): it is taken blind and the row is
** done for this pass.  A bigger step is evaluated at its end (which yields
** the next step's derivatives): kept while the objective still goes down
** there (g' . d <= 0; by convexity it is then lower than at the start),
** else shortened to the secant root of the directional derivative, at
** most NS_LOGIT_MAX_TRIES times, then to the ln 2 radius, again a sure
** decrease.  At most NS_LOGIT_MAX_INNER steps per call.  One exp per
** rating per evaluation, no log.
**
** What stays with the models: the derivative loop over a row's ratings
** (each model has its own features and data layout, written out so the
** loop keeps its sums in registers) and everything around the row updates
** (mu, active rows, rounds).
**
** Also here: the inline e^x and sigmoid both models' loops use, and the
** compact heaviest-first row numbering both use for their CSR layouts.
**
** Threads: ns_logit_newton touches only the row passed; rows may be updated
** concurrently.  Determinism: a fixed operation order (the build disables
** FMA contraction), so the same bits on every thread count.
*/
#ifndef NS_LOGIT_H
#define NS_LOGIT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mf.h"

#define NS_LOGIT_MAX_M (NS_MF_MAX_K + 1) /* free parameters per row */
#define NS_LOGIT_MAX_INNER 12            /* Newton steps per row and call */
#define NS_LOGIT_MAX_TRIES 4             /* evaluated step lengths before
                                            the radius step */

/* The data term's derivatives of one row at theta (its m free
** parameters): gradient g[m], Hessian H (m x m row-major; only the lower
** triangle is read, the rest may hold anything) and mx[m], the largest
** |feature j| over the row's ratings.  ev: the model's own record of this
** evaluation (ns_logit_row.ev_size bytes; NULL when ev_size is 0). */
typedef void (*ns_logit_derivs_fn)(const void *ctx, size_t row, const double *theta,
                                   double *g, double *H, double *mx, void *ev);

/* Solves the m x m Newton system A x = b in place (A's lower triangle,
** positive definite); 0 or an NS_E* code.  ns_mf_spd_solve fits. */
typedef int (*ns_logit_solve_fn)(int m, double *A, double *b);

typedef struct ns_logit_row {
  int m;                      /* free parameters, 1..NS_LOGIT_MAX_M */
  const double *pen;          /* m ridge weights: the row objective is the
                                 data term + sum_j pen_j theta_j^2 */
  ns_logit_derivs_fn derivs;
  const void *ctx;            /* passed to derivs */
  size_t row;                 /* passed to derivs */
  ns_logit_solve_fn solve;    /* NULL: ns_mf_spd_solve */
  size_t ev_size;             /* bytes of an evaluation record (0: none) */
  void *ev_last;              /* OUT: record of the last evaluation */
  void *ev_cur;               /* OUT if not NULL: record of the evaluation
                                 the last step was computed from (the
                                 start, or an accepted trial point; never a
                                 rejected trial point) */
} ns_logit_row;

/* Updates theta[m] in place (see the file comment).  Returns the penalised
** d/dtheta_0 at the final theta: exact when that point was evaluated, else
** the Newton model's prediction (0 after a full step, (1-t) G0 after a
** step shortened to t).  A failed solve (not with positive penalties)
** ends the iterations with theta at its last point. */
double ns_logit_newton(const ns_logit_row *row, double *theta);

/* ---- shared pieces of the models' loops ---------------------------------- */

/* Compact numbering of one side's rows: the rows with deg[r] > 0, heaviest
** first (ties by id).  new_id[r] = compact id or -1, orig[j] = original id
** (both n long).  Returns the number of rows numbered.  A pure permutation:
** a fit's rows compute the same values in either numbering. */
size_t ns_logit_order_rows(size_t n, const uint32_t *deg, int32_t *new_id, int32_t *orig);

/* 2^(j/64), j = 0..63, correctly rounded. */
extern const double ns_logit_exp2_64[64];

/* e^x for x <= 0, inline so the per-rating loops of the logistic fits keep
** their accumulators in registers instead of spilling them around a libm
** call, and with a short dependency chain (those loops are latency-bound).
** x = (64k + j) ln2/64 + r with a two-part ln2/64 (k ln2/64_hi is exact),
** |r| <= ln2/128; e^r by its Taylor polynomial to degree 5 in Estrin form
** (truncation < 4e-17 relative); 2^(j/64) from the table; 2^k through the
** exponent bits.  Error about 2 ulp.  Below -708 (where 2^k leaves the
** normal range) it returns 0: e^-708 < 1e-307 is below anything a sigmoid
** sum can see.  Fixed operation order: the same bits on every machine with
** IEEE doubles (the build disables FMA contraction). */
static inline double ns_logit_exp_neg(double x) {
  if (!(x > -708.0)) return 0.0;
  /* round(64 x / ln2) by the 1.5 * 2^52 trick (|64 x / ln2| < 2^51) */
  double kf = (x * 92.33248261689366 + 0x1.8p52) - 0x1.8p52;
  double r = (x - kf * 0x1.62e42feep-7) - kf * 0x1.a39ef35793c76p-39;
  double r2 = r * r;
  double q = (1.0 + r) + r2 * ((0.5 + r * (1.0 / 6.0)) + r2 * (1.0 / 24.0 + r * (1.0 / 120.0)));
  int64_t k = (int64_t)kf;                /* <= 0 */
  int64_t m = -((63 - k) / 64);           /* floor(k / 64) */
  uint64_t bits = (uint64_t)(m + 1023) << 52;
  double scale;
  memcpy(&scale, &bits, sizeof scale);
  return q * ns_logit_exp2_64[k - 64 * m] * scale;
}

/* sigmoid(z) = 1/(1+e^-z) for z >= 0, e^z/(1+e^z) below, with a = e^-|z|
** and the numerator (1 or a) chosen by a bit mask: the sign of z is
** data-dependent, and a branch on it mispredicts often enough to dominate
** the logistic fits' loops. */
static inline double ns_logit_sigmoid(double z) {
  double a = ns_logit_exp_neg(-fabs(z)), num;
  uint64_t ab, one = 0x3ff0000000000000ull, m = (uint64_t)0 - (uint64_t)(z >= 0), nb;
  memcpy(&ab, &a, sizeof ab);
  nb = (one & m) | (ab & ~m);
  memcpy(&num, &nb, sizeof num);
  return num / (1.0 + a);
}

#endif /* NS_LOGIT_H */
