/*
** tests/test_gaussian.c -- the Gaussian-kernel scorer (factorization/gaussian.c).
**
** The expected numbers were computed independently from the scorer's
** equations (docs/algorithm.md "Gaussian scorer") with a short numpy
** script in float64, not with the reference's code: the CRH pass over the
** 50 quantileRange points, the CRNH pass over the 26 smoothedRange points,
** dispersion-weighted negative ratings, the clipped prior, the geometric
** mean and the choice of the larger-magnitude pass.
*/
#include "harness.h"

#include "../factorization/gaussian.h"

#define MAXR 64

/* A small set of notes built rating by rating. */
typedef struct gset {
  size_t n_notes, n;
  size_t off[16];
  float value[MAXR];
  double factor[MAXR];
  double author[16];
} gset;

static void gs_note(gset *s, size_t k, const float *v, const double *f, double author) {
  if (s->n_notes == 0) s->off[0] = 0;
  for (size_t i = 0; i < k; i++) {
    s->value[s->n] = v[i];
    s->factor[s->n] = f[i];
    s->n++;
  }
  s->author[s->n_notes] = author;
  s->off[++s->n_notes] = s->n;
}

static void gs_run(const gset *s, int use_author, ns_pool *pool, double *icpt, double *phi) {
  ns_gauss_in in = {s->n_notes, s->off, s->value, s->factor, use_author ? s->author : NULL};
  ASSERT_OK(ns_gaussian_scores(&in, pool, icpt, phi));
}

/* The hand-computed cases of the header comment. */
static const float v_tiny[4] = {1, 0.5f, 0, 1};
static const double f_tiny[4] = {-0.6, -0.2, 0.3, 0.7};
static const double f8[8] = {-0.7, -0.45, -0.3, -0.05, 0.1, 0.35, 0.5, 0.8};
static const float v_both8[8] = {1, 1, 0.5f, 0, 1, 1, 0, 1};
static const float v_nh8[8] = {0, 0, 0.5f, 0, 0, 0, 1, 0};

TEST(gaussian_hand_computed) {
  gset s = {0};
  double icpt[4], phi[4];
  /* 4 ratings, fewer than 3 raters per side: prior 0.1 in both passes; the
  ** CRNH pass (0.2606) beats the CRH pass (0.1577). */
  gs_note(&s, 4, v_tiny, f_tiny, NAN);
  /* 8 ratings, mostly helpful on both sides: the CRH pass (0.3828) beats
  ** the CRNH pass (0.2520). */
  gs_note(&s, 8, v_both8, f8, NAN);
  /* The same raters, mostly not helpful: CRNH 0.5346 beats CRH 0.2022. */
  gs_note(&s, 8, v_nh8, f8, NAN);
  gs_run(&s, 0, NULL, icpt, phi);
  ASSERT_NEAR(icpt[0], -0.26059967164894954, 1e-9);
  ASSERT_NEAR(phi[0], -0.05, 1e-12);
  ASSERT_NEAR(icpt[1], 0.38284265238704235, 1e-9);
  ASSERT_NEAR(phi[1], -0.04375, 1e-12);
  ASSERT_NEAR(icpt[2], -0.5345597748440849, 1e-9);
  ASSERT_NEAR(phi[2], 0.05625, 1e-12);
}

/* 16 raters spread evenly over [-0.8, 0.8]. */
static void spread16(double *f) {
  for (int i = 0; i < 16; i++) f[i] = -0.8 + 1.6 * i / 15.0;
}

TEST(gaussian_bridging_orders_notes) {
  gset s = {0};
  double f[16], icpt[3], phi[3];
  float all_h[16], half[16], all_nh[16];
  spread16(f);
  for (int i = 0; i < 16; i++) {
    all_h[i] = 1;
    half[i] = f[i] < 0 ? 1 : 0; /* only the negative-factor side finds it helpful */
    all_nh[i] = 0;
  }
  gs_note(&s, 16, all_h, f, NAN);
  gs_note(&s, 16, half, f, NAN);
  gs_note(&s, 16, all_nh, f, NAN);
  gs_run(&s, 0, NULL, icpt, phi);
  /* Helpful on both sides: well above the Gaussian CRH threshold 0.51
  ** (computed: 0.59323; the prior 0.35 keeps it below the 0.8 clip). */
  ASSERT_NEAR(icpt[0], 0.593233271902497, 1e-9);
  /* One side only: the other side's points drag the CRH geometric mean
  ** down to 0.233, and the CRNH pass (0.368) wins: negative. */
  ASSERT_NEAR(icpt[1], -0.36796998093856453, 1e-9);
  /* Nobody finds it helpful: the CRNH pass wins, a negative intercept. */
  ASSERT_NEAR(icpt[2], -0.6443059639790638, 1e-9);
  ASSERT(icpt[2] < icpt[1]);
  /* phi: a HELPFUL rating adds +f, a NOT_HELPFUL one -f, so the one-sided
  ** note gets -mean|f| and the symmetric ones 0. */
  ASSERT_NEAR(phi[0], 0.0, 1e-12);
  ASSERT_NEAR(phi[1], -0.42666666666666664, 1e-12);
  ASSERT_NEAR(phi[2], 0.0, 1e-12);
}

TEST(gaussian_weight_lim) {
  gset s = {0};
  double icpt[4], phi[4];
  static const float all6[6] = {1, 1, 1, 1, 1, 1};
  static const double mid6[6] = {-0.25, -0.2, -0.1, 0.1, 0.2, 0.4};
  static const double pos5[5] = {0.3, 0.4, 0.5, 0.6, 0.8};
  /* No rater within ~0.64 of -0.92: the CRH pass has (normalised) kernel
  ** mass < 1e-9 there and scores 0, so even an all-helpful note gets the
  ** CRNH pass's negative score (computed: -0.25550). */
  gs_note(&s, 6, all6, mid6, NAN);
  /* All raters on one side: both passes lack mass; intercept exactly 0. */
  gs_note(&s, 5, all6, pos5, NAN);
  /* No ratings at all. */
  gs_note(&s, 0, NULL, NULL, NAN);
  /* The author's synthetic rating at -0.8 gives the CRH pass the missing
  ** mass at -0.92, so the all-helpful note turns positive. */
  gs_note(&s, 6, all6, mid6, -0.8);
  gs_run(&s, 1, NULL, icpt, phi);
  ASSERT_NEAR(icpt[0], -0.25549862124240103, 1e-9);
  ASSERT_NEAR(phi[0], 0.15 / 6, 1e-12);
  ASSERT(icpt[1] == 0.0 && !signbit(icpt[1]));
  ASSERT_NEAR(phi[1], 0.52, 1e-12);
  ASSERT(icpt[2] == 0.0);
  ASSERT(isnan(phi[2]));
  ASSERT_NEAR(icpt[3], 0.49105173020139337, 1e-9);
  ASSERT_NEAR(phi[3], -0.65 / 7, 1e-12);
}

TEST(gaussian_author_rating_crh_only) {
  gset s = {0};
  double icpt[2], phi[2], icpt0[2], phi0[2];
  gs_note(&s, 8, v_both8, f8, 0.6);
  gs_note(&s, 8, v_nh8, f8, -0.5);
  gs_run(&s, 0, NULL, icpt0, phi0);
  gs_run(&s, 1, NULL, icpt, phi);
  /* CRH-dominated note: the author's HELPFUL rating raises the CRH score
  ** from 0.38284 to 0.40466, and phi from -0.04375 to 0.25/9. */
  ASSERT_NEAR(icpt0[0], 0.38284265238704235, 1e-9);
  ASSERT_NEAR(icpt[0], 0.40465919321224941, 1e-9);
  ASSERT_NEAR(phi[0], 0.02777777777777779, 1e-12);
  /* CRNH-dominated note: phi moves (the CRH pass's factor includes the
  ** author), the intercept is the CRNH pass's and does not move at all. */
  ASSERT_NEAR(phi[1], -0.0055555555555555601, 1e-12);
  ASSERT_NEAR(phi0[1], 0.05625, 1e-12);
  ASSERT(memcmp(&icpt[1], &icpt0[1], sizeof(double)) == 0);
  ASSERT_NEAR(icpt[1], -0.5345597748440849, 1e-9);
  /* NAN author factors are the same as none. */
  for (size_t n = 0; n < s.n_notes; n++) s.author[n] = NAN;
  gs_run(&s, 1, NULL, icpt, phi);
  ASSERT(memcmp(icpt, icpt0, sizeof icpt) == 0);
  ASSERT(memcmp(phi, phi0, sizeof phi) == 0);
}

/* The CRH bandwidth (GaussianTopicScorer_InDimensionTwo's 0.05): the
** expected values come from the same independent script at sigma 0.05.  The
** CRNH pass keeps 0.2, so a CRNH-decided note does not move; 0 is the 0.1
** default, bit for bit. */
TEST(gaussian_crh_bandwidth) {
  gset s = {0};
  double f[16], icpt[3], phi[3], icpt0[3], phi0[3], icpt_d[3], phi_d[3];
  float all_h[16], half[16];
  /* raters in two clusters and two near 0, which rate it NOT_HELPFUL */
  static const double fc[10] = {-0.6, -0.55, -0.5, -0.45, 0.45, 0.5, 0.55, 0.6, 0.0, 0.05};
  static const float vc[10] = {1, 1, 1, 0.5f, 1, 1, 0.5f, 1, 0, 0};
  spread16(f);
  for (int i = 0; i < 16; i++) {
    all_h[i] = 1;
    half[i] = f[i] < 0 ? 1 : 0;
  }
  gs_note(&s, 16, all_h, f, NAN);
  gs_note(&s, 16, half, f, NAN);
  gs_note(&s, 10, vc, fc, NAN);
  ns_gauss_in in = {s.n_notes, s.off, s.value, s.factor, NULL};
  ASSERT_OK(ns_gaussian_scores(&in, NULL, icpt_d, phi_d));
  in.crh_bandwidth = 0.1;
  ASSERT_OK(ns_gaussian_scores(&in, NULL, icpt0, phi0));
  ASSERT(memcmp(icpt_d, icpt0, sizeof icpt0) == 0);
  in.crh_bandwidth = 0.05;
  ASSERT_OK(ns_gaussian_scores(&in, NULL, icpt, phi));
  /* helpful everywhere: the narrower kernel, less smoothing, 0.59323 ->
  ** 0.58769 */
  ASSERT_NEAR(icpt0[0], 0.593233271902497, 1e-9);
  ASSERT_NEAR(icpt[0], 0.5876927178322183, 1e-9);
  /* one side only: the CRNH pass (bandwidth 0.2) decides both times */
  ASSERT(memcmp(&icpt[1], &icpt0[1], sizeof(double)) == 0);
  ASSERT_NEAR(icpt[1], -0.3679699809385644, 1e-9);
  /* the clusters: at 0.1 the CRH pass wins (0.39960); at 0.05 no rater is
  ** within reach of -0.92 (0.32 away, 6.4 sigma), the CRH pass lacks
  ** kernel mass there and scores 0, and the CRNH pass's -0.29806 wins */
  ASSERT_NEAR(icpt0[2], 0.39959811061747097, 1e-9);
  ASSERT_NEAR(icpt[2], -0.29806480606585906, 1e-9);
  /* phi does not depend on the kernel */
  ASSERT(memcmp(phi, phi0, sizeof phi) == 0);
  ASSERT_NEAR(phi[2], -0.015, 1e-12);
}

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

TEST(gaussian_threads_identical) {
  enum { NOTES = 3000 };
  uint64_t st = 0x9e3779b97f4a7c15ull;
  size_t *off = malloc((NOTES + 1) * sizeof *off);
  double *author = malloc(NOTES * sizeof *author);
  size_t cap = NOTES * 40;
  float *value = malloc(cap * sizeof *value);
  double *factor = malloc(cap * sizeof *factor);
  double *i1 = malloc(NOTES * sizeof *i1), *p1 = malloc(NOTES * sizeof *p1);
  double *i3 = malloc(NOTES * sizeof *i3), *p3 = malloc(NOTES * sizeof *p3);
  ASSERT(off && author && value && factor && i1 && p1 && i3 && p3);
  size_t m = 0;
  off[0] = 0;
  for (size_t n = 0; n < NOTES; n++) {
    size_t k = rng_next(&st) % 40;
    double lean = (double)(rng_next(&st) % 2001) / 1000.0 - 1.0;
    for (size_t i = 0; i < k; i++, m++) {
      factor[m] = (double)(rng_next(&st) % 2001) / 1000.0 - 1.0;
      int r = (int)(rng_next(&st) % 100);
      double ph = 0.5 + 0.45 * lean * factor[m];
      value[m] = r < ph * 80 ? 1.0f : r < ph * 100 ? 0.5f : 0.0f;
    }
    off[n + 1] = m;
    author[n] = rng_next(&st) % 3 ? NAN : (double)(rng_next(&st) % 2001) / 1000.0 - 1.0;
  }
  ns_gauss_in in = {NOTES, off, value, factor, author};
  ns_pool *pool;
  ASSERT_OK(ns_pool_new(3, &pool));
  ASSERT_OK(ns_gaussian_scores(&in, NULL, i1, p1));
  ASSERT_OK(ns_gaussian_scores(&in, pool, i3, p3));
  ns_pool_free(pool);
  ASSERT(memcmp(i1, i3, NOTES * sizeof *i1) == 0);
  ASSERT(memcmp(p1, p3, NOTES * sizeof *p1) == 0);
  /* Sanity: the random notes span both signs and stay inside the clips. */
  int pos = 0, neg = 0;
  for (size_t n = 0; n < NOTES; n++) {
    ASSERT(i1[n] <= 0.8 && i1[n] >= -0.65);
    pos += i1[n] > 0.1;
    neg += i1[n] < -0.1;
  }
  ASSERT(pos > 100 && neg > 100);
  free(off), free(author), free(value), free(factor);
  free(i1), free(p1), free(i3), free(p3);
}

TEST(gaussian_bad_args) {
  double icpt[1], phi[1];
  size_t off[2] = {0, 3};
  ns_gauss_in in = {1, off, NULL, NULL, NULL};
  ASSERT_ERR(ns_gaussian_scores(&in, NULL, icpt, phi), NS_EINVAL);
  ASSERT_ERR(ns_gaussian_scores(NULL, NULL, icpt, phi), NS_EINVAL);
}

/* The rater-indexed form (each rater's kernel rows computed once) gives the
** same bits as the per-rating form; a rater index out of range, or one
** rater with two factors, is an error. */
TEST(gaussian_rater_rows_identical) {
  enum { NOTES = 800, RATERS = 97 };
  uint64_t st = 0x2545f4914f6cdd1dull;
  size_t *off = malloc((NOTES + 1) * sizeof *off), m = 0;
  float *value = malloc(NOTES * 30 * sizeof *value);
  double *factor = malloc(NOTES * 30 * sizeof *factor), rf[RATERS];
  uint32_t *rater = malloc(NOTES * 30 * sizeof *rater);
  double *i1 = malloc(NOTES * sizeof *i1), *p1 = malloc(NOTES * sizeof *p1);
  double *i2 = malloc(NOTES * sizeof *i2), *p2 = malloc(NOTES * sizeof *p2);
  ns_pool *pool;
  ASSERT(off && value && factor && rater && i1 && p1 && i2 && p2);
  for (int u = 0; u < RATERS; u++) rf[u] = (double)(rng_next(&st) % 2001) / 1000.0 - 1.0;
  off[0] = 0;
  for (size_t n = 0; n < NOTES; n++) {
    size_t k = rng_next(&st) % 30;
    for (size_t i = 0; i < k; i++, m++) {
      rater[m] = (uint32_t)(rng_next(&st) % RATERS);
      factor[m] = rf[rater[m]];
      value[m] = (float)(rng_next(&st) % 3) / 2.0f;
    }
    off[n + 1] = m;
  }
  ns_gauss_in in = {NOTES, off, value, factor, NULL, NULL, 0};
  ASSERT_OK(ns_pool_new(2, &pool));
  ASSERT_OK(ns_gaussian_scores(&in, pool, i1, p1));
  in.rater = rater;
  in.n_raters = RATERS;
  ASSERT_OK(ns_gaussian_scores(&in, pool, i2, p2));
  ASSERT(memcmp(i1, i2, NOTES * sizeof *i1) == 0);
  ASSERT(memcmp(p1, p2, NOTES * sizeof *p1) == 0);
  /* the factors per rater instead of per rating: the same bits */
  in.rater_factor = NULL;
  in.factor_of_rater = rf;
  memset(i2, 0, NOTES * sizeof *i2);
  memset(p2, 0, NOTES * sizeof *p2);
  ASSERT_OK(ns_gaussian_scores(&in, pool, i2, p2));
  ASSERT(memcmp(i1, i2, NOTES * sizeof *i1) == 0);
  ASSERT(memcmp(p1, p2, NOTES * sizeof *p1) == 0);
  in.rater = NULL;  /* per-rater factors need the rater indexes */
  ASSERT_ERR(ns_gaussian_scores(&in, pool, i2, p2), NS_EINVAL);
  in.rater = rater;
  in.rater_factor = factor;
  in.factor_of_rater = NULL;
  in.n_raters = RATERS - 1;  /* rater 96 is out of range */
  ASSERT_ERR(ns_gaussian_scores(&in, pool, i2, p2), NS_EINVAL);
  in.n_raters = RATERS;
  factor[m - 1] += 0.5;      /* its rater now has two factors */
  for (size_t j = 0; j < m - 1; j++)
    if (rater[j] == rater[m - 1]) {
      ASSERT_ERR(ns_gaussian_scores(&in, pool, i2, p2), NS_EINVAL);
      break;
    }
  ns_pool_free(pool);
  free(off), free(value), free(factor), free(rater), free(i1), free(p1), free(i2), free(p2);
}

/* The view as a filter over wider spans (ns_gauss_in.take) scores as the
** same ratings given as arrays: the spans here hold every rating twice
** more, one of them left out by the filter (value -1 marks it). */
typedef struct take_ctx {
  const float *value;
  const uint32_t *rater;
  const size_t *off;  /* the spans: i must be in note n's */
  int *bad_note;
} take_ctx;

static int take_kept(const void *vctx, size_t n, size_t i, float *value, uint32_t *rater) {
  const take_ctx *c = vctx;
  if (i < c->off[n] || i >= c->off[n + 1]) *c->bad_note = 1;
  if (c->value[i] < 0) return 0;
  *value = c->value[i];
  *rater = c->rater[i];
  return 1;
}

TEST(gaussian_take_filter_identical) {
  enum { NOTES = 500, RATERS = 61 };
  uint64_t st = 0x9e3779b97f4a7c15ull;
  size_t *off = malloc((NOTES + 1) * sizeof *off), *woff = malloc((NOTES + 1) * sizeof *woff);
  size_t m = 0, w = 0;
  float *value = malloc(NOTES * 25 * sizeof *value), *wvalue = malloc(NOTES * 50 * sizeof *wvalue);
  uint32_t *rater = malloc(NOTES * 25 * sizeof *rater), *wrater = malloc(NOTES * 50 * sizeof *wrater);
  double rf[RATERS];
  double *i1 = malloc(NOTES * sizeof *i1), *p1 = malloc(NOTES * sizeof *p1);
  double *i2 = malloc(NOTES * sizeof *i2), *p2 = malloc(NOTES * sizeof *p2);
  ns_pool *pool;
  ASSERT(off && woff && value && wvalue && rater && wrater && i1 && p1 && i2 && p2);
  for (int u = 0; u < RATERS; u++) rf[u] = (double)(rng_next(&st) % 2001) / 1000.0 - 1.0;
  off[0] = woff[0] = 0;
  for (size_t n = 0; n < NOTES; n++) {
    size_t k = n == 7 ? 0 : rng_next(&st) % 25;  /* note 7: only left-out ratings */
    for (size_t i = 0; i < k; i++, m++) {
      rater[m] = (uint32_t)(rng_next(&st) % RATERS);
      value[m] = (float)(rng_next(&st) % 3) / 2.0f;
      wvalue[w] = -1, wrater[w++] = (uint32_t)(rng_next(&st) % RATERS);
      wvalue[w] = value[m], wrater[w++] = rater[m];
    }
    if (n == 7) wvalue[w] = -1, wrater[w++] = 3;
    off[n + 1] = m;
    woff[n + 1] = w;
  }
  ns_gauss_in in = {NOTES, off, value, NULL, NULL, rater, RATERS, rf, 0};
  ASSERT_OK(ns_pool_new(2, &pool));
  ASSERT_OK(ns_gaussian_scores(&in, pool, i1, p1));
  int bad_note = 0;
  take_ctx tc = {wvalue, wrater, woff, &bad_note};
  ns_gauss_in tin = {NOTES, woff, NULL, NULL, NULL, NULL, RATERS, rf, 0, take_kept, &tc};
  ASSERT_OK(ns_gaussian_scores(&tin, pool, i2, p2));
  ASSERT(memcmp(i1, i2, NOTES * sizeof *i1) == 0);
  ASSERT(memcmp(p1, p2, NOTES * sizeof *p1) == 0);
  ASSERT_NEAR(i2[7], 0.0, 0);  /* nothing kept: as a note without ratings */
  ASSERT(isnan(p2[7]));
  /* one thread: the same bits */
  ASSERT_OK(ns_gaussian_scores(&tin, NULL, i2, p2));
  ASSERT(memcmp(i1, i2, NOTES * sizeof *i1) == 0);
  ASSERT_EQ(bad_note, 0);  /* every call named the rating's own note */
  tin.n_raters = RATERS - 1;  /* a kept rating's rater out of range */
  {
    int hit = 0;
    for (size_t j = 0; j < w; j++) hit |= wvalue[j] >= 0 && wrater[j] == RATERS - 1;
    if (hit) ASSERT_ERR(ns_gaussian_scores(&tin, pool, i2, p2), NS_EINVAL);
  }
  tin.n_raters = RATERS;
  tin.factor_of_rater = NULL;  /* the filter needs the factors per rater */
  ASSERT_ERR(ns_gaussian_scores(&tin, pool, i2, p2), NS_EINVAL);
  ns_pool_free(pool);
  free(off), free(woff), free(value), free(wvalue), free(rater), free(wrater);
  free(i1), free(p1), free(i2), free(p2);
}
