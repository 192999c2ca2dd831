#!/usr/bin/env bash
# tests/e2e/decided_by.sh -- every scorer decides notes under its own name:
# on reference-ready gen data (16 communities, topics, history) `score
# --profile reference` must name CoreModel, CoreWithTopicsModel,
# ExpansionModel, ExpansionPlusModel, MultiGroupModel01, a Gaussian model
# and a topic model in decidedBy, and wherever a model rule decided a note
# the final status is that model's own status (FIRM_REJECT/NYH shown as NMR).
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$BIN" gen --reference-ready --shape combined --raters 6000 --notes 3000 --ratings 92000 \
  --seed 1 -o "$T/d" -q
now=$(sed -n 's/.*"nowMillis": *\([0-9]*\).*/\1/p' "$T/d/gen_meta.json")
"$BIN" score -n "$T/d/notes-00000.tsv" -r "$T/d/ratings-00000.tsv" \
  -s "$T/d/noteStatusHistory-00000.tsv" -e "$T/d/userEnrollment-00000.tsv" \
  -o "$T/o" --epoch-millis "$now" --profile reference 2>/dev/null
awk -F'\t' '
  NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  function pub(s) { return (s == "FIRM_REJECT" || s == "NEEDS_YOUR_HELP") ? "NEEDS_MORE_RATINGS" : s }
  {
    d = $(c["decidedBy"]); sub(/ \(v[0-9.]+\)$/, "", d); seen[d]++
    col = ""
    if (d == "CoreModel") col = "coreRatingStatus"
    else if (d == "CoreWithTopicsModel") col = "coreWithTopicsRatingStatus"
    else if (d == "ExpansionModel") col = "expansionRatingStatus"
    else if (d == "ExpansionPlusModel") col = "expansionPlusRatingStatus"
    else if (d == "MultiGroupModel01") col = "multiGroupRatingStatus"
    if (col != "" && pub($(c[col])) != $(c["finalRatingStatus"])) {
      printf "note %s decided by %s: final %s, model %s\n", $1, d, $(c["finalRatingStatus"]), $(c[col]); bad++
    }
  }
  END {
    n = split("CoreModel CoreWithTopicsModel ExpansionModel ExpansionPlusModel MultiGroupModel01", need, " ")
    for (i = 1; i <= n; i++) if (!seen[need[i]]) { print "no note decided by " need[i]; bad++ }
    if (!seen["GaussianModel"] && !seen["GaussianCoreWithTopicsModel"]) { print "no Gaussian decision"; bad++ }
    t = 0; for (k in seen) if (k ~ /^TopicModel0[1-5]$/) t++
    if (!t) { print "no topic model decision"; bad++ }
    exit bad ? 1 : 0
  }' "$T/o/scored_notes.tsv"
echo "decided_by: ok"
