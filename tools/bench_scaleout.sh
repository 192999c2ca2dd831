#!/usr/bin/env bash
# tools/bench_scaleout.sh -- where one SQLite file stops serving
# (docs/scale-out.md).  Not part of `make bench` or CI: it runs for
# about 10-15 minutes and writes ~5 GB of scratch data.
#
#   tools/bench_scaleout.sh [OUT.md]        # default: stdout only
#
# Measures, all on 127.0.0.1 with `notescore serve` and build/ns-loadgen:
#  1. ingest into a fresh DB with N = 1 2 4 8 16 32 concurrent keep-alive
#     clients (closed loop, SCALEOUT_ROWS ratings per request): acked
#     ratings/s and p99 ack latency;
#  2. for DBs of SCALEOUT_SIZES ratings (default "1000000 10000000
#     30000000", `notescore gen` with ratings/50 raters and notes, then
#     `import`): DB bytes per rating, ingest closed loop (8 clients) and at
#     a fixed SCALEOUT_RATE (p99), then one `score --db` (wall, its snapshot
#     and publish stages from the runs table) while the server keeps
#     ingesting at SCALEOUT_BESIDE_RATE (default 2000) ratings/s in
#     SCALEOUT_SECONDS chunks (worst p99, max, errors);
#  3. on the first size, after its run is published: ingest (closed loop, 8
#     clients) beside 0 / 4 / 16 HTTP readers looping on /v1/notes?limit=100
#     and /v1/runs, and beside 2 direct SQLite readers (tests/e2e/dash_reader.c,
#     one read transaction per dashboard snapshot, on the same file).
# SCALEOUT_SECONDS (default 10) is the length of each ingest measurement.
# Needs sqlite3, curl, cc and libsqlite3-dev (for dash_reader).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${NS_BIN:-build/notescore}
LG=${NS_LOADGEN:-build/ns-loadgen}
SECS=${SCALEOUT_SECONDS:-10}
ROWS=${SCALEOUT_ROWS:-100}
RATE=${SCALEOUT_RATE:-20000}
BESIDE=${SCALEOUT_BESIDE_RATE:-2000}
SIZES=${SCALEOUT_SIZES:-"1000000 10000000 30000000"}
OUT=${1:-}
make --no-print-directory "$BIN" "$LG" >/dev/null
T=$(mktemp -d "${TMPDIR:-/tmp}/scaleout.XXXXXX")
SRV=
RPIDS=()
cleanup() {
  for p in "${RPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$SRV" ] && kill -9 "$SRV" 2>/dev/null || true
  [ -n "${SCALEOUT_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
REPORT="$T/report.md"
: > "$REPORT"
say() { echo "$*" | tee -a "$REPORT"; }
log() { echo "scaleout: $*" >&2; }

start_serve() {  # DB [flags...]
  local db=$1; shift
  rm -f "$T/port"
  "$BIN" serve --db "$db" --listen 127.0.0.1:0 --port-file "$T/port" "$@" 2>>"$T/serve.log" &
  SRV=$!
  for _ in $(seq 1 200); do [ -s "$T/port" ] && break; sleep 0.05; done
  PORT=$(cat "$T/port")
}
stop_serve() { kill -TERM "$SRV"; wait "$SRV" || true; SRV=; }

NB=0
# lg CONNS [--rate R]: one ns-loadgen run with fresh (note, rater) pairs;
# sets LG_RATE, LG_P50, LG_P99, LG_ERR and appends the raw line to the log.
lg() {
  local conns=$1; shift
  NB=$(( NB + 1 ))
  local line
  line=$("$LG" --port "$PORT" --conns "$conns" --rows "$ROWS" --seconds "$SECS" \
           --note-base $(( NB * 100000000000 )) "$@" || true)
  echo "$line" >> "$T/loadgen.log"
  LG_RATE=$(echo "$line" | sed -n 's/.*(\([0-9]*\) ratings\/s).*/\1/p')
  LG_P50=$(echo "$line" | sed -n 's/.*p50 \([0-9.]*\) ms.*/\1/p')
  LG_P99=$(echo "$line" | sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p')
  LG_ERR=$(echo "$line" | sed -n 's/.*, \([0-9]*\) errors.*/\1/p')
  LG_MAX=$(echo "$line" | sed -n 's/.*max \([0-9.]*\) ms.*/\1/p')
}

say "# tools/bench_scaleout.sh, $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
say ""

# ---- 1. concurrent writers, fresh DB
log "1. concurrent writers"
start_serve "$T/fresh.db" --max-conns 256
say "## 1. Ingest vs concurrent clients (fresh DB, closed loop, $ROWS ratings/request, ${SECS} s each)"
say ""
say "| clients | ratings acked/s | p50 ack (ms) | p99 ack (ms) | errors |"
say "|---|---|---|---|---|"
for n in 1 2 4 8 16 32; do
  lg "$n"
  say "| $n | $LG_RATE | $LG_P50 | $LG_P99 | $LG_ERR |"
done
stop_serve
say ""

# ---- 2. DB size
say "## 2. Ingest, run and file size vs DB size"
say ""
say "| ratings | DB bytes/rating | import (s) | ingest closed loop, 8 clients (ratings/s, p99 ms) | ingest at $RATE/s (p50, p99 ms) | ratings in the run | score --db wall (s) | open + snapshot read (s) | scoring (s) | publish (s) | run peak RSS (MiB) | ingest at $BESIDE/s during the run: worst p99, max (ms), errors |"
say "|---|---|---|---|---|---|---|---|---|---|---|---|"
first=1
for R in $SIZES; do
  NR=$(( R / 50 )); NN=$(( R / 50 ))
  D="$T/data$R"; DB="$T/s$R.db"
  log "2. $R ratings: gen"
  "$BIN" gen -o "$D" --raters $NR --notes $NN --ratings "$R" --seed 1 >/dev/null 2>&1
  rm -f "$D"/truth_*.tsv
  log "2. $R ratings: import"
  t0=$(date +%s.%N)
  "$BIN" import --db "$DB" "$D" >/dev/null 2>&1
  t1=$(date +%s.%N)
  rm -rf "$D"
  imp=$(echo "$t1 - $t0" | bc)
  nrat=$(sqlite3 "$DB" "SELECT count(*) FROM ratings")
  bpr=$(echo "scale=1; $(stat -c %s "$DB") / $nrat" | bc)
  log "2. $R ratings: ingest"
  start_serve "$DB" --max-conns 256
  lg 8; cl="$LG_RATE, $LG_P99"
  lg 8 --rate "$RATE"; fr="$LG_P50, $LG_P99"
  log "2. $R ratings: score --db, ingest at $BESIDE/s beside it"
  # The runs row has the run's span (started_ms at ns_store_run_begin, after
  # the snapshot; finished_ms at publication) and the engine's scoring time
  # (seconds): span - seconds = publish, wall - span = open + snapshot read.
  t0=$(date +%s.%N)
  ( s0=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$T/rss" "$BIN" score --db "$DB" >/dev/null 2>"$T/score.log"
    echo "$s0 $(date +%s.%N)" > "$T/score.t" ) &
  SCP=$!
  worst=0; wmax=0; berr=0
  while kill -0 "$SCP" 2>/dev/null; do
    lg 4 --rate "$BESIDE"
    worst=$(echo "if (${LG_P99:-0} > $worst) ${LG_P99:-0} else $worst" | bc)
    wmax=$(echo "if (${LG_MAX:-0} > $wmax) ${LG_MAX:-0} else $wmax" | bc)
    berr=$(( berr + ${LG_ERR:-0} ))
  done
  wait "$SCP"
  stop_serve
  rss=$(( $(tail -1 "$T/rss") / 1024 ))
  read -r t0 t1 < "$T/score.t"
  wall=$(echo "$t1 - $t0" | bc)
  IFS='|' read -r span secs nrun < <(sqlite3 "$DB" \
    "SELECT (finished_ms - started_ms) / 1000.0, seconds, n_ratings
       FROM runs WHERE status = 'published' ORDER BY run_id DESC LIMIT 1")
  say "| $nrat | $bpr | $(printf %.1f "$imp") | $cl | $fr | $nrun | $(printf %.1f "$wall") | $(printf %.1f "$(echo "$wall - $span" | bc)") | $(printf %.1f "$secs") | $(printf %.1f "$(echo "$span - $secs" | bc)") | $rss | $worst, $wmax, $berr |"

  if [ "$first" = 1 ]; then
    first=0
    # ---- 3. readers beside ingest, on this DB (a published run exists now)
    log "3. readers"
    cc -O2 -o "$T/dash_reader" tests/e2e/dash_reader.c -lsqlite3
    start_serve "$DB" --max-conns 256
    URL="http://127.0.0.1:$PORT"
    {
      echo ""
      echo "## 3. Readers beside ingest ($nrat-rating DB, closed loop, 8 ingest clients, ${SECS} s each)"
      echo ""
      echo "| readers | ratings acked/s | p99 ack (ms) | reads answered 200 | reads answered 503 | reads/s |"
      echo "|---|---|---|---|---|---|"
    } > "$T/readers.md"
    for nr in 0 4 16; do
      rm -f "$T"/codes.*
      for i in $(seq 1 "$nr"); do
        ( while :; do
            curl -s -o /dev/null -w '%{http_code}\n' "$URL/v1/notes?limit=100"
            curl -s -o /dev/null -w '%{http_code}\n' "$URL/v1/runs"
          done >> "$T/codes.$i" 2>/dev/null ) & RPIDS+=($!)
      done
      lg 8
      if [ "$nr" -gt 0 ]; then
        for p in "${RPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
        wait "${RPIDS[@]}" 2>/dev/null || true
      fi
      RPIDS=()
      ok=$(cat "$T"/codes.* 2>/dev/null | grep -c '^200' || true)
      busy=$(cat "$T"/codes.* 2>/dev/null | grep -c '^503' || true)
      echo "| $nr HTTP (/v1/notes?limit=100, /v1/runs) | $LG_RATE | $LG_P99 | $ok | $busy | $(( (ok + busy) / SECS )) |" >> "$T/readers.md"
    done
    # direct SQLite readers on the same file (what a dashboard on this host does)
    rm -f "$T/stop" "$T/stop.ready"
    for i in 1 2; do
      "$T/dash_reader" "$DB" "$T/stop" > "$T/dr.$i" 2>&1 & RPIDS+=($!)
    done
    for _ in $(seq 1 200); do [ -e "$T/stop.ready" ] && break; sleep 0.05; done
    lg 8
    touch "$T/stop"
    wait "${RPIDS[@]}" || true
    RPIDS=()
    snaps=$(cat "$T"/dr.* | sed -n 's/.*snapshots=\([0-9]*\).*/\1/p' | paste -sd+ | bc)
    echo "| 2 SQLite (dash_reader, one read transaction per dashboard snapshot) | $LG_RATE | $LG_P99 | $snaps snapshots | — | $(( snaps / SECS )) snapshots/s |" >> "$T/readers.md"
    grep -h 'dash_reader:' "$T"/dr.* >> "$T/readers.md" || true
    stop_serve
  fi
  rm -f "$DB" "$DB-wal" "$DB-shm"
done
cat "$T/readers.md" | tee -a "$REPORT"
say ""
say "Raw ns-loadgen lines:"
say ""
sed 's/^/    /' "$T/loadgen.log" | tee -a "$REPORT" >/dev/null
[ -z "$OUT" ] || cp "$REPORT" "$OUT"
log "done${OUT:+, written to $OUT}"
