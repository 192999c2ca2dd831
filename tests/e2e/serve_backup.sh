#!/usr/bin/env bash
# tests/e2e/serve_backup.sh -- `notescore backup` of a DB that `serve` is
# ingesting into and scoring: the copy passes PRAGMA integrity_check, holds
# every rating acknowledged (200) before the backup started, and nothing that
# was never acknowledged; it opens as a notescore DB.  Bad uses fail with a
# message: an existing OUT without --force, OUT = the DB, a missing DB, a
# file that is not a notescore DB, no OUT.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
source tests/e2e/serve_lib.bash

"$BIN" gen -o "$T/d" --raters 200 --notes 200 --ratings 10000 --seed 5 -q
"$BIN" import --db "$T/t.db" "$T/d/notes-00000.tsv" "$T/d/ratings-00000.tsv" > /dev/null
sqlite3 "$T/t.db" "SELECT note_id FROM notes ORDER BY note_id LIMIT 50" > "$T/notes.ids"
serve_start "$T" --score-every 0.3
pids+=("$SRV_PID")

# ingest: batch k = 50 new ratings by raters bK_J; k is appended to acked
# only after its 200 (an ack means durable)
: > "$T/acked"
(
  k=0
  while [ ! -e "$T/stop" ]; do
    k=$((k + 1))
    awk -v k="$k" '{ printf "{\"noteId\":%s,\"raterParticipantId\":\"b%d_%d\",\"createdAtMillis\":1700000000000,\"helpfulnessLevel\":\"HELPFUL\"}\n", $1, k, NR }' \
      "$T/notes.ids" > "$T/body"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H "Content-Type: application/x-ndjson" \
      --data-binary @"$T/body" "$URL/v1/ratings")
    [ "$code" = 200 ] || { echo "batch $k: $code" > "$T/ingest.err"; exit 1; }
    echo "$k" >> "$T/acked"
  done
) &
ipid=$!
pids+=("$ipid")

for _ in $(seq 1 200); do [ "$(wc -l < "$T/acked")" -ge 10 ] && break; sleep 0.05; done
# three backups while ingest and runs go on; acked before each is noted
# right before it starts
for i in 1 2 3; do
  n_before=$(wc -l < "$T/acked")
  "$BIN" backup --db "$T/t.db" "$T/b$i.db" > "$T/b$i.out" || fail "backup $i failed"
  grep -qE "^backup: .* -> $T/b$i.db: [0-9]+ pages, [0-9.]+ MiB in [0-9.]+ s$" "$T/b$i.out" \
    || fail "backup summary: $(cat "$T/b$i.out")"
  echo "$n_before" > "$T/b$i.acked"
  sleep 0.3
done
touch "$T/stop"
wait "$ipid" || fail "ingest: $(cat "$T/ingest.err" 2>/dev/null)"
n_final=$(wc -l < "$T/acked")
serve_stop

for i in 1 2 3; do
  b="$T/b$i.db"
  n_before=$(cat "$T/b$i.acked")
  [ "$(sqlite3 "$b" "PRAGMA integrity_check")" = ok ] || fail "backup $i: integrity_check"
  # every batch acked before the backup started is there, whole
  got=$(sqlite3 "$b" "SELECT count(*) FROM ratings r JOIN participants p ON p.id = r.rater_id
    WHERE p.participant_id GLOB 'b*_*'
      AND CAST(substr(p.participant_id, 2, instr(p.participant_id, '_') - 2) AS INTEGER) <= $n_before")
  [ "$got" = $((n_before * 50)) ] || fail "backup $i: $got ratings of the $n_before acked batches, want $((n_before * 50))"
  # nothing beyond what the server acknowledged by the end (+1 batch in flight)
  all=$(sqlite3 "$b" "SELECT count(*) FROM participants WHERE participant_id GLOB 'b*_*'")
  [ "$all" -le $(((n_final + 1) * 50)) ] || fail "backup $i: $all raters, acked $n_final batches"
  [ $((all % 50)) = 0 ] || fail "backup $i holds half a batch ($all raters)"
  [ "$(sqlite3 "$b" "PRAGMA user_version")" = "$(sqlite3 "$T/t.db" "PRAGMA user_version")" ] \
    || fail "backup $i: schema version"
done
[ "$(cat "$T/b3.acked")" -gt "$(cat "$T/b1.acked")" ] || fail "ingest did not run during the backups"
# a backup is a working DB: score it
"$BIN" score --db "$T/b3.db" 2> /dev/null || fail "score --db on the backup"

# bad uses
expect_fail() {
  local want=$1; shift
  if "$BIN" "$@" > "$T/out" 2> "$T/err"; then fail "should fail: $*"; fi
  grep -qF -- "$want" "$T/err" || fail "$*: message: $(cat "$T/err")"
}
expect_fail "b1.db: exists (use --force to replace it)" backup --db "$T/t.db" "$T/b1.db"
"$BIN" backup --db "$T/t.db" --force "$T/b1.db" > /dev/null || fail "--force"
expect_fail "is the database itself" backup --db "$T/t.db" --force "$T/t.db"
expect_fail "$T/none.db" backup --db "$T/none.db" "$T/x.db"
echo "not sqlite" > "$T/junk.db"
expect_fail "$T/junk.db" backup --db "$T/junk.db" "$T/x.db"
expect_fail "OUT is required" backup --db "$T/t.db"
[ ! -e "$T/x.db" ] || fail "a failed backup left its output"
ls "$T" | grep -q '\.tmp-' && fail "temporary file left behind"
echo "ok: 3 backups during ingest ($(cat "$T/b1.acked"), $(cat "$T/b2.acked"), $(cat "$T/b3.acked") batches acked before each; $n_final in all), integrity ok, acked rows complete"
