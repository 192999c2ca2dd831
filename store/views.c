/*
** store/views.c -- schema v2: the dashboard contract (views, the status
** change log and the indexes that keep the views fast).
**
** Schema v1 (store.c) holds the score tables and a first set of views.  v2
** is applied on top of it by the migration in store.c (ns__views_migrate_v2
** runs inside the migration's write transaction) and adds:
**
**   note_status_changes   a table: one row per note whose public status
**                         differs from the previous published run (or
**                         that is new).  Filled by a trigger when a run row
**                         turns 'published', i.e. inside the publishing
**                         transaction, so it is as atomic as the run itself.
**                         Comparing two runs of ~10^6 notes at query time
**                         costs a join per query; once per run it is free.
**                         A second trigger keeps the log and the run's
**                         status counts right when a note refresh rewrites
**                         rows of the current run in place.
**   indexes               note_scores by (note_id, run_id) for note
**                         histories, by (run_id, final_status) for status
**                         panels.
**   views                 current_note_status, status_changes, run_summary
**                         and rater_reputation are re-created with the v1
**                         columns first, in the v1 order, and new columns
**                         appended (a v1 dashboard query keeps working);
**                         note_rules and note_history are new.
**
** v5 re-creates the views (ns__views_create) to append the v3/v4 columns:
** current_note_status.low_diligence_intercept, rater_reputation.qclique_id.
** v6 does it again: current_note_status gets every scorer's columns and the
** note's scopes appended, and the new note_scorers view shows a note's row
** with every scorer (one row per scorer).
**
** The contract (columns, meaning, example queries) is docs/dashboards.md and
** the "Views" section of docs/schema.md.  Rule: a view's columns change only
** with a new migration step and a note in those docs; columns are appended,
** never renamed or reordered.
**
** Who calls it: store.c's migrate(), on the first writer open of a v1 (or
** new) database.  Thread: the handle's.
*/
#include "store_int.h"

/* The v2 tables, triggers and indexes.  One string, executed with
** sqlite3_exec inside the migration transaction; the views are views_ddl. */
static const char schema_v2[] =
    /* ---- status change log ---------------------------------------------- */
    "CREATE TABLE note_status_changes(\n"
    "  run_id INTEGER NOT NULL,\n"         /* the run that changed it */
    "  note_id INTEGER NOT NULL,\n"
    "  prev_run_id INTEGER,\n"             /* previous published run, NULL if none */
    "  old_status TEXT,\n"                 /* NULL: note new in run_id */
    "  new_status TEXT,\n"
    "  decided_by TEXT,\n"
    "  old_intercept REAL, new_intercept REAL,\n"
    "  PRIMARY KEY(run_id, note_id)\n"
    ") WITHOUT ROWID;\n"
    /* Fires inside ns_store_run_publish's transaction: the run's note_scores
    ** rows are already inserted when the run row turns 'published'.  The
    ** previous run is the newest published run with a smaller id (a failed
    ** or abandoned run in between has no note_scores and is skipped). */
    "CREATE TRIGGER runs_publish_changes AFTER UPDATE OF status ON runs\n"
    "WHEN NEW.status = 'published' AND OLD.status IS NOT 'published'\n"
    "BEGIN\n"
    "  INSERT OR REPLACE INTO note_status_changes(run_id, note_id, prev_run_id,\n"
    "      old_status, new_status, decided_by, old_intercept, new_intercept)\n"
    "  SELECT n.run_id, n.note_id, pr.prev, p.final_status, n.final_status,\n"
    "         n.decided_by, p.intercept, n.intercept\n"
    "  FROM (SELECT (SELECT max(run_id) FROM runs WHERE status = 'published'\n"
    "                AND run_id < NEW.run_id) AS prev) pr\n"
    "  JOIN note_scores n ON n.run_id = NEW.run_id\n"
    "  LEFT JOIN note_scores p ON p.run_id = pr.prev AND p.note_id = n.note_id\n"
    "  WHERE p.final_status IS NOT n.final_status;\n"
    "END;\n"
    /* A note refresh (ns_store_run_refresh) replaces rows of the CURRENT
    ** run in place.  This trigger keeps that run's summary counts and its
    ** change log true to its rows, in the refresh's own transaction.  It is
    ** a BEFORE trigger because INSERT OR REPLACE deletes the old row before
    ** an AFTER trigger could read its status.  During a full publication
    ** the rows belong to a run that is not current yet, so the WHEN clause
    ** (one primary-key lookup) keeps it out of the way. */
    "CREATE TRIGGER note_scores_refresh BEFORE INSERT ON note_scores\n"
    "WHEN NEW.run_id = (SELECT run_id FROM current_run WHERE id = 1)\n"
    "BEGIN\n"
    "  UPDATE runs SET\n"
    "    n_notes = n_notes + NOT EXISTS (SELECT 1 FROM note_scores\n"
    "        WHERE run_id = NEW.run_id AND note_id = NEW.note_id),\n"
    "    n_crh = n_crh + (NEW.final_status IS 'CURRENTLY_RATED_HELPFUL')\n"
    "      - coalesce((SELECT final_status IS 'CURRENTLY_RATED_HELPFUL' FROM note_scores\n"
    "          WHERE run_id = NEW.run_id AND note_id = NEW.note_id), 0),\n"
    "    n_crnh = n_crnh + (NEW.final_status IS 'CURRENTLY_RATED_NOT_HELPFUL')\n"
    "      - coalesce((SELECT final_status IS 'CURRENTLY_RATED_NOT_HELPFUL' FROM note_scores\n"
    "          WHERE run_id = NEW.run_id AND note_id = NEW.note_id), 0),\n"
    "    n_nmr = n_nmr + (NEW.final_status IS 'NEEDS_MORE_RATINGS')\n"
    "      - coalesce((SELECT final_status IS 'NEEDS_MORE_RATINGS' FROM note_scores\n"
    "          WHERE run_id = NEW.run_id AND note_id = NEW.note_id), 0)\n"
    "  WHERE run_id = NEW.run_id;\n"
    "  DELETE FROM note_status_changes WHERE run_id = NEW.run_id AND note_id = NEW.note_id;\n"
    "  INSERT INTO note_status_changes(run_id, note_id, prev_run_id, old_status,\n"
    "      new_status, decided_by, old_intercept, new_intercept)\n"
    "  SELECT NEW.run_id, NEW.note_id, pr.prev, p.final_status, NEW.final_status,\n"
    "         NEW.decided_by, p.intercept, NEW.intercept\n"
    "  FROM (SELECT (SELECT max(run_id) FROM runs WHERE status = 'published'\n"
    "                AND run_id < NEW.run_id) AS prev) pr\n"
    "  LEFT JOIN note_scores p ON p.run_id = pr.prev AND p.note_id = NEW.note_id\n"
    "  WHERE p.final_status IS NOT NEW.final_status;\n"
    "END;\n"
    /* ---- indexes -------------------------------------------------------- */
    "CREATE INDEX note_scores_by_note ON note_scores(note_id, run_id);\n"
    "CREATE INDEX note_scores_by_status ON note_scores(run_id, final_status);\n";

/* One scorer's arm of the note_scorers view: its columns (prefix p), its
** name as the reference's column prefix, and the test on decided_by that
** says its meta rule decided. */
#define SCORER_ARM(p, name, decided)                                               \
  "        UNION ALL\n"                                                          \
  "        SELECT s.note_id, s.run_id, '" name "', s." #p "_intercept, s." #p      \
  "_factor,\n"                                                                    \
  "               s." #p "_status, s." #p "_rules, s." #p "_n_final_round,\n"      \
  "               s." #p "_intercept_no_high_vol, s." #p "_intercept_no_correlated,\n" \
  "               coalesce(s.decided_by " decided ", 0)\n"                        \
  "        FROM current_run c JOIN note_scores s ON s.run_id = c.run_id\n"

/* The views, all dropped and re-created (v1 columns first, in the v1 order,
** then each later version's additions appended).  Run by the v6 step of
** the migration, after the v3/v4/v6 columns they read exist; a later
** column addition appends here and bumps the version again. */
static const char views_ddl[] =
    "DROP VIEW IF EXISTS current_note_status;\n"
    "DROP VIEW IF EXISTS status_changes;\n"
    "DROP VIEW IF EXISTS run_summary;\n"
    "DROP VIEW IF EXISTS rater_reputation;\n"
    "DROP VIEW IF EXISTS note_rules;\n"
    "DROP VIEW IF EXISTS note_history;\n"
    "DROP VIEW IF EXISTS note_scorers;\n"
    "CREATE VIEW current_note_status AS\n"
    "  SELECT s.note_id, s.run_id, s.final_status AS status, s.decided_by,\n"
    "         s.core_status, s.intercept, s.factor, s.first_tag, s.second_tag,\n"
    "         s.num_ratings, s.classification, s.created_ms,\n"
    "         r.finished_ms AS scored_at_ms,\n"
    /*       v2 */
    "         s.intercept_min, s.intercept_max, s.num_final_round_ratings,\n"
    "         s.core_rules, s.meta_rules, s.active_filter_tags,\n"
    "         s.intercept_r1, s.factor_r1, s.provisional_status,\n"
    /*       v5 */
    "         s.low_diligence_intercept,\n"
    /*       v6: every scorer's columns (NS__MODEL_LIST order), the scopes */
    "        " NS__MODEL_COLS "\n"
    "         " NS__NOTE_V6_COLS "\n"
    "  FROM current_run c JOIN note_scores s ON s.run_id = c.run_id\n"
    "  JOIN runs r ON r.run_id = c.run_id;\n"
    "CREATE VIEW status_changes AS\n"
    "  SELECT x.note_id, x.run_id, r.finished_ms AS changed_at_ms,\n"
    "         x.old_status, x.new_status, x.decided_by,\n"
    /*       v2 */
    "         x.prev_run_id, x.old_intercept, x.new_intercept\n"
    "  FROM note_status_changes x JOIN runs r ON r.run_id = x.run_id;\n"
    "CREATE VIEW run_summary AS\n"
    "  SELECT r.run_id, r.status, r.started_ms, r.finished_ms,\n"
    "         (r.finished_ms - r.started_ms) / 1000.0 AS wall_seconds, r.seconds,\n"
    "         r.version, r.params, r.n_ratings, r.n_notes, r.n_raters,\n"
    "         r.n_crh, r.n_crnh, r.n_nmr,\n"
    "         (r.run_id IS (SELECT run_id FROM current_run)) AS is_current,\n"
    /*       v2 */
    "         r.now_ms, r.n_ratings_round1, r.n_ratings_round2,\n"
    "         r.n_raters_round1, r.n_raters_round2,\n"
    "         r.n_notes_round1, r.n_notes_round2, r.mf_passes, r.stage_seconds,\n"
    "         r.global_intercept,\n"
    "         (SELECT max(run_id) FROM runs q WHERE q.status = 'published'\n"
    "          AND q.run_id < r.run_id) AS prev_run_id\n"
    "  FROM runs r;\n"
    "CREATE VIEW rater_reputation AS\n"
    "  SELECT p.participant_id, s.run_id, s.intercept, s.factor, s.agree_ratio,\n"
    "         s.above_threshold, s.trust, s.num_ratings, s.notes_crh, s.notes_crnh,\n"
    "         s.notes_nmr, s.group_id, e.enrollment_state, e.modeling_group,\n"
    /*       v2 */
    "         s.rater_id, s.crh_crnh_ratio_diff, s.mean_note_score,\n"
    "         s.intercept_r1, s.factor_r1,\n"
    "         s.successful_helpful + s.successful_not_helpful AS successful_total,\n"
    "         s.unsuccessful_helpful + s.unsuccessful_not_helpful AS unsuccessful_total,\n"
    "         s.ratings_awaiting,\n"
    /*       v5 */
    "         s.qclique_id\n"
    "  FROM current_run c JOIN rater_scores s ON s.run_id = c.run_id\n"
    "  JOIN participants p ON p.id = s.rater_id\n"
    "  LEFT JOIN user_enrollment e ON e.participant = s.rater_id;\n"
    /* One row per rule that fired on a note of the current run.  kind is
    ** 'core' (the Core scorer's rule chain) or 'meta' (the rules that made
    ** the public status). */
    "CREATE VIEW note_rules AS\n"
    "  SELECT s.note_id, s.run_id, 'core' AS kind, n.bit, n.name AS rule\n"
    "  FROM current_run c JOIN note_scores s ON s.run_id = c.run_id\n"
    "  JOIN rule_names n ON (s.core_rules >> n.bit) & 1\n"
    "  UNION ALL\n"
    "  SELECT s.note_id, s.run_id, 'meta', n.bit, n.name\n"
    "  FROM current_run c JOIN note_scores s ON s.run_id = c.run_id\n"
    "  JOIN rule_names n ON (s.meta_rules >> n.bit) & 1;\n"
    /* A note's status in every published run (filter by note_id: the
    ** note_scores_by_note index answers it). */
    "CREATE VIEW note_history AS\n"
    "  SELECT s.note_id, s.run_id, r.finished_ms AS scored_at_ms,\n"
    "         s.final_status AS status, s.decided_by, s.intercept, s.factor,\n"
    "         s.num_ratings\n"
    "  FROM note_scores s JOIN runs r ON r.run_id = s.run_id\n"
    "  WHERE r.status = 'published';\n"
    /* v6: a note's row with every scorer, one row per scorer of the current
    ** run (Core first, then enum ns_model's order), whether it scored the
    ** note or not (NULL intercept and status: not in its scope).  decided
    ** is 1 on the scorer whose meta rule set the public status (decided_by
    ** names it), else 0.  rules is the scorer's ActiveRules bitmask (bit =
    ** rule_names.bit), rule_names the same as the TSV writes it: "Name
    ** (vX.Y)" joined by ",".  Filter by note_id: the filter is pushed into
    ** every arm, each a primary-key lookup. */
    "CREATE VIEW note_scorers AS\n"
    "  SELECT v.note_id, v.run_id, v.scorer, v.intercept, v.factor, v.status, v.rules,\n"
    "         (SELECT group_concat(n.name || ' (v' || n.version || ')', ',')\n"
    "          FROM rule_names n WHERE (v.rules >> n.bit) & 1) AS rule_names,\n"
    "         v.n_final_round, v.intercept_no_high_vol, v.intercept_no_correlated,\n"
    "         v.decided\n"
    "  FROM (SELECT s.note_id, s.run_id, 'core' AS scorer, s.intercept, s.factor,\n"
    "               s.core_status AS status, s.core_rules AS rules,\n"
    "               CASE WHEN s.core_status IS NULL THEN NULL\n"
    "                    ELSE s.num_final_round_ratings END AS n_final_round,\n"
    "               s.intercept_no_high_vol, s.intercept_no_correlated,\n"
    "               coalesce(s.decided_by = 'CoreModel', 0) AS decided\n"
    "        FROM current_run c JOIN note_scores s ON s.run_id = c.run_id\n"
    SCORER_ARM(core_with_topics, "coreWithTopics", "= 'CoreWithTopicsModel'")
    SCORER_ARM(expansion, "expansion", "= 'ExpansionModel'")
    SCORER_ARM(expansion_plus, "expansionPlus", "= 'ExpansionPlusModel'")
    SCORER_ARM(group, "group", "GLOB 'GroupModel[0-9]*'")
    SCORER_ARM(multi_group, "multiGroup", "GLOB 'MultiGroupModel[0-9]*'")
    SCORER_ARM(topic, "topic", "GLOB 'TopicModel[0-9]*'")
    SCORER_ARM(gaussian, "gaussian", "= 'GaussianModel'")
    SCORER_ARM(gaussian_core_with_topics, "gaussianCoreWithTopics",
               "= 'GaussianCoreWithTopicsModel'")
    "       ) v;\n";

/* Fills the change log for runs published before v2 existed: each published
** run against the published run before it (same rule as the trigger). */
static const char backfill_v2[] =
    "WITH pr AS (SELECT run_id, LAG(run_id) OVER (ORDER BY run_id) AS prev\n"
    "            FROM runs WHERE status = 'published')\n"
    "INSERT OR REPLACE INTO note_status_changes(run_id, note_id, prev_run_id,\n"
    "    old_status, new_status, decided_by, old_intercept, new_intercept)\n"
    "SELECT n.run_id, n.note_id, pr.prev, p.final_status, n.final_status,\n"
    "       n.decided_by, p.intercept, n.intercept\n"
    "FROM pr JOIN note_scores n ON n.run_id = pr.run_id\n"
    "LEFT JOIN note_scores p ON p.run_id = pr.prev AND p.note_id = n.note_id\n"
    "WHERE p.final_status IS NOT n.final_status;\n";

int ns__views_migrate_v2(ns_store *s) {
  int rc = ns__db_exec(s, schema_v2);
  if (rc == 0) rc = ns__db_exec(s, backfill_v2);
  return rc;
}

int ns__views_create(ns_store *s) { return ns__db_exec(s, views_ddl); }
