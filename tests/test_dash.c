/*
** tests/test_dash.c -- the dashboard contract (schema v2 views, status
** change log), ns_dash_explain and ns_report_html, on a hand-built DB whose
** every expected value is known.
**
** The DB: four raters a, b, c, d; notes 101, 102, 103 (and 104 from run 2
** on).  Run 1 publishes 101 CRH, 102 CRNH, 103 NMR (no model).  Run 2
** publishes 101 CRH, 102 NMR, 103 NMR, 104 CRH.  A failed run 3 sits
** between run 2 and the published run 4 (same statuses as run 2 except
** 101 -> NMR).
*/
#include "harness.h"

#include <sqlite3.h>

#include <jansson.h>

#include "../base/dataset.h"
#include "../base/rules.h"
#include "../dash/dash.h"
#include "../store/query.h"
#include "../store/store.h"

/* ---- fixture ------------------------------------------------------------ */

typedef struct note_spec {
  int64_t id;
  int status;          /* final status */
  double icpt, fac;    /* NAN = not scored */
  uint32_t core_rules;
} note_spec;

static void note_init(ns_note_score *n, const note_spec *s) {
  ns_note_score_init(n, s->id);  /* the other scorers: not scored */
  n->created_ms = 1000 + s->id;
  n->classification = NS_CLASS_MISLEADING;
  n->num_ratings = 4;
  n->num_final_round_ratings = 3;
  n->intercept = s->icpt;
  n->factor = s->fac;
  n->intercept_r1 = s->icpt;
  n->factor_r1 = s->fac;
  n->intercept_min = isnan(s->icpt) ? NAN : s->icpt - 0.1;
  n->intercept_max = isnan(s->icpt) ? NAN : s->icpt + 0.1;
  n->intercept_no_high_vol = n->intercept_no_correlated = NAN;
  n->core_status = (int8_t)s->status;
  n->core_rules = s->core_rules;
  n->final_status = (int8_t)s->status;
  n->decided_by = NS_RULE_CORE_MODEL;
  n->meta_rules = (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_CORE_MODEL);
  n->first_tag = n->second_tag = -1;
  n->provisional_status = (int8_t)s->status;
}

/* Publishes one run with the given notes and raters a (factor -0.5),
** b (+0.3), c (not in round 2: NaN factor).  Returns the run id. */
static int64_t publish(ns_store *s, ns_dataset *ds, const note_spec *spec, size_t n) {
  ns_note_score notes[8];
  ns_rater_score raters[3];
  const double fac[3] = {-0.5, 0.3, NAN};
  ns_scores sc;
  int64_t run_id;
  memset(&sc, 0, sizeof sc);
  for (size_t i = 0; i < n; i++) note_init(&notes[i], &spec[i]);
  for (int i = 0; i < 3; i++) {
    ns_rater_score *r = &raters[i];
    memset(r, 0, sizeof *r);
    r->participant = i; /* a, b, c interned in this order */
    r->intercept = isnan(fac[i]) ? NAN : 0.1 * (i + 1);
    r->factor = fac[i];
    r->intercept_r1 = r->factor_r1 = NAN;
    r->crh_crnh_ratio_diff = r->mean_note_score = NAN;
    r->agree_ratio = 0.75;
    r->agree_ratio_harassment = NAN;
    r->above_threshold = 1;
    r->num_ratings = 3 + i;
    r->trust = 0.25 * (i + 1);
  }
  sc.n_notes = n;
  sc.notes = notes;
  sc.n_raters = 3;
  sc.raters = raters;
  sc.n_ratings_in = 7;
  sc.now_ms = 5000;
  ASSERT_OK(ns_store_run_begin(s, "{}", &run_id));
  ASSERT_OK(ns_store_run_publish(s, run_id, &sc, ds, NULL));
  return run_id;
}

static const note_spec run1[] = {
    {101, NS_STATUS_CRH, 0.45, 0.1, (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_GENERAL_CRH)},
    {102, NS_STATUS_CRNH, -0.3, -0.2, (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_GENERAL_CRNH)},
    {103, NS_STATUS_NMR, NAN, NAN, 1u << NS_RULE_INITIAL_NMR},
};
static const note_spec run2[] = {
    {101, NS_STATUS_CRH, 0.46, 0.1, (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_GENERAL_CRH)},
    {102, NS_STATUS_NMR, 0.1, -0.2, 1u << NS_RULE_INITIAL_NMR},
    {103, NS_STATUS_NMR, NAN, NAN, 1u << NS_RULE_INITIAL_NMR},
    {104, NS_STATUS_CRH, 0.5, -0.05, (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_GENERAL_CRH)},
};
static const note_spec run4[] = {
    {101, NS_STATUS_NMR, 0.38, 0.1, 1u << NS_RULE_INITIAL_NMR},
    {102, NS_STATUS_NMR, 0.1, -0.2, 1u << NS_RULE_INITIAL_NMR},
    {103, NS_STATUS_NMR, NAN, NAN, 1u << NS_RULE_INITIAL_NMR},
    {104, NS_STATUS_CRH, 0.5, -0.05, (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_GENERAL_CRH)},
};

/* Ratings on note 101: a HELPFUL (helpfulClear+helpfulGoodSources),
** b SOMEWHAT (helpfulClear), c NOT_HELPFUL (notHelpfulIncorrect), d HELPFUL
** (helpfulGoodSources; d has no rater score).  Plus one rating on 102. */
static void ingest(ns_store *s) {
  const uint32_t clear = 1u << 2, good = 1u << 4, incorrect = 1u << NS_TAG_NH_INCORRECT;
  ns_ingest_note notes[] = {{101, "a", 1101, 7, NS_CLASS_MISLEADING},
                            {102, "b", 1102, 8, NS_CLASS_MISLEADING},
                            {103, "c", 1103, 9, NS_CLASS_MISLEADING},
                            {104, "a", 1104, 10, NS_CLASS_MISLEADING}};
  ns_ingest_rating r[] = {{101, "a", 2000, NS_LEVEL_HELPFUL, clear | good, 0},
                          {101, "b", 2001, NS_LEVEL_SOMEWHAT_HELPFUL, clear, 0},
                          {101, "c", 2002, NS_LEVEL_NOT_HELPFUL, incorrect, 0},
                          {101, "d", 2003, NS_LEVEL_HELPFUL, good, 0},
                          {102, "a", 2004, NS_LEVEL_NOT_HELPFUL, 0, 0}};
  ASSERT_OK(ns_store_ingest(s, notes, 4, r, 5, NULL, 0));
}

/* A DB with runs 1, 2 published, 3 failed, 4 published.  *path receives
** the file name (static storage). */
static void build_db(int runs, const char **path) {
  static char p[512];
  ns_store *s = NULL;
  ns_dataset *ds = NULL;
  int32_t idx;
  int64_t r3;
  snprintf(p, sizeof p, "%s/dash.db", ns_test_tmpdir());
  ASSERT_OK(ns_store_open(p, NS_STORE_CREATE, &s));
  ingest(s);
  ASSERT_OK(ns_dataset_new(&ds));
  ASSERT_OK(ns_strtab_intern(ds->participants, "a", 1, &idx));
  ASSERT_OK(ns_strtab_intern(ds->participants, "b", 1, &idx));
  ASSERT_OK(ns_strtab_intern(ds->participants, "c", 1, &idx));
  if (runs >= 1) ASSERT_EQ(publish(s, ds, run1, 3), 1);
  if (runs >= 2) ASSERT_EQ(publish(s, ds, run2, 4), 2);
  if (runs >= 4) {
    ASSERT_OK(ns_store_run_begin(s, "{}", &r3));
    ASSERT_OK(ns_store_run_fail(s, r3, "failed"));
    ASSERT_EQ(publish(s, ds, run4, 4), 4);
  }
  ns_dataset_free(ds);
  ns_store_close(s);
  *path = p;
}

static sqlite3 *open_ro(const char *path) {
  sqlite3 *db = NULL;
  ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  return db;
}

/* One integer from a query. */
static long long q1(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  long long v;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    NS__FAIL("%s: %s", sql, sqlite3_errmsg(db));
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* Comma-joined column names of a view. */
static void columns(sqlite3 *db, const char *view, char *buf, size_t n) {
  char sql[128];
  sqlite3_stmt *st = NULL;
  size_t k = 0;
  snprintf(sql, sizeof sql, "SELECT * FROM %s", view);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    NS__FAIL("%s: %s", sql, sqlite3_errmsg(db));
  buf[0] = 0;
  for (int i = 0; i < sqlite3_column_count(st); i++)
    k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? "," : "", sqlite3_column_name(st, i));
  sqlite3_finalize(st);
}

/* ---- views -------------------------------------------------------------- */

TEST(dash_view_columns) {
  const char *path;
  char cols[8192];
  sqlite3 *db;
  build_db(0, &path);
  db = open_ro(path);
  ASSERT_EQ(q1(db, "PRAGMA user_version"), NS_STORE_SCHEMA_VERSION);
  /* The contract of docs/dashboards.md: v1 columns first, in order; v6
  ** appends every scorer's columns (7 each, 8 scorers) and the scopes */
  columns(db, "current_note_status", cols, sizeof cols);
  {
    const char *want = "note_id,run_id,status,decided_by,core_status,intercept,factor,first_tag,"
                       "second_tag,num_ratings,classification,created_ms,scored_at_ms,"
                       "intercept_min,intercept_max,num_final_round_ratings,core_rules,meta_rules,"
                       "active_filter_tags,intercept_r1,factor_r1,provisional_status,"
                       "low_diligence_intercept,core_with_topics_intercept,"
                       "core_with_topics_factor,core_with_topics_status,core_with_topics_rules,"
                       "core_with_topics_n_final_round,core_with_topics_intercept_no_high_vol,"
                       "core_with_topics_intercept_no_correlated,expansion_intercept,";
    ASSERT(strncmp(cols, want, strlen(want)) == 0);
  }
  ASSERT(strstr(cols, ",gaussian_core_with_topics_intercept_no_correlated,modeling_group,"
                      "modeling_multi_group,topic,topic_confident,intercept_pop,"
                      "core_with_topics_intercept_min,core_with_topics_intercept_max") != NULL);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM pragma_table_info('current_note_status')"), 23 + 56 + 7);
  columns(db, "note_scorers", cols, sizeof cols);
  ASSERT_STREQ(cols, "note_id,run_id,scorer,intercept,factor,status,rules,rule_names,"
                     "n_final_round,intercept_no_high_vol,intercept_no_correlated,decided");
  columns(db, "status_changes", cols, sizeof cols);
  ASSERT_STREQ(cols, "note_id,run_id,changed_at_ms,old_status,new_status,decided_by,"
                     "prev_run_id,old_intercept,new_intercept");
  columns(db, "run_summary", cols, sizeof cols);
  ASSERT_STREQ(cols, "run_id,status,started_ms,finished_ms,wall_seconds,seconds,version,params,"
                     "n_ratings,n_notes,n_raters,n_crh,n_crnh,n_nmr,is_current,now_ms,"
                     "n_ratings_round1,n_ratings_round2,n_raters_round1,n_raters_round2,"
                     "n_notes_round1,n_notes_round2,mf_passes,stage_seconds,global_intercept,"
                     "prev_run_id");
  columns(db, "rater_reputation", cols, sizeof cols);
  ASSERT_STREQ(cols, "participant_id,run_id,intercept,factor,agree_ratio,above_threshold,trust,"
                     "num_ratings,notes_crh,notes_crnh,notes_nmr,group_id,enrollment_state,"
                     "modeling_group,rater_id,crh_crnh_ratio_diff,mean_note_score,intercept_r1,"
                     "factor_r1,successful_total,unsuccessful_total,ratings_awaiting,qclique_id");
  columns(db, "note_rules", cols, sizeof cols);
  ASSERT_STREQ(cols, "note_id,run_id,kind,bit,rule");
  columns(db, "note_history", cols, sizeof cols);
  ASSERT_STREQ(cols, "note_id,run_id,scored_at_ms,status,decided_by,intercept,factor,num_ratings");
  /* no run yet: every view is empty */
  ASSERT_EQ(q1(db, "SELECT count(*) FROM current_note_status"), 0);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM status_changes"), 0);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM rater_reputation"), 0);
  sqlite3_close(db);
}

TEST(dash_views_rows) {
  const char *path;
  sqlite3 *db;
  build_db(4, &path);
  db = open_ro(path);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM current_note_status WHERE run_id = 4"), 4);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM current_note_status"), 4);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM current_note_status WHERE intercept_min IS NOT NULL"), 3);
  /* changes: run 1 = 3 new notes; run 2 = 102 CRNH->NMR and 104 new;
  ** run 4 against run 2 (the failed run 3 is skipped) = 101 CRH->NMR */
  ASSERT_EQ(q1(db, "SELECT count(*) FROM status_changes WHERE run_id = 1 AND old_status IS NULL"), 3);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM status_changes WHERE run_id = 2"), 2);
  ASSERT_EQ(q1(db, "SELECT note_id FROM status_changes WHERE run_id = 2 AND "
                   "old_status = 'CURRENTLY_RATED_NOT_HELPFUL' AND new_status = 'NEEDS_MORE_RATINGS'"),
            102);
  ASSERT_EQ(q1(db, "SELECT note_id FROM status_changes WHERE run_id = 2 AND old_status IS NULL"), 104);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM status_changes WHERE run_id = 4"), 1);
  ASSERT_EQ(q1(db, "SELECT note_id FROM status_changes WHERE run_id = 4 AND prev_run_id = 2 AND "
                   "old_status = 'CURRENTLY_RATED_HELPFUL'"),
            101);
  /* run_summary: all four runs, counts, is_current, prev_run_id */
  ASSERT_EQ(q1(db, "SELECT count(*) FROM run_summary"), 4);
  ASSERT_EQ(q1(db, "SELECT run_id FROM run_summary WHERE is_current"), 4);
  ASSERT_EQ(q1(db, "SELECT prev_run_id FROM run_summary WHERE run_id = 4"), 2);
  ASSERT_EQ(q1(db, "SELECT n_crh * 100 + n_crnh * 10 + n_nmr FROM run_summary WHERE run_id = 1"), 111);
  ASSERT_EQ(q1(db, "SELECT n_crh * 100 + n_crnh * 10 + n_nmr FROM run_summary WHERE run_id = 4"), 103);
  ASSERT_EQ(q1(db, "SELECT status = 'failed' FROM run_summary WHERE run_id = 3"), 1);
  /* raters, rules, history */
  ASSERT_EQ(q1(db, "SELECT count(*) FROM rater_reputation"), 3);
  ASSERT_EQ(q1(db, "SELECT num_ratings FROM rater_reputation WHERE participant_id = 'c'"), 5);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_rules WHERE note_id = 104"), 4);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_rules WHERE rule = 'GeneralCRH' AND kind = 'core'"), 1);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_history WHERE note_id = 101"), 3);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_history WHERE note_id = 104"), 2);
  /* the indexes the views rely on exist */
  ASSERT_EQ(q1(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                   " ('note_scores_by_note', 'note_scores_by_status')"), 2);
  sqlite3_close(db);
}

/* A DB published under schema v1 gets its change log on migration. */
TEST(dash_migrate_from_v1) {
  const char *path;
  sqlite3 *db = NULL;
  ns_store *s = NULL;
  build_db(4, &path);
  /* turn it back into a v1 DB: drop everything v2 added, and v6's columns
  ** (every note_scores column after low_diligence_intercept, cid 23) */
  ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP VIEW note_scorers; DROP VIEW current_note_status;"
                             "ALTER TABLE rule_names DROP COLUMN version;", NULL, NULL, NULL),
            SQLITE_OK);
  for (;;) {
    char sql[160];
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('note_scores')"
                                     " WHERE cid > 23 ORDER BY cid DESC LIMIT 1", -1, &st, NULL),
              SQLITE_OK);
    if (sqlite3_step(st) != SQLITE_ROW) {
      sqlite3_finalize(st);
      break;
    }
    snprintf(sql, sizeof sql, "ALTER TABLE note_scores DROP COLUMN %s",
             (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    ASSERT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  }
  ASSERT_EQ(q1(db, "SELECT count(*) FROM pragma_table_info('note_scores')"), 24);
  ASSERT_EQ(sqlite3_exec(db, "DROP TRIGGER runs_publish_changes; DROP TRIGGER note_scores_refresh;"
                             "DROP TABLE note_status_changes;"
                             "DROP INDEX note_scores_by_note; DROP INDEX note_scores_by_status;"
                             "DROP VIEW note_rules; DROP VIEW note_history; DROP VIEW status_changes;"
                             /* v1's own views read none of the later columns */
                             "DROP VIEW rater_reputation;"
                             "ALTER TABLE rater_scores DROP COLUMN qclique_id;"
                             "ALTER TABLE note_scores DROP COLUMN low_diligence_intercept;"
                             "PRAGMA user_version = 1;",
                         NULL, NULL, NULL),
            SQLITE_OK);
  sqlite3_close(db);
  ASSERT_OK(ns_store_open(path, 0, &s));
  ns_store_close(s);
  db = open_ro(path);
  ASSERT_EQ(q1(db, "PRAGMA user_version"), NS_STORE_SCHEMA_VERSION);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM current_note_status"), 4);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM rater_reputation WHERE qclique_id IS NULL"),
            q1(db, "SELECT count(*) FROM rater_reputation"));
  ASSERT_EQ(q1(db, "SELECT count(*) FROM pragma_table_info('rater_scores')"
                   " WHERE name = 'qclique_id'"), 1);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM status_changes"), 3 + 2 + 1);
  ASSERT_EQ(q1(db, "SELECT note_id FROM status_changes WHERE run_id = 4 AND prev_run_id = 2"), 101);
  /* v6: the other scorers' columns are back, NULL in the old rows (the old
  ** runs had Core only); note_scorers shows Core's values */
  ASSERT_EQ(q1(db, "SELECT count(*) FROM pragma_table_info('note_scores')"), 24 + 56 + 7);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_scorers"), 4 * 9);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_scorers WHERE scorer <> 'core' AND"
                   " (status IS NOT NULL OR intercept IS NOT NULL OR rules IS NOT NULL)"), 0);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_scorers WHERE scorer = 'core' AND decided"), 4);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM rule_names WHERE version IS NOT NULL"), NS_RULE_COUNT);
  sqlite3_close(db);
}

/* ---- explain ------------------------------------------------------------ */

static json_t *get(json_t *o, const char *path) {
  char buf[128], *save = NULL;
  snprintf(buf, sizeof buf, "%s", path);
  for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
    o = json_is_array(o) ? json_array_get(o, (size_t)atoi(k)) : json_object_get(o, k);
  if (!o) NS__FAIL("no field %s", path);
  return o;
}
#define JINT(o, p) ((long long)json_integer_value(get((o), (p))))
#define JSTR(o, p) (json_string_value(get((o), (p))) ? json_string_value(get((o), (p))) : "(null)")

TEST(dash_explain_fields) {
  const char *path;
  ns_reader *db;
  json_t *o = NULL;
  char msg[256];
  build_db(4, &path);
  ASSERT_OK(ns_reader_open(path, &db));
  ASSERT_OK(ns_dash_explain(db, 101, &o, msg, sizeof msg));
  ASSERT_STREQ(JSTR(o, "noteId"), "101");
  ASSERT_EQ(JINT(o, "runId"), 4);
  ASSERT_STREQ(JSTR(o, "status"), "NEEDS_MORE_RATINGS");
  ASSERT_STREQ(JSTR(o, "decidedBy"), "CoreModel");
  ASSERT_STREQ(JSTR(o, "classification"), "MISINFORMED_OR_POTENTIALLY_MISLEADING");
  ASSERT_NEAR(json_real_value(get(o, "intercept")), 0.38, 1e-12);
  ASSERT_NEAR(json_real_value(get(o, "interceptMin")), 0.28, 1e-12);
  ASSERT_NEAR(json_real_value(get(o, "interceptMax")), 0.48, 1e-12);
  ASSERT_NEAR(json_real_value(get(o, "factor")), 0.1, 1e-12);
  /* rules: core InitialNMR, then meta InitialNMR and CoreModel */
  ASSERT_EQ(json_array_size(get(o, "rules")), 3);
  ASSERT_STREQ(JSTR(o, "rules.0.name"), "InitialNMR");
  ASSERT_STREQ(JSTR(o, "rules.0.kind"), "core");
  ASSERT_STREQ(JSTR(o, "rules.2.name"), "CoreModel");
  ASSERT_STREQ(JSTR(o, "rules.2.kind"), "meta");
  /* ratings: a neg HELPFUL, b pos SOMEWHAT, c (NaN factor) and d (no
  ** score) on the none side */
  ASSERT_EQ(JINT(o, "ratings.total"), 4);
  ASSERT_EQ(JINT(o, "ratings.bySide.neg.helpful"), 1);
  ASSERT_EQ(JINT(o, "ratings.bySide.neg.total"), 1);
  ASSERT_EQ(JINT(o, "ratings.bySide.pos.somewhatHelpful"), 1);
  ASSERT_EQ(JINT(o, "ratings.bySide.pos.total"), 1);
  ASSERT_EQ(JINT(o, "ratings.bySide.none.notHelpful"), 1);
  ASSERT_EQ(JINT(o, "ratings.bySide.none.helpful"), 1);
  ASSERT_EQ(JINT(o, "ratings.bySide.none.total"), 2);
  ASSERT_EQ(JINT(o, "ratings.byLevel.helpful"), 2);
  ASSERT_EQ(JINT(o, "ratings.byLevel.somewhatHelpful"), 1);
  ASSERT_EQ(JINT(o, "ratings.byLevel.notHelpful"), 1);
  /* tags: helpfulClear 2 and helpfulGoodSources 2 tie; the higher
  ** tie-break rank goes first: Clear (7) before GoodSources (4) */
  ASSERT_EQ(json_array_size(get(o, "topTags")), 3);
  ASSERT_STREQ(JSTR(o, "topTags.0.tag"), "helpfulClear");
  ASSERT_EQ(JINT(o, "topTags.0.count"), 2);
  ASSERT_STREQ(JSTR(o, "topTags.1.tag"), "helpfulGoodSources");
  ASSERT_STREQ(JSTR(o, "topTags.2.tag"), "notHelpfulIncorrect");
  ASSERT_EQ(JINT(o, "topTags.2.count"), 1);
  /* history: runs 1, 2, 4 (3 failed) */
  ASSERT_EQ(json_array_size(get(o, "history")), 3);
  ASSERT_EQ(JINT(o, "history.0.runId"), 1);
  ASSERT_STREQ(JSTR(o, "history.0.status"), "CURRENTLY_RATED_HELPFUL");
  ASSERT_EQ(JINT(o, "history.2.runId"), 4);
  json_decref(o);

  /* a CRH note: GeneralCRH with its 0.40 limit */
  ASSERT_OK(ns_dash_explain(db, 104, &o, msg, sizeof msg));
  ASSERT_STREQ(JSTR(o, "rules.1.name"), "GeneralCRH");
  ASSERT_NEAR(json_real_value(get(o, "rules.1.limit")), 0.40, 1e-12);
  ASSERT_EQ(json_array_size(get(o, "topTags")), 0);
  json_decref(o);

  /* an unknown note */
  ASSERT_ERR(ns_dash_explain(db, 999, &o, msg, sizeof msg), NS_ENOTFOUND);
  ASSERT(o == NULL);
  ASSERT(strstr(msg, "999") != NULL);
  ns_reader_close(db);
}

TEST(dash_explain_no_run) {
  const char *path;
  ns_reader *db;
  json_t *o = NULL;
  char msg[256];
  build_db(0, &path);
  ASSERT_OK(ns_reader_open(path, &db));
  ASSERT_ERR(ns_dash_explain(db, 101, &o, msg, sizeof msg), NS_ENODATA);
  ASSERT(strstr(msg, "no published scoring run") != NULL);
  ns_reader_close(db);
}

/* ---- report ------------------------------------------------------------- */

static size_t count_str(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
  return n;
}

static char *report(const char *path) {
  ns_reader *db = NULL;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ASSERT_OK(ns_reader_open(path, &db));
  ASSERT(f != NULL);
  ASSERT_OK(ns_report_html(db, f, NULL));
  fclose(f);
  ns_reader_close(db);
  return buf;
}

TEST(dash_report_html) {
  const char *path;
  char *html;
  build_db(4, &path);
  html = report(path);
  /* one point per note with intercept and factor in run 4: 101, 102, 104 */
  ASSERT_EQ(count_str(html, "<circle class=\"pt\""), 3);
  ASSERT_EQ(count_str(html, "<g class=\"crh\">"), 1);
  ASSERT(strstr(html, "<!DOCTYPE html>") == html);
  ASSERT(strstr(html, "</html>") != NULL);
  /* self-contained: no URL, no script */
  ASSERT(strstr(html, "http") == NULL);
  ASSERT(strstr(html, "<script") == NULL);
  /* threshold lines, the three runs in the chart, the one change of run 4 */
  ASSERT_EQ(count_str(html, "class=\"thr crh\""), 1);
  ASSERT_EQ(count_str(html, "class=\"thr crnh\""), 1);
  ASSERT_EQ(count_str(html, "<title>run "), 3 * 3);
  ASSERT_EQ(count_str(html, "<tr class=chg>"), 1);
  ASSERT(strstr(html, "id=\"hist-factor\"") != NULL);
  ASSERT(strstr(html, "id=\"hist-trust\"") != NULL);
  free(html);

  /* a DB without runs still gives a valid page */
  build_db(0, &path);
  html = report(path);
  ASSERT(strstr(html, "No published scoring run") != NULL);
  ASSERT_EQ(count_str(html, "class=\"pt\""), 0);
  ASSERT(strstr(html, "</html>") != NULL);
  free(html);
}

/* A note refresh rewrites rows of the current run in place: the run's
** summary counts and its change log must follow (note_scores_refresh
** trigger), in the same transaction. */
TEST(dash_refresh_keeps_views_consistent) {
  const char *path;
  ns_store *s = NULL;
  ns_dataset *ds = NULL;
  ns_note_score notes[2];
  ns_scores sc;
  sqlite3 *db;
  int32_t idx;
  /* 102 NMR -> CRNH (run 2 had it NMR: a change), 105 new (CRH) */
  const note_spec upd[] = {
      {102, NS_STATUS_CRNH, -0.3, -0.2, (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_GENERAL_CRNH)},
      {105, NS_STATUS_CRH, 0.6, 0.0, (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_GENERAL_CRH)}};
  build_db(4, &path);
  ASSERT_OK(ns_store_open(path, 0, &s));
  ASSERT_OK(ns_dataset_new(&ds));
  ASSERT_OK(ns_strtab_intern(ds->participants, "a", 1, &idx));
  memset(&sc, 0, sizeof sc);
  note_init(&notes[0], &upd[0]);
  note_init(&notes[1], &upd[1]);
  sc.n_notes = 2;
  sc.notes = notes;
  ASSERT_OK(ns_store_run_refresh(s, 4, &sc, ds));

  db = open_ro(path);
  /* run 4 was 101 NMR, 102 NMR, 103 NMR, 104 CRH; now 102 CRNH, 105 CRH */
  ASSERT_EQ(q1(db, "SELECT n_notes FROM run_summary WHERE run_id = 4"), 5);
  ASSERT_EQ(q1(db, "SELECT n_crh * 100 + n_crnh * 10 + n_nmr FROM run_summary WHERE run_id = 4"), 212);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM current_note_status"), 5);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM status_changes WHERE run_id = 4"), 3);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM status_changes WHERE run_id = 4 AND note_id = 102"
                   " AND old_status = 'NEEDS_MORE_RATINGS' AND new_status = 'CURRENTLY_RATED_NOT_HELPFUL'"), 1);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM status_changes WHERE run_id = 4 AND note_id = 105"
                   " AND old_status IS NULL"), 1);
  sqlite3_close(db);

  /* refreshing 102 back to its run-2 status removes the change again */
  {
    const note_spec back = {102, NS_STATUS_NMR, 0.1, -0.2, 1u << NS_RULE_INITIAL_NMR};
    note_init(&notes[0], &back);
    sc.n_notes = 1;
    ASSERT_OK(ns_store_run_refresh(s, 4, &sc, ds));
  }
  db = open_ro(path);
  ASSERT_EQ(q1(db, "SELECT n_crh * 100 + n_crnh * 10 + n_nmr FROM run_summary WHERE run_id = 4"), 203);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM status_changes WHERE run_id = 4 AND note_id = 102"), 0);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM status_changes WHERE run_id = 4"), 2);
  /* a full publication is unaffected by the refresh trigger: run 2's log */
  ASSERT_EQ(q1(db, "SELECT count(*) FROM status_changes WHERE run_id = 2"), 2);
  sqlite3_close(db);
  ns_dataset_free(ds);
  ns_store_close(s);
}

/* ---- the read layer (store/query.h) ------------------------------------- */

typedef struct ids {
  int64_t id[16];
  int n;
} ids;

static int collect_note(void *ctx, const ns_q_note *n) {
  ids *s = ctx;
  if (s->n < 16) s->id[s->n++] = n->note_id;
  return 0;
}

static int collect_run(void *ctx, const ns_q_run *r) {
  ids *s = ctx;
  if (s->n < 16) s->id[s->n++] = r->run_id;
  return 0;
}

/* The ids as "a,b,c" for one comparison per case. */
static const char *joined(const ids *s) {
  static char buf[256];
  size_t w = 0;
  buf[0] = '\0';
  for (int i = 0; i < s->n; i++)
    w += (size_t)snprintf(buf + w, sizeof buf - w, "%s%lld", i ? "," : "", (long long)s->id[i]);
  return buf;
}

static const char *notes_where(ns_reader *rd, const ns_q_note_filter *f) {
  ids s = {{0}, 0};
  ASSERT_OK(ns_q_notes(rd, f, collect_note, &s));
  return joined(&s);
}

TEST(dash_query_notes_filters_and_keyset) {
  const char *path;
  sqlite3 *db = NULL;
  ns_reader *rd = NULL;
  ns_q_note n;
  ns_q_note_filter f = {0, NULL, NULL, NS_Q_NULL, 0, 0};
  build_db(4, &path);
  /* distinct publication times, so the change filter has edges to test */
  ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE runs SET finished_ms = run_id * 1000", NULL, NULL, NULL),
            SQLITE_OK);
  sqlite3_close(db);
  ASSERT_OK(ns_reader_open(path, &rd));

  ASSERT_STREQ(notes_where(rd, NULL), "101,102,103,104");
  f.scored_only = 1;   /* 103 has no model */
  ASSERT_STREQ(notes_where(rd, &f), "101,102,104");
  f.scored_only = 0;
  f.status = "NEEDS_MORE_RATINGS";
  ASSERT_STREQ(notes_where(rd, &f), "101,102,103");
  /* keyset: after 101, two at most; then after the last one handed out */
  f.after_note_id = 101;
  f.limit = 2;
  ASSERT_STREQ(notes_where(rd, &f), "102,103");
  f.after_note_id = 103;
  ASSERT_STREQ(notes_where(rd, &f), "");
  f.status = NULL;
  ASSERT_STREQ(notes_where(rd, &f), "104");
  f.after_note_id = 0;
  f.limit = 0;
  f.decided_by = "CoreModel";
  ASSERT_STREQ(notes_where(rd, &f), "101,102,103,104");
  f.decided_by = "GeneralCRH";
  ASSERT_STREQ(notes_where(rd, &f), "");
  f.decided_by = NULL;
  /* the change log: run 4 moved 101 (CRH -> NMR); run 2 moved 102 and
  ** added 104; run 1 added 101..103 */
  f.changed_since = 4000;
  ASSERT_STREQ(notes_where(rd, &f), "101");
  f.changed_since = 4001;
  ASSERT_STREQ(notes_where(rd, &f), "");
  f.changed_since = 2000;
  ASSERT_STREQ(notes_where(rd, &f), "101,102,104");
  f.changed_since = 0;
  ASSERT_STREQ(notes_where(rd, &f), "101,102,103,104");

  /* one note, its borrowed text valid until the next call */
  ASSERT_OK(ns_q_note_get(rd, 104, &n));
  ASSERT_EQ(n.run_id, 4);
  ASSERT_STREQ(n.status, "CURRENTLY_RATED_HELPFUL");
  ASSERT_STREQ(n.decided_by, "CoreModel");
  ASSERT_NEAR(n.intercept, 0.5, 1e-12);
  ASSERT_EQ(n.core_rules, (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_GENERAL_CRH));
  ASSERT_EQ(n.scored_at_ms, 4000);
  ASSERT_EQ(n.created_ms, 1104);   /* from the notes table (ingested) */
  ASSERT(n.first_tag == NULL);     /* SQL NULL */
  ASSERT_OK(ns_q_note_get(rd, 103, &n));
  ASSERT(isnan(n.intercept) && isnan(n.factor));
  ASSERT_ERR(ns_q_note_get(rd, 999, &n), NS_ENOTFOUND);
  ns_reader_close(rd);
}

TEST(dash_query_runs) {
  const char *path;
  ns_reader *rd = NULL;
  ids s = {{0}, 0};
  ns_q_run_filter f = {0};
  int64_t cur, newest;
  double secs;
  build_db(4, &path);
  ASSERT_OK(ns_reader_open(path, &rd));
  ASSERT_OK(ns_q_runs(rd, NULL, collect_run, &s));
  ASSERT_STREQ(joined(&s), "4,3,2,1");   /* newest first */
  s.n = 0;
  f.status = "published";
  f.limit = 2;
  f.oldest_first = 1;                    /* the newest two, oldest first */
  ASSERT_OK(ns_q_runs(rd, &f, collect_run, &s));
  ASSERT_STREQ(joined(&s), "2,4");
  s.n = 0;
  memset(&f, 0, sizeof f);
  f.current_only = 1;
  ASSERT_OK(ns_q_runs(rd, &f, collect_run, &s));
  ASSERT_STREQ(joined(&s), "4");
  ASSERT_OK(ns_q_run_ids(rd, &cur, &newest));
  ASSERT_EQ(cur, 4);
  ASSERT_EQ(newest, 4);
  ASSERT_OK(ns_q_current_run(rd, &cur));
  ASSERT_EQ(cur, 4);
  ASSERT_OK(ns_q_last_run_seconds(rd, &secs));
  ASSERT(secs >= 0);
  ns_reader_close(rd);

  /* no run at all */
  build_db(0, &path);
  ASSERT_OK(ns_reader_open(path, &rd));
  ASSERT_ERR(ns_q_current_run(rd, &cur), NS_ENODATA);
  ASSERT_ERR(ns_q_last_run_seconds(rd, &secs), NS_ENODATA);
  ASSERT_OK(ns_q_run_ids(rd, &cur, &newest));
  ASSERT_EQ(cur, 0);
  ASSERT_EQ(newest, 0);
  ns_reader_close(rd);
  /* a file that is not there */
  ASSERT_ERR(ns_reader_open("/nonexistent/x.db", &rd), NS_ENOTFOUND);
  ASSERT(rd == NULL);
}

/* Schema v6: the other scorers' columns and the note's scopes go into
** note_scores, come back through current_note_status, note_scorers and
** ns_q_note_get, and explain names the deciding scorer with its
** intercept/factor beside Core's. */
TEST(dash_scorers_roundtrip_and_explain) {
  static const note_spec spec[2] = {
      {101, NS_STATUS_CRH, 0.45, 0.1, (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_GENERAL_CRH)},
      {102, NS_STATUS_NMR, NAN, NAN, 1u << NS_RULE_INITIAL_NMR}};
  char path[512];
  ns_store *s = NULL;
  ns_dataset *ds = NULL;
  ns_note_score notes[2];
  ns_scores sc;
  ns_reader *rd = NULL;
  ns_q_note n;
  json_t *o = NULL;
  char msg[256];
  sqlite3 *db;
  int64_t run_id;
  int32_t idx;

  snprintf(path, sizeof path, "%s/scorers.db", ns_test_tmpdir());
  ASSERT_OK(ns_store_open(path, NS_STORE_CREATE, &s));
  ingest(s);
  ASSERT_OK(ns_dataset_new(&ds));
  ASSERT_OK(ns_strtab_intern(ds->participants, "a", 1, &idx));
  for (int i = 0; i < 2; i++) note_init(&notes[i], &spec[i]);
  /* 101: CRH by ExpansionModel; Core CRH too; a group and a topic scope */
  {
    ns_model_score *e = &notes[0].model[NS_MODEL_EXPANSION];
    ns_model_score *g = &notes[0].model[NS_MODEL_GROUP];
    e->intercept = 0.47;
    e->factor = -0.125;
    e->intercept_no_high_vol = 0.44;
    e->status = NS_STATUS_CRH;
    e->rules = (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_GENERAL_CRH);
    e->n_final_round = 9;
    g->intercept = 0.2;
    g->factor = 0.05;
    g->status = NS_STATUS_NMR;
    g->rules = 1u << NS_RULE_INITIAL_NMR;
    g->n_final_round = 4;
    notes[0].decided_by = NS_RULE_EXPANSION_MODEL;
    notes[0].meta_rules |= 1ull << NS_RULE_EXPANSION_MODEL;
    notes[0].modeling_group = 13;
    notes[0].topic = NS_TOPIC_GAZA_CONFLICT;
    notes[0].topic_confident = 0;
    notes[0].intercept_pop = -0.25;
    notes[0].cwt_intercept_min = 0.1;
  }
  /* 102: not scored by Core (nor any scorer): MetaInitialNMR decided */
  notes[1].core_status = NS_STATUS_UNSET;
  notes[1].decided_by = NS_RULE_INITIAL_NMR;
  memset(&sc, 0, sizeof sc);
  sc.n_notes = 2;
  sc.notes = notes;
  sc.now_ms = 5000;
  ASSERT_OK(ns_store_run_begin(s, "{}", &run_id));
  ASSERT_OK(ns_store_run_publish(s, run_id, &sc, ds, NULL));
  ns_dataset_free(ds);
  ns_store_close(s);

  db = open_ro(path);
  ASSERT_EQ(q1(db, "SELECT expansion_n_final_round * 100 + modeling_group FROM note_scores"
                   " WHERE note_id = 101"), 913);
  ASSERT_EQ(q1(db, "SELECT expansion_status = 'CURRENTLY_RATED_HELPFUL' AND topic = 'GazaConflict'"
                   " AND topic_confident = 0 AND intercept_pop = -0.25"
                   " AND expansion_intercept_no_correlated IS NULL AND gaussian_status IS NULL"
                   " FROM current_note_status WHERE note_id = 101"), 1);
  /* a note with every scorer: 9 rows; the expansion row decided */
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_scorers WHERE note_id = 101"), 9);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_scorers WHERE note_id = 101 AND status IS NOT NULL"), 3);
  ASSERT_EQ(q1(db, "SELECT scorer = 'expansion' AND n_final_round = 9 AND intercept = 0.47"
                   " AND rule_names = 'InitialNMR (v1.0),GeneralCRH (v1.0)'"
                   " FROM note_scorers WHERE note_id = 101 AND decided"), 1);
  ASSERT_EQ(q1(db, "SELECT n_final_round FROM note_scorers WHERE note_id = 101 AND scorer = 'core'"), 3);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_scorers WHERE decided AND note_id = 102"), 0);
  ASSERT_EQ(q1(db, "SELECT decided_by = 'MetaInitialNMR' FROM note_scores WHERE note_id = 102"), 1);
  ASSERT_EQ(q1(db, "SELECT count(*) FROM note_scorers WHERE note_id = 102 AND scorer = 'core'"
                   " AND n_final_round IS NULL AND status IS NULL"), 1);
  sqlite3_close(db);

  ASSERT_OK(ns_reader_open(path, &rd));
  ASSERT_OK(ns_q_note_get(rd, 101, &n));
  ASSERT_STREQ(n.decided_by, "ExpansionModel");
  ASSERT_NEAR(n.model[NS_MODEL_EXPANSION].intercept, 0.47, 1e-12);
  ASSERT_NEAR(n.model[NS_MODEL_EXPANSION].factor, -0.125, 1e-12);
  ASSERT_NEAR(n.model[NS_MODEL_EXPANSION].intercept_no_high_vol, 0.44, 1e-12);
  ASSERT(isnan(n.model[NS_MODEL_EXPANSION].intercept_no_correlated));
  ASSERT_STREQ(n.model[NS_MODEL_EXPANSION].status, "CURRENTLY_RATED_HELPFUL");
  ASSERT_EQ(n.model[NS_MODEL_EXPANSION].rules,
            (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_GENERAL_CRH));
  ASSERT_EQ(n.model[NS_MODEL_EXPANSION].n_final_round, 9);
  ASSERT(n.model[NS_MODEL_GAUSSIAN].status == NULL);
  ASSERT_EQ(n.model[NS_MODEL_GAUSSIAN].n_final_round, NS_Q_NULL);
  ASSERT_EQ(n.modeling_group, 13);
  ASSERT_EQ(n.modeling_multi_group, NS_Q_NULL);
  ASSERT_STREQ(n.topic, "GazaConflict");
  ASSERT_EQ(n.topic_confident, 0);
  ASSERT_NEAR(n.cwt_intercept_min, 0.1, 1e-12);
  ASSERT(isnan(n.cwt_intercept_max));

  ASSERT_OK(ns_dash_explain(rd, 101, &o, msg, sizeof msg));
  ASSERT_STREQ(JSTR(o, "decidedBy"), "ExpansionModel");
  ASSERT_STREQ(JSTR(o, "decidedByScorer"), "expansion");
  ASSERT_STREQ(JSTR(o, "deciding.scorer"), "expansion");
  ASSERT_NEAR(json_real_value(get(o, "deciding.intercept")), 0.47, 1e-12);
  ASSERT_NEAR(json_real_value(get(o, "deciding.factor")), -0.125, 1e-12);
  ASSERT_NEAR(json_real_value(get(o, "deciding.coreIntercept")), 0.45, 1e-12);
  ASSERT_NEAR(json_real_value(get(o, "deciding.coreFactor")), 0.1, 1e-12);
  ASSERT_STREQ(JSTR(o, "deciding.status"), "CURRENTLY_RATED_HELPFUL");
  /* the scorers that scored it: core, expansion, group */
  ASSERT_EQ(json_array_size(get(o, "scorers")), 3);
  ASSERT_STREQ(JSTR(o, "scorers.0.scorer"), "core");
  ASSERT(json_is_false(get(o, "scorers.0.decided")));
  ASSERT_STREQ(JSTR(o, "scorers.1.scorer"), "expansion");
  ASSERT(json_is_true(get(o, "scorers.1.decided")));
  ASSERT_STREQ(JSTR(o, "scorers.1.rules.1"), "GeneralCRH");
  ASSERT_EQ(JINT(o, "scorers.1.numFinalRoundRatings"), 9);
  ASSERT_STREQ(JSTR(o, "scorers.2.scorer"), "group");
  ASSERT_EQ(JINT(o, "modelingGroup"), 13);
  ASSERT_STREQ(JSTR(o, "topic"), "GazaConflict");
  ASSERT(json_is_false(get(o, "topicConfident")));
  json_decref(o);
  /* 102: decided by a meta rule, no scorer */
  ASSERT_OK(ns_dash_explain(rd, 102, &o, msg, sizeof msg));
  ASSERT(json_is_null(get(o, "decidedByScorer")));
  ASSERT(json_is_null(get(o, "deciding")));
  ASSERT_EQ(json_array_size(get(o, "scorers")), 0);
  ASSERT(json_is_null(get(o, "modelingGroup")));
  json_decref(o);
  ns_reader_close(rd);
}
