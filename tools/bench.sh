#!/usr/bin/env bash
# make bench: measures notescore on synthetic data and writes docs/benchmarks.md
# from its own output.  Sizes: BENCH_SIZES (ratings, space-separated), default
# "1000000 10000000".  Scratch data goes to BENCH_DIR (default build/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${NS_BIN:-build/notescore}
DIR=${BENCH_DIR:-build/bench}
SIZES=${BENCH_SIZES:-"1000000 10000000"}
OUT=docs/benchmarks.md
mkdir -p "$DIR"
T=/usr/bin/time
# the "Public scale" section is tools/bench_scale.sh's (make bench-scale): kept as is
scale_section=$(sed -n '/^<!-- bench-scale: begin/,/^<!-- bench-scale: end/p' "$OUT" 2>/dev/null || true)

# run LABEL CMD...: runs CMD under GNU time; sets WALL (s) and RSS (KiB).
run() {
  local label=$1; shift
  echo "  $label: $*" >&2
  $T -f "%e %M" -o "$DIR/time.txt" "$@" >"$DIR/$label.out" 2>"$DIR/$label.err" || {
    echo "bench: $label failed:" >&2; tail -5 "$DIR/$label.err" >&2; exit 1; }
  read -r WALL RSS <"$DIR/time.txt"
}
stat_of() { awk -v k="$1" '$1 == k {print $2}' "$DIR/stats.txt"; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.2f M/s", (s > 0 ? n / s / 1e6 : 0) }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }

rows_gen=""; rows_import=""; rows_score=""; rows_stage=""; rows_trust=""; rows_guard=""; rows_scorers=""
for R in $SIZES; do
  NR=$((R / 50)); NN=$((R / 50))
  D="$DIR/r$R"; rm -rf "$D"
  echo "== $R ratings ($NR raters, $NN notes)" >&2
  run gen "$BIN" gen -o "$D" --raters $NR --notes $NN --ratings $R --seed 1
  rows_gen+="| $R | $WALL s | $(rate $R $WALL) | $(mib $RSS) |"$'\n'

  rm -f "$D/ns.db"*
  run import "$BIN" import --db "$D/ns.db" "$D"/{notes,ratings,noteStatusHistory,userEnrollment}-*.tsv
  IW=$WALL; IR=$RSS
  rm -f "$D/bare.db"*
  run sqlite3 sqlite3 "$D/bare.db" -cmd ".mode tabs" ".import $D/ratings-00000.tsv ratings"
  rows_import+="| $R | $IW s | $(rate $R $IW) | $(mib $IR) | $WALL s | $(rate $R $WALL) | $(mib $RSS) |"$'\n'

  for th in 1 2; do
    run score "$BIN" score -n "$D/notes-00000.tsv" -r "$D/ratings-00000.tsv" \
      -s "$D/noteStatusHistory-00000.tsv" -e "$D/userEnrollment-00000.tsv" \
      -o "$D/out$th" --threads $th --stats "$DIR/stats.txt"
    passes=$(stat_of mf_passes)
    r1=$(stat_of stage_round1_seconds); r2=$(stat_of stage_round2_seconds)
    per_pass=$(awk -v a="$r1" -v b="$r2" -v p="$passes" 'BEGIN { printf "%.1f ms", (p > 0 ? (a + b) / p * 1000 : 0) }')
    rows_score+="| $R | $th | $WALL s | $(stat_of load_seconds) s | $(stat_of run_seconds) s | $(mib $RSS) | $passes | $per_pass |"$'\n'
    if [ $th = 2 ]; then
      run_s=$(stat_of run_seconds)
      line="| $R |"
      for s in snapshot round1 helpfulness trust round2 guardrails statuses publish; do
        v=$(stat_of stage_${s}_seconds)
        line+=" $v s ($(awk -v v="$v" -v t="$run_s" 'BEGIN { printf "%.0f%%", (t > 0 ? 100 * v / t : 0) }')) |"
      done
      rows_stage+="$line"$'\n'
      rows_trust+=$(awk -v R="$R" -v run="$run_s" -v tr="$(stat_of stage_trust_seconds)" \
        -v g="$(stat_of trust_groups_seconds)" -v p="$(stat_of trust_propagation_seconds)" \
        -v v="$(stat_of trust_propagation_edge_visits)" 'BEGIN {
          printf "| %s | %.3f s (%.1f%%) | %.3f s | %.3f s (%.1f%%) | %.3g | %.2g/s |\n", R, tr,
            100 * tr / run, g, p, 100 * p / run, v, (p > 0 ? v / p : 0) }')$'\n'
      rows_guard+=$(awk -v R="$R" -v gs="$(stat_of stage_guardrails_seconds)" \
        -v h="$(stat_of harassment_seconds)" -v hp="$(stat_of harassment_passes)" \
        -v d="$(stat_of diligence_seconds)" -v dp="$(stat_of diligence_passes)" \
        -v q="$(stat_of guardrails_qclique_seconds)" -v mf="$(stat_of mf_seconds)" \
        -v ps="$(stat_of guardrails_pseudo_seconds)" -v run="$run_s" \
        -v r1="$(stat_of stage_round1_seconds)" -v r2="$(stat_of stage_round2_seconds)" 'BEGIN {
          printf "| %s | %.3f s | %.3f s (%.1f%%) | %.3f s (%d) | %.3f s | %.3f s (%d) | %.3f s (%.1f%%) | %.3f s | %.3f s | %.2f | %.2f |\n",
            R, gs, ps, 100 * ps / run, d, dp, q, h, hp, gs + h, 100 * (gs + h) / run, mf, r1 + r2,
            (r1 + r2 > 0 ? (gs + h) / (r1 + r2) : 0), (mf > 0 ? (gs + h) / mf : 0) }')$'\n'
      # each scorer's wall time (score --stats scorer_NAME_seconds), the
      # group, topic and Gaussian scorers summed
      rows_scorers+=$(awk -v R="$R" -v run="$run_s" '
        $1 ~ /^scorer_/ { n = $1; sub(/^scorer_/, "", n); sub(/_seconds$/, "", n)
          if (n ~ /^MFGroupScorer_/) n = "groups"; else if (n ~ /^(MF|Gaussian)TopicScorer_/) n = "topics"
          else if (n ~ /^Gaussian/) n = "Gaussian"
          v[n] += $2 }
        END { printf "| %s | %.3f s | %.3f s | %.3f s | %.3f s | %.3f s | %.3f s | %.3f s | %.3f s | %.3f s |\n", R,
          v["MFCoreScorer"], v["MFCoreWithTopicsScorer"], v["MFExpansionScorer"], v["MFExpansionPlusScorer"],
          v["groups"], v["MFMultiGroupScorer_1"], v["topics"], v["Gaussian"], run }' "$DIR/stats.txt")$'\n'
      cmp -s "$D/out1/scored_notes.tsv" "$D/out2/scored_notes.tsv" && same=yes || same=NO
    fi
  done
  rows_score+="| | 1 vs 2 threads: scored_notes.tsv byte-identical: $same | | | | | | |"$'\n'
done

cpu=$(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (tools/bench.sh) from its own measurements on $(date -u +%Y-%m-%d)."
  echo "Machine: $(nproc) cores ($cpu), $mem RAM, $(uname -sr). Data: \`notescore gen\` with"
  echo "ratings/50 raters and ratings/50 notes, seed 1. Times are wall clock from GNU time; RSS is peak."
  echo
  echo "## Synthetic data generation (\`notescore gen\`)"
  echo
  echo "| ratings | wall | rate | peak RSS |"
  echo "|---|---|---|---|"
  printf "%s" "$rows_gen"
  echo
  echo "## Import (\`notescore import\`, all four files) vs. sqlite3 CLI \`.import\` of the ratings file into a bare table"
  echo
  echo "| ratings | notescore wall | rate | peak RSS | sqlite3 .import wall | rate | peak RSS |"
  echo "|---|---|---|---|---|---|---|"
  printf "%s" "$rows_import"
  echo
  echo "Target: ≥ 1 M ratings/s with constant memory."
  echo
  echo "## Full scoring run (\`notescore score\`, TSV in/out)"
  echo
  echo "| ratings | threads | wall (total) | load TSV | run | peak RSS | MF passes | time per MF pass |"
  echo "|---|---|---|---|---|---|---|---|"
  printf "%s" "$rows_score"
  echo
  echo "Target: 10 M ratings in < 60 s end to end, peak RSS < 2 GiB."
  echo
  echo "### Stage shares of the run (2 threads)"
  echo
  echo "| ratings | snapshot | round 1 MF | helpfulness | trust | round 2 MF | guardrails | statuses | publish |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf "%s" "$rows_stage"
  echo
  echo "### Trust stage (2 threads)"
  echo
  echo "The trust stage is the coordination test (both passes: every same-value collision, then the"
  echo "dissenting ratings; docs/trust.md §6) with its per-note weights, plus the propagation and its"
  echo "agreement-edge bookkeeping. An edge visit is one neighbour read in one of the two gathers of a"
  echo "propagation iteration. Target: the trust stage < 20 % of the run at 10 M ratings."
  echo
  echo "| ratings | trust stage (share of run) | coordination test | propagation (share of run) | edge visits | edge visits/s |"
  echo "|---|---|---|---|---|---|"
  printf "%s" "$rows_trust"
  echo
  echo "Target: propagation < 10 % of the run at 10 M ratings."
  echo
  echo "### Guardrails vs. the MF fits (2 threads)"
  echo
  echo "Guardrails are the guardrails stage (pseudo-rater refits, tag/incorrect/diligence filters,"
  echo "NoHighVol/NoCorrelated/population refits, stabilization) plus the harassment model, which runs"
  echo "inside the helpfulness stage. Of the stage, the pseudo-rater refits (UcbCRNH; parallel over notes),"
  echo "the low-diligence model and the quasi-clique search"
  echo "(with the NoCorrelated refit) are shown apart; passes in parentheses (diligence: over its three"
  echo "rounds). MF fits is the time inside the main ALS fits of both rounds;"
  echo "round 1 + round 2 is the two stages' wall time."
  echo
  echo "| ratings | guardrails stage | of which pseudo-rater refits (share of run) | of which low diligence | of which quasi-cliques | harassment model | all guardrails (share of run) | MF fits | round 1 + round 2 | all guardrails / (round 1 + round 2) | all guardrails / MF fits |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  printf "%s" "$rows_guard"
  echo
  echo "Target: all guardrails cost less than the two MF rounds (round 1 + round 2)."
  echo
  echo "### Scorers (2 threads)"
  echo
  echo "Wall time of each scorer's path (\`score --stats\` \`scorer_NAME_seconds\`; Core's includes the shared"
  echo "stages it runs: groups, trust, quasi-cliques). A scorer whose scope and fit constants equal Core's"
  echo "reuses Core's fit and only applies its rules. Groups: the 16 group models; topics: the 5 topic models;"
  echo "Gaussian: both Gaussian scorers."
  echo
  echo "| ratings | Core | CoreWithTopics | Expansion | ExpansionPlus | groups | MultiGroup | topics | Gaussian | run |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf "%s" "$rows_scorers"
  if [ -f "$DIR/extra.md" ]; then echo; cat "$DIR/extra.md"; fi
} >"$OUT"
tools/bench_views.sh "$D/ns.db" "$OUT"
tools/bench_ingest.sh "$OUT"
tools/bench_solver.sh "$OUT"
[ -n "$scale_section" ] && printf '\n%s\n' "$scale_section" >>"$OUT"
echo "bench: wrote $OUT" >&2
cat "$OUT"
