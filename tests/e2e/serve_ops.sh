#!/usr/bin/env bash
# tests/e2e/serve_ops.sh -- the operator's view of `serve` (docs/operations.md):
#   1. --keep-runs 2: after five or more scheduled runs, only the two newest
#      published runs keep note_scores / rater_scores rows, the run records
#      and the change log stay, and a read-only reader looping on the
#      dashboard views (dash_reader.c, no busy timeout) never gets an error
#      (SQLITE_BUSY included) or a torn run while pruning deletes beside it
#      and ratings are ingested;
#   2. the log: every line timestamped (logfmt), exactly one line per run,
#      naming its run id and status;
#   3. /metrics by the exposition-format rules (a counter is NAME_total, a
#      histogram has cumulative buckets ending in +Inf = _count, every family
#      has HELP and TYPE, no sample outside its family: nothing a parser
#      would rename), build_info and the last-success timestamp present;
#      and `promtool check metrics` when promtool is installed;
#   4. --log-format json: every line one JSON object with ts, level, msg.
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
fail() { echo "FAIL: $*"; [ -f "$T/serve.log" ] && tail -5 "$T/serve.log"; exit 1; }
source tests/e2e/serve_lib.bash

$CC -O2 -o "$T/reader" tests/e2e/dash_reader.c -lsqlite3
"$BIN" gen -o "$T/d" --raters 300 --notes 300 --ratings 24000 --seed 11 -q
"$BIN" import --db "$T/t.db" "$T/d/notes-00000.tsv" "$T/d/ratings-00000.tsv" \
  "$T/d/userEnrollment-00000.tsv" > /dev/null
# two runs from before the server, so the first prune (at start) has work
"$BIN" score --db "$T/t.db" 2> /dev/null
"$BIN" score --db "$T/t.db" 2> /dev/null
before=$(sqlite3 "$T/t.db" "SELECT count(*) FROM runs")

"$T/reader" "$T/t.db" "$T/stop" > "$T/reader.out" 2> "$T/reader.err" &
rpid=$!
pids+=("$rpid")

serve_start "$T" --score-every 0.3 --keep-runs 2
pids+=("$SRV_PID")
# ingest beside the runs and the pruning: the ratings file in 100-row bodies
head -1 "$T/d/ratings-00000.tsv" > "$T/hdr"
sed -n 2,3001p "$T/d/ratings-00000.tsv" | split -l 100 - "$T/b."
for b in "$T"/b.*; do
  code=$(cat "$T/hdr" "$b" | curl -s -o /dev/null -w '%{http_code}' --max-time 30 \
    -H "Content-Type: text/tab-separated-values" --data-binary @- "$URL/v1/ratings")
  [ "$code" = 200 ] || fail "POST /v1/ratings: $code"
done
# at least five runs by the server (the cap only matters on a slow machine)
for _ in $(seq 1 300); do
  n=$(sqlite3 "$T/t.db" "SELECT count(*) FROM runs WHERE status = 'published' AND run_id > $before")
  [ "$n" -ge 5 ] && break
  sleep 0.2
done
[ "$n" -ge 5 ] || fail "only $n runs published by serve"
curl -s --max-time 30 "$URL/metrics" > "$T/metrics"
serve_stop
touch "$T/stop"
set +e
wait "$rpid"; rrc=$?
set -e
[ "$rrc" = 0 ] || { cat "$T/reader.err"; fail "reader failed beside pruning"; }
snaps=$(sed -n 's/.*snapshots=\([0-9]*\).*/\1/p' "$T/reader.out")
[ "$snaps" -gt 5 ] || fail "reader took only $snaps snapshots"

# 1. pruning: the rows of exactly the two newest published runs are left
# (the last run's prune may still have been running at SIGTERM: it is
# canceled between batches, so allow the one run it was deleting)
published=$(sqlite3 "$T/t.db" "SELECT count(*) FROM runs WHERE status = 'published'")
newest2=$(sqlite3 "$T/t.db" "SELECT group_concat(run_id) FROM (SELECT run_id FROM runs
  WHERE status = 'published' ORDER BY run_id DESC LIMIT 2)")
for tbl in note_scores rater_scores; do
  have=$(sqlite3 "$T/t.db" "SELECT group_concat(run_id) FROM (SELECT DISTINCT run_id FROM $tbl ORDER BY run_id DESC)")
  nhave=$(sqlite3 "$T/t.db" "SELECT count(DISTINCT run_id) FROM $tbl")
  case "$nhave" in
    2) [ "$have" = "$newest2" ] || fail "$tbl keeps runs $have, want $newest2" ;;
    3) [ "$(echo "$have" | cut -d, -f1,2)" = "$newest2" ] || fail "$tbl keeps runs $have" ;;
    *) fail "$tbl keeps $nhave runs ($have) of $published, want 2" ;;
  esac
done
[ "$published" -ge 7 ] || fail "$published published runs"
# the record of every run stays, and so does the change log of pruned runs
[ "$(sqlite3 "$T/t.db" "SELECT count(*) FROM runs")" -ge 7 ] || fail "runs rows deleted"
[ "$(sqlite3 "$T/t.db" "SELECT count(*) FROM note_status_changes WHERE run_id = 1")" = 300 ] \
  || fail "status change log of the pruned first run (300 new notes) not kept"
[ "$(sqlite3 "$T/t.db" "PRAGMA integrity_check")" = ok ] || fail "integrity_check"
grep -q 'msg="serve: pruned old runs" keep_runs=2 ' "$T/serve.log" || fail "no prune line"

# 2. the log: every line timestamped; one line per run of this server
ts='^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z level=(error|warn|info|debug) msg='
bad=$(grep -cvE "$ts" "$T/serve.log" || true)
[ "$bad" = 0 ] || { grep -vE "$ts" "$T/serve.log" | head -3; fail "$bad log lines without a timestamp"; }
runs_db=$(sqlite3 "$T/t.db" "SELECT group_concat(run_id) FROM (SELECT run_id FROM runs WHERE run_id > $before ORDER BY run_id)")
runs_log=$(grep -E "$ts"'"serve: scoring run" run_id=[0-9]+ status=' "$T/serve.log" \
  | sed -E 's/.* run_id=([0-9]+) .*/\1/' | paste -sd, -)
[ "$runs_log" = "$runs_db" ] || fail "runs in the log ($runs_log) are not the server's runs ($runs_db), one line each"
grep -qE "$ts"'"serve: scoring run" run_id=[0-9]+ status=published seconds=[0-9.e-]+ notes=300$' \
  "$T/serve.log" || fail "run line fields"

# 3. /metrics by the exposition-format rules
awk '
  function fail(m) { print "metrics: " m ": " $0; bad = 1; exit 1 }
  /^# HELP / { help[$3] = 1; next }
  /^# TYPE / {
    if ($3 in type) fail("TYPE twice")
    type[$3] = $4; fam = $3
    if (!($3 in help)) fail("TYPE without HELP")
    if ($4 == "counter" && $3 !~ /_total$/) fail("counter not named _total")
    if ($4 != "counter" && $3 ~ /_total$/) fail("_total on a " $4)
    if ($4 == "gauge" && $3 ~ /_(sum|count|bucket)$/) fail("gauge named like a histogram part")
    if ($4 != "counter" && $4 != "gauge" && $4 != "histogram") fail("unexpected type")
    next
  }
  /^#/ { next }
  {
    if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*\})? [-+0-9.eE]+(Inf)?$/)
      fail("malformed sample")
    name = $1; sub(/\{.*/, "", name)
    if (type[fam] == "histogram") {
      if (name == fam "_bucket") {
        le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
        if ($2 + 0 < last) fail("buckets not cumulative")
        last = $2 + 0
        if (le == "+Inf") inf = $2 + 0
      } else if (name == fam "_count") {
        if ($2 + 0 != inf) fail("_count differs from the +Inf bucket")
        last = 0
      } else if (name != fam "_sum") fail("sample outside its histogram")
    } else if (name != fam) fail("sample outside its family " fam)
    seen[name] = 1
  }
  END {
    if (bad) exit 1
    n = split("notescore_build_info notescore_last_run_success_timestamp_seconds " \
              "notescore_run_seconds_count notescore_runs_total notescore_refresh_seconds_sum " \
              "notescore_pruned_rows_total process_start_time_seconds", want, " ")
    for (i = 1; i <= n; i++) if (!(want[i] in seen)) { print "metrics: missing " want[i]; exit 1 }
  }' "$T/metrics" || fail "/metrics breaks the exposition format"
grep -qE '^notescore_build_info\{version="[^"]+"\} 1$' "$T/metrics" || fail "build_info"
last_ok=$(sqlite3 "$T/t.db" "SELECT max(finished_ms) FROM runs WHERE status = 'published'")
got=$(awk '/^notescore_last_run_success_timestamp_seconds / {printf "%.0f", $2 * 1000}' "$T/metrics")
# scraped before the last runs finished: not after the newest published run
[ "$got" -le "$last_ok" ] && [ "$got" -gt $((last_ok - 60000)) ] || fail "last success $got vs DB $last_ok"
pub=$(awk '/^notescore_runs_total\{status="published"\}/ {print $2}' "$T/metrics")
cnt=$(awk '/^notescore_run_seconds_count/ {print $2}' "$T/metrics")
[ "$pub" -ge 5 ] && [ "$cnt" -ge "$pub" ] || fail "runs_total published=$pub, run_seconds_count=$cnt"
if command -v promtool > /dev/null; then
  promtool check metrics < "$T/metrics" > "$T/promtool.out" 2>&1 || { cat "$T/promtool.out"; fail "promtool"; }
  promcheck="promtool ok"
else
  promcheck="promtool not installed"
fi

# 4. JSON lines
rm -f "$T/serve.log"
serve_start "$T" --log-format json --score-every 0.2
for _ in $(seq 1 100); do
  grep -q '"msg":"serve: scoring run"' "$T/serve.log" 2>/dev/null && break
  sleep 0.1
done
serve_stop
jq -e 'select((.ts | test("^[0-9-]{10}T[0-9:.]{12}Z$")) and (.level | type == "string")
       and (.msg | type == "string")) | 1' "$T/serve.log" > "$T/jq.out" \
  || fail "json log lines"
[ "$(wc -l < "$T/jq.out")" = "$(wc -l < "$T/serve.log")" ] || fail "a log line is not a JSON record"
jq 'select(.msg == "serve: scoring run") | .run_id > 0 and .status == "published"' \
  "$T/serve.log" | grep -q true || fail "json run line"

echo "ok: $published runs, rows of 2 kept, reader $snaps snapshots without error; $(wc -l < "$T/jq.out") JSON lines; $promcheck"
