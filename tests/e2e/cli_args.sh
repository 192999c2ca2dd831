#!/usr/bin/env bash
# tests/e2e/cli_args.sh -- every subcommand parses argv the same way
# (tools/args.c): "--db=X" and "--db X" (or the command's own value option)
# give the same result, -V and --version print the version, an unknown
# option, a missing value, a value given to a flag and a stray argument
# exit 2 with a message naming them; "--" ends the options; short flags
# cluster; -h prints the help on stdout.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
SRV=
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$T"' EXIT

fail() { echo "FAIL: $*"; exit 1; }
# usage_err TEXT CMD... : exit status 2, stderr names TEXT
usage_err() {
  local text=$1 rc=0; shift
  "$@" > "$T/out" 2> "$T/err" || rc=$?
  [ "$rc" = 2 ] || fail "$*: exit $rc, want 2"
  grep -qF -- "$text" "$T/err" || { cat "$T/err"; fail "$*: message lacks '$text'"; }
}
ver=$("$BIN" --version)
[[ "$ver" =~ ^notescore\ [0-9] ]] || fail "--version printed '$ver'"
[ "$("$BIN" -V)" = "$ver" ] || fail "-V"
usage_err "unknown option '--bogus'" "$BIN" --bogus
usage_err "unknown command 'frob'" "$BIN" frob

# ---- data: gen with "--out=DIR" and "-o DIR" (and -q, --opt=VALUE) --------
"$BIN" gen --out="$T/d" --raters=200 --notes 150 --ratings=3000 --seed 5 -q
"$BIN" gen -o "$T/d2" --raters 200 --notes=150 --ratings 3000 --seed=5 -q
for f in notes-00000.tsv ratings-00000.tsv truth_notes.tsv; do cmp "$T/d/$f" "$T/d2/$f"; done
N=$T/d/notes-00000.tsv R=$T/d/ratings-00000.tsv S=$T/d/noteStatusHistory-00000.tsv

# ---- import: --db=X and --db X build the same DB -------------------------
"$BIN" import --db="$T/a.db" "$N" "$R" "$S" > /dev/null
"$BIN" import "$N" --db "$T/b.db" -v -- "$R" "$S" > /dev/null   # options between files, then --
q="SELECT count(*) || ' ' || sum(note_id % 1000) FROM ratings"
[ "$(sqlite3 "$T/a.db" "$q")" = "$(sqlite3 "$T/b.db" "$q")" ] || fail "import --db= vs --db"

# ---- score: TSV mode with long/short/attached forms; --db= and --db ------
"$BIN" score --notes="$N" -r "$R" -s"$S" --outdir="$T/s1" --seed=0 2> /dev/null
"$BIN" score -n "$N" --ratings "$R" --status "$S" -o "$T/s2" --seed 0 2> /dev/null
cmp "$T/s1/scored_notes.tsv" "$T/s2/scored_notes.tsv"
"$BIN" score --db="$T/a.db" -o "$T/sa" 2> /dev/null
"$BIN" score --db "$T/b.db" --outdir="$T/sb" 2> /dev/null
cmp "$T/sa/scored_notes.tsv" "$T/sb/scored_notes.tsv"

# ---- export ----------------------------------------------------------------
"$BIN" export --db="$T/a.db" --out="$T/e1" > /dev/null
"$BIN" export --db "$T/a.db" -o "$T/e2" > /dev/null
cmp "$T/e1/ratings-00000.tsv" "$T/e2/ratings-00000.tsv"

# ---- explain (a note id of the run) -----------------------------------------
id=$(sqlite3 "$T/a.db" "SELECT note_id FROM note_scores LIMIT 1")
"$BIN" explain --db="$T/a.db" "$id" --json > "$T/x1"
"$BIN" explain --json --db "$T/a.db" -- "$id" > "$T/x2"
cmp "$T/x1" "$T/x2"
usage_err "one NOTE_ID only" "$BIN" explain --db "$T/a.db" "$id" "$id"

# ---- report -----------------------------------------------------------------
"$BIN" report --db="$T/a.db" -o - --title=T > "$T/r1.html" 2> /dev/null
"$BIN" report --db "$T/a.db" --out - --title T > "$T/r2.html" 2> /dev/null
cmp "$T/r1.html" "$T/r2.html"

# ---- compare (its --db goes with --explain) -----------------------------------
"$BIN" compare "$T/sa" "$T/s1" --db="$T/a.db" --explain=1 --top=3 > "$T/c1"
"$BIN" compare --db "$T/a.db" --explain 1 --top 3 "$T/sa" "$T/s1" > "$T/c2"
cmp "$T/c1" "$T/c2"

# ---- eval --------------------------------------------------------------------
"$BIN" eval --truth="$T/d" --scores="$T/s1" --json > "$T/v1"
"$BIN" eval --truth "$T/d" --scores "$T/s1" --json > "$T/v2"
cmp "$T/v1" "$T/v2"

# ---- serve: --db=X and --db X both start a server ------------------------------
for form in eq sep; do
  rm -f "$T/port"
  if [ $form = eq ]; then
    "$BIN" serve --db="$T/a.db" --listen=127.0.0.1:0 --port-file="$T/port" 2>> "$T/serve.log" &
  else
    "$BIN" serve --db "$T/a.db" --listen 127.0.0.1:0 --port-file "$T/port" 2>> "$T/serve.log" &
  fi
  SRV=$!
  for _ in $(seq 1 200); do [ -s "$T/port" ] && break; sleep 0.05; done
  [ -s "$T/port" ] || { cat "$T/serve.log"; fail "serve ($form) did not start"; }
  [ "$(curl -s -m 30 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat "$T/port")/healthz")" = 200 ] \
    || fail "serve ($form): /healthz"
  kill -TERM "$SRV"; wait "$SRV"; SRV=
done

# ---- every command: -V, --version, -h, unknown option, missing value ----------
for cmd in import export score serve explain report compare gen eval backup; do
  [ "$("$BIN" $cmd -V)" = "$ver" ] || fail "$cmd -V"
  [ "$("$BIN" $cmd --version)" = "$ver" ] || fail "$cmd --version"
  "$BIN" $cmd -h | grep -q "^usage: notescore $cmd" || fail "$cmd -h"
  "$BIN" $cmd --help | grep -q -- "-V, --version" || fail "$cmd --help does not list -V"
  usage_err "$cmd: unknown option '--no-such-option'" "$BIN" $cmd --no-such-option
  usage_err "$cmd: unknown option '-Z'" "$BIN" $cmd -Z
done
for cmd in import export score serve explain report compare backup; do
  usage_err "$cmd: option --db needs a value" "$BIN" $cmd --db
done
usage_err "gen: option --out needs a value" "$BIN" gen --out
usage_err "gen: option -o needs a value" "$BIN" gen -q -o
usage_err "eval: option --truth needs a value" "$BIN" eval --truth
usage_err "option --quiet takes no value" "$BIN" gen -o "$T/g" --quiet=1
usage_err "unexpected argument 'extra'" "$BIN" export --db "$T/a.db" -o "$T/e3" extra
usage_err "unexpected argument 'extra'" "$BIN" score -n "$N" -r "$R" -o "$T/s3" extra
usage_err "unexpected argument 'extra'" "$BIN" gen -o "$T/g" extra
usage_err "two inputs only" "$BIN" compare a b c
usage_err "one OUT file" "$BIN" backup --db "$T/a.db" o1 o2
# no abbreviations: --epoch is not --epoch-millis
usage_err "unknown option '--epoch'" "$BIN" score -n "$N" -r "$R" -o "$T/s3" --epoch 5
# a clustered short flag that needs a value takes the rest of the cluster: -vq, -qo DIR
"$BIN" gen -qo "$T/g2" --raters 20 --notes 10 --ratings 50 > "$T/out" 2> "$T/err"
[ -s "$T/g2/notes-00000.tsv" ] && [ ! -s "$T/err" ] || fail "gen -qo DIR"
[ ! -e "$T/g" ] && [ ! -e "$T/e3" ] && [ ! -e "$T/s3" ] || fail "a usage error left output behind"
echo ok
