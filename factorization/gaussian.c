/*
** factorization/gaussian.c -- the Gaussian-kernel note scorer
** (factorization/gaussian.h; reference gaussian_scorer.py at 08c656b,
** _return_all_pts and _calculate_gaussian_scores, lines 385-645; constants
** constants.py:87-180).
**
** For one note and one pass, every rating u (value h_u, rater factor f_u)
** spreads its weight over P evaluation points x_k with a normal kernel
** w_uk = N(|f_u - x_k|; sigma).  At each point the note's smoothed
** helpfulness is a weighted mean of the h_u, pulled towards a prior:
**
**   v_k = clip((sum_u m_u w_uk h_u + S prior_k) / (sum_u m_u w_uk + S))
**
** where m_u > 1 up-weights the pass's "negative" ratings (h_u = 0), and the
** pass score is the geometric mean of the v_k.  The CRH pass measures
** helpfulness (h = helpfulNum, SOMEWHAT = 0.7); the CRNH pass measures
** unhelpfulness (h = 1 - that) with wider kernels and a heavier prior.  The
** note's intercept is the CRH score, or minus the CRNH score when that one
** is larger in magnitude.
**
** The synthetic HELPFUL rating by the note's author that the digest puts in
** the CRH pass is not in the pinned reference (08c656b); it arrives in later
** upstream commits (63d7f6b).  It is supported (ns_gauss_in.author_factor)
** but must be left out for parity: without it the intercepts match the
** reference's output on gen data to 1.2e-7.
**
** Everything is computed in double; the reference works in float32 for the
** kernels and per-point sums, so its intercepts differ from ours in about
** the 7th significant digit.
**
** Cost: O(ratings x (50 + 26)) exp() calls, or O(raters x 76) when the
** caller gives rater indexes (each rater's kernel rows are computed once and
** read per rating: ~4x faster at gen's 150 ratings per rater; only the
** raters that occur get a row); the per-note state is a few stack arrays of
** at most GAUSS_MAXP doubles and the note's ratings, gathered into a
** per-chunk buffer -- the view itself may be a filter over the caller's
** arrays (ns_gauss_in.take), so nothing is held per rating.
** Notes are independent and each writes only its own icpt[n] / phi[n], so
** the pool's chunking cannot change a bit of the result.
*/
#include "gaussian.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define GAUSS_MAXP 50      /* the CRH pass's point count; the CRNH one is 26 */
#define GAUSS_CHUNK 256    /* notes per pool chunk */

/* The CRH evaluation points: constants.py quantileRange (50 values). */
static const double crh_pts[50] = {
  -0.92, -0.65, -0.61, -0.58, -0.55, -0.52, -0.49, -0.46, -0.43, -0.41,
  -0.38, -0.35, -0.33, -0.30, -0.28, -0.25, -0.22, -0.20, -0.17, -0.14,
  -0.12, -0.09, -0.07, -0.04, -0.01, 0.01,  0.04,  0.07,  0.09,  0.12,
  0.14,  0.17,  0.20,  0.22,  0.25,  0.28,  0.30,  0.33,  0.35,  0.38,
  0.41,  0.43,  0.46,  0.49,  0.52,  0.55,  0.58,  0.61,  0.65,  0.92};

/* The CRNH evaluation points: constants.py smoothedRange =
** concat(quantileRange[0::2][:13], quantileRange[25::2]) -- the even
** indices 0..24 of the negative half and the odd indices 25..49 of the
** positive half, so both ends -0.92 and 0.92 are kept (26 values).  (The
** digest's "even-index half of each side" is right only for the negative
** side; this follows the code.) */
static const double crnh_pts[26] = {
  -0.92, -0.61, -0.55, -0.49, -0.43, -0.38, -0.33, -0.28, -0.22,
  -0.17, -0.12, -0.07, -0.01, 0.01,  0.07,  0.12,  0.17,  0.22,
  0.28,  0.33,  0.38,  0.43,  0.49,  0.55,  0.61,  0.92};

/* One pass's parameters: constants.py GaussianParams, gaussianCrhParams and
** gaussianCrnhParams. */
typedef struct gauss_pass {
  const double *x;     /* evaluation points */
  int np;              /* number of points */
  double sigma;        /* kernel bandwidth */
  double smooth_w;     /* smoothingWeight: prior weight at <= 9 ratings */
  double smooth_v;     /* smoothingValue: the prior's ceiling */
  double min_prior;    /* minPrior: the prior's floor */
  double neg_weight;   /* negWeight: extra weight of h = 0 ratings */
  double weight_lim;   /* weightLim: minimum kernel mass at every point */
  double somewhat;     /* somewhatHelpfulValue: h of a SOMEWHAT rating */
  double clip_lo, clip_hi; /* clipLower / clipUpper of v_k */
  double disp_slope;   /* dispersion factor 1 + slope * pct ... */
  double disp_cap;     /* ... capped here (4 and 4.0 if flip else 3, 2.0) */
  int flip;            /* CRNH: h := 1 - h */
  int normalize;       /* CRH: each rating's kernel row sums to 1 */
} gauss_pass;

static const gauss_pass pass_crh = {
  crh_pts, 50, 0.1, 0.4, 0.35, 0.2, 1.75, 1e-9, 0.7, 0.05, 0.8, 3.0, 2.0, 0, 1};
static const gauss_pass pass_crnh = {
  crnh_pts, 26, 0.2, 5.0, 0.35, 0.3, 1.25, 5e-4, 0.7, 0.25, 0.65, 4.0, 4.0, 1, 0};

/* The reference's width of the "expected" neighbourhood around the negative
** raters' mean factor (stdWindow = 0.28, half of it used) and the steepness
** of the sigmoid that counts raters outside it (gaussian_scorer.py:434-440). */
#define DISP_HALF_WINDOW 0.14
#define DISP_STEEPNESS 200.0

/* Fewer raters than this on either side of factor 0 (strictly < 0, > 0)
** replaces the prior by NOSIDE_PRIOR (gaussian_scorer.py:524-536). */
#define MIN_RATERS_PER_SIDE 3
#define NOSIDE_PRIOR 0.1

/* The prior weight grows as log(max(n, ADAPTIVE_BASE)) / log(ADAPTIVE_BASE)
** (adaptiveWeightBase = 9 in both passes). */
#define ADAPTIVE_BASE 9.0

/* Rater u's factor from the per-rater array (ns_gauss_in.factor_of_rater). */
static inline double factor_at(const ns_gauss_in *in, uint32_t u) {
  return in->factor_of_rater[(size_t)u * (in->factor_stride ? in->factor_stride : 1)];
}

#define NO_RATER UINT32_MAX

/* Rating i of the spans as the view has it: 1 and its value, rater (NO_RATER
** without rater indexes) and factor, or 0 when the view leaves it out. */
static inline int rating_get(const ns_gauss_in *in, size_t n, size_t i, double *v, uint32_t *u,
                             double *f) {
  if (in->take) {
    float x;
    if (!in->take(in->take_ctx, n, i, &x, u)) return 0;
    *v = (double)x;
    *f = factor_at(in, *u);
    return 1;
  }
  *v = (double)in->value[i];
  *u = in->rater ? in->rater[i] : NO_RATER;
  *f = in->rater_factor ? in->rater_factor[i] : factor_at(in, *u);
  return 1;
}

/* One rating of a note as the passes read it: gathered per note from the
** view, so a view given as a filter (ns_gauss_in.take) costs no per-rating
** array; row = the rater's kernel rows (NO_RATER: computed per rating). */
typedef struct g_rating {
  double v, f;
  uint32_t row;
} g_rating;

/* One rating as a pass sees it: rating i of the note, or the synthetic
** author rating (i == n). */
static inline void rating_at(const g_rating *r, size_t i, size_t n, double author, double *v,
                             double *f) {
  if (i < n) {
    *v = r[i].v;
    *f = r[i].f;
  } else {
    *v = 1.0; /* the author's synthetic HELPFUL rating */
    *f = author;
  }
}

/* One pass over the n ratings r of a note, plus the author's synthetic
** HELPFUL rating at factor `author` unless it is NAN.  Returns the pass
** score (the geometric mean of the v_k; 0 when the kernel mass at some point
** is below weightLim -- the reference sets every v_k to -1 there, and
** exp(mean(log(-1))) = exp(nan -> -inf) = 0).  *phi_out gets the pass's
** empirical note factor mean((h_orig - 0.5) * 2 * f_u), h_orig the
** (flipped, but not SOMEWHAT-adjusted) helpfulNum. */
/* The kernel row of a rater at factor f over the pass's points: the
** normal density at each, divided by the row's sum for a normalizing pass. */
static void kernel_row(const gauss_pass *p, double f, double *row) {
  const double inv2s2 = 0.5 / (p->sigma * p->sigma);
  const double norm = 1.0 / (p->sigma * sqrt(2.0 * M_PI));
  double rs = 0.0;
  for (int k = 0; k < p->np; k++) {
    double d = f - p->x[k];
    row[k] = norm * exp(-d * d * inv2s2);
    rs += row[k];
  }
  if (p->normalize)
    for (int k = 0; k < p->np; k++) row[k] /= rs;
}

/* rows: the pass's kernel row of every rater that occurs (row r at
** rows + r * np), or NULL. */
static double gauss_pass_score(const gauss_pass *p, const double *rows, const g_rating *r_,
                               size_t hi, double author, double *phi_out) {
  const size_t lo = 0, end = hi + (isnan(author) ? 0 : 1);
  const double negv = p->flip ? 1.0 : 0.0; /* helpfulNum of the pass's h = 0 */
  double base[GAUSS_MAXP], wsum[GAUSS_MAXP], vsum[GAUSS_MAXP], row[GAUSS_MAXP];
  double n = 0.0, phisum = 0.0, negf = 0.0, nneg = 0.0, disp = 0.0;
  int nlo = 0, nhi = 0;

  /* Counts, the empirical factor and the negative raters' mean factor. */
  for (size_t i = lo; i < end; i++) {
    double v, f;
    rating_at(r_, i, hi, author, &v, &f);
    double o = p->flip ? 1.0 - v : v;
    n += 1.0;
    phisum += (o - 0.5) * 2.0 * f;
    nlo += f < 0.0;
    nhi += f > 0.0;
    if (v == negv) negf += f, nneg += 1.0;
  }
  const double phi = phisum / n;
  *phi_out = phi;

  /* Dispersion of the negative raters: the share (over all n ratings) of
  ** negative raters farther than 0.14 from their mean factor, counted
  ** softly.  Spread-out negative ratings weigh more than a one-sided bloc's
  ** (gaussian_scorer.py:419-452). */
  if (nneg > 0.0) {
    const double m = negf / nneg;
    double s = 0.0;
    for (size_t i = lo; i < end; i++) {
      double v, f;
      rating_at(r_, i, hi, author, &v, &f);
      if (v != negv) continue;
      s += 1.0 / (1.0 + exp(-DISP_STEEPNESS * (fabs(f - m) - DISP_HALF_WINDOW)));
    }
    disp = fmin(s / n * p->disp_slope + 1.0, p->disp_cap);
  }

  for (int k = 0; k < p->np; k++) base[k] = wsum[k] = vsum[k] = 0.0;
  for (size_t i = lo; i < end; i++) {
    double v, f;
    rating_at(r_, i, hi, author, &v, &f);
    double h = v == 0.5 ? p->somewhat : v;
    if (p->flip) h = 1.0 - h;
    const double *r = row;
    if (rows && i < hi) r = rows + (size_t)r_[i].row * (size_t)p->np;
    else kernel_row(p, f, row);
    /* The reference multiplies the dispersion factor in first, then
    ** negWeight (gaussian_scorer.py:483-492). */
    double mult = h == 0.0 ? disp * p->neg_weight : 1.0;
    for (int k = 0; k < p->np; k++) {
      double w = r[k] * mult;
      base[k] += r[k];
      wsum[k] += w;
      vsum[k] += w * h;
    }
  }
  /* weightLim is checked on the plain kernel mass, before the negative
  ** ratings' extra weight (gaussian_scorer.py:472-480). */
  for (int k = 0; k < p->np; k++)
    if (base[k] < p->weight_lim) return 0.0;

  const int noside = nlo < MIN_RATERS_PER_SIDE || nhi < MIN_RATERS_PER_SIDE;
  const double S = log(fmax(n, ADAPTIVE_BASE)) / log(ADAPTIVE_BASE) * p->smooth_w;
  double logsum = 0.0;
  for (int k = 0; k < p->np; k++) {
    double prior = NOSIDE_PRIOR;
    if (!noside) {
      prior = fmin(phi * p->x[k] / 2.0 + p->smooth_v, p->smooth_v);
      prior = fmax(prior, p->min_prior);
    }
    double vk = (vsum[k] + prior * S) / (wsum[k] + S);
    vk = fmin(fmax(vk, p->clip_lo), p->clip_hi);
    logsum += log(vk);
  }
  return exp(logsum / p->np);
}

typedef struct gauss_ctx {
  const ns_gauss_in *in;
  gauss_pass crh;               /* pass_crh with the caller's bandwidth */
  double *icpt, *phi;
  double *rows_crh, *rows_crnh; /* per row (rater indexes given), else NULL */
  const uint32_t *row;          /* per rater: its row, NO_RATER = absent */
  const double *fac;            /* per row: its rater's factor */
  size_t n_rows;
  size_t max_span;              /* the most ratings a note's span has */
  atomic_int rc;                /* a chunk's NS_ENOMEM */
} gauss_ctx;

/* The kernel rows [begin, end). */
static void rows_chunk(void *vctx, size_t chunk, size_t begin, size_t end) {
  gauss_ctx *c = vctx;
  (void)chunk;
  for (size_t r = begin; r < end; r++) {
    kernel_row(&c->crh, c->fac[r], c->rows_crh + r * (size_t)c->crh.np);
    kernel_row(&pass_crnh, c->fac[r], c->rows_crnh + r * (size_t)pass_crnh.np);
  }
}

static void gauss_chunk(void *vctx, size_t chunk, size_t begin, size_t end) {
  gauss_ctx *c = vctx;
  const ns_gauss_in *in = c->in;
  g_rating *buf = ns_mallocn(c->max_span ? c->max_span : 1, sizeof *buf);
  (void)chunk;
  if (!buf) {
    atomic_store(&c->rc, NS_ENOMEM);
    return;
  }
  for (size_t n = begin; n < end; n++) {
    size_t lo = in->note_off[n], hi = in->note_off[n + 1], m = 0;
    for (size_t i = lo; i < hi; i++) {
      uint32_t u;
      if (!rating_get(in, n, i, &buf[m].v, &u, &buf[m].f)) continue;
      buf[m++].row = c->rows_crh ? c->row[u] : NO_RATER;
    }
    if (m == 0) {
      c->icpt[n] = 0.0;
      c->phi[n] = NAN;
      continue;
    }
    double author = in->author_factor ? in->author_factor[n] : NAN;
    double phi_crnh;
    /* The synthetic author rating belongs to the CRH pass only. */
    double crh = gauss_pass_score(&c->crh, c->rows_crh, buf, m, author, &c->phi[n]);
    double crnh = -gauss_pass_score(&pass_crnh, c->rows_crnh, buf, m, NAN, &phi_crnh);
    /* gaussian_scorer.py:637-641: the CRNH score wins only when strictly
    ** larger in magnitude (so +0.0 when both passes lack kernel mass). */
    c->icpt[n] = fabs(crh) < fabs(crnh) ? crnh : crh;
  }
  free(buf);
}

/* One kernel row per rater and pass that occurs, computed once: c->row
** maps a rater to its row (in rater order), c->fac holds the row's factor
** -- a rater's factor is the same on every note it rated (checked here). */
static int rater_rows(gauss_ctx *c, ns_pool *pool) {
  const ns_gauss_in *in = c->in;
  size_t nr = in->n_raters, lo = in->note_off[0], hi = in->note_off[in->n_notes], nrow = 0;
  uint32_t *row = ns_mallocn(nr ? nr : 1, sizeof *row);
  uint8_t *set = NULL;
  double *fac = NULL;
  int rc = 0;
  if (!row) return NS_ENOMEM;
  for (size_t u = 0; u < nr; u++) row[u] = NO_RATER;
  for (size_t n = 0, i = lo; i < hi; i++) {
    double v, f;
    uint32_t u;
    while (in->note_off[n + 1] <= i) n++;  /* rating i's note */
    if (!rating_get(in, n, i, &v, &u, &f)) continue;
    if (u >= nr) {
      rc = NS_EINVAL;
      goto out;
    }
    row[u] = 0;
  }
  for (size_t u = 0; u < nr; u++)
    if (row[u] != NO_RATER) row[u] = (uint32_t)nrow++;
  set = ns_calloc(nrow ? nrow : 1, 1);
  fac = ns_mallocn(nrow ? nrow : 1, sizeof *fac);
  c->rows_crh = ns_mallocn(nrow ? nrow : 1, (size_t)pass_crh.np * sizeof(double));
  c->rows_crnh = ns_mallocn(nrow ? nrow : 1, (size_t)pass_crnh.np * sizeof(double));
  if (!set || !fac || !c->rows_crh || !c->rows_crnh) {
    rc = NS_ENOMEM;
    goto out;
  }
  for (size_t n = 0, i = lo; i < hi; i++) {
    double v, f;
    uint32_t u, r;
    while (in->note_off[n + 1] <= i) n++;
    if (!rating_get(in, n, i, &v, &u, &f)) continue;
    r = row[u];
    if (set[r] && !(fac[r] == f)) {
      rc = NS_EINVAL;
      goto out;
    }
    set[r] = 1, fac[r] = f;
  }
  c->row = row;
  c->fac = fac;
  c->n_rows = nrow;
  ns_pool_for(pool, nrow, GAUSS_CHUNK * 4, rows_chunk, c);
  fac = NULL, row = NULL;
out:
  free(set);
  free(fac);
  free(row);
  return rc;
}

int ns_gaussian_scores(const ns_gauss_in *in, ns_pool *pool, double *icpt, double *phi) {
  gauss_ctx c;
  int rc = 0;
  if (!in || !icpt || !phi || (in->n_notes && !in->note_off)) return NS_EINVAL;
  if (in->n_notes && in->note_off[in->n_notes] > in->note_off[0] &&
      (in->take ? !in->factor_of_rater
                : !in->value || !(in->rater_factor || (in->rater && in->factor_of_rater))))
    return NS_EINVAL;
  memset(&c, 0, sizeof c);
  atomic_init(&c.rc, 0);
  c.in = in;
  c.crh = pass_crh;
  /* GaussianParams(bandwidth=b) is the CRH defaults but for the bandwidth
  ** (gaussianCrhParams = GaussianParams(), constants.py:147-163), so only
  ** sigma changes: a narrower kernel reads the raters nearer each point */
  if (in->crh_bandwidth > 0.0) c.crh.sigma = in->crh_bandwidth;
  c.icpt = icpt;
  c.phi = phi;
  for (size_t n = 0; n < in->n_notes; n++)
    if (in->note_off[n + 1] > in->note_off[n] && in->note_off[n + 1] - in->note_off[n] > c.max_span)
      c.max_span = in->note_off[n + 1] - in->note_off[n];
  if ((in->rater || in->take) && in->n_notes) rc = rater_rows(&c, pool);
  if (rc == 0) {
    ns_pool_for(pool, in->n_notes, GAUSS_CHUNK, gauss_chunk, &c);
    rc = atomic_load(&c.rc);
  }
  free((void *)c.row);
  free((void *)c.fac);
  free(c.rows_crh);
  free(c.rows_crnh);
  return rc;
}
