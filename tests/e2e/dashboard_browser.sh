#!/usr/bin/env bash
# tests/e2e/dashboard_browser.sh -- the interactive page of `serve` at
# GET /dashboard (dash/dashboard.html, built into the binary) in headless
# Chromium, against a DB scored twice with ratings removed in between (so
# the two runs differ).  The served page is the source file byte for byte,
# references nothing outside the server and carries a Content-Security-Policy
# that forbids it; /v1/runs/{a}/changes/{b} counts what the change log of the
# DB counts.  In the browser (the page's state is in the URL fragment; it
# sets <body data-state="ready"> when drawn):
#   * no filter: one <circle class="pt ..."> per scored note of the current
#     run (intercept and factor not null), as many as the DB has;
#   * #status=S, #decidedBy=D, #rule=R: exactly the DB's count of scored
#     notes with that status / decided_by / rule (note_rules view);
#   * #note=ID: the explain panel of that note, with its status, decidedBy,
#     one row per rule and per history run as `notescore explain --json`
#     says; an unknown id shows an error in the panel;
#   * the changes table (default: previous run -> current run) has one row
#     per note of the DB's change log of the current run, and
#     #from=A&to=B lists the changes between two chosen runs.
# Chromium (Debian package `chromium`) is installed when missing and
# running as root; otherwise the browser half is skipped with a message.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
NS_BIN=$BIN
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
q() { sqlite3 "$T/t.db" "$1"; }

"$BIN" gen -o "$T/d" --raters 300 --notes 250 --ratings 15000 --seed 3 -q
"$BIN" import --db "$T/t.db" "$T/d/notes-00000.tsv" "$T/d/ratings-00000.tsv" \
  "$T/d/noteStatusHistory-00000.tsv" "$T/d/userEnrollment-00000.tsv" > /dev/null
"$BIN" score --db "$T/t.db" 2>/dev/null
# a third of the ratings gone: the second run differs from the first
q "DELETE FROM ratings WHERE (note_id + rater_id) % 3 = 0"
"$BIN" score --db "$T/t.db" 2>/dev/null
CUR=$(q "SELECT run_id FROM current_run")
PREV=$(q "SELECT prev_run_id FROM run_summary WHERE run_id = $CUR")
SCORED="intercept IS NOT NULL AND factor IS NOT NULL"
want_all=$(q "SELECT count(*) FROM current_note_status WHERE $SCORED")
want_changes=$(q "SELECT count(*) FROM status_changes WHERE run_id = $CUR")
[ "$want_all" -gt 50 ] || fail "only $want_all scored notes: test data too small"
[ "$want_changes" -gt 0 ] || fail "the two runs do not differ: test data too uniform"

source tests/e2e/serve_lib.bash
serve_start "$T"
trap 'kill "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT

# ---- the page as served ------------------------------------------------------
curl -s -D "$T/h" -o "$T/page.html" "$URL/dashboard"
grep -q '^HTTP/1.1 200' "$T/h" || fail "GET /dashboard: $(head -1 "$T/h")"
grep -qi '^Content-Type: text/html; charset=utf-8' "$T/h" || fail "content type"
grep -qi "^Content-Security-Policy: default-src 'none';.*connect-src 'self'" "$T/h" || fail "no CSP header"
cmp "$T/page.html" dash/dashboard.html || fail "served page differs from dash/dashboard.html"
if grep -Eiq "https?://|(src|href|action)=[\"']?(https?:|//)|@import|url\(" "$T/page.html"; then
  fail "the page references something outside the server"
fi
[ "$(curl -s -o /dev/null -w '%{http_code}' -I "$URL/dashboard")" = 200 ] || fail "HEAD /dashboard"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/dashboard")" = 405 ] || fail "POST /dashboard"

# ---- the changes endpoint ------------------------------------------------------
j=$(curl -s "$URL/v1/runs/$PREV/changes/$CUR")
[ "$(echo "$j" | jq -r .total)" = "$want_changes" ] || fail "changes $PREV->$CUR: $j"
[ "$(echo "$j" | jq '.changes | length')" = "$want_changes" ] || fail "changes rows: $j"
[ "$(echo "$j" | jq -r '.changes[0].noteId | type')" = string ] || fail "noteId not a string"
jr=$(curl -s "$URL/v1/runs/$CUR/changes/$PREV")
[ "$(echo "$jr" | jq -r .total)" = "$want_changes" ] || fail "reverse changes: $jr"
[ "$(echo "$jr" | jq -r '.changes[0].newStatus')" = "$(echo "$j" | jq -r '.changes[0].oldStatus')" ] \
  || fail "reverse changes do not swap the statuses"
[ "$(curl -s "$URL/v1/runs/$CUR/changes/$CUR" | jq -r .total)" = 0 ] || fail "a run against itself"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/runs/$CUR/changes/999")" = 404 ] || fail "unknown run"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/runs/x/changes/1")" = 400 ] || fail "bad run id"

# ---- the browser ----------------------------------------------------------------
if ! command -v chromium > /dev/null; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq || true) > /dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null 2>&1 || true
  fi
fi
if ! command -v chromium > /dev/null; then
  echo "SKIP browser half: chromium is not installed (apt-get install -y chromium)"
  serve_stop
  echo "ok: page and changes endpoint (no browser)"
  exit 0
fi
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --hide-scrollbars)
n=0
# dom FRAGMENT -> $T/dom.html, the DOM once the page's scripts ran (virtual
# time runs out only after the page's fetches are answered), scripts removed
dom() {
  n=$((n + 1))
  timeout 90 chromium "${flags[@]}" --user-data-dir="$T/u$n" --virtual-time-budget=30000 \
    --dump-dom "$URL/dashboard$1" > "$T/dom.html" 2> "$T/chromium.err" \
    || { tail -5 "$T/chromium.err"; fail "chromium on /dashboard$1"; }
  # the page's own script text holds the same markup as templates: drop it
  perl -0pi -e 's{<script>.*?</script>}{}s' "$T/dom.html"
  grep -q '<body data-state="ready"' "$T/dom.html" \
    || fail "/dashboard$1 did not get ready: $(grep -o '<body[^>]*>' "$T/dom.html") $(grep -o 'class="err"[^<]*' "$T/dom.html" | head -3)"
}
points() { grep -o '<circle class="pt ' "$T/dom.html" | wc -l; }

dom ""
got=$(points)
[ "$got" = "$want_all" ] || fail "browser drew $got points, the DB has $want_all scored notes"
# the run chart: one point per status per published run
runs=$(q "SELECT count(*) FROM runs WHERE status = 'published'")
[ "$(grep -o '<circle class="rpt ' "$T/dom.html" | wc -l)" = $((3 * runs)) ] || fail "run chart points"
# the default changes table: previous run -> current run
rows=$(grep -o '<tr class="crow"' "$T/dom.html" | wc -l)
[ "$rows" = "$want_changes" ] || fail "changes table has $rows rows, the change log $want_changes"

for s in CURRENTLY_RATED_HELPFUL CURRENTLY_RATED_NOT_HELPFUL NEEDS_MORE_RATINGS; do
  want=$(q "SELECT count(*) FROM current_note_status WHERE $SCORED AND status = '$s'")
  dom "#status=$s"
  got=$(points)
  [ "$got" = "$want" ] || fail "#status=$s: $got points, want $want"
  [ "$(grep -o '<circle class="pt ' "$T/dom.html" | sort -u | wc -l)" -le 1 ] || fail "#status=$s: mixed classes"
  echo "status $s: $got points"
done
d=$(q "SELECT decided_by FROM current_note_status WHERE $SCORED GROUP BY 1 ORDER BY count(*) LIMIT 1")
want=$(q "SELECT count(*) FROM current_note_status WHERE $SCORED AND decided_by = '$d'")
dom "#decidedBy=$d"
[ "$(points)" = "$want" ] || fail "#decidedBy=$d: $(points) points, want $want"
rule=$(q "SELECT rule FROM note_rules JOIN current_note_status USING (note_id, run_id)
          WHERE $SCORED GROUP BY rule ORDER BY count(*), rule LIMIT 1")
want=$(q "SELECT count(DISTINCT note_id) FROM note_rules JOIN current_note_status USING (note_id, run_id)
          WHERE $SCORED AND rule = '$rule'")
dom "#rule=$rule&status="
[ "$(points)" = "$want" ] || fail "#rule=$rule: $(points) points, want $want"
echo "decidedBy $d: ok; rule $rule: $want points"

# ---- #note=ID opens its explain view -----------------------------------------------
id=$(q "SELECT note_id FROM current_note_status WHERE $SCORED ORDER BY num_ratings DESC, note_id LIMIT 1")
"$BIN" explain --db "$T/t.db" --json "$id" > "$T/explain.json"
dom "#note=$id"
grep -q "<span id=\"explain-id\">$id</span>" "$T/dom.html" || fail "#note=$id: no explain panel"
grep -q "<b id=\"explain-status\">$(jq -r .status "$T/explain.json")</b>" "$T/dom.html" || fail "explain status"
grep -q "<span id=\"explain-decidedBy\">$(jq -r .decidedBy "$T/explain.json")</span>" "$T/dom.html" \
  || fail "explain decidedBy"
[ "$(grep -o '<tr class="rule">' "$T/dom.html" | wc -l)" = "$(jq '.rules | length' "$T/explain.json")" ] \
  || fail "explain rules rows"
[ "$(grep -o '<tr class="hist">' "$T/dom.html" | wc -l)" = "$(jq '.history | length' "$T/explain.json")" ] \
  || fail "explain history rows"
for r in $(jq -r '.rules[].name' "$T/explain.json"); do
  grep -q "<tr class=\"rule\"><td class=\"l\">$r</td>" "$T/dom.html" || fail "explain lacks rule $r"
done
grep -q "class=\"pt [a-z]* sel\" data-id=\"$id\"" "$T/dom.html" || fail "the note's point is not marked"
# every point and row links to its explain view
grep -q "<a href=\"#note=$id\"><circle class=\"pt" "$T/dom.html" || fail "point without its link"

# ---- changes between two chosen runs; an unknown note ---------------------------------------
dom "#from=$CUR&to=$PREV&note=999999999"
[ "$(grep -o '<tr class="crow"' "$T/dom.html" | wc -l)" = "$want_changes" ] || fail "#from=$CUR&to=$PREV rows"
grep -q "<option value=\"$CUR\">" "$T/dom.html" || fail "no run select"
grep -q 'id="explain-error"' "$T/dom.html" || fail "#note of an unknown note shows no error"

# ---- a screenshot that is not blank ----------------------------------------------------
timeout 90 chromium "${flags[@]}" --user-data-dir="$T/ushot" --virtual-time-budget=30000 \
  --window-size=1200,1600 --screenshot="$T/shot.png" "$URL/dashboard#note=$id" > /dev/null 2>&1
[ "$(head -c 8 "$T/shot.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "screenshot is not a PNG"
size=$(stat -c %s "$T/shot.png")
[ "$size" -gt 30000 ] || fail "screenshot only $size bytes"
[ -n "${NS_DASH_SHOT:-}" ] && cp "$T/shot.png" "$NS_DASH_SHOT"
serve_stop
echo "ok: $want_all points, status filters, decidedBy, rule, explain of note $id, $want_changes changes; screenshot $size bytes"
