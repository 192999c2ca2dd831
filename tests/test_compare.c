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

/* The version suffix the reference appends to decidedBy is not part of the
** rule's name. */
TEST(compare_rule_len) {
  ASSERT_EQ(ns_cmp_rule_len("CoreModel (v1.1)"), 9);
  ASSERT_EQ(ns_cmp_rule_len("CoreModel"), 9);
  ASSERT_EQ(ns_cmp_rule_len("GroupModel33NMR (v1.1)"), 15);
  ASSERT_EQ(ns_cmp_rule_len("ScoringDriftGuard (v1.0)"), 17);
  ASSERT_EQ(ns_cmp_rule_len(""), 0);
  ASSERT_EQ(ns_cmp_rule_len(" (v1)"), 5);   /* no name before it: kept whole */
  ASSERT_EQ(ns_cmp_rule_len("X (v)"), 5);   /* no version inside: kept whole */
  ASSERT_EQ(ns_cmp_rule_len("X (w1.0)"), 8);
}

/*
** The reference-parity figures on a notescore-style A and a reference-style
** B (versions on every decidedBy, FIRM_REJECT in a scorer column):
**
** note  A status  A decidedBy  A core  A expansion   B status  B decidedBy          B core       B expansion
**  1    CRH       CoreModel    CRH     CRH           CRH       CoreModel (v1.1)     CRH          CRH
**  2    NMR       CoreModel    NMR     (none)        CRH       CoreWithTopicsModel  (none)       CRH
**  3    CRNH      CoreModel    CRNH    CRNH          NMR       CoreModel (v1.1)     FIRM_REJECT  CRNH
**  4    NMR       Guard        NMR     NMR           NMR       CoreModel (v1.1)     NMR          NMR
**  5    CRH       Guard        CRH     CRH           CRH       Guard (v1.0)         CRH          (none)
**  6    NMR       CoreModel    NMR     NMR           CRNH      CoreModel (v1.1)     CRNH         CRNH
** A also has coreWithTopicsRatingStatus, B does not: not compared.
**
** decidedBy: 1, 3, 5, 6 name the same rule -> 4/6.  Differing pairs:
** CoreModel>CoreWithTopicsModel (2), Guard>CoreModel (4), one each; by
** name: "CoreModel" < "Guard".
** Status disagreements (2, 3, 6) by B's rule: CoreModel 4 notes (1, 3, 4,
** 6), 2 disagree (CRNH>NMR, NMR>CRNH); CoreWithTopicsModel 1 note, 1
** disagree (NMR>CRH); Guard 1 note, 0.
** core: scored A 6, B 5 (not 2), both 5, same text 1, 4, 5 -> 3
** (3: FIRM_REJECT is not CRNH; 6: NMR vs CRNH).  expansion: A 5 (not 2), B 5 (not 5), both 4
** (1, 3, 4, 6), same 3 (6: NMR vs CRNH).
**
** With notes 1 and 6 locked in the history (4 has an empty lockedStatus):
** 4 notes left, agreement 2/4 (4, 5), decidedBy 2/4 (3, 5).
*/
TEST(compare_parity) {
  const char *d = ns_test_tmpdir();
  char a_dir[4200], b_dir[4200], h_path[4200], msg[512];
  ns_cmp_side *a = NULL, *b = NULL;
  ns_cmp_result *r = NULL;
  int64_t *locked = NULL;
  size_t n_locked = 0;
  json_t *j;
  snprintf(a_dir, sizeof a_dir, "%s/pa", d);
  snprintf(b_dir, sizeof b_dir, "%s/pb", d);
  write_file(a_dir, "scored_notes.tsv",
             "noteId\tfinalRatingStatus\tdecidedBy\tcoreRatingStatus\texpansionRatingStatus\t"
             "coreWithTopicsRatingStatus\tcoreNoteInterceptRound1\n"
             "1\t" CRH "\tCoreModel\t" CRH "\t" CRH "\t" CRH "\t\n"
             "2\t" NMR "\tCoreModel\t" NMR "\t\t" NMR "\t\n"
             "3\t" CRNH "\tCoreModel\t" CRNH "\t" CRNH "\t" CRNH "\t\n"
             "4\t" NMR "\tGuard\t" NMR "\t" NMR "\t" NMR "\t\n"
             "5\t" CRH "\tGuard\t" CRH "\t" CRH "\t" CRH "\t\n"
             "6\t" NMR "\tCoreModel\t" NMR "\t" NMR "\t" NMR "\t\n");
  write_file(b_dir, "scored_notes.tsv",
             "noteId\tfinalRatingStatus\tdecidedBy\texpansionRatingStatus\tcoreRatingStatus\n"
             "6\t" CRNH "\tCoreModel (v1.1)\t" CRNH "\t" CRNH "\n"
             "1\t" CRH "\tCoreModel (v1.1)\t" CRH "\t" CRH "\n"
             "2\t" CRH "\tCoreWithTopicsModel (v1.1)\t" CRH "\t\n"
             "3\t" NMR "\tCoreModel (v1.1)\t" CRNH "\tFIRM_REJECT\n"
             "4\t" NMR "\tCoreModel (v1.1)\t" NMR "\t" NMR "\n"
             "5\t" CRH "\tGuard (v1.0)\t\t" CRH "\n");
  snprintf(h_path, sizeof h_path, "%s/ph", d);
  write_file(h_path, "noteStatusHistory-00000.tsv",
             "noteId\tcurrentStatus\tlockedStatus\n"
             "6\t" CRNH "\t" CRNH "\n"
             "1\t" CRH "\t" CRH "\n"
             "4\t" NMR "\t\n"
             "6\t" CRNH "\t" CRNH "\n");
  ASSERT_OK(ns_cmp_side_load(a_dir, &a, msg, sizeof msg));
  ASSERT_OK(ns_cmp_side_load(b_dir, &b, msg, sizeof msg));
  ASSERT(a->model_status[0] != NULL);  /* core */
  ASSERT(a->model_status[1] != NULL);  /* coreWithTopics */
  ASSERT(b->model_status[1] == NULL);
  ASSERT_STREQ(b->strs[b->rule[b->decided_by[0]]], "CoreModel");
  ASSERT_STREQ(b->strs[b->decided_by[0]], "CoreModel (v1.1)");
  ASSERT_OK(ns_cmp_compute(a, b, &r));
  ASSERT_EQ(r->n_common, 6);
  ASSERT_EQ(r->n_agree, 3);
  ASSERT_EQ(r->n_rule_agree, 4);
  ASSERT_NEAR(r->rule_agreement, 4.0 / 6.0, 1e-12);
  ASSERT_EQ(r->n_rule_pairs, 2);
  ASSERT_STREQ(r->rule_pairs[0].a, "CoreModel");
  ASSERT_STREQ(r->rule_pairs[0].b, "CoreWithTopicsModel");
  ASSERT_EQ(r->rule_pairs[0].notes, 1);
  ASSERT_STREQ(r->rule_pairs[1].a, "Guard");
  ASSERT_STREQ(r->rule_pairs[1].b, "CoreModel");
  ASSERT_EQ(r->n_by_rule, 3);
  ASSERT_STREQ(r->by_rule[0].rule, "CoreModel");
  ASSERT_EQ(r->by_rule[0].notes, 4);
  ASSERT_EQ(r->by_rule[0].disagree, 2);
  ASSERT_EQ(r->by_rule[0].pairs[NS_SCLASS_CRNH][NS_SCLASS_NMR], 1);
  ASSERT_EQ(r->by_rule[0].pairs[NS_SCLASS_NMR][NS_SCLASS_CRNH], 1);
  ASSERT_EQ(r->by_rule[0].pairs[NS_SCLASS_NMR][NS_SCLASS_CRH], 0);
  ASSERT_STREQ(r->by_rule[1].rule, "CoreWithTopicsModel");
  ASSERT_EQ(r->by_rule[1].disagree, 1);
  ASSERT_EQ(r->by_rule[1].pairs[NS_SCLASS_NMR][NS_SCLASS_CRH], 1);
  ASSERT_STREQ(r->by_rule[2].rule, "Guard");
  ASSERT_EQ(r->by_rule[2].notes, 1);
  ASSERT_EQ(r->by_rule[2].disagree, 0);
  /* core, expansion present; coreWithTopics only in A */
  ASSERT_EQ(r->models[0].present, 1);
  ASSERT_EQ(r->models[0].scored_a, 6);
  ASSERT_EQ(r->models[0].scored_b, 5);
  ASSERT_EQ(r->models[0].scored_both, 5);
  ASSERT_EQ(r->models[0].agree, 3);
  ASSERT_EQ(r->models[1].present, 0);
  ASSERT_EQ(r->models[2].present, 1);
  ASSERT_EQ(r->models[2].scored_a, 5);
  ASSERT_EQ(r->models[2].scored_b, 5);
  ASSERT_EQ(r->models[2].scored_both, 4);
  ASSERT_EQ(r->models[2].agree, 3);
  j = ns_cmp_to_json(a, b, r, 0);
  ASSERT(j != NULL);
  ASSERT_NEAR(json_real_value(json_object_get(j, "decidedByAgreement")), 4.0 / 6.0, 1e-12);
  ASSERT_EQ(json_integer_value(json_object_get(j, "decidedByAgreeing")), 4);
  ASSERT_EQ(json_array_size(json_object_get(j, "models")), 2);
  ASSERT_STREQ(json_string_value(json_object_get(
                   json_array_get(json_object_get(j, "models"), 1), "model")),
               "expansion");
  {
    json_t *g = json_array_get(json_object_get(j, "disagreementsByDecidedBy"), 0);
    json_t *p0 = json_array_get(json_object_get(g, "pairs"), 0);
    ASSERT_STREQ(json_string_value(json_object_get(g, "decidedBy")), "CoreModel");
    ASSERT_EQ(json_array_size(json_object_get(g, "pairs")), 2);
    /* ties in class order: CRNH>NMR before NMR>CRNH */
    ASSERT_STREQ(json_string_value(json_object_get(p0, "a")), "CRNH");
    ASSERT_STREQ(json_string_value(json_object_get(p0, "b")), "NMR");
  }
  ASSERT_EQ(json_array_size(json_object_get(j, "decidedByConfusion")), 2);
  json_decref(j);
  ns_cmp_result_free(r);
  r = NULL;

  /* --unlocked: the directory form finds noteStatusHistory-00000.tsv */
  ASSERT_OK(ns_cmp_locked_load(h_path, &locked, &n_locked, msg, sizeof msg));
  ASSERT_EQ(n_locked, 2);
  ASSERT_EQ(locked[0], 1);
  ASSERT_EQ(locked[1], 6);
  ns_cmp_side_exclude(a, locked, n_locked);
  ns_cmp_side_exclude(b, locked, n_locked);
  ASSERT_EQ(a->n, 4);
  ASSERT_EQ(a->n_locked, 2);
  ASSERT_EQ(b->n_locked, 2);
  ASSERT_EQ(a->note_id[0], 2);
  ASSERT_EQ(a->note_id[3], 5);
  ASSERT_STREQ(a->strs[a->model_status[0][1]], CRNH);  /* note 3's core status moved down */
  ASSERT_OK(ns_cmp_compute(a, b, &r));
  ASSERT_EQ(r->n_common, 4);
  ASSERT_EQ(r->n_agree, 2);
  ASSERT_EQ(r->n_rule_agree, 2);
  ASSERT_EQ(r->models[0].scored_both, 3);
  ASSERT_EQ(r->models[0].agree, 2);
  free(locked);
  ns_cmp_result_free(r);
  ns_cmp_side_free(a);
  ns_cmp_side_free(b);

  /* a history without lockedStatus is refused, naming the file */
  write_file(h_path, "nolock.tsv", "noteId\tcurrentStatus\n1\t" CRH "\n");
  snprintf(h_path, sizeof h_path, "%s/ph/nolock.tsv", d);
  ASSERT_ERR(ns_cmp_locked_load(h_path, &locked, &n_locked, msg, sizeof msg), NS_EPARSE);
  ASSERT(strstr(msg, "nolock.tsv:1:") != NULL);
  ASSERT(locked == NULL);
}
