/*
** store/store.c -- the SQLite store: open + migrations, the participant
** snapshots, export and ingest batches.  Connections, statement helpers,
** transactions and the participant cache live in db.c (the layer below
** every other file of store/), import in import.c, the dashboard views in
** views.c, scoring runs in runs.c.  The schema is documented in
** docs/schema.md.
**
** Who calls it: tools/ (import, export, score --db, explain), engine/ (the
** pipeline snapshot; the server writer thread for ingest and publication).
** Thread: a handle is used by one thread at a time.
**
** Durability: writers run with synchronous=FULL (every commit is fsync'ed:
** ingest acks and run publication rely on it).  Bulk import switches to
** synchronous=NORMAL for its own duration (WAL mode: the database stays
** consistent after a crash, the last commits may be lost, and import is
** idempotent so re-running it repairs that) and checkpoints with a sync at
** the end of every file, so a finished import is durable.
*/
#include "store_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- schema v1 --------------------------------------------------------- */

/* v2 (store/views.c): dashboard views, status change log, indexes.
** v3 (add_column): rater_scores.qclique_id.
** v4 (add_column): note_scores.low_diligence_intercept (the low-diligence
** model).
** v5 (store/views.c): the views re-created with the v3/v4 columns.
** v6 (add_v6_columns): the reference-parity columns of note_scores (every
** scorer's intercept, factor, status, rules, ...; the note's modeling
** groups and topic), rule_names.version; the views again (views.c).
** v7 (add_column): notes.summary (text/topics.c reads it). */
#define SCHEMA_VERSION NS_STORE_SCHEMA_VERSION

static const char schema_v1[] =
    "CREATE TABLE participants(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  participant_id TEXT NOT NULL UNIQUE\n"
    ");\n"
    "CREATE TABLE notes(\n"
    "  note_id INTEGER PRIMARY KEY,\n"
    "  author_id INTEGER,\n"
    "  created_ms INTEGER NOT NULL,\n"
    "  tweet_id INTEGER NOT NULL DEFAULT -1,\n"
    "  classification INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE ratings(\n"
    "  note_id INTEGER NOT NULL,\n"
    "  rater_id INTEGER NOT NULL,\n"
    "  created_ms INTEGER NOT NULL,\n"
    "  level INTEGER NOT NULL,\n"
    "  tags INTEGER NOT NULL DEFAULT 0,\n"
    "  source INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY(note_id, rater_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE note_status_history(\n"
    "  note_id INTEGER PRIMARY KEY,\n"
    "  author_id INTEGER,\n"
    "  created_ms INTEGER,\n"
    "  ts_first_non_nmr INTEGER,\n"
    "  first_non_nmr_status TEXT,\n"
    "  ts_current INTEGER,\n"
    "  current_status TEXT,\n"
    "  ts_latest_non_nmr INTEGER,\n"
    "  most_recent_non_nmr_status TEXT,\n"
    "  ts_lock INTEGER,\n"
    "  locked_status TEXT,\n"
    "  ts_retro_lock INTEGER,\n"
    "  current_core_status TEXT,\n"
    "  current_expansion_status TEXT,\n"
    "  current_group_status TEXT,\n"
    "  current_decided_by TEXT,\n"
    "  current_modeling_group REAL,\n"
    "  ts_most_recent_change INTEGER,\n"
    "  ts_nmr_due_to_stable_crh INTEGER,\n"
    "  current_multi_group_status TEXT,\n"
    "  current_modeling_multi_group REAL,\n"
    "  ts_minute_final_output INTEGER,\n"
    "  ts_first_nmr_due_to_stable_crh INTEGER,\n"
    "  above_pcrh_threshold_time INTEGER\n"
    ");\n"
    "CREATE TABLE user_enrollment(\n"
    "  participant INTEGER PRIMARY KEY,\n"
    "  enrollment_state TEXT,\n"
    "  successful_needed INTEGER,\n"
    "  ts_last_state_change INTEGER,\n"
    "  ts_last_earn_out INTEGER,\n"
    "  modeling_population TEXT,\n"
    "  modeling_group INTEGER,\n"
    "  times_earned_out INTEGER\n"
    ");\n"
    "CREATE TABLE runs(\n"
    "  run_id INTEGER PRIMARY KEY,\n"
    "  started_ms INTEGER NOT NULL,\n"
    "  finished_ms INTEGER,\n"
    "  status TEXT NOT NULL,\n"
    "  params TEXT,\n"
    "  version TEXT,\n"
    "  now_ms INTEGER,\n"
    "  n_ratings INTEGER, n_notes INTEGER, n_raters INTEGER,\n"
    "  n_ratings_round1 INTEGER, n_ratings_round2 INTEGER,\n"
    "  n_raters_round1 INTEGER, n_raters_round2 INTEGER,\n"
    "  n_notes_round1 INTEGER, n_notes_round2 INTEGER,\n"
    "  n_crh INTEGER, n_crnh INTEGER, n_nmr INTEGER,\n"
    "  mf_passes INTEGER,\n"
    "  seconds REAL,\n"
    "  stage_seconds TEXT,\n"
    "  global_intercept REAL, global_intercept_r1 REAL\n"
    ");\n"
    "CREATE TABLE note_scores(\n"
    "  run_id INTEGER NOT NULL,\n"
    "  note_id INTEGER NOT NULL,\n"
    "  created_ms INTEGER,\n"
    "  classification INTEGER,\n"
    "  num_ratings INTEGER,\n"
    "  num_final_round_ratings INTEGER,\n"
    "  intercept REAL, factor REAL,\n"
    "  intercept_r1 REAL, factor_r1 REAL,\n"
    "  intercept_min REAL, intercept_max REAL,\n"
    "  intercept_no_high_vol REAL, intercept_no_correlated REAL,\n"
    "  core_status TEXT,\n"
    "  core_rules INTEGER,\n"
    "  final_status TEXT,\n"
    "  decided_by TEXT,\n"
    "  meta_rules INTEGER,\n"
    "  first_tag TEXT, second_tag TEXT,\n"
    "  active_filter_tags INTEGER,\n"
    "  provisional_status TEXT,\n"
    "  PRIMARY KEY(run_id, note_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE rater_scores(\n"
    "  run_id INTEGER NOT NULL,\n"
    "  rater_id INTEGER NOT NULL,\n"
    "  intercept REAL, factor REAL,\n"
    "  intercept_r1 REAL, factor_r1 REAL,\n"
    "  crh_crnh_ratio_diff REAL,\n"
    "  mean_note_score REAL,\n"
    "  agree_ratio REAL,\n"
    "  agree_ratio_harassment REAL,\n"
    "  above_threshold INTEGER,\n"
    "  successful_helpful INTEGER, successful_not_helpful INTEGER,\n"
    "  unsuccessful_helpful INTEGER, unsuccessful_not_helpful INTEGER,\n"
    "  ratings_awaiting INTEGER,\n"
    "  rated_after_decision INTEGER,\n"
    "  notes_crh INTEGER, notes_crnh INTEGER, notes_nmr INTEGER,\n"
    "  num_ratings INTEGER,\n"
    "  trust REAL,\n"
    "  group_id INTEGER,\n"
    "  PRIMARY KEY(run_id, rater_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE current_run(\n"
    "  id INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "  run_id INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE rule_names(bit INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
    "CREATE TABLE tag_names(bit INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
    "CREATE VIEW current_note_status AS\n"
    "  SELECT s.note_id, s.run_id, s.final_status AS status, s.decided_by,\n"
    "         s.core_status, s.intercept, s.factor, s.first_tag, s.second_tag,\n"
    "         s.num_ratings, s.classification, s.created_ms,\n"
    "         r.finished_ms AS scored_at_ms\n"
    "  FROM current_run c JOIN note_scores s ON s.run_id = c.run_id\n"
    "  JOIN runs r ON r.run_id = c.run_id;\n"
    "CREATE VIEW status_changes AS\n"
    "  SELECT note_id, run_id, finished_ms AS changed_at_ms,\n"
    "         prev_status AS old_status, final_status AS new_status, decided_by\n"
    "  FROM (SELECT s.note_id, s.run_id, r.finished_ms, s.final_status, s.decided_by,\n"
    "               LAG(s.final_status) OVER w AS prev_status,\n"
    "               ROW_NUMBER() OVER w AS k\n"
    "        FROM note_scores s JOIN runs r ON r.run_id = s.run_id\n"
    "        WHERE r.status = 'published'\n"
    "        WINDOW w AS (PARTITION BY s.note_id ORDER BY s.run_id))\n"
    "  WHERE k = 1 OR prev_status IS NOT final_status;\n"
    "CREATE VIEW run_summary AS\n"
    "  SELECT r.run_id, r.status, r.started_ms, r.finished_ms,\n"
    "         (r.finished_ms - r.started_ms) / 1000.0 AS wall_seconds, r.seconds,\n"
    "         r.version, r.params, r.n_ratings, r.n_notes, r.n_raters,\n"
    "         r.n_crh, r.n_crnh, r.n_nmr,\n"
    "         (r.run_id IS (SELECT run_id FROM current_run)) AS is_current\n"
    "  FROM runs r;\n"
    "CREATE VIEW rater_reputation AS\n"
    "  SELECT p.participant_id, s.run_id, s.intercept, s.factor, s.agree_ratio,\n"
    "         s.above_threshold, s.trust, s.num_ratings, s.notes_crh, s.notes_crnh,\n"
    "         s.notes_nmr, s.group_id, e.enrollment_state, e.modeling_group\n"
    "  FROM current_run c JOIN rater_scores s ON s.run_id = c.run_id\n"
    "  JOIN participants p ON p.id = s.rater_id\n"
    "  LEFT JOIN user_enrollment e ON e.participant = s.rater_id;\n";

/* ---- open / migrate / close -------------------------------------------- */

/* ALTER TABLE table ADD COLUMN column_def unless table already has column.
** Idempotent, so a DB whose version number was lowered by hand still
** migrates.  Rows written before the migration read NULL. */
static int add_column(ns_store *s, const char *table, const char *column, const char *type) {
  sqlite3_stmt *st = NULL;
  char sql[256];
  int have = 0, rc;
  if ((rc = ns__db_prepare(s, "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
                           &st)) != 0)
    return rc;
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) have = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (have) return 0;
  snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s;", table, column, type);
  return ns__db_exec(s, sql);
}

#define STR_(p) #p,
const char *const ns__model_col[NS_MODEL_COUNT] = {NS__MODEL_LIST(STR_)};
#undef STR_

/* v6: the columns of the other scorers and of the note's scopes.  A row
** written before reads NULL in each: "this scorer did not score it", which
** is what the old run meant (Core was its only scorer). */
static int add_v6_columns(ns_store *s) {
#define FIELD_(f, t) {#f, #t},
  static const struct { const char *name, *type; } fields[] = {NS__MODEL_FIELDS(FIELD_)};
#undef FIELD_
  static const struct { const char *name, *type; } note[NS__NOTE_V6_NCOLS] = {
      {"modeling_group", "INTEGER"}, {"modeling_multi_group", "INTEGER"}, {"topic", "TEXT"},
      {"topic_confident", "INTEGER"}, {"intercept_pop", "REAL"},
      {"core_with_topics_intercept_min", "REAL"}, {"core_with_topics_intercept_max", "REAL"}};
  char name[96];
  int rc = 0;
  _Static_assert(NS_ARRAY_LEN(fields) == NS__MODEL_NFIELDS, "NS__MODEL_NFIELDS");
  for (int m = 0; m < NS_MODEL_COUNT && !rc; m++)
    for (size_t f = 0; f < NS_ARRAY_LEN(fields) && !rc; f++) {
      snprintf(name, sizeof name, "%s_%s", ns__model_col[m], fields[f].name);
      rc = add_column(s, "note_scores", name, fields[f].type);
    }
  for (int i = 0; i < NS__NOTE_V6_NCOLS && !rc; i++)
    rc = add_column(s, "note_scores", note[i].name, note[i].type);
  if (!rc) rc = add_column(s, "rule_names", "version", "TEXT");
  return rc;
}

static int migrate(ns_store *s) {
  sqlite3_stmt *st = NULL;
  int version = 0, rc;
  char sql[256];
  if ((rc = ns__db_prepare(s, "PRAGMA user_version", &st)) != 0) return rc;
  if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (version > SCHEMA_VERSION) {
    snprintf(s->errbuf, sizeof s->errbuf, "database schema version %d is newer than %d", version,
             SCHEMA_VERSION);
    return NS_ESCHEMA;
  }
  if (version == SCHEMA_VERSION) return 0;
  if (s->readonly) {
    snprintf(s->errbuf, sizeof s->errbuf, "database has schema version %d (not a notescore DB?)",
             version);
    return NS_ESCHEMA;
  }
  if ((rc = ns__db_exec(s, "BEGIN IMMEDIATE")) != 0) return rc;
  /* Re-read inside the write lock: another process may have migrated. */
  if ((rc = ns__db_prepare(s, "PRAGMA user_version", &st)) != 0) goto fail;
  if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (version == 0 && (rc = ns__db_exec(s, schema_v1)) != 0) goto fail;
  if (version < 2 && (rc = ns__views_migrate_v2(s)) != 0) goto fail;
  /* v3: quasi-clique id per rater (graph/qclique.c) */
  if (version < 3 && (rc = add_column(s, "rater_scores", "qclique_id", "INTEGER")) != 0) goto fail;
  /* v4: the low-diligence model's note intercept */
  if (version < 4 &&
      (rc = add_column(s, "note_scores", "low_diligence_intercept", "REAL")) != 0)
    goto fail;
  /* v5 re-created the views with the v3/v4 columns appended; the v6 step
  ** below does it again (views_ddl names the v6 columns, so it cannot run
  ** before they exist) */
  /* v6: every scorer's note columns, then the views with them appended */
  if (version < 6 && ((rc = add_v6_columns(s)) != 0 || (rc = ns__views_create(s)) != 0))
    goto fail;
  /* v7: the note summaries (topic assignment) */
  if (version < 7 && (rc = add_column(s, "notes", "summary", "TEXT")) != 0) goto fail;
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d", SCHEMA_VERSION);
  if ((rc = ns__db_exec(s, sql)) != 0) goto fail;
  return ns__db_exec(s, "COMMIT");
fail:
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* The enum lookup tables follow the program, so they are refreshed on every
** writer open (cheap: ~50 rows). */
static int fill_names(ns_store *s) {
  sqlite3_stmt *st = NULL;
  int rc;
  if ((rc = ns__db_exec(s, "BEGIN IMMEDIATE")) != 0) return rc;
  if ((rc = ns__db_prepare(s, "INSERT OR REPLACE INTO rule_names(bit, name, version)"
                              " VALUES(?, ?, ?)", &st)))
    goto out;
  for (int i = 0; i < NS_RULE_COUNT && !rc; i++) {
    sqlite3_bind_int(st, 1, i);
    sqlite3_bind_text(st, 2, ns_rule_names[i], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ns_rule_versions[i], -1, SQLITE_STATIC);
    rc = ns__db_step_done(s, st);
  }
  sqlite3_finalize(st);
  st = NULL;
  if (rc || (rc = ns__db_prepare(s, "INSERT OR REPLACE INTO tag_names(bit, name) VALUES(?, ?)", &st)))
    goto out;
  for (int i = 0; i < NS_N_TAGS && !rc; i++) {
    sqlite3_bind_int(st, 1, i);
    sqlite3_bind_text(st, 2, ns_tag_names[i], -1, SQLITE_STATIC);
    rc = ns__db_step_done(s, st);
  }
out:
  sqlite3_finalize(st);
  if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  else rc = ns__db_exec(s, "COMMIT");
  return rc;
}

int ns_store_open(const char *path, int flags, ns_store **out) {
  ns_store *s = ns_calloc(1, sizeof *s);
  int rc = 0;
  *out = NULL;
  if (!s) return NS_ENOMEM;
  s->run_lock_fd = -1;
  s->readonly = (flags & NS_STORE_READONLY) != 0;
  /* flags, busy handler, WAL + synchronous=FULL for writers (db.c) */
  if ((rc = ns__db_open(path, flags, 0, &s->db, s->errbuf, sizeof s->errbuf)) != 0) goto fail;
  /* 64 MiB of page cache per handle: bounded, and enough to keep the upper
  ** B-tree levels of a 100 M-rating table hot during import. */
  if ((rc = ns__db_exec(s, "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY")) != 0) goto fail;
  if ((rc = migrate(s)) != 0) goto fail;
  if (!s->readonly) {
    if ((rc = fill_names(s)) != 0) goto fail;
    if ((rc = ns__db_prepare(s, "INSERT INTO participants(id, participant_id) VALUES(?, ?)",
                             &s->st_part)) != 0)
      goto fail;
    if ((rc = ns__rbatch_register(s)) != 0) goto fail;
  }
  *out = s;
  return 0;
fail:
  /* keep the message for the caller: print it before closing */
  if (s->errbuf[0]) ns_debug("store: %s", s->errbuf);
  ns_store_close(s);
  return rc;
}

int ns_store_set_max_bytes(ns_store *s, unsigned long long bytes) {
  sqlite3_stmt *st = NULL;
  long long page = 0;
  char sql[96];
  int rc;
  if ((rc = ns__db_prepare(s, "PRAGMA page_size", &st)) != 0) return rc;
  if (sqlite3_step(st) == SQLITE_ROW) page = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (page <= 0 || bytes / (unsigned long long)page == 0) return NS_EINVAL;
  snprintf(sql, sizeof sql, "PRAGMA max_page_count = %llu", bytes / (unsigned long long)page);
  return ns__db_exec(s, sql);
}

void ns_store_close(ns_store *s) {
  if (!s) return;
  ns__ckpt_stop(s);
  ns__run_unlock(s);
  sqlite3_finalize(s->st_part);
  ns__pcache_drop(s);
  ns_store_sql_close(s->db);
  free(s);
}

/* ---- snapshot ---------------------------------------------------------- */

static int grow_map(int32_t **map, size_t *cap, int64_t id) {
  size_t need = (size_t)id + 1, nc = *cap ? *cap : 4096;
  int32_t *n;
  if (need <= *cap) return 0;
  while (nc < need) nc *= 2;
  n = ns_realloc(*map, nc * sizeof *n);
  if (!n) return NS_ENOMEM;
  for (size_t i = *cap; i < nc; i++) n[i] = -1;
  *map = n;
  *cap = nc;
  return 0;
}

static int32_t map_id(const int32_t *map, size_t cap, sqlite3_stmt *st, int col) {
  int64_t id;
  if (sqlite3_column_type(st, col) == SQLITE_NULL) return -1;
  id = sqlite3_column_int64(st, col);
  return id >= 0 && (size_t)id < cap ? map[id] : -1;
}

static int64_t col_opt(sqlite3_stmt *st, int col) {
  return sqlite3_column_type(st, col) == SQLITE_NULL ? NS_TS_NONE : sqlite3_column_int64(st, col);
}

static double col_f64(sqlite3_stmt *st, int col) {
  return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

static int8_t col_status(sqlite3_stmt *st, int col) {
  const char *t = (const char *)sqlite3_column_text(st, col);
  return t ? (int8_t)ns_status_parse(t, strlen(t)) : NS_STATUS_UNSET;
}

static void col_str(sqlite3_stmt *st, int col, char *out, size_t cap) {
  const char *t = (const char *)sqlite3_column_text(st, col);
  snprintf(out, cap, "%s", t ? t : "");
}

int ns_store_snapshot(ns_store *s, ns_dataset **out) {
  ns_dataset *ds = NULL;
  sqlite3_stmt *st = NULL;
  int32_t *map = NULL;
  size_t map_cap = 0, cap = 0;
  int rc, src;
  *out = NULL;
  if ((rc = ns_dataset_new(&ds)) != 0) return rc;
  if ((rc = ns__db_exec(s, "BEGIN")) != 0) goto out;

#define PREP(sql) do { sqlite3_finalize(st); st = NULL; if ((rc = ns__db_prepare(s, sql, &st)) != 0) goto out; } while (0)
#define STEP_END() do { if (src != SQLITE_DONE) { snprintf(s->errbuf, sizeof s->errbuf, "%s", sqlite3_errmsg(s->db)); rc = ns__db_err(s, src); goto out; } } while (0)

  PREP("SELECT id, participant_id FROM participants");
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    const char *p = (const char *)sqlite3_column_text(st, 1);
    int32_t idx;
    if (id < 0 || id > INT32_MAX || !p) continue;
    if ((rc = grow_map(&map, &map_cap, id)) != 0) goto out;
    if ((rc = ns_strtab_intern(ds->participants, p, (size_t)sqlite3_column_bytes(st, 1), &idx)))
      goto out;
    map[id] = idx;
  }
  STEP_END();

  PREP("SELECT note_id, author_id, created_ms, tweet_id, classification, summary FROM notes");
  cap = 0;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    const char *txt;
    if ((rc = ns__ds_push_note(ds, &cap, sqlite3_column_int64(st, 0), map_id(map, map_cap, st, 1),
                               sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                               (uint8_t)sqlite3_column_int(st, 4))) != 0)
      goto out;
    if ((txt = (const char *)sqlite3_column_text(st, 5)) != NULL &&
        (rc = ns__ds_note_text(ds, ds->n_notes - 1, txt, (size_t)sqlite3_column_bytes(st, 5), 0)))
      goto out;
  }
  STEP_END();

  PREP("SELECT note_id, rater_id, created_ms, level, tags, source FROM ratings");
  cap = 0;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    if ((rc = ns__ds_push_rating(ds, &cap, sqlite3_column_int64(st, 0), map_id(map, map_cap, st, 1),
                                 sqlite3_column_int64(st, 2), (uint8_t)sqlite3_column_int(st, 3),
                                 (uint32_t)sqlite3_column_int64(st, 4),
                                 (uint8_t)sqlite3_column_int(st, 5))) != 0)
      goto out;
  }
  STEP_END();

  PREP("SELECT note_id, author_id, created_ms, ts_first_non_nmr, first_non_nmr_status,"
       " ts_current, current_status, ts_latest_non_nmr, most_recent_non_nmr_status, ts_lock,"
       " locked_status, ts_retro_lock, current_core_status, current_expansion_status,"
       " current_group_status, current_decided_by, current_modeling_group,"
       " ts_most_recent_change, ts_nmr_due_to_stable_crh, current_multi_group_status,"
       " current_modeling_multi_group, ts_minute_final_output, ts_first_nmr_due_to_stable_crh,"
       " above_pcrh_threshold_time FROM note_status_history");
  cap = 0;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    ns_nsh *h;
    if (ds->n_history == cap) {
      size_t nc = cap ? cap * 2 : 1024;
      ns_nsh *n = ns_realloc(ds->history, nc * sizeof *n);
      if (!n) { rc = NS_ENOMEM; goto out; }
      ds->history = n;
      cap = nc;
    }
    h = &ds->history[ds->n_history++];
    ns_nsh_init(h, sqlite3_column_int64(st, 0));
    h->author = map_id(map, map_cap, st, 1);
    h->created_ms = col_opt(st, 2);
    h->ts_first_non_nmr = col_opt(st, 3);
    h->first_non_nmr_status = col_status(st, 4);
    h->ts_current = col_opt(st, 5);
    h->current_status = col_status(st, 6);
    h->ts_latest_non_nmr = col_opt(st, 7);
    h->most_recent_non_nmr_status = col_status(st, 8);
    h->ts_lock = col_opt(st, 9);
    h->locked_status = col_status(st, 10);
    h->ts_retro_lock = col_opt(st, 11);
    h->current_core_status = col_status(st, 12);
    h->current_expansion_status = col_status(st, 13);
    h->current_group_status = col_status(st, 14);
    col_str(st, 15, h->decided_by, sizeof h->decided_by);
    h->current_modeling_group = col_f64(st, 16);
    h->ts_most_recent_change = col_opt(st, 17);
    h->ts_nmr_due_to_stable_crh = col_opt(st, 18);
    h->current_multi_group_status = col_status(st, 19);
    h->current_modeling_multi_group = col_f64(st, 20);
    h->ts_minute_final_output = col_opt(st, 21);
    h->ts_first_nmr_due_to_stable_crh = col_opt(st, 22);
    h->above_pcrh_threshold_time = col_opt(st, 23);
  }
  STEP_END();

  PREP("SELECT participant, enrollment_state, successful_needed, ts_last_state_change,"
       " ts_last_earn_out, modeling_population, modeling_group, times_earned_out"
       " FROM user_enrollment");
  cap = 0;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    ns_enrollment *e;
    const char *state = (const char *)sqlite3_column_text(st, 1);
    if (ds->n_enrollment == cap) {
      size_t nc = cap ? cap * 2 : 1024;
      ns_enrollment *n = ns_realloc(ds->enrollment, nc * sizeof *n);
      if (!n) { rc = NS_ENOMEM; goto out; }
      ds->enrollment = n;
      cap = nc;
    }
    e = &ds->enrollment[ds->n_enrollment++];
    memset(e, 0, sizeof *e);
    e->participant = map_id(map, map_cap, st, 0);
    e->state = (int8_t)(state ? ns_enroll_parse(state, strlen(state)) : -1);
    e->successful_needed = col_opt(st, 2);
    e->ts_last_state_change = col_opt(st, 3);
    e->ts_last_earn_out = col_opt(st, 4);
    col_str(st, 5, e->modeling_population, sizeof e->modeling_population);
    e->modeling_group =
        sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : (int32_t)sqlite3_column_int64(st, 6);
    e->times_earned_out = col_opt(st, 7);
  }
  STEP_END();
#undef PREP
#undef STEP_END

  sqlite3_finalize(st);
  st = NULL;
  if ((rc = ns__db_exec(s, "COMMIT")) != 0) goto out;
  rc = ns_dataset_normalize(ds);
out:
  sqlite3_finalize(st);
  if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  free(map);
  if (rc) ns_dataset_free(ds);
  else *out = ds;
  return rc;
}

int ns_store_export(ns_store *s, const char *dir) {
  ns_dataset *ds = NULL;
  int rc = ns_store_snapshot(s, &ds);
  if (rc == 0) rc = ns_tsv_export(ds, dir);
  ns_dataset_free(ds);
  return rc;
}

/* ---- ingest ------------------------------------------------------------ */

int ns_store_ingest(ns_store *s, const ns_ingest_note *notes, size_t n_notes,
                    const ns_ingest_rating *ratings, size_t n_ratings,
                    const ns_ingest_enrollment *enroll, size_t n_enroll) {
  ns__writer w;
  int rc;
  if (s->readonly) return NS_EINVAL;
  if ((rc = ns__writer_init(s, &w)) != 0) return rc;
  if ((rc = ns__db_begin_write(s)) != 0) goto out;
  for (size_t i = 0; i < n_notes && !rc; i++) {
    ns__note_row r = {notes[i].note_id, notes[i].author,
                      notes[i].author ? strlen(notes[i].author) : 0,
                      notes[i].created_ms, notes[i].tweet_id, notes[i].classification,
                      notes[i].summary ? notes[i].summary : "",
                      notes[i].summary ? strlen(notes[i].summary) : 0, 0};
    rc = ns__writer_note(&w, &r);
  }
  for (size_t i = 0; i < n_ratings && !rc; i++) {
    ns__rating_row r = {ratings[i].note_id, ratings[i].rater,
                        ratings[i].rater ? strlen(ratings[i].rater) : 0, ratings[i].created_ms,
                        ratings[i].level, ratings[i].tags, ratings[i].source};
    if (!r.rater_len || r.level > NS_LEVEL_HELPFUL) rc = NS_EINVAL;
    else rc = ns__writer_rating(&w, &r);
  }
  for (size_t i = 0; i < n_enroll && !rc; i++) {
    const ns_ingest_enrollment *e = &enroll[i];
    ns_enrollment x;
    memset(&x, 0, sizeof x);
    x.state = e->state;
    x.successful_needed = e->successful_needed;
    x.ts_last_state_change = e->ts_last_state_change;
    x.ts_last_earn_out = e->ts_last_earn_out;
    snprintf(x.modeling_population, sizeof x.modeling_population, "%s",
             e->modeling_population ? e->modeling_population : "");
    x.modeling_group = e->modeling_group;
    x.times_earned_out = e->times_earned_out;
    if (!e->participant || !*e->participant) rc = NS_EINVAL;
    else rc = ns__writer_enroll(&w, &x, e->participant, strlen(e->participant));
  }
  if (!rc) rc = ns__writer_flush(&w);
  if (!rc) rc = ns__db_commit(s);
  else ns__db_rollback(s);
out:
  ns__writer_free(&w);
  return rc;
}
