#!/usr/bin/env bash
# Per-row solver benchmark for `make bench`: the k > 1 normal-equation and
# Newton solves by LAPACKE (dposv, the default) against the in-house
# Cholesky (NS_MF_SOLVER=inhouse), k = 1, 2, 4, 8, on one fixed `notescore
# gen` dataset (BENCH_SOLVER_RATINGS, default 1000000; seed 1), 2 threads.
# At k = 1 both settings run the same closed-form code (the 2x2 systems never
# go to LAPACK), which shows the noise.  Appends a section to
# docs/benchmarks.md (or to $1 if given).  Run alone: tools/bench_solver.sh
# /tmp/x.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${NS_BIN:-build/notescore}
OUT=${1:-docs/benchmarks.md}
R=${BENCH_SOLVER_RATINGS:-1000000}
KS=${BENCH_SOLVER_KS:-"1 2 4 8"}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
stat_of() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

echo "  solver: gen $R ratings" >&2
"$BIN" gen -o "$T/d" --raters $((R / 50)) --notes $((R / 50)) --ratings "$R" --seed 1 >/dev/null 2>&1
rows=""
for k in $KS; do
  for s in lapack inhouse; do
    echo "  solver: k=$k $s" >&2
    NS_MF_SOLVER=$s /usr/bin/time -f "%e %U" -o "$T/time" "$BIN" score \
      -n "$T/d/notes-00000.tsv" -r "$T/d/ratings-00000.tsv" \
      -s "$T/d/noteStatusHistory-00000.tsv" -e "$T/d/userEnrollment-00000.tsv" \
      -o "$T/o-$k-$s" --k "$k" --threads 2 --stats "$T/st" >/dev/null 2>"$T/err" || {
      echo "bench_solver: k=$k $s failed:" >&2; tail -5 "$T/err" >&2; exit 1; }
    read -r wall user <"$T/time"
    mf=$(stat_of mf_seconds "$T/st"); p=$(stat_of mf_passes "$T/st")
    h=$(stat_of harassment_seconds "$T/st")
    rows+=$(awk -v k="$k" -v s="$s" -v w="$wall" -v u="$user" -v mf="$mf" -v p="$p" -v h="$h" 'BEGIN {
      printf "| %d | %s | %s s | %s s | %.3f s | %d | %.2f ms | %.3f s |\n", k, s, w, u, mf, p,
        (p > 0 ? 1000 * mf / p : 0), h }')$'\n'
  done
  # the two solvers' statuses (k > 1 may differ in the last bits of a score)
  a="$T/o-$k-lapack/scored_notes.tsv"; b="$T/o-$k-inhouse/scored_notes.tsv"
  same=$(cmp -s "$a" "$b" && echo "byte-identical" || echo "not byte-identical")
  st=$(paste <(cut -f1,4 "$a") <(cut -f1,4 "$b") | awk -F'\t' 'NR > 1 && $2 != $4 { d++ } END { print d + 0 }')
  rows+="| $k | | scored_notes.tsv $same; notes whose status differs: $st | | | | | |"$'\n'
done
# determinism of the LAPACKE path across thread counts: the largest k run
kd=${KS##* }
echo "  solver: k=$kd lapack, 1 thread" >&2
"$BIN" score -n "$T/d/notes-00000.tsv" -r "$T/d/ratings-00000.tsv" \
  -s "$T/d/noteStatusHistory-00000.tsv" -e "$T/d/userEnrollment-00000.tsv" \
  -o "$T/o1" --k "$kd" --threads 1 >/dev/null 2>&1
det=yes
for f in scored_notes helpfulness_scores note_status_history; do
  cmp -s "$T/o1/$f.tsv" "$T/o-$kd-lapack/$f.tsv" || det=NO
done
{
  echo
  echo "## Per-row solver: LAPACKE vs. in-house Cholesky (\`NS_MF_SOLVER\`)"
  echo
  echo "\`notescore score --k K --threads 2\` on one \`notescore gen\` dataset ($R ratings, seed 1),"
  echo "with \`NS_MF_SOLVER=lapack\` (default: LAPACKE_dposv_work from the OpenMP build of OpenBLAS for"
  echo "every system larger than 2×2) and \`NS_MF_SOLVER=inhouse\` (ns_mf_chol_solve). At k = 1 every"
  echo "system is 2×2 and both settings run the same closed-form code. MF fits is the time inside the"
  echo "main ALS fits of both rounds; harassment is the logistic model, whose Newton steps are"
  echo "(k+1)×(k+1) solves too. Written by tools/bench_solver.sh (docs/factorization.md)."
  echo
  echo "| k | solver | wall | user CPU | MF fits | MF passes | per pass | harassment model |"
  echo "|---|---|---|---|---|---|---|---|"
  printf "%s" "$rows"
  echo
  echo "k = $kd, LAPACKE: 1 vs 2 threads, all three output files byte-identical: $det"
} >>"$OUT"
echo "bench_solver: appended to $OUT" >&2
