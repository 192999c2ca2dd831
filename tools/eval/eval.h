/*
** tools/eval/eval.h -- `notescore eval`: quality and attack metrics of a scoring
** run against the ground truth written by `notescore gen`.
**
** Inputs: DIR/truth_notes.tsv (tools/gen/gen.c) and OUTDIR/scored_notes.tsv (the
** scorer), both mapped by header name; optionally a second scorer output
** to count status differences between two runs (e.g. trust on vs off).
** When OUTDIR/helpfulness_scores.tsv exists, also DIR/truth_raters.tsv, for
** how many honest, clique and ring raters the coordination signals flag.
**
** Who calls it: tools/cmd_eval.c and the tests.  Single-threaded; no global
** state.  Definitions of every metric: docs/gen.md.
*/
#ifndef NS_EVAL_H
#define NS_EVAL_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

typedef struct ns_eval_result {
  /* coverage */
  size_t n_truth;          /* rows of truth_notes.tsv */
  size_t n_scored;         /* rows of scored_notes.tsv */
  size_t n_missing;        /* truth notes absent from scored_notes.tsv */
  /* finalRatingStatus of the truth notes (missing ones in n_missing) */
  size_t n_crh, n_crnh, n_nmr, n_other;
  /* CRH / CRNH against trueHelpful */
  size_t n_true_helpful, n_true_unhelpful;
  size_t crh_true;         /* CRH and trueHelpful */
  size_t crnh_false;       /* CRNH and not trueHelpful */
  double crh_precision;    /* crh_true / n_crh; NAN when n_crh == 0 */
  double crh_recall;       /* crh_true / n_true_helpful */
  double crnh_precision;   /* crnh_false / n_crnh */
  double crnh_recall;      /* crnh_false / n_true_unhelpful */
  /* partisan notes: |slant| > NS_GEN_PARTISAN_CUTOFF */
  size_t n_partisan, partisan_crh;
  /* Spearman rank correlation of coreNoteIntercept with quality, over truth
  ** notes with a finite intercept (ties get average ranks); NAN if < 2 */
  size_t n_intercept;
  double spearman;
  /* planted attack (ringTargetKind bad/good) and incorrect-popular notes */
  size_t n_bad_targets, bad_targets_crh, bad_targets_crnh;
  size_t n_good_targets, good_targets_crh, good_targets_not_crh;
  size_t n_incorrect_popular, incorrect_popular_crh;
  /* coordination signals (OUTDIR/helpfulness_scores.tsv): a rater is
  ** flagged when its coordinatedGroupId or quasiCliqueId is a positive
  ** integer; counted over the raters of DIR/truth_raters.tsv */
  int has_coord;           /* 0 when helpfulness_scores.tsv is missing */
  size_t n_honest_raters;  /* isRing 0 and cliqueId 0 */
  size_t honest_flagged;
  double honest_flagged_share; /* NAN when n_honest_raters == 0 */
  size_t n_clique_raters, clique_flagged; /* cliqueId > 0 (planted benign cliques) */
  size_t n_ring_raters, ring_flagged;     /* isRing 1 */
  /* second run (--scores-b): notes in either file whose status differs
  ** (a note absent from one file counts as a difference) */
  int has_b;
  size_t n_compared, n_differ;
  double pct_differ;       /* 100 * n_differ / n_compared; NAN if none */
} ns_eval_result;

/* Computes every metric.  truth_dir holds truth_notes.tsv; scores_dir (and
** scores_b_dir, may be NULL) hold scored_notes.tsv.  Returns 0, or an error
** (-errno for unreadable files, NS_ECOLUMN for a missing column, NS_EPARSE
** for a bad value, NS_ENOMEM) with a "FILE:LINE: what is wrong" message in
** err (err_len bytes, may be NULL / 0). */
int ns_eval_run(const char *truth_dir, const char *scores_dir, const char *scores_b_dir,
                ns_eval_result *out, char *err, size_t err_len);

/* The result as a human-readable table. */
void ns_eval_print(FILE *f, const ns_eval_result *r);

/* The result as a JSON object (new reference; NAN becomes null).  NULL on
** allocation failure. */
json_t *ns_eval_to_json(const ns_eval_result *r);

#endif /* NS_EVAL_H */
