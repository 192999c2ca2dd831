/*
** tests/test_server.c -- unit tests of the server's pure parts: the NDJSON
** and TSV body parsers, the HTTP connection state machine fed from
** buffers, routing and the bearer-token check.  No sockets, no threads.
*/
#include "harness.h"

#include "../base/dataset.h"
#include "../dash/dash.h"
#include "../server/server_int.h"

static void parse(ns__batch *b, int kind, int fmt, const char *s) {
  memset(b, 0, sizeof *b);
  ASSERT_OK(ns__body_parse(b, kind, fmt, s, strlen(s)));
}

TEST(server_ndjson_good_rows) {
  ns__batch b;
  parse(&b, NS_FILE_RATINGS, NS_BODY_NDJSON,
        "{\"noteId\":\"1789012345678901234\",\"raterParticipantId\":\"A1\",\"createdAtMillis\":1700000000000,"
        "\"helpfulnessLevel\":\"HELPFUL\",\"helpfulClear\":1,\"notHelpfulIncorrect\":0,\"extra\":[1,2]}\n"
        "\r\n"
        "{\"noteId\":42,\"participantId\":\"B2\",\"createdAtMillis\":\"5\",\"helpful\":0,\"notHelpful\":1,"
        "\"notHelpfulIncorrect\":true,\"ratingSourceBucketed\":\"POPULATION_SAMPLED\"}\r\n"
        "{\"noteId\":43,\"raterParticipantId\":\"C3\",\"createdAtMillis\":6,\"helpfulnessLevel\":\"SOMEWHAT_HELPFUL\"}");
  ASSERT_EQ(b.ratings.n, 3);
  ASSERT_EQ(b.n_rejected, 0);
  ASSERT_EQ(b.ratings.a[0].note_id, 1789012345678901234LL);   /* > 2^53, exact */
  ASSERT_STREQ(b.ratings.a[0].rater, "A1");
  ASSERT_EQ(b.ratings.a[0].created_ms, 1700000000000LL);
  ASSERT_EQ(b.ratings.a[0].level, NS_LEVEL_HELPFUL);
  ASSERT_EQ(b.ratings.a[0].tags, NS_TAG_BIT(2));                /* helpfulClear */
  ASSERT_EQ(b.ratings.a[1].note_id, 42);
  ASSERT_STREQ(b.ratings.a[1].rater, "B2");
  ASSERT_EQ(b.ratings.a[1].level, NS_LEVEL_NOT_HELPFUL);         /* legacy column */
  ASSERT_EQ(b.ratings.a[1].tags, NS_TAG_BIT(NS_TAG_NH_INCORRECT));
  ASSERT_EQ(b.ratings.a[1].source, NS_SOURCE_POPULATION_SAMPLED);
  ASSERT_EQ(b.ratings.a[2].level, NS_LEVEL_SOMEWHAT_HELPFUL);
  ASSERT_STREQ(b.ratings.a[2].rater, "C3");
  ns__batch_free(&b);
}

TEST(server_ndjson_bad_rows) {
  ns__batch b;
  parse(&b, NS_FILE_RATINGS, NS_BODY_NDJSON,
        "{\"noteId\":1,\"raterParticipantId\":\"A\",\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"raterParticipantId\":\"A\",\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\"}\n"   /* 2 */
        "{\"noteId\":1.5,\"raterParticipantId\":\"A\",\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":1,\"raterParticipantId\":\"A\",\"createdAtMillis\":1,\"helpfulnessLevel\":\"MEH\"}\n"
        "{\"noteId\":1,\"raterParticipantId\":\"A\",\"createdAtMillis\":1}\n"                        /* 5 */
        "{\"noteId\":1,\"raterParticipantId\":\"A\",\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\",\"helpfulClear\":2}\n"
        "{\"noteId\":1,\"raterParticipantId\":7,\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":1,\"raterParticipantId\":\"\",\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":1,\"raterParticipantId\":\"a\\tb\",\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":1,\"raterParticipantId\":\"A\",\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\"\n" /* 10 */
        "[1,2]\n"
        "{\"noteId\":\"99999999999999999999\",\"raterParticipantId\":\"A\",\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":1,\"noteId\":2,\"raterParticipantId\":\"A\",\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":1,\"raterParticipantId\":{\"x\":1},\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":1,\"raterParticipantId\":\"\xff\xfe\",\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\"}\n"
        "{\"noteId\":1,\"raterParticipantId\":\"A\",\"createdAtMillis\":1,\"helpfulnessLevel\":\"HELPFUL\",\"ratingSourceBucketed\":\"NEW BUCKET?\"}\n");
  ASSERT_EQ(b.ratings.n, 2);   /* line 1, and line 7 (a number id is text "7") */
  ASSERT_EQ(b.n_rejected, 14);
  ASSERT_EQ(b.rejects.n, 14);
  {
    static const unsigned want[] = {2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    for (size_t i = 0; i < NS_ARRAY_LEN(want); i++) ASSERT_EQ(b.rejects.a[i].line, want[i]);
  }
  {
    /* reasons and their stable codes come from the format validator */
    static const char *const want[][2] = {
        {"noteId: missing value", "missing"},
        {"noteId: expected an integer, got \"1.5\"", "not_integer"},
        {"helpfulnessLevel: unknown value, got \"MEH\"", "unknown_value"},
        {"helpfulnessLevel: no rating value", "no_level"},
        {"helpfulClear: expected 0 or 1, got \"2\"", "not_flag"},
        {"raterParticipantId: missing participant id", "missing"},
        {"raterParticipantId: participant id with a control character", "bad_participant"},
        {"invalid JSON", "invalid_json"},
        {"expected a JSON object", "invalid_json"},
        {"noteId: expected an integer", "not_integer"}, /* overflow */
        {"invalid JSON", "invalid_json"},               /* duplicate key */
        {"arrays and objects", "invalid_json"},
        {"invalid JSON", "invalid_json"},               /* bad UTF-8 */
        {"ratingSourceBucketed: unknown value", "unknown_value"}};
    for (size_t i = 0; i < NS_ARRAY_LEN(want); i++) {
      ASSERT(strstr(b.rejects.a[i].msg, want[i][0]));
      ASSERT_STREQ(b.rejects.a[i].code, want[i][1]);
    }
  }
  ASSERT_STREQ(b.ratings.a[1].rater, "7");
  ns__batch_free(&b);
}

TEST(server_ndjson_empty_and_reject_cap) {
  ns__batch b;
  char *big = malloc(200 * 4 + 1);
  parse(&b, NS_FILE_RATINGS, NS_BODY_NDJSON, "\n \n");
  ASSERT_EQ(ns__batch_rows(&b), 0);
  ASSERT(strstr(b.body_error, "no rows"));
  ns__batch_free(&b);
  for (int i = 0; i < 200; i++) memcpy(big + 4 * i, "{x}\n", 4);
  big[800] = '\0';
  parse(&b, NS_FILE_RATINGS, NS_BODY_NDJSON, big);
  ASSERT_EQ(b.n_rejected, 200);
  ASSERT_EQ(b.rejects.n, NS_BODY_MAX_REJECTS);
  ASSERT_EQ(b.rejects.a[NS_BODY_MAX_REJECTS - 1].line, NS_BODY_MAX_REJECTS);
  {
    char *resp = ns__ingest_response(&b, 0);
    ASSERT(strstr(resp, "\"accepted\":0"));
    ASSERT(strstr(resp, "\"rejectedTotal\":200"));
    free(resp);
  }
  ns__batch_free(&b);
  free(big);
}

TEST(server_tsv_ratings) {
  ns__batch b;
  parse(&b, NS_FILE_RATINGS, NS_BODY_TSV,
        "noteId\traterParticipantId\tcreatedAtMillis\tversion\thelpfulnessLevel\thelpfulOther\tnotHelpfulSpamHarassmentOrAbuse\n"
        "1789012345678901234\tAB\t1700000000000\t2\tNOT_HELPFUL\t0\t1\n"
        "12\tCD\t5\t\tHELPFUL\t1\n"                          /* 3: field count */
        "x\tCD\t5\t\tHELPFUL\t1\t0\n"                        /* 4: bad noteId */
        "13\tCD\t-5\t\tHELPFUL\t1\t0\n"                      /* 5: negative time */
        "\n"
        "14\tEF\t6\t\tSOMEWHAT_HELPFUL\t\t\r\n");
  ASSERT_EQ(b.ratings.n, 2);
  ASSERT_EQ(b.ratings.a[0].note_id, 1789012345678901234LL);
  ASSERT_EQ(b.ratings.a[0].level, NS_LEVEL_NOT_HELPFUL);
  ASSERT_EQ(b.ratings.a[0].tags, NS_TAG_BIT(NS_TAG_NH_SPAM_HARASSMENT));
  ASSERT_STREQ(b.ratings.a[1].rater, "EF");
  ASSERT_EQ(b.ratings.a[1].tags, 0);
  ASSERT_EQ(b.n_rejected, 3);
  ASSERT_EQ(b.rejects.a[0].line, 3);
  ASSERT(strstr(b.rejects.a[0].msg, "expected 7 fields, got 6"));
  ASSERT_EQ(b.rejects.a[1].line, 4);
  ASSERT_EQ(b.rejects.a[2].line, 5);
  ns__batch_free(&b);

  /* a missing required column fails the body once */
  parse(&b, NS_FILE_RATINGS, NS_BODY_TSV, "noteId\tcreatedAtMillis\n1\t2\n");
  ASSERT(strstr(b.body_error, "missing required column 'raterParticipantId'"));
  ASSERT_EQ(b.ratings.n, 0);
  ns__batch_free(&b);
}

TEST(server_tsv_notes_enrollment) {
  ns__batch b;
  parse(&b, NS_FILE_NOTES, NS_BODY_TSV,
        "noteId\tnoteAuthorParticipantId\tcreatedAtMillis\ttweetId\tclassification\tsummary\n"
        "7\tAU\t100\t555\tNOT_MISLEADING\thello\n"
        "8\tAU\t100\t\t\tx\n"
        "9\tAU\t100\t1\tWHATEVER\tx\n");
  ASSERT_EQ(b.notes.n, 2);
  ASSERT_EQ(b.notes.a[0].tweet_id, 555);
  ASSERT_EQ(b.notes.a[0].classification, NS_CLASS_NOT_MISLEADING);
  ASSERT_EQ(b.notes.a[1].tweet_id, -1);
  ASSERT_EQ(b.notes.a[1].classification, NS_CLASS_NONE);
  ASSERT_STREQ(b.notes.a[1].author, "AU");
  ASSERT_EQ(b.rejects.a[0].line, 4);
  ns__batch_free(&b);

  parse(&b, NS_FILE_ENROLLMENT, NS_BODY_NDJSON,
        "{\"participantId\":\"P\",\"enrollmentState\":\"earnedIn\",\"timestampOfLastEarnOut\":1.6e12,"
        "\"modelingPopulation\":\"CORE\",\"modelingGroup\":13.0,\"successfulRatingNeededToEarnIn\":5}\n"
        "{\"participantId\":\"Q\",\"enrollmentState\":4}\n"
        "{\"participantId\":\"R\",\"enrollmentState\":\"bogus\"}\n");
  ASSERT_EQ(b.enroll.n, 2);
  ASSERT_EQ(b.enroll.a[0].state, NS_ENROLL_EARNED_IN);
  ASSERT_EQ(b.enroll.a[0].ts_last_earn_out, 1600000000000LL);
  ASSERT_EQ(b.enroll.a[0].modeling_group, 13);
  ASSERT_EQ(b.enroll.a[0].successful_needed, 5);
  ASSERT_STREQ(b.enroll.a[0].modeling_population, "CORE");
  ASSERT_EQ(b.enroll.a[1].state, NS_ENROLL_NEW_USER); /* thrift code 4 */
  ASSERT_EQ(b.enroll.a[1].ts_last_earn_out, NS_TS_NONE);
  ASSERT_EQ(b.enroll.a[1].modeling_group, -1);
  ASSERT_STREQ(b.enroll.a[1].participant, "Q");
  ASSERT_EQ(b.rejects.a[0].line, 3);
  ns__batch_free(&b);
}

/* ---- HTTP state machine ---------------------------------------------------- */

static int headers_seen;
static int on_headers_accept(void *ctx, ns__http_req *req) {
  (void)ctx;
  (void)req;
  headers_seen++;
  return 0;
}

TEST(server_http_pipelined_and_split) {
  ns__http_conn c;
  const char *in =
      "POST /v1/ratings?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: Application/X-NDJSON; charset=utf-8\r\n"
      "Authorization: Bearer s3cret\r\nContent-Length: 5\r\n\r\nhello"
      "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  size_t len = strlen(in), off = 0, used;
  int ev, n_req = 0;
  ns__http_init(&c, 1000, on_headers_accept, NULL);
  headers_seen = 0;
  /* feed one byte at a time: every split point must work */
  while (off < len) {
    ev = ns__http_feed(&c, in + off, 1, &used);
    off += used;
    ASSERT(ev != NS_HTTP_ERROR);
    if (ev == NS_HTTP_REQUEST) {
      n_req++;
      if (n_req == 1) {
        ASSERT_EQ(c.req.method, NS_HTTP_POST);
        ASSERT_STREQ(c.req.path, "/v1/ratings");
        ASSERT_STREQ(c.req.content_type, "application/x-ndjson");
        ASSERT_STREQ(c.req.auth, "Bearer s3cret");
        ASSERT_EQ(c.req.body_len, 5);
        ASSERT_STREQ(c.req.body, "hello");
        ASSERT_EQ(c.req.keep_alive, 1);
      } else {
        ASSERT_EQ(c.req.method, NS_HTTP_GET);
        ASSERT_STREQ(c.req.path, "/healthz");
        ASSERT_EQ(c.req.keep_alive, 0);
      }
      ns__http_next(&c);
    }
  }
  ASSERT_EQ(n_req, 2);
  ASSERT_EQ(headers_seen, 2);
  ns__http_free(&c);
}

TEST(server_http_limits) {
  ns__http_conn c;
  size_t used;
  const char *big = "POST /v1/ratings HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
  const char *chunked = "POST /v1/ratings HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n"
                        "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n0\r\n\r\n";
  ns__http_init(&c, 100, NULL, NULL);
  ASSERT_EQ(ns__http_feed(&c, big, strlen(big), &used), NS_HTTP_ERROR);
  ASSERT_EQ(c.err_status, 413);
  ns__http_free(&c);

  ns__http_init(&c, 100, NULL, NULL);
  ASSERT_EQ(ns__http_feed(&c, chunked, strlen(chunked), &used), NS_HTTP_ERROR);
  ASSERT_EQ(c.err_status, 413);   /* found while streaming */
  ns__http_free(&c);

  ns__http_init(&c, 100, NULL, NULL);
  ASSERT_EQ(ns__http_feed(&c, "GARBAGE\r\n\r\n", 11, &used), NS_HTTP_ERROR);
  ASSERT_EQ(c.err_status, 400);
  ns__http_free(&c);

  {
    /* shared budget: a second body may not push it over */
    size_t budget = 0;
    const char *req = "POST /v1/ratings HTTP/1.1\r\nContent-Length: 50\r\n\r\n"
                      "01234567890123456789012345678901234567890123456789";
    ns__http_init(&c, 100, NULL, NULL);
    c.budget = &budget;
    c.budget_max = 40;
    ASSERT_EQ(ns__http_feed(&c, req, strlen(req), &used), NS_HTTP_ERROR);
    ASSERT_EQ(c.err_status, 503);
    ns__http_free(&c);
    ASSERT_EQ(budget, 0);
  }
}

TEST(server_route_and_auth) {
  ns__http_req r;
  ns__route_decision d;
  memset(&r, 0, sizeof r);
  r.content_length = UINT64_MAX;
  r.method = NS_HTTP_GET;
  strcpy(r.path, "/v1/notes/1789012345678901234");
  ns__server_route(&r, NULL, 100, &d);
  ASSERT_EQ(d.status, 0);
  ASSERT_EQ(d.route, NS_ROUTE_NOTE);
  ASSERT_EQ(d.note_id, 1789012345678901234LL);
  strcpy(r.path, "/v1/notes/12x");
  ns__server_route(&r, NULL, 100, &d);
  ASSERT_EQ(d.status, 400);
  strcpy(r.path, "/v1/ratings");
  ns__server_route(&r, NULL, 100, &d);
  ASSERT_EQ(d.status, 405);
  r.method = NS_HTTP_POST;
  ns__server_route(&r, "tok", 100, &d);
  ASSERT_EQ(d.status, 401);
  strcpy(r.auth, "Bearer tok");
  ns__server_route(&r, "tok", 100, &d);
  ASSERT_EQ(d.status, 415);
  strcpy(r.content_type, "text/tab-separated-values");
  ns__server_route(&r, "tok", 100, &d);
  ASSERT_EQ(d.status, 0);
  ASSERT_EQ(d.fmt, NS_BODY_TSV);
  ASSERT_EQ(d.kind, NS_FILE_RATINGS);
  r.content_length = 101;
  ns__server_route(&r, "tok", 100, &d);
  ASSERT_EQ(d.status, 413);
  strcpy(r.path, "/v2/x");
  ns__server_route(&r, "tok", 100, &d);
  ASSERT_EQ(d.status, 404);

  ASSERT_EQ(ns__auth_ok("Bearer tok", "tok"), 1);
  ASSERT_EQ(ns__auth_ok("Bearer tol", "tok"), 0);
  ASSERT_EQ(ns__auth_ok("Bearer tok2", "tok"), 0);
  ASSERT_EQ(ns__auth_ok("Bearer to", "tok"), 0);
  ASSERT_EQ(ns__auth_ok("bearer tok", "tok"), 1);   /* scheme case-insensitive (RFC 7235) */
  ASSERT_EQ(ns__auth_ok("BEARER   tok", "tok"), 1);
  ASSERT_EQ(ns__auth_ok("Basic tok", "tok"), 0);
  ASSERT_EQ(ns__auth_ok("Bearertok", "tok"), 0);
  ASSERT_EQ(ns__auth_ok("", "tok"), 0);
}

/* /dashboard (the page built in), /report (the HTML report) and the
** changes between two runs: paths, ids, methods. */
TEST(server_route_dashboard_report_changes) {
  ns__http_req r;
  ns__route_decision d;
  memset(&r, 0, sizeof r);
  r.content_length = UINT64_MAX;
  r.method = NS_HTTP_GET;
  strcpy(r.path, "/dashboard");
  ns__server_route(&r, NULL, 100, &d);
  ASSERT_EQ(d.status, 0);
  ASSERT_EQ(d.route, NS_ROUTE_DASHBOARD);
  strcpy(r.path, "/report");
  ns__server_route(&r, NULL, 100, &d);
  ASSERT_EQ(d.status, 0);
  ASSERT_EQ(d.route, NS_ROUTE_REPORT);
  strcpy(r.path, "/v1/runs/12/changes/9000000000");
  ns__server_route(&r, NULL, 100, &d);
  ASSERT_EQ(d.status, 0);
  ASSERT_EQ(d.route, NS_ROUTE_RUN_CHANGES);
  ASSERT_EQ(d.run_a, 12);
  ASSERT_EQ(d.run_b, 9000000000LL);
  const char *bad[] = {"/v1/runs/0/changes/1", "/v1/runs/1/changes/", "/v1/runs//changes/2",
                       "/v1/runs/1x/changes/2", "/v1/runs/1/changes/2/", "/v1/runs/-1/changes/2",
                       "/v1/runs/1/changes/99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    strcpy(r.path, bad[i]);
    ns__server_route(&r, NULL, 100, &d);
    ASSERT_EQ(d.status, 400);
  }
  r.method = NS_HTTP_POST;
  strcpy(r.path, "/dashboard");
  ns__server_route(&r, NULL, 100, &d);
  ASSERT_EQ(d.status, 405);
  r.method = NS_HTTP_HEAD;
  strcpy(r.path, "/report");
  ns__server_route(&r, NULL, 100, &d);
  ASSERT_EQ(d.status, 0);
  ASSERT_EQ(ns_dashboard_html_len, strlen(ns_dashboard_html));
  ASSERT(strstr(ns_dashboard_html, "<script>") != NULL);
}
