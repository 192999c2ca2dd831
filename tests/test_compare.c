/*
** tests/test_compare.c -- the comparison library (tools/eval/compare.c) on
** hand-made files whose every figure is worked out in the comments.
**
** A is a notescore-style scored_notes.tsv (columns in a different order
** from the real one: both are read by name), B a noteStatusHistory file
** or a reference-style scored_notes.tsv.
*/
#include <math.h>

#include "harness.h"

#include "../tools/eval/compare.h"

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

#define CRH "CURRENTLY_RATED_HELPFUL"
#define CRNH "CURRENTLY_RATED_NOT_HELPFUL"
#define NMR "NEEDS_MORE_RATINGS"

/*
** note  A status  A icpt  A fac   B status (reference)  B icpt  B fac
**  1    CRH       0.50    0.1     CRH                   0.52    0.2
**  2    CRNH     -0.20   -0.3     CRH                   0.45   -0.1    swap (worst)
**  3    NMR       0.10    0.0     NMR                   0.12    0.1
**  4    CRH       0.45    0.2     NMR                   0.30    0.3    |d| 0.15
**  5    NMR       (none)          CRH                   0.41    0.0    A none: |0.41-0.40|
**  6    NMR       0.00    0.5     (absent from B)
**  7    (absent)                  NMR                   0.00    0.0
**  3    a repeated row of note 3 in B earlier in the file (dropped: last kept)
**
** Common 1..5: agree 1, 3 -> agreement 2/5.  Matrix [A][B]: [CRH][CRH]=1,
** [CRNH][CRH]=1, [NMR][NMR]=1, [CRH][NMR]=1, [NMR][CRH]=1.  CRH in both: 1
** (note 1); in either: 1, 2, 4, 5 -> Jaccard 1/4.  Worst first: 2 (swap),
** then 4 (0.15) before 5 (0.01).
** Intercepts over 1..4 (5 lacks A's): x = .5 -.2 .1 .45, y = .52 .45 .12 .3.
*/
TEST(compare_figures) {
  const char *d = ns_test_tmpdir();
  char a_dir[4200], b_dir[4200], msg[512];
  ns_cmp_side *a = NULL, *b = NULL;
  ns_cmp_result *r = NULL;
  json_t *j;
  snprintf(a_dir, sizeof a_dir, "%s/a", d);
  snprintf(b_dir, sizeof b_dir, "%s/b", d);
  write_file(a_dir, "scored_notes.tsv",
             "decidedBy\tnoteId\tfinalRatingStatus\tcoreNoteIntercept\tcoreNoteFactor1\t"
             "coreActiveRules\tmetaScorerActiveRules\tcoreNoteInterceptRound1\n"
             "CoreModel\t1\t" CRH "\t0.5\t0.1\tGeneralCRH\tCoreModel\t\n"
             "CoreModel\t2\t" CRNH "\t-0.2\t-0.3\tGeneralCRNH\tCoreModel\t\n"
             "CoreModel\t3\t" NMR "\t0.1\t0\t\t\t\n"
             "Inertia\t4\t" CRH "\t0.45\t0.2\tGeneralCRH\t\t\n"
             "\t5\t" NMR "\t\t\t\t\t\n"
             "CoreModel\t6\t" NMR "\t0\t0.5\t\t\t\n");
  write_file(b_dir, "scored_notes.tsv",
             "noteId\tcoreNoteIntercept\tcoreNoteFactor1\tfinalRatingStatus\tdecidedBy\n"
             "3\t9\t9\t" CRH "\tStale\n"
             "1\t0.52\t0.2\t" CRH "\tCoreModel (v1.1)\n"
             "2\t0.45\t-0.1\t" CRH "\tCoreModel (v1.1)\n"
             "3\t0.12\t0.1\t" NMR "\tCoreModel (v1.1)\n"
             "4\t0.3\t0.3\t" NMR "\tExpansionModel (v1.1)\n"
             "5\t0.41\t0\t" CRH "\tExpansionModel (v1.1)\n"
             "7\t0\t0\t" NMR "\tCoreModel (v1.1)\n");
  ASSERT_OK(ns_cmp_side_load(a_dir, &a, msg, sizeof msg));
  ASSERT_OK(ns_cmp_side_load(b_dir, &b, msg, sizeof msg));
  ASSERT_EQ(a->kind, NS_CMP_NOTESCORE);
  ASSERT_EQ(b->kind, NS_CMP_REFERENCE);
  ASSERT_EQ(b->n, 6);
  ASSERT_EQ(b->n_dup, 1);
  ASSERT_OK(ns_cmp_compute(a, b, &r));
  ASSERT_EQ(r->n_common, 5);
  ASSERT_EQ(r->n_only_a, 1);
  ASSERT_EQ(r->n_only_b, 1);
  ASSERT_EQ(r->n_agree, 2);
  ASSERT_NEAR(r->agreement, 0.4, 1e-12);
  ASSERT_EQ(r->matrix[NS_SCLASS_CRH][NS_SCLASS_CRH], 1);
  ASSERT_EQ(r->matrix[NS_SCLASS_CRNH][NS_SCLASS_CRH], 1);
  ASSERT_EQ(r->matrix[NS_SCLASS_NMR][NS_SCLASS_NMR], 1);
  ASSERT_EQ(r->matrix[NS_SCLASS_CRH][NS_SCLASS_NMR], 1);
  ASSERT_EQ(r->matrix[NS_SCLASS_NMR][NS_SCLASS_CRH], 1);
  ASSERT_EQ(r->crh_both, 1);
  ASSERT_EQ(r->crh_either, 4);
  ASSERT_NEAR(r->crh_jaccard, 0.25, 1e-12);
  /* Pearson by hand: mx = .2125, my = .3475;
  ** dx = .2875 -.4125 -.1125 .2375, dy = .1725 .1025 -.2275 -.0475
  ** sxy = .04959375 -.04228125 +.02559375 -.01128125 = .021625
  ** sxx = .08265625+.17015625+.01265625+.05640625 = .321875
  ** syy = .02975625+.01050625+.05175625+.00225625 = .094275 */
  ASSERT_EQ(r->n_intercept, 4);
  ASSERT_NEAR(r->r_intercept, 0.021625 / sqrt(0.321875 * 0.094275), 1e-12);
  ASSERT_EQ(r->n_disagree, 3);
  ASSERT_EQ(a->note_id[r->disagree[0].ia], 2);
  ASSERT_EQ(a->note_id[r->disagree[1].ia], 4);
  ASSERT_EQ(a->note_id[r->disagree[2].ia], 5);
  /* B's deciders: CoreModel (v1.1) 3 notes (1, 2, 3), 2 agree; Expansion 2, 0 */
  ASSERT_EQ(r->n_by_b, 2);
  ASSERT_STREQ(r->by_b[0].decided_by, "CoreModel (v1.1)");
  ASSERT_EQ(r->by_b[0].notes, 3);
  ASSERT_EQ(r->by_b[0].agree, 2);
  ASSERT_EQ(r->by_b[1].agree, 0);
  /* A's deciders: CoreModel 3 (1, 2, 3; 2 agree), Inertia 1, "" 1 */
  ASSERT_EQ(r->n_by_a, 3);
  ASSERT_EQ(r->by_a[0].notes, 3);
  j = ns_cmp_to_json(a, b, r, 2);
  ASSERT(j != NULL);
  ASSERT_EQ(json_array_size(json_object_get(j, "topDisagreements")), 2);
  ASSERT_STREQ(json_string_value(json_object_get(
                   json_array_get(json_object_get(j, "topDisagreements"), 0), "noteId")),
               "2");
  ASSERT_STREQ(json_string_value(json_object_get(
                   json_object_get(json_array_get(json_object_get(j, "topDisagreements"), 0), "a"),
                   "rules")),
               "GeneralCRNH | CoreModel");
  json_decref(j);
  ns_cmp_result_free(r);
  ns_cmp_side_free(a);
  ns_cmp_side_free(b);
}

/* A noteStatusHistory file: currentStatus counts, not currentCoreStatus;
** a row without a published status is left out (not a disagreement); no
** intercepts, so no correlation. */
TEST(compare_history_kind) {
  const char *d = ns_test_tmpdir();
  char path[4200], msg[512];
  ns_cmp_side *h = NULL;
  ns_cmp_result *r = NULL;
  write_file(d, "nsh.tsv",
             "noteId\tcurrentStatus\tcurrentCoreStatus\tcurrentDecidedBy\n"
             "1\t" CRH "\t" NMR "\tCoreModel (v1.1)\n"
             "2\t\t\t\n"
             "x\t" CRH "\t\t\n");
  snprintf(path, sizeof path, "%s/nsh.tsv", d);
  ASSERT_OK(ns_cmp_side_load(path, &h, msg, sizeof msg));
  ASSERT_EQ(h->kind, NS_CMP_HISTORY);
  ASSERT_EQ(h->n, 1);
  ASSERT_EQ(h->n_bad, 1);
  ASSERT_EQ(h->n_unpublished, 1);
  ASSERT_EQ(h->cls[0], NS_SCLASS_CRH);
  ASSERT_EQ(h->has_model, 0);
  ASSERT_OK(ns_cmp_compute(h, h, &r));
  ASSERT_NEAR(r->agreement, 1.0, 0);
  ASSERT(isnan(r->r_intercept));
  ASSERT_EQ(r->n_intercept, 0);
  ns_cmp_result_free(r);
  ns_cmp_side_free(h);
}

/* Errors name the file: missing, unknown kind, a directory without
** scored_notes.tsv, no rows. */
TEST(compare_errors) {
  const char *d = ns_test_tmpdir();
  char path[4200], msg[512];
  ns_cmp_side *s = NULL;
  snprintf(path, sizeof path, "%s/none.tsv", d);
  ASSERT(ns_cmp_side_load(path, &s, msg, sizeof msg) < 0);
  ASSERT(s == NULL);
  ASSERT(strstr(msg, "none.tsv") != NULL);
  write_file(d, "r.tsv", "noteId\traterParticipantId\thelpfulnessLevel\n1\tA\tHELPFUL\n");
  snprintf(path, sizeof path, "%s/r.tsv", d);
  ASSERT_ERR(ns_cmp_side_load(path, &s, msg, sizeof msg), NS_EPARSE);
  ASSERT(strstr(msg, "r.tsv:1: not a scored_notes.tsv or noteStatusHistory file") != NULL);
  ASSERT(ns_cmp_side_load(d, &s, msg, sizeof msg) < 0);
  ASSERT(strstr(msg, "/scored_notes.tsv") != NULL);
  write_file(d, "h.tsv", "noteId\tcurrentStatus\n");
  snprintf(path, sizeof path, "%s/h.tsv", d);
  ASSERT_ERR(ns_cmp_side_load(path, &s, msg, sizeof msg), NS_ENODATA);
  ASSERT(strstr(msg, "h.tsv: no notes") != NULL);
}
