#!/usr/bin/env bash
# tests/e2e/serve_diskfull.sh -- issue #18 disk full: when the DB cannot
# grow (--max-db-bytes, SQLite max_page_count: the same SQLITE_FULL a full
# disk gives), ingest is answered 507 with a message and Retry-After,
# nothing of a refused request is stored, nothing acknowledged is lost,
# reads keep working, and writes succeed again once space is freed.
set -euo pipefail
. tests/e2e/serve_lib.bash
T=$(mktemp -d)
trap '[ -n "${SRV_PID:-}" ] && kill -9 "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/serve.log" 2>/dev/null; exit 1; }
q() { sqlite3 -cmd '.timeout 5000' "$T/t.db" "$1"; }
TSV=(-H "Content-Type: text/tab-separated-values")
H='noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\n'

# 10 000 ratings that can be deleted later (100 notes x the same 100 raters)
{ printf "$H"; for n in $(seq 700 799); do for r in $(seq 1 100); do printf '%d\tjunk%d\t5\tHELPFUL\n' $n $r; done; done; } > "$T/junk.tsv"
# the batch that needs room: 2000 new raters on note 888
{ printf "$H"; for r in $(seq 1 2000); do printf '888\tnew-rater-%05d\t6\tNOT_HELPFUL\n' $r; done; } > "$T/new.tsv"

serve_start "$T"
out=$(curl -s "${TSV[@]}" --data-binary @"$T/junk.tsv" "$URL/v1/ratings")
echo "$out" | grep -q '"accepted":10000' || fail "junk: $out"
serve_stop
bytes=$(( $(q 'PRAGMA page_count') * $(q 'PRAGMA page_size') ))

# the DB may not grow at all now
serve_start "$T" --max-db-bytes "$bytes"
code=$(curl -s -D "$T/h" -o "$T/body" -w '%{http_code}' "${TSV[@]}" --data-binary @"$T/new.tsv" "$URL/v1/ratings")
[ "$code" = 507 ] || fail "expected 507, got $code: $(cat "$T/body")"
grep -q '"error":"storage full: the database cannot grow; nothing of this request was stored, retry later"' "$T/body" ||
  fail "507 body: $(cat "$T/body")"
grep -qi '^Retry-After: ' "$T/h" || fail "507 without Retry-After"
[ "$(q 'SELECT count(*) FROM ratings WHERE note_id = 888')" = 0 ] || fail "a refused batch was partly stored"
[ "$(curl -s "$URL/healthz")" = ok ] || fail "healthz while full"
[ "$(status GET /v1/runs)" != 000 ] || fail "reads while full"
m=$(curl -s "$URL/metrics")   # (not piped into grep -q: SIGPIPE + pipefail)
echo "$m" | grep -q 'notescore_http_requests_total{endpoint="ingest_ratings",code="507"} 1' || fail "507 metric"

# space comes back (an operator deletes data): the same request succeeds
q 'DELETE FROM ratings WHERE note_id BETWEEN 700 AND 799'
out=$(curl -s -w ' %{http_code}' "${TSV[@]}" --data-binary @"$T/new.tsv" "$URL/v1/ratings")
[ "$out" = '{"accepted":2000,"rejected":[],"rejectedTotal":0} 200' ] || fail "after space returned: $out"
serve_stop
[ "$(q 'SELECT count(*) FROM ratings WHERE note_id = 888')" = 2000 ] || fail "acknowledged rows missing"
q 'PRAGMA integrity_check' | grep -qx ok || fail "integrity"
echo "serve_diskfull: ok"
