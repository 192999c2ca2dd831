#!/usr/bin/env bash
# tests/e2e/man_page.sh -- the man page and the install cannot drift from
# the program:
#   - every command `notescore --help` lists has a section in docs/notescore.1,
#     and every option any `notescore COMMAND --help` prints (and the global
#     ones) appears in the page;
#   - the page renders without warnings (groff -ww), and with man -l;
#   - `make install PREFIX=... DESTDIR=...` installs the binary, the page, the
#     docs and the unit with ExecStart naming the installed binary;
#     systemd-analyze verify accepts the unit when systemd-analyze exists.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
PAGE=docs/notescore.1

# the page's text with troff escapes undone: \- -> -, fonts dropped
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(en/-/g' "$PAGE" > "$T/page"
has() { grep -qE -- "(^|[^A-Za-z0-9-])$1([^A-Za-z0-9-]|$)" "$T/page"; }

cmds=$("$BIN" --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on = 0}')
[ "$(echo "$cmds" | wc -w)" -ge 10 ] || fail "commands from --help: $cmds"
missing=""
n=0
for c in $cmds; do
  grep -qx "\.SS $c" "$PAGE" || missing="$missing [section $c]"
  "$BIN" "$c" --help > "$T/help.$c" || fail "$c --help exits non-zero"
  # options: -x and --long-name tokens anywhere in the help text
  for f in $(grep -oE -- '(^|[^A-Za-z0-9-])(-[A-Za-z]|--[a-z][a-z0-9-]*)([^A-Za-z0-9-]|$)' "$T/help.$c" \
             | grep -oE -- '-[A-Za-z]$|--[a-z][a-z0-9-]*' | sort -u); do
    n=$((n + 1))
    has "$f" || missing="$missing [$c $f]"
  done
done
for f in --help --version; do has "$f" || missing="$missing [global $f]"; done
[ -z "$missing" ] || fail "not in $PAGE:$missing"

# renders cleanly
if command -v groff > /dev/null; then
  groff -man -ww -z "$PAGE" 2> "$T/groff.err"
  [ ! -s "$T/groff.err" ] || { cat "$T/groff.err"; fail "groff warnings"; }
fi
if command -v man > /dev/null; then
  MANWIDTH=80 man -l "$PAGE" > "$T/man.txt" 2> "$T/man.err" || { cat "$T/man.err"; fail "man -l"; }
  grep -q "notescore - score Community Notes" "$T/man.txt" || fail "man -l output"
fi

# make install into a staging root; -o: never rebuild the binary here
make -s -o "$BIN" install BIN="$BIN" PREFIX=/usr DESTDIR="$T/root" > "$T/make.out" 2>&1 \
  || { cat "$T/make.out"; fail "make install"; }
for f in usr/bin/notescore usr/share/man/man1/notescore.1 usr/share/doc/notescore/LICENSE \
         usr/share/doc/notescore/operations.md usr/share/doc/notescore/alerts.yml \
         usr/lib/systemd/system/notescore.service; do
  [ -s "$T/root/$f" ] || fail "not installed: $f"
done
[ -x "$T/root/usr/bin/notescore" ] || fail "binary not executable"
cmp -s "$BIN" "$T/root/usr/bin/notescore" || fail "installed binary differs"
grep -q '^ExecStart=/usr/bin/notescore serve --db %S/notescore/notes.db' \
  "$T/root/usr/lib/systemd/system/notescore.service" || fail "ExecStart"
grep -q '@BINDIR@' "$T/root/usr/lib/systemd/system/notescore.service" && fail "@BINDIR@ left"
if command -v man > /dev/null; then
  man -l "$T/root/usr/share/man/man1/notescore.1" > /dev/null 2>&1 || fail "installed page"
fi

# the unit: installed without DESTDIR under a prefix in $T, so ExecStart
# names a binary that exists; systemd-analyze checks syntax, the
# executable, the directives, and Documentation=man:notescore(1) with MANPATH
verified="systemd-analyze not installed"
if command -v systemd-analyze > /dev/null; then
  make -s -o "$BIN" install BIN="$BIN" PREFIX="$T/p" > "$T/make2.out" 2>&1 \
    || { cat "$T/make2.out"; fail "make install PREFIX"; }
  MANPATH="$T/p/share/man" systemd-analyze verify "$T/p/lib/systemd/system/notescore.service" \
    > "$T/verify.out" 2>&1 || { cat "$T/verify.out"; fail "systemd-analyze verify"; }
  verified="systemd-analyze verify ok"
fi
echo "ok: $n options of $(echo "$cmds" | wc -w) commands in the man page; install complete; $verified"
