/*
** tests/test_ops.c -- the operator's pieces: structured log lines
** (base/base.c), pruning old runs (store/prune.c), online backup
** (store/backup.c).
*/
#include <sqlite3.h>
#include <sys/stat.h>

#include "../store/store.h"
#include "harness.h"

/* 2026-12-02T21:58:35.123Z */
#define T_MS 1796248715123LL

TEST(ops_log_format_lines) {
  char buf[512];
  const ns_log_field f[] = {
      NS_LF_INT("run_id", 12), NS_LF_STR("status", "published"), NS_LF_NUM("seconds", 1.5),
      NS_LF_STR("error", NULL), NS_LF_STR("path", "/tmp/a b\"c\\d\ne"),
  };
  ns_log_format_line(buf, sizeof buf, NS_LOG_LOGFMT, T_MS, NS_LOG_INFO, "serve: scoring run", f, 5);
  ASSERT_STREQ(buf, "ts=2026-12-02T21:58:35.123Z level=info msg=\"serve: scoring run\" run_id=12 "
                    "status=published seconds=1.5 path=\"/tmp/a b\\\"c\\\\d\\ne\"");
  ns_log_format_line(buf, sizeof buf, NS_LOG_JSON, T_MS, NS_LOG_WARN, "serve: scoring run", f, 5);
  ASSERT_STREQ(buf, "{\"ts\":\"2026-12-02T21:58:35.123Z\",\"level\":\"warn\",\"msg\":\"serve: "
                    "scoring run\",\"run_id\":12,\"status\":\"published\",\"seconds\":1.5,"
                    "\"error\":null,\"path\":\"/tmp/a b\\\"c\\\\d\\ne\"}");
  /* the batch commands' format is unchanged: no timestamp, the old prefix */
  ns_log_format_line(buf, sizeof buf, NS_LOG_PLAIN, T_MS, NS_LOG_WARN, "x: y", NULL, 0);
  ASSERT_STREQ(buf, "notescore: warning: x: y");
  ns_log_format_line(buf, sizeof buf, NS_LOG_PLAIN, T_MS, NS_LOG_INFO, "run", f, 2);
  ASSERT_STREQ(buf, "notescore: run run_id=12 status=published");
  /* JSON: control bytes escaped, invalid UTF-8 replaced, valid kept */
  ns_log_format_line(buf, sizeof buf, NS_LOG_JSON, T_MS, NS_LOG_ERROR,
                     "a\x01\xff\xc3\xa9\xed\xa0\x80z", NULL, 0);
  ASSERT_STREQ(buf, "{\"ts\":\"2026-12-02T21:58:35.123Z\",\"level\":\"error\",\"msg\":"
                    "\"a\\u0001\\ufffd\xc3\xa9\\ufffd\\ufffd\\ufffdz\"}");
  /* logfmt: an empty value is quoted, a control byte escaped; a message
  ** cannot forge a field or a line */
  ns_log_format_line(buf, sizeof buf, NS_LOG_LOGFMT, T_MS, NS_LOG_DEBUG, "", NULL, 0);
  ASSERT_STREQ(buf, "ts=2026-12-02T21:58:35.123Z level=debug msg=\"\"");
  ns_log_format_line(buf, sizeof buf, NS_LOG_LOGFMT, T_MS, NS_LOG_INFO, "k=v\x1b level=error",
                     NULL, 0);
  ASSERT_STREQ(buf, "ts=2026-12-02T21:58:35.123Z level=info msg=\"k=v\\x1b level=error\"");
  /* a record too long for the buffer is rendered again, shorter, and
  ** stays one whole record (never cut inside a quoted value) */
  ns_log_format_line(buf, 90, NS_LOG_JSON, T_MS, NS_LOG_INFO, "0123456789\"123456789012345678901",
                     f, 5);
  ASSERT_STREQ(buf, "{\"ts\":\"2026-12-02T21:58:35.123Z\",\"level\":\"info\",\"msg\":"
                    "\"01234567\",\"truncated\":true}");
  ns_log_format_line(buf, 70, NS_LOG_LOGFMT, T_MS, NS_LOG_INFO, "a b c d e f g h i j k l m n",
                     f, 5);
  ASSERT_STREQ(buf, "ts=2026-12-02T21:58:35.123Z level=info msg=\"a b c \" truncated=true");
  ASSERT_EQ(ns_log_format_parse("json"), NS_LOG_JSON);
  ASSERT_EQ(ns_log_format_parse("logfmt"), NS_LOG_LOGFMT);
  ASSERT_EQ(ns_log_format_parse("xml"), -1);
}

static long long q1(const char *db, const char *sql) {
  sqlite3 *h = NULL;
  sqlite3_stmt *st = NULL;
  long long v = -1;
  ASSERT(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  ASSERT(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

static void exec1(const char *db, const char *sql) {
  sqlite3 *h = NULL;
  ASSERT(sqlite3_open(db, &h) == SQLITE_OK);
  ASSERT(sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(h);
}

/* A DB with `runs` published runs of 120 notes / 150 raters (the CLI). */
static void make_db(const char *dir, const char *db, int runs) {
  ASSERT_EQ(ns_test_sh("'%s' gen -o '%s/d' --raters 150 --notes 120 --ratings 6000 --seed 2 -q && "
                       "'%s' import --db '%s' '%s/d/notes-00000.tsv' '%s/d/ratings-00000.tsv' >/dev/null",
                       ns_test_bin(), dir, ns_test_bin(), db, dir, dir),
            0);
  for (int i = 0; i < runs; i++)
    ASSERT_EQ(ns_test_sh("'%s' score --db '%s' 2>/dev/null", ns_test_bin(), db), 0);
}

TEST(ops_prune_runs) {
  const char *dir = ns_test_tmpdir();
  char db[512];
  ns_store *s = NULL;
  ns_prune_stats st;
  long long notes, raters;
  volatile int cancel = 1;
  snprintf(db, sizeof db, "%s/t.db", dir);
  make_db(dir, db, 4);
  notes = q1(db, "SELECT count(*) FROM note_scores WHERE run_id = 4");
  raters = q1(db, "SELECT count(*) FROM rater_scores WHERE run_id = 4");
  ASSERT(notes > 0 && raters > 0);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_status_changes WHERE run_id = 1"), notes);
  ASSERT_OK(ns_store_open(db, 0, &s));
  ASSERT_ERR(ns_store_prune_runs(s, 1, 100, 0, NULL, &st), NS_EINVAL);
  ASSERT_ERR(ns_store_prune_runs(s, 2, 0, 0, NULL, &st), NS_EINVAL);
  /* canceled before the first batch: nothing deleted */
  ASSERT_ERR(ns_store_prune_runs(s, 2, 100, 0, &cancel, &st), NS_ECANCELED);
  ASSERT_EQ(st.rows, 0);
  ASSERT_EQ(q1(db, "SELECT count(DISTINCT run_id) FROM note_scores"), 4);
  /* keep 2 in batches of 7 rows: runs 1 and 2 go, in many transactions */
  ASSERT_OK(ns_store_prune_runs(s, 2, 7, 0, NULL, &st));
  ASSERT_EQ(st.rows, 2 * (notes + raters));
  ASSERT_EQ(st.runs, 2);
  ASSERT_EQ(st.newest_pruned, 2);
  ASSERT(st.batches >= st.rows / 7);
  ASSERT_EQ(q1(db, "SELECT min(run_id) * 10 + count(DISTINCT run_id) FROM note_scores"), 32);
  ASSERT_EQ(q1(db, "SELECT min(run_id) * 10 + count(DISTINCT run_id) FROM rater_scores"), 32);
  /* kept: the run records, the change log, the status history */
  ASSERT_EQ(q1(db, "SELECT count(*) FROM runs"), 4);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_status_changes WHERE run_id = 1"), notes);
  /* nothing left to do */
  ASSERT_OK(ns_store_prune_runs(s, 2, 7, 0, NULL, &st));
  ASSERT_EQ(st.rows, 0);
  ASSERT_EQ(st.runs, 0);
  ns_store_close(s);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_scores WHERE run_id = 4"), notes);
}

/* The run readers use is never pruned, even when newer runs exist (a run
** published later with a smaller id, or a pointer moved by hand). */
TEST(ops_prune_keeps_current_run) {
  const char *dir = ns_test_tmpdir();
  char db[512];
  ns_store *s = NULL;
  ns_prune_stats st;
  snprintf(db, sizeof db, "%s/t.db", dir);
  make_db(dir, db, 4);
  exec1(db, "UPDATE current_run SET run_id = 1");
  ASSERT_OK(ns_store_open(db, 0, &s));
  ASSERT_OK(ns_store_prune_runs(s, 2, 1000, 0.0001, NULL, &st));
  ns_store_close(s);
  ASSERT_EQ(st.runs, 1);   /* run 2 only */
  ASSERT_EQ(st.newest_pruned, 2);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_scores WHERE run_id = 2"), 0);
  ASSERT_EQ(q1(db, "SELECT count(DISTINCT run_id) FROM note_scores WHERE run_id IN (1, 3, 4)"), 3);
  ASSERT_EQ(q1(db, "SELECT count(DISTINCT run_id) FROM rater_scores WHERE run_id IN (1, 3, 4)"), 3);
}

TEST(ops_backup) {
  const char *dir = ns_test_tmpdir();
  char db[512], out[512], err[512], none[512], out2[512];
  ns_backup_stats st;
  struct stat sb;
  snprintf(db, sizeof db, "%s/t.db", dir);
  snprintf(out, sizeof out, "%s/b.db", dir);
  make_db(dir, db, 1);
  ASSERT_OK(ns_store_backup(db, out, 0, &st, err, sizeof err));
  ASSERT(st.pages > 0);
  ASSERT(stat(out, &sb) == 0);
  ASSERT_EQ(st.bytes, sb.st_size);
  ASSERT_EQ(q1(out, "SELECT count(*) FROM ratings"), q1(db, "SELECT count(*) FROM ratings"));
  ASSERT_EQ(q1(out, "SELECT count(*) FROM note_scores"), q1(db, "SELECT count(*) FROM note_scores"));
  ASSERT_EQ(q1(out, "PRAGMA user_version"), NS_STORE_SCHEMA_VERSION);
  /* refusals, each with a message naming the file */
  ASSERT_ERR(ns_store_backup(db, out, 0, &st, err, sizeof err), NS_EINVAL);
  ASSERT(strstr(err, "exists (use --force to replace it)") != NULL);
  ASSERT_ERR(ns_store_backup(db, db, 1, &st, err, sizeof err), NS_EINVAL);
  ASSERT(strstr(err, "is the database itself") != NULL);
  snprintf(none, sizeof none, "%s/none.db", dir);
  snprintf(out2, sizeof out2, "%s/b2.db", dir);
  ASSERT_ERR(ns_store_backup(none, out2, 0, &st, err, sizeof err), NS_ENOTFOUND);
  ASSERT(strstr(err, "none.db: no such database") != NULL);
  ASSERT(stat(out2, &sb) != 0);   /* a failed backup leaves nothing */
  /* --force replaces an existing copy */
  ASSERT_OK(ns_store_backup(db, out, 1, &st, err, sizeof err));
  ASSERT_EQ(q1(out, "SELECT count(*) FROM ratings"), q1(db, "SELECT count(*) FROM ratings"));
}
