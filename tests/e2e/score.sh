#!/usr/bin/env bash
# tests/e2e/score.sh -- `notescore score` through the CLI: --help, usage
# errors, the output files and their headers, byte-identical output for the
# same input (twice, and with 1 vs 2 threads), a ratings directory, the
# status history feeding the next run, and --db mode matching TSV mode.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$BIN" score --help > "$T/help"
grep -q -- '--epoch-millis' "$T/help"
set +e
"$BIN" score -o "$T/x" 2>/dev/null; rc1=$?
"$BIN" score --bogus 2>/dev/null; rc2=$?
"$BIN" score -n /nonexistent/notes.tsv -r /nonexistent/r.tsv -o "$T/x" 2>"$T/err"; rc3=$?
set -e
[ "$rc1" = 2 ] || { echo "missing inputs: exit $rc1, want 2"; exit 1; }
[ "$rc2" = 2 ] || { echo "unknown option: exit $rc2, want 2"; exit 1; }
[ "$rc3" != 0 ] || { echo "missing file must fail"; exit 1; }
grep -q '^notescore: /nonexistent/notes.tsv' "$T/err"

"$BIN" gen -o "$T/d" --raters 300 --notes 300 --ratings 20000 --seed 5 -q
in=(-n "$T/d/notes-00000.tsv" -r "$T/d/ratings-00000.tsv" -s "$T/d/noteStatusHistory-00000.tsv" -e "$T/d/userEnrollment-00000.tsv")
NS_THREADS=1 "$BIN" score "${in[@]}" -o "$T/o1" 2>"$T/sum1"
NS_THREADS=2 "$BIN" score "${in[@]}" -o "$T/o2" 2>/dev/null
"$BIN" score "${in[@]}" -o "$T/o3" --threads 2 2>/dev/null
files="scored_notes.tsv helpfulness_scores.tsv note_status_history.tsv aux_note_info.tsv"
for f in $files; do
  cmp "$T/o1/$f" "$T/o2/$f"
  cmp "$T/o1/$f" "$T/o3/$f"
done
grep -q '^notescore: scored [0-9]* ratings' "$T/sum1"

# headers: reference names first, notescore's own at the end
head -1 "$T/o1/scored_notes.tsv" > "$T/h1"
head -1 "$T/o1/helpfulness_scores.tsv" > "$T/h2"
grep -q $'^noteId\tcoreNoteIntercept\tcoreNoteFactor1\tfinalRatingStatus\tfirstTag\tsecondTag\tcoreActiveRules' "$T/h1"
grep -q $'^raterParticipantId\tcoreRaterIntercept\tcoreRaterFactor1\t' "$T/h2"
grep -q $'raterTrust\tcoordinatedGroupId\tquasiCliqueId$' "$T/h2"
[ "$(head -1 "$T/o1/note_status_history.tsv" | awk -F'\t' '{print NF}')" = 24 ]
# every row as wide as its header; one row per note
for f in $files; do
  awk -F'\t' 'NR==1{n=NF} NF!=n{print FILENAME": line "NR": "NF" fields, want "n; bad=1} END{exit bad}' "$T/o1/$f"
done
[ "$(($(wc -l < "$T/o1/scored_notes.tsv") - 1))" = "$(($(wc -l < "$T/d/notes-00000.tsv") - 1))" ]
# rows sorted by noteId
tail -n +2 "$T/o1/scored_notes.tsv" | cut -f1 | sort -c -n
# some notes reach each status
cut -f4 "$T/o1/scored_notes.tsv" > "$T/st"
for s in CURRENTLY_RATED_HELPFUL CURRENTLY_RATED_NOT_HELPFUL NEEDS_MORE_RATINGS; do
  grep -qx "$s" "$T/st"
done

# -r as a directory
mkdir "$T/rd"
cp "$T/d/ratings-00000.tsv" "$T/rd/"
# (with the same enrollment: it decides each scorer's raters)
"$BIN" score -n "$T/d/notes-00000.tsv" -r "$T/rd" -s "$T/d/noteStatusHistory-00000.tsv" \
  -e "$T/d/userEnrollment-00000.tsv" -o "$T/o4" 2>/dev/null
for f in $files; do cmp "$T/o1/$f" "$T/o4/$f"; done

# --epoch-millis and the next run from the written history: CRH notes keep CRH
# (the history's nullable timestamps are written as floats, "N.0", like the reference)
now=$(($(sed -n 2p "$T/o1/note_status_history.tsv" | cut -f6 | sed 's/\.0$//') + 3600000))
"$BIN" score -n "$T/d/notes-00000.tsv" -r "$T/d/ratings-00000.tsv" -s "$T/o1/note_status_history.tsv" \
  -o "$T/o5" --epoch-millis "$now" 2>/dev/null
[ "$(tail -n +2 "$T/o5/note_status_history.tsv" | cut -f6 | sort -u)" = "$now.0" ]
[ "$(cut -f4 "$T/o1/scored_notes.tsv" | grep -c '^CURRENTLY_RATED_HELPFUL$')" = \
  "$(cut -f4 "$T/o5/scored_notes.tsv" | grep -c '^CURRENTLY_RATED_HELPFUL$')" ]

# --db mode: import, score, publish; same files as the TSV mode
"$BIN" import --db "$T/db.sqlite" "$T/d/notes-00000.tsv" "$T/d/ratings-00000.tsv" \
  "$T/d/noteStatusHistory-00000.tsv" "$T/d/userEnrollment-00000.tsv" >/dev/null 2>&1
"$BIN" score --db "$T/db.sqlite" -o "$T/o6" 2>/dev/null
for f in $files; do cmp "$T/o1/$f" "$T/o6/$f"; done
if "$BIN" score --db "$T/db.sqlite" -n "$T/d/notes-00000.tsv" 2>/dev/null; then
  echo "--db with -n must fail"; exit 1
fi
echo ok
