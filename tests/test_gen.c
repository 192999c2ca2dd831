/*
** tests/test_gen.c -- the synthetic data generator (tools/gen.c).
**
** The tests read the generated files back with a small independent TSV
** splitter and check the properties the scorer tests rely on: exact public
** headers, determinism, no duplicate (note, rater), rating times, tags that
** match the level, the planted ring, and one-sided support for partisan
** notes.  Sizes are small so the whole file runs in well under a second.
*/
#include "harness.h"

#include "../base/dataset.h"
#include "../tools/gen.h"

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
