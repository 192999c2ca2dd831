/*
** factorization/mf.h -- matrix factorization with intercepts.
**
** Model: r_hat(u,n) = mu + i_u + i_n + f_u . f_n   (f in R^k, 1 <= k <= 8)
**
** Loss (the reference's mean-normalized loss, reference-algorithm.md §2.2):
**   L = (1/N) sum_e w_e (r_e - r_hat_e)^2
**     + lambda_i  * mean_u(i_u^2) + lambda_f * mean_u(|f_u|^2)
**     + lambda_in * mean_n(i_n^2) + lambda_fn * mean_n(|f_n|^2)
**     + lambda_mu * mu^2
** where N = number of ratings, w_e = 1 unless weights are given, and the
** means run over the raters / notes of the graph.  Multiplying by N shows
** each rater's sub-problem (others fixed) is a ridge regression with penalty
** lambda * N / n_raters; fitting alternates these exact (k+1)x(k+1) solves
** over raters, over notes, and a closed-form mu (ALS).  note_reg_scale
** replaces the note-side mean by the reference's "ratio mode" when != 0.
**
** Storage: every parameter is double.  user_fac is n_users x k row-major
** (ld = k); note_fac is n_notes x k row-major.  One allocation holds all
** parameter blocks (ns_mf_model.block).
**
** Determinism: initialization is a pure function of (seed, index); rows are
** solved independently in parallel (disjoint writes); loss sums use the
** pool's fixed chunking, so results are identical for any thread count.
**
** Who calls it: engine/ (pipeline).  Threads: one fit per model at a time;
** the pool parallelizes inside.
*/
#ifndef NS_MF_H
#define NS_MF_H

#include <stdint.h>

#include "../base/base.h"
#include "../graph/graph.h"

#define NS_MF_MAX_K 8

typedef struct ns_mf_params {
  int k;                  /* number of factors, 1..NS_MF_MAX_K (default 1) */
  double lambda_i;        /* rater-intercept regularization (0.15) */
  double lambda_f;        /* rater-factor regularization (0.03) */
  double lambda_in;       /* note-intercept regularization (0.15) */
  double lambda_fn;       /* note-factor regularization (0.03) */
  double lambda_mu;       /* global-intercept regularization (0.15) */
  double note_reg_scale;  /* 0: mean over notes.  > 0: note regularizers are
                             lambda * sum_n(theta^2) / note_reg_scale
                             (reference ratingPerNoteLossRatio: N_cur/rho) */
  int max_iters;          /* cap on ALS passes (default 200) */
  double tol;             /* stop when |L_t - L_{t-1}| <= tol * L_{t-1} (1e-7) */
  uint64_t seed;          /* initialization seed */
  int freeze_users;       /* 1: keep user params (and mu) fixed; fit notes only */
  int freeze_notes;       /* 1: keep note params fixed; fit users (and mu) */
  int freeze_mu;          /* 1: keep mu fixed */
  int use_mu;             /* 0: no global intercept (mu = 0) */
  int flip_sign;          /* 1: after fitting, make the larger rater group's
                             factor negative (reference §2.5) */
  int init_from_model;    /* 1: start from the values already in the model */
} ns_mf_params;

/* Defaults above. */
void ns_mf_params_default(ns_mf_params *p);

typedef struct ns_mf_model {
  size_t n_users, n_notes;
  int k;
  double mu;
  double *user_icpt;      /* n_users */
  double *user_fac;       /* n_users x k, row-major */
  double *note_icpt;      /* n_notes */
  double *note_fac;       /* n_notes x k, row-major */
  double *block;          /* the single allocation behind the four arrays */
  /* filled by ns_mf_fit */
  double loss;            /* final value of L */
  double mse;             /* final (1/N) sum w (r - r_hat)^2 */
  int iters;              /* ALS passes done */
  double seconds;         /* wall time of the fit */
} ns_mf_model;

/* Allocates the parameter block for n_users x n_notes x k, all zero. */
int ns_mf_model_init(ns_mf_model *m, size_t n_users, size_t n_notes, int k);
void ns_mf_model_free(ns_mf_model *m);

/* Fits m to the ratings of graph g.  value[e] is the target of edge e
** (0, 0.5, 1); weight[e] its weight (NULL = all 1).  g->n_raters/n_notes must
** equal m->n_users/n_notes.  Unless p->init_from_model, the parameters
** being fitted start from the deterministic initialization (a frozen side,
** and a frozen mu, keep the values already in m).  Users or notes with no edges keep
** intercept 0 and factor 0 (on a frozen side they are left as they are).
** A frozen side is never written: freeze_users keeps user params and mu
** bit-identical, and flip_sign is skipped when either side is frozen.  A row
** whose normal equations are singular (possible only with a zero lambda or
** zero weights) keeps its previous values.  Values must be finite, weights
** finite and >= 0 (NS_EINVAL otherwise).  Allocates O(n_edges) scratch
** for the fit (up to 16 bytes per rating, 24 with weights; none with
** ns_mf_fit_gathered below).
** pool may be NULL (runs inline).  The per-row solves are closed form at
** k = 1 and ns_mf_spd_solve() above (LAPACKE by default) for k > 1; a row
** whose solve fails keeps its values, so a fit returns 0, NS_EINVAL or
** NS_ENOMEM. */
int ns_mf_fit(const ns_bigraph *g, const float *value, const float *weight,
              const ns_mf_params *p, ns_pool *pool, ns_mf_model *m);

/* The same fit on ratings the caller has already laid out the way the
** solver reads them, per side in CSR order and packed to 4 bytes a slot.
** For the rater side, rater u's ratings are slots rater_off[u] ..
** rater_off[u+1] of rater_slot, in increasing rating order; each slot is
** ns_mf_slot(note row, code, row_bits).  The note side likewise (note_slot:
** rater rows).  g supplies only n_raters, n_notes, n_edges, rater_off and
** note_off (its edge arrays may be NULL).
**
** A slot's low row_bits bits are the other row, its high 32 - row_bits bits
** a code into the fit's table: the rating's target is values[code] and,
** unless per-slot weights are given, its weight weights[code].  A fit's
** targets are a few values (the pipeline's helpfulness levels 0, 0.5, 1)
** and its weights a few more (1, 1/m for raters of coordinated groups), so
** the (value, weight) pairs of a whole fit fit the table and the code bits:
** 4 bytes per rating per side, 8 in all, weighted or not.  row_bits is the
** caller's choice per fit -- ns_mf_row_bits(max(n_raters, n_notes)) leaves
** the most code bits -- and each side must have at most 2^row_bits rows,
** row_bits <= NS_MF_MAX_ROW_BITS (NS_ERANGE otherwise, checked before
** anything else is read).  When a fit has more distinct pairs than
** ns_mf_max_codes(row_bits), the codes name values only and rater_pw /
** note_pw hold the weight per slot (16 bytes per rating; weights[] is then
** not read); pw NULL = the table's weights (1.0f for an unweighted fit).
**
** With the same ratings in the same order the result is ns_mf_fit's bit
** for bit: the table holds the very floats ns_mf_fit would read, widened to
** double the same way, in the same expressions.  The fit needs no
** per-rating input columns, no edge-id CSR and no gathering scratch
** (engine/pipeline.c writes its subsets straight into this form).  n_codes
** <= NS_MF_MAX_CODES entries of the table are used; each must be finite
** (weights >= 0 too, as ns_mf_fit's), every slot's row and code in range
** (NS_EINVAL otherwise).  The arrays are read, never freed. */
#define NS_MF_MAX_ROW_BITS 30
#define NS_MF_MAX_ROWS ((size_t)1 << NS_MF_MAX_ROW_BITS)      /* 2^30 rows a side */
/* At most 2^12 table entries: a fit's helpfulness values times its distinct
** coordination weights (each a float of max_share * r / m: a few per group
** size and note size, graph/coord.c ns_coord_weights) stay far below it;
** the biggest public fits (~2^20 rows) still have 12 code bits. */
#define NS_MF_CODE_BITS 12
#define NS_MF_MAX_CODES (1u << NS_MF_CODE_BITS)                /* table entries */

/* The fewest row bits that name n_rows rows (0 for 0 or 1 row); more than
** NS_MF_MAX_ROW_BITS when n_rows > NS_MF_MAX_ROWS. */
static inline unsigned ns_mf_row_bits(size_t n_rows) {
  unsigned b = 0;
  while (b < 63 && ((size_t)1 << b) < n_rows) b++;
  return b;
}

/* How many codes a slot with row_bits (<= NS_MF_MAX_ROW_BITS) row bits can
** name in the table: min(2^(32 - row_bits), NS_MF_MAX_CODES), at least 4. */
static inline unsigned ns_mf_max_codes(unsigned row_bits) {
  return 32 - row_bits >= NS_MF_CODE_BITS ? NS_MF_MAX_CODES : 1u << (32 - row_bits);
}

/* The slot of a rating on row other (< 2^row_bits) with code code
** (< ns_mf_max_codes(row_bits)); the caller checks the ranges. */
static inline uint32_t ns_mf_slot(uint32_t other, unsigned code, unsigned row_bits) {
  return other | (uint32_t)code << row_bits;
}

typedef struct ns_mf_gathered {
  const uint32_t *rater_slot, *note_slot;  /* per CSR slot: other row | code */
  const float *rater_pw, *note_pw;         /* per CSR slot: weight, or NULL:
                                           ** weights[code] */
  unsigned row_bits;                       /* a slot's low bits: the row */
  unsigned n_codes;                        /* table entries in use */
  float values[NS_MF_MAX_CODES];           /* target of each code */
  float weights[NS_MF_MAX_CODES];          /* weight of each code (pw NULL) */
} ns_mf_gathered;
int ns_mf_fit_gathered(const ns_bigraph *g, const ns_mf_gathered *d, const ns_mf_params *p,
                       ns_pool *pool, ns_mf_model *m);

/* Building a fit's table: the codes of the distinct (value, weight) pairs
** by their bits, in order of first appearance, found through a small
** open-addressing hash (a fit has few pairs but millions of ratings to
** look up).  ns_mf_codes_init empties the table of d (d->n_codes = 0) and
** allows cap (<= NS_MF_MAX_CODES; ns_mf_max_codes(row_bits)) codes.
** ns_mf_code returns the code of (value, weight) -- a new pair gets the
** next code and its d->values / d->weights entries -- or -1 when the pair
** is new and cap codes are taken (the caller then falls back to per-slot
** weights: codes of (value, 1.0f) and rater_pw / note_pw). */
typedef ns_keycodes ns_mf_codes;   /* keys: value bits << 32 | weight bits */
void ns_mf_codes_init(ns_mf_codes *t, ns_mf_gathered *d, unsigned cap);
int ns_mf_code(ns_mf_codes *t, ns_mf_gathered *d, float value, float weight);

/* L of the current parameters (same definition as above).  NAN if the
** arguments do not match (as ns_mf_fit's NS_EINVAL) or memory runs out. */
double ns_mf_loss(const ns_bigraph *g, const float *value, const float *weight,
                  const ns_mf_params *p, ns_pool *pool, const ns_mf_model *m);

/* ---- the small SPD solves (factorization/spd.c) ------------------------
** Each solves the n x n symmetric positive definite system A x = b in place,
** 1 <= n <= NS_MF_MAX_K + 1: A is row-major and only its lower triangle is
** read; that triangle is overwritten with the Cholesky factor L (A = L L^T)
** and b with x.  They return 0, NS_EINVAL (n out of range, NULL), or
** NS_ERANGE when A is not positive definite (a pivot <= 0 or NaN; A and b
** are then partly overwritten).  Safe to call from many threads at once.
** These are the per-row solvers of every fit in this module and of the
** refits (ridge.h) and logistic fits (logit.h), so all solve the same way. */

/* In-house Cholesky: forward and back substitution in a fixed order. */
int ns_mf_chol_solve(int n, double *A, double *b);

/* LAPACKE_dposv_work (OpenBLAS).  Also NS_ELAPACK if LAPACK rejects an
** argument (cannot happen for the arguments above).  The bits may differ
** from ns_mf_chol_solve in the last places (OpenBLAS picks its kernels for
** the CPU at load time; OPENBLAS_CORETYPE pins them). */
int ns_mf_lapack_solve(int n, double *A, double *b);

/* The solver of the fits: n <= 2 (k = 1) always ns_mf_chol_solve (faster,
** and bit-identical to earlier releases); larger n by ns_mf_solver(). */
int ns_mf_spd_solve(int n, double *A, double *b);

enum {
  NS_MF_SOLVER_AUTO = 0,     /* from NS_MF_SOLVER in the environment */
  NS_MF_SOLVER_LAPACK = 1,   /* default: LAPACKE for n > 2 */
  NS_MF_SOLVER_INHOUSE = 2   /* ns_mf_chol_solve for every n */
};
/* The process-wide choice for n > 2.  Read once from the environment
** variable NS_MF_SOLVER ("lapack", the default, or "inhouse"; anything else
** warns and means lapack) unless set.  ns_mf_set_solver() is for tests and
** benchmarks: call it before a fit starts, not during one.  Returns 0 or
** NS_EINVAL. */
int ns_mf_solver(void);
int ns_mf_set_solver(int solver);

#endif /* NS_MF_H */
