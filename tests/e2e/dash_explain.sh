#!/usr/bin/env bash
# tests/e2e/dash_explain.sh -- `notescore explain` through the CLI on a tiny
# scored gen data set: usage errors, no published run, unknown note, and
# for a CRH note the JSON fields against the DB (status, decidedBy, the
# GeneralCRH rule with its limit, rating counts by side adding up to the
# note's ratings, one history entry per published run) and the text form.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
j() { sqlite3 :memory: "SELECT json_extract(readfile('$T/e.json'), '$1')"; }

"$BIN" explain --help | grep -q -- '--json'
set +e
"$BIN" explain --db "$T/db" 2>/dev/null; rc1=$?
"$BIN" explain --db "$T/db" abc 2>/dev/null; rc2=$?
"$BIN" explain --db "$T/db" 1 --bogus 2>/dev/null; rc3=$?
set -e
[ "$rc1" = 2 ] && [ "$rc2" = 2 ] && [ "$rc3" = 2 ] || { echo "usage exits $rc1 $rc2 $rc3, want 2"; exit 1; }

"$BIN" gen -o "$T/d" --raters 300 --notes 200 --ratings 12000 --seed 11 -q
"$BIN" import --db "$T/db" "$T/d/notes-00000.tsv" "$T/d/ratings-00000.tsv" \
  "$T/d/noteStatusHistory-00000.tsv" "$T/d/userEnrollment-00000.tsv" > /dev/null
note=$(sqlite3 "$T/db" "SELECT note_id FROM notes ORDER BY note_id LIMIT 1")

set +e
"$BIN" explain --db "$T/db" "$note" 2> "$T/err"; rc=$?
set -e
[ "$rc" = 1 ] || { echo "no run: exit $rc, want 1"; exit 1; }
grep -q 'no published scoring run' "$T/err"

"$BIN" score --db "$T/db" 2>/dev/null
"$BIN" score --db "$T/db" 2>/dev/null
set +e
"$BIN" explain --db "$T/db" 12345 2> "$T/err"; rc=$?
set -e
[ "$rc" = 1 ] || { echo "unknown note: exit $rc, want 1"; exit 1; }
grep -q 'note 12345 is not in the current run 2' "$T/err"

crh=$(sqlite3 "$T/db" "SELECT note_id FROM current_note_status
                        WHERE status = 'CURRENTLY_RATED_HELPFUL' ORDER BY note_id LIMIT 1")
[ -n "$crh" ] || { echo "no CRH note in the test data"; exit 1; }
"$BIN" explain --db "$T/db" "$crh" --json > "$T/e.json"
[ "$(j '$.noteId')" = "$crh" ]
[ "$(j '$.runId')" = 2 ]
[ "$(j '$.status')" = CURRENTLY_RATED_HELPFUL ]
[ "$(j '$.decidedBy')" = "$(sqlite3 "$T/db" "SELECT decided_by FROM current_note_status WHERE note_id = $crh")" ]
[ "$(sqlite3 :memory: "SELECT count(*) FROM json_each(json_extract(readfile('$T/e.json'), '\$.rules'))
                        WHERE json_extract(value, '\$.name') = 'GeneralCRH'
                          AND json_extract(value, '\$.limit') = 0.4")" = 1 ]
n=$(sqlite3 "$T/db" "SELECT count(*) FROM ratings WHERE note_id = $crh")
[ "$(j '$.ratings.total')" = "$n" ]
sides=$(( $(j '$.ratings.bySide.neg.total') + $(j '$.ratings.bySide.pos.total') + $(j '$.ratings.bySide.none.total') ))
[ "$sides" = "$n" ] || { echo "sides add to $sides, want $n"; exit 1; }
lv=$(( $(j '$.ratings.byLevel.helpful') + $(j '$.ratings.byLevel.somewhatHelpful') + $(j '$.ratings.byLevel.notHelpful') ))
[ "$lv" = "$n" ] || { echo "levels add to $lv, want $n"; exit 1; }
[ "$(j '$.history[#-1].runId')" = 2 ] && [ "$(j '$.history[0].runId')" = 1 ]
[ "$(j '$.intercept')" = "$(sqlite3 "$T/db" "SELECT intercept FROM current_note_status WHERE note_id = $crh")" ]

"$BIN" explain --db "$T/db" "$crh" > "$T/e.txt"
grep -q "^note $crh " "$T/e.txt"
grep -q 'GeneralCRH' "$T/e.txt"
grep -q 'ratings by rater factor side' "$T/e.txt"
echo "ok: explained note $crh ($n ratings)"

# A note the tag filter fired on: its TagFilter rule names the tags of
# active_filter_tags (bit t = tag_names row t).
tf=$(sqlite3 "$T/db" "SELECT s.note_id FROM note_scores s JOIN current_run c USING (run_id)
                       WHERE s.core_rules >> (SELECT bit FROM rule_names WHERE name = 'TagFilter') & 1
                       ORDER BY s.note_id LIMIT 1")
[ -n "$tf" ] || { echo "no TagFilter note in the test data"; exit 1; }
want=$(sqlite3 "$T/db" "SELECT group_concat(t.name, ' ') FROM (SELECT name FROM tag_names
                         WHERE (SELECT active_filter_tags FROM note_scores s JOIN current_run c USING (run_id)
                                WHERE s.note_id = $tf) >> bit & 1 ORDER BY bit) t")
"$BIN" explain --db "$T/db" "$tf" --json > "$T/e.json"
got=$(sqlite3 :memory: "SELECT json_extract(value, '\$.threshold') FROM
        json_each(json_extract(readfile('$T/e.json'), '\$.rules')) WHERE json_extract(value, '\$.name') = 'TagFilter'")
case "$got" in *": $want") ;; *) echo "TagFilter text '$got' does not end with ': $want'"; exit 1 ;; esac
echo "ok: TagFilter on note $tf names $want"
