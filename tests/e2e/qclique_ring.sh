#!/usr/bin/env bash
# tests/e2e/qclique_ring.sh -- quasi-cliques (graph/qclique.c) and the
# NoCorrelatedIntercept rule on gen data (defaults: 2000 raters, 200 k
# ratings):
#   * clean data: no rater gets a quasiCliqueId, the rule never fires and
#     coreNoteInterceptNoCorrelated equals coreNoteIntercept (no refit);
#   * a farming ring (K = 200, F = 40, 30 bad + 30 good targets, i.e. 60
#     posts > the reference's 50 collisions), scored with --no-trust so the
#     ring reaches round 2: every ring account and no honest rater is in a
#     quasi-clique, no bad target stays CRH, and at least one is demoted by
#     NoCorrelatedIntercept; outputs identical on 1 and 2 threads;
#   * a naive ring (K = 60, 30 targets each side), trust on: all flagged.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

score() {
  local d=$1 o=$2; shift 2
  "$BIN" score -n "$d/notes-00000.tsv" -r "$d/ratings-00000.tsv" -s "$d/noteStatusHistory-00000.tsv" \
    -e "$d/userEnrollment-00000.tsv" -o "$o" "$@" 2>/dev/null
}
get() { sed -n "s/^ *\"$1\": *\([-0-9.eE+]*\).*/\1/p" "$2" | head -1; }
# flagged DIR OUT: "ring_flagged ring_total honest_flagged honest_total"
flagged() {
  awk -F'\t' 'NR == FNR { if (FNR > 1) ring[$1] = $5; next }
    FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "quasiCliqueId") c = i; next }
    { r = ring[$1] == 1; nr += r; nh += !r; if ($c + 0 > 0) { if (r) fr++; else fh++ } }
    END { print fr + 0, nr + 0, fh + 0, nh + 0 }' "$1/truth_raters.tsv" "$2/helpfulness_scores.tsv"
}
col() { awk -F'\t' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next } { print $c }' "$1"; }

# Clean data.
"$BIN" gen -o "$T/clean" -q
score "$T/clean" "$T/clean.out"
read -r fr nr fh nh <<<"$(flagged "$T/clean" "$T/clean.out")"
fires=$(grep -c NoCorrelatedIntercept "$T/clean.out/scored_notes.tsv" || true)
paste <(col "$T/clean.out/scored_notes.tsv" coreNoteIntercept) \
      <(col "$T/clean.out/scored_notes.tsv" coreNoteInterceptNoCorrelated) > "$T/icpt"
same=$(awk -F'\t' '$1 != $2 { d++ } END { print d + 0 }' "$T/icpt")
echo "clean: honest raters in a quasi-clique $fh/$nh, NoCorrelatedIntercept fired $fires, intercepts differing $same"
[ "$fh" = 0 ] && [ "$fires" = 0 ] && [ "$same" = 0 ]

# Farming ring, trust off.
"$BIN" gen -o "$T/ring" -q --ring 200 --ring-farm 40 --ring-targets 30
score "$T/ring" "$T/r1" --no-trust --threads 1
score "$T/ring" "$T/r2" --no-trust --threads 2
for f in scored_notes.tsv helpfulness_scores.tsv note_status_history.tsv; do cmp "$T/r1/$f" "$T/r2/$f"; done
read -r fr nr fh nh <<<"$(flagged "$T/ring" "$T/r1")"
"$BIN" eval --truth "$T/ring" --scores "$T/r1" --json > "$T/ring.json"
bad_crh=$(get badTargetsCrh "$T/ring.json")
demoted=$(awk -F'\t' 'NR == FNR { if ($8 == "bad") bad[$1] = 1; next }
  FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "coreActiveRules") c = i; next }
  ($1 in bad) && $c ~ /NoCorrelatedIntercept/ { n++ } END { print n + 0 }' \
  "$T/ring/truth_notes.tsv" "$T/r1/scored_notes.tsv")
fires=$(grep -c NoCorrelatedIntercept "$T/r1/scored_notes.tsv" || true)
echo "farming ring K=200 F=40, trust off: ring flagged $fr/$nr, honest flagged $fh/$nh;" \
  "bad targets CRH $bad_crh, demoted by NoCorrelatedIntercept $demoted (rule fired on $fires notes)"
[ "$fr" = "$nr" ] && [ "$fh" = 0 ] && [ "$bad_crh" = 0 ] && [ "$demoted" -ge 1 ]

# Naive ring, trust on.
"$BIN" gen -o "$T/naive" -q --ring 60 --ring-targets 30
score "$T/naive" "$T/n1"
read -r fr nr fh nh <<<"$(flagged "$T/naive" "$T/n1")"
echo "naive ring K=60, trust on: ring flagged $fr/$nr, honest flagged $fh/$nh"
[ "$fr" = "$nr" ] && [ "$fh" = 0 ]
echo "qclique_ring: ok"
