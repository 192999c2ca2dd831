#!/usr/bin/env bash
# tests/e2e/serve_slow.sh -- slow and vanishing clients do not hurt others:
# a trickling request gets 408 after --request-timeout while other clients
# are served; clients that disconnect mid-body or while their batch is at
# the writer leave the server healthy (and leak nothing: SIGTERM -> exit 0).
set -euo pipefail
. tests/e2e/serve_lib.bash
T=$(mktemp -d)
trap '[ -n "${SRV_PID:-}" ] && kill -9 "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/serve.log" 2>/dev/null; exit 1; }

serve_start "$T" --request-timeout 1 --idle-timeout 3 --test-commit-delay 0.3
PORT=${URL##*:}
ROW='{"noteId":9,"raterParticipantId":"s","createdAtMillis":1,"helpfulnessLevel":"HELPFUL"}'

# 1. a slowloris: headers trickle in and never finish
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /v1/ratings HTTP/1.1\r\nHost: x\r\n' >&3
# others are served meanwhile
[ "$(curl -s "$URL/healthz")" = ok ] || fail "healthz beside a slow client"
out=$(echo "$ROW" | curl -s -H 'Content-Type: application/x-ndjson' --data-binary @- "$URL/v1/ratings")
echo "$out" | grep -q '"accepted":1' || fail "ingest beside a slow client: $out"
printf 'Content-Type: application/x-ndjson\r\n' >&3 || true
# the slow request is answered 408 and closed
resp=$(timeout 5 cat <&3 || true)
exec 3<&-
echo "$resp" | head -1 | grep -q '^HTTP/1.1 408' || fail "expected 408, got: $resp"

# 2. disconnect in the middle of a body
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /v1/ratings HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n{"noteId":' >&3
exec 3<&-

# 3. disconnect while the batch waits for its commit (the answer is dropped)
echo "$ROW" | sed 's/"s"/"gone"/' |
  curl -s --max-time 0.1 -H 'Content-Type: application/x-ndjson' --data-binary @- "$URL/v1/ratings" || true
sleep 0.5

# 4. an idle keep-alive connection is closed after --idle-timeout
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
resp=$(timeout 6 cat <&3 || true)
exec 3<&-
[ -z "$resp" ] || fail "idle connection got data: $resp"

[ "$(curl -s "$URL/healthz")" = ok ] || fail "healthz at the end"
m=$(curl -s "$URL/metrics")
echo "$m" | grep -q 'notescore_http_requests_total{endpoint="other",code="408"} 1' || fail "408 metric: $m"
echo "$m" | grep -Eq '^notescore_timeouts_total [2-9]' || fail "timeouts metric"
echo "$m" | grep -q '^notescore_body_bytes 0$' || fail "body bytes left: $(echo "$m" | grep body_bytes)"
serve_stop
# the complete batch whose client left was still committed
[ "$(sqlite3 "$T/t.db" "SELECT count(*) FROM ratings r JOIN participants p ON p.id = r.rater_id WHERE p.participant_id='gone'")" = 1 ] || fail "dropped-answer batch"
echo ok
