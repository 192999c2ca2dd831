/*
** guard/tags.c -- the two tag-based guardrails: the tag-outlier
** filter (reference-algorithm.md §4.3) and the incorrect filter (§4.4).
**
** Both look at who wrote a not-helpful tag relative to the note: the tag
** filter down-weights ratings from raters far from the note in factor space
** (a tag from "the other side" is cheap), the incorrect filter only counts
** raters close to the note and discounts raters who tag Incorrect often.
** Factor dimension 0 is used (the reference model is 1-D).
**
** Who calls it: engine/pipeline.c, final round, run thread.  Single-threaded:
** every function is one or two linear passes over the ratings.
*/
#include "guard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* mean and population std (numpy's np.std, ddof 0) of v[i*ld] over i with
** has[i]; returns the count. */
static size_t mean_std(const double *v, size_t n, size_t ld, const uint8_t *has,
                       double *mean, double *std) {
  double s = 0, ss = 0;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (has[i]) s += v[i * ld], m++;
  *mean = m ? s / (double)m : 0.0;
  for (size_t i = 0; i < n; i++)
    if (has[i]) {
      double d = v[i * ld] - *mean;
      ss += d * d;
    }
  *std = m ? sqrt(ss / (double)m) : 0.0;
  return m;
}

/* |z(f_u) - z(f_n)| of rating j under s's normalisation (dimension 0). */
static double tag_distance(const ns_guard_fit *f, const ns_guard_tag_scale *s, size_t j) {
  size_t k = (size_t)f->k;
  double zn = (f->note_fac[(size_t)ns_guard_note(f, j) * k] - s->mn) / s->sn;
  double zu = (f->rater_fac[(size_t)ns_guard_rater(f, j) * k] - s->mr) / s->sr;
  return fabs(zu - zn);
}

int ns_guard_tag_scale_fit(const ns_guard_fit *f, ns_guard_tag_scale *s) {
  uint8_t *hn = NULL, *hr = NULL;
  double *d = NULL;
  int rc = 0;
  size_t k = (size_t)f->k;
  hn = ns_calloc(f->n_notes, 1);
  hr = ns_calloc(f->n_raters, 1);
  d = ns_mallocn(f->n_ratings, sizeof *d);
  if (!hn || !hr || !d) {
    rc = NS_ENOMEM;
    goto out;
  }
  for (size_t j = 0; j < f->n_ratings; j++) {
    int32_t n = ns_guard_note(f, j), u = ns_guard_rater(f, j);
    if (n < 0 || (size_t)n >= f->n_notes || u < 0 || (size_t)u >= f->n_raters) {
      rc = NS_EINVAL;
      goto out;
    }
    hn[n] = hr[u] = 1;
  }
  /* z-normalise notes and raters separately: the two factor clouds share
  ** one space but may differ in scale. */
  mean_std(f->note_fac, f->n_notes, k, hn, &s->mn, &s->sn);
  mean_std(f->rater_fac, f->n_raters, k, hr, &s->mr, &s->sr);
  for (size_t j = 0; j < f->n_ratings; j++) d[j] = tag_distance(f, s, j);
  /* the distances are not needed afterwards: select in place */
  rc = ns_guard_quantile_inplace(d, f->n_ratings, NS_GUARD_TAG_NORM_PCT / 100.0, &s->p40);
out:
  free(hn);
  free(hr);
  free(d);
  return rc;
}

double ns_guard_tag_weight(const ns_guard_fit *f, const ns_guard_tag_scale *s, size_t j) {
  double d = tag_distance(f, s, j), w;
  if (s->p40 > 0) {
    double r = d / s->p40;
    w = 1.0 / (1.0 + pow(r, 5.0));
  } else {
    /* Degenerate p40 = 0 (at least 40% of ratings at distance 0): the
    ** reference would divide by zero; we give full weight at d = 0 and
    ** none elsewhere, the limit of the formula as p40 -> 0+. */
    w = d == 0 ? 1.0 : 0.0;
  }
  return isnan(w) ? 0.0 : w; /* pandas sum skips NaN */
}

int ns_guard_tag_weights(const ns_guard_fit *f, double *weight_out) {
  ns_guard_tag_scale s;
  int rc = ns_guard_tag_scale_fit(f, &s);
  if (rc != 0) return rc;
  for (size_t j = 0; j < f->n_ratings; j++) weight_out[j] = ns_guard_tag_weight(f, &s, j);
  return 0;
}

/* Both aggregates: weight[j], or (weight NULL) rating j's tag weight under
** s times its fit weight. */
static int tag_aggregate(const ns_guard_fit *f, const double *weight, const ns_guard_tag_scale *s,
                         double *adjusted, double *ratio, double *rating_weight) {
  double *tot = rating_weight;
  int own = 0;
  if (!f->r_meta) return NS_EINVAL;
  if (!tot) {
    tot = ns_mallocn(f->n_notes, sizeof *tot);
    if (!tot) return NS_ENOMEM;
    own = 1;
  }
  memset(tot, 0, f->n_notes * sizeof *tot);
  memset(adjusted, 0, f->n_notes * NS_N_NOT_HELPFUL_TAGS * sizeof *adjusted);
  for (size_t j = 0; j < f->n_ratings; j++) {
    size_t n = (size_t)ns_guard_note(f, j);
    if (n >= f->n_notes) {
      if (own) free(tot);
      return NS_EINVAL;
    }
    double w = weight ? weight[j] : ns_guard_tag_weight(f, s, j) * (double)ns_guard_weight(f, j);
    tot[n] += w;
    uint32_t tags = ns_guard_tags(f, j);
    for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++)
      if (tags & NS_TAG_BIT(NS_N_HELPFUL_TAGS + t))
        adjusted[n * NS_N_NOT_HELPFUL_TAGS + t] += w;
  }
  /* A note with no rating has no row in the reference; NaN here. */
  for (size_t n = 0; n < f->n_notes; n++)
    for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++)
      ratio[n * NS_N_NOT_HELPFUL_TAGS + t] =
          tot[n] > 0 ? adjusted[n * NS_N_NOT_HELPFUL_TAGS + t] / tot[n] : NAN;
  if (own) free(tot);
  return 0;
}

int ns_guard_tag_aggregate(const ns_guard_fit *f, const double *weight,
                           double *adjusted, double *ratio, double *rating_weight) {
  if (!weight) return NS_EINVAL;
  return tag_aggregate(f, weight, NULL, adjusted, ratio, rating_weight);
}

int ns_guard_tag_aggregate_scaled(const ns_guard_fit *f, const ns_guard_tag_scale *s,
                                  double *adjusted, double *ratio, double *rating_weight) {
  if (!s) return NS_EINVAL;
  return tag_aggregate(f, NULL, s, adjusted, ratio, rating_weight);
}

int ns_guard_tag_thresholds(size_t n_notes, const double *ratio,
                            const uint8_t *is_crh, int pct, double thresholds[13]) {
  double *col = ns_mallocn(n_notes, sizeof *col);
  int rc = 0;
  if (!col) return NS_ENOMEM;
  for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++) {
    size_t m = 0;
    for (size_t n = 0; n < n_notes; n++)
      if (is_crh[n]) col[m++] = ratio[n * NS_N_NOT_HELPFUL_TAGS + t];
    if (m == 0) {
      thresholds[t] = 0.0; /* the reference's arbitrary default */
      continue;
    }
    if ((rc = ns_guard_quantile(col, m, ns_guard_pct_q(pct), &thresholds[t])) != 0) break;
    if (isnan(thresholds[t])) thresholds[t] = 0.0;
  }
  free(col);
  return rc;
}

void ns_guard_tag_base_shares(size_t n_notes, const double *adjusted, double base_share[13]) {
  double tot = 0;
  for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++) base_share[t] = 0;
  for (size_t n = 0; n < n_notes; n++)
    for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++) {
      base_share[t] += adjusted[n * NS_N_NOT_HELPFUL_TAGS + t];
      tot += adjusted[n * NS_N_NOT_HELPFUL_TAGS + t];
    }
  for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++) base_share[t] = tot > 0 ? base_share[t] / tot : 0;
}

/* Lower end of the Wilson score interval for a proportion s out of m
** trials at normal quantile z. */
static double wilson_lower(double s, double m, double z) {
  double z2 = z * z;
  double c = s + z2 / (2 * m), r = z * sqrt(s * (1 - s) / m + z2 / (4 * m * m));
  return (c - r) / (1 + z2 / m);
}

/* Why the share test.  The reference's threshold is the 95th percentile of
** the tag's ratio among CRH notes, so on any data where sound notes collect
** a few scattered complaints, about 5 % of CRH notes exceed it in each tag
** by chance, and every note below CRH -- which by being below it has more
** not-helpful ratings -- exceeds it in its common tags.  On gen data
** (docs/guardrails.md §2) that took CRH from 10 % of the truly helpful CRH
** notes.  A flaw the raters agree on shows up differently: one tag takes a
** larger share of the note's complaints than it has across the run.  The
** Wilson bound keeps notes with a handful of mentions from passing on
** noise. */
/* The filter's verdict on one note from its two rows of 13 (the rule of
** ns_guard_tag_filter). */
static uint32_t tag_filter_note(const double *a, const double *r, const double thresholds[13],
                                const double *base_share) {
  double m = 0;
  uint32_t mask = 0;
  for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++) m += a[t];
  for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++) {
    int tag = NS_N_HELPFUL_TAGS + t;
    if (tag == NS_TAG_NH_HARD_TO_UNDERSTAND) continue; /* never filters */
    if (!(a[t] > NS_GUARD_TAG_MIN_ADJUSTED && r[t] > thresholds[t])) continue;
    if (base_share &&
        !(wilson_lower(a[t] / m, m, NS_GUARD_TAG_SHARE_Z) > NS_GUARD_TAG_SHARE_LIFT * base_share[t]))
      continue;
    mask |= NS_TAG_BIT(tag);
  }
  return mask;
}

void ns_guard_tag_filter(size_t n_notes, const double *adjusted, const double *ratio,
                         const double thresholds[13], const double *base_share,
                         uint32_t *fired) {
  for (size_t n = 0; n < n_notes; n++)
    fired[n] = tag_filter_note(adjusted + n * NS_N_NOT_HELPFUL_TAGS,
                               ratio + n * NS_N_NOT_HELPFUL_TAGS, thresholds, base_share);
}

/* Note n's two rows from its ratings [lo, hi) of f (all of them), summed
** in rating order as tag_aggregate sums them: the same bits. */
static void note_rows(const ns_guard_fit *f, const ns_guard_tag_scale *s, size_t lo, size_t hi,
                      double *a, double *r) {
  double tot = 0;
  for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++) a[t] = 0;
  for (size_t j = lo; j < hi; j++) {
    double w = ns_guard_tag_weight(f, s, j) * (double)ns_guard_weight(f, j);
    uint32_t tags = ns_guard_tags(f, j);
    tot += w;
    for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++)
      if (tags & NS_TAG_BIT(NS_N_HELPFUL_TAGS + t)) a[t] += w;
  }
  for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++) r[t] = tot > 0 ? a[t] / tot : NAN;
}

/* The tables path of ns_guard_tag_filter_run: ratings not grouped by note. */
static int tag_filter_tables(const ns_guard_fit *f, const ns_guard_tag_scale *s,
                             const uint8_t *is_crh, int pct, int share_test, uint32_t *fired) {
  size_t nn = f->n_notes;
  double *adj = ns_mallocn(nn * NS_N_NOT_HELPFUL_TAGS, sizeof *adj);
  double *rat = ns_mallocn(nn * NS_N_NOT_HELPFUL_TAGS, sizeof *rat);
  uint8_t *crh = ns_calloc(nn ? nn : 1, 1);
  double thr[NS_N_NOT_HELPFUL_TAGS], share[NS_N_NOT_HELPFUL_TAGS];
  int rc = NS_ENOMEM;
  if (!adj || !rat || !crh) goto out;
  if ((rc = ns_guard_tag_aggregate_scaled(f, s, adj, rat, NULL)) != 0) goto out;
  for (size_t n = 0; n < nn; n++) crh[n] = is_crh[n] && !isnan(rat[n * NS_N_NOT_HELPFUL_TAGS]);
  if ((rc = ns_guard_tag_thresholds(nn, rat, crh, pct, thr)) != 0) goto out;
  ns_guard_tag_base_shares(nn, adj, share);
  ns_guard_tag_filter(nn, adj, rat, thr, share_test ? share : NULL, fired);
out:
  free(adj), free(rat), free(crh);
  return rc;
}

int ns_guard_tag_filter_run(const ns_guard_fit *f, const ns_guard_tag_scale *s,
                            const uint8_t *is_crh, int pct, int share_test, uint32_t *fired) {
  size_t nn = f->n_notes, m = 0, j = 0;
  double thr[NS_N_NOT_HELPFUL_TAGS], share[NS_N_NOT_HELPFUL_TAGS], stot = 0;
  double a[NS_N_NOT_HELPFUL_TAGS], r[NS_N_NOT_HELPFUL_TAGS];
  double *rc_rows = NULL;
  uint8_t *ones = NULL;
  int rc = 0;
  if (!f->r_meta || !s) return NS_EINVAL;
  for (size_t i = 0; i < f->n_ratings; i++) {
    size_t n = (size_t)ns_guard_note(f, i);
    if (n >= nn) return NS_EINVAL;
    if (i > 0 && n < (size_t)ns_guard_note(f, i - 1))
      return tag_filter_tables(f, s, is_crh, pct, share_test, fired);
    /* an upper bound of the rows the thresholds read */
    if (is_crh[n] && (i == 0 || (size_t)ns_guard_note(f, i - 1) != n)) m++;
  }
  rc_rows = ns_mallocn(m ? m * NS_N_NOT_HELPFUL_TAGS : 1, sizeof *rc_rows);
  ones = ns_mallocn(m ? m : 1, 1);
  if (!rc_rows || !ones) {
    rc = NS_ENOMEM;
    goto out;
  }
  /* First the run-wide parts: the CRH notes' ratios, in note order as
  ** ns_guard_tag_thresholds gathers them, and the base shares' sums, in
  ** note order as ns_guard_tag_base_shares adds them (a note without
  ** ratings adds zeros there). */
  m = 0;
  for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++) share[t] = 0;
  for (size_t n = 0; n < nn; n++) {
    size_t lo = j;
    while (j < f->n_ratings && (size_t)ns_guard_note(f, j) == n) j++;
    note_rows(f, s, lo, j, a, r);
    for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++) {
      share[t] += a[t];
      stot += a[t];
    }
    if (is_crh[n] && !isnan(r[0])) {
      memcpy(rc_rows + m * NS_N_NOT_HELPFUL_TAGS, r, sizeof r);
      ones[m++] = 1;
    }
  }
  for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++) share[t] = stot > 0 ? share[t] / stot : 0;
  if (m == 0) {
    for (int t = 0; t < NS_N_NOT_HELPFUL_TAGS; t++) thr[t] = 0.0; /* as with no CRH note */
  } else if ((rc = ns_guard_tag_thresholds(m, rc_rows, ones, pct, thr)) != 0) {
    goto out;
  }
  free(rc_rows), free(ones);
  rc_rows = NULL, ones = NULL;
  /* then each note's rows again as it is judged */
  j = 0;
  for (size_t n = 0; n < nn; n++) {
    size_t lo = j;
    while (j < f->n_ratings && (size_t)ns_guard_note(f, j) == n) j++;
    note_rows(f, s, lo, j, a, r);
    fired[n] = tag_filter_note(a, r, thr, share_test ? share : NULL);
  }
out:
  free(rc_rows), free(ones);
  return rc;
}

/* ---- incorrect filter --------------------------------------------------- */

#define NH_MASK (((1u << NS_N_NOT_HELPFUL_TAGS) - 1u) << NS_N_HELPFUL_TAGS)

void ns_guard_incorrect_counts(size_t n_ratings, const int32_t *r_rater,
                               const uint32_t *r_meta, size_t n_raters,
                               int32_t *incorrect, int32_t *nh_total) {
  memset(incorrect, 0, n_raters * sizeof *incorrect);
  memset(nh_total, 0, n_raters * sizeof *nh_total);
  for (size_t e = 0; e < n_ratings; e++) {
    int32_t u = r_rater[e];
    uint32_t tags = ns_r_meta_tags(r_meta[e]);
    if (u < 0 || (size_t)u >= n_raters || !(tags & NH_MASK)) continue;
    nh_total[u]++;
    if (tags & NS_TAG_BIT(NS_TAG_NH_INCORRECT)) incorrect[u]++;
  }
}

static double clip04(double x) {
  return x < -NS_GUARD_INCORRECT_CLIP ? -NS_GUARD_INCORRECT_CLIP
         : x > NS_GUARD_INCORRECT_CLIP ? NS_GUARD_INCORRECT_CLIP : x;
}

int ns_guard_incorrect_filter(const ns_guard_fit *f, const int32_t *incorrect,
                              const int32_t *nh_total, double threshold,
                              ns_guard_incorrect *out) {
  size_t k = (size_t)f->k;
  double *cnt, *vot;
  if (!f->r_meta || !out) return NS_EINVAL;
  /* Weighted sums (r_weight, 1 when NULL), floored to head counts: a
  ** coordinated group on a note counts as the one rater it weighs. */
  cnt = ns_calloc(f->n_notes, sizeof *cnt);
  vot = ns_calloc(f->n_notes, sizeof *vot);
  if (!cnt || !vot) {
    free(cnt);
    free(vot);
    return NS_ENOMEM;
  }
  for (size_t n = 0; n < f->n_notes; n++) out->p_sum[n] = 0;
  for (size_t j = 0; j < f->n_ratings; j++) {
    int32_t n = ns_guard_note(f, j), u = ns_guard_rater(f, j);
    double w = ns_guard_weight(f, j);
    uint32_t tags = ns_guard_tags(f, j);
    if (n < 0 || (size_t)n >= f->n_notes || u < 0 || (size_t)u >= f->n_raters) {
      free(cnt);
      free(vot);
      return NS_EINVAL;
    }
    if (!(tags & NH_MASK)) continue;
    double fu = clip04(f->rater_fac[(size_t)u * k]);
    double fn = clip04(f->note_fac[(size_t)n * k]);
    if (!(fabs(fu - fn) < NS_GUARD_INCORRECT_HALF_WIDTH)) continue;
    vot[n] += w;
    if (tags & NS_TAG_BIT(NS_TAG_NH_INCORRECT)) cnt[n] += w;
    /* rater's propensity to tag Incorrect, over the whole history; 0 when
    ** the history has no tagged rating (the reference's fillna(0)). */
    if (nh_total[u] > 0) out->p_sum[n] += w * (double)incorrect[u] / (double)nh_total[u];
  }
  for (size_t n = 0; n < f->n_notes; n++) {
    out->count[n] = (int32_t)floor(cnt[n] + 1e-6);
    out->voters[n] = (int32_t)floor(vot[n] + 1e-6);
  }
  free(cnt);
  free(vot);
  for (size_t n = 0; n < f->n_notes; n++) {
    if (out->voters[n] == 0) {
      out->tfidf[n] = NAN; /* no row in the reference: never fires */
      out->fired[n] = 0;
      continue;
    }
    out->tfidf[n] = (double)out->count[n] / log(1.0 + out->p_sum[n]);
    out->fired[n] = out->count[n] >= NS_GUARD_INCORRECT_MIN_TAGS &&
                    out->voters[n] >= NS_GUARD_INCORRECT_MIN_VOTERS &&
                    out->tfidf[n] >= threshold;
  }
  return 0;
}
