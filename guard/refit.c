/*
** guard/refit.c -- quantiles and the exact note-only refits behind the
** pseudo-rater bounds (§4.6), the NoHighVol / NoCorrelated intercepts
** (§4.1 step 15), the population-sampled intercept (§4.7 step 8), plus the
** high-volume rater flag (§1.7 step 3).
**
** The refits all freeze raters and mu, so each note is an independent ridge
** regression (see guard.h).  The kernel lives in factorization/ridge.c: it
** accumulates a note's normal equations once from its ratings and solves
** every variant (original data, +pseudo-rating j) from the same sums, which
** makes the four pseudo-rater refits cost about one pass over the ratings.
** This file chooses the notes, ratings, pseudo-raters and penalties.
**
** Who calls it: engine/pipeline.c (run thread); parallel over notes through
** ns_pool_for, each note written by exactly one chunk.
*/
#include "guard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- quantiles --------------------------------------------------------- */

double ns_guard_pct_q(int p) {
  /* numpy's arange(0, 1, .01) fills element i as start + i*delta with
  ** delta = (start + step) - start = 0.01, so element 95 is 95*0.01 =
  ** 0.9500000000000001, not 0.95.  We reproduce that product. */
  return 0.0 + (double)p * 0.01;
}

double ns_guard_quantile_sorted(const double *x, size_t n, double q) {
  if (n == 0) return NAN;
  if (n == 1) return x[0];
  double h = q * (double)(n - 1);
  double fl = floor(h);
  size_t lo = fl < 0 ? 0 : (size_t)fl;
  if (lo >= n - 1) return x[n - 1];
  double t = h - fl;
  double a = x[lo], b = x[lo + 1];
  double d = b - a;
  /* numpy's _lerp: a + d*t, but b - d*(1-t) when t >= 0.5 (monotone and
  ** exact at both ends). */
  return t >= 0.5 ? b - d * (1.0 - t) : a + d * t;
}

static int cmp_double(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return (a > b) - (a < b);
}

/* The k-th smallest (0-based) of c[0..m), k < m, reordering c so that
** every element after position k is >= it.  Quickselect: a median-of-three
** pivot and a three-way partition (runs of equal values, common in these
** inputs, end a round at once); after 64 rounds the rest is sorted, so the
** worst case stays O(m log m).  A value, not a position, is returned, so the
** result equals the sorted array's element k whatever the pivots were. */
static double select_kth(double *c, size_t m, size_t k) {
  size_t lo = 0, hi = m;
  for (int round = 0; hi - lo > 16; round++) {
    if (round == 64) {
      qsort(c + lo, hi - lo, sizeof *c, cmp_double);
      return c[k];
    }
    double a = c[lo], b = c[lo + (hi - lo) / 2], d = c[hi - 1], piv;
    if (a < b) piv = b < d ? b : a < d ? d : a;
    else piv = a < d ? a : b < d ? d : b;
    size_t lt = lo, i = lo, gt = hi;
    while (i < gt) {
      double v = c[i];
      if (v < piv) c[i++] = c[lt], c[lt++] = v;
      else if (v > piv) c[i] = c[--gt], c[gt] = v;
      else i++;
    }
    if (k < lt) hi = lt;
    else if (k >= gt) lo = gt;
    else return piv;
  }
  for (size_t i = lo + 1; i < hi; i++) /* insertion sort of the rest */
    for (size_t j = i; j > lo && c[j - 1] > c[j]; j--) {
      double t = c[j];
      c[j] = c[j - 1], c[j - 1] = t;
    }
  return c[k];
}

int ns_guard_quantile_inplace(double *c, size_t n, double q, double *out) {
  size_t m = 0;
  *out = NAN;
  for (size_t i = 0; i < n; i++) /* drop NaNs, keeping the order */
    if (!isnan(c[i])) c[m++] = c[i];
  /* The interpolation needs only the sorted elements lo and lo + 1
  ** (ns_guard_quantile_sorted): select them instead of sorting all m (the
  ** tag filter asks for a quantile of every round-2 rating). */
  if (m < 2) {
    *out = ns_guard_quantile_sorted(c, m, q);
  } else {
    /* the same arithmetic as ns_guard_quantile_sorted on the sorted c */
    double h = q * (double)(m - 1), fl = floor(h);
    size_t lo = fl < 0 ? 0 : (size_t)fl;
    if (lo >= m - 1) {
      *out = select_kth(c, m, m - 1);
    } else {
      double t = h - fl, a = select_kth(c, m, lo), b = c[lo + 1];
      for (size_t i = lo + 2; i < m; i++) b = c[i] < b ? c[i] : b;
      double d = b - a;
      *out = t >= 0.5 ? b - d * (1.0 - t) : a + d * t;
    }
  }
  return 0;
}

int ns_guard_quantile(const double *x, size_t n, double q, double *out) {
  *out = NAN;
  if (n == 0) return 0;
  double *c = ns_mallocn(n, sizeof *c);
  if (!c) return NS_ENOMEM;
  memcpy(c, x, n * sizeof *c);
  int rc = ns_guard_quantile_inplace(c, n, q, out);
  free(c);
  return rc;
}

/* ---- note-only refits (factorization/ridge.h) --------------------------- */

/* The ridge problem of f's notes with raters and mu frozen, over the CSR
** (off, idx) of fit_csr: idx holds rows of f's columns, which the kernel
** reads directly (the target through r_meta's level when r_value is NULL). */
static ns_ridge_data ridge_of(const ns_guard_fit *f, const size_t *off, const uint32_t *idx,
                              int min_ratings) {
  ns_ridge_data d;
  memset(&d, 0, sizeof d);
  d.n_rows = f->n_notes;
  d.k = f->k;
  d.mu = f->mu;
  d.off = off;
  d.idx = idx;
  d.other = f->r_rater;
  d.value = f->r_value;
  d.code_row = f->r_src;
  if (!f->r_src) d.code_shift = f->r_src_note;  /* the rows are f's notes */
  d.code = f->r_meta;
  d.code_bit = NS_R_LEVEL_SHIFT;
  d.code_value = f->level_value;
  d.weight = f->r_weight;
  d.weight_code = f->r_weight_code;
  d.weight_value = f->weight_value;
  d.other_icpt = f->rater_icpt;
  d.other_fac = f->rater_fac;
  d.min_obs = min_ratings;
  return d;
}

/* ns_ridge_csr over f's view: the ratings j with keep[j] != 0 (keep NULL =
** all) by note, each entered as its row ns_guard_row(f, j).  Rows ascend
** with j, so a note's observations are in rating order as before.  Returns
** 0, NS_EINVAL (an index out of range) or NS_ENOMEM; *off, *idx new. */
static int fit_csr(const ns_guard_fit *f, const uint8_t *keep, size_t **off_out,
                   uint32_t **idx_out) {
  size_t nn = f->n_notes, *off, *pos;
  uint32_t *idx;
  *off_out = NULL;
  *idx_out = NULL;
  if (!f->r_id && f->r_note)
    return ns_ridge_csr(nn, f->n_raters, f->n_ratings, f->r_note, f->r_rater, keep, off_out,
                        idx_out);
  off = ns_calloc(nn + 1, sizeof *off);
  pos = ns_mallocn(nn, sizeof *pos);
  if (!off || !pos) {
    free(off), free(pos);
    return NS_ENOMEM;
  }
  for (size_t j = 0; j < f->n_ratings; j++) {
    int32_t n = ns_guard_note(f, j), u = ns_guard_rater(f, j);
    if (n < 0 || (size_t)n >= nn || u < 0 || (size_t)u >= f->n_raters) {
      free(off), free(pos);
      return NS_EINVAL;
    }
    if (!keep || keep[j]) off[n + 1]++;
  }
  for (size_t n = 0; n < nn; n++) off[n + 1] += off[n];
  idx = ns_mallocn(off[nn], sizeof *idx);
  if (!idx) {
    free(off), free(pos);
    return NS_ENOMEM;
  }
  memcpy(pos, off, nn * sizeof *pos);
  for (size_t j = 0; j < f->n_ratings; j++)
    if (!keep || keep[j]) idx[pos[ns_guard_note(f, j)]++] = (uint32_t)ns_guard_row(f, j);
  free(pos);
  *off_out = off;
  *idx_out = idx;
  return 0;
}

static int check_fit(const ns_guard_fit *f) {
  if (!f || f->k < 1 || f->k > NS_GUARD_MAX_K) return NS_EINVAL;
  if (f->n_ratings && (!(f->r_note || f->r_graph) || !f->r_rater || !(f->r_value || f->r_meta)))
    return NS_EINVAL;
  if (!f->r_note && f->r_graph && f->r_graph->n_notes != f->n_notes) return NS_EINVAL;
  if (f->n_notes && !f->note_icpt) return NS_EINVAL;
  if (f->n_raters && (!f->rater_icpt || !f->rater_fac)) return NS_EINVAL;
  if (f->n_ratings >= UINT32_MAX) return NS_EINVAL;
  if (!f->r_weight && f->r_weight_code && !f->weight_value) return NS_EINVAL;
  return 0;
}

int ns_guard_refit_notes(const ns_guard_fit *f, const uint8_t *keep,
                         const ns_guard_reg *reg, int min_ratings,
                         const ns_guard_pseudo *extra, ns_pool *pool,
                         double *icpt_out, double *fac_out, size_t *n_refit) {
  size_t *off = NULL, nr, nk;
  uint32_t *idx = NULL;
  ns_ridge_data d;
  ns_ridge_variant v;
  int rc;
  if (n_refit) *n_refit = 0;
  if ((rc = check_fit(f)) != 0 || !reg || !icpt_out) return rc ? rc : NS_EINVAL;
  if ((rc = fit_csr(f, keep, &off, &idx)) != 0) return rc;
  ns_ridge_count(off, f->n_notes, min_ratings, &nr, &nk);
  d = ridge_of(f, off, idx, min_ratings);
  memset(&v, 0, sizeof v);
  v.extra = extra;
  v.icpt = icpt_out;
  v.fac = fac_out;
  ns_ridge_penalties(reg->lambda_in, reg->lambda_fn, reg->rho, nk, nr, extra != NULL,
                     &v.pen_i, &v.pen_f);
  rc = ns_ridge_solve(&d, &v, 1, pool);
  free(off);
  free(idx);
  if (n_refit) *n_refit = nr;
  return rc;
}

/* ---- 1. pseudo-rater bounds ------------------------------------------- */

int ns_guard_pseudo_bounds(const ns_guard_fit *f, const ns_guard_reg *reg,
                           ns_pool *pool, ns_guard_bounds *out) {
  size_t *off = NULL;
  uint32_t *idx = NULL;
  ns_ridge_data d;
  ns_ridge_variant vr[4];
  ns_guard_pseudo ps[3];
  double *buf = NULL;
  uint8_t *active = NULL;
  size_t nn, k, nr, nk;
  int rc;
  double t0 = ns_monotonic_s();
  if ((rc = check_fit(f)) != 0) return rc;
  if (!reg || !out || !out->icpt_min || !out->icpt_max) return NS_EINVAL;
  nn = f->n_notes;
  k = (size_t)f->k;
  out->seconds = 0;

  /* Extreme pseudo-raters from raters that actually rated (others would
  ** carry the zero parameters of an empty row). */
  active = ns_calloc(f->n_raters, 1);
  if (!active) return NS_ENOMEM;
  for (size_t j = 0; j < f->n_ratings; j++) {
    int32_t u = ns_guard_rater(f, j);
    if (u < 0 || (size_t)u >= f->n_raters) {
      rc = NS_EINVAL;
      goto out;
    }
    active[u] = 1;
  }
  double imin = INFINITY, fmin[NS_GUARD_MAX_K], fmax[NS_GUARD_MAX_K];
  for (size_t j = 0; j < k; j++) fmin[j] = INFINITY, fmax[j] = -INFINITY;
  for (size_t u = 0; u < f->n_raters; u++) {
    if (!active[u]) continue;
    if (f->rater_icpt[u] < imin) imin = f->rater_icpt[u];
    for (size_t j = 0; j < k; j++) {
      double v = f->rater_fac[u * k + j];
      if (v < fmin[j]) fmin[j] = v;
      if (v > fmax[j]) fmax[j] = v;
    }
  }
  memset(ps, 0, sizeof ps);
  for (int p = 0; p < 3; p++) {
    ps[p].icpt = isfinite(imin) ? imin : 0.0;
    ps[p].value = 1.0; /* HELPFUL: only the upper bound is used (LCB off) */
    for (size_t j = 0; j < k; j++)
      ps[p].fac[j] = p == 0 ? fmin[j] : p == 1 ? 0.0 : fmax[j];
    if (!isfinite(imin))
      for (size_t j = 0; j < k; j++) ps[p].fac[j] = 0.0;
  }

  /* Four variants: original ratings, then +1 pseudo-rating per note. */
  buf = ns_mallocn(4 * nn * (k + 1), sizeof *buf);
  if (!buf) {
    rc = NS_ENOMEM;
    goto out;
  }
  if ((rc = fit_csr(f, NULL, &off, &idx)) != 0) goto out;
  ns_ridge_count(off, nn, 1, &nr, &nk);
  d = ridge_of(f, off, idx, 1);
  memset(vr, 0, sizeof vr);
  for (int v = 0; v < 4; v++) {
    vr[v].extra = v == 0 ? NULL : &ps[v - 1];
    vr[v].icpt = buf + (size_t)v * nn;
    vr[v].fac = buf + 4 * nn + (size_t)v * nn * k;
    /* The reference's pseudo-rater refits use the mean regulariser, not
    ** the final round's ratio mode (reference-algorithm.md §10). */
    ns_ridge_penalties(reg->lambda_in, reg->lambda_fn, 0.0, nk, nr, v != 0, &vr[v].pen_i,
                       &vr[v].pen_f);
  }
  if ((rc = ns_ridge_solve(&d, vr, 4, pool)) != 0) goto out;
  for (size_t n = 0; n < nn; n++) {
    double lo = INFINITY, hi = -INFINITY, flo = INFINITY, fhi = -INFINITY;
    for (int v = 0; v < 4; v++) {
      double i = vr[v].icpt[n], fv = vr[v].fac[n * k];
      if (isnan(i)) continue;
      lo = i < lo ? i : lo;
      hi = i > hi ? i : hi;
      flo = fv < flo ? fv : flo;
      fhi = fv > fhi ? fv : fhi;
    }
    int none = !isfinite(lo);
    out->icpt_min[n] = none ? NAN : lo;
    out->icpt_max[n] = none ? NAN : hi;
    if (out->fac_min) out->fac_min[n] = none ? NAN : flo;
    if (out->fac_max) out->fac_max[n] = none ? NAN : fhi;
    if (out->icpt_orig) out->icpt_orig[n] = vr[0].icpt[n];
    if (out->fac_orig) out->fac_orig[n] = vr[0].fac[n * k];
  }
  rc = 0;
out:
  free(off);
  free(idx);
  free(buf);
  free(active);
  out->seconds = ns_monotonic_s() - t0;
  return rc;
}

int ns_guard_ucb_crnh(int32_t num_ratings, double icpt_max) {
  return num_ratings >= NS_GUARD_MIN_RATINGS && icpt_max < NS_GUARD_UCB_CRNH;
}

/* ---- 4. high-volume raters and exclusion refits ----------------------- */

int ns_guard_high_volume(size_t n_ratings, const int32_t *r_rater,
                         const ns_dataset *ds, const uint32_t *r_src,
                         size_t n_raters, size_t n_notes_total, uint8_t *flag) {
  static const int64_t windows[2] = {NS_GUARD_HIGHVOL_WINDOW1_MS,
                                     NS_GUARD_HIGHVOL_WINDOW2_MS};
  int32_t *cnt = NULL;
  double *vals = NULL;
  int rc = 0;
  if (n_raters) memset(flag, 0, n_raters);
  if (n_notes_total < NS_GUARD_HIGHVOL_MIN_NOTES || n_ratings == 0) return 0;
  cnt = ns_mallocn(n_raters, sizeof *cnt);
  vals = ns_mallocn(n_raters, sizeof *vals);
  if (!cnt || !vals) {
    rc = NS_ENOMEM;
    goto out;
  }
  int64_t newest = INT64_MIN;
  for (size_t e = 0; e < n_ratings; e++) {
    size_t s = r_src ? r_src[e] : e;
    if (r_rater[e] < 0 || (size_t)r_rater[e] >= n_raters || s >= ds->n_ratings) {
      rc = NS_EINVAL;
      goto out;
    }
    int64_t t = ns_r_created(ds, s);
    if (t > newest) newest = t;
  }
  for (int w = 0; w < 2; w++) {
    int64_t since = newest - windows[w];
    size_t m = 0;
    double q;
    memset(cnt, 0, n_raters * sizeof *cnt);
    for (size_t e = 0; e < n_ratings; e++)
      if (ns_r_created(ds, r_src ? r_src[e] : e) >= since) cnt[r_rater[e]]++;
    for (size_t u = 0; u < n_raters; u++)
      if (cnt[u] > 0) vals[m++] = cnt[u];
    if ((rc = ns_guard_quantile(vals, m, NS_GUARD_HIGHVOL_QUANTILE, &q)) != 0) goto out;
    for (size_t u = 0; u < n_raters; u++)
      if (cnt[u] > 0 && (double)cnt[u] > q) flag[u] = 1;
  }
out:
  free(cnt);
  free(vals);
  return rc;
}

int ns_guard_refit_excluding(const ns_guard_fit *f, const uint8_t *excluded,
                             const ns_guard_reg *reg, int min_ratings,
                             ns_pool *pool, double *icpt_out) {
  uint8_t *keep;
  int rc;
  if ((rc = check_fit(f)) != 0 || !excluded) return rc ? rc : NS_EINVAL;
  keep = ns_mallocn(f->n_ratings, 1);
  if (!keep) return NS_ENOMEM;
  for (size_t j = 0; j < f->n_ratings; j++) {
    int32_t u = ns_guard_rater(f, j);
    keep[j] = (u >= 0 && (size_t)u < f->n_raters) ? !excluded[u] : 1;
  }
  rc = ns_guard_refit_notes(f, keep, reg, min_ratings, NULL, pool, icpt_out, NULL, NULL);
  free(keep);
  return rc;
}

int ns_guard_low_baseline(int status, double icpt, double threshold) {
  return status == NS_STATUS_CRH && !isnan(icpt) && icpt < threshold;
}

/* ---- 5. population-sampled check ------------------------------------- */

int ns_guard_population_sampled(const ns_guard_fit *f, const uint8_t *r_source,
                                const ns_guard_reg *reg, ns_pool *pool,
                                ns_guard_popsampled *out) {
  uint8_t *keep;
  int rc;
  if ((rc = check_fit(f)) != 0 || !r_source || !out || !out->icpt) return rc ? rc : NS_EINVAL;
  keep = ns_mallocn(f->n_ratings, 1);
  if (!keep) return NS_ENOMEM;
  if (out->n_neg) memset(out->n_neg, 0, f->n_notes * sizeof *out->n_neg);
  if (out->n_pos) memset(out->n_pos, 0, f->n_notes * sizeof *out->n_pos);
  for (size_t j = 0; j < f->n_ratings; j++) {
    keep[j] = r_source[j] == NS_SOURCE_POPULATION_SAMPLED;
    if (!keep[j]) continue;
    int32_t n = ns_guard_note(f, j), u = ns_guard_rater(f, j);
    if (n < 0 || (size_t)n >= f->n_notes || u < 0 || (size_t)u >= f->n_raters) {
      free(keep);
      return NS_EINVAL;
    }
    double fu = f->rater_fac[(size_t)u * f->k];
    if (isnan(fu)) continue; /* the reference drops raters without a factor */
    if (fu < 0) {
      if (out->n_neg) out->n_neg[n]++;
    } else if (out->n_pos) {
      out->n_pos[n]++;
    }
  }
  ns_guard_reg r = *reg;
  r.rho = NS_GUARD_POP_RHO; /* the reference's population-sampled refit */
  rc = ns_guard_refit_notes(f, keep, &r, NS_GUARD_MIN_RATINGS, NULL, pool, out->icpt,
                            NULL, NULL);
  free(keep);
  return rc;
}

int ns_guard_pop_demote(int status, double icpt_core, double icpt_pop,
                        int32_t n_neg, int32_t n_pos) {
  if (status != NS_STATUS_CRH || isnan(icpt_core) || isnan(icpt_pop)) return 0;
  if (n_neg + n_pos < NS_GUARD_POP_MIN_TOTAL) return 0;
  if (n_neg < NS_GUARD_POP_MIN_PER_SIGN || n_pos < NS_GUARD_POP_MIN_PER_SIGN) return 0;
  return icpt_pop < NS_GUARD_POP_MAX_INTERCEPT &&
         icpt_core - icpt_pop >= NS_GUARD_POP_MIN_DROP;
}
