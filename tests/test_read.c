/*
** tests/test_read.c -- the pure parts of the read API (server/read.c,
** server/server.c routing): the JSON text with shortest round-trip reals,
** the GET /v1/notes query string and cursor, and the routes of API v1.
*/
#include "harness.h"

#include <jansson.h>

#include "../base/dataset.h"
#include "../server/read.h"
#include "../server/server_int.h"

/* The text of one real as the API prints it. */
static const char *real_text(double d) {
  static char buf[64];
  json_t *j = json_real(d);
  char *s = ns__json_text(j);
  ASSERT(s != NULL);
  snprintf(buf, sizeof buf, "%s", s);
  free(s);
  json_decref(j);
  return buf;
}

TEST(read_json_shortest_reals) {
  uint64_t x = 0x9e3779b97f4a7c15ull;
  ASSERT_STREQ(real_text(1.428), "1.428");          /* jansson: 1.4279999999999999 */
  ASSERT_STREQ(real_text(0.1), "0.1");
  ASSERT_STREQ(real_text(0.1 + 0.2), "0.30000000000000004");
  ASSERT_STREQ(real_text(3.0), "3.0");              /* still reads as a real */
  ASSERT_STREQ(real_text(-0.0), "-0.0");
  ASSERT_STREQ(real_text(-2.5), "-2.5");
  ASSERT_STREQ(real_text(1e20), "1e20");
  ASSERT_STREQ(real_text(1.5e-7), "1.5e-7");
  ASSERT_STREQ(real_text(1e300), "1e300");
  ASSERT_STREQ(real_text(5e-324), "5e-324");        /* the smallest subnormal */
  ASSERT_STREQ(real_text(123456789012.5), "123456789012.5");
  ASSERT_STREQ(real_text(0.036), "0.036");
  /* any double: reads back exactly, and one digit fewer would not */
  for (int i = 0; i < 20000; i++) {
    double d, back;
    const char *t;
    int digits = 0;
    char shorter[400];
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    memcpy(&d, &x, sizeof d);
    if (!isfinite(d)) continue;
    t = real_text(d);
    back = strtod(t, NULL);
    ASSERT(memcmp(&back, &d, sizeof d) == 0);
    for (const char *p = t; *p && *p != 'e'; p++) digits += *p >= '0' && *p <= '9';
    if (strlen(t) > 2 && !strcmp(t + strlen(t) - 2, ".0")) digits--;   /* our ".0" */
    /* leading zeros of 0.00xyz are not significant */
    for (const char *p = t; *p && (*p == '-' || *p == '0' || *p == '.'); p++) digits -= *p == '0';
    if (digits > 1) {
      snprintf(shorter, sizeof shorter, "%.*g", digits - 1, d);
      ASSERT(strtod(shorter, NULL) != d);
    }
  }
}

TEST(read_json_like_jansson_otherwise) {
  /* everything but reals prints as json_dumps(JSON_COMPACT) does */
  json_t *j = json_pack("{s:s, s:[i, b, b, n], s:{s:I}, s:s, s:{}, s:[]}", "a",
                        "q\"uote\\ \n\t\x01 caf\xc3\xa9 /", "b", 1, 1, 0, "c", "big",
                        (json_int_t)1789012345678901234LL, "d", "", "e", "f");
  char *ours = ns__json_text(j), *theirs = json_dumps(j, JSON_COMPACT);
  ASSERT(ours && theirs);
  ASSERT_STREQ(ours, theirs);
  ASSERT_STREQ(ours, "{\"a\":\"q\\\"uote\\\\ \\n\\t\\u0001 caf\xc3\xa9 /\",\"b\":[1,true,false,null],"
                     "\"c\":{\"big\":1789012345678901234},\"d\":\"\",\"e\":{},\"f\":[]}");
  free(ours);
  free(theirs);
  json_decref(j);
}

TEST(read_list_query) {
  ns__list_query q;
  const char *err = NULL;
  char cur[24];
  int64_t big = 1789012345678901234LL;
  /* defaults */
  ASSERT_OK(ns__list_query_parse("", &q, &err));
  ASSERT_STREQ(q.status, "");
  ASSERT_STREQ(q.decided_by, "");
  ASSERT_EQ(q.changed_since, -1);
  ASSERT_EQ(q.after, 0);
  ASSERT_EQ(q.limit, NS_LIST_DEFAULT);
  /* every parameter, percent-encoding, an empty segment */
  ns__list_cursor(big, cur, sizeof cur);
  {
    char qs[256];
    snprintf(qs, sizeof qs, "status=CURRENTLY%%5FRATED_HELPFUL&&decidedBy=CoreModel&"
                            "changedSince=1700000000000&limit=25&cursor=%s", cur);
    ASSERT_OK(ns__list_query_parse(qs, &q, &err));
  }
  ASSERT_STREQ(q.status, "CURRENTLY_RATED_HELPFUL");
  ASSERT_STREQ(q.decided_by, "CoreModel");
  ASSERT_EQ(q.changed_since, 1700000000000LL);
  ASSERT_EQ(q.limit, 25);
  ASSERT_EQ(q.after, big);
  /* decidedBy also as the TSV files write it, "Name (vX.Y)" */
  ASSERT_OK(ns__list_query_parse("decidedBy=ExpansionModel%20(v1.1)", &q, &err));
  ASSERT_STREQ(q.decided_by, "ExpansionModel");
  ASSERT_OK(ns__list_query_parse("decidedBy=MetaInitialNMR+(v1.0)", &q, &err));
  ASSERT_STREQ(q.decided_by, "MetaInitialNMR");
  /* the cap */
  ASSERT_OK(ns__list_query_parse("limit=1000000", &q, &err));
  ASSERT_EQ(q.limit, NS_LIST_MAX);
  /* every bad form: 400 with a reason */
  {
    static const char *const bad[] = {
        "limit=0", "limit=-1", "limit=1x", "limit=", "limit", "status=HELPFUL",
        "status=currently_rated_helpful", "decidedBy=coremodel", "decidedBy=CoreModel%20(v1.0)",
        "changedSince=-5",
        "changedSince=1e3", "changedSince=99999999999999999999", "cursor=abc", "cursor=n1",
        "cursor=n10", "cursor=n1G", "cursor=n1ABC", "cursor=n11234567890abcdef0",
        "cursor=n18000000000000000", "limit=5&limit=5", "Status=NEEDS_MORE_RATINGS",
        "status=%zz", "status=%4", "x=1", "status=NEEDS_MORE_RATINGS%00"};
    for (size_t i = 0; i < NS_ARRAY_LEN(bad); i++) {
      err = NULL;
      if (ns__list_query_parse(bad[i], &q, &err) != -1 || !err || !*err)
        NS__FAIL("'%s' was accepted", bad[i]);
    }
  }
}

static void route(int method, const char *path, const char *query, ns__route_decision *d) {
  ns__http_req r;
  memset(&r, 0, sizeof r);
  r.method = method;
  snprintf(r.path, sizeof r.path, "%s", path);
  snprintf(r.query, sizeof r.query, "%s", query);
  r.content_length = UINT64_MAX;
  strcpy(r.content_type, "application/x-ndjson");
  ns__server_route(&r, NULL, 1 << 20, d);
}

TEST(read_routes_v1) {
  ns__route_decision d;
  route(NS_HTTP_GET, "/", "", &d);
  ASSERT_EQ(d.route, NS_ROUTE_INDEX);
  ASSERT_EQ(d.status, 0);
  route(NS_HTTP_GET, "/v1/notes", "status=NEEDS_MORE_RATINGS&limit=3", &d);
  ASSERT_EQ(d.route, NS_ROUTE_NOTES);
  ASSERT_EQ(d.status, 0);
  ASSERT_EQ(d.list.limit, 3);
  ASSERT_STREQ(d.list.status, "NEEDS_MORE_RATINGS");
  route(NS_HTTP_HEAD, "/v1/notes", "", &d);
  ASSERT_EQ(d.route, NS_ROUTE_NOTES);
  route(NS_HTTP_GET, "/v1/notes", "limit=0", &d);
  ASSERT_EQ(d.status, 400);
  ASSERT(d.error != NULL);
  route(NS_HTTP_POST, "/v1/notes", "", &d);     /* the same path ingests */
  ASSERT_EQ(d.route, NS_ROUTE_INGEST_NOTES);
  ASSERT_EQ(d.status, 0);
  route(NS_HTTP_GET, "/v1/notes/1789012345678901234/explain", "", &d);
  ASSERT_EQ(d.route, NS_ROUTE_NOTE_EXPLAIN);
  ASSERT_EQ(d.note_id, 1789012345678901234LL);
  route(NS_HTTP_GET, "/v1/notes/42", "", &d);
  ASSERT_EQ(d.route, NS_ROUTE_NOTE);
  ASSERT_EQ(d.note_id, 42);
  route(NS_HTTP_GET, "/v1/notes/42/other", "", &d);
  ASSERT_EQ(d.status, 404);
  route(NS_HTTP_GET, "/v1/notes/4x2/explain", "", &d);
  ASSERT_EQ(d.status, 400);
  route(NS_HTTP_GET, "/v1/notes/123456789012345678901234567/explain", "", &d);
  ASSERT_EQ(d.status, 400);
  route(NS_HTTP_POST, "/v1/notes/42/explain", "", &d);
  ASSERT_EQ(d.status, 405);
  /* the index names what it links */
  {
    json_t *j = json_loads(ns__read_index(), 0, NULL);
    ASSERT(j != NULL);
    ASSERT(json_array_size(json_object_get(j, "links")) >= 10);
    json_decref(j);
  }
}
