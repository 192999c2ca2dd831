#!/usr/bin/env bash
# Ingest load test for `make bench`: starts `notescore serve` on loopback
# with a fresh DB on disk and drives it with build/ns-loadgen (8 keep-alive
# connections, 1000-rating NDJSON bodies, every batch durably committed
# before its ack).  First closed-loop (max sustained rate), then an
# open-loop run at half that rate for latency.  Appends a section to
# docs/benchmarks.md (or to $1 if given).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${NS_BIN:-build/notescore}
LG=${NS_LOADGEN:-build/ns-loadgen}
OUT=${1:-docs/benchmarks.md}
SECS=${BENCH_INGEST_SECONDS:-10}
make --no-print-directory "$LG" >/dev/null
T=$(mktemp -d)
trap 'kill $SRV_PID 2>/dev/null || true; rm -rf "$T"' EXIT
"$BIN" serve --db "$T/ingest.db" --listen 127.0.0.1:0 --port-file "$T/port" 2>"$T/serve.log" &
SRV_PID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
PORT=$(cat "$T/port")

echo "  ingest: closed loop, 8 connections x 1000-rating bodies, ${SECS}s" >&2
max=$("$LG" --port "$PORT" --conns 8 --rows 1000 --seconds "$SECS")
rate=$(echo "$max" | grep -o '[0-9.]* ratings/s' | head -1 | awk '{printf "%d", $1 / 2}')
echo "  ingest: open loop at $rate ratings/s" >&2
half=$("$LG" --port "$PORT" --conns 8 --rows 1000 --seconds "$SECS" --rate "$rate")
kill -TERM $SRV_PID; wait $SRV_PID || true
rows=$(sqlite3 "$T/ingest.db" "SELECT count(*) FROM ratings")
{
  echo
  echo "## HTTP ingest (\`notescore serve\`, durable group commit, synchronous=FULL)"
  echo
  echo "tools/bench_ingest.sh: ns-loadgen on loopback, 8 keep-alive connections, 1000-rating NDJSON"
  echo "bodies to POST /v1/ratings, each acknowledged only after its batch is committed; ${SECS} s per row."
  echo "$rows ratings were in the DB afterwards."
  echo
  echo "| mode | ns-loadgen output |"
  echo "|---|---|"
  echo "| closed loop (max sustained) | $max |"
  echo "| open loop at half that rate | $half |"
  echo
  echo "Targets: ≥ 100 k ratings/s sustained with durable acks; p99 ack latency < 100 ms at half that rate."
} >>"$OUT"
echo "bench_ingest: appended to $OUT" >&2
