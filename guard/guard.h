/*
** guard/guard.h -- internal engine header: the checks the reference
** scorer applies before a note's status may change (reference-algorithm.md
** §1.7 step 3, §3.2, §3.6, §4.1, §4.3-4.9).
**
** Every guardrail is a function over plain arrays: the dense note/rater
** indexes of one fit (ns_guard_fit), per-rating columns, and constants.  None
** of them reads an ns_dataset or touches the store, so each is testable alone
** (tests/test_guardrails.c) and the pipeline (engine/pipeline.c) calls them
** at the right stage and turns their verdicts into statuses and rule bits
** with ns_guard_apply().
**
** Numerics.  With raters and mu frozen, the reference's note-only refits
** (pseudo-raters, NoHighVol, NoCorrelated, PopulationSampled) minimise a
** strictly convex loss that splits into one ridge regression per note:
**
**   sum_e w_e (y_e - i_n - f_u.f_n)^2 + pen_i i_n^2 + pen_f |f_n|^2,
**   y_e = r_e - mu - i_u,
**
** with pen = lambda * N / n_notes for the reference's mean regulariser and
** pen = lambda * rho for its "ratio mode" (lambda * sum theta^2 / (N/rho),
** times N).  The kernel is factorization/ridge.h: each (k+1)x(k+1) system
** is solved exactly (Cholesky; LAPACKE for k > 1), so no iterations are
** needed and the result is the optimum the reference's Adam approaches.
**
** Who calls it: engine/pipeline.c, on the run's thread; functions that take
** an ns_pool parallelise inside with deterministic chunking (disjoint
** per-note writes), so results do not depend on the thread count.
** Errors: 0, NS_EINVAL (bad sizes/indexes), NS_ENOMEM; the refits also
** pass on a failed solve (NS_ERANGE: not positive definite, only with zero
** penalties; NS_ELAPACK: LAPACK rejected a call).  Output arrays are
** caller-allocated with the sizes stated; they are fully written on success.
*/
#ifndef NS_GUARDRAILS_H
#define NS_GUARDRAILS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../base/base.h"
#include "../base/dataset.h"
#include "../factorization/ridge.h"
#include "../graph/graph.h"

/* ---- reference constants ---------------------------------------------- */

#define NS_GUARD_MIN_RATINGS 5               /* minRatingsNeeded */
#define NS_GUARD_UCB_CRNH (-0.04)            /* crnhThresholdUCBIntercept */
#define NS_GUARD_TAG_NORM_PCT 40             /* tagPercentileForNormalization */
#define NS_GUARD_TAG_THRESHOLD_PCT 95        /* tag filter percentile */
#define NS_GUARD_TAG_MIN_ADJUSTED 2.5        /* minAdjustedTagWeight */
/* notescore (not the reference): a tag the filter names must also be a
** distinct complaint -- its share of the note's weighted not-helpful tag
** mentions, at the lower end of a one-sided 99 % Wilson interval, above
** 1.5x that tag's share over the whole run (ns_guard_tag_filter). */
#define NS_GUARD_TAG_SHARE_Z 2.326
#define NS_GUARD_TAG_SHARE_LIFT 1.5
#define NS_GUARD_INCORRECT_CLIP 0.4          /* factor clip before interval */
#define NS_GUARD_INCORRECT_HALF_WIDTH 0.3    /* intervalHalfWidth */
#define NS_GUARD_INCORRECT_MIN_TAGS 2        /* tagThreshold */
#define NS_GUARD_INCORRECT_MIN_VOTERS 3      /* voteThreshold */
#define NS_GUARD_INCORRECT_TFIDF 2.5         /* incorrectFilterThreshold */
#define NS_GUARD_LOW_DILIGENCE 0.263         /* lowDiligenceThreshold */
#define NS_GUARD_HIGHVOL_QUANTILE 0.999
#define NS_GUARD_HIGHVOL_MIN_NOTES 200
#define NS_GUARD_HIGHVOL_WINDOW1_MS (7LL * 86400000LL)
#define NS_GUARD_HIGHVOL_WINDOW2_MS (28LL * 86400000LL)
#define NS_GUARD_NO_HIGHVOL_CRH 0.37         /* crhThresholdNoHighVol/NoCorrelated */
#define NS_GUARD_POP_RHO 10.0                /* ratio-mode rho of the pop. refit */
#define NS_GUARD_POP_MIN_TOTAL 8
#define NS_GUARD_POP_MIN_PER_SIGN 2
#define NS_GUARD_POP_MAX_INTERCEPT 0.30
#define NS_GUARD_POP_MIN_DROP 0.15
#define NS_GUARD_HARASS_MIN 2.0              /* harassment intercept threshold */
#define NS_GUARD_HARASS_PENALTY 10.0         /* penalty per helpful rating */
#define NS_GUARD_HARASS_MIN_MS 1639699200000LL  /* ratings on/after 2021-12-15 */
#define NS_GUARD_STAB_MIN_MS (30LL * 60000LL)
#define NS_GUARD_STAB_CRH_MAX_MS (60LL * 60000LL)
#define NS_GUARD_STAB_NYH_MAX_MS (360LL * 60000LL)
#define NS_GUARD_LOCK_MS (14LL * 86400000LL)  /* noteLockMillis */

/* ---- one fit, as plain arrays ----------------------------------------- */

/* A fitted model plus the ratings it was fitted on.  Everything borrowed.
** Factors are row-major with ld = k (factorization/mf.h layout); guardrails
** that the reference defines for a 1-D factor (tag filter, incorrect filter,
** sign splits) use factor dimension 0.
**
** The ratings are read through three index spaces, so that a caller can hand
** over the columns it already holds instead of copying them:
**   rating j in [0, n_ratings)  -- the fit's ratings; per-rating inputs and
**                                  outputs of the functions below (keep,
**                                  weights, labels, sources) use j;
**   row c = r_id[j]             -- a row of r_note (or an edge of
**                                  r_graph), r_rater, r_value and
**                                  r_weight or r_weight_code (r_id NULL:
**                                  c = j);
**   source s = r_src[c]         -- a row of r_meta (r_src NULL:
**                                  c + r_src_note[note of c], or s = c).
** r_id ascends, so every sum over a note's ratings runs in the same order
** as over copied columns.  The target is r_value[c], or, when r_value is
** NULL, level_value[ns_r_meta_level(r_meta[s])] (the store's rating level
** through a small table).  Read them with ns_guard_note() ...
** ns_guard_tags().  The engine
** (engine/pipeline_guard.c) passes the run's edge columns, its bigraph as
** r_graph (the edges' notes, no note column when they are in note order),
** the list of its round-2 edges as r_id and the edges' dataset rows as
** r_src: 4 bytes per round-2 rating instead of 20 of copies. */
typedef struct ns_guard_fit {
  size_t n_notes, n_raters, n_ratings;
  int k;                      /* factors per entity, 1..NS_GUARD_MAX_K */
  double mu;                  /* global intercept (frozen) */
  const double *note_icpt;    /* n_notes */
  const double *note_fac;     /* n_notes x k */
  const double *rater_icpt;   /* n_raters */
  const double *rater_fac;    /* n_raters x k */
  const int32_t *r_note;      /* per row: dense note index, or NULL (then
                              ** by r_graph) */
  const int32_t *r_rater;     /* per row: dense rater index */
  const float *r_value;       /* per row: 0, 0.5, 1; NULL = from r_meta */
  const float *r_weight;      /* per row, or NULL = all 1 (or by code) */
  const uint32_t *r_meta;     /* per source: the dataset's packed word
                              ** (base/dataset.h r_meta: tags, level; its
                              ** other bits are not read), or NULL */
  const uint32_t *r_id;       /* n_ratings ascending rows, or NULL = j */
  const uint32_t *r_src;      /* per row: source, or NULL = the row (or
                              ** by r_src_note) */
  float level_value[4];       /* targets of the levels (r_value NULL) */
  const uint32_t *r_src_note; /* r_src NULL: per note, the source of row c
                              ** is c + r_src_note[note of c] (mod 2^32) --
                              ** the engine's edges of a normalized dataset,
                              ** each note's rows one block of sources */
  const uint8_t *r_weight_code; /* r_weight NULL: per row, the weight is
                              ** weight_value[r_weight_code[c]] -- the
                              ** engine's coordination weights, a few
                              ** distinct values; NULL = all 1 */
  const float *weight_value;
  const ns_bigraph *r_graph;  /* r_note NULL: the rows are this graph's
                              ** edges, the note of row c is
                              ** ns_bigraph_edge_note(r_graph, c) (its
                              ** n_notes = n_notes) -- the engine's edges
                              ** in note order, no note column */
} ns_guard_fit;

/* Row and source of rating j, and its columns. */
static inline size_t ns_guard_row(const ns_guard_fit *f, size_t j) {
  return f->r_id ? f->r_id[j] : j;
}
static inline int32_t ns_guard_row_note(const ns_guard_fit *f, size_t c) {
  return f->r_note ? f->r_note[c] : ns_bigraph_edge_note(f->r_graph, c);
}
static inline size_t ns_guard_src(const ns_guard_fit *f, size_t c) {
  if (f->r_src) return f->r_src[c];
  return f->r_src_note ? (uint32_t)((uint32_t)c + f->r_src_note[ns_guard_row_note(f, c)]) : c;
}
static inline int32_t ns_guard_note(const ns_guard_fit *f, size_t j) {
  return ns_guard_row_note(f, ns_guard_row(f, j));
}
static inline int32_t ns_guard_rater(const ns_guard_fit *f, size_t j) {
  return f->r_rater[ns_guard_row(f, j)];
}
static inline float ns_guard_weight(const ns_guard_fit *f, size_t j) {
  if (f->r_weight) return f->r_weight[ns_guard_row(f, j)];
  return f->r_weight_code ? f->weight_value[f->r_weight_code[ns_guard_row(f, j)]] : 1.0f;
}
/* Are the ratings weighted (r_weight or r_weight_code)? */
static inline int ns_guard_weighted(const ns_guard_fit *f) {
  return f->r_weight || f->r_weight_code;
}
static inline uint32_t ns_guard_tags(const ns_guard_fit *f, size_t j) {
  return ns_r_meta_tags(f->r_meta[ns_guard_src(f, ns_guard_row(f, j))]);
}

#define NS_GUARD_MAX_K NS_MF_MAX_K

/* Ridge strengths of the note-only refits (mf.h defaults 0.15 / 0.03). */
typedef struct ns_guard_reg {
  double lambda_in, lambda_fn;
  double rho;                 /* 0: mean regulariser (pen = lambda*N/n_notes);
                                 > 0: ratio mode (pen = lambda*rho) */
} ns_guard_reg;

/* ---- quantiles --------------------------------------------------------- */

/* numpy.quantile(x, q) with the default "linear" method on sorted x[0..n):
** h = q*(n-1), result = lerp(x[floor h], x[floor h + 1], h - floor h), using
** numpy's two-sided lerp so the bits match.  NAN when n == 0. */
double ns_guard_quantile_sorted(const double *x, size_t n, double q);
/* Same on unsorted data: copies, sorts (NaNs dropped), evaluates.  *out NAN if
** no finite value.  Returns 0 or NS_ENOMEM. */
int ns_guard_quantile(const double *x, size_t n, double q, double *out);
/* Same on data the caller no longer needs: x[0..n) is reordered (and its
** NaNs dropped) in place, with no copy.  Returns 0. */
int ns_guard_quantile_inplace(double *x, size_t n, double q, double *out);
/* The reference's np.quantile(x, np.arange(0, 1, .01))[p] : q = p * 0.01
** computed in double exactly as numpy's arange does. */
double ns_guard_pct_q(int p);

/* ---- shared machinery: exact note-only refit ------------------------- */

/* Refits every note with raters and mu frozen, on the ratings with
** keep[e] != 0 (keep NULL = all).  A note is refit only if it keeps at least
** min_ratings ratings; in mean mode N and n_notes count only those notes.
** extra (may be NULL) adds, for every refit note, one rating from a pseudo-
** rater with intercept extra_icpt, factor extra_fac[0..k) and value
** extra_value (weight 1).  Outputs: icpt_out[n_notes], fac_out[n_notes*k]
** (may be NULL); NAN for notes not refit.  *n_refit (may be NULL) = notes
** refit. */
typedef ns_ridge_pseudo ns_guard_pseudo;  /* factorization/ridge.h */
int ns_guard_refit_notes(const ns_guard_fit *f, const uint8_t *keep,
                         const ns_guard_reg *reg, int min_ratings,
                         const ns_guard_pseudo *extra, ns_pool *pool,
                         double *icpt_out, double *fac_out, size_t *n_refit);

/* ---- 1. pseudo-rater bounds (§4.6) ------------------------------------ */

typedef struct ns_guard_bounds {
  double *icpt_min, *icpt_max;   /* n_notes each (caller-allocated) */
  double *fac_min, *fac_max;     /* n_notes each, factor dimension 0; may be NULL */
  double *icpt_orig, *fac_orig;  /* refit on the original ratings; may be NULL */
  double seconds;                /* OUT: wall time of the 4 refits */
} ns_guard_bounds;

/* Pseudo-raters: intercept = min_u i_u, factor in {min_u f_u, 0, max_u f_u}
** (element-wise for k > 1), over raters with at least one rating.  Four
** note-only refits with the mean regulariser (reg->rho is ignored): the
** original ratings, and the original plus one HELPFUL pseudo-rating per note
** for each pseudo-rater.  Min/max over the four.  Notes with no rating: NAN. */
int ns_guard_pseudo_bounds(const ns_guard_fit *f, const ns_guard_reg *reg,
                           ns_pool *pool, ns_guard_bounds *out);

/* UcbCRNH (§4.1 step 4): n >= 5 and icpt_max < -0.04. */
int ns_guard_ucb_crnh(int32_t num_ratings, double icpt_max);

/* ---- 2. tag-outlier filter (§4.3) -------------------------------------- */

/* Per-rating weights a_e = 1/(1+(d/p40)^5), d = |z(f_u) - z(f_n)|, z = (x -
** mean)/std (population std, ddof 0) over the notes / raters that have at
** least one rating in f; p40 = 40th percentile of d over all ratings.
** weight_out[n_ratings]. */
int ns_guard_tag_weights(const ns_guard_fit *f, double *weight_out);

/* The same weights without storing them: the normalisation (means and
** standard deviations of both factor clouds) and p40, found with one
** double per rating of scratch; ns_guard_tag_weight() is then a_j. */
typedef struct ns_guard_tag_scale {
  double mn, sn;              /* notes' factor: mean, population std */
  double mr, sr;              /* raters' */
  double p40;                 /* 40th percentile of the distances */
} ns_guard_tag_scale;
int ns_guard_tag_scale_fit(const ns_guard_fit *f, ns_guard_tag_scale *s);
double ns_guard_tag_weight(const ns_guard_fit *f, const ns_guard_tag_scale *s, size_t j);

/* Per note: rating_weight[n] = sum a_e; adjusted[n*13+t] = sum a_e*tag;
** ratio[n*13+t] = adjusted / rating_weight (NAN for notes without ratings).
** t indexes the 13 not-helpful tags in TSV order (tag bit 9+t).
** rating_weight may be NULL. */
int ns_guard_tag_aggregate(const ns_guard_fit *f, const double *weight,
                           double *adjusted, double *ratio, double *rating_weight);
/* The same with a_e = ns_guard_tag_weight(f, s, e) * the fit's weight of e
** (r_weight; 1 when NULL), computed as the sums go: no per-rating array.
** Sums and products are those of ns_guard_tag_aggregate on the array
** a_e * (double)r_weight[e], so the results are bit-identical. */
int ns_guard_tag_aggregate_scaled(const ns_guard_fit *f, const ns_guard_tag_scale *s,
                                  double *adjusted, double *ratio, double *rating_weight);

/* thresholds[t] = np.quantile(ratio[:,t] over notes with is_crh[n],
** arange(0,1,.01))[pct]; 0.0 when no note qualifies. */
int ns_guard_tag_thresholds(size_t n_notes, const double *ratio,
                            const uint8_t *is_crh, int pct, double thresholds[13]);

/* base_share[t] = sum_n adjusted[n*13+t] / sum_n sum_t' adjusted[n*13+t']:
** each not-helpful tag's share of all weighted tag mentions of the run
** (0 for every tag when there is none).  Summed in note order. */
void ns_guard_tag_base_shares(size_t n_notes, const double *adjusted, double base_share[13]);

/* fired[n] = NS_TAG_BIT(9+t) for each tag with adjusted > 2.5 and ratio >
** thresholds[t], HardToUnderstand excluded (activeFilterTags): the
** reference rule.  With base_share (ns_guard_tag_base_shares) a tag must
** also pass the share test: with m = sum_t' adjusted[n*13+t'] the note's
** weighted tag mentions and s = adjusted[n*13+t] / m, the Wilson lower
** bound of s at z = NS_GUARD_TAG_SHARE_Z (m taken as the sample size) must
** exceed NS_GUARD_TAG_SHARE_LIFT * base_share[t].  base_share NULL: the
** reference rule alone. */
void ns_guard_tag_filter(size_t n_notes, const double *adjusted, const double *ratio,
                         const double thresholds[13], const double *base_share,
                         uint32_t *fired);

/* The whole tag filter on f's ratings: a_e as in
** ns_guard_tag_aggregate_scaled; thresholds (pct) from the notes with
** is_crh[n] and a rating weight > 0; with share_test the base shares; then
** fired[n] as ns_guard_tag_filter gives it -- the same bits as those four
** calls on full tables, without the two tables of 13 doubles per note
** (208 bytes): when f's ratings are grouped by note (ascending, as the
** engine's are) only the is_crh notes' ratios are kept, and each note's rows
** are summed again as it is judged (the tag weights computed twice).
** Ratings not grouped by note take the tables.  Returns 0, NS_EINVAL (no
** r_meta or s, a note out of range) or NS_ENOMEM. */
int ns_guard_tag_filter_run(const ns_guard_fit *f, const ns_guard_tag_scale *s,
                            const uint8_t *is_crh, int pct, int share_test, uint32_t *fired);

/* ---- 3. incorrect filter (§4.4) ---------------------------------------- */

/* Over a rater's whole history (all ratings given): incorrect[u] = #ratings
** with the Incorrect tag among those with any not-helpful tag, nh_total[u] =
** #ratings with any not-helpful tag.  Arrays of n_raters.  A rating's tags
** are those of r_meta[e] (the dataset's packed word, base/dataset.h). */
void ns_guard_incorrect_counts(size_t n_ratings, const int32_t *r_rater,
                               const uint32_t *r_meta, size_t n_raters,
                               int32_t *incorrect, int32_t *nh_total);

typedef struct ns_guard_incorrect {
  int32_t *count;        /* notHelpfulIncorrect_interval (n_notes) */
  int32_t *voters;       /* num_voters_interval */
  double *p_sum;         /* p_incorrect_user_interval */
  double *tfidf;         /* tf_idf_incorrect_interval, NAN if no voter */
  uint8_t *fired;        /* rule verdict */
} ns_guard_incorrect;

/* Ratings of f with a not-helpful tag and |clip(f_u) - clip(f_n)| < 0.3;
** per note the count, voters, sum over voters of incorrect[u]/nh_total[u]
** (0 when nh_total is 0), tf-idf = count / ln(1 + p_sum).  Fires when count
** >= 2, voters >= 3 and tf-idf >= threshold (2.5).  f->r_meta required. */
int ns_guard_incorrect_filter(const ns_guard_fit *f, const int32_t *incorrect,
                              const int32_t *nh_total, double threshold,
                              ns_guard_incorrect *out);

/* ---- 4. high-volume raters and rater-exclusion refits (§1.7, §4.1.15) -- */

/* flag[u] = 1 if rater u's rating count in the 7- or 28-day window ending at
** the newest rating (created >= newest - window) is greater than the 0.999
** quantile of the per-rater counts in that window (raters with >= 1 rating
** there).  All 0 when n_notes_total < 200.  Rating e's creation time is
** ns_r_created(ds, r_src[e]) (r_src NULL: row e of ds), so the engine reads
** the dataset through its edges' rows instead of copying the times.
** NS_EINVAL for a rater or row out of range. */
int ns_guard_high_volume(size_t n_ratings, const int32_t *r_rater,
                         const ns_dataset *ds, const uint32_t *r_src,
                         size_t n_raters, size_t n_notes_total, uint8_t *flag);

/* Note-only refit without the ratings of raters with excluded[u] != 0
** (NoHighVol / NoCorrelated intercepts).  Notes keeping fewer than
** min_ratings ratings get NAN.  icpt_out[n_notes]. */
int ns_guard_refit_excluding(const ns_guard_fit *f, const uint8_t *excluded,
                             const ns_guard_reg *reg, int min_ratings,
                             ns_pool *pool, double *icpt_out);

/* NoHighVolIntercept / NoCorrelatedIntercept: CRH and icpt < threshold; NAN
** never triggers. */
int ns_guard_low_baseline(int status, double icpt, double threshold);

/* ---- 5. population-sampled check (§4.7 step 8) ------------------------ */

typedef struct ns_guard_popsampled {
  double *icpt;          /* n_notes: refit on POPULATION_SAMPLED ratings only
                            (ratio mode rho 10, >= 5 ratings), NAN otherwise */
  int32_t *n_neg, *n_pos;/* pop.-sampled ratings by raters with f_u < 0 / >= 0 */
} ns_guard_popsampled;
int ns_guard_population_sampled(const ns_guard_fit *f, const uint8_t *r_source,
                                const ns_guard_reg *reg, ns_pool *pool,
                                ns_guard_popsampled *out);
/* PopulationSampledIntercept: CRH, n_neg + n_pos >= 8, each >= 2, icpt_pop <
** 0.30 and icpt_core - icpt_pop >= 0.15 -> 1 (demote to NMR). */
int ns_guard_pop_demote(int status, double icpt_core, double icpt_pop,
                        int32_t n_neg, int32_t n_pos);

/* ---- 6. harassment/abuse tag consensus (§3.6) and penalty (§3.2) ------ */

/* Label of one rating for the harassment model: 1 if SpamHarassment tag,
** 0 if HELPFUL or (NotHelpfulOther without the tag), -1 otherwise (dropped). */
int ns_guard_harassment_label(uint8_t level, uint32_t tags);

/* Labels for the whole rating list, the edges of g (rating e: rater
** g->edge_rater[e], note ns_bigraph_edge_note(g, e)): -1 for ratings
** before 2021-12-15 or without a label, then the reference's
** filter_ratings(raters >= 10, notes >= 5) on the labelled ones (one pass
** notes, raters, notes).  Rating e's level, tags and time are row
** r_src[e] of ds (r_src NULL: row e).  label[g->n_edges].  Returns 0,
** NS_EINVAL, NS_ENOMEM. */
int ns_guard_harassment_labels(const ns_bigraph *g, const ns_dataset *ds, const uint32_t *r_src,
                               int8_t *label);

/* Logistic MF with intercepts, BCE-with-logits loss with pos_weight
** (1-p)/p and the mean regulariser, fitted by alternating exact-Hessian
** Newton steps per row (deterministic), on the edges of g (g's notes and
** raters are the model's rows).  Edges with label < 0 are ignored.
** Init: intercepts 0, factors = 2 x the given helpfulness factors (NULL = a
** small deterministic value).  Outputs note_icpt[n_notes] (NAN for notes
** with no labelled rating), note_fac/rater_* may be NULL. */
typedef struct ns_guard_logit_params {
  double lambda_i, lambda_f, lambda_mu;  /* 0.15, 0.03, 0.15 */
  int iters;                             /* cap on Newton passes (50) */
  double tol;                            /* stop when no parameter moved
                                            more than tol in a pass (1e-4) */
  int *passes_out;                       /* OUT if not NULL: passes run
                                            (0 when no model was fitted) */
} ns_guard_logit_params;
void ns_guard_logit_params_default(ns_guard_logit_params *p);
int ns_guard_harassment_fit(const ns_bigraph *g, int k, const int8_t *label,
                            const double *init_note_fac, const double *init_rater_fac,
                            const ns_guard_logit_params *p, ns_pool *pool,
                            double *note_icpt, double *note_fac,
                            double *rater_icpt, double *rater_fac, double *mu);

/* penalty[u] (g->n_raters) = sum over u's HELPFUL ratings (the edges of
** g) on notes with harassment intercept >= 2.0 of 10 * (intercept / 2.0).
** g's notes index note_icpt; rating e's level is that of row r_src[e] of
** ds (r_src NULL: row e). */
void ns_guard_harassment_penalty(const ns_bigraph *g, const ns_dataset *ds,
                                 const uint32_t *r_src, const double *note_icpt,
                                 double *penalty);

/* ---- 7. low-diligence model (§4.5, §6) -------------------------------- */

/* The tags whose presence makes a rating "low diligence" (target 1). */
#define NS_GUARD_DILIGENCE_TAGS                                                \
  (NS_TAG_BIT(NS_TAG_NH_INCORRECT) | NS_TAG_BIT(NS_TAG_NH_IRRELEVANT_SOURCES) | \
   NS_TAG_BIT(NS_TAG_NH_SOURCES_MISSING))

/* Target of one rating: 1 if any of NS_GUARD_DILIGENCE_TAGS is set, else 0. */
int ns_guard_diligence_label(uint32_t tags);

/* The reputation MF of reference §6 with BCE-with-logits, 1-D factors:
**
**   z_e = f_n f_u + i_n rho_u + i_u + mu
**   L   = (1/N) sum_e w_e BCE(z_e, y_e) + lambda [ mean_n f_n^2
**         + m_in mean_n i_n^2 + m_iu mean_u i_u^2 + m_rho mean_u rho_u^2
**         + m_mu mu^2 ]
**
** fitted in three rounds: (1) i_n, f_n, i_u, mu (rho = 1); (2) f_n, i_u,
** rho_u, mu (i_n frozen); (3) i_n, i_u, mu, with w_e additionally scaled
** by the rater's reputation ((alpha + max(rho,0)^e)/(1+alpha)) and then by
** (sum of the note's weights + 2^-20)^note_norm_exp3.  w_e = base_e *
** pos_weight[r] for y = 1, base_e for y = 0 (base_e = r_weight, or 1).
** Defaults are the reference's diligence hyperparameters.
**
** Deliberate simplification: the rater factor f_u is an input (the
** caller's helpfulness factor; the reference starts there and lets it
** move, adding lambda mean_u f_u^2).  With f_u fixed every round is a
** convex problem with one optimum; the bilinear version converges only
** after ~200 block passes and its intercepts depend on where it stops
** (docs/guardrails.md §7). */
typedef struct ns_guard_diligence_params {
  double lambda;               /* l2Lambda 0.03 */
  double mult_note_icpt;       /* 1 */
  double mult_rater_icpt;      /* 10 */
  double mult_reputation;      /* 50 */
  double mult_mu;              /* 0: mu is not regularised */
  double pos_weight[3];        /* per round: 100, 100 (x1), 500 (x5) */
  double note_norm_exp3;       /* round-3 noteNormExp -0.5 */
  double rep_exp, rep_alpha;   /* reputationExp 0.5, alpha 0.1 */
  int max_passes;              /* cap on block passes per round (30) */
  double tol;                  /* a round stops when no parameter moved
                                  more than tol in a pass (2e-2) */
  int max_codes;               /* weighted fits: at most this many distinct
                                  base weights as codes in the slots (0 =
                                  the most the slots hold, up to 4096);
                                  more go per slot.  Either way the same
                                  bits: a test knob */
} ns_guard_diligence_params;
void ns_guard_diligence_params_default(ns_guard_diligence_params *p);

typedef struct ns_guard_diligence_out {
  double *note_icpt;           /* n_notes, required: round-3 i_n
                                  (lowDiligenceIntercept); NAN for notes with
                                  no labelled rating */
  double *note_fac;            /* n_notes or NULL: f_n (NAN as note_icpt) */
  double *rater_icpt, *rater_rep;  /* n_raters or NULL: i_u, rho_u (NAN for
                                  raters with no labelled rating) */
  double mu[3];                /* OUT: mu after each round (NAN: no model) */
  int passes[3];               /* OUT: passes run per round */
} ns_guard_diligence_out;

/* Fits the model on the ratings with label[e] >= 0 (0/1 targets, see
** ns_guard_diligence_label).  r_weight (may be NULL) is a per-rating base
** weight, > 0 for ratings to use.  rater_fac (n_raters; NULL = no factor
** term) is f_u.  Starts from rho = 1, i = f_n = 0 and mu at the weighted
** log-odds of the targets.
** Solver: block coordinate descent, Newton iterations per note row and per
** rater row (2x2 systems), parallel over rows with disjoint writes, so the
** result does not depend on the thread count.  With no labelled rating,
** or all targets equal, no model is fitted and every output is NAN
** (passes 0).  Returns 0, NS_EINVAL, NS_ENOMEM. */
int ns_guard_diligence_fit(size_t n_notes, size_t n_raters, size_t n_ratings,
                           const int32_t *r_note, const int32_t *r_rater,
                           const int8_t *label, const float *r_weight,
                           const double *rater_fac,
                           const ns_guard_diligence_params *p, ns_pool *pool,
                           ns_guard_diligence_out *out);

/* The same fit on f's ratings read through its view (ns_guard_fit: note,
** rater, weight r_weight; values and factors of f are not used).  label
** NULL: every rating labelled from its tags (ns_guard_diligence_label;
** f->r_meta required), with no per-rating label array. */
int ns_guard_diligence_fit_view(const ns_guard_fit *f, const int8_t *label,
                                const double *rater_fac, const ns_guard_diligence_params *p,
                                ns_pool *pool, ns_guard_diligence_out *out);

/* FilterLowDiligence (§4.1 step 10): icpt > 0.263; NAN never fires. */
int ns_guard_low_diligence(double icpt);

/* ---- 8. stabilization (§4.8) ------------------------------------------ */
/* (ScoringDriftGuard and the lock, §4.9, are engine/rules.c and
** engine/pipeline_history.c: ns__rules_meta, ns__history_update.) */

typedef struct ns_guard_stab_in {
  int prev_status;       /* previous currentStatus (NS_STATUS_UNSET if none) */
  int scored_status;     /* status decided so far this run */
  int64_t t_stab;        /* timestampMillisOfNmrDueToMinStableCrhTime:
                            NS_TS_NONE = never, > 0 start, -1 exited */
  int first_non_nmr;     /* firstNonNMRStatus (NS_STATUS_UNSET if none) */
  int topic_unconfident; /* 1: topic note whose topic model is not confident */
  int pflip_crh;         /* 1: pflip predicts CRH; 0 no; -1 no prediction */
  int64_t now_ms;
} ns_guard_stab_in;
typedef struct ns_guard_stab_out {
  int status;            /* status after the rule */
  int64_t t_stab;        /* new timestamp field */
  int fired;             /* 1 if NmrDueToMinStableCrhTime changed the status */
} ns_guard_stab_out;
void ns_guard_stabilize(const ns_guard_stab_in *in, ns_guard_stab_out *out);

/* ---- rule application -------------------------------------------------- */

/* Records rule in *rules and sets *status = new_status (the reference's
** "a later rule overwrites an earlier one"). */
static inline void ns_guard_apply(int8_t *status, uint32_t *rules, int rule,
                                  int new_status) {
  *status = (int8_t)new_status;
  *rules |= 1u << rule;
}

#endif /* NS_GUARDRAILS_H */
