#!/usr/bin/env bash
# Dashboard view timings for `make bench`: on the DB that bench.sh imported
# (largest size), publish one scoring run (`score --db`) and time the
# dashboard panel queries of docs/dashboards.md with the sqlite3 CLI
# (.timer, read-only).  Appends a section to docs/benchmarks.md (or $2).
#   tools/bench_views.sh DB [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${NS_BIN:-build/notescore}
DB=$1
OUT=${2:-docs/benchmarks.md}
echo "  views: score --db $DB" >&2
/usr/bin/time -f "%e %M" -o /tmp/ns-bench-views.time "$BIN" score --db "$DB" >/dev/null 2>&1
read -r SW SR </tmp/ns-bench-views.time
ratings=$(sqlite3 "$DB" "SELECT count(*) FROM ratings")
note_id=$(sqlite3 "$DB" "SELECT note_id FROM current_note_status LIMIT 1 OFFSET 1000")
queries=(
  "status counts|SELECT status, count(*) FROM current_note_status GROUP BY status"
  "one note|SELECT * FROM current_note_status WHERE note_id = $note_id"
  "one note's rules|SELECT * FROM note_rules WHERE note_id = $note_id"
  "one note's history|SELECT * FROM note_history WHERE note_id = $note_id"
  "CRH notes page|SELECT note_id, intercept, factor FROM current_note_status WHERE status = 'CURRENTLY_RATED_HELPFUL' ORDER BY intercept DESC LIMIT 100"
  "status changes, last run|SELECT count(*) FROM status_changes WHERE run_id = (SELECT max(run_id) FROM run_summary)"
  "run summary|SELECT * FROM run_summary ORDER BY run_id DESC LIMIT 20"
  "rater count|SELECT count(*) FROM rater_reputation"
  "rater factor histogram|SELECT round(factor, 1) AS b, count(*) FROM rater_reputation WHERE factor IS NOT NULL GROUP BY b"
  "top raters by trust|SELECT * FROM rater_reputation ORDER BY trust DESC LIMIT 50"
)
rows=""
for q in "${queries[@]}"; do
  name=${q%%|*}; sql=${q#*|}
  # best of 3 (warm cache), wall time reported by sqlite3's .timer
  best=$(for _ in 1 2 3; do
           printf '.timer on\n%s;\n' "$sql" | sqlite3 -readonly "$DB" | grep -o 'real [0-9.]*' | awk '{print $2}'
         done | sort -g | head -1)
  rows+="| $name | $(awk -v s="$best" 'BEGIN { printf "%.1f ms", s * 1000 }') | \`${sql//|/\\|}\` |"$'\n'
done
{
  echo
  echo "## Dashboard views (score DB with $ratings ratings)"
  echo
  echo "tools/bench_views.sh: \`notescore score --db\` publishing one run took $SW s (peak RSS"
  echo "$(awk -v k="$SR" 'BEGIN { printf "%.0f MiB", k / 1024 }')); then each panel query of docs/dashboards.md on a read-only"
  echo "connection, best of 3 (sqlite3 .timer). Target: < 100 ms each."
  echo
  echo "| panel | time | query |"
  echo "|---|---|---|"
  printf "%s" "$rows"
} >>"$OUT"
echo "bench_views: appended to $OUT" >&2
