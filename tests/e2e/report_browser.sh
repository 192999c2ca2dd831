#!/usr/bin/env bash
# tests/e2e/report_browser.sh -- `notescore report` end to end: the HTML has
# one scatter point per scored note of the current run, no external URL,
# and headless Chromium renders it: the DOM it builds has the same number
# of points, and a screenshot is taken.  With --compare B the page gains
# the agreement section and one ring per disagreeing scored note (7 here,
# counted in the file and in the browser's DOM); the CRNH caption names
# every rule behind CRNH points above the drawn line.  Chromium (Debian package
# `chromium`) is installed when missing and running as root; otherwise the
# browser half is skipped with a message.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# usage errors
set +e
"$BIN" report --db "$T/none.db" 2>/dev/null; rc1=$?
"$BIN" report --db "$T/none.db" -o "$T/x.html" 2>"$T/err"; rc2=$?
set -e
[ "$rc1" = 2 ] || { echo "missing -o: exit $rc1, want 2"; exit 1; }
[ "$rc2" = 1 ] || { echo "missing DB: exit $rc2, want 1"; exit 1; }
grep -q "none.db" "$T/err"

"$BIN" gen -o "$T/d" --raters 300 --notes 250 --ratings 15000 --seed 3 -q
"$BIN" import --db "$T/db" "$T/d/notes-00000.tsv" "$T/d/ratings-00000.tsv" \
  "$T/d/noteStatusHistory-00000.tsv" "$T/d/userEnrollment-00000.tsv" > /dev/null

# before any run: a valid page that says so
"$BIN" report --db "$T/db" -o "$T/empty.html" 2>/dev/null
grep -q "No published scoring run" "$T/empty.html"

"$BIN" score --db "$T/db" 2>/dev/null
"$BIN" score --db "$T/db" 2>/dev/null
"$BIN" report --db "$T/db" -o "$T/report.html" 2>/dev/null
want=$(sqlite3 "$T/db" "SELECT count(*) FROM current_note_status
                         WHERE intercept IS NOT NULL AND factor IS NOT NULL")
got=$(grep -c 'class="pt"' "$T/report.html")
[ "$want" -gt 50 ] || { echo "only $want scored notes: test data too small"; exit 1; }
[ "$got" = "$want" ] || { echo "report has $got points, DB has $want scored notes"; exit 1; }
# self-contained: no src/href at all, no URL anywhere, no script
if grep -Eiq '(src|href)=|https?:|<script' "$T/report.html"; then
  echo "report references something external:"; grep -Eio '(src|href)=[^ >]*|https?:[^ "]*|<script' "$T/report.html" | head
  exit 1
fi
# ---- --compare: the agreement section and the disagreeing notes ---------
# B = the run's statuses as a noteStatusHistory file, with 7 scored notes
# (CRH/NMR -> CRNH, CRNH -> NMR) and 2 unscored ones changed: 7 rings drawn
sqlite3 -separator $'\t' "$T/db" "SELECT note_id, status, decided_by, intercept IS NOT NULL
                                   FROM current_note_status ORDER BY note_id" > "$T/cur"
{ printf 'noteId\tcurrentStatus\tcurrentDecidedBy\n'
  awk -F'\t' -v OFS='\t' '
    $4 == 1 && s < 7 && NR % 5 == 0 { s++; $2 = ($2 == "CURRENTLY_RATED_NOT_HELPFUL" ? "NEEDS_MORE_RATINGS" : "CURRENTLY_RATED_NOT_HELPFUL") }
    $4 == 0 && u < 2 { u++; $2 = "CURRENTLY_RATED_HELPFUL" }
    { print $1, $2, $3 }' "$T/cur"; } > "$T/nsh.tsv"
"$BIN" report --db "$T/db" -o "$T/cmp.html" --compare "$T/nsh.tsv" 2>/dev/null
[ "$(grep -c 'class="dpt"' "$T/cmp.html")" = 7 ] || { echo "want 7 disagreement rings"; exit 1; }
[ "$(grep -c 'class="pt"' "$T/cmp.html")" = "$want" ]
grep -q "Status agreement <b id=\"agree\">" "$T/cmp.html"
grep -q "7 drawn as rings on the scatter above" "$T/cmp.html"
[ "$(sed -n '/<table class=heat id="confusion">/,/<\/table>/p' "$T/cmp.html" | grep -o '<td' | wc -l)" = 16 ]
"$BIN" compare <(printf x) "$T/nsh.tsv" > /dev/null 2>&1 && { echo "compare of garbage must fail"; exit 1; }
# the CRNH caption names every rule behind a CRNH point above the line
above=$(sqlite3 "$T/db" "SELECT count(*) FROM current_note_status WHERE status =
        'CURRENTLY_RATED_NOT_HELPFUL' AND intercept > -0.05 - 0.8 * abs(factor)")
grep -q "id=\"crnh-above\">$above of [0-9]* CRNH points sit above the CRNH line" "$T/report.html" \
  || { echo "CRNH caption does not count $above points above the line"; exit 1; }
for rule in $(sqlite3 "$T/db" "SELECT DISTINCT rule FROM note_rules r JOIN current_note_status c
      USING (note_id) WHERE r.run_id = c.run_id AND c.status = 'CURRENTLY_RATED_NOT_HELPFUL'
      AND c.intercept > -0.05 - 0.8 * abs(c.factor) AND rule IN ('GeneralCRNH', 'UcbCRNH',
      'RatioCRNH', 'NmCRNH')"); do
  grep -q "<b>$rule</b>" "$T/report.html" || { echo "CRNH caption lacks $rule"; exit 1; }
done

# stdout mode gives the same bytes (same DB, same run)
"$BIN" report --db "$T/db" -o - > "$T/stdout.html"
cmp "$T/report.html" "$T/stdout.html"

# ---- the same page from `serve` at GET /report ---------------------------
source tests/e2e/serve_lib.bash
cp "$T/db" "$T/t.db"
serve_start "$T"
trap 'kill "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
code=$(curl -s -o "$T/served.html" -w '%{http_code} %{content_type}' "$URL/report")
[ "$code" = "200 text/html; charset=utf-8" ] || { echo "GET /report: $code"; exit 1; }
cmp "$T/report.html" "$T/served.html" || { echo "served page differs from the report file"; exit 1; }

# ---- the browser ----------------------------------------------------------
if ! command -v chromium > /dev/null; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq || true) > /dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null 2>&1 || true
  fi
fi
if ! command -v chromium > /dev/null; then
  echo "SKIP browser half: chromium is not installed (apt-get install -y chromium)"
  serve_stop
  echo "ok: $got points (no browser)"
  exit 0
fi
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --hide-scrollbars)
url="$URL/report"   # served by notescore; file://$T/report.html is the same page
timeout 60 chromium "${flags[@]}" --user-data-dir="$T/u1" --dump-dom "$url" \
  > "$T/dom.html" 2> "$T/chromium.err" || { cat "$T/chromium.err" | tail -5; exit 1; }
dom=$(grep -c 'class="pt"' "$T/dom.html" || true)
[ "$dom" = "$want" ] || { echo "browser DOM has $dom points, want $want"; exit 1; }
grep -q '<svg id="scatter"' "$T/dom.html"
timeout 60 chromium "${flags[@]}" --user-data-dir="$T/u3" --dump-dom "file://$T/cmp.html" \
  > "$T/cmpdom.html" 2> "$T/chromium.err" || { tail -5 "$T/chromium.err"; exit 1; }
cdom=$(grep -c 'class="dpt"' "$T/cmpdom.html" || true)
[ "$cdom" = 7 ] || { echo "browser DOM of the --compare report has $cdom disagreement points, want 7"; exit 1; }
[ "$(grep -c 'class="pt"' "$T/cmpdom.html")" = "$want" ]
timeout 60 chromium "${flags[@]}" --user-data-dir="$T/u2" --window-size=1100,1800 \
  --screenshot="$T/shot.png" "$url" > /dev/null 2>&1
# a PNG, and not a blank one (a blank 1100x1800 PNG is a few KiB)
[ "$(head -c 8 "$T/shot.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] \
  || { echo "screenshot is not a PNG"; exit 1; }
size=$(stat -c %s "$T/shot.png")
[ "$size" -gt 20000 ] || { echo "screenshot only $size bytes"; exit 1; }
serve_stop
echo "ok: $got points in the file, at /report and in the browser DOM ($cdom disagreement rings with --compare), screenshot $size bytes"
