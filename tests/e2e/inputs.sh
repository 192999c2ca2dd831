#!/usr/bin/env bash
# tests/e2e/inputs.sh -- the public download as it comes: one ratings TSV,
# 4 shards (a directory and repeated -r), their gzip'd and zipped versions,
# and stdin give byte-identical score outputs (and the same DB through
# import); a truncated gzip fails naming the file; a header-only shard and a
# 0-byte shard; a directory holding other kinds and junk (skipped with a
# warning).  Fixtures are made here with gen, gzip and python3's zipfile.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$BIN" gen -o "$T/d" --raters 300 --notes 300 --ratings 12000 --seed 11 -q
N=$T/d/notes-00000.tsv
R=$T/d/ratings-00000.tsv
com=(-n "$N" -s "$T/d/noteStatusHistory-00000.tsv" -e "$T/d/userEnrollment-00000.tsv")
outs="scored_notes.tsv helpfulness_scores.tsv note_status_history.tsv"
same() { for f in $outs; do cmp "$T/o_one/$f" "$T/$1/$f" || { echo "differs: $1/$f"; exit 1; }; done; }

# 4 shards, rows dealt round-robin (a different row order than the one file)
mkdir "$T/sh" "$T/gz" "$T/zip"
awk -v dir="$T/sh" 'NR == 1 { for (i = 0; i < 4; i++) print > sprintf("%s/ratings-%05d.tsv", dir, i); h = $0; next }
  { print > sprintf("%s/ratings-%05d.tsv", dir, (NR - 2) % 4) }' "$R"
for i in 0 1 2 3; do
  gzip -c "$T/sh/ratings-0000$i.tsv" > "$T/gz/ratings-0000$i.tsv.gz"
  python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z: z.write(sys.argv[2], sys.argv[3])' \
    "$T/zip/ratings-0000$i.zip" "$T/sh/ratings-0000$i.tsv" "ratings-0000$i.tsv"
done

"$BIN" score "${com[@]}" -r "$R" -o "$T/o_one" 2> /dev/null
"$BIN" score "${com[@]}" -r "$T/sh" -o "$T/o_dir" 2> /dev/null;   same o_dir
"$BIN" score "${com[@]}" -r "$T/sh/ratings-00002.tsv" -r "$T/sh/ratings-00000.tsv" \
  -r "$T/sh/ratings-00003.tsv" -r "$T/sh/ratings-00001.tsv" -o "$T/o_rep" 2> /dev/null; same o_rep
"$BIN" score "${com[@]}" -r "$T/gz" -o "$T/o_gz" 2> /dev/null;    same o_gz
"$BIN" score "${com[@]}" -r "$T/zip" -o "$T/o_zip" 2> /dev/null;  same o_zip
"$BIN" score "${com[@]}" -r - -o "$T/o_in" < "$R" 2> /dev/null;   same o_in
gzip -c "$R" | "$BIN" score "${com[@]}" -r - -o "$T/o_ingz" 2> /dev/null; same o_ingz
# mixed: plain + gz + zip shards, notes gzip'd
gzip -c "$N" > "$T/notes.tsv.gz"
"$BIN" score -n "$T/notes.tsv.gz" -s "$T/d/noteStatusHistory-00000.tsv" -e "$T/d/userEnrollment-00000.tsv" \
  -r "$T/sh/ratings-00000.tsv" -r "$T/gz/ratings-00001.tsv.gz" -r "$T/zip/ratings-00002.zip" \
  -r "$T/zip/ratings-00003.zip" -o "$T/o_mix" 2> /dev/null;     same o_mix

# ---- a truncated gzip: non-zero, names the file and where ------------------
cp "$T/gz/ratings-00001.tsv.gz" "$T/whole.gz"
head -c $(($(stat -c %s "$T/whole.gz") / 2)) "$T/whole.gz" > "$T/gz/ratings-00001.tsv.gz"
if "$BIN" score "${com[@]}" -r "$T/gz" -o "$T/o_bad" 2> "$T/err"; then echo "truncated gzip scored"; exit 1; fi
grep -q "ratings-00001.tsv.gz:[0-9]*: truncated gzip data" "$T/err" || { cat "$T/err"; exit 1; }
[ ! -e "$T/o_bad" ] || { echo "output dir left behind"; exit 1; }
if "$BIN" import --db "$T/bad.db" "$T/gz" > /dev/null 2> "$T/err"; then echo "truncated gzip imported"; exit 1; fi
grep -q "ratings-00001.tsv.gz:[0-9]*: truncated gzip data" "$T/err"
cp "$T/whole.gz" "$T/gz/ratings-00001.tsv.gz"

# ---- empty shards: header-only is read (0 rows), 0 bytes skipped in a dir ----
head -1 "$R" > "$T/sh/ratings-00004.tsv"
: > "$T/sh/ratings-00005.tsv"
"$BIN" score "${com[@]}" -r "$T/sh" -o "$T/o_empty" 2> "$T/err";  same o_empty
grep -q "warning: .*ratings-00005.tsv: empty file (no header line); skipped" "$T/err"
if "$BIN" score "${com[@]}" -r "$T/sh/ratings-00005.tsv" -o "$T/o_x" 2> "$T/err"; then exit 1; fi
grep -q "ratings-00005.tsv: empty file" "$T/err"
if "$BIN" score "${com[@]}" -r "$T/sh/ratings-00004.tsv" -o "$T/o_x" 2> "$T/err"; then exit 1; fi
grep -q "ratings-00004.tsv: no ratings read" "$T/err"
rm "$T/sh/ratings-00004.tsv" "$T/sh/ratings-00005.tsv"

# ---- a directory with the other kinds and junk: ratings only, warned -------
mkdir "$T/all"
cp "$T/d/"*-00000.tsv "$T/all/"; rm "$T/all/ratings-00000.tsv"   # notes, status, enrollment
cp "$T/gz/"* "$T/all/"; echo "not data" > "$T/all/README.txt"; printf 'a\tb\n1\t2\n' > "$T/all/readme.tsv"
"$BIN" score "${com[@]}" -r "$T/all" -o "$T/o_all" 2> "$T/err";   same o_all
grep -q "notes-00000.tsv: a notes file, not ratings; skipped" "$T/err"
grep -q "readme.tsv:1: not a public-format TSV file.*; skipped" "$T/err"
grep -q README "$T/err" && { echo "README.txt is not an input"; exit 1; }

# ---- import: the same rows from every form -----------------------------------
"$BIN" import --db "$T/a.db" "$N" "$R" > /dev/null
"$BIN" import --db "$T/b.db" "$T/all" > /dev/null 2>&1
gzip -c "$N" | "$BIN" import --db "$T/c.db" - "$T/zip" > /dev/null
for db in b c; do
  for t in notes ratings; do
    [ "$(sqlite3 "$T/a.db" "SELECT count(*) FROM $t")" = "$(sqlite3 "$T/$db.db" "SELECT count(*) FROM $t")" ] \
      || { echo "import $db: $t differ"; exit 1; }
  done
done
q="SELECT note_id, participant_id, created_ms, level FROM ratings JOIN participants p ON p.id = rater_id ORDER BY 1, 2"
sqlite3 "$T/a.db" "$q" > "$T/qa"; sqlite3 "$T/c.db" "$q" > "$T/qc"; cmp "$T/qa" "$T/qc"
[ "$(wc -l < "$T/qa")" -gt 1000 ]
head -1 "$R" > "$T/hdr.tsv"
if "$BIN" import --db "$T/h.db" "$T/hdr.tsv" > /dev/null 2> "$T/err"; then echo "nothing imported, exit 0"; exit 1; fi
grep -q "no rows in any input" "$T/err"
echo ok
