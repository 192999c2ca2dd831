/*
** factorization/ridge.h -- exact one-sided refits: with one side of a
** fitted factorization (and mu) frozen, every row of the other side is an
** independent ridge regression
**
**   sum_e w_e (y_e - i_r - f_o(e) . f_r)^2 + pen_i i_r^2 + pen_f |f_r|^2,
**   y_e = v_e - mu - i_o(e),
**
** solved exactly from its (k+1)x(k+1) normal equations (ns_mf_spd_solve:
** the in-house Cholesky at k = 1, LAPACKE for k > 1).  Several
** variants of every row (other penalties, one extra pseudo-observation)
** are solved from one accumulation of the row's data, so n variants cost
** about one pass over the observations.
**
** Who calls it: guard/refit.c (the note-only refits behind the pseudo-rater
** bounds, NoHighVol/NoCorrelated and population-sampled intercepts) and,
** through it, engine/refresh.c.  Parallel over rows through ns_pool_for
** with disjoint writes, so results do not depend on the thread count.
*/
#ifndef NS_RIDGE_H
#define NS_RIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "../base/base.h"
#include "mf.h"

#define NS_RIDGE_MAX_VARIANTS 4

/* One observation added to every solved row: from a pseudo-member of the
** frozen side with intercept icpt and factor fac[0..k), target value,
** weight 1. */
typedef struct ns_ridge_pseudo {
  double icpt;
  double fac[NS_MF_MAX_K];
  double value;
} ns_ridge_pseudo;

/* The observations and the frozen side.  Everything borrowed. */
typedef struct ns_ridge_data {
  size_t n_rows;              /* rows to solve */
  int k;                      /* factors, 1..NS_MF_MAX_K */
  double mu;                  /* frozen global intercept */
  const size_t *off;          /* n_rows + 1: row r's observations are */
  const uint32_t *idx;        /* idx[off[r] .. off[r+1]) (ns_ridge_csr) */
  const int32_t *other;       /* per observation id: frozen-side row */
  const float *value;         /* per observation id: target, or NULL (code) */
  const float *weight;        /* per observation id, or NULL = all 1 (or
                              ** by weight_code) */
  const double *other_icpt;   /* frozen side: intercepts */
  const double *other_fac;    /* frozen side: factors, row-major, ld = k */
  int min_obs;                /* rows with fewer observations (or none;
                                 values < 1 mean 1) are not solved */
  /* value NULL: the target of id e is code_value[(code[c] >> code_bit) & 3]
  ** with c = code_row[e] (code_row NULL: c = e) -- a caller's stored rating
  ** levels (two bits of a packed word: base/dataset.h r_meta), read through
  ** its own index instead of copied into a value column */
  const uint32_t *code_row;
  /* code_row NULL and code_shift set: the code row of id e in row r's
  ** observations is e + code_shift[r] (mod 2^32), a shift per solved row
  ** (the engine's edges keep their dataset rows per note) */
  const uint32_t *code_shift;
  const uint32_t *code;
  int code_bit;
  const float *code_value;    /* 4 entries */
  /* weight NULL and weight_code set: the weight of id e is
  ** weight_value[weight_code[e]] (a caller's few distinct weights) */
  const uint8_t *weight_code;
  const float *weight_value;
} ns_ridge_data;

/* One variant: its penalties, optional pseudo-observation, and outputs
** (icpt[n_rows], fac[n_rows * k] or NULL); NAN for rows not solved. */
typedef struct ns_ridge_variant {
  const ns_ridge_pseudo *extra;   /* NULL: none */
  double pen_i, pen_f;            /* already scaled (see ns_ridge_penalties) */
  double *icpt, *fac;
} ns_ridge_variant;

/* Solves nvar (1..NS_RIDGE_MAX_VARIANTS) variants of every row.  pool may
** be NULL.  Returns 0; NS_EINVAL for bad arguments; or the solver's code
** (NS_ERANGE: a system was not positive definite, possible only with zero
** penalties; NS_ELAPACK) after finishing every other row -- the row's
** variant is then NAN. */
int ns_ridge_solve(const ns_ridge_data *d, const ns_ridge_variant *v, int nvar,
                   ns_pool *pool);

/* CSR of the observations by row: row_of[e] (n_obs ids) in [0, n_rows)
** and other[e] in [0, n_other) are checked; observations with keep[e] == 0
** are left out (keep NULL = all); within a row, ids ascend.  On success
** *off (n_rows + 1) and *idx are new allocations (free()).  Returns 0,
** NS_EINVAL (an index out of range, or n_obs >= 2^32) or NS_ENOMEM. */
int ns_ridge_csr(size_t n_rows, size_t n_other, size_t n_obs, const int32_t *row_of,
                 const int32_t *other, const uint8_t *keep, size_t **off, uint32_t **idx);

/* Rows with at least min_obs observations (values < 1 mean 1) and their
** observations in total. */
void ns_ridge_count(const size_t *off, size_t n_rows, int min_obs, size_t *n_rows_fit,
                    size_t *n_obs_fit);

/* Penalties of a variant.  rho > 0 (the reference's ratio mode): lambda *
** rho.  Else the mean regulariser times N: lambda * N / n_rows_fit with N =
** n_obs_fit plus one pseudo-observation per solved row when has_extra (0
** when no row is solved). */
void ns_ridge_penalties(double lambda_i, double lambda_f, double rho, size_t n_obs_fit,
                        size_t n_rows_fit, int has_extra, double *pen_i, double *pen_f);

#endif /* NS_RIDGE_H */
