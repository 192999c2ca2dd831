#!/usr/bin/env bash
# tests/e2e/cli_failures.sh -- input mistakes never exit 0, fail before the
# work, name the file, and leave no output directory behind: repeated -r
# (all read), an empty -r directory or one of other kinds only, zero ratings read, a file
# given twice, a ratings file as notes, -o naming a file, report -o naming a
# directory, a non-DB file as --db (every command), a DB with a newer schema
# (both versions said), and rejected rows reported the same way by score and
# import (first 20, then a count; all with -v).
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# fails CMD... : the command must exit non-zero; its stderr is in $T/err
fails() {
  if "$@" > "$T/out" 2> "$T/err"; then echo "should fail: $*"; exit 1; fi
}
# names TEXT : stderr of the last command contains TEXT
names() { grep -qF -- "$1" "$T/err" || { echo "message lacks '$1':"; cat "$T/err"; exit 1; }; }

"$BIN" gen -o "$T/d" --raters 300 --notes 300 --ratings 6000 --seed 7 -q
N=$T/d/notes-00000.tsv
R=$T/d/ratings-00000.tsv
S=$T/d/noteStatusHistory-00000.tsv

# ---- repeated -r: every file is read ---------------------------------------
mkdir "$T/split"
head -1 "$R" > "$T/split/a.tsv"; head -1 "$R" > "$T/split/b.tsv"
tail -n +2 "$R" | awk -v a="$T/split/a.tsv" -v b="$T/split/b.tsv" 'NR % 2 { print >> a; next } { print >> b }'
"$BIN" score -n "$N" -r "$R" -s "$S" -o "$T/full" 2> "$T/sum_full"
# (files of one kind in any order, -n after -r: the same run)
"$BIN" score -r "$T/split/b.tsv" -s "$S" -r "$T/split/a.tsv" -n "$N" -o "$T/two" 2> "$T/sum_two"
for f in scored_notes.tsv helpfulness_scores.tsv note_status_history.tsv; do
  cmp "$T/full/$f" "$T/two/$f"
done
grep -q "scored $(($(wc -l < "$R") - 1)) ratings" "$T/sum_two"

# ---- -r directories with nothing to read -----------------------------------
# (a .gz-only directory is read: tests/e2e/inputs.sh)
mkdir "$T/empty" "$T/other"
head -3 "$N" > "$T/other/notes-00000.tsv"; echo hello > "$T/other/readme.tsv"
fails "$BIN" score -n "$N" -r "$T/empty" -o "$T/o1"
names "$T/empty: no ratings (*.tsv, *.tsv.gz, *.zip) files"
[ ! -e "$T/o1" ] || { echo "output dir created for a failed run"; exit 1; }
fails "$BIN" score -n "$N" -r "$T/other" -o "$T/o1"   # only other kinds: skipped
names "other/notes-00000.tsv: a notes file, not ratings; skipped"
names "$T/other: no ratings (*.tsv, *.tsv.gz, *.zip) files"
fails "$BIN" import --db "$T/e.db" "$N" "$T/empty"
names "$T/empty: no *.tsv, *.tsv.gz or *.zip files"
[ ! -e "$T/e.db" ] || { echo "import touched the DB before failing"; exit 1; }

# ---- zero ratings read: non-zero, names the file, no output dir -------------
head -1 "$R" > "$T/hdr.tsv"
fails "$BIN" score -n "$N" -r "$T/hdr.tsv" -o "$T/o2"
names "$T/hdr.tsv: no ratings read"
[ ! -e "$T/o2" ] || { echo "output dir left behind by a failed run"; exit 1; }

# ---- a file given twice; a file of the wrong kind ---------------------------
fails "$BIN" score -n "$N" -r "$R" -r "$R" -o "$T/o3"
names "ratings-00000.tsv: given twice (-r and -r)"
fails "$BIN" score -n "$N" -r "$T/d/notes-00000.tsv" -o "$T/o3"
names "given as -r (a ratings file) but its header is that of a notes file"
fails "$BIN" score -n "$R" -r "$R" -o "$T/o3"
names "given as -n (a notes file) but its header is that of a ratings file"
fails "$BIN" score -n "$N" -r "$R" -s "$S" -s "$S" -o "$T/o3"
names "-s given twice"
fails "$BIN" import --db "$T/i.db" "$R" "$T/d/../d/ratings-00000.tsv"
names "ratings-00000.tsv: given twice"
[ ! -e "$T/i.db" ] || { echo "import created the DB before failing"; exit 1; }
[ ! -e "$T/o3" ]

# ---- -o naming a file: refused before any work ------------------------------
echo keep > "$T/afile"
fails "$BIN" score -n "$N" -r "$R" -o "$T/afile"
names "$T/afile: exists and is not a directory"
grep -q "scored" "$T/err" && { echo "score ran before refusing -o"; exit 1; }
[ "$(cat "$T/afile")" = keep ]

# ---- DBs: not a DB, a newer schema; report -o DIR ---------------------------
"$BIN" import --db "$T/db" "$N" "$R" "$S" > /dev/null
"$BIN" score --db "$T/db" 2> /dev/null
for cmd in "score --db $T/afile" "import --db $T/afile $N" "explain --db $T/afile 1" \
           "report --db $T/afile -o $T/r.html" "serve --db $T/afile --listen 127.0.0.1:0" \
           "export --db $T/afile -o $T/ex" "compare $T/full $T/full --explain 1 --db $T/afile"; do
  # shellcheck disable=SC2086
  fails "$BIN" $cmd
  names "$T/afile: not a notescore database"
done
[ ! -e "$T/ex" ] || { echo "export left its output dir"; exit 1; }
# a DB without ratings: no silent all-NMR run
"$BIN" import --db "$T/nr.db" "$N" > /dev/null
fails "$BIN" score --db "$T/nr.db"
names "$T/nr.db: no ratings in the database"
[ "$(sqlite3 "$T/nr.db" "SELECT count(*) FROM runs")" = 0 ]
fails "$BIN" report --db "$T/db" -o "$T"
names "$T: is a directory"
cp "$T/db" "$T/new.db"
sqlite3 "$T/new.db" "PRAGMA user_version = 99"
fails "$BIN" score --db "$T/new.db"
names "$T/new.db: database schema version 99 is newer than this notescore"; names "versions 1 to 7"
fails "$BIN" report --db "$T/new.db" -o "$T/r.html"
names "schema version 99"
[ ! -e "$T/r.html" ]

# ---- rejected rows: the same report from score and import -------------------
{ sed -n '1,201p' "$R"; sed -n '2,31p' "$R" | awk -F'\t' -v OFS='\t' '{ $1 = "x" $1; print }'; } > "$T/bad.tsv"
"$BIN" score -n "$N" -r "$T/bad.tsv" -o "$T/o4" 2> "$T/se"
"$BIN" import --db "$T/b.db" "$T/bad.tsv" > /dev/null 2> "$T/ie"
grep -F "$T/bad.tsv:" "$T/se" > "$T/se.rows"
grep -F "$T/bad.tsv:" "$T/ie" > "$T/ie.rows"
[ "$(grep -c 'noteId: expected an integer' "$T/se.rows")" = 20 ] || { cat "$T/se"; exit 1; }
grep -q "bad.tsv: 10 more rejected rows not shown (--verbose shows all)" "$T/se.rows"
cmp "$T/se.rows" "$T/ie.rows" || { echo "score and import report rejected rows differently"; exit 1; }
"$BIN" score -n "$N" -r "$T/bad.tsv" -o "$T/o5" -v 2> "$T/sev"
"$BIN" import --db "$T/c.db" -v "$T/bad.tsv" > /dev/null 2> "$T/iev"
[ "$(grep -c 'noteId: expected an integer' "$T/sev")" = 30 ]
[ "$(grep -c 'noteId: expected an integer' "$T/iev")" = 30 ]
grep -q "more rejected rows not shown" "$T/sev" && { echo "-v still hides rows"; exit 1; }
echo ok
