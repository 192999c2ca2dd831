/*
** tests/test_gen.c -- the synthetic data generator (tools/gen/gen.c).
**
** The tests read the generated files back with a small independent TSV
** splitter and check the properties the scorer tests rely on: exact public
** headers, determinism, no duplicate (note, rater), rating times, tags that
** match the level, the planted ring, and one-sided support for partisan
** notes.  Sizes are small so the whole file runs in well under a second.
*/
#include "harness.h"

#include <ctype.h>

#include "../base/dataset.h"
#include "../tools/gen/gen.h"

/* ---- reading the files back --------------------------------------------- */

/* A whole file split into rows of fields (in place). */
typedef struct table {
  char *buf;
  size_t nrows;        /* data rows, header excluded */
  char ***rows;        /* rows[i][j] */
  size_t *nf;          /* fields per row */
  char **hdr;
  size_t nh;
} table;

static size_t split_line(char *s, char ***out) {
  size_t n = 1, k = 0;
  for (char *p = s; *p; p++) n += *p == '\t';
  *out = malloc(n * sizeof **out);
  (*out)[k++] = s;
  for (char *p = s; *p; p++)
    if (*p == '\t') *p = '\0', (*out)[k++] = p + 1;
  return n;
}

static void load_table(table *t, const char *dir, const char *name) {
  char path[4096];
  size_t len, cap = 1024;
  char *p, *line;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  memset(t, 0, sizeof *t);
  t->buf = ns_test_slurp(path, &len);
  ASSERT(t->buf != NULL);
  ASSERT(len > 0 && t->buf[len - 1] == '\n');
  t->rows = malloc(cap * sizeof *t->rows);
  t->nf = malloc(cap * sizeof *t->nf);
  p = t->buf;
  line = p;
  {
    char *nl = strchr(line, '\n');
    *nl = '\0';
    t->nh = split_line(line, &t->hdr);
    p = nl + 1;
  }
  while (*p) {
    char *nl = strchr(p, '\n');
    ASSERT(nl != NULL);
    *nl = '\0';
    if (t->nrows == cap) {
      cap *= 2;
      t->rows = realloc(t->rows, cap * sizeof *t->rows);
      t->nf = realloc(t->nf, cap * sizeof *t->nf);
    }
    t->nf[t->nrows] = split_line(p, &t->rows[t->nrows]);
    t->nrows++;
    p = nl + 1;
  }
}

static void free_table(table *t) {
  for (size_t i = 0; i < t->nrows; i++) free(t->rows[i]);
  free(t->rows);
  free(t->nf);
  free(t->hdr);
  free(t->buf);
}

static int hcol(const table *t, const char *name) {
  for (size_t i = 0; i < t->nh; i++)
    if (!strcmp(t->hdr[i], name)) return (int)i;
  NS__FAIL("column %s not found", name);
  return -1;
}

/* Joins the header back with tabs, for exact comparisons. */
static char *header_of(const table *t) {
  size_t len = 0;
  char *s;
  for (size_t i = 0; i < t->nh; i++) len += strlen(t->hdr[i]) + 1;
  s = calloc(len + 1, 1);
  for (size_t i = 0; i < t->nh; i++) {
    if (i) strcat(s, "\t");
    strcat(s, t->hdr[i]);
  }
  return s;
}

static int files_equal(const char *a, const char *b) {
  size_t la, lb;
  char *x = ns_test_slurp(a, &la), *y = ns_test_slurp(b, &lb);
  int eq = x && y && la == lb && memcmp(x, y, la) == 0;
  free(x);
  free(y);
  return eq;
}

static void small_opts(ns_gen_opts *o) {
  ns_gen_default_opts(o);
  o->raters = 300;
  o->notes = 200;
  o->ratings = 8000;
  o->seed = 7;
}

/* ---- tests ---------------------------------------------------------------- */

TEST(gen_defaults) {
  ns_gen_opts o;
  ns_gen_default_opts(&o);
  ASSERT_EQ(o.raters, 2000);
  ASSERT_EQ(o.notes, 2000);
  ASSERT_EQ(o.ratings, 200000);
  ASSERT_EQ(o.seed, 1);
  ASSERT_EQ(o.ring, 0);
  ASSERT_EQ(o.ring_targets, 15);
  ASSERT_EQ(o.epoch_ms, 1767225600000LL);
}

TEST(gen_rejects_bad_options) {
  ns_gen_opts o;
  char dir[4200];
  small_opts(&o);
  snprintf(dir, sizeof dir, "%s/x", ns_test_tmpdir());
  o.raters = 0;
  ASSERT_ERR(ns_gen_run(&o, dir, NULL), NS_EINVAL);
  small_opts(&o);
  o.notes = 0;
  ASSERT_ERR(ns_gen_run(&o, dir, NULL), NS_EINVAL);
  small_opts(&o);
  o.epoch_ms = 1000; /* before the ids' epoch */
  ASSERT_ERR(ns_gen_run(&o, dir, NULL), NS_EINVAL);
}

TEST(gen_deterministic) {
  static const char *const files[6] = {"notes-00000.tsv", "ratings-00000.tsv",
      "noteStatusHistory-00000.tsv", "userEnrollment-00000.tsv", "truth_notes.tsv",
      "truth_raters.tsv"};
  const char *t = ns_test_tmpdir();
  char a[4200], b[4200], c[4200], fa[4300], fb[4300], fc[4300];
  ns_gen_opts o;
  ns_gen_stats s1, s2;
  small_opts(&o);
  o.ring = 6;
  o.ring_farm = 10;
  o.ring_targets = 4;
  o.incorrect_popular = 3;
  snprintf(a, sizeof a, "%s/a", t);
  snprintf(b, sizeof b, "%s/b", t);
  snprintf(c, sizeof c, "%s/c", t);
  ASSERT_OK(ns_gen_run(&o, a, &s1));
  ASSERT_OK(ns_gen_run(&o, b, &s2));
  ASSERT_EQ(s1.n_ratings, s2.n_ratings);
  for (int i = 0; i < 6; i++) {
    snprintf(fa, sizeof fa, "%s/%s", a, files[i]);
    snprintf(fb, sizeof fb, "%s/%s", b, files[i]);
    if (!files_equal(fa, fb)) NS__FAIL("%s differs between two runs with the same seed", files[i]);
  }
  o.seed = 8;
  ASSERT_OK(ns_gen_run(&o, c, NULL));
  for (int i = 0; i < 6; i++) {
    snprintf(fa, sizeof fa, "%s/%s", a, files[i]);
    snprintf(fc, sizeof fc, "%s/%s", c, files[i]);
    if (files_equal(fa, fc)) NS__FAIL("%s is the same for seeds 7 and 8", files[i]);
  }
}

TEST(gen_public_headers_and_rows) {
  const char *d = ns_test_tmpdir();
  ns_gen_opts o;
  ns_gen_stats st;
  table t;
  char *h;
  small_opts(&o);
  o.ring = 5;
  ASSERT_OK(ns_gen_run(&o, d, &st));

  /* reference-algorithm.md §1.2: 24 columns */
  load_table(&t, d, "notes-00000.tsv");
  h = header_of(&t);
  ASSERT_STREQ(h,
      "noteId\tnoteAuthorParticipantId\tcreatedAtMillis\ttweetId\tclassification\tbelievable\t"
      "harmful\tvalidationDifficulty\tmisleadingOther\tmisleadingFactualError\t"
      "misleadingManipulatedMedia\tmisleadingOutdatedInformation\t"
      "misleadingMissingImportantContext\tmisleadingUnverifiedClaimAsFact\tmisleadingSatire\t"
      "notMisleadingOther\tnotMisleadingFactuallyCorrect\tnotMisleadingOutdatedButNotWhenWritten\t"
      "notMisleadingClearlySatire\tnotMisleadingPersonalOpinion\ttrustworthySources\tsummary\t"
      "isMediaNote\tisCollaborativeNote");
  ASSERT_EQ(t.nh, 24);
  ASSERT_EQ(t.nrows, 200);
  for (size_t i = 0; i < t.nrows; i++) {
    ASSERT_EQ(t.nf[i], 24);
    ASSERT_EQ(strlen(t.rows[i][1]), 64);
    ASSERT(!strcmp(t.rows[i][4], "MISINFORMED_OR_POTENTIALLY_MISLEADING") ||
           !strcmp(t.rows[i][4], "NOT_MISLEADING"));
    if (i) ASSERT(strtoll(t.rows[i][0], NULL, 10) > strtoll(t.rows[i - 1][0], NULL, 10));
    ASSERT(strtoll(t.rows[i][0], NULL, 10) > 1000000000000000000LL);
  }
  free(h);
  free_table(&t);

  /* §1.3: 35 columns */
  load_table(&t, d, "ratings-00000.tsv");
  h = header_of(&t);
  ASSERT_STREQ(h,
      "noteId\traterParticipantId\tcreatedAtMillis\tversion\tagree\tdisagree\thelpful\tnotHelpful\t"
      "helpfulnessLevel\thelpfulOther\thelpfulInformative\thelpfulClear\thelpfulEmpathetic\t"
      "helpfulGoodSources\thelpfulUniqueContext\thelpfulAddressesClaim\thelpfulImportantContext\t"
      "helpfulUnbiasedLanguage\tnotHelpfulOther\tnotHelpfulIncorrect\t"
      "notHelpfulSourcesMissingOrUnreliable\tnotHelpfulOpinionSpeculationOrBias\t"
      "notHelpfulMissingKeyPoints\tnotHelpfulOutdated\tnotHelpfulHardToUnderstand\t"
      "notHelpfulArgumentativeOrBiased\tnotHelpfulOffTopic\tnotHelpfulSpamHarassmentOrAbuse\t"
      "notHelpfulIrrelevantSources\tnotHelpfulOpinionSpeculation\tnotHelpfulNoteNotNeeded\t"
      "ratedOnTweetId\tratingSourceBucketed\tsuggestion\tsuggestionId");
  ASSERT_EQ(t.nh, 35);
  ASSERT_EQ(t.nrows, st.n_ratings);
  /* 8000 honest ratings requested, a few dropped as duplicates */
  ASSERT(st.n_ratings - st.n_ring_ratings + st.n_dropped == 8000);
  ASSERT(st.n_dropped < 8000 / 50);
  for (size_t i = 0; i < t.nrows; i++) ASSERT_EQ(t.nf[i], 35);
  free(h);
  free_table(&t);

  /* §1.4: 24 columns, one row per note, only the first three filled */
  load_table(&t, d, "noteStatusHistory-00000.tsv");
  h = header_of(&t);
  ASSERT_STREQ(h,
      "noteId\tnoteAuthorParticipantId\tcreatedAtMillis\ttimestampMillisOfFirstNonNMRStatus\t"
      "firstNonNMRStatus\ttimestampMillisOfCurrentStatus\tcurrentStatus\t"
      "timestampMillisOfLatestNonNMRStatus\tmostRecentNonNMRStatus\ttimestampMillisOfStatusLock\t"
      "lockedStatus\ttimestampMillisOfRetroLock\tcurrentCoreStatus\tcurrentExpansionStatus\t"
      "currentGroupStatus\tcurrentDecidedBy\tcurrentModelingGroup\t"
      "timestampMillisOfMostRecentStatusChange\ttimestampMillisOfNmrDueToMinStableCrhTime\t"
      "currentMultiGroupStatus\tcurrentModelingMultiGroup\ttimestampMinuteOfFinalScoringOutput\t"
      "timestampMillisOfFirstNmrDueToMinStableCrhTime\tabovePcrhThresholdTime");
  ASSERT_EQ(t.nrows, 200);
  for (size_t i = 0; i < t.nrows; i++) {
    ASSERT_EQ(t.nf[i], 24);
    ASSERT(*t.rows[i][0] && *t.rows[i][1] && *t.rows[i][2]);
    for (int j = 3; j < 24; j++) ASSERT_STREQ(t.rows[i][j], "");
  }
  free(h);
  free_table(&t);

  /* §1.5: 8 columns, honest raters and ring accounts */
  load_table(&t, d, "userEnrollment-00000.tsv");
  h = header_of(&t);
  ASSERT_STREQ(h,
      "participantId\tenrollmentState\tsuccessfulRatingNeededToEarnIn\ttimestampOfLastStateChange\t"
      "timestampOfLastEarnOut\tmodelingPopulation\tmodelingGroup\tnumberOfTimesEarnedOut");
  ASSERT_EQ(t.nrows, 305);
  {
    size_t earned = 0, g13 = 0;
    for (size_t i = 0; i < t.nrows; i++) {
      int g = atoi(t.rows[i][6]);
      ASSERT_EQ(t.nf[i], 8);
      ASSERT(g == 1 || g == 2 || g == 3 || g == 6 || g == 8 || g == 9 || g == 10 || g == 11 ||
             g == 13 || g == 14 || g == 19 || g == 21 || g == 25);
      g13 += g == 13;
      earned += !strcmp(t.rows[i][1], "earnedIn");
      ASSERT(!strcmp(t.rows[i][1], "earnedIn") || !strcmp(t.rows[i][1], "newUser"));
    }
    ASSERT(earned > t.nrows * 8 / 10);
    ASSERT(g13 > t.nrows / 2);
  }
  free(h);
  free_table(&t);

  load_table(&t, d, "truth_notes.tsv");
  ASSERT_EQ(t.nrows, 200);
  hcol(&t, "trueHelpful"), hcol(&t, "quality"), hcol(&t, "slant"), hcol(&t, "isRingTarget");
  hcol(&t, "ringTargetKind"), hcol(&t, "isIncorrectPopular");
  free_table(&t);
  load_table(&t, d, "truth_raters.tsv");
  ASSERT_EQ(t.nrows, 305);
  hcol(&t, "camp"), hcol(&t, "position"), hcol(&t, "leniency"), hcol(&t, "isRing");
  free_table(&t);
}

/* Everything the rating checks need, parsed from the files. */
typedef struct gdata {
  table notes, ratings, tn, tr;
  ns_strtab *pid;        /* rater id -> truth_raters row */
  int64_t *nid;          /* notes sorted by id (they are written sorted) */
  int64_t *created;
  size_t nn;
} gdata;

static size_t note_index(const gdata *g, int64_t id) {
  size_t lo = 0, hi = g->nn;
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    if (g->nid[m] < id) lo = m + 1;
    else hi = m;
  }
  ASSERT(lo < g->nn && g->nid[lo] == id);
  return lo;
}

static void load_gdata(gdata *g, const char *d) {
  memset(g, 0, sizeof *g);
  load_table(&g->notes, d, "notes-00000.tsv");
  load_table(&g->ratings, d, "ratings-00000.tsv");
  load_table(&g->tn, d, "truth_notes.tsv");
  load_table(&g->tr, d, "truth_raters.tsv");
  g->nn = g->notes.nrows;
  g->nid = malloc(g->nn * sizeof *g->nid);
  g->created = malloc(g->nn * sizeof *g->created);
  ASSERT_EQ(g->tn.nrows, g->nn);
  for (size_t i = 0; i < g->nn; i++) {
    g->nid[i] = strtoll(g->notes.rows[i][0], NULL, 10);
    g->created[i] = strtoll(g->notes.rows[i][2], NULL, 10);
    /* truth rows are in the same order as the notes */
    ASSERT_EQ(strtoll(g->tn.rows[i][0], NULL, 10), g->nid[i]);
  }
  ASSERT_OK(ns_strtab_new(&g->pid));
  for (size_t i = 0; i < g->tr.nrows; i++) {
    int32_t idx;
    ASSERT_OK(ns_strtab_intern(g->pid, g->tr.rows[i][0], strlen(g->tr.rows[i][0]), &idx));
    ASSERT_EQ(idx, i); /* ids are unique */
  }
}

static void free_gdata(gdata *g) {
  free_table(&g->notes);
  free_table(&g->ratings);
  free_table(&g->tn);
  free_table(&g->tr);
  ns_strtab_free(g->pid);
  free(g->nid);
  free(g->created);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

TEST(gen_ratings_are_consistent) {
  const char *d = ns_test_tmpdir();
  ns_gen_opts o;
  gdata g;
  uint64_t *keys;
  size_t n, valid = 0, few = 0;
  size_t *per_note, *per_rater;
  small_opts(&o);
  o.ratings = 20000; /* 100 per note */
  o.ring = 4;
  o.ring_farm = 5;
  o.incorrect_popular = 4;
  ASSERT_OK(ns_gen_run(&o, d, NULL));
  load_gdata(&g, d);
  n = g.ratings.nrows;
  keys = malloc(n * sizeof *keys);
  per_note = calloc(g.nn, sizeof *per_note);
  per_rater = calloc(g.tr.nrows, sizeof *per_rater);
  for (size_t i = 0; i < n; i++) {
    char **r = g.ratings.rows[i];
    size_t ni = note_index(&g, strtoll(r[0], NULL, 10));
    int32_t u = ns_strtab_find(g.pid, r[1], strlen(r[1]));
    int64_t ts = strtoll(r[2], NULL, 10);
    int nh = 0, nnh = 0;
    ASSERT(u >= 0);
    keys[i] = (uint64_t)ni << 32 | (uint32_t)u;
    per_note[ni]++;
    per_rater[u]++;
    /* after the note, before "now" */
    ASSERT(ts > g.created[ni]);
    ASSERT(ts < o.epoch_ms);
    valid += ts - g.created[ni] < 48 * 3600000LL;
    /* the author never rates their own note */
    ASSERT(strcmp(r[1], g.notes.rows[ni][1]) != 0);
    /* ratedOnTweetId is the note's tweet */
    ASSERT_STREQ(r[31], g.notes.rows[ni][3]);
    ASSERT(!strcmp(r[32], "DEFAULT") || !strcmp(r[32], "POPULATION_SAMPLED"));
    for (int t = 0; t < NS_N_TAGS; t++) {
      const char *v = r[9 + t];
      ASSERT(!strcmp(v, "0") || !strcmp(v, "1"));
      if (*v == '1') {
        if (NS_TAG_IS_HELPFUL(t)) nh++;
        else nnh++;
      }
    }
    if (!strcmp(r[8], "HELPFUL")) {
      ASSERT(nh >= 1 && nh <= 3 && nnh == 0);
    } else if (!strcmp(r[8], "NOT_HELPFUL")) {
      ASSERT(nnh >= 1 && nnh <= 3 && nh == 0);
    } else {
      ASSERT_STREQ(r[8], "SOMEWHAT_HELPFUL");
      ASSERT(nh + nnh >= 1 && nh + nnh <= 3);
    }
  }
  /* no duplicate (note, rater) */
  qsort(keys, n, sizeof *keys, cmp_u64);
  for (size_t i = 1; i < n; i++)
    if (keys[i] == keys[i - 1]) NS__FAIL("duplicate (note, rater) pair %zu", i);
  /* most ratings are within the 48 h that count as valid */
  ASSERT(valid > n * 8 / 10);
  /* every note has at least 5 ratings at 100 per note; truth counts agree */
  for (size_t i = 0; i < g.nn; i++) {
    few += per_note[i] < 5;
    ASSERT_EQ(per_note[i], strtoll(g.tn.rows[i][hcol(&g.tn, "numRatings")], NULL, 10));
  }
  ASSERT(few <= g.nn / 100);
  for (size_t u = 0; u < g.tr.nrows; u++) {
    ASSERT_EQ(per_rater[u], strtoll(g.tr.rows[u][hcol(&g.tr, "numRatings")], NULL, 10));
    ASSERT(per_rater[u] >= 1);
  }
  free(keys);
  free(per_note);
  free(per_rater);
  free_gdata(&g);
}

TEST(gen_ring_attack) {
  const char *d = ns_test_tmpdir();
  ns_gen_opts o;
  ns_gen_stats st;
  gdata g;
  int c_ring, c_kind;
  size_t nring = 0, *hits, ntargets = 0;
  int64_t *tmin, *tmax, farm_max = INT64_MIN, attack_min = INT64_MAX;
  size_t *farm;
  small_opts(&o);
  o.ring = 8;
  o.ring_farm = 12;
  o.ring_targets = 5;
  o.ring_split = 1;
  ASSERT_OK(ns_gen_run(&o, d, &st));
  ASSERT_EQ(st.n_bad_targets, 5);
  ASSERT_EQ(st.n_good_targets, 5);
  ASSERT_EQ(st.n_ring_ratings, 8 * (12 + 10));
  load_gdata(&g, d);
  c_ring = hcol(&g.tr, "isRing");
  c_kind = hcol(&g.tn, "ringTargetKind");
  for (size_t u = 0; u < g.tr.nrows; u++) {
    if (*g.tr.rows[u][c_ring] == '1') {
      nring++;
      /* split ring: half imitate each camp */
      ASSERT(!strcmp(g.tr.rows[u][1], "left") || !strcmp(g.tr.rows[u][1], "right"));
    }
  }
  ASSERT_EQ(nring, 8);
  hits = calloc(g.nn, sizeof *hits);
  farm = calloc(g.tr.nrows, sizeof *farm);
  tmin = malloc(g.nn * sizeof *tmin);
  tmax = malloc(g.nn * sizeof *tmax);
  for (size_t i = 0; i < g.nn; i++) tmin[i] = INT64_MAX, tmax[i] = INT64_MIN;
  for (size_t i = 0; i < g.ratings.nrows; i++) {
    char **r = g.ratings.rows[i];
    size_t ni = note_index(&g, strtoll(r[0], NULL, 10));
    int32_t u = ns_strtab_find(g.pid, r[1], strlen(r[1]));
    int64_t ts = strtoll(r[2], NULL, 10);
    const char *kind = g.tn.rows[ni][c_kind];
    if (*g.tr.rows[u][c_ring] != '1') continue;
    if (*kind) {
      hits[ni]++;
      tmin[ni] = NS_MIN(tmin[ni], ts);
      tmax[ni] = NS_MAX(tmax[ni], ts);
      attack_min = NS_MIN(attack_min, ts);
      ASSERT_STREQ(r[8], !strcmp(kind, "bad") ? "HELPFUL" : "NOT_HELPFUL");
    } else {
      farm[u]++;
      farm_max = NS_MAX(farm_max, ts);
    }
  }
  for (size_t i = 0; i < g.nn; i++) {
    const char *kind = g.tn.rows[i][c_kind];
    if (!*kind) {
      ASSERT_EQ(hits[i], 0);
      continue;
    }
    ntargets++;
    ASSERT_EQ(hits[i], 8); /* every ring account hits every target */
    ASSERT(tmax[i] - tmin[i] < NS_GEN_RING_WINDOW_MS);
    /* bad targets are truly unhelpful, good ones truly helpful */
    ASSERT_EQ(*g.tn.rows[i][1] == '1', !strcmp(kind, "good"));
  }
  ASSERT_EQ(ntargets, 10);
  for (size_t u = 0; u < g.tr.nrows; u++)
    if (*g.tr.rows[u][c_ring] == '1') ASSERT_EQ(farm[u], 12);
  ASSERT(farm_max < attack_min); /* the record is built before the attack */
  free(hits);
  free(farm);
  free(tmin);
  free(tmax);
  free_gdata(&g);
}

TEST(gen_partisan_one_sided) {
  const char *d = ns_test_tmpdir();
  ns_gen_opts o;
  gdata g;
  int c_slant, c_camp, c_part;
  /* [favoured camp / other camp][ratings, helpful] on partisan notes */
  size_t cnt[2][2] = {{0, 0}, {0, 0}}, np = 0, honest_help[2] = {0, 0}, honest_n[2] = {0, 0};
  small_opts(&o);
  o.ratings = 20000;
  o.partisan_frac = 0.25;
  ASSERT_OK(ns_gen_run(&o, d, NULL));
  load_gdata(&g, d);
  c_slant = hcol(&g.tn, "slant");
  c_part = hcol(&g.tn, "isPartisan");
  c_camp = hcol(&g.tr, "camp");
  for (size_t i = 0; i < g.nn; i++) np += *g.tn.rows[i][c_part] == '1';
  ASSERT(np >= 30);
  for (size_t i = 0; i < g.ratings.nrows; i++) {
    char **r = g.ratings.rows[i];
    size_t ni = note_index(&g, strtoll(r[0], NULL, 10));
    int32_t u = ns_strtab_find(g.pid, r[1], strlen(r[1]));
    const char *camp = g.tr.rows[u][c_camp];
    double s = strtod(g.tn.rows[ni][c_slant], NULL);
    int helpful = !strcmp(r[8], "HELPFUL");
    if (*g.tn.rows[ni][c_part] == '1') {
      int fav;
      ASSERT(fabs(s) > NS_GEN_PARTISAN_CUTOFF);
      if (!strcmp(camp, "neutral")) continue;
      fav = (s > 0) == !strcmp(camp, "right");
      cnt[!fav][0]++;
      cnt[!fav][1] += helpful;
    } else {
      int th = *g.tn.rows[ni][1] == '1';
      honest_n[th]++;
      honest_help[th] += helpful;
    }
  }
  /* favoured camp loves them, the other camp does not */
  ASSERT(cnt[0][0] > 500 && cnt[1][0] > 500);
  ASSERT((double)cnt[0][1] / (double)cnt[0][0] > 0.6);
  ASSERT((double)cnt[1][1] / (double)cnt[1][0] < 0.1);
  /* on other notes helpfulness tracks true quality */
  ASSERT((double)honest_help[1] / (double)honest_n[1] > 0.6);
  ASSERT((double)honest_help[0] / (double)honest_n[0] < 0.25);
  free_gdata(&g);
}

TEST(gen_incorrect_popular) {
  const char *d = ns_test_tmpdir();
  ns_gen_opts o;
  gdata g;
  int c_ip;
  size_t n = 0, helpful = 0, incorrect = 0, nip = 0;
  small_opts(&o);
  o.ratings = 20000;
  o.incorrect_popular = 6;
  ASSERT_OK(ns_gen_run(&o, d, NULL));
  load_gdata(&g, d);
  c_ip = hcol(&g.tn, "isIncorrectPopular");
  for (size_t i = 0; i < g.nn; i++)
    if (*g.tn.rows[i][c_ip] == '1') {
      nip++;
      ASSERT_STREQ(g.tn.rows[i][1], "0"); /* truly unhelpful */
    }
  ASSERT_EQ(nip, 6);
  for (size_t i = 0; i < g.ratings.nrows; i++) {
    char **r = g.ratings.rows[i];
    size_t ni = note_index(&g, strtoll(r[0], NULL, 10));
    if (*g.tn.rows[ni][c_ip] != '1') continue;
    n++;
    helpful += !strcmp(r[8], "HELPFUL");
    incorrect += *r[9 + NS_TAG_NH_INCORRECT] == '1';
  }
  ASSERT(n > 0);
  ASSERT((double)helpful / (double)n > 0.5);    /* popular ... */
  ASSERT((double)incorrect / (double)n > 0.1);  /* ... but flagged as incorrect */
  free_gdata(&g);
}

/* ---- the shapes real data has (docs/gen.md) ------------------------------ */

/* FNV-1a of a file, each line cut after its first k fields (0: whole line),
** so truth files can be compared on their original columns. */
static uint64_t fnv_fields(const char *path, int k) {
  size_t len;
  char *buf = ns_test_slurp(path, &len);
  uint64_t h = 0xcbf29ce484222325ull;
  int f = 0, skip = 0;
  ASSERT(buf != NULL);
  for (size_t i = 0; i < len; i++) {
    char c = buf[i];
    if (c == '\n') {
      f = 0, skip = 0;
    } else if (c == '\t' && k && ++f >= k) {
      skip = 1;
    }
    if (skip && c != '\n') continue;
    h ^= (uint8_t)c;
    h *= 0x100000001b3ull;
  }
  free(buf);
  return h;
}

/* Without any of the shape options, gen writes what it wrote before they
** existed: the hashes below were taken with the generator of commit
** 4d4caa7 (truth files: their original columns; the new ones are appended). */
TEST(gen_default_output_unchanged) {
  static const struct { const char *file; int k; uint64_t h; } want[6] = {
      {"notes-00000.tsv", 0, 0x3f3307cb9bedb14aull},
      {"ratings-00000.tsv", 0, 0x81cb6b285ef81622ull},
      {"noteStatusHistory-00000.tsv", 0, 0xcf1c9dae9e899e72ull},
      {"userEnrollment-00000.tsv", 0, 0xa5e25504d95d3488ull},
      {"truth_notes.tsv", 10, 0xc96be7eb2dce4803ull},
      {"truth_raters.tsv", 7, 0x262fdc29d76cee18ull}};
  const char *d = ns_test_tmpdir();
  char path[4300];
  ns_gen_opts o;
  small_opts(&o);
  o.ring = 6;
  o.ring_farm = 10;
  o.ring_targets = 4;
  o.incorrect_popular = 3;
  o.ring_split = 1;
  ASSERT_OK(ns_gen_apply_shape(&o, "one")); /* the preset of today's model changes nothing */
  ASSERT_OK(ns_gen_run(&o, d, NULL));
  for (int i = 0; i < 6; i++) {
    snprintf(path, sizeof path, "%s/%s", d, want[i].file);
    if (fnv_fields(path, want[i].k) != want[i].h)
      NS__FAIL("%s changed without any shape option (fnv %016llx)", want[i].file,
               (unsigned long long)fnv_fields(path, want[i].k));
  }
  /* gen_meta.json carries "now" for the reference harness */
  {
    size_t len;
    char *m;
    snprintf(path, sizeof path, "%s/gen_meta.json", d);
    m = ns_test_slurp(path, &len);
    ASSERT(m != NULL);
    ASSERT(strstr(m, "\"nowMillis\": 1767225600000,") != NULL);
    ASSERT(strstr(m, "\"seed\": 7,") != NULL);
    ASSERT(strstr(m, "\"ringTiming\": \"burst\"") != NULL);
    free(m);
  }
}

TEST(gen_shape_presets) {
  ns_gen_opts o, d;
  ns_gen_default_opts(&d);
  ASSERT_EQ(d.communities, 0);
  ASSERT_NEAR(d.locality, 0.9, 1e-12);
  ASSERT_EQ(d.activity, NS_GEN_ACTIVITY_UNIFORM);
  ASSERT_EQ(d.arrival, NS_GEN_ARRIVAL_TODAY);
  ASSERT_NEAR(d.notes_per_post, 1.0, 1e-12);
  ASSERT_EQ(d.cliques, 0);
  ASSERT_EQ(d.clique_size, 4);
  ASSERT_EQ(d.ring_place, NS_GEN_PLACE_INSIDE);
  ASSERT_EQ(d.ring_timing, NS_GEN_TIMING_BURST);
  ASSERT(d.ring_community < 0);
  o = d;
  ASSERT_OK(ns_gen_apply_shape(&o, "communities"));
  ASSERT_EQ(o.communities, 16);
  ASSERT_EQ(o.activity, NS_GEN_ACTIVITY_UNIFORM);
  o = d;
  ASSERT_OK(ns_gen_apply_shape(&o, "heavy"));
  ASSERT_EQ(o.activity, NS_GEN_ACTIVITY_HEAVY);
  ASSERT_NEAR(o.power_raters, 0.005, 1e-12);
  o = d;
  ASSERT_OK(ns_gen_apply_shape(&o, "bursty"));
  ASSERT_EQ(o.arrival, NS_GEN_ARRIVAL_BURSTY);
  ASSERT_NEAR(o.notes_per_post, 1.5, 1e-12);
  o = d;
  ASSERT_OK(ns_gen_apply_shape(&o, "cliques"));
  ASSERT_NEAR(o.clique_share, 0.02, 1e-12);
  o = d;
  ASSERT_OK(ns_gen_apply_shape(&o, "combined"));
  ASSERT_EQ(o.communities, 16);
  ASSERT_EQ(o.activity, NS_GEN_ACTIVITY_HEAVY);
  ASSERT_EQ(o.arrival, NS_GEN_ARRIVAL_BURSTY);
  ASSERT_NEAR(o.clique_share, 0.02, 1e-12);
  ASSERT_ERR(ns_gen_apply_shape(&o, "nope"), NS_EINVAL);
  /* out-of-range shape options are rejected */
  {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/x", ns_test_tmpdir());
    small_opts(&o);
    o.communities = 301;
    ASSERT_ERR(ns_gen_run(&o, dir, NULL), NS_EINVAL);
    small_opts(&o);
    o.locality = 1.5;
    ASSERT_ERR(ns_gen_run(&o, dir, NULL), NS_EINVAL);
    small_opts(&o);
    o.notes_per_post = 0.5;
    ASSERT_ERR(ns_gen_run(&o, dir, NULL), NS_EINVAL);
    small_opts(&o);
    o.communities = 4;
    o.ring_community = 4;
    ASSERT_ERR(ns_gen_run(&o, dir, NULL), NS_EINVAL);
  }
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

/* Rater index (truth_raters row) of every rating, and note index. */
static void rating_idx(const gdata *g, size_t i, size_t *ni, size_t *u) {
  char **r = g->ratings.rows[i];
  int32_t k = ns_strtab_find(g->pid, r[1], strlen(r[1]));
  ASSERT(k >= 0);
  *ni = note_index(g, strtoll(r[0], NULL, 10));
  *u = (size_t)k;
}

TEST(gen_communities) {
  static const int groups[6] = {13, 1, 2, 3, 4, 5};
  const char *d = ns_test_tmpdir();
  ns_gen_opts o;
  ns_gen_stats st;
  gdata g;
  table en;
  size_t size[6] = {0}, own = 0, tot = 0, nauth = 0;
  int c_comm, c_ncomm;
  ns_gen_default_opts(&o);
  o.raters = 1200;
  o.notes = 600;
  o.ratings = 12000;
  o.seed = 7;
  o.communities = 6;
  o.locality = 0.9;
  ASSERT_OK(ns_gen_run(&o, d, &st));
  ASSERT_EQ(st.n_communities, 6);
  load_gdata(&g, d);
  load_table(&en, d, "userEnrollment-00000.tsv");
  c_comm = hcol(&g.tr, "community");
  c_ncomm = hcol(&g.tn, "community");
  ASSERT_EQ(en.nrows, g.tr.nrows);
  for (size_t u = 0; u < g.tr.nrows; u++) {
    long c = strtol(g.tr.rows[u][c_comm], NULL, 10);
    ASSERT(c >= 0 && c < 6);
    size[c]++;
    /* enrollment rows are in the same order: the community's group and population */
    ASSERT_STREQ(en.rows[u][0], g.tr.rows[u][0]);
    ASSERT_EQ(atoi(en.rows[u][6]), groups[c]);
    ASSERT_STREQ(en.rows[u][5], groups[c] == 4 || groups[c] == 5 ? "EXPANSION" : "CORE");
  }
  /* unequal sizes, largest first, about 1/(k+1)^0.9 of the total
   * (weights 1, .536, .372, .287, .235, .199: 456 245 170 131 107 91) */
  for (int c = 1; c < 6; c++) ASSERT(size[c] < size[c - 1]);
  ASSERT(size[0] >= 450 && size[0] <= 462);
  ASSERT(size[5] >= 85 && size[5] <= 97);
  /* a note belongs to its author's community */
  for (size_t n = 0; n < g.nn; n++) {
    int32_t a = ns_strtab_find(g.pid, g.notes.rows[n][1], strlen(g.notes.rows[n][1]));
    ASSERT(a >= 0);
    ASSERT_STREQ(g.tn.rows[n][c_ncomm], g.tr.rows[a][c_comm]);
    nauth++;
  }
  ASSERT_EQ(nauth, 600);
  /* locality 0.9: that share of the ratings from the note's own community */
  for (size_t i = 0; i < g.ratings.nrows; i++) {
    size_t ni, u;
    rating_idx(&g, i, &ni, &u);
    own += !strcmp(g.tr.rows[u][c_comm], g.tn.rows[ni][c_ncomm]);
    tot++;
  }
  if (!((double)own / (double)tot >= 0.85 && (double)own / (double)tot <= 0.95))
    NS__FAIL("own-community share %.3f, want [0.85, 0.95]", (double)own / (double)tot);
  /* still a configuration model: the budget is met, almost nothing dropped */
  ASSERT(st.n_dropped < 12000 / 100);
  free_table(&en);
  free_gdata(&g);
}

TEST(gen_heavy_activity) {
  const char *d = ns_test_tmpdir();
  ns_gen_opts o;
  ns_gen_stats st;
  gdata g;
  size_t *cnt, nl = 0, npow = 0;
  int c_pow, c_num;
  ns_gen_default_opts(&o);
  o.raters = 1000;
  o.notes = 500;
  o.ratings = 15000;
  o.seed = 7;
  ASSERT_OK(ns_gen_apply_shape(&o, "heavy"));
  ASSERT_OK(ns_gen_run(&o, d, &st));
  ASSERT_EQ(st.n_power, 5); /* 0.5 % of 1000 */
  load_gdata(&g, d);
  c_pow = hcol(&g.tr, "isPower");
  c_num = hcol(&g.tr, "numRatings");
  cnt = malloc(g.tr.nrows * sizeof *cnt);
  for (size_t u = 0; u < g.tr.nrows; u++) {
    size_t k = (size_t)strtoll(g.tr.rows[u][c_num], NULL, 10);
    cnt[nl++] = k;
    if (*g.tr.rows[u][c_pow] == '1') {
      npow++;
      /* a power rater rates >= 5 % of all notes (distinct: no duplicates) */
      if (k < 500 * 5 / 100) NS__FAIL("power rater with %zu ratings of 500 notes", k);
    }
  }
  ASSERT_EQ(npow, 5);
  /* most raters are light: the median rater has < 10 ratings at 15 a rater */
  qsort(cnt, nl, sizeof *cnt, cmp_size);
  if (cnt[nl / 2] >= 10) NS__FAIL("median ratings per rater %zu, want < 10", cnt[nl / 2]);
  /* ... and a heavy tail: the top 10 % hold more than half of the ratings */
  {
    size_t top = 0, all = 0;
    for (size_t i = 0; i < nl; i++) all += cnt[i], top += i >= nl - nl / 10 ? cnt[i] : 0;
    if (top * 2 <= all) NS__FAIL("top 10 %% of raters hold %zu of %zu ratings", top, all);
  }
  ASSERT(st.n_dropped < 15000 / 100);
  free(cnt);
  free_gdata(&g);
}

TEST(gen_bursty_posts) {
  const char *d = ns_test_tmpdir();
  ns_gen_opts o;
  ns_gen_stats st;
  gdata g;
  size_t *order, top, first_hour = 0, in_top = 0, posts = 0, sib_pairs = 0, valid = 0;
  double sib_j = 0, rnd_j = 0;
  int c_num;
  int64_t **times;
  size_t *nt;
  uint8_t *rated; /* notes x raters bitmap, small */
  ns_gen_default_opts(&o);
  o.raters = 600;
  o.notes = 400;
  o.ratings = 12000;
  o.seed = 7;
  o.arrival = NS_GEN_ARRIVAL_BURSTY;
  o.notes_per_post = 2;
  ASSERT_OK(ns_gen_run(&o, d, &st));
  ASSERT(st.n_posts < 400 * 6 / 10 && st.n_posts > 400 * 4 / 10); /* mean 2 notes a post */
  load_gdata(&g, d);
  c_num = hcol(&g.tn, "numRatings");
  times = calloc(g.nn, sizeof *times);
  nt = calloc(g.nn, sizeof *nt);
  rated = calloc(g.nn * g.tr.nrows, 1);
  for (size_t i = 0; i < g.nn; i++)
    times[i] = malloc((size_t)strtoll(g.tn.rows[i][c_num], NULL, 10) * sizeof **times);
  for (size_t i = 0; i < g.ratings.nrows; i++) {
    size_t ni, u;
    int64_t dt;
    rating_idx(&g, i, &ni, &u);
    dt = strtoll(g.ratings.rows[i][2], NULL, 10) - g.created[ni];
    times[ni][nt[ni]++] = dt;
    rated[ni * g.tr.nrows + u] = 1;
    valid += dt < 48 * 3600000LL;
    /* the rating is on the note's post */
    ASSERT_STREQ(g.ratings.rows[i][31], g.notes.rows[ni][3]);
  }
  ASSERT(valid > g.ratings.nrows * 8 / 10); /* most ratings still count for the scorer */
  /* the 10 % notes with the most ratings: >= 40 % of them in the first hour */
  order = malloc(g.nn * sizeof *order);
  for (size_t i = 0; i < g.nn; i++) order[i] = nt[i] << 20 | i;
  qsort(order, g.nn, sizeof *order, cmp_size);
  top = g.nn / 10;
  for (size_t k = g.nn - top; k < g.nn; k++) {
    size_t ni = order[k] & 0xfffff;
    for (size_t j = 0; j < nt[ni]; j++) first_hour += times[ni][j] < 3600000;
    in_top += nt[ni];
  }
  if (first_hour * 10 < in_top * 4)
    NS__FAIL("top notes: %zu of %zu ratings in the first hour, want >= 40 %%", first_hour, in_top);
  /* posts: notes sharing a tweetId are consecutive (created close in time),
   * and their raters overlap far more than those of unrelated notes */
  for (size_t i = 0; i < g.nn; i++) {
    posts += i == 0 || strcmp(g.notes.rows[i][3], g.notes.rows[i - 1][3]) != 0;
    /* a post's notes are consecutive: no later note goes back to an earlier post */
    for (size_t j = i + 2; j < g.nn && j < i + 60; j++)
      if (!strcmp(g.notes.rows[i][3], g.notes.rows[j][3])) ASSERT_STREQ(g.notes.rows[j - 1][3], g.notes.rows[i][3]);
    if (i && !strcmp(g.notes.rows[i][3], g.notes.rows[i - 1][3]))
      ASSERT(g.created[i] - g.created[i - 1] < 24 * 3600000LL);
  }
  ASSERT_EQ(posts, st.n_posts);
  for (size_t i = 0; i + 1 < g.nn; i++) {
    size_t a = 0, b = 0, both = 0, j = (i * 7919 + 13) % g.nn;
    int sib = !strcmp(g.notes.rows[i][3], g.notes.rows[i + 1][3]);
    for (size_t u = 0; u < g.tr.nrows; u++) {
      uint8_t x = rated[i * g.tr.nrows + u], y = rated[(i + 1) * g.tr.nrows + u];
      a += x, b += y, both += x && y;
    }
    if (sib) sib_j += (double)both / (double)(a + b - both), sib_pairs++;
    if (j != i && strcmp(g.notes.rows[i][3], g.notes.rows[j][3])) {
      a = b = both = 0;
      for (size_t u = 0; u < g.tr.nrows; u++) {
        uint8_t x = rated[i * g.tr.nrows + u], y = rated[j * g.tr.nrows + u];
        a += x, b += y, both += x && y;
      }
      rnd_j += (double)both / (double)(a + b - both);
    }
  }
  ASSERT(sib_pairs > 100);
  sib_j /= (double)sib_pairs;
  rnd_j /= (double)(g.nn - 1);
  if (!(sib_j > 2 * rnd_j)) NS__FAIL("sibling notes' raters overlap %.4f, unrelated %.4f", sib_j, rnd_j);
  for (size_t i = 0; i < g.nn; i++) free(times[i]);
  free(times);
  free(nt);
  free(rated);
  free(order);
  free_gdata(&g);
}

TEST(gen_benign_cliques) {
  const char *d = ns_test_tmpdir();
  ns_gen_opts o;
  ns_gen_stats st;
  gdata g;
  uint8_t *rated;
  int c_clq, c_camp, c_comm, c_num;
  size_t nmem = 0, agree = 0, co = 0, pairs = 0;
  double in_j = 0, out_j = 0;
  size_t out_pairs = 0;
  uint32_t ids[8] = {0};
  size_t members[8][8], nm[8] = {0};
  ns_gen_default_opts(&o);
  o.raters = 600;
  o.notes = 400;
  o.ratings = 12000;
  o.seed = 7;
  o.communities = 2;
  o.cliques = 5;
  o.clique_size = 4;
  ASSERT_OK(ns_gen_run(&o, d, &st));
  ASSERT_EQ(st.n_cliques, 5);
  load_gdata(&g, d);
  c_clq = hcol(&g.tr, "cliqueId");
  c_camp = hcol(&g.tr, "camp");
  c_comm = hcol(&g.tr, "community");
  c_num = hcol(&g.tr, "numRatings");
  rated = calloc(g.nn * g.tr.nrows, 1);
  for (size_t i = 0; i < g.ratings.nrows; i++) {
    size_t ni, u;
    rating_idx(&g, i, &ni, &u);
    /* 1 NH, 2 SH, 3 H */
    rated[ni * g.tr.nrows + u] = g.ratings.rows[i][8][0] == 'N' ? 1 : g.ratings.rows[i][8][0] == 'S' ? 2 : 3;
  }
  for (size_t u = 0; u < g.tr.nrows; u++) {
    long q = strtol(g.tr.rows[u][c_clq], NULL, 10);
    if (!q) continue;
    ASSERT(q >= 1 && q <= 5);
    ids[q] = 1;
    members[q][nm[q]++] = u;
    nmem++;
  }
  ASSERT_EQ(nmem, st.n_clique_raters);
  for (int q = 1; q <= 5; q++) {
    ASSERT(ids[q]);
    ASSERT(nm[q] >= 3 && nm[q] <= 5); /* sizes S-1 .. S+1 */
    for (size_t a = 0; a < nm[q]; a++) {
      /* friends: one community (and, with enough raters, one camp) */
      ASSERT_STREQ(g.tr.rows[members[q][a]][c_comm], g.tr.rows[members[q][0]][c_comm]);
      ASSERT_STREQ(g.tr.rows[members[q][a]][c_camp], g.tr.rows[members[q][0]][c_camp]);
      for (size_t b = a + 1; b < nm[q]; b++) {
        size_t x = members[q][a], y = members[q][b], ca = 0, cb = 0, both = 0;
        for (size_t n = 0; n < g.nn; n++) {
          uint8_t va = rated[n * g.tr.nrows + x], vb = rated[n * g.tr.nrows + y];
          ca += va != 0, cb += vb != 0;
          if (va && vb) both++, co++, agree += va == vb;
        }
        in_j += (double)both / (double)(ca + cb - both);
        pairs++;
      }
    }
  }
  /* random pairs of non-clique raters with >= 10 ratings */
  for (size_t x = 0; x < g.tr.nrows && out_pairs < 2000; x += 3) {
    size_t y = (x * 7919 + 101) % g.tr.nrows, ca = 0, cb = 0, both = 0;
    if (x == y || strtol(g.tr.rows[x][c_clq], NULL, 10) || strtol(g.tr.rows[y][c_clq], NULL, 10) ||
        strtoll(g.tr.rows[x][c_num], NULL, 10) < 10 || strtoll(g.tr.rows[y][c_num], NULL, 10) < 10)
      continue;
    for (size_t n = 0; n < g.nn; n++) {
      uint8_t va = rated[n * g.tr.nrows + x], vb = rated[n * g.tr.nrows + y];
      ca += va != 0, cb += vb != 0, both += va && vb;
    }
    out_j += (double)both / (double)(ca + cb - both);
    out_pairs++;
  }
  ASSERT(out_pairs > 50);
  in_j /= (double)pairs;
  out_j /= (double)out_pairs;
  /* members share notes far more than random raters, and mostly agree */
  if (!(in_j > 4 * out_j)) NS__FAIL("clique Jaccard %.3f vs random %.3f", in_j, out_j);
  ASSERT(co > 100);
  if (agree * 10 < co * 6) NS__FAIL("clique members agree on %zu of %zu co-rated notes", agree, co);
  free(rated);
  free_gdata(&g);
}

/* Ring accounts and target spreads, for the placement/timing tests. */
static void ring_check(const gdata *g, int want_comm, size_t *n_ring, size_t *n_targets,
                       int64_t *min_spread_honest, int64_t *max_spread_burst, size_t *comms_seen) {
  int c_ring = hcol(&g->tr, "isRing"), c_kind = hcol(&g->tn, "ringTargetKind");
  int c_comm = hcol(&g->tr, "community"), c_ncomm = hcol(&g->tn, "community");
  int c_tim = hcol(&g->tr, "ringTiming");
  int64_t *lo[2], *hi[2];
  uint32_t seen = 0;
  for (int k = 0; k < 2; k++) {
    lo[k] = malloc(g->nn * sizeof **lo);
    hi[k] = malloc(g->nn * sizeof **hi);
    for (size_t i = 0; i < g->nn; i++) lo[k][i] = INT64_MAX, hi[k][i] = INT64_MIN;
  }
  *n_ring = *n_targets = 0;
  for (size_t u = 0; u < g->tr.nrows; u++) {
    if (*g->tr.rows[u][c_ring] != '1') {
      ASSERT_STREQ(g->tr.rows[u][c_tim], "");
      continue;
    }
    (*n_ring)++;
    if (want_comm >= 0) ASSERT_EQ(strtol(g->tr.rows[u][c_comm], NULL, 10), want_comm);
    seen |= 1u << strtol(g->tr.rows[u][c_comm], NULL, 10);
  }
  for (size_t i = 0; i < g->ratings.nrows; i++) {
    size_t ni, u;
    int64_t ts;
    int k;
    rating_idx(g, i, &ni, &u);
    if (*g->tr.rows[u][c_ring] != '1' || !*g->tn.rows[ni][c_kind]) continue;
    ts = strtoll(g->ratings.rows[i][2], NULL, 10);
    /* every attack rating is valid: < 48 h after the note */
    ASSERT(ts > g->created[ni] && ts - g->created[ni] < 48 * 3600000LL);
    k = !strcmp(g->tr.rows[u][c_tim], "honest");
    if (!k) ASSERT_STREQ(g->tr.rows[u][c_tim], "burst");
    lo[k][ni] = NS_MIN(lo[k][ni], ts);
    hi[k][ni] = NS_MAX(hi[k][ni], ts);
  }
  *min_spread_honest = INT64_MAX;
  *max_spread_burst = 0;
  for (size_t i = 0; i < g->nn; i++) {
    if (!*g->tn.rows[i][c_kind]) continue;
    (*n_targets)++;
    if (want_comm >= 0) ASSERT_EQ(strtol(g->tn.rows[i][c_ncomm], NULL, 10), want_comm);
    if (hi[1][i] != INT64_MIN) *min_spread_honest = NS_MIN(*min_spread_honest, hi[1][i] - lo[1][i]);
    if (hi[0][i] != INT64_MIN) *max_spread_burst = NS_MAX(*max_spread_burst, hi[0][i] - lo[0][i]);
  }
  *comms_seen = (size_t)__builtin_popcount(seen);
  for (int k = 0; k < 2; k++) free(lo[k]), free(hi[k]);
}

TEST(gen_ring_place_and_timing) {
  const char *t = ns_test_tmpdir();
  char d[4200];
  ns_gen_opts o;
  ns_gen_stats st;
  gdata g;
  table en;
  size_t nring, ntg, comms;
  int64_t spread_h, spread_b;
  int c_ring;

  /* inside the second-largest community, honest timing, 5 + 5 targets */
  ns_gen_default_opts(&o);
  o.raters = 1200;
  o.notes = 800;
  o.ratings = 16000;
  o.seed = 7;
  o.communities = 4;
  o.ring = 12;
  o.ring_farm = 10;
  o.ring_targets = 5;
  o.ring_timing = NS_GEN_TIMING_HONEST;
  snprintf(d, sizeof d, "%s/inside", t);
  ASSERT_OK(ns_gen_run(&o, d, &st));
  ASSERT_EQ(st.n_bad_targets, 5);
  ASSERT_EQ(st.n_good_targets, 5);
  load_gdata(&g, d);
  ring_check(&g, 1, &nring, &ntg, &spread_h, &spread_b, &comms);
  ASSERT_EQ(nring, 12);
  ASSERT_EQ(ntg, 10);
  /* honest timing: no target gets its ring ratings within 15 minutes */
  if (spread_h <= NS_GEN_RING_WINDOW_MS) NS__FAIL("honest-timing ring: a target spread over %lld ms", (long long)spread_h);
  ASSERT_EQ(spread_b, 0);
  /* ring accounts carry their community's modelingGroup (community 1: group 1) */
  load_table(&en, d, "userEnrollment-00000.tsv");
  c_ring = hcol(&g.tr, "isRing");
  for (size_t u = 0; u < g.tr.nrows; u++)
    if (*g.tr.rows[u][c_ring] == '1') ASSERT_EQ(atoi(en.rows[u][6]), 1);
  free_table(&en);
  free_gdata(&g);

  /* spread over the communities, mixed timing */
  o.ring = 40;
  o.ring_place = NS_GEN_PLACE_SPREAD;
  o.ring_timing = NS_GEN_TIMING_MIXED;
  snprintf(d, sizeof d, "%s/spread", t);
  ASSERT_OK(ns_gen_run(&o, d, &st));
  load_gdata(&g, d);
  ring_check(&g, -1, &nring, &ntg, &spread_h, &spread_b, &comms);
  ASSERT_EQ(nring, 40);
  ASSERT(comms >= 3);                            /* accounts in several communities */
  ASSERT(spread_h > NS_GEN_RING_WINDOW_MS);      /* the honest half spreads */
  ASSERT(spread_b > 0 && spread_b < NS_GEN_RING_WINDOW_MS); /* the burst half does not */
  {
    size_t nh = 0;
    int c_tim = hcol(&g.tr, "ringTiming");
    for (size_t u = 0; u < g.tr.nrows; u++) nh += !strcmp(g.tr.rows[u][c_tim], "honest");
    ASSERT_EQ(nh, 20);
  }
  free_gdata(&g);

  /* targets counted in tens: 50 + 50 with one community */
  ns_gen_default_opts(&o);
  o.raters = 600;
  o.notes = 1000;
  o.ratings = 12000;
  o.seed = 7;
  o.ring = 6;
  o.ring_targets = 50;
  snprintf(d, sizeof d, "%s/fifty", t);
  ASSERT_OK(ns_gen_run(&o, d, &st));
  ASSERT_EQ(st.n_bad_targets, 50);
  ASSERT_EQ(st.n_good_targets, 50);
  ASSERT_EQ(st.n_ring_ratings, 6 * 100);
}

/* Same options, same bytes; and a ring changes no honest rating, with every
** shape on. */
TEST(gen_shapes_deterministic) {
  static const char *const files[7] = {"notes-00000.tsv", "ratings-00000.tsv",
      "noteStatusHistory-00000.tsv", "userEnrollment-00000.tsv", "truth_notes.tsv",
      "truth_raters.tsv", "gen_meta.json"};
  const char *t = ns_test_tmpdir();
  char a[4200], b[4200], c[4200], fa[4300], fb[4300];
  ns_gen_opts o;
  ns_gen_stats sa, sc;
  ns_gen_default_opts(&o);
  o.raters = 800;
  o.notes = 500;
  o.ratings = 10000;
  o.seed = 11;
  ASSERT_OK(ns_gen_apply_shape(&o, "combined"));
  snprintf(a, sizeof a, "%s/a", t);
  snprintf(b, sizeof b, "%s/b", t);
  snprintf(c, sizeof c, "%s/c", t);
  ASSERT_OK(ns_gen_run(&o, c, &sc)); /* no ring */
  o.ring = 20;
  o.ring_farm = 10;
  o.ring_place = NS_GEN_PLACE_SPREAD;
  o.ring_timing = NS_GEN_TIMING_MIXED;
  ASSERT_OK(ns_gen_run(&o, a, &sa));
  ASSERT_OK(ns_gen_run(&o, b, NULL));
  for (int i = 0; i < 7; i++) {
    snprintf(fa, sizeof fa, "%s/%s", a, files[i]);
    snprintf(fb, sizeof fb, "%s/%s", b, files[i]);
    if (!files_equal(fa, fb)) NS__FAIL("%s differs between two runs with the same options", files[i]);
  }
  /* the honest rows come first and are the same bytes as without the ring */
  {
    size_t la, lc;
    char *ra, *rc;
    snprintf(fa, sizeof fa, "%s/ratings-00000.tsv", a);
    snprintf(fb, sizeof fb, "%s/ratings-00000.tsv", c);
    ra = ns_test_slurp(fa, &la);
    rc = ns_test_slurp(fb, &lc);
    ASSERT(ra && rc && la > lc);
    ASSERT(memcmp(ra, rc, lc) == 0);
    ASSERT_EQ(sa.n_ratings - sa.n_ring_ratings, sc.n_ratings);
    free(ra);
    free(rc);
  }
}

/* --reference-ready: the same ratings (every column but the dropped
** suggestionId), the pinned reference's column sets, topic seed words
** grouped by community, locked history only on notes older than 14 days
** with CRH -> NMR flips, group 14 on community 2. */
TEST(gen_reference_ready) {
  const char *t = ns_test_tmpdir();
  char a[4200], b[4200];
  ns_gen_opts o;
  ns_gen_stats sa, sb;
  table ra, rb, n, h, e, tn, tr;
  size_t topics[5] = {0}, locked = 0, flips = 0, g14 = 0;
  static const char *const words[5] = {"ukraine", "gaza", "scam", "sc st", "messi"};
  ns_gen_default_opts(&o);
  o.raters = 800;
  o.notes = 500;
  o.ratings = 10000;
  o.seed = 13;
  o.ring = 10;
  o.ring_targets = 3;
  ASSERT_OK(ns_gen_apply_shape(&o, "combined"));
  snprintf(a, sizeof a, "%s/plain", t);
  snprintf(b, sizeof b, "%s/ref", t);
  ASSERT_OK(ns_gen_run(&o, a, &sa));
  o.reference_ready = 1;
  ASSERT_OK(ns_gen_run(&o, b, &sb));
  ASSERT_EQ(sa.n_ratings, sb.n_ratings);
  ASSERT_EQ(sa.n_topic_notes, 0);
  ASSERT_EQ(sa.n_locked, 0);
  load_table(&ra, a, "ratings-00000.tsv");
  load_table(&rb, b, "ratings-00000.tsv");
  ASSERT_EQ(ra.nh, 35);
  ASSERT_EQ(rb.nh, 34);
  ASSERT_STREQ(rb.hdr[33], "suggestion");
  ASSERT_EQ(ra.nrows, rb.nrows);
  for (size_t i = 0; i < ra.nrows; i++) {
    ASSERT_EQ(rb.nf[i], 34);
    for (int j = 0; j < 34; j++)
      if (strcmp(ra.rows[i][j], rb.rows[i][j])) NS__FAIL("rating %zu column %d differs", i, j);
  }
  load_table(&n, b, "notes-00000.tsv");
  load_table(&h, b, "noteStatusHistory-00000.tsv");
  load_table(&e, b, "userEnrollment-00000.tsv");
  load_table(&tn, b, "truth_notes.tsv");
  load_table(&tr, b, "truth_raters.tsv");
  ASSERT_EQ(h.nh, 23);
  ASSERT_EQ(n.nrows, 500);
  {
    int cs = hcol(&n, "summary"), ccomm = hcol(&tn, "community");
    int cl = hcol(&h, "lockedStatus"), cf = hcol(&h, "firstNonNMRStatus"), ccr = hcol(&h, "createdAtMillis");
    int ctl = hcol(&h, "timestampMillisOfStatusLock"), cdec = hcol(&h, "currentDecidedBy");
    int ckind = hcol(&tn, "ringTargetKind"), cstab = hcol(&h, "timestampMillisOfNmrDueToMinStableCrhTime");
    for (size_t i = 0; i < n.nrows; i++) {
      char low[512];
      size_t k = 0;
      int found = -1, comm = atoi(tn.rows[i][ccomm]);
      for (const char *p = n.rows[i][cs]; *p && k < sizeof low - 1; p++) low[k++] = (char)tolower((unsigned char)*p);
      low[k] = 0;
      for (int w = 0; w < 5; w++)
        if (strstr(low, words[w])) {
          ASSERT(found < 0); /* one topic per note */
          found = w;
        }
      /* the topic is the community's (the notes of a post share the author's) */
      ASSERT_EQ(found, comm >= 1 && comm <= 5 ? comm - 1 : -1);
      if (found >= 0) topics[found]++;
      ASSERT_EQ(h.nf[i], 23);
      if (h.rows[i][cl][0]) {
        int64_t cr = atoll(h.rows[i][ccr]);
        ASSERT(cr < o.epoch_ms - 14LL * 86400000);
        ASSERT_EQ(atoll(h.rows[i][ctl]), cr + 14LL * 86400000);
        ASSERT_STREQ(h.rows[i][cdec], "CoreModel (v1.1)");
        ASSERT(!tn.rows[i][ckind][0]); /* ring targets stay unlocked */
        locked++;
        flips += !strcmp(h.rows[i][cf], "CURRENTLY_RATED_HELPFUL") &&
                 !strcmp(h.rows[i][cl], "NEEDS_MORE_RATINGS");
        ASSERT(!h.rows[i][cstab][0]);
      } else {
        ASSERT(!h.rows[i][cf][0]);
        ASSERT_EQ(atoll(h.rows[i][cstab]), o.epoch_ms - 3LL * 3600000); /* stabilization clock */
      }
    }
  }
  for (int w = 0; w < 5; w++) ASSERT(topics[w] >= 10);
  {
    /* NOT_MISLEADING peers: on each post with a note that was CRH once,
    ** the earliest other note that is not a ring target (the notes file is
    ** in creation order); nothing else changes class */
    table pn;
    int ccls = hcol(&n, "classification"), ctw = hcol(&n, "tweetId"), cf = hcol(&h, "firstNonNMRStatus");
    int ckind = hcol(&tn, "ringTargetKind");
    size_t turned = 0, want = 0;
    load_table(&pn, a, "notes-00000.tsv");
    ASSERT_EQ(pn.nrows, n.nrows);
    for (size_t i = 0; i < n.nrows; i++) {
      int plain_nm = !strcmp(pn.rows[i][ccls], "NOT_MISLEADING");
      int ref_nm = !strcmp(n.rows[i][ccls], "NOT_MISLEADING");
      int expect = 0, post_lab = 0, earlier = 0;
      for (size_t j = 0; j < n.nrows; j++) {
        if (strcmp(n.rows[j][ctw], n.rows[i][ctw])) continue;
        if (j != i && !strcmp(h.rows[j][cf], "CURRENTLY_RATED_HELPFUL")) post_lab = 1;
        /* an earlier candidate of the same post takes the turn */
        if (j < i && strcmp(h.rows[j][cf], "CURRENTLY_RATED_HELPFUL") && !tn.rows[j][ckind][0]) earlier = 1;
      }
      expect = post_lab && !earlier && strcmp(h.rows[i][cf], "CURRENTLY_RATED_HELPFUL") &&
               !tn.rows[i][ckind][0];
      if (plain_nm) ASSERT(ref_nm);
      else if (ref_nm != expect) NS__FAIL("note %zu: NOT_MISLEADING %d, want %d", i, ref_nm, expect);
      turned += ref_nm && !plain_nm;
      want += expect;
    }
    ASSERT_EQ(turned, sb.n_ref_not_misleading);
    ASSERT_EQ(sa.n_ref_not_misleading, 0);
    ASSERT(turned > 5);
    ASSERT(want >= turned);
    free_table(&pn);
  }
  ASSERT_EQ(locked, sb.n_locked);
  ASSERT_EQ(flips, sb.n_flips);
  ASSERT(locked > 100 && locked < 250); /* about a third of 500 */
  ASSERT(flips > 0);
  {
    int cg = hcol(&e, "modelingGroup"), cc = hcol(&tr, "community");
    ASSERT_EQ(e.nrows, tr.nrows);
    for (size_t i = 0; i < e.nrows; i++) {
      int comm = atoi(tr.rows[i][cc]), grp = atoi(e.rows[i][cg]);
      if (comm == 2) ASSERT_EQ(grp, 14);
      if (comm == 13) ASSERT_EQ(grp, 2);
      g14 += grp == 14;
    }
    ASSERT(g14 > 50);
  }
  free_table(&ra);
  free_table(&rb);
  free_table(&n);
  free_table(&h);
  free_table(&e);
  free_table(&tn);
  free_table(&tr);
}
