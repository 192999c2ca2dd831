/*
** factorization/ridge.c -- exact one-sided ridge refits (ridge.h).
**
** A row's normal equations are accumulated once from its observations
** (lower triangle), then every variant copies them, adds its pseudo-
** observation and penalties, mirrors the triangle and solves.  The
** accumulation order is the row's observation order (ascending ids), so
** the result is a function of the data only.
*/
#include "ridge.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAXM (NS_MF_MAX_K + 1) /* unknowns per row */

/* Target of observation e of row r: stored, or a code through the
** caller's table. */
static inline float obs_value(const ns_ridge_data *d, uint32_t e, size_t r) {
  if (d->value) return d->value[e];
  uint32_t c = d->code_row     ? d->code_row[e]
               : d->code_shift ? e + d->code_shift[r]
                               : e;
  return d->code_value[(d->code[c] >> d->code_bit) & 3u];
}

typedef struct ridge_ctx {
  const ns_ridge_data *d;
  const ns_ridge_variant *v;
  int nvar;
  atomic_int rc;               /* first failing solve's code (0: none) */
} ridge_ctx;

static void ridge_chunk(void *vctx, size_t chunk, size_t begin, size_t end) {
  ridge_ctx *c = vctx;
  const ns_ridge_data *d = c->d;
  const int k = d->k, m = k + 1;
  const size_t need = (size_t)(d->min_obs > 0 ? d->min_obs : 1);
  double A0[MAXM * MAXM], b0[MAXM], x[MAXM];
  _Alignas(64) double A[MAXM * MAXM];
  _Alignas(64) double b[MAXM];
  (void)chunk;
  for (size_t n = begin; n < end; n++) {
    size_t lo = d->off[n], hi = d->off[n + 1];
    if (hi - lo < need) {
      for (int v = 0; v < c->nvar; v++) {
        c->v[v].icpt[n] = NAN;
        if (c->v[v].fac)
          for (int j = 0; j < k; j++) c->v[v].fac[n * k + j] = NAN;
      }
      continue;
    }
    /* Normal equations of the row's data term: x_e = (1, f_o), target
    ** y_e = v_e - mu - i_o, weight w_e. */
    memset(A0, 0, sizeof A0);
    memset(b0, 0, sizeof b0);
    for (size_t p = lo; p < hi; p++) {
      uint32_t e = d->idx[p];
      int32_t u = d->other[e];
      double w = d->weight ? d->weight[e] : d->weight_code ? d->weight_value[d->weight_code[e]] : 1.0;
      double y = (double)obs_value(d, e, n) - d->mu - d->other_icpt[u];
      x[0] = 1.0;
      for (int j = 0; j < k; j++) x[j + 1] = d->other_fac[(size_t)u * k + j];
      for (int i = 0; i < m; i++) {
        b0[i] += w * x[i] * y;
        for (int j = 0; j <= i; j++) A0[i * m + j] += w * x[i] * x[j];
      }
    }
    for (int v = 0; v < c->nvar; v++) {
      const ns_ridge_variant *vr = &c->v[v];
      const ns_ridge_pseudo *ps = vr->extra;
      int rc;
      memcpy(A, A0, sizeof A);
      memcpy(b, b0, sizeof b);
      if (ps) {
        double y = ps->value - d->mu - ps->icpt;
        x[0] = 1.0;
        for (int j = 0; j < k; j++) x[j + 1] = ps->fac[j];
        for (int i = 0; i < m; i++) {
          b[i] += x[i] * y;
          for (int j = 0; j <= i; j++) A[i * m + j] += x[i] * x[j];
        }
      }
      A[0] += vr->pen_i;
      for (int j = 1; j < m; j++) A[j * m + j] += vr->pen_f;
      for (int i = 0; i < m; i++) /* mirror the lower triangle */
        for (int j = i + 1; j < m; j++) A[i * m + j] = A[j * m + i];
      if ((rc = ns_mf_spd_solve(m, A, b)) != 0) {
        int expect = 0;
        atomic_compare_exchange_strong(&c->rc, &expect, rc);
        vr->icpt[n] = NAN;
        if (vr->fac)
          for (int j = 0; j < k; j++) vr->fac[n * k + j] = NAN;
        continue;
      }
      vr->icpt[n] = b[0];
      if (vr->fac)
        for (int j = 0; j < k; j++) vr->fac[n * k + j] = b[j + 1];
    }
  }
}

int ns_ridge_solve(const ns_ridge_data *d, const ns_ridge_variant *v, int nvar,
                   ns_pool *pool) {
  ridge_ctx c;
  if (!d || !v || nvar < 1 || nvar > NS_RIDGE_MAX_VARIANTS) return NS_EINVAL;
  if (d->k < 1 || d->k > NS_MF_MAX_K || !d->off) return NS_EINVAL;
  if (d->off[d->n_rows] && (!d->idx || !d->other || !(d->value || (d->code && d->code_value)) ||
                            !d->other_icpt || !d->other_fac ||
                            (!d->weight && d->weight_code && !d->weight_value)))
    return NS_EINVAL;
  for (int i = 0; i < nvar; i++)
    if (!v[i].icpt) return NS_EINVAL;
  c.d = d;
  c.v = v;
  c.nvar = nvar;
  atomic_init(&c.rc, 0);
  ns_pool_for(pool, d->n_rows, 1024, ridge_chunk, &c);
  return atomic_load(&c.rc);
}

int ns_ridge_csr(size_t n_rows, size_t n_other, size_t n_obs, const int32_t *row_of,
                 const int32_t *other, const uint8_t *keep, size_t **off_out,
                 uint32_t **idx_out) {
  size_t *off, *pos;
  uint32_t *idx;
  *off_out = NULL;
  *idx_out = NULL;
  if (n_obs >= UINT32_MAX || (n_obs && (!row_of || !other))) return NS_EINVAL;
  off = ns_calloc(n_rows + 1, sizeof *off);
  idx = ns_mallocn(n_obs, sizeof *idx);
  pos = ns_mallocn(n_rows, sizeof *pos);
  if (!off || !idx || !pos) {
    free(off), free(idx), free(pos);
    return NS_ENOMEM;
  }
  for (size_t e = 0; e < n_obs; e++) {
    int32_t n = row_of[e], u = other[e];
    if (n < 0 || (size_t)n >= n_rows || u < 0 || (size_t)u >= n_other) {
      free(off), free(idx), free(pos);
      return NS_EINVAL;
    }
    if (!keep || keep[e]) off[n + 1]++;
  }
  for (size_t n = 0; n < n_rows; n++) off[n + 1] += off[n];
  memcpy(pos, off, n_rows * sizeof *pos);
  for (size_t e = 0; e < n_obs; e++)
    if (!keep || keep[e]) idx[pos[row_of[e]]++] = (uint32_t)e;
  free(pos);
  *off_out = off;
  *idx_out = idx;
  return 0;
}

void ns_ridge_count(const size_t *off, size_t n_rows, int min_obs, size_t *n_rows_fit,
                    size_t *n_obs_fit) {
  size_t need = (size_t)(min_obs > 0 ? min_obs : 1), nr = 0, nk = 0;
  for (size_t n = 0; n < n_rows; n++) {
    size_t d = off[n + 1] - off[n];
    if (d >= need) {
      nr++;
      nk += d;
    }
  }
  *n_rows_fit = nr;
  *n_obs_fit = nk;
}

void ns_ridge_penalties(double lambda_i, double lambda_f, double rho, size_t n_obs_fit,
                        size_t n_rows_fit, int has_extra, double *pen_i, double *pen_f) {
  if (rho > 0) {
    *pen_i = lambda_i * rho;
    *pen_f = lambda_f * rho;
    return;
  }
  double N = (double)n_obs_fit + (has_extra ? (double)n_rows_fit : 0.0);
  double scale = n_rows_fit ? N / (double)n_rows_fit : 0.0;
  *pen_i = lambda_i * scale;
  *pen_f = lambda_f * scale;
}
