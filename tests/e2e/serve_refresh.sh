#!/usr/bin/env bash
# tests/e2e/serve_refresh.sh -- note refresh inside `serve` (--refresh-every):
# after the initial full run, NOT_HELPFUL ratings posted on a helpful note
# move its status within refresh-every + 2 s, without another full run.
set -euo pipefail
. tests/e2e/serve_lib.bash
T=$(mktemp -d)
trap '[ -n "${SRV_PID:-}" ] && kill -9 "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/serve.log" 2>/dev/null; exit 1; }
now_ms() { date +%s%3N; }

# Notes from the last week (younger than the two-week lock, so a status can move).
"$NS_BIN" gen -o "$T/data" --raters 300 --notes 200 --ratings 12000 --seed 3 \
  --epoch-millis "$(now_ms)" --weeks 1 >/dev/null 2>&1
rm -f "$T"/data/truth_*.tsv
"$NS_BIN" import --db "$T/t.db" "$T/data" >/dev/null 2>&1
REFRESH=1
serve_start "$T" --score-every 3600 --refresh-every "$REFRESH"
for _ in $(seq 1 200); do
  [ "$(status GET /v1/runs/latest)" = 200 ] && break
  sleep 0.1
done
[ "$(status GET /v1/runs/latest)" = 200 ] || fail "no initial full run"

note=$(sqlite3 "$T/t.db" "SELECT note_id FROM current_note_status
  WHERE status = 'CURRENTLY_RATED_HELPFUL' ORDER BY num_ratings LIMIT 1")
[ -n "$note" ] || fail "no helpful note after the full run"
# the note's own status (jq: the object also lists each scorer's status,
# which a refresh carries over from the full run)
note_status() { curl -s "$URL/v1/notes/$1" | jq -r .status; }
[ "$(note_status "$note")" = CURRENTLY_RATED_HELPFUL ] || fail "note $note not CRH"

# Raters with round-2 parameters (both factor sides) that have not rated it yet.
sqlite3 "$T/t.db" "SELECT p.participant_id FROM rater_scores s
  JOIN participants p ON p.id = s.rater_id
  WHERE s.run_id = (SELECT run_id FROM current_run) AND s.intercept IS NOT NULL
    AND s.factor IS NOT NULL
    AND s.rater_id NOT IN (SELECT rater_id FROM ratings WHERE note_id = $note)" > "$T/raters"
neg=$(sqlite3 "$T/t.db" "SELECT count(*) FROM rater_scores WHERE run_id = (SELECT run_id FROM current_run)
  AND factor < 0 AND rater_id NOT IN (SELECT rater_id FROM ratings WHERE note_id = $note)")
pos=$(sqlite3 "$T/t.db" "SELECT count(*) FROM rater_scores WHERE run_id = (SELECT run_id FROM current_run)
  AND factor >= 0 AND rater_id NOT IN (SELECT rater_id FROM ratings WHERE note_id = $note)")
[ "$neg" -ge 10 ] && [ "$pos" -ge 10 ] || fail "too few raters on a side: $neg / $pos"
t=$(now_ms)
while read -r r; do
  printf '{"noteId":"%s","raterParticipantId":"%s","createdAtMillis":%s,"helpfulnessLevel":"NOT_HELPFUL","notHelpfulIncorrect":1,"notHelpfulSourcesMissingOrUnreliable":1}\n' \
    "$note" "$r" "$t"
done < "$T/raters" > "$T/r.ndjson"
n=$(wc -l < "$T/r.ndjson")
out=$(curl -s -H "Content-Type: application/x-ndjson" --data-binary @"$T/r.ndjson" "$URL/v1/ratings")
echo "$out" | grep -q "\"accepted\":$n" || fail "ingest: $out"
posted=$(now_ms)

# The status must move within refresh-every + 2 s of the durable answer
# (+ NS_TEST_SLACK_MS under a slow sanitizer: `make check SAN=thread`).
deadline=$((posted + REFRESH * 1000 + 2000 + ${NS_TEST_SLACK_MS:-0}))
moved=0
while [ "$(now_ms)" -le "$deadline" ]; do
  if [ "$(note_status "$note")" != CURRENTLY_RATED_HELPFUL ]; then
    moved=1
    break
  fi
  sleep 0.1
done
[ "$moved" = 1 ] || fail "note $note still CRH $((REFRESH + 2)) s after $n NOT_HELPFUL ratings"
echo "note $note moved after $(( $(now_ms) - posted )) ms: $(curl -s "$URL/v1/notes/$note" | grep -o '"status":"[A-Z_]*"')"
# ... by a refresh, not by a new full run
[ "$(sqlite3 "$T/t.db" "SELECT count(*) FROM runs")" = 1 ] || fail "a second full run happened"
m=$(curl -s "$URL/metrics")
echo "$m" | grep -q 'notescore_refreshes_total{status="ok"} [1-9]' || fail "refresh metric: $m"
echo "$m" | grep -q 'notescore_refreshed_notes_total [1-9]' || fail "refreshed notes metric"
echo "$m" | grep -q 'notescore_refreshes_total{status="failed"} 0' || fail "failed refreshes"
# the history follows the refreshed status
hs=$(sqlite3 "$T/t.db" "SELECT current_status FROM note_status_history WHERE note_id = $note")
[ "$hs" != "CURRENTLY_RATED_HELPFUL" ] && [ -n "$hs" ] || fail "history status: $hs"
serve_stop
echo ok
