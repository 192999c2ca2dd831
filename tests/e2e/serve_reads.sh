#!/usr/bin/env bash
# tests/e2e/serve_reads.sh -- issue #18 D8: reads cannot starve ingest.
# Reads run on the workers that also parse ingest bodies; at most
# --max-reads of them run at once and the next ones are answered 503 with
# Retry-After, so ingest goes on beside them.  /report (the HTML report) is rendered once
# per run and then served from the cache.
set -euo pipefail
. tests/e2e/serve_lib.bash
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -n "${SRV_PID:-}" ] && kill -9 "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/serve.log" 2>/dev/null; exit 1; }

"$NS_BIN" gen -o "$T/data" --raters 100 --notes 40 --ratings 2000 --seed 5 >/dev/null 2>&1
rm -f "$T"/data/truth_*.tsv
"$NS_BIN" import --db "$T/t.db" "$T/data" >/dev/null 2>&1
"$NS_BIN" score --db "$T/t.db" >/dev/null 2>&1

# every read (but /metrics) sleeps 8 s: two of them hold both read slots
# (long enough that a loaded machine under ASan still sees them running)
serve_start "$T" --max-reads 2 --test-read-delay 8
# (a held read that arrives while the probe below holds a slot is refused
# itself: curl retries a 503 after 1 s)
curl -s --max-time 60 --retry 10 --retry-delay 1 -o "$T/a.html" "$URL/report" & A=$!
curl -s --max-time 60 --retry 10 --retry-delay 1 -o "$T/b.json" "$URL/v1/runs" & B=$!
# probe with /metrics, which is a read too but never delayed: it is
# answered (200) until both held reads run, then refused (503).  Waiting
# for that, rather than sending one probe after a fixed sleep, keeps a
# probe from overtaking a held read on a loaded machine and taking its
# slot for 8 s
got=
for _ in $(seq 1 500); do
  code=$(curl -s --max-time 30 -D "$T/h" -o "$T/c.json" -w '%{http_code}' "$URL/metrics")
  if [ "$code" = 503 ]; then got=1; break; fi
  sleep 0.02
done
[ -n "$got" ] || fail "no 503 while both read slots were busy (got $code)"
grep -qi '^Retry-After: 1' "$T/h" || fail "503 without Retry-After"
grep -q '"error":"too many reads in progress"' "$T/c.json" || fail "503 body: $(cat "$T/c.json")"
# ingest is answered while the two reads still run
out=$(printf '{"noteId":5,"raterParticipantId":"r","createdAtMillis":7,"helpfulnessLevel":"HELPFUL"}\n' |
  curl -s --max-time 30 -H 'Content-Type: application/x-ndjson' --data-binary @- "$URL/v1/ratings")
[ "$out" = '{"accepted":1,"rejected":[],"rejectedTotal":0}' ] || fail "ingest beside reads: $out"
kill -0 $A 2>/dev/null || fail "ingest waited for the report read"
wait $A $B
grep -q '<html' "$T/a.html" || fail "report body"
grep -q '"runs":\[{' "$T/b.json" || fail "runs body"
# the report of the same run is rendered once
curl -s --max-time 30 -o "$T/a2.html" "$URL/report"
cmp -s "$T/a.html" "$T/a2.html" || fail "cached report differs"
m=$(curl -s --max-time 30 "$URL/metrics")
[ "$(echo "$m" | awk '/^notescore_dashboard_renders_total/ {print $2}')" = 1 ] || fail "renders: $(echo "$m" | grep renders)"
[ "$(echo "$m" | awk '/^notescore_reads_refused_total/ {print $2}')" -ge 1 ] || fail "refused reads metric"
serve_stop
echo "serve_reads: ok"
