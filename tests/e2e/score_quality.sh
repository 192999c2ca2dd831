#!/usr/bin/env bash
# tests/e2e/score_quality.sh -- scoring quality on `notescore gen` data with
# default settings, over 3 seeds, measured by `notescore eval --json`:
#   CRH precision >= 0.97, no partisan note at CRH,
#   Spearman(coreNoteIntercept, true quality) >= 0.8.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# value of a numeric top-level key in eval's JSON (one key per line)
get() { sed -n "s/^  \"$1\": *\([-0-9.eE+]*\).*/\1/p" "$2" | head -1; }

for seed in 1 2 3; do
  "$BIN" gen -o "$T/d$seed" --seed "$seed" -q
  "$BIN" score -n "$T/d$seed/notes-00000.tsv" -r "$T/d$seed/ratings-00000.tsv" \
    -s "$T/d$seed/noteStatusHistory-00000.tsv" -e "$T/d$seed/userEnrollment-00000.tsv" \
    -o "$T/o$seed" 2>/dev/null
  "$BIN" eval --truth "$T/d$seed" --scores "$T/o$seed" --json > "$T/e$seed.json"
  prec=$(get crhPrecision "$T/e$seed.json")
  part=$(get partisanCrh "$T/e$seed.json")
  rho=$(get spearmanInterceptQuality "$T/e$seed.json")
  crh=$(get crhTrueHelpful "$T/e$seed.json")
  echo "seed $seed: CRH precision $prec, partisan CRH $part, Spearman $rho, true-helpful CRH $crh"
  awk -v p="$prec" -v r="$rho" -v n="$part" -v c="$crh" 'BEGIN {
    if (p == "" || r == "" || n == "") { print "missing metric"; exit 1 }
    if (p + 0 < 0.97) { print "CRH precision " p " < 0.97"; exit 1 }
    if (n + 0 != 0) { print n " partisan notes at CRH"; exit 1 }
    if (r + 0 < 0.8) { print "Spearman " r " < 0.8"; exit 1 }
    if (c + 0 < 50) { print "only " c " helpful notes at CRH"; exit 1 }
  }'
done
