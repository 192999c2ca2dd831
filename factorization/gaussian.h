/*
** factorization/gaussian.h -- the Gaussian-kernel note scorer (reference
** gaussian_scorer.py, digest §4.11): a note's helpfulness is smoothed over
** the raters' factor axis with Gaussian kernels, a CRH pass and a CRNH pass,
** and the note's intercept is the stronger of the two.  The status rules
** are the engine's (the scorer chain with the Gaussian thresholds).
**
** Who calls it: engine/, for GaussianModel and GaussianCoreWithTopicsModel,
** on a view of that scorer's ratings.  The reference's view (verified to
** 1.2e-7 on gen data): raters in the coverage groups or unassigned (plus,
** for the plain model, notes without a topic); notes with >= 5 such
** ratings; of those, the ratings by raters with aboveHelpfulnessThreshold
** and a Core factor, f_u the Core factor.  Pure function of its arguments;
** the pool parallelizes over notes (disjoint writes), so the result is the
** same for any thread count.
*/
#ifndef NS_GAUSSIAN_H
#define NS_GAUSSIAN_H

#include <stddef.h>
#include <stdint.h>

#include "../base/base.h"

/* The ratings of n_notes notes, grouped by note: the ratings of note n are
** [note_off[n], note_off[n+1]). */
typedef struct ns_gauss_in {
  size_t n_notes;
  const size_t *note_off;     /* n_notes + 1 offsets */
  const float *value;         /* helpfulNum per rating: 0, 0.5 or 1 */
  const double *rater_factor; /* the rater's (Core, prescoring) factor f_u per
                              ** rating; every rating here has one.  May be
                              ** NULL when rater and factor_of_rater (below)
                              ** give it per rater instead */
  const double *author_factor;/* per note: the factor of a synthetic HELPFUL
                              ** rating by the note's author, added to the CRH
                              ** pass only, else NAN; may be NULL (none).
                              ** The pinned reference (08c656b) adds no such
                              ** rating -- pass NULL for parity with it.  Later
                              ** upstream commits (63d7f6b, a84b7ee) add one
                              ** when the author has a factor and did not rate
                              ** the note. */
  /* Optional, for speed: rater[i] is rating i's rater index in
  ** [0, n_raters).  Given, a rater's kernel rows are computed once for all
  ** the notes it rated (the same values as per rating, so the scores are
  ** bit-identical) in a scratch of n_raters x 76 doubles, allocated for
  ** the call (only raters that occur are computed).  NULL: per rating. */
  const uint32_t *rater;
  size_t n_raters;
  /* Optional, for memory: with rater, rating i's factor is
  ** factor_of_rater[rater[i] * factor_stride] (stride 0 = 1), and
  ** rater_factor may be NULL -- 8 bytes per rating less for the caller's
  ** view (the engine passes Core's rater factors, n_raters x k). */
  const double *factor_of_rater;
  size_t factor_stride;
  /* Optional, for memory: the view as a filter over the spans instead of
  ** arrays of its own.  take(take_ctx, n, i, &value, &rater) returns 1 when
  ** rating i of the spans (in note n's span) is in the view and gives its helpfulNum and
  ** rater index (< n_raters), 0 when it is not (the note's count leaves it
  ** out).  With take, value, rater_factor and rater are not read and
  ** factor_of_rater gives the factor -- no per-rating array at all (the
  ** engine's spans are the run's note-ordered edges, its filter the
  ** scorer's round-2 bit).  Called from pool workers: must be safe to run
  ** concurrently. */
  int (*take)(const void *take_ctx, size_t n, size_t i, float *value, uint32_t *rater);
  const void *take_ctx;
  /* The CRH pass's kernel bandwidth (GaussianParams.bandwidth of crhParams);
  ** 0 = the constants.py default 0.1.  GaussianTopicScorer_InDimensionTwo
  ** passes 0.05 (run_scoring.py:178-186).  The CRNH pass keeps 0.2. */
  double crh_bandwidth;
} ns_gauss_in;

/* Per note: icpt[n] the Gaussian intercept (0 for a note without ratings,
** as the reference's "-1 everywhere" case), phi[n] the note's empirical
** factor phi_n (mean of (h - 0.5) * 2 * f_u over the CRH pass's ratings,
** h the raw helpfulNum; NAN without ratings), the fallback factor.
** Allocates the rater-row scratch (with in->rater or in->take: a row per
** rater that occurs, 608 bytes, and 4 bytes per rater index) and, per pool
** chunk, the ratings of its largest note (24 bytes each).  Returns 0,
** NS_EINVAL for missing arrays or a rater index out of range, or
** NS_ENOMEM. */
int ns_gaussian_scores(const ns_gauss_in *in, ns_pool *pool, double *icpt, double *phi);

#endif /* NS_GAUSSIAN_H */
