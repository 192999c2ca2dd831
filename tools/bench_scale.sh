#!/usr/bin/env bash
# tools/bench_scale.sh -- `make bench-scale`: notescore at the public
# download's scale (issue #15).  Not part of `make bench` or CI.
#
#   tools/bench_scale.sh [OUT.md]      # default docs/benchmarks.md
#
# For each size in BENCH_SCALE_SIZES (ratings; default "50000000 10000000"):
# `notescore gen` with public-like proportions (about 80 ratings per note,
# 150 per rater, the `combined` shape: communities written to modelingGroup,
# heavy-tailed activity, bursts, cliques), the ratings re-written as 4
# gzip'd shards (ratings-0000{0..3}.tsv.gz, each with the header, as the
# public download ships them), then `notescore score` on the shard
# directory with every default (all scorers, trust on, all threads): wall
# time, peak RSS, bytes per rating, each stage's share.  Replaces the
# "Public scale" section of OUT (between its markers) and leaves the rest.
#
# Needs about 300 bytes of free disk per rating at the largest size (15 GB
# at 50 M: the plain TSV before it is sharded); checks first, and removes its
# scratch directory (BENCH_SCALE_DIR, default build/bench-scale) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${NS_BIN:-build/notescore}
DIR=${BENCH_SCALE_DIR:-build/bench-scale}
SIZES=${BENCH_SCALE_SIZES:-"50000000 10000000"}
OUT=${1:-docs/benchmarks.md}
BEGIN_MARK='<!-- bench-scale: begin (tools/bench_scale.sh regenerates this section) -->'
END_MARK='<!-- bench-scale: end -->'

max=0
for R in $SIZES; do [ "$R" -gt "$max" ] && max=$R; done
mkdir -p "$DIR"
trap 'rm -rf "$DIR"' EXIT
need_kb=$((max / 1024 * 300))
have_kb=$(df -Pk "$DIR" | awk 'NR == 2 {print $4}')
if [ "$have_kb" -lt "$need_kb" ]; then
  echo "bench-scale: needs $((need_kb / 1048576)) GiB free in $DIR, has $((have_kb / 1048576)) GiB" >&2
  exit 1
fi

stat_of() { awk -v k="$1" '$1 == k {print $2}' "$DIR/stats.txt"; }
pct() { awk -v v="$1" -v t="$2" 'BEGIN { printf "%.0f%%", (t > 0 ? 100 * v / t : 0) }'; }

rows=""; rows_stage=""; rows_scorers=""; rows_mem=""; mem_size=""
min=$max
for R in $SIZES; do [ "$R" -lt "$min" ] && min=$R; done
for R in $SIZES; do
  NR=$((R / 150)); NN=$((R / 80))
  D="$DIR/r$R"; rm -rf "$D"; mkdir -p "$D/ratings"
  echo "== $R ratings ($NR raters, $NN notes): gen" >&2
  t0=$(date +%s.%N)
  "$BIN" gen -q -o "$D" --raters $NR --notes $NN --ratings $R --seed 1 --shape combined
  # 4 contiguous shards, gzip'd, each with the header line
  lines=$(($(wc -l <"$D/ratings-00000.tsv") - 1))
  awk -v n="$lines" -v d="$D/ratings" 'NR == 1 { h = $0; next }
    { s = int((NR - 2) * 4 / n); if (s != cur) { if (cmd) close(cmd); cur = s;
        cmd = sprintf("gzip -1 > %s/ratings-%05d.tsv.gz", d, s); print h | cmd } print | cmd }
    BEGIN { cur = -1 }' "$D/ratings-00000.tsv"
  rm -f "$D/ratings-00000.tsv"
  tgen=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
  gz=$(du -sk "$D/ratings" | awk '{printf "%.1f GiB", $1 / 1048576}')
  echo "== $R ratings: score (data made in $tgen s, $gz gzip'd)" >&2
  /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$BIN" score -n "$D/notes-00000.tsv" -r "$D/ratings" \
    -s "$D/noteStatusHistory-00000.tsv" -e "$D/userEnrollment-00000.tsv" -o "$D/out" \
    --stats "$DIR/stats.txt" >"$DIR/score.out" 2>"$DIR/score.err" || {
    echo "bench-scale: score failed:" >&2; tail -5 "$DIR/score.err" >&2; exit 1; }
  read -r WALL RSS <"$DIR/time.txt"
  n_in=$(stat_of ratings_in)
  bpr=$(awk -v k="$RSS" -v n="$n_in" 'BEGIN { printf "%.0f", k * 1024 / n }')
  rows+="| $n_in | $NN | $NR | $gz | $WALL s | $(awk -v k="$RSS" 'BEGIN { printf "%.2f GiB", k / 1048576 }') | $bpr |"$'\n'
  tot=$(stat_of total_seconds)
  line="| $R | $(stat_of load_seconds) s ($(pct "$(stat_of load_seconds)" "$tot")) |"
  for s in snapshot round1 helpfulness trust round2 guardrails statuses publish; do
    v=$(stat_of stage_${s}_seconds)
    line+=" $v s ($(pct "$v" "$tot")) |"
  done
  rows_stage+="$line"$'\n'
  sc=$(awk '$1 ~ /^scorer_.*_seconds$/ { n = substr($1, 8, length($1) - 15); v = $2
        if (n ~ /^MFGroupScorer|^MFMultiGroup|^MFTopicScorer|^GaussianTopicScorer/) { small += v } else { printf "%s %.1f s, ", n, v } }
        END { printf "group/multi-group/topic models (summed, 2 at a time) %.1f s", small }' "$DIR/stats.txt")
  rows_scorers+="| $R | $sc |"$'\n'
  if [ "$R" = "$min" ]; then
    # where the bytes are: the same run again under the memory trace (each
    # window's peak RSS; a separate run, since the trace's resets lower
    # the whole run's peak that GNU time reports)
    echo "== $R ratings: score again under NS_MEMTRACE=1" >&2
    NS_MEMTRACE=1 "$BIN" score -n "$D/notes-00000.tsv" -r "$D/ratings" \
      -s "$D/noteStatusHistory-00000.tsv" -e "$D/userEnrollment-00000.tsv" -o "$D/out2" \
      >/dev/null 2>"$DIR/memtrace.err" || { echo "bench-scale: memtrace run failed" >&2; exit 1; }
    mem_size=$R
    rows_mem=$(sed -nE 's/^notescore: memtrace: (.*[^ ]) +peak +([0-9.]+) MiB +at its end +([0-9.]+) MiB$/\1|\2|\3/p' \
      "$DIR/memtrace.err" | awk -F'|' -v n="$n_in" \
      '{ printf "| %s | %.1f MiB | %.0f | %.1f MiB |\n", $1, $2, $2 * 1048576 / n, $3 }')
  fi
  rm -rf "$D"
done

section=$(
  echo "$BEGIN_MARK"
  echo "## Public scale (\`make bench-scale\`)"
  echo
  echo "\`notescore gen --shape combined\` with public-like proportions (ratings/80 notes, ratings/150"
  echo "raters), the ratings as 4 gzip'd shards, then \`notescore score -n notes -r SHARD_DIR -s -e\`"
  echo "with every default (all scorers, trust on, $(nproc) threads). Peak RSS from GNU time; bytes per"
  echo "rating = peak RSS / ratings read. Written by tools/bench_scale.sh on $(date -u +%Y-%m-%d)."
  echo
  echo "| ratings | notes | raters | gzip'd shards | wall | peak RSS | bytes/rating |"
  echo "|---|---|---|---|---|---|---|"
  printf "%s" "$rows"
  echo
  echo "Share of the total time (load = read + parse + normalize):"
  echo
  echo "| ratings | load | snapshot | round1 | helpfulness | trust | round2 | guardrails | statuses | publish |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf "%s" "$rows_stage"
  echo
  echo "The stage columns are Core's path; the other scorers run between Core's guardrails and the"
  echo "meta rules, and their time is in no column above (per scorer, from --stats):"
  echo
  echo "| ratings | scorers |"
  echo "|---|---|"
  printf "%s" "$rows_scorers"
  if [ -n "$rows_mem" ]; then
    echo
    echo "Where the memory goes at $mem_size ratings (the same run again with \`NS_MEMTRACE=1\`: each"
    echo "window's peak RSS, in bytes per rating read too, and the RSS it left; docs/architecture.md,"
    echo "\"Memory of a scoring run\"):"
    echo
    echo "| window | peak RSS | bytes/rating | RSS at its end |"
    echo "|---|---|---|---|"
    printf "%s\n" "$rows_mem"
  fi
  echo "$END_MARK"
)
if [ -f "$OUT" ] && grep -qF "$BEGIN_MARK" "$OUT"; then
  printf "%s\n" "$section" >"$DIR/section.md"
  awk -v b="$BEGIN_MARK" -v e="$END_MARK" -v f="$DIR/section.md" '
    $0 == b { while ((getline l < f) > 0) print l; skip = 1; next }
    $0 == e { skip = 0; next } !skip' "$OUT" >"$DIR/out.md"
  cp "$DIR/out.md" "$OUT"
else
  { echo; printf "%s\n" "$section"; } >>"$OUT"
fi
echo "bench-scale: wrote $OUT" >&2
printf "%s\n" "$section"
