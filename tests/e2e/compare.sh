#!/usr/bin/env bash
# tests/e2e/compare.sh -- `notescore compare`: usage and input errors (exit
# codes, the file named), notescore output against itself (agreement 1.0),
# against a hand-edited copy (the exact confusion matrix, decider groups and
# the worst disagreement), against noteStatusHistory files (currentStatus
# is what counts), the JSON (parsed with jq, every field present), and
# --explain on the worst notes from the DB.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$BIN" compare --help > "$T/help"
grep -q -- '--explain' "$T/help"
"$BIN" --help | grep -q '^  compare '

"$BIN" gen -o "$T/d" --raters 300 --notes 300 --ratings 6000 --seed 5 -q
in=(-n "$T/d/notes-00000.tsv" -r "$T/d/ratings-00000.tsv" -s "$T/d/noteStatusHistory-00000.tsv"
    -e "$T/d/userEnrollment-00000.tsv")
"$BIN" score "${in[@]}" -o "$T/o" 2>/dev/null
O=$T/o/scored_notes.tsv

# ---- usage and input errors ----------------------------------------------
set +e
"$BIN" compare "$T/o" 2>/dev/null; rc1=$?
"$BIN" compare "$T/o" "$T/o" --bogus 2>/dev/null; rc2=$?
"$BIN" compare "$T/o" "$T/o" --explain 3 2>/dev/null; rc3=$?
"$BIN" compare "$T/o" "$T/missing.tsv" 2>"$T/e4"; rc4=$?
"$BIN" compare "$T/d/ratings-00000.tsv" "$T/o" 2>"$T/e5"; rc5=$?
"$BIN" compare "$T/d" "$T/o" 2>"$T/e6"; rc6=$?
"$BIN" compare "$T/o" "$T/o" --json "$T/nodir/x.json" >/dev/null 2>"$T/e7"; rc7=$?
set -e
[ "$rc1" = 2 ] || { echo "one input: exit $rc1, want 2"; exit 1; }
[ "$rc2" = 2 ] || { echo "unknown option: exit $rc2, want 2"; exit 1; }
[ "$rc3" = 2 ] || { echo "--explain without --db: exit $rc3, want 2"; exit 1; }
[ "$rc4" = 1 ] && grep -q "missing.tsv" "$T/e4" || { echo "missing B: exit $rc4"; cat "$T/e4"; exit 1; }
[ "$rc5" = 1 ] && grep -q "ratings-00000.tsv.*neither finalRatingStatus nor currentStatus" "$T/e5" \
  || { echo "ratings file as A: exit $rc5"; cat "$T/e5"; exit 1; }
[ "$rc6" = 1 ] && grep -q "$T/d/scored_notes.tsv" "$T/e6" \
  || { echo "dir without scored_notes.tsv: exit $rc6"; cat "$T/e6"; exit 1; }
[ "$rc7" = 1 ] && grep -q "nodir/x.json" "$T/e7" || { echo "unwritable --json: exit $rc7"; exit 1; }

# ---- against itself --------------------------------------------------------
n=$(($(wc -l < "$O") - 1))
"$BIN" compare "$T/o" "$T/o" --json "$T/self.json" > "$T/self.txt"
[ "$(jq -r .statusAgreement "$T/self.json")" = 1 ] || { echo "self agreement not 1"; exit 1; }
[ "$(jq -r .notesInCommon "$T/self.json")" = "$n" ]
[ "$(jq -r .crhJaccard "$T/self.json")" = 1 ]
[ "$(jq -r .interceptCorrelation.pearson "$T/self.json")" = 1 ]
[ "$(jq -r .factorCorrelation.pearson "$T/self.json")" = 1 ]
[ "$(jq -r '.a.kind + "/" + .b.kind' "$T/self.json")" = "notescore output/notescore output" ]
[ "$(jq -r '.topDisagreements | length' "$T/self.json")" = 0 ]
grep -q '^status agreement   1.0000' "$T/self.txt"
# every field of the issue is present
for k in notesInCommon onlyInA onlyInB statusAgreement agreeing disagreeing classes \
         confusionMatrix crhJaccard crhBoth crhEither agreementByDecidedBy interceptCorrelation \
         factorCorrelation topDisagreements a b; do
  [ "$(jq "has(\"$k\")" "$T/self.json")" = true ] || { echo "JSON lacks $k"; exit 1; }
done

# the reference's layout (its columns only, read by name): same figures
mkdir "$T/ref"
cut -f1-20 "$O" > "$T/ref/scored_notes.tsv"
"$BIN" compare "$T/o" "$T/ref/" --json "$T/ref.json" > /dev/null
[ "$(jq -r '.b.kind + " " + (.statusAgreement|tostring) + " " + (.factorCorrelation.pearson|tostring)' "$T/ref.json")" = \
  "reference output 1 1" ]

# ---- a hand-edited copy: the exact confusion matrix ------------------------
# column numbers by header name
fcol() { head -1 "$1" | tr '\t' '\n' | grep -nx "$2" | cut -d: -f1; }
cs=$(fcol "$O" finalRatingStatus); cd_=$(fcol "$O" decidedBy)
ncrh=$(cut -f"$cs" "$O" | grep -cx CURRENTLY_RATED_HELPFUL)
ncrnh=$(cut -f"$cs" "$O" | grep -cx CURRENTLY_RATED_NOT_HELPFUL)
nnmr=$(cut -f"$cs" "$O" | grep -cx NEEDS_MORE_RATINGS)
[ "$ncrh" -ge 4 ] && [ "$ncrnh" -ge 3 ] && [ "$nnmr" -ge 6 ] || { echo "too few notes per status"; exit 1; }
# B: first 3 CRH -> NMR, first 2 CRNH -> CRH, first 4 NMR -> CRNH, the 5th NMR
# -> "" (other); the edited rows' decidedBy becomes "HandEdit"
mkdir "$T/b"
awk -F'\t' -v OFS='\t' -v s="$cs" -v d="$cd_" '
  NR == 1 { print; next }
  $s == "CURRENTLY_RATED_HELPFUL" && h < 3 { h++; $s = "NEEDS_MORE_RATINGS"; $d = "HandEdit" }
  $s == "CURRENTLY_RATED_NOT_HELPFUL" && c < 2 { c++; $s = "CURRENTLY_RATED_HELPFUL"; $d = "HandEdit" }
  $s == "NEEDS_MORE_RATINGS" && $d != "HandEdit" && m < 5 { m++; $s = (m <= 4 ? "CURRENTLY_RATED_NOT_HELPFUL" : ""); $d = "HandEdit" }
  { print }' "$O" > "$T/b/scored_notes.tsv"
"$BIN" compare "$T/o" "$T/b" --json "$T/ed.json" --top 5 > "$T/ed.txt"
want="[[$((ncrh - 3)),0,3,0],[2,$((ncrnh - 2)),0,0],[0,4,$((nnmr - 5)),1],[0,0,0,0]]"
got=$(jq -c .confusionMatrix "$T/ed.json")
[ "$got" = "$want" ] || { echo "confusion matrix $got, want $want"; exit 1; }
[ "$(jq -r .disagreeing "$T/ed.json")" = 10 ]
[ "$(jq -r .agreeing "$T/ed.json")" = $((n - 10)) ]
[ "$(jq -r .crhBoth "$T/ed.json")/$(jq -r .crhEither "$T/ed.json")" = "$((ncrh - 3))/$((ncrh + 2))" ]
# B's deciders: the 10 edited notes all disagree, the rest all agree
[ "$(jq -c '.agreementByDecidedBy.b[] | select(.decidedBy == "HandEdit") | [.notes, .agreeing]' "$T/ed.json")" = "[10,0]" ]
[ "$(jq -r '.topDisagreements | length' "$T/ed.json")" = 5 ]
# worst first: a CRH <-> CRNH swap leads
[ "$(jq -r '.topDisagreements[0].a.status + ">" + .topDisagreements[0].b.status' "$T/ed.json")" = \
  "CURRENTLY_RATED_NOT_HELPFUL>CURRENTLY_RATED_HELPFUL" ]
[ "$(jq -r '.topDisagreements[0].b.rules' "$T/ed.json")" != "" ]
grep -q '^10 disagreeing notes; the worst 5:' "$T/ed.txt"

# ---- noteStatusHistory: currentStatus counts --------------------------------
# notescore's own note_status_history.tsv carries this run's statuses
"$BIN" compare "$T/o" "$T/o/note_status_history.tsv" --json "$T/nsh.json" > /dev/null
[ "$(jq -r .b.kind "$T/nsh.json")" = noteStatusHistory ]
[ "$(jq -r .statusAgreement "$T/nsh.json")" = 1 ]
[ "$(jq -r .interceptCorrelation.notes "$T/nsh.json")" = 0 ]
[ "$(jq -r .interceptCorrelation.pearson "$T/nsh.json")" = null ]
# a published-style file where currentCoreStatus disagrees everywhere and
# currentStatus only for two notes: the figures follow currentStatus
H=$T/o/note_status_history.tsv
hs=$(fcol "$H" currentStatus); hc=$(fcol "$H" currentCoreStatus); hd=$(fcol "$H" currentDecidedBy)
awk -F'\t' -v OFS='\t' -v s="$hs" -v c="$hc" -v d="$hd" '
  NR == 1 { print; next }
  { $c = "CURRENTLY_RATED_HELPFUL"; $d = "PublishedModel (v1.1)" }
  $s == "NEEDS_MORE_RATINGS" && k < 2 { k++; $s = "CURRENTLY_RATED_HELPFUL" }
  { print }' "$H" > "$T/noteStatusHistory-00000.tsv"
"$BIN" compare "$T/o" "$T/noteStatusHistory-00000.tsv" --json "$T/pub.json" > /dev/null
[ "$(jq -r .disagreeing "$T/pub.json")" = 2 ]
[ "$(jq -c '.confusionMatrix[2][0]' "$T/pub.json")" = 2 ]
[ "$(jq -r '.agreementByDecidedBy.b[0].decidedBy' "$T/pub.json")" = "PublishedModel (v1.1)" ]
[ "$(jq -r '.topDisagreements[0].b.coreStatus' "$T/pub.json")" = CURRENTLY_RATED_HELPFUL ]

# ---- --json - and --explain on the worst notes from the DB --------------------
"$BIN" import --db "$T/db" "$T/d/notes-00000.tsv" "$T/d/ratings-00000.tsv" \
  "$T/d/noteStatusHistory-00000.tsv" "$T/d/userEnrollment-00000.tsv" > /dev/null 2>&1
"$BIN" score --db "$T/db" -o "$T/o2" 2>/dev/null
cmp "$T/o/scored_notes.tsv" "$T/o2/scored_notes.tsv"
"$BIN" compare "$T/o2" "$T/b" --explain 2 --db "$T/db" > "$T/ex.txt"
[ "$(grep -c '^---- explain ' "$T/ex.txt")" = 2 ]
grep -q '^rules that fired' "$T/ex.txt"
"$BIN" compare "$T/o2" "$T/b" --explain 2 --db "$T/db" --json - 2>/dev/null > "$T/ex.json"
[ "$(jq -r '.explain | length' "$T/ex.json")" = 2 ]
[ "$(jq -r '.explain[0].noteId' "$T/ex.json")" = "$(jq -r '.topDisagreements[0].noteId' "$T/ex.json")" ]
echo "ok: $n notes; edited copy matrix $got"
