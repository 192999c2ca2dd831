#!/usr/bin/env bash
# tests/e2e/serve_score.sh -- scheduled scoring inside `serve`: runs are
# published while the server ingests, and the read endpoints show them.
set -euo pipefail
. tests/e2e/serve_lib.bash
T=$(mktemp -d)
trap '[ -n "${SRV_PID:-}" ] && kill -9 "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/serve.log" 2>/dev/null; exit 1; }

"$NS_BIN" gen -o "$T/data" --raters 150 --notes 60 --ratings 3000 --seed 3 >/dev/null 2>&1
rm -f "$T"/data/truth_*.tsv
"$NS_BIN" import --db "$T/t.db" "$T/data" >/dev/null 2>&1
serve_start "$T" --score-every 0.3
for _ in $(seq 1 100); do
  [ "$(status GET /v1/runs/latest)" = 200 ] && break
  sleep 0.1
done
latest=$(curl -s "$URL/v1/runs/latest")
echo "$latest" | grep -q '"status":"published"' || fail "latest run: $latest"
note=$(sqlite3 "$T/t.db" "SELECT note_id FROM current_note_status ORDER BY note_id LIMIT 1")
out=$(curl -s "$URL/v1/notes/$note")
echo "$out" | grep -q "\"noteId\":\"$note\"" || fail "note: $out"
echo "$out" | grep -q '"rules":\[' || fail "note rules: $out"
[ "$(status GET /v1/notes/1)" = 404 ] || fail "unknown note"
runs=$(curl -s "$URL/v1/runs")
echo "$runs" | grep -q '"runs":\[{' || fail "runs: $runs"
m=$(curl -s "$URL/metrics")   # (not piped into grep -q: SIGPIPE + pipefail)
echo "$m" | grep -q 'notescore_notes_by_status{status="NEEDS_MORE_RATINGS"}' || fail "status metric"
serve_stop
# nothing is left "running" after a clean stop
[ "$(sqlite3 "$T/t.db" "SELECT count(*) FROM runs WHERE status = 'running'")" = 0 ] || fail "run left running"
echo ok
