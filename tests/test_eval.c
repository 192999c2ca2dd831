/*
** tests/test_eval.c -- the evaluator (tools/eval/eval.c) on hand-made files.
**
** Nine truth notes and a scored_notes.tsv whose every metric is worked out
** by hand in the comments below.  Column order differs from gen's on
** purpose: both files are mapped by header name.
*/
#include <errno.h>

#include "harness.h"

#include "../tools/eval/eval.h"

static void write_file(const char *dir, const char *name, const char *text) {
  char path[4300];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  ASSERT_OK(ns_test_sh("mkdir -p '%s'", dir));
  f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs(text, f);
  fclose(f);
}

/*
** note quality slant  truth    status A  intercept  B status  remarks
**  1    1.0    0.0   helpful   CRH       0.50       CRH
**  2    0.8    0.1   helpful   NMR       0.30       CRH       (differs)
**  3   -0.5    1.2   unhelp.   CRH       0.45       NMR       partisan (differs)
**  4   -1.0    0.0   unhelp.   CRNH     -0.20       CRNH
**  5    0.2   -0.9   unhelp.   NMR       (none)     absent    partisan (differs)
**  6    0.9    0.0   helpful   NMR       0.10       NMR       good target
**  7   -0.3    0.0   unhelp.   CRH       0.42       CRH       bad target
**  8    0.1    0.0   unhelp.   CRH       0.41       CRH       incorrect-popular
**  9    0.6    0.0   helpful   (missing)            absent
** 10   (not in truth)          CRNH     -0.10       absent    (differs)
** 11   (not in truth)          absent               NMR       (differs)
*/
static const char truth_tsv[] =
    "noteId\tslant\tquality\ttrueHelpful\tisPartisan\tisIncorrectPopular\tisRingTarget\tringTargetKind\textra\n"
    "1\t0.0\t1.0\t1\t0\t0\t0\t\tx\n"
    "2\t0.1\t0.8\t1\t0\t0\t0\t\tx\n"
    "3\t1.2\t-0.5\t0\t1\t0\t0\t\tx\n"
    "4\t0.0\t-1.0\t0\t0\t0\t0\t\tx\n"
    "5\t-0.9\t0.2\t0\t1\t0\t0\t\tx\n"
    "6\t0.0\t0.9\t1\t0\t0\t1\tgood\tx\n"
    "7\t0.0\t-0.3\t0\t0\t0\t1\tbad\tx\n"
    "8\t0.0\t0.1\t0\t0\t1\t0\t\tx\n"
    "9\t0.0\t0.6\t1\t0\t0\t0\t\tx\n";

static const char scores_a[] =
    "noteId\tcoreNoteIntercept\tcoreNoteFactor1\tfinalRatingStatus\tfirstTag\n"
    "8\t0.41\t0.0\tCURRENTLY_RATED_HELPFUL\t\n"
    "1\t0.5\t0.1\tCURRENTLY_RATED_HELPFUL\thelpfulClear\n"
    "2\t0.3\t0.1\tNEEDS_MORE_RATINGS\t\n"
    "3\t0.45\t0.2\tCURRENTLY_RATED_HELPFUL\t\n"
    "4\t-0.2\t0.0\tCURRENTLY_RATED_NOT_HELPFUL\t\n"
    "5\t\t\tNEEDS_MORE_RATINGS\t\n"
    "6\t0.1\t0.0\tNEEDS_MORE_RATINGS\t\n"
    "7\t0.42\t0.0\tCURRENTLY_RATED_HELPFUL\t\n"
    "10\t-0.1\t0.0\tCURRENTLY_RATED_NOT_HELPFUL\t\n";

static const char scores_b[] =
    "noteId\tfinalRatingStatus\n"
    "1\tCURRENTLY_RATED_HELPFUL\n"
    "2\tCURRENTLY_RATED_HELPFUL\n"
    "3\tNEEDS_MORE_RATINGS\n"
    "4\tCURRENTLY_RATED_NOT_HELPFUL\n"
    "6\tNEEDS_MORE_RATINGS\n"
    "7\tCURRENTLY_RATED_HELPFUL\n"
    "8\tCURRENTLY_RATED_HELPFUL\n"
    "11\tNEEDS_MORE_RATINGS\n";

static void setup(char *t, char *a, char *b) {
  const char *d = ns_test_tmpdir();
  sprintf(t, "%s/truth", d);
  sprintf(a, "%s/a", d);
  sprintf(b, "%s/b", d);
  write_file(t, "truth_notes.tsv", truth_tsv);
  write_file(a, "scored_notes.tsv", scores_a);
  write_file(b, "scored_notes.tsv", scores_b);
}

TEST(eval_hand_worked) {
  char t[4200], a[4200], b[4200], err[512];
  ns_eval_result r;
  setup(t, a, b);
  ASSERT_OK(ns_eval_run(t, a, b, &r, err, sizeof err));
  ASSERT_EQ(r.n_truth, 9);
  ASSERT_EQ(r.n_scored, 9);
  ASSERT_EQ(r.n_missing, 1);              /* note 9 */
  ASSERT_EQ(r.n_crh, 4);                  /* 1 3 7 8 */
  ASSERT_EQ(r.n_crnh, 1);                 /* 4 */
  ASSERT_EQ(r.n_nmr, 3);                  /* 2 5 6 */
  ASSERT_EQ(r.n_other, 0);
  ASSERT_EQ(r.n_true_helpful, 4);         /* 1 2 6 9 */
  ASSERT_EQ(r.n_true_unhelpful, 5);       /* 3 4 5 7 8 */
  ASSERT_EQ(r.crh_true, 1);               /* 1 */
  ASSERT_NEAR(r.crh_precision, 0.25, 1e-12);
  ASSERT_NEAR(r.crh_recall, 0.25, 1e-12);
  ASSERT_EQ(r.crnh_false, 1);             /* 4 */
  ASSERT_NEAR(r.crnh_precision, 1.0, 1e-12);
  ASSERT_NEAR(r.crnh_recall, 0.2, 1e-12);
  ASSERT_EQ(r.n_partisan, 2);             /* 3 (1.2), 5 (-0.9) */
  ASSERT_EQ(r.partisan_crh, 1);           /* 3 */
  /* intercepts on 1 2 3 4 6 7 8; rank pairs (quality, intercept):
   * 1 (7,7) 2 (5,3) 3 (2,6) 4 (1,1) 6 (6,2) 7 (3,5) 8 (4,4);
   * sum d^2 = 0+4+16+0+16+4+0 = 40; rho = 1 - 6*40/(7*48) = 2/7 */
  ASSERT_EQ(r.n_intercept, 7);
  ASSERT_NEAR(r.spearman, 2.0 / 7.0, 1e-12);
  ASSERT_EQ(r.n_bad_targets, 1);
  ASSERT_EQ(r.bad_targets_crh, 1);
  ASSERT_EQ(r.bad_targets_crnh, 0);
  ASSERT_EQ(r.n_good_targets, 1);
  ASSERT_EQ(r.good_targets_crh, 0);
  ASSERT_EQ(r.good_targets_not_crh, 1);
  ASSERT_EQ(r.n_incorrect_popular, 1);
  ASSERT_EQ(r.incorrect_popular_crh, 1);
  /* union 1..8,10,11 = 10 notes; differ: 2 3 5 10 11 */
  ASSERT_EQ(r.has_b, 1);
  ASSERT_EQ(r.n_compared, 10);
  ASSERT_EQ(r.n_differ, 5);
  ASSERT_NEAR(r.pct_differ, 50.0, 1e-12);
}

TEST(eval_json) {
  char t[4200], a[4200], b[4200];
  ns_eval_result r;
  json_t *o, *v;
  setup(t, a, b);
  ASSERT_OK(ns_eval_run(t, a, NULL, &r, NULL, 0));
  ASSERT_EQ(r.has_b, 0);
  o = ns_eval_to_json(&r);
  ASSERT(o != NULL);
  ASSERT_NEAR(json_real_value(json_object_get(o, "crhPrecision")), 0.25, 1e-12);
  ASSERT_NEAR(json_real_value(json_object_get(o, "spearmanInterceptQuality")), 2.0 / 7.0, 1e-12);
  ASSERT_EQ(json_integer_value(json_object_get(json_object_get(o, "statusCounts"),
                                               "CURRENTLY_RATED_HELPFUL")), 4);
  v = json_object_get(o, "attack");
  ASSERT_EQ(json_integer_value(json_object_get(v, "badTargetsCrh")), 1);
  ASSERT_EQ(json_integer_value(json_object_get(v, "goodTargetsNotCrh")), 1);
  ASSERT(json_object_get(o, "statusDiff") == NULL);
  json_decref(o);
}

TEST(eval_undefined_metrics_are_null) {
  const char *d = ns_test_tmpdir();
  char t[4200], a[4200];
  ns_eval_result r;
  json_t *o;
  sprintf(t, "%s/t", d);
  sprintf(a, "%s/a", d);
  /* no CRH, no CRNH, one intercept: ratios and Spearman undefined */
  write_file(t, "truth_notes.tsv", "noteId\ttrueHelpful\tquality\tslant\n1\t1\t0.9\t0\n2\t0\t0.1\t0\n");
  write_file(a, "scored_notes.tsv", "noteId\tfinalRatingStatus\tcoreNoteIntercept\n1\tNEEDS_MORE_RATINGS\t0.3\n"
                                    "2\tFIRM_REJECT\tnan\n");
  ASSERT_OK(ns_eval_run(t, a, NULL, &r, NULL, 0));
  ASSERT_EQ(r.n_nmr, 1);
  ASSERT_EQ(r.n_other, 1);
  ASSERT(isnan(r.crh_precision));
  ASSERT_NEAR(r.crh_recall, 0.0, 0);
  ASSERT(isnan(r.spearman));
  ASSERT_EQ(r.n_intercept, 1);
  o = ns_eval_to_json(&r);
  ASSERT(json_is_null(json_object_get(o, "crhPrecision")));
  ASSERT(json_is_null(json_object_get(o, "spearmanInterceptQuality")));
  json_decref(o);
}

TEST(eval_spearman_ties) {
  const char *d = ns_test_tmpdir();
  char t[4200], a[4200];
  ns_eval_result r;
  sprintf(t, "%s/t", d);
  sprintf(a, "%s/a", d);
  /* quality 1,2,2,3 -> ranks 1,2.5,2.5,4; intercept 0.1,0.3,0.2,0.4 -> 1,3,2,4.
   * Pearson of the ranks: mean 2.5; dev (-1.5,0,0,1.5) and (-1.5,.5,-.5,1.5);
   * cov 4.5, var 4.5 and 5 -> rho = 4.5 / sqrt(22.5) = 0.9486832980505138 */
  write_file(t, "truth_notes.tsv",
             "noteId\ttrueHelpful\tquality\tslant\n1\t0\t1\t0\n2\t0\t2\t0\n3\t0\t2\t0\n4\t1\t3\t0\n");
  write_file(a, "scored_notes.tsv",
             "noteId\tfinalRatingStatus\tcoreNoteIntercept\n1\tNEEDS_MORE_RATINGS\t0.1\n"
             "2\tNEEDS_MORE_RATINGS\t0.3\n3\tNEEDS_MORE_RATINGS\t0.2\n4\tCURRENTLY_RATED_HELPFUL\t0.4\n");
  ASSERT_OK(ns_eval_run(t, a, NULL, &r, NULL, 0));
  ASSERT_NEAR(r.spearman, 4.5 / sqrt(22.5), 1e-12);
}

TEST(eval_errors) {
  const char *d = ns_test_tmpdir();
  char t[4200], a[4200], err[512];
  ns_eval_result r;
  sprintf(t, "%s/t", d);
  sprintf(a, "%s/a", d);
  write_file(t, "truth_notes.tsv", "noteId\ttrueHelpful\tquality\tslant\n1\t1\t0.9\t0\n");
  /* missing column */
  write_file(a, "scored_notes.tsv", "noteId\tstatus\n1\tNEEDS_MORE_RATINGS\n");
  ASSERT_ERR(ns_eval_run(t, a, NULL, &r, err, sizeof err), NS_ECOLUMN);
  ASSERT(strstr(err, "scored_notes.tsv:1: missing required column 'finalRatingStatus'") != NULL);
  /* malformed value on line 3 */
  write_file(a, "scored_notes.tsv", "noteId\tfinalRatingStatus\n1\tNEEDS_MORE_RATINGS\nabc\tX\n");
  ASSERT_ERR(ns_eval_run(t, a, NULL, &r, err, sizeof err), NS_EPARSE);
  ASSERT(strstr(err, "scored_notes.tsv:3:") != NULL);
  /* missing file */
  ASSERT_ERR(ns_eval_run(t, d, NULL, &r, err, sizeof err), -ENOENT);
  ASSERT(strstr(err, "scored_notes.tsv") != NULL);
}

/*
** Coordination signals: eight truth raters against a helpfulness_scores.tsv
** in notescore's layout (column order shuffled, extra columns).
**
** rater  isRing cliqueId  coordinatedGroupId quasiCliqueId  counted as   flagged
**  A      0      0         (empty)            (empty)        honest       no
**  B      0      0         4                  (empty)        honest       yes
**  C      0      0         0                  -1             honest       no
**  D      0      0         (absent from the scores file)     honest       no
**  E      0      2         (empty)            7              clique       yes
**  F      0      2         nan                (empty)        clique       no
**  G      1      0         3.0                (empty)        ring         yes
**  H      1      0         (empty)            (empty)        ring         no
** honest 4, flagged 1 (share 0.25); clique 2, flagged 1; ring 2, flagged 1.
*/
TEST(eval_coordination) {
  const char *d = ns_test_tmpdir();
  char t[4200], a[4200], b[4200], err[512];
  ns_eval_result r;
  json_t *o, *c;
  FILE *f;
  char path[4300];
  sprintf(t, "%s/t", d);
  sprintf(a, "%s/a", d);
  sprintf(b, "%s/b", d);
  write_file(t, "truth_notes.tsv", "noteId\ttrueHelpful\tquality\tslant\n1\t1\t0.9\t0\n");
  write_file(t, "truth_raters.tsv",
             "raterParticipantId\tcamp\tisRing\tnumRatings\tcliqueId\n"
             "A\tleft\t0\t3\t0\nB\tleft\t0\t3\t0\nC\tright\t0\t3\t0\nD\tright\t0\t3\t0\n"
             "E\tleft\t0\t3\t2\nF\tleft\t0\t3\t2\nG\tneutral\t1\t3\t0\nH\tneutral\t1\t3\t0\n");
  write_file(a, "scored_notes.tsv", "noteId\tfinalRatingStatus\n1\tCURRENTLY_RATED_HELPFUL\n");
  write_file(a, "helpfulness_scores.tsv",
             "quasiCliqueId\tcoreRaterIntercept\traterParticipantId\tcoordinatedGroupId\n"
             "\t0.1\tA\t\n\t0.1\tB\t4\n-1\t0.1\tC\t0\n7\t0.1\tE\t\n\t0.1\tF\tnan\n"
             "\t0.1\tG\t3.0\n\t0.1\tH\t\n\t0.1\tZ\t9\n");
  ASSERT_OK(ns_eval_run(t, a, NULL, &r, err, sizeof err));
  ASSERT_EQ(r.has_coord, 1);
  ASSERT_EQ(r.n_honest_raters, 4);
  ASSERT_EQ(r.honest_flagged, 1);
  ASSERT_NEAR(r.honest_flagged_share, 0.25, 1e-12);
  ASSERT_EQ(r.n_clique_raters, 2);
  ASSERT_EQ(r.clique_flagged, 1);
  ASSERT_EQ(r.n_ring_raters, 2);
  ASSERT_EQ(r.ring_flagged, 1);
  o = ns_eval_to_json(&r);
  c = json_object_get(o, "coordination");
  ASSERT(json_is_object(c));
  ASSERT_EQ(json_integer_value(json_object_get(c, "honestRaters")), 4);
  ASSERT_EQ(json_integer_value(json_object_get(c, "honestFlagged")), 1);
  ASSERT_NEAR(json_real_value(json_object_get(c, "honestFlaggedShare")), 0.25, 1e-12);
  ASSERT_EQ(json_integer_value(json_object_get(c, "cliqueRaters")), 2);
  ASSERT_EQ(json_integer_value(json_object_get(c, "cliqueFlagged")), 1);
  ASSERT_EQ(json_integer_value(json_object_get(c, "ringRaters")), 2);
  ASSERT_EQ(json_integer_value(json_object_get(c, "ringFlagged")), 1);
  json_decref(o);
  /* the text table has the section */
  snprintf(path, sizeof path, "%s/out.txt", d);
  f = fopen(path, "w");
  ASSERT(f != NULL);
  ns_eval_print(f, &r);
  fclose(f);
  {
    size_t len;
    char *txt = ns_test_slurp(path, &len);
    ASSERT(txt && strstr(txt, "ring accounts flagged") != NULL);
    free(txt);
  }

  /* without helpfulness_scores.tsv the whole object is null */
  write_file(b, "scored_notes.tsv", "noteId\tfinalRatingStatus\n1\tCURRENTLY_RATED_HELPFUL\n");
  ASSERT_OK(ns_eval_run(t, b, NULL, &r, err, sizeof err));
  ASSERT_EQ(r.has_coord, 0);
  o = ns_eval_to_json(&r);
  ASSERT(json_is_null(json_object_get(o, "coordination")));
  json_decref(o);

  /* only ring raters: the honest share is undefined (null), not 0 */
  write_file(t, "truth_raters.tsv", "raterParticipantId\tisRing\nG\t1\n");
  ASSERT_OK(ns_eval_run(t, a, NULL, &r, err, sizeof err));
  ASSERT_EQ(r.n_honest_raters, 0);
  ASSERT(isnan(r.honest_flagged_share));
  o = ns_eval_to_json(&r);
  ASSERT(json_is_null(json_object_get(json_object_get(o, "coordination"), "honestFlaggedShare")));
  ASSERT_EQ(json_integer_value(json_object_get(json_object_get(o, "coordination"), "ringFlagged")), 1);
  json_decref(o);

  /* a malformed flag is an error naming the file and line */
  write_file(a, "helpfulness_scores.tsv", "raterParticipantId\tcoordinatedGroupId\nA\tx7\n");
  ASSERT_ERR(ns_eval_run(t, a, NULL, &r, err, sizeof err), NS_EPARSE);
  ASSERT(strstr(err, "helpfulness_scores.tsv:2:") != NULL);
}
