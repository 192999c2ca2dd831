#!/usr/bin/env bash
# tests/e2e/serve_hostile.sh -- issue #18 against the real server: reject
# reasons that quote invalid UTF-8 (D2), JSON booleans as ids (D3), the note
# id domain in POST, GET and import (D4), one TSV read the same way by
# `import` and by POST (D6), long and lower-case bearer tokens (D7), HTTP
# versions other than 1.x (505 / 400).
set -euo pipefail
. tests/e2e/serve_lib.bash
T=$(mktemp -d)
trap '[ -n "${SRV_PID:-}" ] && kill -9 "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/serve.log" 2>/dev/null; exit 1; }

# --- D7: a token longer than the server supports is refused at start
head -c 5000 /dev/zero | tr '\0' 'k' > "$T/long"
# (bounded: a server that does start would otherwise serve forever)
if timeout 20 "$NS_BIN" serve --db "$T/x.db" --listen 127.0.0.1:0 --token-file "$T/long" 2>"$T/err"; then
  fail "serve started with a 5000-byte token"
fi
grep -q 'bearer token is 5000 bytes; it must be 1 to 4096 bytes' "$T/err" || fail "long token message: $(cat "$T/err")"

# a 2000-byte token works, with the scheme in any case
head -c 2000 /dev/zero | tr '\0' 't' > "$T/token"
TOK=$(cat "$T/token")
serve_start "$T" --token-file "$T/token"
ND=(-H "Content-Type: application/x-ndjson")
TSV=(-H "Content-Type: text/tab-separated-values")
AUTH=(-H "Authorization: bearer $TOK")
row='{"noteId":5,"raterParticipantId":"r1","createdAtMillis":7,"helpfulnessLevel":"HELPFUL"}'
out=$(printf '%s\n' "$row" | curl -s -w ' %{http_code}' "${AUTH[@]}" "${ND[@]}" --data-binary @- "$URL/v1/ratings")
[ "$out" = '{"accepted":1,"rejected":[],"rejectedTotal":0} 200' ] || fail "D7 long token: $out"

# --- D2: every rejected line is listed, with a valid UTF-8 reason
printf 'noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\n6\tr2\t7\tHELP\xff\n' > "$T/bad.tsv"
out=$(curl -s "${AUTH[@]}" "${TSV[@]}" --data-binary @"$T/bad.tsv" "$URL/v1/ratings")
[ "$out" = '{"accepted":0,"rejected":[{"line":2,"error":"helpfulnessLevel: unknown value '"'HELP?'"'"}],"rejectedTotal":1}' ] ||
  fail "D2 tsv: $out"
printf '{"noteId":6,"raterParticipantId":"r2","createdAtMillis":7,"helpfulnessLevel":"0123456789012345678901234567890\xe2\x82\xac"}\n' > "$T/bad.nd"
out=$(curl -s "${AUTH[@]}" "${ND[@]}" --data-binary @"$T/bad.nd" "$URL/v1/ratings")
echo "$out" | grep -q '"rejected":\[{"line":1,"error":"helpfulnessLevel: unknown value' || fail "D2 ndjson: $out"

# --- D3: booleans as ids and times are 400
out=$(printf '{"noteId":true,"raterParticipantId":"x","createdAtMillis":true,"helpfulnessLevel":"HELPFUL"}\n' |
  curl -s -w ' %{http_code}' "${AUTH[@]}" "${ND[@]}" --data-binary @- "$URL/v1/ratings")
[ "${out##* }" = 400 ] || fail "D3: $out"
echo "$out" | grep -q 'booleans are only allowed for tags' || fail "D3 reason: $out"

# --- D4: non-positive note ids refused by POST and GET
out=$(printf '{"noteId":-7,"raterParticipantId":"x","createdAtMillis":1,"helpfulnessLevel":"HELPFUL"}\n{"noteId":"-9223372036854775808","raterParticipantId":"x","createdAtMillis":1,"helpfulnessLevel":"HELPFUL"}\n' |
  curl -s -w ' %{http_code}' "${AUTH[@]}" "${ND[@]}" --data-binary @- "$URL/v1/ratings")
[ "${out##* }" = 400 ] || fail "D4 POST: $out"
echo "$out" | grep -q '"rejectedTotal":2' || fail "D4 POST count: $out"
out=$(curl -s -w ' %{http_code}' "$URL/v1/notes/-1")
[ "$out" = '{"error":"noteId must be a positive decimal integer"} 400' ] || fail "D4 GET: $out"

# --- minor: HTTP versions
port=${URL##*:}
resp() { exec 3<>"/dev/tcp/127.0.0.1/$port"; printf "$1" >&3; head -1 <&3 | tr -d '\r'; exec 3>&-; }
[ "$(resp 'GET /healthz HTTP/9.9\r\n\r\n')" = "HTTP/1.1 505 HTTP Version Not Supported" ] || fail "505"
[ "$(resp 'GET /healthz\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] || fail "no version"
[ "$(resp 'GET /healthz HTTP/1.0\r\n\r\n')" = "HTTP/1.1 200 OK" ] || fail "HTTP/1.0"

# --- D6: one TSV, read by import and by POST: the same rows
{
  printf '\xEF\xBB\xBFnoteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\n'
  printf '11\tq1\t5\tHELPFUL\n'
  printf '12\tq1\t-5\tHELPFUL\n'
  printf '0\tq1\t5\tHELPFUL\n'
  printf '13\tq2\t5\tNOT_HELPFUL\n'
} > "$T/ratings.tsv"
out=$(curl -s -w ' %{http_code}' "${AUTH[@]}" "${TSV[@]}" --data-binary @"$T/ratings.tsv" "$URL/v1/ratings")
echo "$out" | grep -q '"accepted":2' || fail "D6 POST: $out"
echo "$out" | grep -q '"rejectedTotal":2' || fail "D6 POST rejects: $out"
"$NS_BIN" import --db "$T/imp.db" "$T/ratings.tsv" 2>"$T/imp.err" || true
[ "$(sqlite3 "$T/imp.db" 'SELECT count(*) FROM ratings WHERE note_id IN (11,13)')" = 2 ] || fail "D6 import rows"
[ "$(sqlite3 "$T/imp.db" 'SELECT count(*) FROM ratings')" = 2 ] || fail "D6 import kept a bad row"
grep -q 'ratings.tsv:3:3: createdAtMillis: must not be negative' "$T/imp.err" || fail "D6 import msg: $(cat "$T/imp.err")"
# a duplicated column: 400 over HTTP, an error naming file:line:column in import
printf 'noteId\traterParticipantId\tcreatedAtMillis\thelpfulnessLevel\thelpfulnessLevel\n21\tq\t5\tHELPFUL\tNOT_HELPFUL\n' > "$T/dup.tsv"
out=$(curl -s -w ' %{http_code}' "${AUTH[@]}" "${TSV[@]}" --data-binary @"$T/dup.tsv" "$URL/v1/ratings")
[ "${out##* }" = 400 ] || fail "D6 dup POST: $out"
echo "$out" | grep -q "duplicate column 'helpfulnessLevel' (also column 4)" || fail "D6 dup msg: $out"
if "$NS_BIN" import --db "$T/imp.db" "$T/dup.tsv" 2>"$T/dup.err"; then fail "D6 dup import succeeded"; fi
grep -q "dup.tsv:1:5: duplicate column 'helpfulnessLevel' (also column 4)" "$T/dup.err" || fail "D6 dup import msg: $(cat "$T/dup.err")"
[ "$(sqlite3 "$T/imp.db" 'SELECT count(*) FROM ratings WHERE note_id = 21')" = 0 ] || fail "D6 dup import stored"

serve_stop
echo "serve_hostile: ok"
