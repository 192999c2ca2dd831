#!/usr/bin/env bash
# tests/e2e/gen_shapes.sh -- the shape options of `notescore gen` through the
# CLI: --help lists them, presets and their overrides, --opt=VALUE forms,
# usage errors, determinism with every shape on, the appended truth columns,
# gen_meta.json, and eval's coordination metrics on a real scoring run.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

for o in --shape --communities --locality --activity --power-raters --arrival --notes-per-post \
         --cliques --clique-size --ring-place --ring-community --ring-timing combined; do
  "$BIN" gen --help | grep -q -- "$o" || { echo "gen --help does not mention $o"; exit 1; }
done
usage() { # expects exit 2
  set +e; "$BIN" gen -o "$T/x" -q "$@" 2>/dev/null; local rc=$?; set -e
  [ "$rc" = 2 ] || { echo "gen $*: exit $rc, want 2"; exit 1; }
}
usage --shape nope
usage --activity medium
usage --ring-timing slow
usage --ring-place outside
usage --locality 1.5
usage --notes-per-post 0.5
usage --clique-size 1
usage --communities 4 --ring-community 4
usage --communities 20 --raters 10

S=(--raters 1500 --notes 800 --ratings 15000 --seed 5 -q)
R=(--ring 30 --ring-farm 10 --ring-targets 5 --ring-place=spread --ring-timing=mixed)
"$BIN" gen -o "$T/a" --shape combined "${S[@]}" "${R[@]}"
"$BIN" gen -o "$T/b" "${S[@]}" "${R[@]}" --shape=combined   # the preset applies first wherever it is
for f in notes-00000.tsv ratings-00000.tsv noteStatusHistory-00000.tsv userEnrollment-00000.tsv \
         truth_notes.tsv truth_raters.tsv gen_meta.json; do
  cmp "$T/a/$f" "$T/b/$f"
done
grep -q '"nowMillis": 1767225600000' "$T/a/gen_meta.json"
grep -q '"communities": 16' "$T/a/gen_meta.json"
grep -q '"ringTiming": "mixed"' "$T/a/gen_meta.json"

# truth columns appended, every row as wide as its header
head -1 "$T/a/truth_raters.tsv" | grep -q $'numRatings\tcommunity\tisPower\tcliqueId\tringTiming$'
head -1 "$T/a/truth_notes.tsv" | grep -q $'numRatings\tcommunity\ttweetId$'
awk -F'\t' 'FNR==1{w=NF} NF!=w{print FILENAME": line "FNR" has "NF" fields"; bad=1} END{exit bad}' "$T"/a/*.tsv
# 16 communities in userEnrollment, groups from the documented list
[ "$(awk -F'\t' 'NR>1{print $7}' "$T/a/userEnrollment-00000.tsv" | sort -u | wc -l)" = 16 ]
awk -F'\t' 'NR>1 && $7==18 && $6!="EXPANSION"{bad=1} NR>1 && $7==13 && $6!="CORE"{bad=1} END{exit bad}' \
  "$T/a/userEnrollment-00000.tsv"
# power raters, clique members, both ring timings
awk -F'\t' 'NR>1 && $9==1{p++} NR>1 && $10>0{c++} $11=="honest"{h++} $11=="burst"{b++}
  END{exit !(p>=1 && c>=20 && h==15 && b==15)}' "$T/a/truth_raters.tsv"

# an explicit option overrides the preset
"$BIN" gen -o "$T/c" --shape communities --communities 3 "${S[@]}"
[ "$(awk -F'\t' 'NR>1{print $8}' "$T/c/truth_raters.tsv" | sort -u | wc -l)" = 3 ]

# eval: coordination metrics from the scorer's helpfulness_scores.tsv
"$BIN" score -n "$T/a/notes-00000.tsv" -r "$T/a/ratings-00000.tsv" -s "$T/a/noteStatusHistory-00000.tsv" \
  -e "$T/a/userEnrollment-00000.tsv" -o "$T/s" --epoch-millis 1767225600000 2>/dev/null
"$BIN" eval --truth "$T/a" --scores "$T/s" --json > "$T/e.json"
grep -q '"honestRaters": ' "$T/e.json"
grep -q '"ringRaters": 30' "$T/e.json"
grep -q '"cliqueRaters": ' "$T/e.json"
"$BIN" eval --truth "$T/a" --scores "$T/s" | grep -q 'ring accounts flagged'
echo ok
