#!/usr/bin/env bash
# tools/check-layers.sh -- `make check-layers`: fails when a module includes
# a header of a module above it.  The layers, lowest first:
#
#   base < graph < factorization < store < guard < engine < dash < server < tools
#
# (graph and factorization are one tier of the architecture, but
# factorization fits over graph's ns_bigraph, so graph is the lower of the
# two and must never include factorization.)  A module may include its own
# headers and those of lower layers.  tests/ may include anything and is not
# checked.  Only quoted includes count (<...> are system and library
# headers); each is resolved against the including file's directory.
# Prints every violation as FILE:LINE: MODULE includes PATH (why) and exits
# 1, or prints "check-layers: ok (N files)".
set -euo pipefail
cd "$(dirname "$0")/.."

MODULES="base graph factorization text store guard engine dash server tools"
# shellcheck disable=SC2086
files=$(find $MODULES -name '*.[ch]' -type f | sort)
n=$(echo "$files" | wc -l)

# grep -H -n: "FILE:LINE:   #include "HDR"..." -> one awk pass does the rest
# shellcheck disable=SC2086
grep -H -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' $files | awk -v order="$MODULES" '
BEGIN {
  n = split(order, m, " ")
  for (i = 1; i <= n; i++) rank[m[i]] = i
}
# dir of FILE + "/" + HDR, with "." and ".." resolved
function resolve(file, hdr,    parts, np, out, no, i, k, res) {
  np = split(file, parts, "/")
  no = 0
  for (i = 1; i < np; i++) out[++no] = parts[i]     # the directory of file
  k = split(hdr, parts, "/")
  for (i = 1; i <= k; i++) {
    if (parts[i] == "." || parts[i] == "") continue
    if (parts[i] == "..") { if (no > 0) no--; else out[++no] = ".."; continue }
    out[++no] = parts[i]
  }
  res = out[1]
  for (i = 2; i <= no; i++) res = res "/" out[i]
  return res
}
{
  file = $0; sub(/:.*/, "", file)
  rest = substr($0, length(file) + 2)
  line = rest; sub(/:.*/, "", line)
  hdr = rest; sub(/^[^"]*"/, "", hdr); sub(/".*/, "", hdr)
  mod = file; sub(/\/.*/, "", mod)
  target = resolve(file, hdr)
  tmod = target; sub(/\/.*/, "", tmod)
  if (!(tmod in rank) || index(target, "/") == 0) {
    printf "%s:%s: includes \"%s\", which is outside every module (%s)\n", file, line, hdr, target
    bad = 1
  } else if (rank[tmod] > rank[mod]) {
    printf "%s:%s: %s includes %s (%s is above %s)\n", file, line, mod, target, tmod, mod
    bad = 1
  }
}
END { exit bad }
' || {
  echo "check-layers: FAILED (order: ${MODULES// / < })"
  exit 1
}
echo "check-layers: ok ($n files)"
