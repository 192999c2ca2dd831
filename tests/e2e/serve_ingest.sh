#!/usr/bin/env bash
# tests/e2e/serve_ingest.sh -- every endpoint and every error status of
# `notescore serve`, rows landing in the DB, clean exit on SIGTERM.
set -euo pipefail
. tests/e2e/serve_lib.bash
T=$(mktemp -d)
trap '[ -n "${SRV_PID:-}" ] && kill -9 "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/serve.log" 2>/dev/null; exit 1; }

echo "s3cret" > "$T/token"
serve_start "$T" --token-file "$T/token" --max-body 4096
AUTH=(-H "Authorization: Bearer s3cret")
ND=(-H "Content-Type: application/x-ndjson")

[ "$(curl -s "$URL/healthz")" = ok ] || fail healthz

# --- ratings, NDJSON: good + bad rows
cat > "$T/r.ndjson" <<'J'
{"noteId":"1789012345678901234","raterParticipantId":"AAA","createdAtMillis":1700000000000,"helpfulnessLevel":"HELPFUL","helpfulClear":1}
{"noteId":1001,"raterParticipantId":"BBB","createdAtMillis":1700000000001,"helpful":1}
{"noteId":1001,"raterParticipantId":"CCC"}
not json
J
out=$(curl -s -w ' %{http_code}' "${AUTH[@]}" "${ND[@]}" --data-binary @"$T/r.ndjson" "$URL/v1/ratings")
echo "$out" | grep -q '"accepted":2' || fail "ratings accepted: $out"
echo "$out" | grep -q '"line":3' || fail "ratings line 3: $out"
echo "$out" | grep -q '"line":4' || fail "ratings line 4: $out"
[ "${out##* }" = 200 ] || fail "ratings status: $out"

# --- ratings, TSV
printf 'noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\tnotHelpfulIncorrect\n1002\tDDD\t5\tNOT_HELPFUL\t1\n' > "$T/r.tsv"
out=$(curl -s "${AUTH[@]}" -H "Content-Type: text/tab-separated-values" --data-binary @"$T/r.tsv" "$URL/v1/ratings")
echo "$out" | grep -q '"accepted":1' || fail "tsv: $out"

# --- notes and enrollment
out=$(printf '{"noteId":1001,"noteAuthorParticipantId":"AU","createdAtMillis":1,"tweetId":"77","classification":"NOT_MISLEADING"}\n' |
  curl -s "${AUTH[@]}" "${ND[@]}" --data-binary @- "$URL/v1/notes")
echo "$out" | grep -q '"accepted":1' || fail "notes: $out"
out=$(printf '{"participantId":"AAA","enrollmentState":"earnedIn"}\n' |
  curl -s "${AUTH[@]}" "${ND[@]}" --data-binary @- "$URL/v1/enrollment")
echo "$out" | grep -q '"accepted":1' || fail "enrollment: $out"

# --- error statuses
[ "$(status POST /v1/ratings "${ND[@]}" --data-binary @"$T/r.ndjson")" = 401 ] || fail "401 no token"
[ "$(status POST /v1/ratings -H 'Authorization: Bearer nope' "${ND[@]}" --data-binary @"$T/r.ndjson")" = 401 ] || fail "401 wrong token"
[ "$(status POST /v1/ratings "${AUTH[@]}" -H 'Content-Type: text/plain' --data-binary x)" = 415 ] || fail 415
head -c 5000 /dev/zero | tr '\0' 'x' > "$T/big"
[ "$(status POST /v1/ratings "${AUTH[@]}" "${ND[@]}" --data-binary @"$T/big")" = 413 ] || fail "413 content-length"
[ "$(status POST /v1/ratings "${AUTH[@]}" "${ND[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$T/big")" = 413 ] || fail "413 chunked"
[ "$(printf 'x\n' | status POST /v1/ratings "${AUTH[@]}" "${ND[@]}" --data-binary @-)" = 400 ] || fail "400 all bad"
[ "$(status GET /v1/nothing)" = 404 ] || fail 404
[ "$(status GET /v1/ratings)" = 405 ] || fail 405
[ "$(status DELETE /healthz)" = 405 ] || fail "405 read"

# --- reads: runs and notes answer (200/404 with scores, 404/503 before any run)
s=$(status GET /v1/runs); case $s in 200|503) ;; *) fail "runs $s";; esac
s=$(status GET /v1/runs/latest); case $s in 200|404|503) ;; *) fail "runs/latest $s";; esac
s=$(status GET /v1/notes/1001); case $s in 200|404|503) ;; *) fail "note $s";; esac
m=$(curl -s "$URL/metrics")
echo "$m" | grep -q 'notescore_rows_accepted_total{kind="ratings"} 3' || fail "metrics rows: $m"
echo "$m" | grep -q 'notescore_http_requests_total{endpoint="ingest_ratings",code="401"} 2' || fail "metrics 401"
echo "$m" | grep -q 'notescore_commit_seconds_count' || fail "metrics commit"

# --- keep-alive: two requests on one connection
out=$(curl -s -w '%{num_connects}\n' "$URL/healthz" "$URL/healthz" | tr -d '\n')
[ "$out" = "ok1ok0" ] || fail "keep-alive: $out"

serve_stop

# --- what was acknowledged is in the DB
n=$(sqlite3 "$T/t.db" "SELECT count(*) FROM ratings")
[ "$n" = 3 ] || fail "ratings in DB: $n"

# --- 503: a one-slot queue, a slow commit, concurrent requests
serve_start "$T" --queue-max 1 --test-commit-delay 0.5
body='{"noteId":5,"raterParticipantId":"Q","createdAtMillis":1,"helpfulnessLevel":"HELPFUL"}'
for i in 1 2 3 4; do
  (echo "$body" | curl -s -o /dev/null -D "$T/h$i" -w '%{http_code}\n' "${ND[@]}" --data-binary @- "$URL/v1/ratings" > "$T/c$i") &
done
wait $(jobs -p | grep -v "^$SRV_PID$") 2>/dev/null || true
sleep 0.2
codes=$(cat "$T"/c? | sort | tr '\n' ' ')
echo "$codes" | grep -q 200 || fail "503 test: no 200 ($codes)"
echo "$codes" | grep -q 503 || fail "503 test: no 503 ($codes)"
grep -qi '^Retry-After: 1' $(grep -l 503 "$T"/c? | sed 's/c\([0-9]\)$/h\1/') || fail "Retry-After"
serve_stop
echo ok
