#!/usr/bin/env bash
# tests/e2e/gen_eval.sh -- `notescore gen` and `notescore eval` through the CLI:
# --help, usage errors, determinism of the files, the public header widths,
# and eval (text and --json) on a scored_notes.tsv made from the truth.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$BIN" gen --help | grep -q -- '--ring-farm'
"$BIN" eval --help | grep -q -- '--scores-b'
if "$BIN" gen --ratings 10 2>/dev/null; then echo "gen without -o must fail"; exit 1; fi
set +e; "$BIN" gen -o "$T/x" --bogus 2>/dev/null; rc=$?; set -e
[ "$rc" = 2 ] || { echo "unknown option: exit $rc, want 2"; exit 1; }

args=(--raters 200 --notes 150 --ratings 6000 --seed 3 --ring 6 --ring-farm 8 --ring-targets 4 --ring-split --incorrect-popular 3 -q)
"$BIN" gen -o "$T/a" "${args[@]}"
"$BIN" gen -o "$T/b" "${args[@]}"
for f in notes-00000.tsv ratings-00000.tsv noteStatusHistory-00000.tsv userEnrollment-00000.tsv truth_notes.tsv truth_raters.tsv; do
  cmp "$T/a/$f" "$T/b/$f"
done
"$BIN" gen -o "$T/c" "${args[@]}" --seed 4
if cmp -s "$T/a/ratings-00000.tsv" "$T/c/ratings-00000.tsv"; then echo "seeds 3 and 4 gave the same ratings"; exit 1; fi

# header widths of the public layouts
[ "$(head -1 "$T/a/notes-00000.tsv" | awk -F'\t' '{print NF}')" = 24 ]
[ "$(head -1 "$T/a/ratings-00000.tsv" | awk -F'\t' '{print NF}')" = 35 ]
[ "$(head -1 "$T/a/noteStatusHistory-00000.tsv" | awk -F'\t' '{print NF}')" = 24 ]
[ "$(head -1 "$T/a/userEnrollment-00000.tsv" | awk -F'\t' '{print NF}')" = 8 ]
# every data row as wide as its header
awk -F'\t' 'FNR==1{w=NF} NF!=w{print FILENAME": line "FNR" has "NF" fields"; bad=1} END{exit bad}' "$T"/a/*.tsv

# a "perfect" scorer: CRH iff truly helpful, intercept = quality
mkdir -p "$T/s"
awk -F'\t' 'BEGIN{OFS="\t"; print "noteId","coreNoteIntercept","finalRatingStatus"}
  NR>1{print $1, $3, ($2==1 ? "CURRENTLY_RATED_HELPFUL" : "CURRENTLY_RATED_NOT_HELPFUL")}' \
  "$T/a/truth_notes.tsv" > "$T/s/scored_notes.tsv"
"$BIN" eval --truth "$T/a" --scores "$T/s" > "$T/eval.txt"
grep -q 'CRH precision' "$T/eval.txt"
"$BIN" eval --truth "$T/a" --scores "$T/s" --scores-b "$T/s" --json > "$T/eval.json"
grep -q '"crhPrecision": 1.0' "$T/eval.json"
grep -q '"crhRecall": 1.0' "$T/eval.json"
grep -q '"spearmanInterceptQuality": 1.0' "$T/eval.json"
grep -q '"badTargets": 4' "$T/eval.json"
grep -q '"badTargetsCrh": 0' "$T/eval.json"
grep -q '"differ": 0' "$T/eval.json"
# a missing scores directory is an error naming the file
if "$BIN" eval --truth "$T/a" --scores "$T/nope" 2>"$T/err"; then echo "eval on a missing dir must fail"; exit 1; fi
grep -q 'scored_notes.tsv' "$T/err"
echo ok
