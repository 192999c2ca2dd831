/*
** tests/test_store.c -- store/: the public-TSV reader (header mapping, legacy
** helpfulness columns, every bad-input case with its exact message), strict
** mode, the SQLite store (upsert, import twice, snapshot == TSV load,
** strict rollback, ingest, run publication and the views).
**
** Fixtures: the four files in tests/data/ (a few rows of each public file).
*/
#include "harness.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/dataset.h"
#include "../base/rules.h"
#include "../store/store.h"

/* ---- helpers ----------------------------------------------------------- */

/* Collects report messages, one per line. */
typedef struct msgs {
  char buf[8192];
  size_t n;
  int count;
} msgs;

static void collect(void *ctx, const char *m) {
  msgs *g = ctx;
  g->count++;
  g->n += (size_t)snprintf(g->buf + g->n, sizeof g->buf - g->n, "%s\n", m);
  if (g->n >= sizeof g->buf) g->n = sizeof g->buf - 1;
}

/* Loads a TSV held in a string; returns the rc; messages in *g. */
static int load_str(const char *name, const char *text, int strict, ns_dataset *ds, msgs *g,
                    ns_load_stats *st) {
  ns_load_opts o = {strict, collect, g, NULL};
  memset(g, 0, sizeof *g);
  return ns_tsv_load_mem(name, text, strlen(text), 0, ds, &o, st);
}

#define RHEAD_MIN "noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\n"

static const char *pstr(const ns_dataset *ds, int32_t i) { return ns_strtab_str(ds->participants, i); }

/* Field-by-field equality of two normalized datasets. */
static void assert_same_dataset(const ns_dataset *a, const ns_dataset *b) {
  ASSERT_EQ(a->n_notes, b->n_notes);
  ASSERT_EQ(a->n_ratings, b->n_ratings);
  ASSERT_EQ(a->n_history, b->n_history);
  ASSERT_EQ(a->n_enrollment, b->n_enrollment);
  ASSERT_EQ(ns_strtab_count(a->participants), ns_strtab_count(b->participants));
  for (size_t i = 0; i < a->n_notes; i++) {
    ASSERT_EQ(a->note_id[i], b->note_id[i]);
    ASSERT_STREQ(pstr(a, a->note_author[i]), pstr(b, b->note_author[i]));
    ASSERT_EQ(a->note_created_ms[i], b->note_created_ms[i]);
    ASSERT_EQ(a->note_tweet_id[i], b->note_tweet_id[i]);
    ASSERT_EQ(a->note_class[i], b->note_class[i]);
  }
  for (size_t i = 0; i < a->n_ratings; i++) {
    ASSERT_EQ(a->r_note_id[i], b->r_note_id[i]);
    ASSERT_STREQ(pstr(a, a->r_rater[i]), pstr(b, b->r_rater[i]));
    ASSERT_EQ(ns_r_created(a, i), ns_r_created(b, i));
    ASSERT_EQ(ns_r_level(a, i), ns_r_level(b, i));
    ASSERT_EQ(ns_r_tags(a, i), ns_r_tags(b, i));
    ASSERT_EQ(ns_r_source(a, i), ns_r_source(b, i));
  }
  for (size_t i = 0; i < a->n_history; i++) {
    const ns_nsh *x = &a->history[i], *y = &b->history[i];
    ASSERT_EQ(x->note_id, y->note_id);
    ASSERT_STREQ(pstr(a, x->author), pstr(b, y->author));
    ASSERT_EQ(x->created_ms, y->created_ms);
    ASSERT_EQ(x->ts_first_non_nmr, y->ts_first_non_nmr);
    ASSERT_EQ(x->first_non_nmr_status, y->first_non_nmr_status);
    ASSERT_EQ(x->ts_current, y->ts_current);
    ASSERT_EQ(x->current_status, y->current_status);
    ASSERT_EQ(x->current_core_status, y->current_core_status);
    ASSERT_STREQ(x->decided_by, y->decided_by);
    ASSERT_EQ(isnan(x->current_modeling_group), isnan(y->current_modeling_group));
    if (!isnan(x->current_modeling_group))
      ASSERT_NEAR(x->current_modeling_group, y->current_modeling_group, 0);
    ASSERT_EQ(x->ts_most_recent_change, y->ts_most_recent_change);
    ASSERT_EQ(x->ts_minute_final_output, y->ts_minute_final_output);
    ASSERT_EQ(x->above_pcrh_threshold_time, y->above_pcrh_threshold_time);
  }
  for (size_t i = 0; i < a->n_enrollment; i++) {
    const ns_enrollment *x = &a->enrollment[i], *y = &b->enrollment[i];
    ASSERT_STREQ(pstr(a, x->participant), pstr(b, y->participant));
    ASSERT_EQ(x->state, y->state);
    ASSERT_EQ(x->successful_needed, y->successful_needed);
    ASSERT_EQ(x->ts_last_state_change, y->ts_last_state_change);
    ASSERT_EQ(x->ts_last_earn_out, y->ts_last_earn_out);
    ASSERT_STREQ(x->modeling_population, y->modeling_population);
    ASSERT_EQ(x->modeling_group, y->modeling_group);
    ASSERT_EQ(x->times_earned_out, y->times_earned_out);
  }
}

static ns_dataset *load_fixtures(void) {
  ns_dataset *ds;
  ns_load_stats st;
  ASSERT_OK(ns_dataset_new(&ds));
  ASSERT_OK(ns_tsv_load("tests/data", ds, NULL, &st));
  ASSERT_EQ(st.rows_read, 17);
  ASSERT_EQ(st.rows_rejected, 0);
  ASSERT_OK(ns_dataset_normalize(ds));
  return ds;
}

#define PA "A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6E7F8A9B0C1D2E3F4A5B6C7D8E9F0A1B2"
#define PB "0F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A69788796A5B4C3D2E1F0"
#define PD "DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF"

/* ---- TSV reader -------------------------------------------------------- */

TEST(store_tsv_fixtures) {
  ns_dataset *ds = load_fixtures();
  int kind;
  ASSERT_OK(ns_tsv_detect("tests/data/ratings-00000.tsv", &kind));
  ASSERT_EQ(kind, NS_FILE_RATINGS);
  ASSERT_OK(ns_tsv_detect("tests/data/noteStatusHistory-00000.tsv", &kind));
  ASSERT_EQ(kind, NS_FILE_HISTORY);
  ASSERT_EQ(ds->n_notes, 3);
  ASSERT_EQ(ds->n_ratings, 7);
  ASSERT_EQ(ds->n_history, 3);
  ASSERT_EQ(ds->n_enrollment, 4);
  ASSERT_EQ(ns_strtab_count(ds->participants), 4);
  /* notes: the quoted multi-line summary did not disturb the rows */
  ASSERT_EQ(ds->note_id[2], 1400000000000000003LL);
  ASSERT_EQ(ds->note_tweet_id[2], -1);
  ASSERT_EQ(ds->note_class[1], NS_CLASS_NOT_MISLEADING);
  ASSERT_STREQ(pstr(ds, ds->note_author[1]), PB);
  /* ratings sorted by (noteId, rater string); the first is the orphan */
  ASSERT_EQ(ds->r_note_id[0], 1399000000000000000LL);
  ASSERT_EQ(ns_r_tags(ds, 0), NS_TAG_BIT(9));
  ASSERT_EQ(ns_r_level(ds, 1), NS_LEVEL_HELPFUL);
  ASSERT_EQ(ns_r_tags(ds, 1), NS_TAG_BIT(1) | NS_TAG_BIT(2));
  ASSERT_EQ(ns_r_source(ds, 2), NS_SOURCE_POPULATION_SAMPLED);
  ASSERT_EQ(ns_r_level(ds, 3), NS_LEVEL_SOMEWHAT_HELPFUL);
  /* legacy helpful=1 / notHelpful=1 with an empty helpfulnessLevel */
  ASSERT_EQ(ds->r_note_id[5], 1400000000000000002LL);
  ASSERT_STREQ(pstr(ds, ds->r_rater[5]), PD);
  ASSERT_EQ(ns_r_level(ds, 5), NS_LEVEL_HELPFUL);
  ASSERT_EQ(ns_r_level(ds, 6), NS_LEVEL_NOT_HELPFUL);
  ASSERT_EQ(ns_r_tags(ds, 6), NS_TAG_BIT(21));
  /* history */
  ASSERT_EQ(ds->history[1].note_id, 1400000000000000001LL);
  ASSERT_EQ(ds->history[1].current_status, NS_STATUS_CRH);
  ASSERT_EQ(ds->history[1].ts_first_non_nmr, 1650000005000LL);
  ASSERT_STREQ(ds->history[1].decided_by, "CoreModel (v1.1)");
  ASSERT_NEAR(ds->history[1].current_modeling_group, 13.0, 0);
  ASSERT_EQ(ds->history[0].first_non_nmr_status, NS_STATUS_UNSET);
  ASSERT_EQ(ds->history[0].ts_lock, NS_TS_NONE);
  ASSERT(isnan(ds->history[0].current_modeling_group));
  ASSERT_EQ(ds->history[0].ts_minute_final_output, 28000000);
  /* enrollment (sorted by participant string: PB, PA, PC, PD) */
  ASSERT_STREQ(pstr(ds, ds->enrollment[1].participant), PA);
  ASSERT_EQ(ds->enrollment[1].state, NS_ENROLL_EARNED_IN);
  ASSERT_EQ(ds->enrollment[1].modeling_group, 13);
  ASSERT_STREQ(ds->enrollment[1].modeling_population, "CORE");
  ASSERT_EQ(ds->enrollment[3].modeling_group, -1);
  ASSERT_EQ(ds->enrollment[3].ts_last_earn_out, 1650000000500LL);
  ns_dataset_free(ds);
}

TEST(store_tsv_header_mapping) {
  ns_dataset *ds;
  ns_load_stats st;
  msgs g;
  ASSERT_OK(ns_dataset_new(&ds));
  /* old participant column name, reordered columns, an unknown column, no
  ** tag columns at all */
  ASSERT_OK(load_str("r.tsv",
                     "extra\thelpfulnessLevel\tcreatedAtMillis\tparticipantId\tnoteId\n"
                     "x\tHELPFUL\t5\tp1\t10\n"
                     "y\tNOT_HELPFUL\t6\tp2\t11\n",
                     0, ds, &g, &st));
  ASSERT_EQ(st.kind, NS_FILE_RATINGS);
  ASSERT_EQ(st.rows_ok, 2);
  ASSERT_EQ(ds->n_ratings, 2);
  ASSERT_EQ(ds->r_note_id[1], 11);
  ASSERT_EQ(ns_r_created(ds, 1), 6);
  ASSERT_STREQ(pstr(ds, ds->r_rater[1]), "p2");
  ASSERT_EQ(ns_r_tags(ds, 0), 0);
  /* notes with participantId and without tweetId */
  ASSERT_OK(load_str("n.tsv",
                     "classification\tnoteId\tparticipantId\tcreatedAtMillis\n"
                     "NOT_MISLEADING\t7\tp1\t100\n",
                     0, ds, &g, &st));
  ASSERT_EQ(st.kind, NS_FILE_NOTES);
  ASSERT_EQ(ds->n_notes, 1);
  ASSERT_EQ(ds->note_tweet_id[0], -1);
  ASSERT_EQ(ds->note_author[0], ds->r_rater[0]); /* same interned p1 */
  /* legacy-only ratings header */
  ASSERT_OK(load_str("l.tsv",
                     "noteId\tparticipantId\tcreatedAtMillis\thelpful\tnotHelpful\n"
                     "1\tq\t1\t1\t0\n1\tr\t1\t0\t1\n1\ts\t1\t0\t0\n",
                     0, ds, &g, &st));
  ASSERT_EQ(st.rows_ok, 2);
  ASSERT_EQ(st.rows_rejected, 1);
  ASSERT_STREQ(g.buf, "l.tsv:4:4: helpfulnessLevel: no rating value (empty, and neither helpful "
                      "nor notHelpful is 1) [no_level]\n");
  /* a missing required column names the file and the column */
  ASSERT_ERR(load_str("m.tsv", "noteId\traterParticipantId\thelpfulnessLevel\n1\tp\tHELPFUL\n", 0,
                      ds, &g, &st),
             NS_ECOLUMN);
  ASSERT_STREQ(g.buf, "m.tsv:1: missing required column 'createdAtMillis' in ratings file\n");
  ASSERT_ERR(load_str("m2.tsv", "noteId\traterParticipantId\tcreatedAtMillis\thelpfulOther\n", 0,
                      ds, &g, &st),
             NS_ECOLUMN);
  ASSERT_STREQ(g.buf, "m2.tsv:1: missing required column 'helpfulnessLevel' (or 'helpful' and "
                      "'notHelpful') in ratings file\n");
  ASSERT_ERR(load_str("u.tsv", "participantId\tmodelingGroup\n", 0, ds, &g, &st), NS_EPARSE);
  ASSERT_ERR(load_str("e.tsv", "userId\tenrollmentState\n", 0, ds, &g, &st), NS_ECOLUMN);
  ASSERT_STREQ(g.buf, "e.tsv:1: missing required column 'participantId' in userEnrollment file\n");
  ns_dataset_free(ds);
}

TEST(store_tsv_bad_rows) {
  ns_dataset *ds;
  ns_load_stats st;
  msgs g;
  ASSERT_OK(ns_dataset_new(&ds));
  ASSERT_OK(load_str("r.tsv",
                     RHEAD_MIN
                     "1\tp\t5\tHELPFUL\n"          /* line 2: ok */
                     "abc\tp\t5\tHELPFUL\n"        /* 3: non-numeric id */
                     "1\tp\t5\n"                   /* 4: too few fields */
                     "1\tp\t5\tHELPFUL\tx\n"       /* 5: too many */
                     "1\tp\t5x\tHELPFUL\n"         /* 6: bad timestamp */
                     "2\tp\xff\t5\tHELPFUL\n"      /* 7: invalid UTF-8 */
                     "3\t\t5\tHELPFUL\n"           /* 8: empty participant */
                     "4\tp\t5\tVERY_HELPFUL\n"     /* 9: unknown level */
                     "99999999999999999999\tp\t5\tHELPFUL\n" /* 10: overflow */
                     "\n"                          /* 11: blank, skipped */
                     "5\tq\t6\tHELPFUL\n"          /* 12: ok */
                     "6\tq\t7",                    /* 13: truncated last line */
                     0, ds, &g, &st));
  ASSERT_EQ(st.rows_read, 11);
  ASSERT_EQ(st.rows_ok, 2);
  ASSERT_EQ(st.rows_rejected, 9);
  ASSERT_EQ(g.count, 9);
  ASSERT_STREQ(g.buf,
               "r.tsv:3:1: noteId: expected an integer, got \"abc\" [not_integer]\n"
               "r.tsv:4:4: expected 4 fields, got 3 [field_count]\n"
               "r.tsv:5:5: expected 4 fields, got 5 [field_count]\n"
               "r.tsv:6:3: createdAtMillis: expected an integer, got \"5x\" [not_integer]\n"
               "r.tsv:7:2: invalid UTF-8 [invalid_utf8]\n"
               "r.tsv:8:2: raterParticipantId: missing participant id [missing]\n"
               "r.tsv:9:4: helpfulnessLevel: unknown value, got \"VERY_HELPFUL\" [unknown_value]\n"
               "r.tsv:10:1: noteId: expected an integer, got \"99999999999999999999\" "
               "[not_integer]\n"
               "r.tsv:13:4: expected 4 fields, got 3 (truncated last line?) [field_count]\n");
  ASSERT_EQ(ds->n_ratings, 2);
  ASSERT_EQ(ds->r_note_id[1], 5);

  /* complete last line without a newline, CRLF endings, tags */
  ASSERT_OK(load_str("c.tsv",
                     "noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\thelpfulClear\r\n"
                     "7\tp\t1\tHELPFUL\t1\r\n"
                     "8\tp\t1\tHELPFUL\t7\r\n"
                     "9\tp\t1\tNOT_HELPFUL\t0",
                     0, ds, &g, &st));
  ASSERT_EQ(st.rows_ok, 2);
  ASSERT_STREQ(g.buf, "c.tsv:3:5: helpfulClear: expected 0 or 1, got \"7\" [not_flag]\n");
  ASSERT_EQ(ns_r_tags(ds, 2), NS_TAG_BIT(2));
  ASSERT_EQ(ns_r_level(ds, 3), NS_LEVEL_NOT_HELPFUL);

  /* file-level problems */
  ASSERT_ERR(load_str("empty.tsv", "", 0, ds, &g, &st), NS_EPARSE);
  ASSERT_STREQ(g.buf, "empty.tsv: empty file (no header line)\n");
  ASSERT_ERR(ns_tsv_load_mem("bin.tsv", "\x7f" "ELF\x02\x01\x01\0\0\0\t\n\x03\0", 14, 0, ds,
                             &(ns_load_opts){0, collect, &g, NULL}, &st),
             NS_EPARSE);
  ASSERT(strstr(g.buf, "bin.tsv:1: not a public-format TSV file") != NULL);
  ASSERT_ERR(load_str("csv.tsv", "noteId,raterParticipantId,createdAtMillis\n1,p,2\n", 0, ds, &g,
                      &st),
             NS_EPARSE);
  /* an unterminated quote swallows the rest: one rejected row, no crash */
  ASSERT_OK(load_str("q.tsv", RHEAD_MIN "\"1\tp\t5\tHELPFUL\n2\tp\t5\tHELPFUL\n", 0, ds, &g, &st));
  ASSERT_EQ(st.rows_rejected, 1);
  ASSERT_STREQ(g.buf, "q.tsv:2:1: unterminated quoted field [bad_quote]\n");
  ns_dataset_free(ds);
}

TEST(store_tsv_strict_keeps_nothing) {
  ns_dataset *ds;
  ns_load_stats st;
  msgs g;
  ASSERT_OK(ns_dataset_new(&ds));
  ASSERT_OK(load_str("ok.tsv", RHEAD_MIN "1\tkeep\t5\tHELPFUL\n", 1, ds, &g, &st));
  ASSERT_ERR(load_str("bad.tsv", RHEAD_MIN "2\tnew1\t5\tHELPFUL\n3\tnew2\t5\tWHAT\n4\tnew3\t5\tHELPFUL\n",
                      1, ds, &g, &st),
             NS_EPARSE);
  ASSERT_EQ(g.count, 1); /* stops at the first bad row */
  ASSERT_STREQ(g.buf, "bad.tsv:3:4: helpfulnessLevel: unknown value, got \"WHAT\" [unknown_value]\n");
  ASSERT_EQ(st.rows_ok, 0);
  ASSERT_EQ(ds->n_ratings, 1);
  ASSERT_EQ(ns_strtab_count(ds->participants), 1);
  ASSERT_EQ(ns_strtab_find(ds->participants, "new1", 4), -1);
  ns_dataset_free(ds);
}

/* Every block size gives the same rows: records straddling blocks, quoted
** multi-line fields and CRLF split across reads. */
TEST(store_tsv_block_boundaries) {
  static const char *const files[] = {"notes-00000.tsv", "ratings-00000.tsv",
                                      "noteStatusHistory-00000.tsv", "userEnrollment-00000.tsv"};
  static const size_t blocks[] = {1, 2, 3, 7, 64, 1000};
  ns_dataset *ref = load_fixtures();
  for (size_t b = 0; b < NS_ARRAY_LEN(blocks); b++) {
    ns_dataset *ds;
    ASSERT_OK(ns_dataset_new(&ds));
    for (size_t f = 0; f < NS_ARRAY_LEN(files); f++) {
      char path[256];
      size_t len;
      ns_load_stats st;
      snprintf(path, sizeof path, "tests/data/%s", files[f]);
      char *text = ns_test_slurp(path, &len);
      ASSERT(text != NULL);
      ASSERT_OK(ns_tsv_load_mem(files[f], text, len, blocks[b], ds, NULL, &st));
      ASSERT_EQ(st.rows_rejected, 0);
      free(text);
    }
    ASSERT_OK(ns_dataset_normalize(ds));
    assert_same_dataset(ref, ds);
    ns_dataset_free(ds);
  }
  ns_dataset_free(ref);
}

TEST(store_tsv_export_roundtrip) {
  ns_dataset *a = load_fixtures(), *b;
  const char *dir = ns_test_tmpdir();
  ns_load_stats st;
  ASSERT_OK(ns_tsv_export(a, dir));
  ASSERT_OK(ns_dataset_new(&b));
  ASSERT_OK(ns_tsv_load(dir, b, NULL, &st));
  ASSERT_EQ(st.rows_rejected, 0);
  ASSERT_OK(ns_dataset_normalize(b));
  assert_same_dataset(a, b);
  ns_dataset_free(a);
  ns_dataset_free(b);
}

/* ---- SQLite store ------------------------------------------------------ */

static ns_store *open_tmp(const char *name, char *path, size_t cap) {
  ns_store *s;
  snprintf(path, cap, "%s/%s", ns_test_tmpdir(), name);
  ASSERT_OK(ns_store_open(path, NS_STORE_CREATE, &s));
  return s;
}

/* One integer from a query (via a separate sqlite3 connection, so the
** test sees what another reader of the file would see). */
static long long q1(const char *path, const char *sql) {
  sqlite3 *db;
  sqlite3_stmt *st;
  long long v = -12345;
  ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

static const char *checksum_sql =
    "SELECT (SELECT total((note_id % 1000003) * 31 + rater_id * 7 + created_ms % 997 + level * 3"
    " + tags + source) FROM ratings) + (SELECT total(note_id % 1000003 + created_ms % 991 +"
    " classification) FROM notes) + (SELECT count(*) FROM participants)";

TEST(store_db_import_twice_unchanged) {
  char path[512];
  ns_store *s = open_tmp("db.sqlite", path, sizeof path);
  ns_load_stats st;
  long long sum1, sum2;
  ASSERT_OK(ns_store_import(s, "tests/data", NULL, &st));
  ASSERT_EQ(st.rows_ok, 17);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM ratings"), 7);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM notes"), 3);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM note_status_history"), 3);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM user_enrollment"), 4);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM participants"), 4);
  ASSERT_EQ(q1(path, "PRAGMA user_version"), NS_STORE_SCHEMA_VERSION); /* v2: dashboard views (store/views.c),
                                                  ** v3: rater_scores.qclique_id,
                                                  ** v4: low_diligence_intercept,
                                                  ** v5: the views with both,
                                                  ** v6: every scorer's columns */
  sum1 = q1(path, checksum_sql);
  ASSERT_OK(ns_store_import(s, "tests/data", NULL, &st));
  ASSERT_EQ(st.rows_ok, 17);
  sum2 = q1(path, checksum_sql);
  ASSERT_EQ(sum1, sum2);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM ratings"), 7);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM participants"), 4);
  ns_store_close(s);
  /* reopening does not migrate again and keeps the data */
  ASSERT_OK(ns_store_open(path, 0, &s));
  ns_store_close(s);
  ASSERT_EQ(q1(path, checksum_sql), sum1);
}

TEST(store_db_upsert_latest_wins) {
  char path[512], f[600];
  ns_store *s = open_tmp("db.sqlite", path, sizeof path);
  ns_load_stats st;
  /* write next to the DB (ns_test_tmpdir() would empty the directory) */
  snprintf(f, sizeof f, "%.*s/r.tsv", (int)(strrchr(path, '/') - path), path);
  FILE *fp = fopen(f, "w");
  ASSERT(fp != NULL);
  fputs(RHEAD_MIN "1\tp\t100\tHELPFUL\n1\tp\t50\tNOT_HELPFUL\n2\tp\t10\tHELPFUL\n"
                  "2\tp\t10\tSOMEWHAT_HELPFUL\n",
        fp);
  fclose(fp);
  ASSERT_OK(ns_store_import(s, f, NULL, &st));
  ASSERT_EQ(st.rows_ok, 4);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM ratings"), 2);
  /* the later createdAt wins over file order; on a tie the later row */
  ASSERT_EQ(q1(path, "SELECT level FROM ratings WHERE note_id = 1"), NS_LEVEL_HELPFUL);
  ASSERT_EQ(q1(path, "SELECT created_ms FROM ratings WHERE note_id = 1"), 100);
  ASSERT_EQ(q1(path, "SELECT level FROM ratings WHERE note_id = 2"), NS_LEVEL_SOMEWHAT_HELPFUL);
  /* a re-rating through ingest replaces it */
  ns_ingest_rating r = {1, "p", 200, NS_LEVEL_NOT_HELPFUL, NS_TAG_BIT(10), 0};
  ns_ingest_note n = {1, "author", 5, 77, NS_CLASS_MISLEADING};
  ns_ingest_enrollment e = {"p", NS_ENROLL_EARNED_IN, 5, 6, NS_TS_NONE, "CORE", 13, 0};
  ASSERT_OK(ns_store_ingest(s, &n, 1, &r, 1, &e, 1));
  ASSERT_EQ(q1(path, "SELECT level FROM ratings WHERE note_id = 1"), NS_LEVEL_NOT_HELPFUL);
  ASSERT_EQ(q1(path, "SELECT tags FROM ratings WHERE note_id = 1"), NS_TAG_BIT(10));
  ASSERT_EQ(q1(path, "SELECT tweet_id FROM notes WHERE note_id = 1"), 77);
  ASSERT_EQ(q1(path, "SELECT modeling_group FROM user_enrollment"), 13);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM participants"), 2);
  /* a bad batch stores nothing */
  ns_ingest_rating bad[2] = {{3, "newrater", 1, NS_LEVEL_HELPFUL, 0, 0}, {4, "", 1, 2, 0, 0}};
  ASSERT_ERR(ns_store_ingest(s, NULL, 0, bad, 2, NULL, 0), NS_EINVAL);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM ratings"), 2);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM participants"), 2);
  /* and the participant cache recovered: a good batch still works */
  ASSERT_OK(ns_store_ingest(s, NULL, 0, bad, 1, NULL, 0));
  ASSERT_EQ(q1(path, "SELECT count(*) FROM participants"), 3);
  ns_store_close(s);
}

/* Ratings import runs as a two-thread pipeline over sorted 64 k batches and
** ingest sorts its buffer too: many rows in random note order, ties and
** re-ratings inside and across batches must give exactly the rows of the
** in-memory load (ns_dataset_normalize applies the same rules on its own). */
TEST(store_db_import_batches_match_load) {
  char path[512], f[600], idb[600];
  ns_store *s = open_tmp("db.sqlite", path, sizeof path);
  ns_dataset *a = NULL, *b = NULL, *c = NULL;
  ns_load_stats st;
  ns_rng rng;
  long long sum1;
  const int n = 150000; /* > 2 batches: the queue wraps around */
  static const char *const lv[3] = {"NOT_HELPFUL", "SOMEWHAT_HELPFUL", "HELPFUL"};
  snprintf(f, sizeof f, "%.*s/r.tsv", (int)(strrchr(path, '/') - path), path);
  snprintf(idb, sizeof idb, "%.*s/i.db", (int)(strrchr(path, '/') - path), path);
  FILE *fp = fopen(f, "w");
  ASSERT(fp != NULL);
  fputs(RHEAD_MIN, fp);
  ns_rng_seed(&rng, 42);
  for (int i = 0; i < n; i++) /* ~3000 notes x 4000 raters: ~1 % repeats */
    fprintf(fp, "%d\tr%05d%s\t%d\t%s\n", 1 + (int)ns_rng_below(&rng, 3000),
            (int)ns_rng_below(&rng, 4000), i % 7 ? "" : "-with-a-longer-participant-id",
            (int)ns_rng_below(&rng, 3), lv[ns_rng_below(&rng, 3)]);
  fclose(fp);
  ASSERT_OK(ns_dataset_new(&a));
  ASSERT_OK(ns_tsv_load(f, a, NULL, &st));
  ASSERT_OK(ns_dataset_normalize(a));
  ASSERT_OK(ns_store_import(s, f, NULL, &st));
  ASSERT_EQ(st.rows_ok, n);
  ASSERT_OK(ns_store_snapshot(s, &b));
  assert_same_dataset(a, b);
  /* importing again changes nothing */
  sum1 = q1(path, checksum_sql);
  ASSERT_OK(ns_store_import(s, f, NULL, &st));
  ASSERT_EQ(q1(path, checksum_sql), sum1);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM participants"), (long long)ns_strtab_count(a->participants));
  ns_store_close(s);
  /* the same rows through ingest, in uneven batches (odd-sized sorts) */
  ASSERT_OK(ns_store_open(idb, NS_STORE_CREATE, &s));
  {
    ns_dataset *raw;
    ns_ingest_rating *r = calloc(5000, sizeof *r);
    size_t k = 0, want = 1;
    ASSERT(r != NULL);
    ASSERT_OK(ns_dataset_new(&raw));
    ASSERT_OK(ns_tsv_load(f, raw, NULL, &st));
    for (size_t i = 0; i < raw->n_ratings; i++) {
      r[k++] = (ns_ingest_rating){raw->r_note_id[i], pstr(raw, raw->r_rater[i]),
                                  ns_r_created(raw, i), ns_r_level(raw, i), ns_r_tags(raw, i),
                                  ns_r_source(raw, i)};
      if (k == want || i + 1 == raw->n_ratings) {
        ASSERT_OK(ns_store_ingest(s, NULL, 0, r, k, NULL, 0));
        k = 0;
        want = 1 + (want * 997 + 13) % 4999;
      }
    }
    free(r);
    ns_dataset_free(raw);
  }
  ASSERT_OK(ns_store_snapshot(s, &c));
  assert_same_dataset(a, c);
  ns_store_close(s);
  ns_dataset_free(a);
  ns_dataset_free(b);
  ns_dataset_free(c);
}

TEST(store_db_snapshot_equals_tsv) {
  char path[512];
  ns_store *s = open_tmp("db.sqlite", path, sizeof path);
  ns_dataset *a = load_fixtures(), *b = NULL;
  ASSERT_OK(ns_store_import(s, "tests/data", NULL, NULL));
  ASSERT_OK(ns_store_snapshot(s, &b));
  assert_same_dataset(a, b);
  ns_dataset_free(b);
  ns_store_close(s);
  /* read-only handles snapshot too */
  ASSERT_OK(ns_store_open(path, NS_STORE_READONLY, &s));
  ASSERT_OK(ns_store_snapshot(s, &b));
  assert_same_dataset(a, b);
  ns_dataset_free(b);
  ns_store_close(s);
  ns_dataset_free(a);
}

TEST(store_db_strict_rollback) {
  char path[512], f[600];
  ns_store *s = open_tmp("db.sqlite", path, sizeof path);
  ns_load_stats st;
  msgs g;
  ns_load_opts o = {1, collect, &g, NULL};
  memset(&g, 0, sizeof g);
  snprintf(f, sizeof f, "%.*s/bad.tsv", (int)(strrchr(path, '/') - path), path);
  FILE *fp = fopen(f, "w");
  ASSERT(fp != NULL);
  fputs(RHEAD_MIN "1\tp\t100\tHELPFUL\n2\tq\t50\tNOPE\n", fp);
  fclose(fp);
  ASSERT_ERR(ns_store_import(s, f, &o, &st), NS_EPARSE);
  ASSERT_EQ(st.rows_ok, 0);
  ASSERT_EQ(st.rows_rejected, 1);
  ASSERT(strstr(g.buf, "bad.tsv:3:4: helpfulnessLevel: unknown value, got \"NOPE\"") != NULL);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM ratings"), 0);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM participants"), 0);
  /* non-strict keeps the good row */
  o.strict = 0;
  ASSERT_OK(ns_store_import(s, f, &o, &st));
  ASSERT_EQ(q1(path, "SELECT count(*) FROM ratings"), 1);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM participants"), 1);
  ns_store_close(s);
  /* a v2 file (no low_diligence_intercept, views without it) is migrated to
  ** v6 on open */
  {
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DROP VIEW current_note_status;"
                               "ALTER TABLE note_scores DROP COLUMN low_diligence_intercept;"
                               "PRAGMA user_version = 2",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
  }
  ASSERT_OK(ns_store_open(path, 0, &s));
  ns_store_close(s);
  ASSERT_EQ(q1(path, "PRAGMA user_version"), NS_STORE_SCHEMA_VERSION);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM pragma_table_info('note_scores')"
                     " WHERE name = 'low_diligence_intercept'"),
            1);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM pragma_table_info('current_note_status')"
                     " WHERE name = 'low_diligence_intercept'"),
            1);
  /* a newer schema is refused */
  {
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
  }
  ASSERT_ERR(ns_store_open(path, 0, &s), NS_ESCHEMA);
}

TEST(store_db_run_publish) {
  char path[512];
  ns_store *s = open_tmp("db.sqlite", path, sizeof path);
  ns_dataset *ds = NULL;
  ns_scores sc;
  ns_note_score notes[2];
  ns_rater_score raters[1];
  ns_nsh hist[1];
  int64_t run1, run2, run3;
  ASSERT_OK(ns_store_import(s, "tests/data", NULL, NULL));
  ASSERT_OK(ns_store_snapshot(s, &ds));
  memset(&sc, 0, sizeof sc);
  memset(notes, 0, sizeof notes);
  memset(raters, 0, sizeof raters);
  for (int i = 0; i < 2; i++) {
    notes[i].note_id = ds->note_id[i];
    notes[i].created_ms = ds->note_created_ms[i];
    notes[i].intercept = 0.25 + i;
    notes[i].factor = -0.5;
    notes[i].intercept_r1 = notes[i].factor_r1 = NAN;
    notes[i].intercept_min = notes[i].intercept_max = NAN;
    notes[i].intercept_no_high_vol = notes[i].intercept_no_correlated = NAN;
    notes[i].core_status = NS_STATUS_CRH;
    notes[i].final_status = i == 0 ? NS_STATUS_CRH : NS_STATUS_NMR;
    notes[i].decided_by = NS_RULE_GENERAL_CRH;
    notes[i].core_rules = (1u << NS_RULE_GENERAL_CRH) | (1u << NS_RULE_TAG_FILTER);
    notes[i].first_tag = 1;
    notes[i].second_tag = -1;
    notes[i].num_ratings = 3;
    notes[i].low_diligence_intercept = i == 0 ? 0.3 : NAN;
  }
  raters[0].participant = ds->r_rater[0];
  raters[0].intercept = 0.1;
  raters[0].factor = 0.2;
  raters[0].agree_ratio = 0.75;
  raters[0].above_threshold = 1;
  raters[0].trust = 0.5;
  raters[0].intercept_r1 = raters[0].factor_r1 = raters[0].crh_crnh_ratio_diff = NAN;
  raters[0].mean_note_score = raters[0].agree_ratio_harassment = NAN;
  ns_nsh_init(&hist[0], ds->note_id[0]);
  hist[0].author = ds->note_author[0];
  hist[0].current_status = NS_STATUS_CRH;
  hist[0].ts_current = 1700000000000LL;
  sc.n_notes = 2;
  sc.notes = notes;
  sc.n_raters = 1;
  sc.raters = raters;
  sc.n_history = 1;
  sc.history = hist;
  sc.n_ratings_in = ds->n_ratings;
  sc.global_intercept = 0.125;

  ASSERT_OK(ns_store_run_begin(s, "{\"seed\":1}", &run1));
  ASSERT_EQ(q1(path, "SELECT count(*) FROM current_note_status"), 0);
  ASSERT_OK(ns_store_run_publish(s, run1, &sc, ds, NULL));
  ASSERT_EQ(q1(path, "SELECT run_id FROM current_run"), run1);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM current_note_status"), 2);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM current_note_status WHERE status = "
                     "'CURRENTLY_RATED_HELPFUL' AND decided_by = 'GeneralCRH' AND first_tag = "
                     "'helpfulInformative' AND second_tag IS NULL"),
            1);
  ASSERT_EQ(q1(path, "SELECT n_crh * 10 + n_nmr FROM run_summary WHERE is_current"), 11);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM rater_reputation WHERE trust = 0.5 AND participant_id = '"
                     PB "'"),
            1);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM note_scores n JOIN rule_names r ON n.core_rules & (1 << r.bit)"
                     " WHERE r.name = 'TagFilter'"),
            2);
  ASSERT_EQ(q1(path, "SELECT ts_current FROM note_status_history WHERE current_status = "
                     "'CURRENTLY_RATED_HELPFUL' AND note_id = 1400000000000000001"),
            1700000000000LL);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM note_status_history"), 3);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM status_changes"), 2);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM note_scores WHERE low_diligence_intercept = 0.3"), 1);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM note_scores WHERE low_diligence_intercept IS NULL"), 1);
  /* publishing twice is refused; a failed run never becomes visible */
  ASSERT_ERR(ns_store_run_publish(s, run1, &sc, ds, NULL), NS_ENOTFOUND);
  ASSERT_OK(ns_store_run_begin(s, NULL, &run2));
  ASSERT_OK(ns_store_run_fail(s, run2, "failed"));
  ASSERT_EQ(q1(path, "SELECT run_id FROM current_run"), run1);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM runs WHERE status = 'failed'"), 1);
  /* a second published run with one status change */
  notes[1].final_status = NS_STATUS_CRNH;
  ASSERT_OK(ns_store_run_begin(s, NULL, &run3));
  {
    /* the timing goes into the runs row as given, stages as a JSON array */
    static const double stages[3] = {0.5, 0.25, 2};
    ns_run_timing tm = {3.5, 17, stages, 3};
    ASSERT_OK(ns_store_run_publish(s, run3, &sc, ds, &tm));
  }
  ASSERT_EQ(q1(path, "SELECT run_id FROM current_run"), run3);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM runs WHERE run_id = (SELECT run_id FROM current_run)"
                     " AND mf_passes = 17 AND seconds = 3.5 AND stage_seconds = '[0.5,0.25,2]'"),
            1);
  /* without a timing those columns stay NULL */
  ASSERT_EQ(q1(path, "SELECT count(*) FROM runs WHERE status = 'published' AND mf_passes IS NULL"
                     " AND seconds IS NULL AND stage_seconds IS NULL"),
            1);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM status_changes"), 3);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM status_changes WHERE run_id = (SELECT run_id FROM"
                     " current_run) AND old_status = 'NEEDS_MORE_RATINGS' AND new_status ="
                     " 'CURRENTLY_RATED_NOT_HELPFUL'"),
            1);
  ns_dataset_free(ds);
  ns_store_close(s);
}

/* Publication and refresh write in chunks of 500 rows (store/runs.c): more
** rows than that still publish completely; a publication that fails after
** some chunks were committed leaves no row of its run and the current run
** untouched; a refresh of more notes than a chunk rewrites them all. */
static void exec_sql(const char *path, const char *sql) {
  sqlite3 *db;
  ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

TEST(store_db_run_publish_chunks) {
  enum { N = 1234 };
  char path[512];
  ns_store *s = open_tmp("chunks.sqlite", path, sizeof path);
  ns_dataset *ds = NULL;
  ns_scores sc;
  ns_note_score *notes = calloc(N, sizeof *notes);
  ns_nsh *hist = calloc(N, sizeof *hist);
  int64_t run1, run2;
  ASSERT(notes && hist);
  ASSERT_OK(ns_store_import(s, "tests/data", NULL, NULL));
  ASSERT_OK(ns_store_snapshot(s, &ds));
  memset(&sc, 0, sizeof sc);
  for (int i = 0; i < N; i++) {
    notes[i].note_id = 7000000000000000000LL + i;
    notes[i].intercept = notes[i].factor = 0.5;
    notes[i].intercept_r1 = notes[i].factor_r1 = NAN;
    notes[i].intercept_min = notes[i].intercept_max = NAN;
    notes[i].intercept_no_high_vol = notes[i].intercept_no_correlated = NAN;
    notes[i].low_diligence_intercept = NAN;
    notes[i].core_status = notes[i].final_status = NS_STATUS_NMR;
    notes[i].decided_by = -1;
    notes[i].first_tag = notes[i].second_tag = -1;
    ns_nsh_init(&hist[i], notes[i].note_id);
    hist[i].current_status = NS_STATUS_NMR;
  }
  sc.n_notes = sc.n_history = N;
  sc.notes = notes;
  sc.history = hist;
  ASSERT_OK(ns_store_run_begin(s, NULL, &run1));
  ASSERT_OK(ns_store_run_publish(s, run1, &sc, ds, NULL));
  ASSERT_EQ(q1(path, "SELECT count(*) FROM current_note_status"), N);
  ASSERT_EQ(q1(path, "SELECT n_nmr FROM run_summary WHERE is_current"), N);

  /* the third chunk fails: the first two were committed, and go again */
  exec_sql(path, "CREATE TRIGGER boom BEFORE INSERT ON note_scores WHEN NEW.note_id ="
                 " 7000000000000001100 AND NEW.run_id <> (SELECT run_id FROM current_run)"
                 " BEGIN SELECT RAISE(ABORT, 'boom'); END");
  ASSERT_OK(ns_store_run_begin(s, NULL, &run2));
  ASSERT_ERR(ns_store_run_publish(s, run2, &sc, ds, NULL), NS_ESQL);
  ASSERT_OK(ns_store_run_fail(s, run2, "failed"));
  ASSERT_EQ(q1(path, "SELECT count(*) FROM note_scores WHERE run_id = (SELECT max(run_id) FROM runs)"), 0);
  ASSERT_EQ(q1(path, "SELECT run_id FROM current_run"), run1);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM note_scores"), N);
  exec_sql(path, "DROP TRIGGER boom");

  /* a refresh of every note, three chunks: the run's counts follow */
  for (int i = 0; i < N; i++) {
    notes[i].final_status = i % 2 ? NS_STATUS_CRH : NS_STATUS_NMR;
    hist[i].current_status = notes[i].final_status;
  }
  ASSERT_OK(ns_store_run_refresh(s, run1, &sc, ds));
  ASSERT_EQ(q1(path, "SELECT n_crh * 10000 + n_nmr FROM run_summary WHERE is_current"),
            (N / 2) * 10000 + (N - N / 2));
  ASSERT_EQ(q1(path, "SELECT count(*) FROM current_note_status WHERE status = 'CURRENTLY_RATED_HELPFUL'"),
            N / 2);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM note_status_history WHERE current_status ="
                     " 'CURRENTLY_RATED_HELPFUL' AND note_id >= 7000000000000000000"),
            N / 2);
  free(notes);
  free(hist);
  ns_dataset_free(ds);
  ns_store_close(s);
}

/* The background checkpointer (serve's writer handle): commits through the
** handle leave the checkpoint to another thread, which copies the WAL into
** the DB file -- the file grows although no commit of the handle reached
** SQLite's own 1000-frame checkpoint -- and nothing committed is lost. */
TEST(store_checkpoint_in_background) {
  enum { BATCHES = 30, PER = 500 };
  char path[512], rater[32];
  struct stat sb;
  off_t size0;
  ns_store *s = open_tmp("ckpt.sqlite", path, sizeof path);
  ns_ingest_rating r[PER];
  ASSERT_OK(ns_store_checkpoint_in_background(s, 20));
  ASSERT_ERR(ns_store_checkpoint_in_background(s, 20), NS_EINVAL);  /* already on */
  ASSERT(stat(path, &sb) == 0);
  size0 = sb.st_size;
  snprintf(rater, sizeof rater, "ckpt-rater");
  for (int b = 0; b < BATCHES; b++) {
    for (int i = 0; i < PER; i++) {
      memset(&r[i], 0, sizeof r[i]);
      r[i].note_id = 1000 + (int64_t)b * PER + i;
      r[i].rater = rater;
      r[i].created_ms = 1700000000000LL + i;
      r[i].level = NS_LEVEL_HELPFUL;
    }
    ASSERT_OK(ns_store_ingest(s, NULL, 0, r, PER, NULL, 0));
  }
  /* the thread runs when told; wait for it (up to 20 s) */
  for (int i = 0; i < 2000; i++) {
    ASSERT(stat(path, &sb) == 0);
    if (sb.st_size > size0 + 100 * 1024) break;
    usleep(10000);
  }
  ASSERT(sb.st_size > size0 + 100 * 1024);
  ns_store_close(s);
  ASSERT_EQ(q1(path, "SELECT count(*) FROM ratings"), BATCHES * PER);
  {
    ns_store *ro;
    ASSERT_OK(ns_store_open(path, NS_STORE_READONLY, &ro));
    ASSERT_ERR(ns_store_checkpoint_in_background(ro, 20), NS_EINVAL);  /* read-only */
    ns_store_close(ro);
  }
}
