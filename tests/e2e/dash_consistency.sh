#!/usr/bin/env bash
# tests/e2e/dash_consistency.sh -- readers never block the writer and never
# see half a run.  A read-only reader (tests/e2e/dash_reader.c, no busy
# timeout) queries the dashboard views in a loop, one read transaction per
# snapshot, while `notescore score --db` publishes run after run and an
# importer adds ratings between and during the runs, then while `serve`
# ingests ratings over HTTP and publishes scheduled runs.  Every snapshot must be
# one whole published run (summary counts = view rows, change log = its
# recomputation) and no SQLite error (SQLITE_BUSY included) may happen.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
CC=${CC:-cc}
T=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

$CC -O2 -o "$T/reader" tests/e2e/dash_reader.c -lsqlite3

"$BIN" gen -o "$T/d" --raters 300 --notes 300 --ratings 24000 --seed 7 -q
# ratings in 6 chunks, each a valid ratings file (header + rows)
head -1 "$T/d/ratings-00000.tsv" > "$T/hdr"
tail -n +2 "$T/d/ratings-00000.tsv" > "$T/rows"
split -n l/6 -d "$T/rows" "$T/chunk."
for c in "$T"/chunk.*; do cat "$T/hdr" "$c" > "$c.tsv"; rm "$c"; done
"$BIN" import --db "$T/t.db" "$T/d/notes-00000.tsv" "$T/d/noteStatusHistory-00000.tsv" \
  "$T/d/userEnrollment-00000.tsv" "$T/chunk.00.tsv" > /dev/null
"$BIN" score --db "$T/t.db" 2> /dev/null

"$T/reader" "$T/t.db" "$T/stop" > "$T/reader.out" 2> "$T/reader.err" &
rpid=$!
pids+=("$rpid")
# writers start once the reader holds its connection (dash_reader.c: a WAL
# index rebuild by the first opener would otherwise race its first read)
for _ in $(seq 1 300); do
  [ -e "$T/stop.ready" ] && break
  kill -0 "$rpid" 2>/dev/null || break
  sleep 0.1
done
[ -e "$T/stop.ready" ] || { echo >&2 "reader did not start:"; cat >&2 "$T/reader.err"; exit 1; }

# importer: re-imports (upserts) the chunks in a loop while runs publish
(
  while [ ! -e "$T/stop_import" ]; do
    for c in "$T"/chunk.0[1-5].tsv; do
      "$BIN" import --db "$T/t.db" "$c" > /dev/null 2>&1 || exit 1
      [ -e "$T/stop_import" ] && break
    done
  done
) &
ipid=$!
pids+=("$ipid")

# writer: a run after each new chunk, then a few more
runs=1
for i in 1 2 3 4 5 1 2 3; do
  "$BIN" import --db "$T/t.db" "$T/chunk.0$i.tsv" > /dev/null
  "$BIN" score --db "$T/t.db" 2> /dev/null
  runs=$((runs + 1))
done
touch "$T/stop_import"
wait "$ipid" && irc=0 || irc=$?

# phase 2: the daemon ingests ratings over HTTP and publishes scheduled runs
# (--score-every) and note refreshes in place (--refresh-every) while the
# reader keeps reading
source tests/e2e/serve_lib.bash
serve_start "$T" --score-every 0.3 --refresh-every 0.1
pids+=("$SRV_PID")
# the same ratings with HELPFUL and NOT_HELPFUL swapped: changed ratings,
# so refreshes rewrite notes of the current run and statuses move
for c in "$T"/chunk.0[0-5].tsv; do
  awk -F'\t' -v OFS='\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "helpfulnessLevel") k = i }
    NR > 1 && k { if ($k == "HELPFUL") $k = "NOT_HELPFUL"; else if ($k == "NOT_HELPFUL") $k = "HELPFUL" }
    { print }' "$c" > "$c.flip"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Content-Type: text/tab-separated-values" \
    --data-binary @"$c.flip" "$URL/v1/ratings")
  [ "$code" = 200 ] || { echo >&2 "POST /v1/ratings: $code"; exit 1; }
  sleep 0.3
done
# Waits end as soon as their condition holds; the caps (180 s) only matter on
# a slow machine (sanitizer builds under load, where the niced scoring thread
# waits longest).
for _ in $(seq 1 900); do   # at least 3 scheduled runs published
  n=$(sqlite3 -cmd ".timeout 10000" "$T/t.db" "SELECT count(*) FROM runs WHERE status = 'published'")
  [ "$n" -ge $((runs + 3)) ] && break
  sleep 0.2
done
# and at least one refresh.  A refresh refits only notes whose ratings came
# after the base run, so one must fall between a POST and the next scheduled
# run: with both every 0.3 s they can lock in step, every change absorbed by
# a run first.  So while waiting, a chunk goes in again every second (its
# original and flipped ratings by turns: real changes), out of step with
# the runs.
chunks=("$T"/chunk.0[0-5].tsv)
k=0
for i in $(seq 1 900); do
  refreshed=$(curl -s "$URL/metrics" | awk '/^notescore_refreshed_notes_total/ {print $2}')
  [ "${refreshed:-0}" -gt 0 ] && break
  if [ $((i % 5)) = 0 ]; then
    c=${chunks[$((k % ${#chunks[@]}))]}
    [ $((k / ${#chunks[@]} % 2)) = 0 ] || c=$c.flip
    k=$((k + 1))
    curl -s -o /dev/null -H "Content-Type: text/tab-separated-values" --data-binary @"$c" \
      "$URL/v1/ratings" || true
  fi
  sleep 0.2
done
[ "${refreshed:-0}" -gt 0 ] || {
  echo >&2 "serve refreshed no note: the test lost its refresh half; serve's log ends:"
  tail -n 20 "$T/serve.log" >&2
  exit 1
}
serve_stop
touch "$T/stop"

set +e
wait "$rpid"; rrc=$?
set -e
cat "$T/reader.out"
if [ "$rrc" != 0 ]; then
  echo >&2 "reader failed:"; cat >&2 "$T/reader.err"; exit 1
fi
[ "$irc" = 0 ] || { echo >&2 "concurrent importer failed"; exit 1; }

published=$(sqlite3 -cmd ".timeout 10000" "$T/t.db" "SELECT count(*) FROM runs WHERE status = 'published'")
[ "$published" -ge $((runs + 3)) ] || { echo >&2 "published $published runs, want >= $((runs + 3))"; exit 1; }
snaps=$(sed -n 's/.*snapshots=\([0-9]*\).*/\1/p' "$T/reader.out")
seen=$(sed -n 's/.*runs=\([0-9]*\).*/\1/p' "$T/reader.out")
# the reader must really have overlapped the writer: many snapshots, and
# more than one run seen
[ "$snaps" -gt "$published" ] || { echo >&2 "only $snaps snapshots"; exit 1; }
[ "$seen" -ge 4 ] || { echo >&2 "reader saw $seen runs"; exit 1; }
# the change log matches a recomputation for every published run
bad=$(sqlite3 -cmd ".timeout 10000" "$T/t.db" "
  SELECT count(*) FROM run_summary r WHERE r.status = 'published' AND
    (SELECT count(*) FROM status_changes c WHERE c.run_id = r.run_id) <>
    (SELECT count(*) FROM note_scores n LEFT JOIN note_scores p
       ON p.run_id = r.prev_run_id AND p.note_id = n.note_id
     WHERE n.run_id = r.run_id AND p.final_status IS NOT n.final_status)")
[ "$bad" = 0 ] || { echo >&2 "$bad runs with a wrong change log"; exit 1; }
changed=$(sqlite3 -cmd ".timeout 10000" "$T/t.db" "SELECT count(*) FROM status_changes WHERE old_status IS NOT NULL")
[ "$changed" -gt 0 ] || { echo >&2 "no status ever changed: the test data is too static"; exit 1; }
echo "ok: ${refreshed:-0} notes refreshed in place; $published runs ($runs by score, the rest by serve), reader saw $seen, $snaps consistent snapshots, $changed status changes"
