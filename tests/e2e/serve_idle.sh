#!/usr/bin/env bash
# tests/e2e/serve_idle.sh -- issue #18 D5: connections that never send a
# byte cannot lock clients out.  With every slot held by idle sockets, a new
# client is still served (the oldest idle connection is evicted), and a
# socket that sends nothing is closed after --header-timeout (default 10 s),
# not the 60 s keep-alive timeout.
set -euo pipefail
. tests/e2e/serve_lib.bash
T=$(mktemp -d)
trap '[ -n "${SRV_PID:-}" ] && kill -9 "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/serve.log" 2>/dev/null; exit 1; }

serve_start "$T" --max-conns 6   # default --header-timeout: 10 s
port=${URL##*:}
# six silent sockets fill every slot
for i in 3 4 5 6 7 8; do eval "exec $i<>/dev/tcp/127.0.0.1/$port"; done
sleep 0.3
# a real client is still answered, and a write goes through
[ "$(curl -s -m 10 "$URL/healthz")" = ok ] || fail "healthz with every slot idle"
out=$(printf '{"noteId":5,"raterParticipantId":"r","createdAtMillis":7,"helpfulnessLevel":"HELPFUL"}\n' |
  curl -s -m 10 -H 'Content-Type: application/x-ndjson' --data-binary @- "$URL/v1/ratings")
[ "$out" = '{"accepted":1,"rejected":[],"rejectedTotal":0}' ] || fail "ingest with every slot idle: $out"
m=$(curl -s -m 10 "$URL/metrics")
ev=$(echo "$m" | awk '/^notescore_connections_evicted_total/ {print $2}')
[ "$ev" -ge 1 ] || fail "evictions: $ev"
[ "$(echo "$m" | awk '/^notescore_connections_refused_total/ {print $2}')" = 0 ] || fail "refused"
# the silent sockets are closed by the server: reading them ends (EOF)
# well before the 60 s idle timeout (header timeout 10 s; bound 30 s)
for i in 3 4 5 6 7 8; do
  timeout 30 cat <&$i >/dev/null || fail "socket $i still open after 30 s"
  eval "exec $i>&-"
done
serve_stop
echo "serve_idle: ok"
