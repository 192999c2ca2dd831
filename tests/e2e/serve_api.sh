#!/usr/bin/env bash
# tests/e2e/serve_api.sh -- the read API v1 (docs/api.md) against a real
# `serve`: GET / links, GET /v1/notes with each filter and keyset pages
# (every note exactly once, in note id order, checked against the DB),
# bad parameters -> 400, GET /v1/notes/{id}/explain equal to
# `explain --json`, camelCase keys and string note ids in every body,
# nested params/stageSeconds in /v1/runs.
set -euo pipefail
. tests/e2e/serve_lib.bash
T=$(mktemp -d)
trap '[ -n "${SRV_PID:-}" ] && kill -9 "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$T/serve.log" >&2 2>/dev/null; exit 1; }
q() { sqlite3 "$T/t.db" "$1"; }
get() { curl -s --max-time 30 "$URL$1"; }

"$NS_BIN" gen -o "$T/data" --raters 200 --notes 120 --ratings 6000 --seed 9 >/dev/null 2>&1
rm -f "$T"/data/truth_*.tsv
"$NS_BIN" import --db "$T/t.db" "$T/data" >/dev/null 2>&1
"$NS_BIN" score --db "$T/t.db" >/dev/null 2>&1
# run 2 on fewer ratings: some notes change status (the change log of run 2)
q "DELETE FROM ratings WHERE (note_id + rater_id) % 3 = 0"
"$NS_BIN" score --db "$T/t.db" >/dev/null 2>&1
[ "$(q "SELECT count(*) FROM status_changes WHERE run_id = 2")" -gt 0 ] || fail "no status change in run 2"

serve_start "$T"
bodies="$T/bodies"   # every JSON body seen, one per line, for the key checks
: > "$bodies"
keep() { printf '%s\n' "$1" >> "$bodies"; }

# ---- GET / ------------------------------------------------------------------
idx=$(get /); keep "$idx"
for h in /dashboard /v1/notes /v1/notes/{noteId} /v1/notes/{noteId}/explain /v1/runs /v1/runs/latest /metrics; do
  [ "$(echo "$idx" | jq --arg h "$h" '[.links[] | select(.href == $h)] | length')" -ge 1 ] || fail "/ lacks $h: $idx"
done
echo "$idx" | jq -e '.docs | test("docs/api.md")' >/dev/null || fail "/ lacks the docs"
[ "$(curl -s -o /dev/null -w '%{content_type}' "$URL/")" = application/json ] || fail "/ content type"

# ---- GET /v1/notes: pages ---------------------------------------------------
# walk PARAMS with page size LIMIT; prints every noteId, one per line
walk() {
  local params=$1 limit=$2 cursor="" page n pages=0
  while :; do
    page=$(get "/v1/notes?${params}${params:+&}limit=$limit${cursor:+&cursor=$cursor}")
    keep "$page"
    n=$(echo "$page" | jq '.notes | length')
    [ "$n" -le "$limit" ] || fail "page of $n > limit $limit"
    [ "$(echo "$page" | jq -r .runId)" = 2 ] || fail "page runId: $page"
    echo "$page" | jq -r '.notes[].noteId'
    cursor=$(echo "$page" | jq -r '.nextCursor // empty')
    pages=$((pages + 1))
    [ -n "$cursor" ] || break
    [ "$n" = "$limit" ] || fail "a page short of the limit has a next cursor"
    [ $pages -lt 1000 ] || fail "endless paging"
  done
}
check_walk() {   # PARAMS LIMIT SQL-WHERE
  walk "$1" "$2" > "$T/got"
  q "SELECT note_id FROM current_note_status WHERE $3 ORDER BY note_id" > "$T/want"
  [ -s "$T/want" ] || fail "no note matches $3 (test data)"
  cmp -s "$T/got" "$T/want" || { diff "$T/want" "$T/got" | head; fail "list '$1' by $2 differs from the DB ($3)"; }
  [ "$(sort -u "$T/got" | wc -l)" = "$(wc -l < "$T/got")" ] || fail "duplicates in '$1'"
}
all=$(q "SELECT count(*) FROM current_note_status")
check_walk "" 7 "1"
check_walk "" 1000 "1"
[ "$(get "/v1/notes?limit=999999" | jq '.notes | length')" = "$all" ] || fail "limit not capped to a full page"
check_walk "status=CURRENTLY_RATED_HELPFUL" 5 "status = 'CURRENTLY_RATED_HELPFUL'"
check_walk "status=NEEDS_MORE_RATINGS" 11 "status = 'NEEDS_MORE_RATINGS'"
dec=$(q "SELECT decided_by FROM current_note_status GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
check_walk "decidedBy=$dec" 9 "decided_by = '$dec'"
check_walk "status=CURRENTLY_RATED_NOT_HELPFUL&decidedBy=$dec" 4 \
  "status = 'CURRENTLY_RATED_NOT_HELPFUL' AND decided_by = '$dec'"
t2=$(q "SELECT finished_ms FROM runs WHERE run_id = 2")
t1=$(q "SELECT finished_ms FROM runs WHERE run_id = 1")
check_walk "changedSince=$t2" 3 "note_id IN (SELECT note_id FROM status_changes WHERE run_id = 2)"
check_walk "changedSince=$t1" 50 "1"   # run 1 logged every note as new
[ "$(get "/v1/notes?changedSince=$((t2 + 1))" | jq -c '[.notes, .nextCursor]')" = '[[],null]' ] || fail "changedSince after the last run"
echo "ok: list pages, filters and cursors"

# ---- bad parameters: 400 with a reason ---------------------------------------
for bad in "limit=0" "limit=abc" "limit=" "status=HELPFUL" "decidedBy=NoSuchRule" "changedSince=-1" \
           "changedSince=1.5" "cursor=zz" "cursor=n1" "cursor=n1ffffffffffffffffff" "colour=red" \
           "status=NEEDS_MORE_RATINGS&status=NEEDS_MORE_RATINGS" "status"; do
  out=$(curl -s --max-time 30 -w ' %{http_code}' "$URL/v1/notes?$bad")
  case "$out" in *' 400') ;; *) fail "?$bad: $out" ;; esac
  keep "${out% 400}"
  echo "${out% 400}" | jq -e '.error | length > 0' >/dev/null || fail "?$bad: no error text"
done
[ "$(status GET '/v1/notes?status=CURRENTLY%5FRATED%5FHELPFUL')" = 200 ] || fail "percent-encoded value"
[ "$(status POST /v1/notes -H 'Content-Type: text/plain')" = 415 ] || fail "POST /v1/notes is still ingest"
[ "$(status PUT /v1/notes)" = 405 ] || fail "PUT /v1/notes"
echo "ok: bad parameters"

# ---- one note, its explanation ---------------------------------------------------
for note in $(q "SELECT note_id FROM current_note_status WHERE note_id IN
                  (SELECT min(note_id) FROM current_note_status GROUP BY status) ORDER BY note_id"); do
  one=$(get "/v1/notes/$note"); keep "$one"
  [ "$(echo "$one" | jq -r .noteId)" = "$note" ] || fail "note $note: $one"
  [ "$(echo "$one" | jq -r '.noteId | type')" = string ] || fail "noteId not a string: $one"
  [ "$(echo "$one" | jq -r .status)" = "$(q "SELECT status FROM current_note_status WHERE note_id = $note")" ] || fail "status"
  # schema v6: the note's scopes and the other scorers (an object by prefix)
  [ "$(echo "$one" | jq -r '.scorers | type')" = object ] || fail "scorers not an object: $one"
  [ "$(echo "$one" | jq -r '.modelingGroup')" = "$(q "SELECT coalesce(modeling_group, 'null') FROM current_note_status WHERE note_id = $note")" ] ||
    fail "modelingGroup: $one"
  ex=$(get "/v1/notes/$note/explain"); keep "$ex"
  "$NS_BIN" explain --db "$T/t.db" "$note" --json > "$T/cli.json"
  # the same object: same keys in the same order, same values (the CLI prints
  # reals with 15 significant digits, the API their shortest exact form)
  same=$(jq -n --argjson a "$ex" --slurpfile b "$T/cli.json" '
    def absv: if . < 0 then -. else . end;
    def eq($x; $y):
      if ($x|type) != ($y|type) then false
      elif ($x|type) == "object" then ($x|keys_unsorted) == ($y|keys_unsorted)
                                      and all($x|keys_unsorted[]; . as $k | eq($x[$k]; $y[$k]))
      elif ($x|type) == "array" then ($x|length) == ($y|length)
                                     and all(range(0; $x|length); . as $i | eq($x[$i]; $y[$i]))
      elif ($x|type) == "number" then (($x - $y)|absv) <= 1e-13 * ([($x|absv), 1e-300]|max)
      else $x == $y end;
    eq($a; $b[0])')
  [ "$same" = true ] || { echo "$ex" | head -c 600; fail "explain endpoint differs from explain --json for $note"; }
  # the deciding scorer beside Core: a scorer's meta rule (Core's intercept
  # shown beside its own), or a meta rule of its own (deciding null)
  dec=$(echo "$ex" | jq -r '[.decidedByScorer // "null", ((.deciding.coreIntercept // "null")|tostring),
                             ((.intercept // "null")|tostring), (.deciding|type)] | join("|")')
  case "$dec" in
    null\|null\|*\|null) ;;
    *\|object) [ "$(echo "$dec" | cut -d'|' -f2)" = "$(echo "$dec" | cut -d'|' -f3)" ] || fail "deciding: $dec" ;;
    *) fail "deciding scorer: $dec" ;;
  esac
  if [ "$(echo "$ex" | jq -r .decidedBy)" = CoreModel ]; then
    [ "$(echo "$ex" | jq -r .decidedByScorer)" = core ] || fail "CoreModel without the core scorer: $dec"
  fi
done
[ "$(status GET /v1/notes/1/explain)" = 404 ] || fail "explain of an unknown note"
[ "$(status GET /v1/notes/abc/explain)" = 400 ] || fail "explain of a bad id"
[ "$(status GET /v1/notes/5/explained)" = 404 ] || fail "unknown sub-resource"
echo "ok: note and explain"

# ---- runs -------------------------------------------------------------------------
runs=$(get /v1/runs); keep "$runs"
latest=$(get /v1/runs/latest); keep "$latest"
[ "$(echo "$runs" | jq -c '[.runs[].runId]')" = '[2,1]' ] || fail "runs: $runs"
[ "$(echo "$latest" | jq -r '.runId, .isCurrent, (.params|type), (.stageSeconds|type), .prevRunId' | tr '\n' ' ')" = "2 true object object 1 " ] ||
  fail "latest run: $latest"
[ "$(echo "$latest" | jq -r '.numNotes')" = "$all" ] || fail "numNotes"
# reals print in their shortest exact form: the DB's stage timings are
# stored with 6 significant digits, so none may come out longer (17-digit
# printing would give 0.00070827300000000004)
long=$(echo "$latest" | grep -o '"stageSeconds":{[^}]*}' | grep -oE '[-0-9.e]+' | awk 'length > 12')
[ -z "$long" ] || fail "stageSeconds not in shortest form: $long"
echo "ok: runs"

# ---- every body: camelCase keys, note ids as strings ----------------------------
out=$(printf '{"noteId":"5","raterParticipantId":"r","createdAtMillis":7,"helpfulnessLevel":"HELPFUL"}\n' |
  curl -s --max-time 30 -H 'Content-Type: application/x-ndjson' --data-binary @- "$URL/v1/ratings")
keep "$out"
bad=$(jq -r '[paths | .[] | strings | select(test("^[a-z][A-Za-z0-9]*$") | not)] | unique | .[]' "$bodies")
[ -z "$bad" ] || fail "keys not in camelCase: $bad"
ids=$(jq -r '[.. | objects | select(has("noteId")) | .noteId | type] | unique | .[]' "$bodies" | sort -u | tr '\n' ' ')
[ "$ids" = "string " ] || fail "noteId types: $ids"
echo "ok: $(wc -l < "$bodies") bodies camelCase, note ids strings"
serve_stop
echo "serve_api: ok"
