#!/usr/bin/env bash
# make demo: generate ~200 k synthetic ratings in the public format, import
# them into a SQLite DB, score them (publishing a run), and print summaries.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${NS_BIN:-build/notescore}
DIR=${DEMO_DIR:-demo-data}
rm -rf "$DIR"
mkdir -p "$DIR"

echo "== 1. generate synthetic data with ground truth ($DIR/input)"
"$BIN" gen -o "$DIR/input" --raters 3000 --notes 3000 --ratings 200000 --seed 1

echo
echo "== 2. import into $DIR/notescore.db"
"$BIN" import --db "$DIR/notescore.db" "$DIR"/input/{notes,ratings,noteStatusHistory,userEnrollment}-*.tsv

echo
echo "== 3. DB summary"
sqlite3 "$DIR/notescore.db" <<'SQL'
.mode column
SELECT 'participants' AS "table", COUNT(*) AS "rows" FROM participants
UNION ALL SELECT 'notes', COUNT(*) FROM notes
UNION ALL SELECT 'ratings', COUNT(*) FROM ratings
UNION ALL SELECT 'note_status_history', COUNT(*) FROM note_status_history
UNION ALL SELECT 'user_enrollment', COUNT(*) FROM user_enrollment;
SQL

echo
echo "== 4. score the DB (one published run) and write TSV outputs to $DIR/out"
"$BIN" score --db "$DIR/notescore.db" -o "$DIR/out"

echo
echo "== 5. status summary of the published run"
sqlite3 "$DIR/notescore.db" <<'SQL'
.mode column
SELECT status, COUNT(*) AS notes FROM current_note_status GROUP BY 1 ORDER BY 2 DESC;
SQL

echo
echo "== 6. quality against the generator's ground truth"
"$BIN" eval --truth "$DIR/input" --scores "$DIR/out"

echo
echo "outputs:"
echo "  database      $DIR/notescore.db   (views: current_note_status, status_changes, run_summary, rater_reputation)"
echo "  scored notes  $DIR/out/scored_notes.tsv"
echo "  raters        $DIR/out/helpfulness_scores.tsv"
echo "  history       $DIR/out/note_status_history.tsv"
