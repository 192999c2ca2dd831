#!/usr/bin/env bash
# tools/refparity.sh -- reference parity (issue #14): notescore against the
# real reference scorer's outputs on the same gen data, behind `make
# refparity` (docs/reference-comparison.md).
#
#   tools/refparity.sh DATA1 REF1 [DATA2 REF2 ...]
#   tools/refparity.sh --dir D        # pairs D/sN with D/ref_sN, N = 1, 2, ...
#
# DATA is a `notescore gen --reference-ready` directory (notes, ratings,
# noteStatusHistory, userEnrollment, gen_meta.json); REF the reference's
# output directory for it (scored_notes.tsv), made beforehand with
# ../shared/reference-harness/run_reference.sh DATA REF (15-25 min each on
# the shared 2-core machine, so this script never runs it).
#
# For each data set and each profile (the reference profile, the default
# one) it scores DATA with the reference's "now" (gen_meta.json nowMillis),
# compares with REF over all notes and over the unlocked ones (`compare
# --unlocked DATA`: a note locked in the input history keeps its status on
# both sides), and prints markdown tables: per data set and profile the
# status agreement (all, unlocked), decidedBy agreement (all, unlocked),
# CRH Jaccard and coreNoteIntercept Pearson; then per profile, summed over
# the data sets, the status disagreements by the reference's decidedBy with
# their status pairs, the per-scorer status columns and the most frequent
# decidedBy mismatches.
#
# Knobs (environment):
#   NS_BIN         the binary (default build/notescore)
#   REF_FLAGS      score flags of the reference profile (default
#                  "--profile reference" when `score --help` lists --profile,
#                  else the stand-in "--no-trust")
#   DEFAULT_FLAGS  score flags of the default profile (default none)
#   PROFILES       which to run, of "reference default" (default both)
#   REFPAR_WORK    keep the outputs and JSON here (default: a temp dir, removed)
#   TOP            decidedBy mismatch kinds listed per profile (default 15)
#
# Needs jq.  Exit 1 when a score or compare fails, 2 on usage.
set -euo pipefail

BIN=${NS_BIN:-build/notescore}
PROFILES=${PROFILES:-"reference default"}
TOP=${TOP:-15}
DEFAULT_FLAGS=${DEFAULT_FLAGS-}
if [ -z "${REF_FLAGS+x}" ]; then
  if "$BIN" score --help 2>&1 | grep -q -- '--profile'; then REF_FLAGS="--profile reference"
  else REF_FLAGS="--no-trust"; fi
fi

usage() { sed -n '6,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
command -v jq > /dev/null || { echo "refparity: needs jq" >&2; exit 1; }
[ -x "$BIN" ] || { echo "refparity: no binary at $BIN (make first)" >&2; exit 1; }

DATA=() REFS=()
if [ "${1:-}" = "--dir" ]; then
  [ $# -eq 2 ] || usage
  for d in "$2"/s[0-9]*; do
    [ -d "$d" ] || continue
    r="$2/ref_$(basename "$d")"
    if [ -f "$r/scored_notes.tsv" ]; then DATA+=("$d"); REFS+=("$r")
    else echo "refparity: $d has no reference output $r/scored_notes.tsv: skipped" >&2; fi
  done
else
  if [ $# -lt 2 ] || [ $(($# % 2)) -ne 0 ]; then usage; fi
  while [ $# -gt 0 ]; do DATA+=("$1"); REFS+=("$2"); shift 2; done
fi
[ ${#DATA[@]} -gt 0 ] || { echo "refparity: no data set with a reference output" >&2; exit 1; }

if [ -n "${REFPAR_WORK:-}" ]; then
  W=$REFPAR_WORK; mkdir -p "$W"
else
  W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fi

flags_of() { if [ "$1" = reference ]; then echo "$REF_FLAGS"; else echo "$DEFAULT_FLAGS"; fi; }

# ---- score and compare ----------------------------------------------------
names=()
for i in "${!DATA[@]}"; do
  d=${DATA[$i]} r=${REFS[$i]}
  [ -f "$r/scored_notes.tsv" ] || { echo "refparity: $r/scored_notes.tsv missing" >&2; exit 1; }
  name=$(basename "$d")
  names+=("$name")
  now=$(jq -r '.nowMillis // empty' "$d/gen_meta.json" 2>/dev/null || true)
  [ -n "$now" ] || { echo "refparity: $d/gen_meta.json has no nowMillis" >&2; exit 1; }
  for p in $PROFILES; do
    o="$W/${name}_$p"
    # shellcheck disable=SC2046  # the flags are words on purpose
    if ! "$BIN" score -n "$d/notes-00000.tsv" -r "$d/ratings-00000.tsv" \
        -s "$d/noteStatusHistory-00000.tsv" -e "$d/userEnrollment-00000.tsv" \
        -o "$o" --epoch-millis "$now" $(flags_of "$p") > "$o.log" 2>&1; then
      echo "refparity: score failed on $d ($p: $(flags_of "$p")); its log:" >&2
      tail -5 "$o.log" >&2
      exit 1
    fi
    "$BIN" compare "$o" "$r" --top 0 --json "$o.all.json" > "$o.all.txt"
    "$BIN" compare "$o" "$r" --top 0 --unlocked "$d" --json "$o.unlocked.json" > "$o.unlocked.txt"
  done
done

# a share as "95.4 %", a number as "0.9926"; "-" for null
pct() { jq -r "if ($1) == null then \"-\" else ($1) * 100 end" "$2" |
        awk '$1 == "-" { print; next } { printf "%.1f %%\n", $1 }'; }
num() { jq -r "if ($1) == null then \"-\" else ($1) end" "$2" |
        awk '$1 == "-" { print; next } { printf "%.4f\n", $1 }'; }
# jq: x.y % with one decimal
# shellcheck disable=SC2016  # jq's own $x
F1='def f1: (. * 1000 | round) as $x | "\(($x / 10) | floor).\($x % 10) %";'

echo "## Reference parity"
echo
echo "binary \`$BIN\` ($("$BIN" --version 2>/dev/null | head -1)); reference profile flags \`${REF_FLAGS:-none}\`;" \
     "default profile flags \`${DEFAULT_FLAGS:-none}\`"
echo
echo "| data | profile | notes | status | status, unlocked | decidedBy | decidedBy, unlocked | CRH Jaccard | coreNoteIntercept r (notes) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for name in "${names[@]}"; do
  for p in $PROFILES; do
    a="$W/${name}_$p.all.json" u="$W/${name}_$p.unlocked.json"
    printf '| %s | %s | %s | %s | %s (%s) | %s | %s | %s | %s (%s) |\n' "$name" "$p" \
      "$(jq -r .notesInCommon "$a")" "$(pct .statusAgreement "$a")" \
      "$(pct .statusAgreement "$u")" "$(jq -r .notesInCommon "$u")" \
      "$(pct .decidedByAgreement "$a")" "$(pct .decidedByAgreement "$u")" \
      "$(num .crhJaccard "$a")" "$(num .interceptCorrelation.pearson "$a")" \
      "$(jq -r .interceptCorrelation.notes "$a")"
  done
done
# pooled over the data sets: agreeing notes / notes
if [ ${#names[@]} -gt 1 ]; then
  for p in $PROFILES; do
    all=() unl=()
    for name in "${names[@]}"; do all+=("$W/${name}_$p.all.json"); unl+=("$W/${name}_$p.unlocked.json"); done
    pool() { jq -r -s "$F1"' (map(.'"$1"') | add) / (map(.notesInCommon) | add) | f1' "${@:2}"; }
    printf '| all | %s | %s | %s | %s (%s) | %s | %s | %s | - |\n' "$p" \
      "$(jq -s 'map(.notesInCommon) | add' "${all[@]}")" "$(pool agreeing "${all[@]}")" \
      "$(pool agreeing "${unl[@]}")" "$(jq -s 'map(.notesInCommon) | add' "${unl[@]}")" \
      "$(pool decidedByAgreeing "${all[@]}")" "$(pool decidedByAgreeing "${unl[@]}")" \
      "$(jq -r -s '(map(.crhBoth) | add) / (map(.crhEither) | add)' "${all[@]}" | awk '{ printf "%.4f", $1 }')"
  done
fi

for p in $PROFILES; do
  files=()
  for name in "${names[@]}"; do files+=("$W/${name}_$p.all.json"); done
  echo
  echo "### $p profile: status disagreements by the reference's decidedBy (all data sets)"
  echo
  echo "| reference decidedBy | notes | disagreeing | agreement | status pairs (notescore > reference) |"
  echo "|---|---:|---:|---:|---|"
  jq -r -s "$F1"' [.[] | .disagreementsByDecidedBy[]] | group_by(.decidedBy)
    | map({d: .[0].decidedBy, n: (map(.notes) | add), x: (map(.disagreeing) | add),
           p: ([.[].pairs[]] | group_by(.a + ">" + .b)
               | map({k: (.[0].a + ">" + .[0].b), n: (map(.notes) | add)}) | sort_by(-.n, .k))})
    | sort_by(-.x, -.n, .d)[]
    | "| \(if .d == "" then "(none)" else .d end) | \(.n) | \(.x) | \(1 - .x / .n | f1) | \([.p[] | "\(.k) \(.n)"] | join(", ")) |"' \
    "${files[@]}"
  echo
  echo "### $p profile: per-scorer status columns present in both (all data sets)"
  echo
  echo "| scorer | scored by notescore | scored by reference | both | same status | agreement |"
  echo "|---|---:|---:|---:|---:|---:|"
  jq -r -s "$F1"' [.[] | .models[]] | group_by(.model)
    | map({m: .[0].model, a: (map(.scoredA) | add), b: (map(.scoredB) | add),
           both: (map(.scoredBoth) | add), s: (map(.agreeing) | add)})
    | sort_by(-.both, .m)[]
    | "| \(.m) | \(.a) | \(.b) | \(.both) | \(.s) | \(if .both > 0 then .s / .both | f1 else "-" end) |"' \
    "${files[@]}"
  echo
  echo "### $p profile: most frequent decidedBy mismatches (all data sets)"
  echo
  echo "| notes | notescore decidedBy | reference decidedBy |"
  echo "|---:|---|---|"
  jq -r -s --argjson top "$TOP" '[.[] | .decidedByConfusion[]] | group_by(.a + ">" + .b)
    | map({a: .[0].a, b: .[0].b, n: (map(.notes) | add)}) | sort_by(-.n, .a, .b)[:$top][]
    | "| \(.n) | \(if .a == "" then "(none)" else .a end) | \(if .b == "" then "(none)" else .b end) |"' \
    "${files[@]}"
done
if [ -n "${REFPAR_WORK:-}" ]; then
  echo
  echo "(outputs, compare text and JSON in $W)"
fi
