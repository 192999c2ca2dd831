/*
** tests/test_guardrails.c -- guard/: every rule on hand-built
** inputs whose expected numbers are worked out in the comments, plus
** stationarity and thread-count determinism checks of the refits.
*/
#include "harness.h"

#include "../base/dataset.h"
#include "../guard/guard.h"
#include "../factorization/logit.h"
#include "../engine/pipeline_int.h"

/* A dataset of n ratings with these times, levels, tags and sources (a NULL
** array: all 0), for the guard functions that read rows of a dataset; its
** noteIds and raters are not read.  NULL when out of memory. */
static ns_dataset *rows_ds(size_t n, const int64_t *ts, const uint8_t *lv, const uint32_t *tg,
                           const uint8_t *src) {
  ns_dataset *ds = NULL;
  if (ns_dataset_new(&ds) || ns_dataset_reserve_ratings(ds, n)) goto fail;
  for (size_t i = 0; i < n; i++) {
    if (ns_dataset_set_rating_meta(ds, i, ts ? ts[i] : 0, lv ? lv[i] : 0, tg ? tg[i] : 0,
                                   src ? src[i] : 0))
      goto fail;
    ds->r_note_id[i] = 1;
    ds->r_rater[i] = 0;
  }
  ds->n_ratings = n;
  return ds;
fail:
  ns_dataset_free(ds);
  return NULL;
}

/* ---- quantiles ---------------------------------------------------------- */

TEST(guard_quantile_numpy_linear) {
  /* numpy.quantile([1,2,3,4], .5): h = .5*3 = 1.5 -> 2 + 1*.5 = 2.5 */
  double a[] = {1, 2, 3, 4};
  ASSERT_NEAR(ns_guard_quantile_sorted(a, 4, 0.5), 2.5, 0);
  /* numpy.quantile([1,3,7,15], .4): h = 1.2 -> 3 + 4*.2 = 3.8 */
  double b[] = {1, 3, 7, 15};
  ASSERT_NEAR(ns_guard_quantile_sorted(b, 4, 0.4), 3.8, 1e-15);
  ASSERT_NEAR(ns_guard_quantile_sorted(b, 4, 0.0), 1, 0);
  ASSERT_NEAR(ns_guard_quantile_sorted(b, 4, 1.0), 15, 0);
  ASSERT_NEAR(ns_guard_quantile_sorted(b, 1, 0.7), 1, 0);
  ASSERT(isnan(ns_guard_quantile_sorted(b, 0, 0.5)));
  /* unsorted input with a NaN (dropped): {15, NaN, 1, 7, 3} -> as b */
  double c[] = {15, NAN, 1, 7, 3}, q;
  ASSERT_OK(ns_guard_quantile(c, 5, 0.4, &q));
  ASSERT_NEAR(q, 3.8, 1e-15);
  /* np.arange(0, 1, .01)[95] is 95*0.01 = 0.9500000000000001, not 0.95 */
  ASSERT(ns_guard_pct_q(95) > 0.95);
  ASSERT_NEAR(ns_guard_pct_q(95), 0.95, 2e-16);
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

TEST(guard_quantile_select_matches_sort) {
  /* ns_guard_quantile selects the two order statistics it needs instead of
  ** sorting; it must give the sorted interpolation's bits exactly, also
  ** with long runs of equal values, sorted or reversed input, NaN, and
  ** q at 0 and 1. */
  ns_rng g;
  ns_rng_seed(&g, 11);
  static const size_t sizes[] = {2, 3, 17, 18, 100, 1001, 20000};
  static const double qs[] = {0.0, 0.01, 0.4, 0.5, 0.9500000000000001, 0.999, 1.0};
  double *x = malloc(20000 * sizeof *x), *srt = malloc(20000 * sizeof *srt);
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
    for (int kind = 0; kind < 4; kind++) {
      size_t n = sizes[si], m = 0;
      for (size_t i = 0; i < n; i++) {
        double v = kind == 0   ? ns_rng_uniform(&g)
                   : kind == 1 ? (double)ns_rng_below(&g, 5) /* runs of ties */
                   : kind == 2 ? (double)i                   /* sorted */
                               : (double)(n - i);            /* reversed */
        x[i] = (kind == 0 && i % 7 == 3) ? NAN : v;
        if (!isnan(x[i])) srt[m++] = x[i];
      }
      qsort(srt, m, sizeof *srt, cmp_dbl);
      for (size_t qi = 0; qi < sizeof qs / sizeof *qs; qi++) {
        double got, want = ns_guard_quantile_sorted(srt, m, qs[qi]);
        ASSERT_OK(ns_guard_quantile(x, n, qs[qi], &got));
        ASSERT_EQ(memcmp(&got, &want, sizeof got), 0);
      }
    }
  free(x), free(srt);
}

/* ---- pseudo-rater bounds ------------------------------------------------- */

TEST(guard_pseudo_bounds_one_note) {
  /* One note, two raters, mu = 0, k = 1:
  **   rater 0: i = 0,    f = -1, rates 1 -> y = 1,   x = (1,-1)
  **   rater 1: i = -0.5, f = +1, rates 0 -> y = 0.5, x = (1, 1)
  ** A0 = sum x x^T = [[2,0],[0,2]], b0 = sum x y = (1.5, -0.5).
  ** Original refit: N = 2, 1 note -> pen = (0.15*2, 0.03*2) = (0.3, 0.06):
  **   i = 1.5/2.3 = 0.6521739..., f = -0.5/2.06.
  ** Pseudo refits: N = 3 -> pen (0.45, 0.09); pseudo-rater i = min = -0.5,
  ** value 1 -> y = 1.5; f in {-1, 0, +1}:
  **   f=-1: A = [[3.45,-1],[-1,3.09]], b = (3,-2), det = 9.6605
  **         i = (3*3.09 - 2)/det = 7.27/9.6605, f = (-6.9+3)/det
  **   f= 0: i = 3/3.45 = 0.8695652..., f = -0.5/2.09
  **   f=+1: A = [[3.45,1],[1,3.09]], b = (3,1): i = 8.27/9.6605, f = 0.45/9.6605
  ** min i = 1.5/2.3 (original), max i = 3/3.45; min f = -3.9/9.6605,
  ** max f = 0.45/9.6605. */
  double ni[1] = {0}, nf[1] = {0}, ui[2] = {0, -0.5}, uf[2] = {-1, 1};
  int32_t rn[2] = {0, 0}, ru[2] = {0, 1};
  float rv[2] = {1, 0};
  ns_guard_fit f = {1, 2, 2, 1, 0.0, ni, nf, ui, uf, rn, ru, rv, NULL, NULL};
  ns_guard_reg reg = {0.15, 0.03, 5.0 /* ignored: mean mode */};
  double imin, imax, fmin, fmax, io, fo;
  ns_guard_bounds b = {&imin, &imax, &fmin, &fmax, &io, &fo, 0};
  ASSERT_OK(ns_guard_pseudo_bounds(&f, &reg, NULL, &b));
  ASSERT_NEAR(io, 1.5 / 2.3, 1e-14);
  ASSERT_NEAR(fo, -0.5 / 2.06, 1e-14);
  ASSERT_NEAR(imin, 1.5 / 2.3, 1e-14);
  ASSERT_NEAR(imax, 3 / 3.45, 1e-14);
  ASSERT_NEAR(fmin, -3.9 / 9.6605, 1e-14);
  ASSERT_NEAR(fmax, 0.45 / 9.6605, 1e-14);
  /* UcbCRNH: needs n >= 5 and max < -0.04 */
  ASSERT_EQ(ns_guard_ucb_crnh(5, -0.05), 1);
  ASSERT_EQ(ns_guard_ucb_crnh(4, -0.05), 0);
  ASSERT_EQ(ns_guard_ucb_crnh(5, -0.04), 0);
  ASSERT_EQ(ns_guard_ucb_crnh(5, imax), 0);
}

/* Random fit for the structural tests. */
typedef struct rfit {
  ns_guard_fit f;
  double *ni, *nf, *ui, *uf;
  int32_t *rn, *ru;
  float *rv;
} rfit;

static void rfit_make(rfit *r, size_t nn, size_t nu, size_t ne, int k, uint64_t seed) {
  ns_rng g;
  ns_rng_seed(&g, seed);
  r->ni = calloc(nn, sizeof(double));
  r->nf = calloc(nn * k, sizeof(double));
  r->ui = calloc(nu, sizeof(double));
  r->uf = calloc(nu * k, sizeof(double));
  r->rn = calloc(ne, sizeof(int32_t));
  r->ru = calloc(ne, sizeof(int32_t));
  r->rv = calloc(ne, sizeof(float));
  for (size_t u = 0; u < nu; u++) {
    r->ui[u] = 0.2 * ns_rng_normal(&g);
    for (int j = 0; j < k; j++) r->uf[u * k + j] = 0.5 * ns_rng_normal(&g);
  }
  for (size_t e = 0; e < ne; e++) {
    r->rn[e] = (int32_t)ns_rng_below(&g, nn);
    r->ru[e] = (int32_t)ns_rng_below(&g, nu);
    r->rv[e] = (float)(0.5 * (double)ns_rng_below(&g, 3));
  }
  ns_guard_fit f = {nn, nu, ne, k, 0.1, r->ni, r->nf, r->ui, r->uf,
                    r->rn, r->ru, r->rv, NULL, NULL};
  r->f = f;
}

static void rfit_free(rfit *r) {
  free(r->ni), free(r->nf), free(r->ui), free(r->uf);
  free(r->rn), free(r->ru), free(r->rv);
}

TEST(guard_refit_is_stationary) {
  /* The exact per-note solve must zero the gradient of
  **   sum_e (y_e - i - f.f_u)^2 + pen_i i^2 + pen_f |f|^2   (ratio mode,
  ** pen = lambda*rho) for every note, k = 2. */
  rfit r;
  rfit_make(&r, 50, 40, 1500, 2, 7);
  ns_guard_reg reg = {0.15, 0.03, 3.0};
  double *ic = calloc(50, sizeof(double)), *fc = calloc(100, sizeof(double));
  size_t nref;
  ASSERT_OK(ns_guard_refit_notes(&r.f, NULL, &reg, 5, NULL, NULL, ic, fc, &nref));
  ASSERT(nref > 40);
  double pen_i = 0.15 * 3.0, pen_f = 0.03 * 3.0;
  for (size_t n = 0; n < 50; n++) {
    if (isnan(ic[n])) continue;
    double g[3] = {2 * pen_i * ic[n], 2 * pen_f * fc[n * 2], 2 * pen_f * fc[n * 2 + 1]};
    for (size_t e = 0; e < 1500; e++) {
      if ((size_t)r.rn[e] != n) continue;
      int u = r.ru[e];
      double pred = 0.1 + r.ui[u] + ic[n] + fc[n * 2] * r.uf[u * 2] + fc[n * 2 + 1] * r.uf[u * 2 + 1];
      double res = pred - r.rv[e];
      g[0] += 2 * res, g[1] += 2 * res * r.uf[u * 2], g[2] += 2 * res * r.uf[u * 2 + 1];
    }
    for (int j = 0; j < 3; j++) ASSERT_NEAR(g[j], 0, 1e-10);
  }
  free(ic), free(fc);
  rfit_free(&r);
}

TEST(guard_pseudo_bounds_thread_invariant) {
  rfit r;
  size_t nn = 3000;
  rfit_make(&r, nn, 400, 30000, 1, 11);
  for (size_t n = 0; n < nn; n++) r.ni[n] = 0.1, r.nf[n] = 0.2;
  ns_guard_reg reg = {0.15, 0.03, 0};
  double *a = calloc(4 * nn, sizeof(double)), *b = calloc(4 * nn, sizeof(double));
  ns_guard_bounds b1 = {a, a + nn, a + 2 * nn, a + 3 * nn, NULL, NULL, 0};
  ns_guard_bounds b2 = {b, b + nn, b + 2 * nn, b + 3 * nn, NULL, NULL, 0};
  ns_pool *pool;
  ASSERT_OK(ns_pool_new(2, &pool));
  ASSERT_OK(ns_guard_pseudo_bounds(&r.f, &reg, NULL, &b1));
  ASSERT_OK(ns_guard_pseudo_bounds(&r.f, &reg, pool, &b2));
  ASSERT_EQ(memcmp(a, b, 4 * nn * sizeof(double)), 0);
  for (size_t n = 0; n < nn; n++)
    if (!isnan(a[n])) ASSERT(a[n] <= a[nn + n]);
  ns_pool_free(pool);
  free(a), free(b);
  rfit_free(&r);
}

/* ---- tag filter ---------------------------------------------------------- */

TEST(guard_tag_weights_and_aggregate) {
  /* Notes f = {-1, 1}: mean 0, std 1 -> z = {-1, 1}.  Raters f = {-2, 2}:
  ** std 2 -> z = {-1, 1}.  Ratings (note, rater): (0,0) d=0, (0,1) d=2,
  ** (1,1) d=0, (1,0) d=2.  Sorted d = {0,0,2,2}: p40 -> h = 1.2 ->
  ** 0 + 2*0.2 = 0.4.  Weights: d=0 -> 1; d=2 -> 1/(1+5^5) = 1/3126. */
  double ni[2] = {0, 0}, nf[2] = {-1, 1}, ui[2] = {0, 0}, uf[2] = {-2, 2};
  int32_t rn[4] = {0, 0, 1, 1}, ru[4] = {0, 1, 1, 0};
  float rv[4] = {0, 0, 1, 0};
  uint32_t inc = NS_TAG_BIT(NS_TAG_NH_INCORRECT);
  uint32_t tg[4] = {inc, inc, 0, inc};
  ns_guard_fit f = {2, 2, 4, 1, 0, ni, nf, ui, uf, rn, ru, rv, NULL, tg};
  double w[4], adj[26], ratio[26], tot[2];
  ASSERT_OK(ns_guard_tag_weights(&f, w));
  ASSERT_NEAR(w[0], 1, 1e-15);
  ASSERT_NEAR(w[1], 1.0 / 3126, 1e-15);
  ASSERT_NEAR(w[2], 1, 1e-15);
  ASSERT_NEAR(w[3], 1.0 / 3126, 1e-15);
  ASSERT_OK(ns_guard_tag_aggregate(&f, w, adj, ratio, tot));
  int t = NS_TAG_NH_INCORRECT - NS_N_HELPFUL_TAGS;
  /* note 0: both ratings tagged -> ratio 1; note 1: only the far rating ->
  ** (1/3126) / (3127/3126) = 1/3127 */
  ASSERT_NEAR(tot[0], 1 + 1.0 / 3126, 1e-15);
  ASSERT_NEAR(adj[0 * 13 + t], 1 + 1.0 / 3126, 1e-15);
  ASSERT_NEAR(ratio[0 * 13 + t], 1, 1e-15);
  ASSERT_NEAR(ratio[1 * 13 + t], 1.0 / 3127, 1e-15);
  ASSERT_NEAR(ratio[1 * 13 + 0], 0, 0);
}

TEST(guard_tag_thresholds_and_filter) {
  /* tag 0 ratios over CRH notes {0, .1, .2, .3, .4} (a non-CRH .9 ignored):
  ** q = 0.9500000000000001, h = 3.8 -> .4 - .1*(1-.8) = .38 */
  double ratio[6 * 13] = {0};
  uint8_t crh[6] = {1, 1, 1, 1, 1, 0};
  double vals[6] = {0.3, 0.0, 0.4, 0.1, 0.2, 0.9};
  for (int n = 0; n < 6; n++) ratio[n * 13] = vals[n];
  double thr[13];
  ASSERT_OK(ns_guard_tag_thresholds(6, ratio, crh, 95, thr));
  ASSERT_NEAR(thr[0], 0.38, 1e-12);
  uint8_t none[6] = {0};
  ASSERT_OK(ns_guard_tag_thresholds(6, ratio, none, 95, thr));
  ASSERT_NEAR(thr[0], 0, 0); /* no CRH note: 0.0 */

  /* Filter: thresholds 0.4 for every tag.
  **   note 0: tag 0 adjusted 2.6 > 2.5, ratio .5 > .4 -> fires
  **   note 1: adjusted exactly 2.5 -> no (strict)
  **   note 2: ratio exactly .4 -> no (strict)
  **   note 3: HardToUnderstand 10 / 1.0 -> never */
  double adj[4 * 13] = {0}, rat[4 * 13] = {0};
  for (int t = 0; t < 13; t++) thr[t] = 0.4;
  adj[0 * 13 + 0] = 2.6, rat[0 * 13 + 0] = 0.5;
  adj[1 * 13 + 0] = 2.5, rat[1 * 13 + 0] = 0.9;
  adj[2 * 13 + 0] = 3.0, rat[2 * 13 + 0] = 0.4;
  int h = NS_TAG_NH_HARD_TO_UNDERSTAND - NS_N_HELPFUL_TAGS;
  adj[3 * 13 + h] = 10, rat[3 * 13 + h] = 1.0;
  adj[3 * 13 + 1] = 2.51, rat[3 * 13 + 1] = 0.41; /* Incorrect fires */
  uint32_t fired[4];
  ns_guard_tag_filter(4, adj, rat, thr, NULL, fired);
  ASSERT_EQ(fired[0], NS_TAG_BIT(NS_N_HELPFUL_TAGS + 0));
  ASSERT_EQ(fired[1], 0);
  ASSERT_EQ(fired[2], 0);
  ASSERT_EQ(fired[3], NS_TAG_BIT(NS_TAG_NH_INCORRECT));
}

TEST(guard_tag_share_test) {
  /* Base shares: two notes' tag mentions, tag 0: 1 + 3, tag 1: 3 + 1,
  ** tag 5: 0 + 2 -> total 10 -> 0.4, 0.4, 0.2; the rest 0. */
  double a2[2 * 13] = {0}, base[13];
  a2[0] = 1, a2[1] = 3, a2[13 + 0] = 3, a2[13 + 1] = 1, a2[13 + 5] = 2;
  ns_guard_tag_base_shares(2, a2, base);
  ASSERT_NEAR(base[0], 0.4, 1e-15);
  ASSERT_NEAR(base[1], 0.4, 1e-15);
  ASSERT_NEAR(base[5], 0.2, 1e-15);
  ASSERT_NEAR(base[2], 0, 0);
  double zero[13] = {0};
  ns_guard_tag_base_shares(1, zero, base);
  ASSERT_NEAR(base[0], 0, 0); /* no mentions at all: 0, not NaN */

  /* Filter with thresholds 0 and ratio 1 everywhere, so only adjusted > 2.5
  ** and the share test decide.  m = 10 mentions, share 0.6 -> Wilson lower
  ** bound at z 2.326: 0.2725; share 0.4 -> 0.1427.
  **   note 0: tag 0 (6 of 10, base .15 -> needs > .225) fires; tag 1 (4 of
  **           10, base .5 -> needs > .75) does not
  **   note 1: tag 2 (6 of 10, base .2 -> needs > .3) does not; tag 3 (4 of
  **           10, base 0) fires
  ** Without base shares (the reference rule) all four fire. */
  double adj[2 * 13] = {0}, rat[2 * 13], thr[13] = {0}, b[13] = {0};
  for (int i = 0; i < 26; i++) rat[i] = 1.0;
  b[0] = 0.15, b[1] = 0.5, b[2] = 0.2, b[3] = 0.0;
  adj[0] = 6, adj[1] = 4, adj[13 + 2] = 6, adj[13 + 3] = 4;
  uint32_t fired[2];
  ns_guard_tag_filter(2, adj, rat, thr, b, fired);
  ASSERT_EQ(fired[0], NS_TAG_BIT(NS_N_HELPFUL_TAGS + 0));
  ASSERT_EQ(fired[1], NS_TAG_BIT(NS_N_HELPFUL_TAGS + 3));
  ns_guard_tag_filter(2, adj, rat, thr, NULL, fired);
  ASSERT_EQ(fired[0], NS_TAG_BIT(NS_N_HELPFUL_TAGS + 0) | NS_TAG_BIT(NS_N_HELPFUL_TAGS + 1));
  ASSERT_EQ(fired[1], NS_TAG_BIT(NS_N_HELPFUL_TAGS + 2) | NS_TAG_BIT(NS_N_HELPFUL_TAGS + 3));
}

/* The tag filter in one call (ns_guard_tag_filter_run) gives the bits of
** the four calls on full tables: with the ratings grouped by note (its
** per-note path, no tables) and not (its tables path), weighted, with and
** without the share test, with and without CRH notes. */
TEST(guard_tag_filter_run_matches_tables) {
  enum { NN = 400, NE = 12000 };
  rfit r;
  ns_rng g;
  uint32_t *meta = malloc(NE * sizeof *meta), *gmeta = malloc(NE * sizeof *gmeta);
  float *wt = malloc(NE * sizeof *wt), *gwt = malloc(NE * sizeof *gwt);
  int32_t *gn = malloc(NE * sizeof *gn), *gu = malloc(NE * sizeof *gu);
  double *adj = malloc(NN * 13 * sizeof *adj), *rat = malloc(NN * 13 * sizeof *rat);
  uint8_t crh[NN], crh2[NN], none[NN] = {0};
  uint32_t want[NN], got[NN];
  size_t cnt[NN + 1] = {0}, fired_any = 0;
  ASSERT(meta && gmeta && wt && gwt && gn && gu && adj && rat);
  rfit_make(&r, NN, 120, NE, 1, 5);
  ns_rng_seed(&g, 99);
  for (size_t n = 0; n < NN; n++) {
    r.nf[n] = 0.5 * ns_rng_normal(&g);
    crh[n] = n % 3 == 0;
  }
  for (size_t e = 0; e < NE; e++) {
    /* each note has a favourite complaint (tag n % 13), the others rarer */
    uint32_t tags = 0;
    for (int t = 0; t < 13; t++)
      if (ns_rng_below(&g, 100) < ((size_t)r.rn[e] % 13 == (size_t)t ? 45u : 6u))
        tags |= NS_TAG_BIT(NS_N_HELPFUL_TAGS + t);
    meta[e] = tags;
    wt[e] = e % 7 == 0 ? 0.5f : 1.0f;
  }
  /* the same ratings grouped by note (stable counting sort) */
  for (size_t e = 0; e < NE; e++) cnt[r.rn[e] + 1]++;
  for (size_t n = 0; n < NN; n++) cnt[n + 1] += cnt[n];
  for (size_t e = 0; e < NE; e++) {
    size_t j = cnt[r.rn[e]]++;
    gn[j] = r.rn[e], gu[j] = r.ru[e], gmeta[j] = meta[e], gwt[j] = wt[e];
  }
  for (int grouped = 0; grouped < 2; grouped++) {
    ns_guard_fit f = r.f;
    ns_guard_tag_scale sc;
    f.r_note = grouped ? gn : r.rn;
    f.r_rater = grouped ? gu : r.ru;
    f.r_meta = grouped ? gmeta : meta;
    f.r_weight = grouped ? gwt : wt;
    ASSERT_OK(ns_guard_tag_scale_fit(&f, &sc));
    for (int c = 0; c < 2; c++)
      for (int share = 0; share < 2; share++) {
        const uint8_t *is = c ? crh : none;
        double thr[13], base[13];
        ASSERT_OK(ns_guard_tag_aggregate_scaled(&f, &sc, adj, rat, NULL));
        for (size_t n = 0; n < NN; n++) crh2[n] = is[n] && !isnan(rat[n * 13]);
        ASSERT_OK(ns_guard_tag_thresholds(NN, rat, crh2, 95, thr));
        ns_guard_tag_base_shares(NN, adj, base);
        ns_guard_tag_filter(NN, adj, rat, thr, share ? base : NULL, want);
        memset(got, 0xff, sizeof got);
        ASSERT_OK(ns_guard_tag_filter_run(&f, &sc, is, 95, share, got));
        ASSERT(memcmp(want, got, sizeof got) == 0);
        for (size_t n = 0; n < NN; n++) fired_any += want[n] != 0;
      }
  }
  ASSERT(fired_any > 0);  /* the comparison saw verdicts, not only zeros */
  {
    ns_guard_fit f = r.f;
    f.r_meta = NULL;  /* no tags to read */
    ASSERT_ERR(ns_guard_tag_filter_run(&f, NULL, crh, 95, 0, got), NS_EINVAL);
  }
  free(meta), free(gmeta), free(wt), free(gwt), free(gn), free(gu), free(adj), free(rat);
  rfit_free(&r);
}

/* ---- incorrect filter ---------------------------------------------------- */

TEST(guard_incorrect_filter_tfidf) {
  /* Note 0 f = 0.1.  Raters f: u0 0.0 (|0-.1| = .1 in), u1 .35 (.25 in),
  ** u2 -.5 (clip -.4: .5 out), u3 1.0 (clip .4: .3 not < .3, out), u4 .2
  ** (in), u5 .05 (in, but its rating has no not-helpful tag).
  ** Tags: u0..u3 Incorrect, u4 Other only, u5 none.
  ** In-interval NH-tagged ratings: u0, u1, u4 -> voters 3, Incorrect count 2. */
  double ni[1] = {0}, nf[1] = {0.1}, ui[6] = {0}, uf[6] = {0.0, 0.35, -0.5, 1.0, 0.2, 0.05};
  int32_t rn[6] = {0, 0, 0, 0, 0, 0}, ru[6] = {0, 1, 2, 3, 4, 5};
  float rv[6] = {0};
  uint32_t I = NS_TAG_BIT(NS_TAG_NH_INCORRECT), O = NS_TAG_BIT(NS_TAG_NH_OTHER);
  uint32_t tg[6] = {I, I, I, I | O, O, 0};  /* r_meta words: tags only */
  ns_guard_fit f = {1, 6, 6, 1, 0, ni, nf, ui, uf, rn, ru, rv, NULL, tg};
  int32_t cnt, vot;
  double p, tf;
  uint8_t fired;
  ns_guard_incorrect out = {&cnt, &vot, &p, &tf, &fired};
  /* History A: u0 1/4, u1 2/2, u4 0/1 -> p = .25 + 1 + 0 = 1.25,
  ** tf-idf = 2 / ln(2.25) = 2.4663 < 2.5 -> does not fire */
  int32_t incA[6] = {1, 2, 1, 1, 0, 0}, totA[6] = {4, 2, 1, 1, 1, 0};
  ASSERT_OK(ns_guard_incorrect_filter(&f, incA, totA, NS_GUARD_INCORRECT_TFIDF, &out));
  ASSERT_EQ(cnt, 2);
  ASSERT_EQ(vot, 3);
  ASSERT_NEAR(p, 1.25, 1e-15);
  ASSERT_NEAR(tf, 2 / log(2.25), 1e-12);
  ASSERT_EQ(fired, 0);
  /* History B: u1 1/4 -> p = .25 + .25 + 0 = .5, tf-idf = 2/ln 1.5 = 4.93 */
  int32_t incB[6] = {1, 1, 1, 1, 0, 0}, totB[6] = {4, 4, 1, 1, 1, 0};
  ASSERT_OK(ns_guard_incorrect_filter(&f, incB, totB, NS_GUARD_INCORRECT_TFIDF, &out));
  ASSERT_NEAR(tf, 2 / log(1.5), 1e-12);
  ASSERT_EQ(fired, 1);
  /* Per-rater history counts: u0 rated Incorrect, Other, none, Incorrect|Other */
  int32_t r2[4] = {0, 0, 0, 0}, ci[1], ct[1];
  uint32_t t2[4] = {ns_r_meta_make(0, I, 1), ns_r_meta_make(2, O, 0), ns_r_meta_make(1, 0, 1),
                    ns_r_meta_make(2, I | O, 1)};
  ns_guard_incorrect_counts(4, r2, t2, 1, ci, ct);
  ASSERT_EQ(ci[0], 2);
  ASSERT_EQ(ct[0], 3);
}

/* ---- high volume and exclusion refits ----------------------------------- */

TEST(guard_high_volume_quantile) {
  /* T = newest.  Raters 1..999: 1 rating at T.  Rater 0: 50 at T - 1 day.
  ** Rater 1000: 60 at T - 30 days (outside both windows).  Rater 1001: 40
  ** and rater 1002: 45 at T - 10 days (28-day window only).
  ** 7-day counts: 999 ones + 50 -> q.999: h = .999*999 = 998.001 ->
  **   1 + 49*.001 = 1.049: rater 0 flagged.
  ** 28-day counts: 999 ones, 40, 45, 50 -> h = .999*1001 = 999.999 ->
  **   45 - 5*.001 = 44.995: raters 0 and 1002 flagged, 1001 not. */
  size_t nu = 1003, ne = 999 + 50 + 60 + 40 + 45, e = 0;
  int32_t *ru = calloc(ne, sizeof(int32_t));
  int64_t *ts = calloc(ne, sizeof(int64_t)), T = 2000000000000LL, D = 86400000LL;
  for (int u = 1; u <= 999; u++) ru[e] = u, ts[e++] = T;
  for (int i = 0; i < 50; i++) ru[e] = 0, ts[e++] = T - D;
  for (int i = 0; i < 60; i++) ru[e] = 1000, ts[e++] = T - 30 * D;
  for (int i = 0; i < 40; i++) ru[e] = 1001, ts[e++] = T - 10 * D;
  for (int i = 0; i < 45; i++) ru[e] = 1002, ts[e++] = T - 10 * D;
  ASSERT_EQ(e, ne);
  uint8_t *flag = calloc(nu, 1);
  ns_dataset *ds = rows_ds(ne, ts, NULL, NULL, NULL);
  ASSERT(ds != NULL);
  ASSERT_OK(ns_guard_high_volume(ne, ru, ds, NULL, nu, 200, flag));
  ASSERT_EQ(flag[0], 1);
  ASSERT_EQ(flag[1], 0);
  ASSERT_EQ(flag[1000], 0);
  ASSERT_EQ(flag[1001], 0);
  ASSERT_EQ(flag[1002], 1);
  int total = 0;
  for (size_t u = 0; u < nu; u++) total += flag[u];
  ASSERT_EQ(total, 2);
  ASSERT_OK(ns_guard_high_volume(ne, ru, ds, NULL, nu, 199, flag)); /* < 200 notes */
  for (size_t u = 0; u < nu; u++) ASSERT_EQ(flag[u], 0);
  free(ru), free(ts), free(flag);
  ns_dataset_free(ds);
}

TEST(guard_refit_excluding_ratio_mode) {
  /* All rater params 0, mu 0: each note solves i = sum r / (n + lambda*rho),
  ** f = 0.  Ratio mode rho = 2 -> pen_i = 0.3.  Note 0 rated 1,1,1,1,1 by
  ** raters 0-4 and 0 by rater 5.
  **   all:          i = 5 / 6.3
  **   without u5:   i = 5 / 5.3
  **   without u4,u5: 4 ratings < 5 -> NaN */
  double ni[1] = {0}, nf[1] = {0}, ui[6] = {0}, uf[6] = {0};
  int32_t rn[6] = {0}, ru[6] = {0, 1, 2, 3, 4, 5};
  float rv[6] = {1, 1, 1, 1, 1, 0};
  ns_guard_fit f = {1, 6, 6, 1, 0, ni, nf, ui, uf, rn, ru, rv, NULL, NULL};
  ns_guard_reg reg = {0.15, 0.03, 2.0};
  uint8_t ex[6] = {0};
  double i;
  ASSERT_OK(ns_guard_refit_excluding(&f, ex, &reg, 5, NULL, &i));
  ASSERT_NEAR(i, 5 / 6.3, 1e-14);
  ex[5] = 1;
  ASSERT_OK(ns_guard_refit_excluding(&f, ex, &reg, 5, NULL, &i));
  ASSERT_NEAR(i, 5 / 5.3, 1e-14);
  ex[4] = 1;
  ASSERT_OK(ns_guard_refit_excluding(&f, ex, &reg, 5, NULL, &i));
  ASSERT(isnan(i));
  /* NoHighVolIntercept: CRH and < 0.37, NaN never triggers */
  ASSERT_EQ(ns_guard_low_baseline(NS_STATUS_CRH, 0.36, 0.37), 1);
  ASSERT_EQ(ns_guard_low_baseline(NS_STATUS_CRH, 0.37, 0.37), 0);
  ASSERT_EQ(ns_guard_low_baseline(NS_STATUS_CRH, NAN, 0.37), 0);
  ASSERT_EQ(ns_guard_low_baseline(NS_STATUS_NMR, 0.1, 0.37), 0);
}

/* ---- population sampled -------------------------------------------------- */

TEST(guard_population_sampled) {
  /* Note 0: 6 POPULATION_SAMPLED ratings, all 1, by raters with f = -1 x3,
  ** +1 x3 (i_u = 0, mu = 0), and 2 DEFAULT ratings (ignored).  Ratio mode
  ** rho = 10 -> pen = (1.5, 0.3).  A = [[6,0],[0,6]] + pen, b = (6, 0):
  ** i = 6/7.5 = 0.8, f = 0.  Counts neg 3, pos 3. */
  double ni[1] = {0}, nf[1] = {0}, ui[8] = {0}, uf[8] = {-1, -1, -1, 1, 1, 1, 1, -1};
  int32_t rn[8] = {0}, ru[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  float rv[8] = {1, 1, 1, 1, 1, 1, 0, 0};
  uint8_t src[8] = {1, 1, 1, 1, 1, 1, 0, 0};
  ns_guard_fit f = {1, 8, 8, 1, 0, ni, nf, ui, uf, rn, ru, rv, NULL, NULL};
  ns_guard_reg reg = {0.15, 0.03, 0};
  double ip;
  int32_t nneg, npos;
  ns_guard_popsampled out = {&ip, &nneg, &npos};
  ASSERT_OK(ns_guard_population_sampled(&f, src, &reg, NULL, &out));
  ASSERT_NEAR(ip, 0.8, 1e-14);
  ASSERT_EQ(nneg, 3);
  ASSERT_EQ(npos, 3);
  /* Demotion: CRH, >= 8 total, >= 2 per sign, pop < .30, drop >= .15 */
  ASSERT_EQ(ns_guard_pop_demote(NS_STATUS_CRH, 0.45, 0.29, 3, 5), 1);
  ASSERT_EQ(ns_guard_pop_demote(NS_STATUS_CRH, 0.45, 0.30, 3, 5), 0); /* not < .30 */
  ASSERT_EQ(ns_guard_pop_demote(NS_STATUS_CRH, 0.43, 0.29, 3, 5), 0); /* drop .14 */
  ASSERT_EQ(ns_guard_pop_demote(NS_STATUS_CRH, 0.45, 0.29, 1, 7), 0); /* 1 neg */
  ASSERT_EQ(ns_guard_pop_demote(NS_STATUS_CRH, 0.45, 0.29, 3, 4), 0); /* 7 total */
  ASSERT_EQ(ns_guard_pop_demote(NS_STATUS_NMR, 0.45, 0.29, 3, 5), 0);
  ASSERT_EQ(ns_guard_pop_demote(NS_STATUS_CRH, 0.45, NAN, 3, 5), 0);
}

/* ---- harassment ---------------------------------------------------------- */

TEST(guard_harassment_labels_and_penalty) {
  uint32_t S = NS_TAG_BIT(NS_TAG_NH_SPAM_HARASSMENT), O = NS_TAG_BIT(NS_TAG_NH_OTHER);
  ASSERT_EQ(ns_guard_harassment_label(NS_LEVEL_HELPFUL, S), 1);
  ASSERT_EQ(ns_guard_harassment_label(NS_LEVEL_NOT_HELPFUL, S | O), 1);
  ASSERT_EQ(ns_guard_harassment_label(NS_LEVEL_HELPFUL, 0), 0);
  ASSERT_EQ(ns_guard_harassment_label(NS_LEVEL_NOT_HELPFUL, O), 0);
  ASSERT_EQ(ns_guard_harassment_label(NS_LEVEL_NOT_HELPFUL, NS_TAG_BIT(NS_TAG_NH_INCORRECT)), -1);
  ASSERT_EQ(ns_guard_harassment_label(NS_LEVEL_SOMEWHAT_HELPFUL, 0), -1);
  /* Note intercepts {2.5, 1.9, NaN, 4.0}.  Rater 0 HELPFUL on notes 0 and 3:
  ** 10*(2.5/2) + 10*(4/2) = 12.5 + 20 = 32.5.  Rater 1 HELPFUL on note 1
  ** (below 2.0) and NOT_HELPFUL on note 3: 0.  Rater 2 SOMEWHAT on note 0
  ** and HELPFUL on note 2 (NaN): 0. */
  double hi[4] = {2.5, 1.9, NAN, 4.0}, pen[3];
  int32_t rn[6] = {0, 3, 1, 3, 0, 2}, ru[6] = {0, 0, 1, 1, 2, 2};
  uint8_t lv[6] = {2, 2, 2, 0, 1, 2}, lr[6] = {2, 1, 0, 2, 2, 2};
  ns_dataset *ds = rows_ds(6, NULL, lv, NULL, NULL), *dr = rows_ds(6, NULL, lr, NULL, NULL);
  ns_bigraph *g, *gs;
  ASSERT(ds && dr);
  ASSERT_OK(ns_bigraph_build(3, 4, 6, ru, rn, &g));
  ASSERT(g->edge_note == rn); /* not in note order: the column is read */
  pen[0] = pen[1] = pen[2] = -1;
  ns_guard_harassment_penalty(g, ds, NULL, hi, pen);
  ASSERT_NEAR(pen[0], 32.5, 1e-12);
  ASSERT_NEAR(pen[1], 0, 0);
  ASSERT_NEAR(pen[2], 0, 0);
  /* the same levels read through rows in reverse order */
  uint32_t rev[6] = {5, 4, 3, 2, 1, 0};
  ns_guard_harassment_penalty(g, dr, rev, hi, pen);
  ASSERT_NEAR(pen[0], 32.5, 1e-12);
  ASSERT_NEAR(pen[1], 0, 0);
  ASSERT_NEAR(pen[2], 0, 0);
  /* the ratings in note order (the graph keeps no note column): rows
  ** e0 e4 e2 e5 e1 e3 of ds */
  int32_t sn[6] = {0, 0, 1, 2, 3, 3}, su[6] = {0, 2, 1, 2, 0, 1};
  uint32_t srow[6] = {0, 4, 2, 5, 1, 3};
  ASSERT_OK(ns_bigraph_build(3, 4, 6, su, sn, &gs));
  ASSERT(gs->edge_note == NULL);
  for (size_t e = 0; e < 6; e++) ASSERT_EQ(ns_bigraph_edge_note(gs, e), sn[e]);
  ns_guard_harassment_penalty(gs, ds, srow, hi, pen);
  ASSERT_NEAR(pen[0], 32.5, 1e-12);
  ASSERT_NEAR(pen[1], 0, 0);
  ASSERT_NEAR(pen[2], 0, 0);
  ns_bigraph_free(g);
  ns_bigraph_free(gs);
  ns_dataset_free(ds);
  ns_dataset_free(dr);
}

TEST(guard_harassment_label_filter) {
  /* 10 raters x 10 notes, all labelled (HELPFUL) -> kept.  Note 10 rated by
  ** raters 0-3 only (4 < 5) -> dropped in the first note pass.  Rater 10
  ** rates notes 0-8 (9 < 10) -> dropped in the rater pass.  One rating
  ** before 2021-12-15 -> -1. */
  size_t ne = 100 + 4 + 9 + 1, e = 0;
  int32_t *rn = calloc(ne, 4), *ru = calloc(ne, 4);
  uint8_t *lv = calloc(ne, 1);
  uint32_t *tg = calloc(ne, 4);
  int64_t *ts = calloc(ne, 8);
  int8_t *lab = calloc(ne, 1);
  for (int n = 0; n < 10; n++)
    for (int u = 0; u < 10; u++) rn[e] = n, ru[e] = u, lv[e] = 2, ts[e++] = NS_GUARD_HARASS_MIN_MS;
  for (int u = 0; u < 4; u++) rn[e] = 10, ru[e] = u, lv[e] = 2, ts[e++] = NS_GUARD_HARASS_MIN_MS;
  for (int n = 0; n < 9; n++) rn[e] = n, ru[e] = 10, lv[e] = 2, ts[e++] = NS_GUARD_HARASS_MIN_MS;
  rn[e] = 9, ru[e] = 11, lv[e] = 2, ts[e++] = NS_GUARD_HARASS_MIN_MS - 1;
  ns_dataset *ds = rows_ds(ne, ts, lv, tg, NULL);
  ns_bigraph *g, *gs;
  ASSERT(ds != NULL);
  ASSERT_OK(ns_bigraph_build(12, 11, ne, ru, rn, &g));
  ASSERT(g->edge_note != NULL);
  ASSERT_OK(ns_guard_harassment_labels(g, ds, NULL, lab));
  int kept = 0;
  for (size_t i = 0; i < ne; i++) kept += lab[i] >= 0;
  ASSERT_EQ(kept, 100);
  for (size_t i = 100; i < ne; i++) ASSERT_EQ(lab[i], -1);
  /* the same ratings in note order (stable), read through their rows:
  ** no note column, the same labels */
  int32_t *sn = calloc(ne, 4), *su = calloc(ne, 4);
  uint32_t *row = calloc(ne, 4);
  int8_t *slab = calloc(ne, 1);
  size_t w = 0;
  for (int32_t n = 0; n <= 10; n++)
    for (size_t i = 0; i < ne; i++)
      if (rn[i] == n) sn[w] = n, su[w] = ru[i], row[w++] = (uint32_t)i;
  ASSERT_EQ(w, ne);
  ASSERT_OK(ns_bigraph_build(12, 11, ne, su, sn, &gs));
  ASSERT(gs->edge_note == NULL);
  ASSERT_OK(ns_guard_harassment_labels(gs, ds, row, slab));
  for (size_t j = 0; j < ne; j++) ASSERT_EQ(slab[j], lab[row[j]]);
  /* a row out of the dataset */
  uint32_t *src = calloc(ne, 4);
  src[ne - 1] = (uint32_t)ne;
  ASSERT_EQ(ns_guard_harassment_labels(g, ds, src, lab), NS_EINVAL);
  ns_bigraph_free(g);
  ns_bigraph_free(gs);
  free(rn), free(ru), free(lv), free(tg), free(ts), free(lab), free(src);
  free(sn), free(su), free(row), free(slab);
  ns_dataset_free(ds);
}

TEST(guard_harassment_fit_stationary) {
  /* 30 notes x 40 raters, each pair labelled with prob .6; note n positive
  ** with prob n/30.  Factors start at 0 (init arrays of zeros), so they stay
  ** 0 and the model is mu + i_u + i_n: at the optimum every note row has
  **   sum_e dBCE/dz + 2 pen_i i_n = 0,  pen_i = 0.15 * N / #notes. */
  size_t nn = 30, nu = 40, ne = 0;
  int32_t *rn = calloc(nn * nu, 4), *ru = calloc(nn * nu, 4);
  int8_t *lab = calloc(nn * nu, 1);
  ns_rng g;
  ns_rng_seed(&g, 3);
  for (size_t n = 0; n < nn; n++)
    for (size_t u = 0; u < nu; u++)
      if (ns_rng_uniform(&g) < 0.6) {
        rn[ne] = (int32_t)n, ru[ne] = (int32_t)u;
        lab[ne++] = ns_rng_uniform(&g) < (double)n / nn;
      }
  double zn[30] = {0}, zu[40] = {0}, ni[30], ui[40], mu, ni2[30];
  ns_guard_logit_params p;
  ns_bigraph *eg, *er;
  ns_guard_logit_params_default(&p);
  p.iters = 500;
  p.tol = 1e-10;
  ASSERT_OK(ns_bigraph_build(nu, nn, ne, ru, rn, &eg));
  ASSERT(eg->edge_note == NULL);  /* note order: notes from note_off */
  ASSERT_OK(ns_guard_harassment_fit(eg, 1, lab, zn, zu, &p, NULL, ni, NULL, ui, NULL, &mu));
  size_t npos = 0;
  for (size_t e = 0; e < ne; e++) npos += lab[e];
  double pw = (double)(ne - npos) / npos, pen = 0.15 * (double)ne / nn;
  for (size_t n = 0; n < nn; n++) {
    double gsum = 2 * pen * ni[n];
    for (size_t e = 0; e < ne; e++) {
      if ((size_t)rn[e] != n) continue;
      double z = mu + ni[n] + ui[ru[e]], s = 1 / (1 + exp(-z));
      gsum += lab[e] ? -pw * (1 - s) : s;
    }
    ASSERT_NEAR(gsum, 0, 1e-6);
  }
  /* more positives -> higher intercept (note 29 vs note 0) */
  ASSERT(ni[29] > ni[0] + 1.0);
  /* thread-count invariance */
  ns_pool *pool;
  ASSERT_OK(ns_pool_new(2, &pool));
  ASSERT_OK(ns_guard_harassment_fit(eg, 1, lab, zn, zu, &p, pool, ni2, NULL, NULL, NULL, NULL));
  ASSERT_EQ(memcmp(ni, ni2, sizeof ni), 0);
  /* the ratings in reverse order (a note column): the same optimum */
  int32_t *rrn = calloc(ne, 4), *rru = calloc(ne, 4);
  int8_t *rlab = calloc(ne, 1);
  for (size_t e = 0; e < ne; e++)
    rrn[e] = rn[ne - 1 - e], rru[e] = ru[ne - 1 - e], rlab[e] = lab[ne - 1 - e];
  ASSERT_OK(ns_bigraph_build(nu, nn, ne, rru, rrn, &er));
  ASSERT(er->edge_note == rrn);
  ASSERT_OK(ns_guard_harassment_fit(er, 1, rlab, zn, zu, &p, NULL, ni2, NULL, NULL, NULL, NULL));
  for (size_t n = 0; n < nn; n++) ASSERT_NEAR(ni2[n], ni[n], 1e-6);
  ns_pool_free(pool);
  ns_bigraph_free(eg);
  ns_bigraph_free(er);
  free(rn), free(ru), free(lab), free(rrn), free(rru), free(rlab);
}

/* ---- low-diligence model ------------------------------------------------- */

TEST(guard_diligence_label_and_rule) {
  /* target: any of Incorrect, IrrelevantSources, SourcesMissingOrUnreliable */
  ASSERT_EQ(ns_guard_diligence_label(0), 0);
  ASSERT_EQ(ns_guard_diligence_label(NS_TAG_BIT(NS_TAG_NH_INCORRECT)), 1);
  ASSERT_EQ(ns_guard_diligence_label(NS_TAG_BIT(NS_TAG_NH_IRRELEVANT_SOURCES)), 1);
  ASSERT_EQ(ns_guard_diligence_label(NS_TAG_BIT(NS_TAG_NH_SOURCES_MISSING) |
                                     NS_TAG_BIT(NS_TAG_NH_OTHER)), 1);
  ASSERT_EQ(ns_guard_diligence_label(NS_TAG_BIT(NS_TAG_NH_OTHER) |
                                     NS_TAG_BIT(NS_TAG_NH_SPAM_HARASSMENT) | NS_TAG_BIT(0)), 0);
  /* FilterLowDiligence: strictly above 0.263; NaN never fires */
  ASSERT_EQ(ns_guard_low_diligence(0.263), 0);
  ASSERT_EQ(ns_guard_low_diligence(0.2631), 1);
  ASSERT_EQ(ns_guard_low_diligence(NAN), 0);

  /* In the chain (slot 10): a GeneralCRH note with i_n 0.5 and a diligence
  ** intercept of 0.3 is taken to FIRM_REJECT (Core's filters), and the rule
  ** is named; a CRNH note is left alone; no verdict without guardrails. */
  ns_params p;
  ns__note_facts f;
  ns__rule_out o;
  ns_params_default(&p);
  memset(&f, 0, sizeof f);
  f.n_ratings = 12;
  f.cls = NS_CLASS_MISLEADING;
  f.icpt = 0.5;
  f.prev_status = f.locked_status = NS_STATUS_UNSET;
  f.n_neg = f.n_pos = 6;
  f.mean_neg = f.mean_pos = 0.9;
  f.net_neg = f.net_pos = 5;
  f.guard = 1;
  f.icpt_max = f.icpt_no_high_vol = f.icpt_no_correlated = NAN;
  f.low_diligence = 0.263;
  ns__rules_final(&f, &p, &o);
  ASSERT_EQ(o.status, NS_STATUS_CRH);
  ASSERT(!(o.rules & (1u << NS_RULE_LOW_DILIGENCE)));
  f.low_diligence = 0.3;
  ns__rules_final(&f, &p, &o);
  ASSERT_EQ(o.status, NS_STATUS_FIRM_REJECT);
  ASSERT(o.rules & (1u << NS_RULE_GENERAL_CRH));
  ASSERT(o.rules & (1u << NS_RULE_LOW_DILIGENCE));
  p.firm_reject_threshold = NAN; /* a scorer without firm reject: NMR */
  ns__rules_final(&f, &p, &o);
  ASSERT_EQ(o.status, NS_STATUS_NMR);
  ns_params_default(&p);
  f.icpt = -0.5; /* GeneralCRNH: not filtered */
  f.low_diligence = 0.9;
  ns__rules_final(&f, &p, &o);
  ASSERT_EQ(o.status, NS_STATUS_CRNH);
  ASSERT(!(o.rules & (1u << NS_RULE_LOW_DILIGENCE)));
  f.icpt = 0.5;
  f.guard = 0;
  ns__rules_final(&f, &p, &o);
  ASSERT_EQ(o.status, NS_STATUS_CRH);
}

/* 40 raters rate notes 0..9 (note 10 has no rating).  Raters 0-3 are
** habitual taggers: every rating of theirs carries a diligence tag.  Note 0
** is tagged by everybody; note n = 1..9 only by the habitual taggers and
** by rater 4 + n.  So:
**   - note 0's tags are unanimous, also among raters who tag nothing else:
**     its intercept must clear 0.263 (it does: 0.61);
**   - notes 1..9 are tagged by the habitual taggers plus one rater each;
**     the taggers' intercepts explain most of that, so their intercepts are
**     negative (-0.16), all equal by symmetry, and the filter stays off;
**   - in round 2 the habitual taggers' tags say nothing about notes, so
**     their reputation goes to 0 (the penalty pulls it there), while raters
**     who tag only note 0 (4 and 14..39) keep the highest reputation;
**   - note 10 gets NAN and never fires. */
TEST(guard_diligence_sloppy_note_filtered) {
  enum { NU = 40, NN = 11 };
  int32_t rn[400], ru[400];
  int8_t lab[400];
  size_t ne = 0;
  for (int n = 0; n < 10; n++)
    for (int u = 0; u < NU; u++) {
      rn[ne] = n, ru[ne] = u;
      lab[ne++] = (int8_t)(n == 0 || u < 4 || u == 4 + n);
    }
  double ni[NN], nf[NN], ui[NU], rho[NU];
  ns_guard_diligence_params p;
  ns_guard_diligence_params_default(&p);
  ns_guard_diligence_out o = {ni, nf, ui, rho, {0}, {0}};
  ASSERT_OK(ns_guard_diligence_fit(NN, NU, ne, rn, ru, lab, NULL, NULL, &p, NULL, &o));
  ASSERT(o.passes[0] > 0 && o.passes[1] > 0 && o.passes[2] > 0);
  ASSERT_NEAR(ni[0], 0.61, 0.01);
  ASSERT(ns_guard_low_diligence(ni[0]));
  for (int n = 1; n < 10; n++) {
    ASSERT_NEAR(ni[n], -0.159, 0.01);
    ASSERT_NEAR(ni[n], ni[1], 1e-9);
    ASSERT(!ns_guard_low_diligence(ni[n]));
  }
  ASSERT(isnan(ni[10]) && isnan(nf[10]));
  ASSERT(!ns_guard_low_diligence(ni[10]));
  for (int u = 0; u < 4; u++) {
    ASSERT_NEAR(rho[u], 0.0, 1e-3);
    ASSERT(ui[u] > ui[39]); /* the habit is in the rater intercept */
  }
  ASSERT(rho[39] > rho[5] && rho[5] > rho[0]);
  ASSERT_NEAR(rho[4], rho[39], 1e-9);
  /* no factor was given: f_n has nothing to multiply and stays 0 */
  ASSERT_NEAR(nf[0], 0.0, 0);
  /* all targets equal: no model, NAN everywhere */
  memset(lab, 0, sizeof lab);
  ASSERT_OK(ns_guard_diligence_fit(NN, NU, ne, rn, ru, lab, NULL, NULL, &p, NULL, &o));
  ASSERT(isnan(ni[0]) && isnan(o.mu[2]) && o.passes[0] == 0);
}

/* Random data with a two-camp rater factor: at the returned solution the
** round-3 loss (recomputed here with plain loops from the outputs) must
** have zero gradient in every parameter round 3 learns -- every i_n, every
** i_u, and mu -- and two threads must give the same bits. */
TEST(guard_diligence_stationary_and_thread_invariant) {
  enum { NN = 60, NU = 80 };
  size_t cap = NN * NU, ne = 0;
  int32_t *rn = calloc(cap, 4), *ru = calloc(cap, 4);
  int8_t *lab = calloc(cap, 1);
  float *w = calloc(cap, sizeof *w);
  double fu[NU], ni[NN], nf[NN], ui[NU], rho[NU], ni2[NN], nf2[NN], ui2[NU], rho2[NU];
  ns_rng g;
  ns_rng_seed(&g, 11);
  for (int u = 0; u < NU; u++) fu[u] = (u % 2 ? 1.0 : -1.0) * (0.5 + ns_rng_uniform(&g));
  for (int n = 0; n < NN; n++)
    for (int u = 0; u < NU; u++) {
      if (ns_rng_uniform(&g) >= 0.5) continue;
      /* notes differ in sloppiness, raters in habit, and note n's slant
      ** makes one camp tag it more */
      double z = -2.0 + 2.0 * n / NN + (u % 7 == 0 ? 1.0 : 0.0) + 0.8 * fu[u] * ((n % 3) - 1);
      rn[ne] = n, ru[ne] = u;
      lab[ne] = ns_rng_uniform(&g) < 1.0 / (1.0 + exp(-z));
      w[ne] = (float)(0.5 + ns_rng_uniform(&g)); /* trust-like base weights */
      ne++;
    }
  lab[0] = -1; /* an excluded rating */
  ns_guard_diligence_params p;
  ns_guard_diligence_params_default(&p);
  p.tol = 1e-11;
  p.max_passes = 1000;
  ns_guard_diligence_out o = {ni, nf, ui, rho, {0}, {0}};
  ASSERT_OK(ns_guard_diligence_fit(NN, NU, ne, rn, ru, lab, w, fu, &p, NULL, &o));
  ASSERT(o.passes[2] < p.max_passes);
  double mu = o.mu[2];

  /* round-3 weights, from scratch: base * posWeight(500) * reputation,
  ** times (note total + 2^-20)^-0.5 */
  double tot[NN] = {0}, *we = calloc(ne, sizeof *we);
  size_t N = 0;
  int seen_n[NN] = {0}, seen_u[NU] = {0}, nn_act = 0, nu_act = 0;
  for (size_t e = 0; e < ne; e++) {
    if (lab[e] < 0) continue;
    double r = rho[ru[e]] > 0 ? rho[ru[e]] : 0.0;
    we[e] = w[e] * (lab[e] ? 500.0 : 1.0) * (0.1 + sqrt(r)) / 1.1;
    tot[rn[e]] += we[e];
    N++;
    nn_act += !seen_n[rn[e]]++;
    nu_act += !seen_u[ru[e]]++;
  }
  for (size_t e = 0; e < ne; e++)
    if (lab[e] >= 0) we[e] *= pow(tot[rn[e]] + 0x1p-20, -0.5);
  double gn[NN] = {0}, gu[NU] = {0}, gmu = 0, scale = 0;
  for (size_t e = 0; e < ne; e++) {
    if (lab[e] < 0) continue;
    int n = rn[e], u = ru[e];
    double z = mu + ui[u] + rho[u] * ni[n] + fu[u] * nf[n];
    double d = we[e] * (1.0 / (1.0 + exp(-z)) - lab[e]);
    gn[n] += d * rho[u];
    gu[u] += d;
    gmu += d;
    scale += fabs(d);
  }
  double pen_in = 0.03 * 1 * (double)N / nn_act, pen_iu = 0.03 * 10 * (double)N / nu_act;
  for (int n = 0; n < NN; n++) ASSERT_NEAR(gn[n] + 2 * pen_in * ni[n], 0, 1e-7 * scale);
  for (int u = 0; u < NU; u++) ASSERT_NEAR(gu[u] + 2 * pen_iu * ui[u], 0, 1e-7 * scale);
  ASSERT_NEAR(gmu, 0, 1e-7 * scale);
  /* the slant is carried by the note factor, with the sign of the camp
  ** that tags more: notes n % 3 == 2 are tagged by f_u > 0 raters */
  ASSERT(nf[2] > 0.2 && nf[0] < -0.2);

  /* thread-count invariance, at the default tolerance too */
  ns_pool *pool;
  ASSERT_OK(ns_pool_new(2, &pool));
  ns_guard_diligence_out o2 = {ni2, nf2, ui2, rho2, {0}, {0}};
  ASSERT_OK(ns_guard_diligence_fit(NN, NU, ne, rn, ru, lab, w, fu, &p, pool, &o2));
  ASSERT_EQ(memcmp(ni, ni2, sizeof ni), 0);
  ASSERT_EQ(memcmp(rho, rho2, sizeof rho), 0);
  double tight[NN];
  memcpy(tight, ni, sizeof tight);
  ns_guard_diligence_params_default(&p);
  ASSERT_OK(ns_guard_diligence_fit(NN, NU, ne, rn, ru, lab, w, fu, &p, NULL, &o));
  ASSERT_OK(ns_guard_diligence_fit(NN, NU, ne, rn, ru, lab, w, fu, &p, pool, &o2));
  ASSERT_EQ(memcmp(ni, ni2, sizeof ni), 0);
  ASSERT_EQ(memcmp(nf, nf2, sizeof nf), 0);
  ASSERT_EQ(memcmp(&o.mu, &o2.mu, sizeof o.mu), 0);
  /* the default tolerance (2e-2 per pass) lands within 0.01 of the tight
  ** fit's intercepts */
  for (int n = 0; n < NN; n++) ASSERT_NEAR(ni[n], tight[n], 0.01);
  ns_pool_free(pool);
  free(rn), free(ru), free(lab), free(w), free(we);
}

/* A weighted fit keeps its few distinct base weights as codes in the slots
** (8 bytes per labelled rating less than a float per slot and side); too
** many go per slot.  Both layouts give the same bits, and weights all 1
** the unweighted fit's. */
TEST(guard_diligence_weight_codes) {
  enum { NN = 50, NU = 70 };
  size_t cap = NN * NU, ne = 0;
  int32_t *rn = calloc(cap, 4), *ru = calloc(cap, 4);
  int8_t *lab = calloc(cap, 1);
  float *w = calloc(cap, sizeof *w), *one = calloc(cap, sizeof *one);
  double fu[NU], a[4][NN + NU], b[4][NN + NU];
  ns_rng g;
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  ns_rng_seed(&g, 5);
  for (int u = 0; u < NU; u++) fu[u] = ns_rng_normal(&g);
  for (int n = 0; n < NN; n++)
    for (int u = 0; u < NU; u++) {
      if (ns_rng_uniform(&g) >= 0.6) continue;
      rn[ne] = n, ru[ne] = u;
      lab[ne] = ns_rng_uniform(&g) < 0.3;
      w[ne] = ns_rng_below(&g, 3) ? 1.0f : 1.0f / (float)(2 + ns_rng_below(&g, 5)); /* 6 values */
      one[ne] = 1.0f;
      ne++;
    }
  ns_guard_diligence_params p;
  ns_guard_diligence_params_default(&p);
  ns_guard_diligence_out oa = {a[0], a[1], a[2], a[3], {0}, {0}};
  ns_guard_diligence_out ob = {b[0], b[1], b[2], b[3], {0}, {0}};
  ASSERT_OK(ns_guard_diligence_fit(NN, NU, ne, rn, ru, lab, w, fu, &p, NULL, &oa)); /* codes */
  p.max_codes = 4; /* 6 distinct weights: per slot */
  ASSERT_OK(ns_guard_diligence_fit(NN, NU, ne, rn, ru, lab, w, fu, &p, NULL, &ob));
  ASSERT_EQ(memcmp(a, b, sizeof a), 0);
  ASSERT_EQ(memcmp(oa.mu, ob.mu, sizeof oa.mu), 0);
  ASSERT(!isnan(a[0][0]));
  /* the weights matter */
  p.max_codes = 0;
  ASSERT_OK(ns_guard_diligence_fit(NN, NU, ne, rn, ru, lab, one, fu, &p, NULL, &ob));
  ASSERT(memcmp(a, b, sizeof a) != 0);
  /* all 1 (one code) = unweighted (no weights stored) */
  ASSERT_OK(ns_guard_diligence_fit(NN, NU, ne, rn, ru, lab, NULL, fu, &p, NULL, &oa));
  ASSERT_EQ(memcmp(a, b, sizeof a), 0);
  ASSERT_EQ(memcmp(oa.mu, ob.mu, sizeof oa.mu), 0);
  free(rn), free(ru), free(lab), free(w), free(one);
}

/* The inline e^x of the logistic fits against libm. */
TEST(guard_exp_neg) {
  double worst = 0;
  for (double x = -707.5; x <= 0; x += 0.0123) {
    double a = exp(x), b = ns_logit_exp_neg(x);
    worst = fmax(worst, fabs(a - b) / a);
  }
  ASSERT(worst < 1e-15);
  ASSERT_NEAR(ns_logit_exp_neg(0.0), 1.0, 0);
  ASSERT_NEAR(ns_logit_exp_neg(-0.0), 1.0, 0);
  ASSERT_NEAR(ns_logit_exp_neg(-800.0), 0.0, 0);
  ASSERT_NEAR(ns_logit_exp_neg(-INFINITY), 0.0, 0);
}

/* ---- stabilization ------------------------------------------------------- */

static ns_guard_stab_out stab(int prev, int scored, int64_t t, int64_t elapsed_min,
                              int first, int topic_unconf, int pflip) {
  const int64_t now = 1700000000000LL;
  ns_guard_stab_in in = {prev, scored, t, first, topic_unconf, pflip, now};
  if (t > 0) in.t_stab = now - elapsed_min * 60000LL;
  ns_guard_stab_out o;
  ns_guard_stabilize(&in, &o);
  return o;
}

TEST(guard_stabilization_branches) {
  const int64_t now = 1700000000000LL, N = NS_TS_NONE;
  const int C = NS_STATUS_CRH, Y = NS_STATUS_NYH, M = NS_STATUS_NMR, X = NS_STATUS_CRNH,
            U = NS_STATUS_UNSET;
  ns_guard_stab_out o;
  /* previously CRH: NYH is held at CRH; CRH passes untouched */
  o = stab(C, Y, N, 0, U, 0, -1);
  ASSERT_EQ(o.status, C); ASSERT_EQ(o.fired, 1); ASSERT_EQ(o.t_stab, N);
  o = stab(C, C, N, 0, U, 0, -1);
  ASSERT_EQ(o.status, C); ASSERT_EQ(o.fired, 0);
  /* (A) never stabilised: CRH / NYH -> NMR and the clock starts */
  o = stab(M, C, N, 0, U, 0, 1);
  ASSERT_EQ(o.status, M); ASSERT_EQ(o.t_stab, now); ASSERT_EQ(o.fired, 1);
  o = stab(M, Y, N, 0, U, 0, 1);
  ASSERT_EQ(o.status, M); ASSERT_EQ(o.t_stab, now);
  o = stab(M, M, N, 0, U, 0, 1);
  ASSERT_EQ(o.status, M); ASSERT_EQ(o.t_stab, N); ASSERT_EQ(o.fired, 0);
  /* (B) exited before: CRH restarts the clock, NYH waits at -1 */
  o = stab(M, C, -1, 0, U, 0, 1);
  ASSERT_EQ(o.status, M); ASSERT_EQ(o.t_stab, now);
  o = stab(M, Y, -1, 0, U, 0, 1);
  ASSERT_EQ(o.status, M); ASSERT_EQ(o.t_stab, -1);
  /* (C)(a) > 60 min and CRH -> CRH, clock cleared (even without pflip) */
  o = stab(M, C, 1, 61, U, 0, -1);
  ASSERT_EQ(o.status, C); ASSERT_EQ(o.t_stab, -1); ASSERT_EQ(o.fired, 0);
  /* exactly 60 min is not > 60: falls to (e), missing pflip -> NMR */
  o = stab(M, C, 1, 60, U, 0, -1);
  ASSERT_EQ(o.status, M); ASSERT_EQ(o.fired, 1);
  ASSERT(o.t_stab > 0);
  /* (C)(b) NYH for > 360 min -> NMR, cleared */
  o = stab(M, Y, 1, 361, U, 0, 1);
  ASSERT_EQ(o.status, M); ASSERT_EQ(o.t_stab, -1);
  /* (C)(c) < 30 min -> NMR, clock kept */
  o = stab(M, C, 1, 29, U, 0, 1);
  ASSERT_EQ(o.status, M); ASSERT_EQ(o.t_stab, now - 29 * 60000LL);
  /* (C)(d) topic model not confident */
  o = stab(M, C, 1, 45, U, 1, 1);
  ASSERT_EQ(o.status, M);
  /* (C)(e) flipped before, or pflip says flip / no prediction */
  o = stab(M, C, 1, 45, C, 0, 1);
  ASSERT_EQ(o.status, M);
  o = stab(M, C, 1, 45, U, 0, 0);
  ASSERT_EQ(o.status, M);
  o = stab(M, C, 1, 45, U, 0, -1);
  ASSERT_EQ(o.status, M);
  /* (C)(f) NYH in the window -> NMR, clock kept */
  o = stab(M, Y, 1, 200, U, 0, 1);
  ASSERT_EQ(o.status, M); ASSERT_EQ(o.t_stab, now - 200 * 60000LL);
  /* (C)(g) stable, no flip signal -> CRH, cleared; exactly 30 min counts */
  o = stab(M, C, 1, 45, U, 0, 1);
  ASSERT_EQ(o.status, C); ASSERT_EQ(o.t_stab, -1); ASSERT_EQ(o.fired, 0);
  o = stab(M, C, 1, 30, NS_STATUS_NMR, 0, 1);
  ASSERT_EQ(o.status, C);
  /* (2) stopped trying while in the period: status kept, clock cleared */
  o = stab(M, X, 1, 10, U, 0, 1);
  ASSERT_EQ(o.status, X); ASSERT_EQ(o.t_stab, -1); ASSERT_EQ(o.fired, 0);
  o = stab(M, M, 1, 10, U, 0, 1);
  ASSERT_EQ(o.status, M); ASSERT_EQ(o.t_stab, -1);
}

/* ---- rule application ----------------------------------------------- */

TEST(guard_apply) {
  int8_t s8 = NS_STATUS_CRH;
  uint32_t rules = 0;
  ns_guard_apply(&s8, &rules, NS_RULE_TAG_FILTER, NS_STATUS_FIRM_REJECT);
  ASSERT_EQ(s8, NS_STATUS_FIRM_REJECT);
  ASSERT_EQ(rules, 1u << NS_RULE_TAG_FILTER);
}

/* ---- meta step: PopulationSampledIntercept and stabilization ------------ */

TEST(guard_meta_pop_and_stabilization) {
  ns__note_facts f;
  ns__meta_out m;
  const int64_t now = 1700000000000LL;
  memset(&f, 0, sizeof f);
  f.prev_status = NS_STATUS_UNSET;
  f.locked_status = NS_STATUS_UNSET;
  f.first_non_nmr = NS_STATUS_UNSET;
  f.t_stab = NS_TS_NONE;
  f.now_ms = now;
  f.icpt = 0.45;
  f.icpt_pop = NAN;
  f.tag_count[0] = f.tag_count[1] = 3; /* two helpful tags: explanation ok */

  /* stabilization off: CRH stays, NYH is shown as NMR, clock untouched */
  ns__rules_meta_core(&f, NS_STATUS_CRH, &m);
  ASSERT_EQ(m.status, NS_STATUS_CRH);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ASSERT_EQ(m.t_stab, NS_TS_NONE);
  ns__rules_meta_core(&f, NS_STATUS_NYH, &m);
  ASSERT_EQ(m.status, NS_STATUS_NMR);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);

  /* on: a new CRH note waits at NMR and its clock starts now */
  f.stab = 1;
  ns__rules_meta_core(&f, NS_STATUS_CRH, &m);
  ASSERT_EQ(m.status, NS_STATUS_NMR);
  ASSERT_EQ(m.decided_by, NS_RULE_STABILIZATION);
  ASSERT(m.rules & (1u << NS_RULE_STABILIZATION));
  ASSERT_EQ(m.t_stab, now);
  /* 61 min later it is released (CoreModel decides), clock -1 */
  f.t_stab = now - 61 * 60000LL;
  ns__rules_meta_core(&f, NS_STATUS_CRH, &m);
  ASSERT_EQ(m.status, NS_STATUS_CRH);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ASSERT_EQ(m.t_stab, -1);
  /* a previously-CRH note scored NYH is held at CRH */
  f.t_stab = -1;
  f.prev_status = NS_STATUS_CRH;
  ns__rules_meta_core(&f, NS_STATUS_NYH, &m);
  ASSERT_EQ(m.status, NS_STATUS_CRH);
  ASSERT_EQ(m.decided_by, NS_RULE_STABILIZATION);

  /* PopulationSampledIntercept: 8 pop. ratings (4/4), i_pop 0.20 < 0.30 and
  ** 0.45 - 0.20 >= 0.15 -> NMR; with 1 on one side it does not apply */
  f.guard = 1;
  f.icpt_pop = 0.20;
  f.pop_neg = 4;
  f.pop_pos = 4;
  ns__rules_meta_core(&f, NS_STATUS_CRH, &m);
  ASSERT_EQ(m.status, NS_STATUS_NMR);
  ASSERT_EQ(m.decided_by, NS_RULE_POPULATION_SAMPLED);
  ASSERT(m.rules & (1u << NS_RULE_POPULATION_SAMPLED));
  f.pop_neg = 1;
  f.pop_pos = 7;
  ns__rules_meta_core(&f, NS_STATUS_CRH, &m);
  ASSERT_EQ(m.status, NS_STATUS_CRH);
  ASSERT(!(m.rules & (1u << NS_RULE_POPULATION_SAMPLED)));
}

/* ---- factorization/ridge.h: the refit kernel, by hand ---------------------- */

/* Row 0: two observations, worked by hand; row 1: one observation, below
** min_obs.  k = 1, mu = 0.1, pen_i = 0.5, pen_f = 0.25.
**   obs 0: other row 0 (i 0.1, f 1.0), value 1: y = 0.8, x = (1, 1)
**   obs 2: other row 1 (i -0.2, f -0.5), value 0: y = 0.1, x = (1, -0.5)
** A = [[2.5, 0.5], [0.5, 1.5]], b = (0.9, 0.75), det 3.5.  With the pseudo-
** observation (i 0, f 2, value 1: y = 0.9, x = (1, 2)): A = [[3.5, 2.5],
** [2.5, 5.5]], b = (1.8, 2.55), det 13. */
TEST(ridge_hand_two_observations) {
  int32_t row_of[3] = {0, 1, 0}, other[3] = {0, 0, 1};
  float value[3] = {1, 0.5f, 0};
  double oi[2] = {0.1, -0.2}, of[2] = {1.0, -0.5};
  size_t *off;
  uint32_t *idx;
  ASSERT_OK(ns_ridge_csr(2, 2, 3, row_of, other, NULL, &off, &idx));
  ASSERT_EQ(off[1], 2u);
  ASSERT_EQ(off[2], 3u);
  ASSERT_EQ(idx[0], 0u);
  ASSERT_EQ(idx[1], 2u);
  ns_ridge_data d = {2, 1, 0.1, off, idx, other, value, NULL, oi, of, 2};
  ns_ridge_pseudo ps = {0.0, {2.0}, 1.0};
  double i0[2], f0[2], i1[2], f1[2];
  ns_ridge_variant v[2] = {{NULL, 0.5, 0.25, i0, f0}, {&ps, 0.5, 0.25, i1, f1}};
  ASSERT_OK(ns_ridge_solve(&d, v, 2, NULL));
  ASSERT_NEAR(i0[0], 0.975 / 3.5, 1e-15);
  ASSERT_NEAR(f0[0], 1.425 / 3.5, 1e-15);
  ASSERT_NEAR(i1[0], 3.525 / 13, 1e-15);
  ASSERT_NEAR(f1[0], 4.425 / 13, 1e-15);
  ASSERT(isnan(i0[1]) && isnan(f0[1]) && isnan(i1[1]) && isnan(f1[1]));
  /* zero penalties and one observation: singular, reported, row NAN */
  d.min_obs = 1;
  v[0].pen_i = v[0].pen_f = 0;
  ASSERT_ERR(ns_ridge_solve(&d, v, 1, NULL), NS_ERANGE);
  ASSERT(isnan(i0[1]));
  ASSERT_ERR(ns_ridge_solve(&d, v, 0, NULL), NS_EINVAL);
  free(off), free(idx);
  /* keep mask, and bad indexes */
  uint8_t keep[3] = {1, 1, 0};
  ASSERT_OK(ns_ridge_csr(2, 2, 3, row_of, other, keep, &off, &idx));
  ASSERT_EQ(off[1], 1u);
  size_t nr, nk;
  ns_ridge_count(off, 2, 1, &nr, &nk);
  ASSERT_EQ(nr, 2u);
  ASSERT_EQ(nk, 2u);
  free(off), free(idx);
  other[1] = 2;
  ASSERT_ERR(ns_ridge_csr(2, 2, 3, row_of, other, NULL, &off, &idx), NS_EINVAL);
  ASSERT(off == NULL && idx == NULL);
  double pi, pf;
  ns_ridge_penalties(0.15, 0.03, 0, 10, 4, 1, &pi, &pf); /* N = 10 + 4 */
  ASSERT_NEAR(pi, 0.15 * 14 / 4, 1e-15);
  ASSERT_NEAR(pf, 0.03 * 14 / 4, 1e-15);
  ns_ridge_penalties(0.15, 0.03, 10, 10, 4, 1, &pi, &pf);
  ASSERT_NEAR(pi, 1.5, 1e-15);
}

/* The note refits at k = 5 (LAPACKE) agree with the in-house solver. */
TEST(ridge_lapack_matches_inhouse_k5) {
  rfit r;
  rfit_make(&r, 60, 50, 2500, 5, 3);
  ns_guard_reg reg = {0.15, 0.03, 0};
  double *a = calloc(60 * 6, sizeof(double)), *b = calloc(60 * 6, sizeof(double));
  ASSERT_OK(ns_mf_set_solver(NS_MF_SOLVER_LAPACK));
  ASSERT_OK(ns_guard_refit_notes(&r.f, NULL, &reg, 5, NULL, NULL, a, a + 60, NULL));
  ASSERT_OK(ns_mf_set_solver(NS_MF_SOLVER_INHOUSE));
  ASSERT_OK(ns_guard_refit_notes(&r.f, NULL, &reg, 5, NULL, NULL, b, b + 60, NULL));
  int solved = 0;
  for (size_t i = 0; i < 60 * 6; i++) {
    ASSERT(isnan(a[i]) == isnan(b[i]));
    if (!isnan(a[i])) {
      ASSERT_NEAR(a[i], b[i], 1e-9);
      solved++;
    }
  }
  ASSERT(solved > 200);
  free(a), free(b);
  rfit_free(&r);
}

/* ---- factorization/logit.h: the shared row solver, by hand ----------------- */

/* A logistic regression with m features: sum_e BCE(x_e . t, y_e) + pen
** |t|^2 (pen per parameter), data in the context. */
typedef struct lg_case {
  int n, m;
  double x[8][2];
  int y[8];
  int evals;
} lg_case;

static void lg_derivs(const void *ctx, size_t row, const double *t, double *g, double *H,
                      double *mx, void *ev) {
  lg_case *c = (lg_case *)ctx;
  (void)row;
  memset(g, 0, (size_t)c->m * sizeof *g);
  memset(H, 0, (size_t)(c->m * c->m) * sizeof *H);
  memset(mx, 0, (size_t)c->m * sizeof *mx);
  for (int e = 0; e < c->n; e++) {
    double z = 0;
    for (int j = 0; j < c->m; j++) z += c->x[e][j] * t[j];
    double s = 1 / (1 + exp(-z));
    for (int i = 0; i < c->m; i++) {
      g[i] += (s - c->y[e]) * c->x[e][i];
      for (int j = 0; j <= i; j++) H[i * c->m + j] += s * (1 - s) * c->x[e][i] * c->x[e][j];
      mx[i] = fmax(mx[i], fabs(c->x[e][i]));
    }
  }
  c->evals++;
  *(int *)ev = c->evals;
}

static double lg_objective(const lg_case *c, const double *t, const double *pen) {
  double L = 0;
  for (int e = 0; e < c->n; e++) {
    double z = 0;
    for (int j = 0; j < c->m; j++) z += c->x[e][j] * t[j];
    L += c->y[e] ? log1p(exp(-z)) : log1p(exp(z));
  }
  for (int j = 0; j < c->m; j++) L += pen[j] * t[j] * t[j];
  return L;
}

TEST(logit_newton_intercept_by_hand) {
  /* 3 positives, 1 negative, feature 1, pen 0.5: the optimum solves
  ** 4 s(t) - 3 + t = 0; t* by bisection here. */
  lg_case c = {4, 1, {{1}, {1}, {1}, {1}}, {1, 1, 1, 0}, 0};
  double pen[1] = {0.5}, lo = -10, hi = 10;
  for (int i = 0; i < 200; i++) {
    double mid = 0.5 * (lo + hi);
    if (4 / (1 + exp(-mid)) - 3 + mid > 0) hi = mid;
    else lo = mid;
  }
  int last = 0, cur = 0;
  ns_logit_row row = {1, pen, lg_derivs, &c, 0, NULL, sizeof(int), &last, &cur};
  /* start far out: the first step is longer than the ln 2 radius */
  double t[1] = {8.0}, prev = lg_objective(&c, t, pen);
  for (int call = 0; call < 20; call++) {
    ns_logit_newton(&row, t);
    double L = lg_objective(&c, t, pen);
    ASSERT(L <= prev + 1e-15); /* every call lowers the objective */
    prev = L;
  }
  ASSERT_NEAR(t[0], 0.5 * (lo + hi), 1e-12);
  ASSERT(last >= cur && cur >= 1); /* records of evaluations were written */
}

TEST(logit_newton_two_features_stationary) {
  /* intercept and a slope, penalties 0.1 and 0.3; at the end the penalised
  ** gradient (written here from the formula) is 0 and the returned
  ** d/dtheta_0 prediction agrees. */
  lg_case c = {6, 2, {{1, 0.5}, {1, -1.0}, {1, 2.0}, {1, 0.0}, {1, -0.3}, {1, 1.5}},
               {1, 0, 1, 0, 0, 1}, 0};
  double pen[2] = {0.1, 0.3}, t[2] = {-3.0, 4.0}, G0 = 1;
  int last = 0;
  ns_logit_row row = {2, pen, lg_derivs, &c, 0, NULL, sizeof(int), &last, NULL};
  double prev = lg_objective(&c, t, pen);
  for (int call = 0; call < 30; call++) {
    G0 = ns_logit_newton(&row, t);
    double L = lg_objective(&c, t, pen);
    ASSERT(L <= prev + 1e-15);
    prev = L;
  }
  double g[2] = {2 * pen[0] * t[0], 2 * pen[1] * t[1]};
  for (int e = 0; e < c.n; e++) {
    double s = 1 / (1 + exp(-(t[0] + c.x[e][1] * t[1])));
    g[0] += s - c.y[e];
    g[1] += (s - c.y[e]) * c.x[e][1];
  }
  ASSERT_NEAR(g[0], 0, 1e-12);
  ASSERT_NEAR(g[1], 0, 1e-12);
  ASSERT_NEAR(G0, 0, 1e-12);
}

/* ---- the view (ns_guard_fit's r_id / r_src / r_meta) --------------------- */

/* Two views of the same ratings give the same bits in the scaled tag
** aggregate (its scale fitted on each view). */
static void same_tag_aggregate(const ns_guard_fit *x, const ns_guard_fit *y) {
  size_t m = x->n_notes * NS_N_NOT_HELPFUL_TAGS;
  double *adj = calloc(2 * m, sizeof *adj), *rat = calloc(2 * m, sizeof *rat);
  ns_guard_tag_scale sc;
  ASSERT(adj && rat);
  ASSERT_OK(ns_guard_tag_scale_fit(x, &sc));
  ASSERT_OK(ns_guard_tag_aggregate_scaled(x, &sc, adj, rat, NULL));
  ASSERT_OK(ns_guard_tag_scale_fit(y, &sc));
  ASSERT_OK(ns_guard_tag_aggregate_scaled(y, &sc, adj + m, rat + m, NULL));
  ASSERT_EQ(memcmp(adj, adj + m, m * sizeof *adj), 0);
  ASSERT_EQ(memcmp(rat, rat + m, m * sizeof *rat), 0);
  free(adj), free(rat);
}

/* The sources of the rows per note (r_src_note: each note's rows one block
** of consecutive sources, as the engine keeps a normalized dataset's
** edges) read the same as a per-row r_src column: refits (levels through
** the ridge kernel's code rows) and the tag filter (tags) bit-identical. */
TEST(guard_view_note_shift) {
  enum { NN = 40, NU = 30, M = 3000 };
  ns_rng g;
  ns_rng_seed(&g, 29);
  uint32_t shift[NN], *src = calloc(M, 4), *id = calloc(M, 4), *meta = calloc(2 * M, 4);
  int32_t *cn = calloc(M, 4), *cu = calloc(M, 4);
  double ni[NN], nf[NN], ui[NU], uf[NU];
  size_t ne = 0, gap = 0;
  for (int n = 0; n < NN; n++) ni[n] = 0.3 * ns_rng_normal(&g), nf[n] = 0.5 * ns_rng_normal(&g);
  for (int u = 0; u < NU; u++) ui[u] = 0.2 * ns_rng_normal(&g), uf[u] = 0.5 * ns_rng_normal(&g);
  for (size_t s = 0; s < 2 * M; s++) {
    unsigned lvl = (unsigned)ns_rng_below(&g, 3);
    uint32_t tags = ns_rng_below(&g, 3) == 0 ? (uint32_t)ns_rng_below(&g, 1u << 13) << 9 : 0;
    /* the time bits of a dataset's word are there too, not read */
    meta[s] = ns_r_meta_make(lvl, tags, (unsigned)(s & 1)) | (uint32_t)(s % 128) << NS_R_TIME_SHIFT;
  }
  for (size_t c = 0; c < M; c++) {
    int32_t n = (int32_t)(c * NN / M);  /* rows in note order */
    if (c == 0 || n != cn[c - 1]) {
      gap += ns_rng_below(&g, 20);     /* dropped sources between notes */
      shift[n] = (uint32_t)gap;
    }
    cn[c] = n;
    cu[c] = (int32_t)ns_rng_below(&g, NU);
    src[c] = (uint32_t)c + shift[n];
    if (ns_rng_below(&g, 5) >= 1) id[ne++] = (uint32_t)c;
  }
  ASSERT(gap < M);
  ns_guard_fit fa = {.n_notes = NN, .n_raters = NU, .n_ratings = ne, .k = 1, .mu = 0.05,
                     .note_icpt = ni, .note_fac = nf, .rater_icpt = ui, .rater_fac = uf,
                     .r_note = cn, .r_rater = cu, .r_meta = meta, .r_id = id, .r_src = src,
                     .level_value = {0.0f, 0.5f, 1.0f, 1.5f}};
  ns_guard_fit fb = fa;
  fb.r_src = NULL;
  fb.r_src_note = shift;
  for (size_t j = 0; j < ne; j++) ASSERT_EQ(ns_guard_tags(&fa, j), ns_guard_tags(&fb, j));
  ns_guard_reg reg = {0.15, 0.03, 0.0};
  double a[4 * NN], b[4 * NN];
  ns_guard_bounds ba = {a, a + NN, a + 2 * NN, a + 3 * NN, NULL, NULL, 0};
  ns_guard_bounds bb = {b, b + NN, b + 2 * NN, b + 3 * NN, NULL, NULL, 0};
  ASSERT_OK(ns_guard_pseudo_bounds(&fa, &reg, NULL, &ba));
  ASSERT_OK(ns_guard_pseudo_bounds(&fb, &reg, NULL, &bb));
  ASSERT_EQ(memcmp(a, b, sizeof a), 0);
  ASSERT(!isnan(a[NN]) && a[0] < a[NN]);
  /* the same view without the shift reads the wrong levels */
  fb.r_src_note = NULL;
  ASSERT_OK(ns_guard_pseudo_bounds(&fb, &reg, NULL, &bb));
  ASSERT(memcmp(a, b, sizeof a) != 0);
  fb.r_src_note = shift;
  same_tag_aggregate(&fa, &fb);
  /* the rows' notes from a bigraph of the rows (in note order: no note
  ** column, the engine's view of a normalized dataset) instead of r_note */
  ns_bigraph *rg;
  ASSERT_OK(ns_bigraph_build(NU, NN, M, cu, cn, &rg));
  ASSERT(rg->edge_note == NULL);
  ns_guard_fit fc = fb;
  fc.r_note = NULL;
  fc.r_graph = rg;
  for (size_t j = 0; j < ne; j++) {
    ASSERT_EQ(ns_guard_note(&fc, j), cn[id[j]]);
    ASSERT_EQ(ns_guard_tags(&fc, j), ns_guard_tags(&fa, j));
  }
  ASSERT_OK(ns_guard_pseudo_bounds(&fa, &reg, NULL, &ba));
  ASSERT_OK(ns_guard_pseudo_bounds(&fc, &reg, NULL, &bb));
  ASSERT_EQ(memcmp(a, b, sizeof a), 0);
  uint8_t ex[NU] = {0};
  for (size_t u = 0; u < NU; u += 3) ex[u] = 1;
  ASSERT_OK(ns_guard_refit_excluding(&fa, ex, &reg, 5, NULL, a));
  ASSERT_OK(ns_guard_refit_excluding(&fc, ex, &reg, 5, NULL, b));
  ASSERT_EQ(memcmp(a, b, NN * sizeof *a), 0);
  same_tag_aggregate(&fa, &fc);
  double dn[2][NN];
  ns_guard_diligence_params dp;
  ns_guard_diligence_params_default(&dp);
  ns_guard_diligence_out da = {dn[0], NULL, NULL, NULL, {0}, {0}};
  ns_guard_diligence_out db = {dn[1], NULL, NULL, NULL, {0}, {0}};
  ASSERT_OK(ns_guard_diligence_fit_view(&fa, NULL, uf, &dp, NULL, &da));
  ASSERT_OK(ns_guard_diligence_fit_view(&fc, NULL, uf, &dp, NULL, &db));
  ASSERT(da.passes[2] > 0);
  ASSERT_EQ(memcmp(dn[0], dn[1], sizeof dn[0]), 0);
  /* a graph of other notes than the fit's is refused */
  fc.n_notes = NN - 1;
  ASSERT_ERR(ns_guard_pseudo_bounds(&fc, &reg, NULL, &bb), NS_EINVAL);
  ns_bigraph_free(rg);
  free(src), free(id), free(meta), free(cn), free(cu);
}

/* The engine hands guard/ its edge columns, a list of the round-2 edges
** (skipping the others) and the edges' rows in the dataset, instead of
** copied columns.  Every guardrail must give the same bits both ways:
** build a store (tags, levels, sources, times), columns over a shuffled
** subset of it, a list that skips about 40 % of the columns, and compare
** each function on the copies (the old interface) with the view. */
/* Two views of the same ratings give the same bits in the pseudo-rater
** bounds and the exclusion refit (raters u % ex_step == 0 left out); the
** refit's intercepts go to out (n_notes). */
static void same_bounds_and_refit(const ns_guard_fit *x, const ns_guard_fit *y, size_t ex_step,
                                  double *out) {
  size_t nn = x->n_notes, nu = x->n_raters;
  double *a = calloc(4 * nn, sizeof *a), *b = calloc(4 * nn, sizeof *b);
  uint8_t *ex = calloc(nu, 1);
  ns_guard_reg reg = {0.15, 0.03, 0.0};
  ASSERT(a && b && ex);
  ns_guard_bounds ba = {a, a + nn, a + 2 * nn, a + 3 * nn, NULL, NULL, 0};
  ns_guard_bounds bb = {b, b + nn, b + 2 * nn, b + 3 * nn, NULL, NULL, 0};
  ASSERT_OK(ns_guard_pseudo_bounds(x, &reg, NULL, &ba));
  ASSERT_OK(ns_guard_pseudo_bounds(y, &reg, NULL, &bb));
  ASSERT_EQ(memcmp(a, b, 4 * nn * sizeof *a), 0);
  ASSERT(!isnan(a[nn]) && a[0] < a[nn]);
  for (size_t u = 0; u < nu; u += ex_step) ex[u] = 1;
  ASSERT_OK(ns_guard_refit_excluding(x, ex, &reg, 5, NULL, a));
  ASSERT_OK(ns_guard_refit_excluding(y, ex, &reg, 5, NULL, b));
  ASSERT_EQ(memcmp(a, b, nn * sizeof *a), 0);
  memcpy(out, a, nn * sizeof *a);
  free(a), free(b), free(ex);
}

TEST(guard_view_matches_copies) {
  enum { NN = 70, NU = 50, S = 6000, M = 5000 };
  ns_rng g;
  ns_rng_seed(&g, 23);
  uint32_t *tags = calloc(S, 4), *src = calloc(M, 4), *id = calloc(M, 4);
  uint8_t *lvl = calloc(S, 1), *source = calloc(S, 1);
  int64_t *created = calloc(S, 8);
  int32_t *cn = calloc(M, 4), *cu = calloc(M, 4);
  float *cw = calloc(M, 4);
  double ni[NN], nf[NN], ui[NU], uf[NU];
  for (int n = 0; n < NN; n++) ni[n] = 0.3 * ns_rng_normal(&g), nf[n] = 0.5 * ns_rng_normal(&g);
  for (int u = 0; u < NU; u++) ui[u] = 0.2 * ns_rng_normal(&g), uf[u] = 0.5 * ns_rng_normal(&g);
  for (size_t s = 0; s < S; s++) {
    lvl[s] = (uint8_t)ns_rng_below(&g, 3);
    /* not-helpful tags (bits 9..21) on a third, Incorrect often */
    tags[s] = ns_rng_below(&g, 3) == 0 ? (uint32_t)ns_rng_below(&g, 1u << 13) << 9 : 0;
    source[s] = ns_rng_below(&g, 2) ? NS_SOURCE_POPULATION_SAMPLED : NS_SOURCE_DEFAULT;
    created[s] = 1700000000000LL + (int64_t)ns_rng_below(&g, 60) * 86400000LL;
  }
  size_t ne = 0;
  for (size_t c = 0; c < M; c++) {
    src[c] = (uint32_t)((c * 7919u) % S); /* a column row's store row */
    cn[c] = (int32_t)ns_rng_below(&g, NN);
    cu[c] = (int32_t)ns_rng_below(&g, NU);
    cw[c] = 1.0f / (float)(1 + ns_rng_below(&g, 3));
    if (ns_rng_below(&g, 5) >= 2) id[ne++] = (uint32_t)c;
  }
  /* the copies, as engine/pipeline_guard.c made them */
  int32_t *rn = calloc(ne, 4), *ru = calloc(ne, 4);
  float *rv = calloc(ne, 4), *rw = calloc(ne, 4);
  uint32_t *tg = calloc(ne, 4);
  int8_t *lab = calloc(ne, 1);
  uint8_t *rs = calloc(ne, 1);
  for (size_t j = 0; j < ne; j++) {
    size_t c = id[j], s = src[c];
    rn[j] = cn[c], ru[j] = cu[c], rw[j] = cw[c], tg[j] = tags[s];
    rv[j] = (float)NS_LEVEL_VALUE(lvl[s]);
    lab[j] = (int8_t)ns_guard_diligence_label(tags[s]);
    rs[j] = source[s];
  }
  /* the store as a dataset: the view reads its packed words */
  ns_dataset *st = rows_ds(S, created, lvl, tags, source);
  ASSERT(st != NULL);
  ns_guard_fit fc = {NN, NU, ne, 1, 0.05, ni, nf, ui, uf, rn, ru, rv, rw, tg};
  ns_guard_fit fv = {NN, NU, ne, 1, 0.05, ni, nf, ui, uf, cn, cu, NULL, cw, st->r_meta,
                     id, src, {0.0f, 0.5f, 1.0f, 1.5f}};
  ASSERT_EQ(ns_guard_note(&fv, 3), rn[3]);
  ASSERT_EQ(ns_guard_tags(&fv, ne - 1), tg[ne - 1]);
  ns_guard_reg reg = {0.15, 0.03, 0.0};

  /* pseudo-rater bounds (4 refits), the exclusion refit, and the
  ** population-sampled refit */
  double a[NN], b[NN];
  same_bounds_and_refit(&fc, &fv, 4, a);
  int32_t pn[2][NN], pp[2][NN];
  ns_guard_popsampled pa = {a, pn[0], pp[0]}, pb = {b, pn[1], pp[1]};
  ASSERT_OK(ns_guard_population_sampled(&fc, rs, &reg, NULL, &pa));
  ASSERT_OK(ns_guard_population_sampled(&fv, rs, &reg, NULL, &pb));
  ASSERT_EQ(memcmp(a, b, NN * sizeof *a), 0);
  ASSERT_EQ(memcmp(pn[0], pn[1], sizeof pn[0]), 0);
  ASSERT_EQ(memcmp(pp[0], pp[1], sizeof pp[0]), 0);

  /* tag filter: weights stored and multiplied by the fit weight, against
  ** the scaled aggregate computing both as it sums */
  double *w = calloc(ne, sizeof *w), adj[2][NN * 13], rat[2][NN * 13];
  ASSERT_OK(ns_guard_tag_weights(&fc, w));
  for (size_t j = 0; j < ne; j++) w[j] *= rw[j];
  ASSERT_OK(ns_guard_tag_aggregate(&fc, w, adj[0], rat[0], NULL));
  ns_guard_tag_scale sc;
  ASSERT_OK(ns_guard_tag_scale_fit(&fv, &sc));
  ASSERT(sc.p40 > 0);
  ASSERT_OK(ns_guard_tag_aggregate_scaled(&fv, &sc, adj[1], rat[1], NULL));
  ASSERT_EQ(memcmp(adj[0], adj[1], sizeof adj[0]), 0);
  ASSERT_EQ(memcmp(rat[0], rat[1], sizeof rat[0]), 0);

  /* incorrect filter */
  int32_t inc[NU], tot[NU], c1[2][NN], c2[2][NN];
  double ps[2][NN], tf[2][NN];
  uint8_t fired[2][NN];
  ns_guard_incorrect_counts(ne, ru, tg, NU, inc, tot);
  ns_guard_incorrect ia = {c1[0], c2[0], ps[0], tf[0], fired[0]};
  ns_guard_incorrect ib = {c1[1], c2[1], ps[1], tf[1], fired[1]};
  ASSERT_OK(ns_guard_incorrect_filter(&fc, inc, tot, 1.0, &ia));
  ASSERT_OK(ns_guard_incorrect_filter(&fv, inc, tot, 1.0, &ib));
  ASSERT_EQ(memcmp(c1[0], c1[1], sizeof c1[0]), 0);
  ASSERT_EQ(memcmp(ps[0], ps[1], sizeof ps[0]), 0);
  ASSERT_EQ(memcmp(fired[0], fired[1], sizeof fired[0]), 0);

  /* low-diligence model: label array against labels from the tags */
  double dn[2][NN];
  ns_guard_diligence_params p;
  ns_guard_diligence_params_default(&p);
  ns_guard_diligence_out da = {dn[0], NULL, NULL, NULL, {0}, {0}};
  ns_guard_diligence_out db = {dn[1], NULL, NULL, NULL, {0}, {0}};
  ASSERT_OK(ns_guard_diligence_fit(NN, NU, ne, rn, ru, lab, rw, uf, &p, NULL, &da));
  ASSERT_OK(ns_guard_diligence_fit_view(&fv, NULL, uf, &p, NULL, &db));
  ASSERT(da.passes[2] > 0);
  ASSERT_EQ(memcmp(dn[0], dn[1], sizeof dn[0]), 0);
  ASSERT_EQ(memcmp(da.mu, db.mu, sizeof da.mu), 0);

  /* high-volume raters: times through the rows' store rows, not copied */
  int64_t *ts = calloc(M, 8);
  uint8_t hv[2][NU];
  for (size_t c = 0; c < M; c++) ts[c] = created[src[c]];
  ns_dataset *cd = rows_ds(M, ts, NULL, NULL, NULL);
  ASSERT(cd != NULL);
  ASSERT_OK(ns_guard_high_volume(M, cu, cd, NULL, NU, 200, hv[0]));
  ASSERT_OK(ns_guard_high_volume(M, cu, st, src, NU, 200, hv[1]));
  ASSERT_EQ(memcmp(hv[0], hv[1], NU), 0);
  int nhv = 0;
  for (int u = 0; u < NU; u++) nhv += hv[0][u];
  ASSERT(nhv > 0);
  ns_dataset_free(cd);
  ns_dataset_free(st);

  free(tags), free(src), free(id), free(lvl), free(source), free(created);
  free(cn), free(cu), free(cw), free(rn), free(ru), free(rv), free(rw), free(tg);
  free(lab), free(rs), free(w), free(ts);
}

/* The engine hands its coordination weights over as a code per row into a
** table of the few distinct values (engine/pipeline_int.h ns__cw) instead
** of a float per row: every weighted guardrail must give the same bits as
** with the floats, and a code of 1 everywhere the same as unweighted. */
TEST(guard_view_weight_codes) {
  enum { NN = 60, NU = 40, M = 4000 };
  static const float table[4] = {1.0f, 0.5f, 1.0f / 3.0f, 0.2f / 7.0f};
  ns_rng g;
  ns_rng_seed(&g, 31);
  uint32_t *tags = calloc(M, 4), *id = calloc(M, 4), *meta = calloc(M, 4);
  uint8_t *lvl = calloc(M, 1), *code = calloc(M, 1), *one = calloc(M, 1);
  int32_t *cn = calloc(M, 4), *cu = calloc(M, 4);
  float *cw = calloc(M, 4);
  double ni[NN], nf[NN], ui[NU], uf[NU];
  size_t ne = 0;
  for (int n = 0; n < NN; n++) ni[n] = 0.3 * ns_rng_normal(&g), nf[n] = 0.5 * ns_rng_normal(&g);
  for (int u = 0; u < NU; u++) ui[u] = 0.2 * ns_rng_normal(&g), uf[u] = 0.5 * ns_rng_normal(&g);
  for (size_t c = 0; c < M; c++) {
    lvl[c] = (uint8_t)ns_rng_below(&g, 3);
    tags[c] = ns_rng_below(&g, 3) == 0 ? (uint32_t)ns_rng_below(&g, 1u << 13) << 9 : 0;
    cn[c] = (int32_t)ns_rng_below(&g, NN);
    cu[c] = (int32_t)ns_rng_below(&g, NU);
    code[c] = ns_rng_below(&g, 4) ? 0 : (uint8_t)(1 + ns_rng_below(&g, 3));
    cw[c] = table[code[c]];
    if (ns_rng_below(&g, 5) >= 1) id[ne++] = (uint32_t)c;
    meta[c] = ns_r_meta_make(lvl[c], tags[c], 0);
  }
  ns_guard_fit ff = {.n_notes = NN, .n_raters = NU, .n_ratings = ne, .k = 1, .mu = 0.05,
                     .note_icpt = ni, .note_fac = nf, .rater_icpt = ui, .rater_fac = uf,
                     .r_note = cn, .r_rater = cu, .r_weight = cw, .r_meta = meta, .r_id = id,
                     .level_value = {0.0f, 0.5f, 1.0f, 1.5f}};
  ns_guard_fit fk = ff;
  fk.r_weight = NULL;
  fk.r_weight_code = code;
  fk.weight_value = table;
  ASSERT(ns_guard_weighted(&fk) && ns_guard_weighted(&ff));
  for (size_t j = 0; j < ne; j++) ASSERT_EQ(ns_guard_weight(&fk, j), ns_guard_weight(&ff, j));
  ns_guard_reg reg = {0.15, 0.03, 0.0};

  /* pseudo-rater bounds and the exclusion refit (ridge, weighted rows) */
  double a[NN], b[NN];
  same_bounds_and_refit(&ff, &fk, 3, a);
  uint8_t ex[NU] = {0};
  for (int u = 0; u < NU; u += 3) ex[u] = 1;
  /* the weights matter: unweighted differs */
  ns_guard_fit fu = ff;
  fu.r_weight = NULL;
  ASSERT_OK(ns_guard_refit_excluding(&fu, ex, &reg, 5, NULL, b));
  ASSERT(memcmp(a, b, NN * sizeof *a) != 0);
  /* all code 0 (weight 1) is the unweighted fit */
  fk.r_weight_code = one;
  ASSERT_OK(ns_guard_refit_excluding(&fk, ex, &reg, 5, NULL, a));
  ASSERT_EQ(memcmp(a, b, NN * sizeof *a), 0);
  fk.r_weight_code = code;

  /* tag aggregate (weighted sums) */
  same_tag_aggregate(&ff, &fk);

  /* low-diligence model: base weights from the codes */
  double dn[2][NN];
  ns_guard_diligence_params p;
  ns_guard_diligence_params_default(&p);
  ns_guard_diligence_out da = {dn[0], NULL, NULL, NULL, {0}, {0}};
  ns_guard_diligence_out db = {dn[1], NULL, NULL, NULL, {0}, {0}};
  ASSERT_OK(ns_guard_diligence_fit_view(&ff, NULL, uf, &p, NULL, &da));
  ASSERT_OK(ns_guard_diligence_fit_view(&fk, NULL, uf, &p, NULL, &db));
  ASSERT(da.passes[2] > 0);
  ASSERT_EQ(memcmp(dn[0], dn[1], sizeof dn[0]), 0);
  ASSERT_EQ(memcmp(da.mu, db.mu, sizeof da.mu), 0);

  free(tags), free(id), free(meta), free(lvl), free(code), free(one), free(cn), free(cu), free(cw);
}
