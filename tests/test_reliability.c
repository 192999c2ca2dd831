/*
** tests/test_reliability.c -- regression tests of issue #18 (reliability
** under hostile clients and faults) that need no server process: the body
** parser's reject reasons (D2), JSON types (D3), the note id domain (D4),
** the file reader and the HTTP body reader agreeing on one TSV (D6), the
** HTTP version (minor item), bearer tokens (D7).  The server-side halves
** are in tests/e2e/serve_hostile.sh.
*/
#include "harness.h"

#include <jansson.h>
#include <sqlite3.h>

#include "../base/dataset.h"
#include "../server/server_int.h"
#include "../store/store.h"

static void parse(ns__batch *b, int kind, int fmt, const char *s) {
  memset(b, 0, sizeof *b);
  ASSERT_OK(ns__body_parse(b, kind, fmt, s, strlen(s)));
}

/* The "error" text of entry i of the ingest answer's "rejected" array. */
static const char *answer_reason(json_t *ans, size_t i) {
  return json_string_value(json_object_get(json_array_get(json_object_get(ans, "rejected"), i),
                                           "error"));
}

/* D2: a reason quoting an invalid UTF-8 byte, or an excerpt ending inside a
** multibyte character, is still listed in the answer. */
TEST(rel_d2_reject_reasons_kept) {
  ns__batch b;
  json_t *ans;
  char *txt;
  /* 31 ASCII bytes then a 3-byte character: the 32-byte excerpt splits it */
  parse(&b, NS_FILE_RATINGS, NS_BODY_NDJSON,
        "{\"noteId\":1,\"raterParticipantId\":\"a\",\"createdAtMillis\":1,"
        "\"helpfulnessLevel\":\"0123456789012345678901234567890\xe2\x82\xac\"}\n");
  ASSERT_EQ(b.n_rejected, 1);
  txt = ns__ingest_response(&b, 0);
  ASSERT(txt != NULL);
  ans = json_loads(txt, 0, NULL);
  ASSERT(ans != NULL);
  ASSERT_EQ(json_array_size(json_object_get(ans, "rejected")), 1);
  /* (the validator quotes values as printable ASCII: each other byte is '?') */
  ASSERT_STREQ(answer_reason(ans, 0),
               "helpfulnessLevel: unknown value, got \"0123456789012345678901234567890???\"");
  json_decref(ans);
  free(txt);
  ns__batch_free(&b);

  /* TSV row with an invalid byte: the file reader's rule, as in `import` */
  parse(&b, NS_FILE_RATINGS, NS_BODY_TSV,
        "noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\n"
        "1\tr\t5\tHELP\xff\n"
        "2\tr\t5\tHELPFUL\n");
  ASSERT_EQ(b.ratings.n, 1);
  ASSERT_EQ(b.n_rejected, 1);
  txt = ns__ingest_response(&b, 1);
  ans = json_loads(txt, 0, NULL);
  ASSERT(ans != NULL);
  ASSERT_EQ(json_array_size(json_object_get(ans, "rejected")), 1);
  ASSERT_EQ(json_integer_value(json_object_get(json_array_get(json_object_get(ans, "rejected"), 0),
                                               "line")), 2);
  ASSERT_STREQ(answer_reason(ans, 0), "invalid UTF-8");
  json_decref(ans);
  free(txt);
  ns__batch_free(&b);
}

/* D3: booleans are 0/1 only in flag columns. */
TEST(rel_d3_json_booleans) {
  ns__batch b;
  parse(&b, NS_FILE_RATINGS, NS_BODY_NDJSON,
        "{\"noteId\":true,\"raterParticipantId\":\"x\",\"createdAtMillis\":5,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":7,\"raterParticipantId\":\"x\",\"createdAtMillis\":true,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":7,\"raterParticipantId\":false,\"createdAtMillis\":5,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":7,\"raterParticipantId\":\"x\",\"createdAtMillis\":5,\"helpful\":true,\"helpfulClear\":true}\n");
  ASSERT_EQ(b.ratings.n, 1);
  ASSERT_EQ(b.n_rejected, 3);
  ASSERT_EQ(b.rejects.a[0].line, 1);
  ASSERT_STREQ(b.rejects.a[0].msg, "noteId: a boolean is only allowed in a 0/1 column");
  ASSERT_STREQ(b.rejects.a[1].msg, "createdAtMillis: a boolean is only allowed in a 0/1 column");
  ASSERT_STREQ(b.rejects.a[1].code, "boolean");
  ASSERT_EQ(b.rejects.a[2].line, 3);
  ASSERT_EQ(b.ratings.a[0].note_id, 7);
  ASSERT_EQ(b.ratings.a[0].level, NS_LEVEL_HELPFUL);
  ASSERT_EQ(b.ratings.a[0].tags, NS_TAG_BIT(2));   /* helpfulClear */
  ns__batch_free(&b);
}

/* D4: public note ids are positive, over HTTP (POST and GET) and in files. */
TEST(rel_d4_note_id_domain) {
  ns__batch b;
  ns__http_req r;
  ns__route_decision d;
  ns_dataset *ds;
  ns_load_stats st;
  ASSERT_EQ(ns_check_note_id(1), NULL);
  ASSERT(ns_check_note_id(0) != NULL);
  ASSERT(ns_check_note_id(INT64_MIN) != NULL);

  parse(&b, NS_FILE_RATINGS, NS_BODY_NDJSON,
        "{\"noteId\":-7,\"raterParticipantId\":\"x\",\"createdAtMillis\":5,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":\"-9223372036854775808\",\"raterParticipantId\":\"x\",\"createdAtMillis\":5,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":0,\"raterParticipantId\":\"x\",\"createdAtMillis\":5,\"helpfulnessLevel\":\"HELPFUL\"}\n");
  ASSERT_EQ(b.ratings.n, 0);
  ASSERT_EQ(b.n_rejected, 3);
  ASSERT_STREQ(b.rejects.a[0].msg, "noteId: must be a positive integer, got \"-7\"");
  ns__batch_free(&b);
  parse(&b, NS_FILE_NOTES, NS_BODY_NDJSON,
        "{\"noteId\":-1,\"noteAuthorParticipantId\":\"a\",\"createdAtMillis\":5}\n");
  ASSERT_EQ(b.notes.n, 0);
  ASSERT_EQ(b.n_rejected, 1);
  ns__batch_free(&b);

  memset(&r, 0, sizeof r);
  r.content_length = UINT64_MAX;
  r.method = NS_HTTP_GET;
  strcpy(r.path, "/v1/notes/-1");
  ns__server_route(&r, NULL, 100, &d);
  ASSERT_EQ(d.status, 400);
  ASSERT_STREQ(d.error, "noteId must be a positive decimal integer");
  strcpy(r.path, "/v1/notes/0");
  ns__server_route(&r, NULL, 100, &d);
  ASSERT_EQ(d.status, 400);

  ASSERT_OK(ns_dataset_new(&ds));
  {
    const char *t = "noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\n"
                    "-7\tp\t5\tHELPFUL\n0\tp\t5\tHELPFUL\n3\tp\t5\tHELPFUL\n";
    ASSERT_OK(ns_tsv_load_mem("r.tsv", t, strlen(t), 0, ds, NULL, &st));
  }
  ASSERT_EQ(st.rows_ok, 1);
  ASSERT_EQ(st.rows_rejected, 2);
  ns_dataset_free(ds);
}

typedef struct msgs {
  char buf[4096];
  size_t n;
} msgs;

static void collect(void *ctx, const char *m) {
  msgs *g = ctx;
  g->n += (size_t)snprintf(g->buf + g->n, sizeof g->buf - g->n, "%s\n", m);
  if (g->n >= sizeof g->buf) g->n = sizeof g->buf - 1;
}

/* Reads text both ways: as a file (store/tsv.c) and as an HTTP body
** (server/body.c).  Returns the rows each accepted; messages in g / b. */
static void both_ways(const char *text, msgs *g, int *rc_file, size_t *file_rows, ns__batch *b) {
  ns_dataset *ds;
  ns_load_stats st;
  ns_load_opts o = {0, collect, g, NULL};
  memset(g, 0, sizeof *g);
  ASSERT_OK(ns_dataset_new(&ds));
  *rc_file = ns_tsv_load_mem("r.tsv", text, strlen(text), 0, ds, &o, &st);
  *file_rows = ds->n_ratings;
  ns_dataset_free(ds);
  parse(b, NS_FILE_RATINGS, NS_BODY_TSV, text);
}

/* D6: the same TSV read as a file and as an HTTP body gives the same rows. */
TEST(rel_d6_tsv_two_ways_agree) {
  msgs g;
  ns__batch b;
  int rc;
  size_t n;
  /* a duplicated column: refused by both, with its position */
  both_ways("noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\thelpfulnessLevel\n"
            "1\tp\t5\tHELPFUL\tNOT_HELPFUL\n",
            &g, &rc, &n, &b);
  ASSERT_EQ(rc, NS_EPARSE);
  ASSERT_EQ(n, 0);
  ASSERT_STREQ(g.buf, "r.tsv:1:5: duplicate column 'helpfulnessLevel' (also column 4)\n");
  ASSERT_EQ(b.ratings.n, 0);
  ASSERT_STREQ(b.body_error, "body:1:5: duplicate column 'helpfulnessLevel' (also column 4)");
  ns__batch_free(&b);

  /* a UTF-8 BOM: accepted by both */
  both_ways("\xEF\xBB\xBFnoteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\n"
            "1\tp\t5\tHELPFUL\n",
            &g, &rc, &n, &b);
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(b.ratings.n, 1);
  ASSERT_STREQ(b.body_error, "");
  ns__batch_free(&b);

  /* negative createdAtMillis: rejected by both */
  both_ways("noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\n"
            "1\tp\t-5\tHELPFUL\n2\tp\t5\tHELPFUL\n",
            &g, &rc, &n, &b);
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(n, 1);
  ASSERT_STREQ(g.buf, "r.tsv:2:3: createdAtMillis: must not be negative, got \"-5\" [negative_time]\n");
  ASSERT_EQ(b.ratings.n, 1);
  ASSERT_EQ(b.n_rejected, 1);
  /* the same reason and code both ways: one validator */
  ASSERT_STREQ(b.rejects.a[0].msg, "createdAtMillis: must not be negative, got \"-5\"");
  ASSERT_STREQ(b.rejects.a[0].code, "negative_time");
  ns__batch_free(&b);

  /* negative note id: rejected by both */
  both_ways("noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\n"
            "-3\tp\t5\tHELPFUL\n",
            &g, &rc, &n, &b);
  ASSERT_EQ(n, 0);
  ASSERT_STREQ(g.buf, "r.tsv:2:1: noteId: must be a positive integer, got \"-3\" [id_not_positive]\n");
  ASSERT_EQ(b.ratings.n, 0);
  ASSERT_EQ(b.n_rejected, 1);
  ns__batch_free(&b);
}

/* Minor item: HTTP/1.x only. */
TEST(rel_http_version) {
  ns__http_conn c;
  size_t used;
  ns__http_init(&c, 100, NULL, NULL);
  ASSERT_EQ(ns__http_feed(&c, "GET /healthz HTTP/9.9\r\n\r\n", 25, &used), NS_HTTP_ERROR);
  ASSERT_EQ(c.err_status, 505);
  ns__http_free(&c);
  ns__http_init(&c, 100, NULL, NULL);
  ASSERT_EQ(ns__http_feed(&c, "GET /healthz\r\n\r\n", 16, &used), NS_HTTP_ERROR);
  ASSERT_EQ(c.err_status, 400);
  ns__http_free(&c);
  ns__http_init(&c, 100, NULL, NULL);
  ASSERT_EQ(ns__http_feed(&c, "GET /healthz HTTP/1.0\r\n\r\n", 25, &used), NS_HTTP_REQUEST);
  ns__http_free(&c);
}

/* D7: a long token fits the Authorization buffer; the scheme is
** case-insensitive. */
TEST(rel_d7_long_token) {
  static char tok[NS_SERVER_MAX_TOKEN + 1], req[NS_SERVER_MAX_TOKEN + 200];
  ns__http_conn c;
  size_t used;
  int n;
  memset(tok, 'k', NS_SERVER_MAX_TOKEN);
  tok[NS_SERVER_MAX_TOKEN] = '\0';
  n = snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nAuthorization: bEaReR %s\r\n\r\n", tok);
  ns__http_init(&c, 100, NULL, NULL);
  ASSERT_EQ(ns__http_feed(&c, req, (size_t)n, &used), NS_HTTP_REQUEST);
  ASSERT_EQ(ns__auth_ok(c.req.auth, tok), 1);
  tok[0] = 'j';
  ASSERT_EQ(ns__auth_ok(c.req.auth, tok), 0);
  ns__http_free(&c);
}

/* The status and finished_ms of one run, read with plain SQLite. */
static void run_row(const char *db, int64_t run_id, char *status, size_t cap, int *finished) {
  sqlite3 *h;
  sqlite3_stmt *st;
  ASSERT_EQ(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT status, finished_ms IS NOT NULL FROM runs WHERE run_id = ?",
                               -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_int64(st, 1, run_id);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  snprintf(status, cap, "%s", (const char *)sqlite3_column_text(st, 0));
  *finished = sqlite3_column_int(st, 1);
  sqlite3_finalize(st);
  sqlite3_close(h);
}

/* D1: a run whose process is gone is marked abandoned by the next run (or
** server start); a live run, even of this process, is left alone. */
TEST(rel_d1_orphaned_runs) {
  char db[512], status[32];
  ns_store *a, *b;
  int64_t r1, r2, r3;
  int n, fin;
  snprintf(db, sizeof db, "%s/d1.db", ns_test_tmpdir());
  ASSERT_OK(ns_store_open(db, NS_STORE_CREATE, &a));
  ASSERT_OK(ns_store_open(db, 0, &b));
  ASSERT_OK(ns_store_run_begin(a, "{}", &r1));
  /* a live run is not an orphan */
  ASSERT_OK(ns_store_runs_reap(b, &n));
  ASSERT_EQ(n, 0);
  run_row(db, r1, status, sizeof status, &fin);
  ASSERT_STREQ(status, "running");
  ASSERT_EQ(fin, 0);
  /* the handle goes away without finishing (what kill -9 does to the
  ** process): the next run_begin marks the run abandoned, with the time */
  ns_store_close(a);
  ASSERT_OK(ns_store_run_begin(b, "{}", &r2));
  run_row(db, r1, status, sizeof status, &fin);
  ASSERT_STREQ(status, "abandoned");
  ASSERT_EQ(fin, 1);
  run_row(db, r2, status, sizeof status, &fin);
  ASSERT_STREQ(status, "running");
  /* a finished run releases its lock; a failed one is not touched again */
  ASSERT_OK(ns_store_run_fail(b, r2, "failed"));
  ASSERT_OK(ns_store_open(db, 0, &a));
  ASSERT_OK(ns_store_run_begin(a, "{}", &r3));
  ASSERT_OK(ns_store_runs_reap(b, &n));
  ASSERT_EQ(n, 0);
  run_row(db, r2, status, sizeof status, &fin);
  ASSERT_STREQ(status, "failed");
  run_row(db, r3, status, sizeof status, &fin);
  ASSERT_STREQ(status, "running");
  ns_store_close(a);
  ASSERT_OK(ns_store_runs_reap(b, &n));
  ASSERT_EQ(n, 1);
  ns_store_close(b);
}
