/*
** tests/test_params.c -- the run params JSON (engine/params.c), the trust
** seeds file read by the caller, the one "score the DB" path
** (engine/score_db.c) and the dashboards reading the run's thresholds back.
*/
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <errno.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sqlite3.h>

#include "../dash/dash.h"
#include "../engine/pipeline.h"
#include "../engine/score_db.h"
#include "../store/store.h"
#include "../store/query.h"
#include "../tools/gen/gen.h"

/* Every field of ns_params, each set away from its default. */
static void odd_params(ns_params *p) {
  ns_params_default(p);
  p->now_ms = 1700000000123;
  p->seed = 42;
  p->k = 2;
  p->min_ratings_note = 6;
  p->min_ratings_rater = 11;
  p->crh_threshold = 0.33;
  p->crnh_threshold = -0.07;
  p->crnh_factor_mult = -0.9;
  p->nm_crnh_threshold = -0.2;
  p->factor_threshold = 0.45;
  p->inertia_delta = 0.02;
  p->min_agree_ratio = 0.7;
  p->min_mean_note_score = 0.06;
  p->min_crh_vs_crnh = 0.1;
  p->firm_reject_threshold = NAN;
  p->min_minority_net_helpful = 3;
  p->min_minority_net_ratio = 0.1;
  p->trust = 0;
  p->pseudoraters = 0;
  p->guardrails = 0;
  p->tag_share_test = 0;
  p->profile = NS_PROFILE_REFERENCE;
  p->trust_alpha = 0.8;
  p->threads = 3;
  p->progress = 1;
}

static void assert_same(const ns_params *a, const ns_params *b) {
  ASSERT_EQ(a->now_ms, b->now_ms);
  ASSERT_EQ(a->seed, b->seed);
  ASSERT_EQ(a->k, b->k);
  ASSERT_EQ(a->min_ratings_note, b->min_ratings_note);
  ASSERT_EQ(a->min_ratings_rater, b->min_ratings_rater);
  /* exact: the JSON keeps every bit of a double */
  ASSERT(a->crh_threshold == b->crh_threshold);
  ASSERT(a->crnh_threshold == b->crnh_threshold);
  ASSERT(a->crnh_factor_mult == b->crnh_factor_mult);
  ASSERT(a->nm_crnh_threshold == b->nm_crnh_threshold);
  ASSERT(a->factor_threshold == b->factor_threshold);
  ASSERT(a->inertia_delta == b->inertia_delta);
  ASSERT(a->min_agree_ratio == b->min_agree_ratio);
  ASSERT(a->min_mean_note_score == b->min_mean_note_score);
  ASSERT(a->min_crh_vs_crnh == b->min_crh_vs_crnh);
  ASSERT(a->firm_reject_threshold == b->firm_reject_threshold ||
         (isnan(a->firm_reject_threshold) && isnan(b->firm_reject_threshold)));
  ASSERT_EQ(a->min_minority_net_helpful, b->min_minority_net_helpful);
  ASSERT(a->min_minority_net_ratio == b->min_minority_net_ratio);
  ASSERT_EQ(a->trust, b->trust);
  ASSERT_EQ(a->pseudoraters, b->pseudoraters);
  ASSERT_EQ(a->guardrails, b->guardrails);
  ASSERT_EQ(a->tag_share_test, b->tag_share_test);
  ASSERT_EQ(a->profile, b->profile);
  ASSERT_EQ(a->seeds == NULL, b->seeds == NULL);
  ASSERT_EQ(a->n_seeds, b->n_seeds);
  for (size_t i = 0; i < a->n_seeds; i++) ASSERT_STREQ(a->seeds[i], b->seeds[i]);
  ASSERT(a->trust_alpha == b->trust_alpha);
  ASSERT_EQ(a->threads, b->threads);
  ASSERT_EQ(a->progress, b->progress);
}

TEST(params_json_roundtrip_every_field) {
  static const char *const ids[] = {"AAAA", "B\"q\\b", "C"};
  ns_params a, b;
  json_t *o;
  char *js;
  odd_params(&a);
  a.seeds = ids;
  a.n_seeds = 3;
  js = ns_params_to_json(&a, "score", "/tmp/x.db");
  ASSERT(js != NULL);
  /* a readable object: version, source, db and one key per field */
  o = json_loads(js, 0, NULL);
  ASSERT(o != NULL);
  ASSERT_STREQ(json_string_value(json_object_get(o, "version")), NS_VERSION);
  ASSERT_STREQ(json_string_value(json_object_get(o, "source")), "score");
  ASSERT_STREQ(json_string_value(json_object_get(o, "db")), "/tmp/x.db");
  ASSERT(json_is_null(json_object_get(o, "firmRejectThreshold")));
  ASSERT_EQ(json_array_size(json_object_get(o, "seeds")), 3);
  /* 3 + the 26 fields of ns_params (all but "owned") */
  ASSERT_EQ(json_object_size(o), 29);
  json_decref(o);
  /* shortest digits: 0.33, not 0.33000000000000002 */
  ASSERT(strstr(js, "\"crhThreshold\":0.33,") != NULL);
  ASSERT(strstr(js, "\"nowMs\":1700000000123,") != NULL);
  ASSERT_OK(ns_params_from_json(js, &b, NULL, 0));
  assert_same(&a, &b);
  ns_params_release(&b);
  ASSERT(b.seeds == NULL && b.owned == NULL);

  /* defaults survive too (firmRejectThreshold 0.3, seeds null) */
  ns_params_default(&a);
  free(js);
  js = ns_params_to_json(&a, NULL, NULL);
  ASSERT(strstr(js, "\"source\"") == NULL && strstr(js, "\"db\"") == NULL);
  ASSERT(strstr(js, "\"firmRejectThreshold\":0.3,") != NULL);
  ASSERT(strstr(js, "\"seeds\":null") != NULL);
  ASSERT_OK(ns_params_from_json(js, &b, NULL, 0));
  assert_same(&a, &b);
  free(js);

  /* a seed past 2^63 (jansson integers are signed) */
  a.seed = UINT64_MAX;
  js = ns_params_to_json(&a, "serve", NULL);
  ASSERT_OK(ns_params_from_json(js, &b, NULL, 0));
  ASSERT(b.seed == UINT64_MAX);
  free(js);
}

TEST(params_json_old_runs_and_errors) {
  ns_params p, d;
  char msg[200];
  ns_params_default(&d);
  /* `score --db` of notescore 0.1.0 */
  ASSERT_OK(ns_params_from_json("{\"now_ms\":1767225536847,\"seed\":9,\"k\":1,\"trust\":0,"
                                "\"tag_share_test\":0,\"version\":\"0.1.0\"}",
                                &p, NULL, 0));
  ASSERT_EQ(p.now_ms, 1767225536847LL);
  ASSERT_EQ(p.seed, 9);
  ASSERT_EQ(p.trust, 0);
  ASSERT_EQ(p.tag_share_test, 0);
  ASSERT(p.crh_threshold == d.crh_threshold);
  ASSERT(p.firm_reject_threshold == d.firm_reject_threshold);
  ASSERT(p.seeds == NULL);
  /* `serve` of 0.1.0, and a run row without params */
  ASSERT_OK(ns_params_from_json("{\"source\":\"serve\",\"now_ms\":5,\"seed\":0,\"k\":1,"
                                "\"trust\":1,\"tag_share_test\":1}", &p, NULL, 0));
  ASSERT_EQ(p.now_ms, 5);
  ASSERT_OK(ns_params_from_json(NULL, &p, NULL, 0));
  ASSERT(p.crh_threshold == 0.40 && p.min_ratings_note == 5);
  /* bad ones say what is wrong */
  ASSERT_ERR(ns_params_from_json("[1]", &p, msg, sizeof msg), NS_EPARSE);
  ASSERT(strstr(msg, "not a JSON object") != NULL);
  ASSERT_ERR(ns_params_from_json("{\"crhThreshold\":\"high\"}", &p, msg, sizeof msg), NS_EPARSE);
  ASSERT_STREQ(msg, "run params: \"crhThreshold\": expected a number or null");
  ASSERT_ERR(ns_params_from_json("{\"k\":1.5}", &p, msg, sizeof msg), NS_EPARSE);
  ASSERT_ERR(ns_params_from_json("{\"seeds\":[1]}", &p, msg, sizeof msg), NS_EPARSE);
  ASSERT_ERR(ns_params_from_json("{\"k\":", &p, msg, sizeof msg), NS_EPARSE);
}

TEST(params_seeds_file) {
  const char *dir = ns_test_tmpdir();
  char path[512], msg[600];
  FILE *f;
  ns_params p;
  ns_params_default(&p);
  snprintf(path, sizeof path, "%s/seeds.txt", dir);
  f = fopen(path, "w");
  fputs("# operator seeds\n\nAAAA\r\nBBBB  \t\n#CCCC\nDDDD", f);
  fclose(f);
  ASSERT_OK(ns_params_load_seeds(&p, path, msg, sizeof msg));
  ASSERT_EQ(p.n_seeds, 3);
  ASSERT_STREQ(p.seeds[0], "AAAA");
  ASSERT_STREQ(p.seeds[1], "BBBB");
  ASSERT_STREQ(p.seeds[2], "DDDD");
  ns_params_release(&p);
  ASSERT(p.seeds == NULL && p.n_seeds == 0);

  /* an empty file is an empty list (no seed), not the default rule */
  f = fopen(path, "w");
  fputs("# nobody\n", f);
  fclose(f);
  ASSERT_OK(ns_params_load_seeds(&p, path, msg, sizeof msg));
  ASSERT(p.seeds != NULL);
  ASSERT_EQ(p.n_seeds, 0);
  ns_params_release(&p);

  /* a bad line names file and line */
  f = fopen(path, "w");
  fputs("AAAA\n# two ids on one line below\nBBBB CCCC\n", f);
  fclose(f);
  ASSERT_ERR(ns_params_load_seeds(&p, path, msg, sizeof msg), NS_EPARSE);
  {
    char want[600];
    snprintf(want, sizeof want, "%s:3: a space inside the participant id (one id a line)", path);
    ASSERT_STREQ(msg, want);
  }
  ASSERT(p.seeds == NULL);
  f = fopen(path, "w");
  for (int i = 0; i < NS_SEED_ID_MAX + 1; i++) fputc('a', f);
  fputc('\n', f);
  fclose(f);
  ASSERT_ERR(ns_params_load_seeds(&p, path, msg, sizeof msg), NS_EPARSE);
  ASSERT(strstr(msg, ":1: a participant id of 257 bytes") != NULL);
  snprintf(path, sizeof path, "%s/none.txt", dir);
  ASSERT_ERR(ns_params_load_seeds(&p, path, msg, sizeof msg), -ENOENT);
  ASSERT(strstr(msg, "cannot open seed file") != NULL);
}

/* A DB of generated data (docs/gen.md), imported. */
static void make_db(char *db, size_t n) {
  const char *dir = ns_test_tmpdir();
  char data[512];
  ns_gen_opts o;
  ns_store *s = NULL;
  snprintf(data, sizeof data, "%s/data", dir);
  snprintf(db, n, "%s/t.db", dir);
  ns_gen_default_opts(&o);
  o.raters = 200;
  o.notes = 120;
  o.ratings = 5000;
  o.seed = 11;
  ASSERT_OK(ns_gen_run(&o, data, NULL));
  ASSERT_OK(ns_store_open(db, NS_STORE_CREATE, &s));
  /* the public files only (gen also writes truth_*.tsv) */
  for (int i = 0; i < 4; i++) {
    static const char *const f[4] = {"notes", "ratings", "noteStatusHistory", "userEnrollment"};
    char path[600];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s-00000.tsv", data, f[i]);
    if (stat(path, &sb) == 0) ASSERT_OK(ns_store_import(s, path, NULL, NULL));
  }
  ns_store_close(s);
}

/* `score --db` and `serve` take the same path: a run with a threshold set
** through the API records it, the dashboards show it. */
TEST(score_db_records_params_dashboards_read_them) {
  char db[512], pj_want[64];
  ns_params p;
  ns_score_db_opts so = {"score", NS_SCORE_NOW_DATA, 1, NULL, 1};
  ns_score_db_result r;
  struct sqlite3 *c = NULL;
  char *pj = NULL, *html = NULL, msg[256];
  size_t html_len = 0;
  json_t *ex = NULL, *rules;
  ns_reader *rd = NULL;
  FILE *mem;
  int64_t note_id = 0;
  size_t crh_rules = 0;

  make_db(db, sizeof db);
  ns_params_default(&p);
  p.crh_threshold = -3.25;   /* every scored note clears GeneralCRH */
  p.min_ratings_note = 3;
  p.threads = 1;
  ASSERT_OK(ns_score_db(db, &p, &so, &r));
  ASSERT(r.run_id > 0);
  ASSERT(r.ds != NULL && r.sc != NULL);
  ASSERT_EQ(p.now_ms, ns_pipeline_default_now(r.ds));
  for (size_t i = 0; i < r.sc->n_notes; i++)
    if (!note_id && (r.sc->notes[i].core_rules & (1u << NS_RULE_GENERAL_CRH)))
      note_id = r.sc->notes[i].note_id;
  ASSERT(note_id != 0);
  {
    /* the seed list reaches trust propagation: NULL = the default rule (some
    ** trust), an empty list = no seed (no propagation: all NaN), one id = a
    ** finite_cent propagation (the pipeline reads no file) */
    static const char *const none[1] = {NULL};
    ns_params q = p;
    ns_scores *a = NULL, *b = NULL;
    size_t finite_a = 0, finite_b = 0, finite_c = 0; /* finite_c: finite trusts */
    q.seeds = none;
    q.n_seeds = 0;
    ASSERT_OK(ns_pipeline_run(r.ds, &q, NULL, &a, NULL));
    for (size_t i = 0; i < r.sc->n_raters; i++) finite_a += !isnan(r.sc->raters[i].trust);
    for (size_t i = 0; i < a->n_raters; i++) finite_b += !isnan(a->raters[i].trust);
    ASSERT(finite_a > 0);
    ASSERT_EQ(finite_b, 0);
    {
      /* ids the run does not know are ignored: no seed again; one it
      ** knows propagates */
      static const char *const unknown[1] = {"nobody-rated-anything"};
      const char *one[1];
      q.seeds = unknown;
      q.n_seeds = 1;
      ASSERT_OK(ns_pipeline_run(r.ds, &q, NULL, &b, NULL));
      for (size_t i = 0; i < b->n_raters; i++) finite_c += !isnan(b->raters[i].trust);
      ASSERT_EQ(finite_c, 0);
      ns_scores_free(b);
      one[0] = ns_strtab_str(r.ds->participants, r.ds->r_rater[0]);
      q.seeds = one;
      ASSERT_OK(ns_pipeline_run(r.ds, &q, NULL, &b, NULL));
      for (size_t i = 0; i < b->n_raters; i++) finite_c += !isnan(b->raters[i].trust);
      ASSERT(finite_c > 0);
    }
    ns_scores_free(a);
    ns_scores_free(b);
  }
  ns_scores_free(r.sc);
  ns_dataset_free(r.ds);

  /* the run row: version, source and the threshold */
  ASSERT_OK(ns_store_sql_open(db, NS_STORE_READONLY, 0, &c, msg, sizeof msg));
  ASSERT_OK(ns_store_run_params(c, r.run_id, &pj));
  ASSERT(pj != NULL);
  ASSERT(strstr(pj, "\"version\":\"" NS_VERSION "\"") != NULL);
  ASSERT(strstr(pj, "\"source\":\"score\"") != NULL);
  snprintf(pj_want, sizeof pj_want, "\"crhThreshold\":-3.25,");
  ASSERT(strstr(pj, pj_want) != NULL);
  free(pj);
  ASSERT_OK(ns_store_run_params(c, 999, &pj));
  ASSERT(pj == NULL);

  /* explain states the rule with the run's numbers */
  ASSERT_OK(ns_reader_open(db, &rd));
  ASSERT_OK(ns_dash_explain(rd, note_id, &ex, msg, sizeof msg));
  rules = json_object_get(ex, "rules");
  for (size_t i = 0; i < json_array_size(rules); i++) {
    json_t *ru = json_array_get(rules, i);
    if (strcmp(json_string_value(json_object_get(ru, "name")), "GeneralCRH") != 0) continue;
    crh_rules++;
    ASSERT_STREQ(json_string_value(json_object_get(ru, "threshold")),
                 "intercept >= -3.25 with >= 3 ratings, not a NOT_MISLEADING note");
    ASSERT(json_real_value(json_object_get(ru, "limit")) == -3.25);
  }
  ASSERT_EQ(crh_rules, 1);
  json_decref(ex);

  /* the report draws the CRH line there */
  mem = open_memstream(&html, &html_len);
  ASSERT_OK(ns_report_html(rd, mem, NULL));
  fclose(mem);
  ASSERT(strstr(html, "CRH at intercept -3.25 (for |factor|") != NULL);
  free(html);
  ns_reader_close(rd);
  ns_store_sql_close(c);

  /* a second run the serve way: clock "now", source serve, cancel -> abandoned */
  {
    atomic_int cancel = 1;
    ns_score_db_opts sv = {"serve", NS_SCORE_NOW_CLOCK, 0, &cancel, 0};
    int64_t before = ns_now_ms();
    ns_params_default(&p);
    ASSERT_ERR(ns_score_db(db, &p, &sv, &r), NS_ECANCELED);
    ASSERT(p.now_ms >= before);
    ASSERT(r.ds == NULL && r.sc == NULL);
    ASSERT_OK(ns_store_sql_open(db, NS_STORE_READONLY, 0, &c, msg, sizeof msg));
    ASSERT_OK(ns_store_run_params(c, r.run_id, &pj));
    ASSERT(strstr(pj, "\"source\":\"serve\"") != NULL);
    free(pj);
    ns_store_sql_close(c);
    ASSERT_EQ(ns_test_sh("test \"$(sqlite3 '%s' \"SELECT status FROM runs WHERE run_id = %lld\")\""
                         " = abandoned", db, (long long)r.run_id), 0);
  }
}

TEST(score_db_errors) {
  const char *dir = ns_test_tmpdir();
  char db[512];
  ns_params p;
  ns_score_db_opts so = {"score", NS_SCORE_NOW_DATA, 1, NULL, 1};
  ns_score_db_result r;
  ns_store *s = NULL;
  ns_params_default(&p);
  snprintf(db, sizeof db, "%s/absent.db", dir);
  ASSERT_ERR(ns_score_db(db, &p, &so, &r), NS_ENOTFOUND);
  ASSERT(strstr(r.msg, "absent.db: ") != NULL);
  /* an empty DB: no run row with require_data */
  snprintf(db, sizeof db, "%s/empty.db", dir);
  ASSERT_OK(ns_store_open(db, NS_STORE_CREATE, &s));
  ns_store_close(s);
  ASSERT_ERR(ns_score_db(db, &p, &so, &r), NS_ENODATA);
  ASSERT(strstr(r.msg, "no notes in the database") != NULL);
  ASSERT_EQ(r.run_id, 0);
  /* serve's way: the run is attempted and marked failed */
  so.require_data = 0;
  so.source = "serve";
  ASSERT_ERR(ns_score_db(db, &p, &so, &r), NS_ENODATA);
  ASSERT(r.run_id > 0);
  ASSERT_EQ(ns_test_sh("test \"$(sqlite3 '%s' \"SELECT status FROM runs\")\" = failed", db), 0);
}

TEST(store_check_file) {
  const char *dir = ns_test_tmpdir();
  char path[512], msg[700];
  FILE *f;
  ns_store *s = NULL;
  snprintf(path, sizeof path, "%s/none.db", dir);
  ASSERT_OK(ns_store_check_file(path, 0, msg, sizeof msg));
  ASSERT_ERR(ns_store_check_file(path, 1, msg, sizeof msg), NS_ENOTFOUND);
  ASSERT(strstr(msg, "cannot open database: No such file") != NULL);
  ASSERT_ERR(ns_store_check_file(dir, 1, msg, sizeof msg), NS_EINVAL);
  ASSERT(strstr(msg, "is a directory") != NULL);
  snprintf(path, sizeof path, "%s/text.db", dir);
  f = fopen(path, "w");
  fputs("hello, not a database at all\n", f);
  fclose(f);
  ASSERT_ERR(ns_store_check_file(path, 1, msg, sizeof msg), NS_ESCHEMA);
  ASSERT(strstr(msg, "not a notescore database") != NULL);
  snprintf(path, sizeof path, "%s/new.db", dir);
  ASSERT_OK(ns_store_open(path, NS_STORE_CREATE, &s));
  ns_store_close(s);
  ASSERT_OK(ns_store_check_file(path, 1, msg, sizeof msg));
  ASSERT_EQ(ns_test_sh("sqlite3 '%s' 'PRAGMA user_version = 99'", path), 0);
  ASSERT_ERR(ns_store_check_file(path, 1, msg, sizeof msg), NS_ESCHEMA);
  ASSERT(strstr(msg, "schema version 99 is newer") != NULL);
}

/* Read-only connections (a reader's, the CLI's check) leave the WAL of a DB
** alone, the last one to close included: only writers checkpoint it away. */
TEST(store_readonly_close_keeps_wal) {
  const char *dir = ns_test_tmpdir();
  char path[512], wal[520], msg[600];
  struct stat sb;
  ns_store *s = NULL;
  struct sqlite3 *c = NULL;
  snprintf(path, sizeof path, "%s/w.db", dir);
  snprintf(wal, sizeof wal, "%s-wal", path);
  ASSERT_OK(ns_store_open(path, NS_STORE_CREATE, &s));
  ns_store_close(s);   /* the last close: checkpoint, WAL removed */
  ASSERT(stat(wal, &sb) != 0);
  ASSERT_OK(ns_store_open(path, 0, &s));   /* writes (names): a WAL again */
  ASSERT_EQ(stat(wal, &sb), 0);
  ASSERT_OK(ns_store_sql_open(path, NS_STORE_READONLY, 0, &c, msg, sizeof msg));
  ASSERT_EQ(sqlite3_exec(c, "SELECT count(*) FROM runs", NULL, NULL, NULL), SQLITE_OK);
  ns_store_close(s);   /* not the last connection: the WAL stays */
  ASSERT_EQ(stat(wal, &sb), 0);
  ASSERT_OK(ns_store_check_file(path, 1, msg, sizeof msg));
  ASSERT_EQ(stat(wal, &sb), 0);
  ns_store_sql_close(c);  /* the last one, read-only */
  ASSERT_EQ(stat(wal, &sb), 0);     /* ... and did not checkpoint on close */
}

/* store/ owns the database: tools/ makes no SQLite call of its own (it goes
** through ns_store_* and dash/), and only store/db.c opens a connection. */
TEST(store_owns_the_database) {
  ASSERT_EQ(ns_test_sh("! grep -rn 'sqlite3_[a-z_0-9]*(' tools/ dash/ server/ --include='*.c' --include='*.h'"),
            0);
  ASSERT_EQ(ns_test_sh("test \"$(grep -rln 'sqlite3_open' base graph factorization store guard"
                       " engine dash server tools --include='*.c')\" = store/db.c"),
            0);
}
