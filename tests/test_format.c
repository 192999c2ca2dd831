/*
** tests/test_format.c -- the public format module (store/format.c): the
** column tables, the header mapping and every reject code of the four row
** validators, fed values the way the readers build them (TSV cells as
** text, JSON numbers / booleans / null marked as such).
*/
#include "harness.h"

#include "../base/dataset.h"
#include "../store/format.h"

/* A row of values for kind, built from "column=value" pairs; a value
** prefixed with '#' is a JSON number, "!true"/"!false" a JSON boolean,
** "!null" a JSON null; anything else is text (a TSV cell / JSON string). */
typedef struct vrow {
  ns_fmt_val v[40];
} vrow;

static void set(vrow *r, int kind, const char *col, const char *val) {
  int alias, c = ns_fmt_col_find(kind, col, strlen(col), &alias);
  ASSERT(c >= 0);
  r->v[c].type = NS_FV_TEXT;
  if (val[0] == '#') {
    r->v[c].type = NS_FV_NUMBER;
    val++;
  } else if (!strcmp(val, "!true") || !strcmp(val, "!false")) {
    r->v[c].type = NS_FV_BOOL;
    val = val[1] == 't' ? "1" : "0";
  } else if (!strcmp(val, "!null")) {
    r->v[c].type = NS_FV_NULL;
    val = "";
  }
  r->v[c].p = val;
  r->v[c].n = strlen(val);
}

static void rating(vrow *r, const char *note, const char *rater, const char *ms, const char *lvl) {
  memset(r, 0, sizeof *r);
  set(r, NS_FILE_RATINGS, "noteId", note);
  set(r, NS_FILE_RATINGS, "raterParticipantId", rater);
  set(r, NS_FILE_RATINGS, "createdAtMillis", ms);
  set(r, NS_FILE_RATINGS, "helpfulnessLevel", lvl);
}

/* Validates a rating; returns the reject code ("" when accepted). */
static const char *rate(const vrow *r, ns_fmt_rating *out, ns_fmt_err *e) {
  return ns_fmt_rating_row(r->v, out, e) == 0 ? "" : e->code;
}

TEST(format_tables) {
  const ns_fmt_kind *n = ns_fmt_kind_get(NS_FILE_NOTES), *r = ns_fmt_kind_get(NS_FILE_RATINGS);
  const ns_fmt_kind *h = ns_fmt_kind_get(NS_FILE_HISTORY), *e = ns_fmt_kind_get(NS_FILE_ENROLLMENT);
  ASSERT(n && r && h && e);
  ASSERT(!ns_fmt_kind_get(NS_FILE_UNKNOWN));
  ASSERT_EQ(n->ncols, 24);
  ASSERT_EQ(r->ncols, 35);
  ASSERT_EQ(h->ncols, 24);
  ASSERT_EQ(e->ncols, 8);
  ASSERT_STREQ(n->cols[23].name, "isCollaborativeNote");
  ASSERT_STREQ(r->cols[8].name, "helpfulnessLevel");
  ASSERT_STREQ(r->cols[32].name, "ratingSourceBucketed");
  ASSERT_STREQ(r->cols[34].name, "suggestionId");
  for (int t = 0; t < NS_N_TAGS; t++) {
    ASSERT_STREQ(r->cols[NS_FMT_R_TAG0 + t].name, ns_tag_names[t]);
    ASSERT_EQ(r->cols[NS_FMT_R_TAG0 + t].type, NS_FT_FLAG);
  }
  ASSERT_STREQ(h->cols[15].name, "currentDecidedBy");
  ASSERT_STREQ(h->cols[23].name, "abovePcrhThresholdTime");
  ASSERT_STREQ(e->cols[7].name, "numberOfTimesEarnedOut");
  ASSERT_STREQ(r->cols[1].alias, "participantId");
  ASSERT_STREQ(ns_fmt_level_name(NS_LEVEL_SOMEWHAT_HELPFUL), "SOMEWHAT_HELPFUL");
  ASSERT_STREQ(ns_fmt_class_name(NS_CLASS_NONE), "");
  ASSERT_STREQ(ns_fmt_source_name(NS_SOURCE_POPULATION_SAMPLED), "POPULATION_SAMPLED");
}

TEST(format_rating_accepts) {
  vrow r;
  ns_fmt_rating x;
  ns_fmt_err e;
  rating(&r, "1789012345678901234", "A1", "1700000000000", "HELPFUL");
  set(&r, NS_FILE_RATINGS, "helpfulClear", "1");
  set(&r, NS_FILE_RATINGS, "notHelpfulIncorrect", "!true"); /* a JSON boolean in a flag */
  set(&r, NS_FILE_RATINGS, "helpfulOther", "0.0");
  set(&r, NS_FILE_RATINGS, "ratingSourceBucketed", "POPULATION_SAMPLED");
  ASSERT_STREQ(rate(&r, &x, &e), "");
  ASSERT_EQ(x.note_id, 1789012345678901234LL);
  ASSERT_EQ(x.rater_len, 2);
  ASSERT_EQ(x.created_ms, 1700000000000LL);
  ASSERT_EQ(x.level, NS_LEVEL_HELPFUL);
  ASSERT_EQ(x.tags, NS_TAG_BIT(2) | NS_TAG_BIT(NS_TAG_NH_INCORRECT));
  ASSERT_EQ(x.source, NS_SOURCE_POPULATION_SAMPLED);
  /* a bucket the reference does not name reads as DEFAULT */
  set(&r, NS_FILE_RATINGS, "ratingSourceBucketed", "NEW_BUCKET");
  ASSERT_STREQ(rate(&r, &x, &e), "");
  ASSERT_EQ(x.source, NS_SOURCE_DEFAULT);
  /* pandas' ".0" tail; a JSON number; legacy flags, notHelpful last */
  rating(&r, "12.0", "B", "#5", "");
  set(&r, NS_FILE_RATINGS, "helpful", "1");
  set(&r, NS_FILE_RATINGS, "notHelpful", "1.0");
  ASSERT_STREQ(rate(&r, &x, &e), "");
  ASSERT_EQ(x.note_id, 12);
  ASSERT_EQ(x.level, NS_LEVEL_NOT_HELPFUL);
  ASSERT_EQ(x.source, NS_SOURCE_DEFAULT);
  /* 255 bytes of id: the limit */
  {
    char id[256];
    memset(id, 'f', 255);
    id[255] = '\0';
    rating(&r, "1", id, "0", "NOT_HELPFUL");
    ASSERT_STREQ(rate(&r, &x, &e), "");
    ASSERT_EQ(x.rater_len, 255);
  }
  /* UTF-8 ids are fine */
  rating(&r, "1", "\xc3\xa9t\xc3\xa9", "0", "NOT_HELPFUL");
  ASSERT_STREQ(rate(&r, &x, &e), "");
}

TEST(format_rating_rejects) {
  static const struct {
    const char *note, *rater, *ms, *lvl, *extra_col, *extra_val;
    const char *code, *col, *msg;
  } cases[] = {
      {"", "A", "1", "HELPFUL", NULL, NULL, "missing", "noteId", "noteId: missing value"},
      {"abc", "A", "1", "HELPFUL", NULL, NULL, "not_integer", "noteId",
       "noteId: expected an integer, got \"abc\""},
      {"true", "A", "1", "HELPFUL", NULL, NULL, "not_integer", "noteId", NULL},
      {"1.5", "A", "1", "HELPFUL", NULL, NULL, "not_integer", "noteId", NULL},
      {"99999999999999999999", "A", "1", "HELPFUL", NULL, NULL, "not_integer", "noteId", NULL},
      {"0", "A", "1", "HELPFUL", NULL, NULL, "id_not_positive", "noteId",
       "noteId: must be a positive integer, got \"0\""},
      {"-3", "A", "1", "HELPFUL", NULL, NULL, "id_not_positive", "noteId", NULL},
      {"!true", "A", "1", "HELPFUL", NULL, NULL, "boolean", "noteId",
       "noteId: a boolean is only allowed in a 0/1 column"},
      {"1", "", "1", "HELPFUL", NULL, NULL, "missing", "raterParticipantId", NULL},
      {"1", "!null", "1", "HELPFUL", NULL, NULL, "missing", "raterParticipantId", NULL},
      {"1", "a\tb", "1", "HELPFUL", NULL, NULL, "bad_participant", "raterParticipantId", NULL},
      {"1", "a\x7f", "1", "HELPFUL", NULL, NULL, "bad_participant", "raterParticipantId", NULL},
      {"1", "\xff\xfe", "1", "HELPFUL", NULL, NULL, "bad_participant", "raterParticipantId", NULL},
      {"1", "!false", "1", "HELPFUL", NULL, NULL, "boolean", "raterParticipantId", NULL},
      {"1", "A", "-1", "HELPFUL", NULL, NULL, "negative_time", "createdAtMillis",
       "createdAtMillis: must not be negative, got \"-1\""},
      {"1", "A", "!true", "HELPFUL", NULL, NULL, "boolean", "createdAtMillis", NULL},
      {"1", "A", "1", "MEH", NULL, NULL, "unknown_value", "helpfulnessLevel",
       "helpfulnessLevel: unknown value, got \"MEH\""},
      {"1", "A", "1", "helpful", NULL, NULL, "unknown_value", "helpfulnessLevel", NULL},
      {"1", "A", "1", "", NULL, NULL, "no_level", "helpfulnessLevel", NULL},
      {"1", "A", "1", "", "helpful", "0", "no_level", "helpfulnessLevel", NULL},
      {"1", "A", "1", "HELPFUL", "helpfulClear", "2", "not_flag", "helpfulClear",
       "helpfulClear: expected 0 or 1, got \"2\""},
      {"1", "A", "1", "HELPFUL", "notHelpful", "yes", "not_flag", "notHelpful", NULL},
      {"1", "A", "1", "HELPFUL", "ratingSourceBucketed", "NEW BUCKET", "unknown_value",
       "ratingSourceBucketed", NULL},
      {"1", "A", "1", "HELPFUL", "ratingSourceBucketed", "!true", "boolean",
       "ratingSourceBucketed", NULL},
  };
  for (size_t i = 0; i < NS_ARRAY_LEN(cases); i++) {
    vrow r;
    ns_fmt_rating x;
    ns_fmt_err e;
    int alias;
    rating(&r, cases[i].note, cases[i].rater, cases[i].ms, cases[i].lvl);
    if (cases[i].extra_col) set(&r, NS_FILE_RATINGS, cases[i].extra_col, cases[i].extra_val);
    ASSERT_STREQ(rate(&r, &x, &e), cases[i].code);
    ASSERT_EQ(e.col, ns_fmt_col_find(NS_FILE_RATINGS, cases[i].col, strlen(cases[i].col), &alias));
    if (cases[i].msg) ASSERT_STREQ(e.msg, cases[i].msg);
  }
  /* 256 and 257 bytes: one past the limit */
  for (int len = 256; len <= 257; len++) {
    char id[300];
    vrow r;
    ns_fmt_rating x;
    ns_fmt_err e;
    memset(id, 'f', (size_t)len);
    id[len] = '\0';
    rating(&r, "1", id, "0", "HELPFUL");
    ASSERT_STREQ(rate(&r, &x, &e), "participant_too_long");
    ASSERT_STREQ(e.msg, "raterParticipantId: participant id longer than 255 bytes");
  }
}

TEST(format_note_rows) {
  vrow r;
  ns_fmt_note x;
  ns_fmt_err e;
  memset(&r, 0, sizeof r);
  set(&r, NS_FILE_NOTES, "noteId", "#7");
  set(&r, NS_FILE_NOTES, "participantId", "AU"); /* the old name */
  set(&r, NS_FILE_NOTES, "createdAtMillis", "100");
  ASSERT_OK(ns_fmt_note_row(r.v, &x, &e));
  ASSERT_EQ(x.note_id, 7);
  ASSERT_EQ(x.author_len, 2);
  ASSERT_EQ(x.tweet_id, -1);
  ASSERT_EQ(x.classification, NS_CLASS_NONE);
  set(&r, NS_FILE_NOTES, "tweetId", "1.6e12");
  set(&r, NS_FILE_NOTES, "classification", "MISINFORMED_OR_POTENTIALLY_MISLEADING");
  ASSERT_OK(ns_fmt_note_row(r.v, &x, &e));
  ASSERT_EQ(x.tweet_id, 1600000000000LL);
  ASSERT_EQ(x.classification, NS_CLASS_MISLEADING);
  set(&r, NS_FILE_NOTES, "classification", "WHATEVER");
  ASSERT_ERR(ns_fmt_note_row(r.v, &x, &e), -1);
  ASSERT_STREQ(e.code, "unknown_value");
  set(&r, NS_FILE_NOTES, "classification", "");
  set(&r, NS_FILE_NOTES, "tweetId", "x");
  ASSERT_ERR(ns_fmt_note_row(r.v, &x, &e), -1);
  ASSERT_STREQ(e.code, "not_integer");
  set(&r, NS_FILE_NOTES, "tweetId", "");
  set(&r, NS_FILE_NOTES, "noteId", "!true");
  ASSERT_ERR(ns_fmt_note_row(r.v, &x, &e), -1);
  ASSERT_STREQ(e.code, "boolean");
}

TEST(format_enroll_rows) {
  vrow r;
  ns_fmt_enroll x;
  ns_fmt_err e;
  memset(&r, 0, sizeof r);
  set(&r, NS_FILE_ENROLLMENT, "participantId", "P");
  set(&r, NS_FILE_ENROLLMENT, "enrollmentState", "earnedIn");
  ASSERT_OK(ns_fmt_enroll_row(r.v, &x, &e));
  ASSERT_EQ(x.e.state, NS_ENROLL_EARNED_IN);
  ASSERT_EQ(x.e.successful_needed, NS_TS_NONE);
  ASSERT_EQ(x.e.modeling_group, -1);
  ASSERT_STREQ(x.e.modeling_population, "");
  set(&r, NS_FILE_ENROLLMENT, "enrollmentState", "#4"); /* thrift code of newUser */
  set(&r, NS_FILE_ENROLLMENT, "modelingGroup", "13.0");
  set(&r, NS_FILE_ENROLLMENT, "modelingPopulation", "CORE");
  set(&r, NS_FILE_ENROLLMENT, "numberOfTimesEarnedOut", "nan");
  ASSERT_OK(ns_fmt_enroll_row(r.v, &x, &e));
  ASSERT_EQ(x.e.state, NS_ENROLL_NEW_USER);
  ASSERT_EQ(x.e.modeling_group, 13);
  ASSERT_STREQ(x.e.modeling_population, "CORE");
  ASSERT_EQ(x.e.times_earned_out, NS_TS_NONE);
  static const struct { const char *col, *val, *code; } bad[] = {
      {"enrollmentState", "9", "unknown_value"},
      {"enrollmentState", "", "missing"},
      {"enrollmentState", "!true", "boolean"},
      {"modelingGroup", "-1", "out_of_range"},
      {"modelingGroup", "4294967296", "out_of_range"},
      {"modelingPopulation", "0123456789ABCDEF", "bad_text"}, /* 16 bytes: > 15 */
      {"modelingPopulation", "a\x01", "bad_text"},
      {"timestampOfLastEarnOut", "soon", "not_integer"},
      {"participantId", "", "missing"},
  };
  for (size_t i = 0; i < NS_ARRAY_LEN(bad); i++) {
    vrow b = r;
    set(&b, NS_FILE_ENROLLMENT, bad[i].col, bad[i].val);
    ASSERT_ERR(ns_fmt_enroll_row(b.v, &x, &e), -1);
    ASSERT_STREQ(e.code, bad[i].code);
    ASSERT(strncmp(e.msg, bad[i].col, strlen(bad[i].col)) == 0);
  }
}

TEST(format_history_rows) {
  vrow r;
  ns_fmt_history x;
  ns_fmt_err e;
  memset(&r, 0, sizeof r);
  set(&r, NS_FILE_HISTORY, "noteId", "5");
  set(&r, NS_FILE_HISTORY, "currentStatus", "CURRENTLY_RATED_HELPFUL");
  set(&r, NS_FILE_HISTORY, "lockedStatus", "nan");
  set(&r, NS_FILE_HISTORY, "currentDecidedBy", "CoreModel (v1.1)");
  set(&r, NS_FILE_HISTORY, "currentModelingGroup", "13.0");
  set(&r, NS_FILE_HISTORY, "timestampMillisOfNmrDueToMinStableCrhTime", "-1");
  ASSERT_OK(ns_fmt_history_row(r.v, &x, &e));
  ASSERT_EQ(x.h.note_id, 5);
  ASSERT_EQ(x.author_len, 0);
  ASSERT_EQ(x.h.current_status, NS_STATUS_CRH);
  ASSERT_EQ(x.h.locked_status, NS_STATUS_UNSET);
  ASSERT_STREQ(x.h.decided_by, "CoreModel (v1.1)");
  ASSERT_NEAR(x.h.current_modeling_group, 13.0, 0);
  ASSERT(isnan(x.h.current_modeling_multi_group));
  ASSERT_EQ(x.h.ts_nmr_due_to_stable_crh, -1); /* history keeps its -1 sentinel */
  ASSERT_EQ(x.h.ts_lock, NS_TS_NONE);
  static const struct { const char *col, *val, *code; } bad[] = {
      {"noteId", "0", "id_not_positive"},
      {"currentStatus", "GREAT", "unknown_value"},
      {"currentModelingGroup", "x", "not_number"},
      {"currentModelingGroup", "inf", "not_number"},
      {"currentDecidedBy", "0123456789012345678901234567890123456789012345678", "bad_text"},
      {"timestampMillisOfStatusLock", "-9223372036854775808", "out_of_range"},
      {"noteAuthorParticipantId", "a\nb", "bad_participant"},
  };
  for (size_t i = 0; i < NS_ARRAY_LEN(bad); i++) {
    vrow b = r;
    set(&b, NS_FILE_HISTORY, bad[i].col, bad[i].val);
    ASSERT_ERR(ns_fmt_history_row(b.v, &x, &e), -1);
    ASSERT_STREQ(e.code, bad[i].code);
  }
}

static int map(int kind, const char *hdr, int *m, ns_fmt_err *e) {
  const char *names[16];
  size_t lens[16];
  int n = 0;
  const char *p = hdr;
  for (;;) {
    const char *t = strchr(p, '\t');
    names[n] = p;
    lens[n] = t ? (size_t)(t - p) : strlen(p);
    n++;
    if (!t) break;
    p = t + 1;
  }
  return ns_fmt_map_header(kind, names, lens, n, m, e);
}

TEST(format_headers) {
  int m[40];
  ns_fmt_err e;
  ASSERT_OK(map(NS_FILE_RATINGS, "x\tcreatedAtMillis\tparticipantId\tnoteId\thelpfulnessLevel", m, &e));
  ASSERT_EQ(m[0], 3);
  ASSERT_EQ(m[1], 2); /* by its old name */
  ASSERT_EQ(m[2], 1);
  ASSERT_EQ(m[8], 4);
  ASSERT_EQ(m[6], -1);
  /* both names: the current one counts */
  ASSERT_OK(map(NS_FILE_RATINGS, "participantId\traterParticipantId\tnoteId\tcreatedAtMillis\thelpful\tnotHelpful", m, &e));
  ASSERT_EQ(m[1], 1);
  ASSERT_ERR(map(NS_FILE_RATINGS, "noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\thelpfulnessLevel", m, &e), -1);
  ASSERT_STREQ(e.code, "duplicate_column");
  ASSERT_EQ(e.col, 4);
  ASSERT_STREQ(e.msg, "duplicate column 'helpfulnessLevel' (also column 4)");
  ASSERT_ERR(map(NS_FILE_RATINGS, "noteId\traterParticipantId\tcreatedAtMillis\thelpful", m, &e), -1);
  ASSERT_STREQ(e.code, "missing_column");
  ASSERT_ERR(map(NS_FILE_NOTES, "noteId\tcreatedAtMillis", m, &e), -1);
  ASSERT_STREQ(e.msg, "missing required column 'noteAuthorParticipantId' in notes file");
  ASSERT_OK(map(NS_FILE_ENROLLMENT, "participantId\tenrollmentState", m, &e));
  {
    const char *names[] = {"noteId", "currentStatus"};
    size_t lens[] = {6, 13};
    ASSERT_EQ(ns_fmt_detect(names, lens, 2), NS_FILE_HISTORY);
    ASSERT_EQ(ns_fmt_detect(names, lens, 1), NS_FILE_UNKNOWN);
  }
}

/* The HTTP side of the same rules: a TSV body is read by the file reader
** (ns_tsv_parse_mem) with the BOM skipped and the expected kind mapped. */
typedef struct seen {
  int ok, rej;
  char codes[256];
} seen;

static int seen_rating(void *ctx, const ns_fmt_rating *r) {
  (void)r;
  ((seen *)ctx)->ok++;
  return 0;
}

static void seen_reject(void *ctx, uint64_t line, int col, const char *code, const char *msg) {
  seen *s = ctx;
  (void)msg;
  s->rej++;
  snprintf(s->codes + strlen(s->codes), sizeof s->codes - strlen(s->codes), "%d:%d:%s ",
           (int)line, col, code);
}

TEST(format_tsv_mem) {
  seen s;
  char err[200];
  ns_fmt_sink sink = {&s, NULL, seen_rating, NULL, NULL, seen_reject};
  const char *body = "\xEF\xBB\xBFnoteId\tparticipantId\tcreatedAtMillis\thelpfulnessLevel\n"
                     "1\tA\t5\tHELPFUL\n"
                     "0\tA\t5\tHELPFUL\n"
                     "2\tA\t5\n"
                     "3\t\"A\"\t5\tNOT_HELPFUL\n";
  memset(&s, 0, sizeof s);
  ASSERT_OK(ns_tsv_parse_mem(body, strlen(body), NS_FILE_RATINGS, &sink, err, sizeof err));
  ASSERT_EQ(s.ok, 2);
  ASSERT_EQ(s.rej, 2);
  ASSERT_STREQ(s.codes, "3:1:id_not_positive 4:4:field_count ");
  ASSERT_STREQ(err, "");
  body = "noteId\tcreatedAtMillis\tcreatedAtMillis\n";
  ASSERT_ERR(ns_tsv_parse_mem(body, strlen(body), NS_FILE_RATINGS, &sink, err, sizeof err), NS_EPARSE);
  ASSERT_STREQ(err, "body:1:3: duplicate column 'createdAtMillis' (also column 2)");
  ASSERT_ERR(ns_tsv_parse_mem("", 0, NS_FILE_RATINGS, &sink, err, sizeof err), NS_EPARSE);
  ASSERT(strstr(err, "empty"));
}
