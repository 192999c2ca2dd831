#!/usr/bin/env bash
# tests/e2e/serve_import.sh -- a bulk `notescore import` into the DB a
# running `serve` writes to.  The import commits every 2^18 rows and pauses
# between transactions, and every handle's busy handler polls every
# millisecond (store/import.c, store/store.c), so the server's group commits
# interleave with the import.  Checked here without timing: every POST sent
# while the import runs is acknowledged with 200, the import itself exits 0,
# and afterwards the DB holds every imported and every posted rating.
set -euo pipefail
. tests/e2e/serve_lib.bash
T=$(mktemp -d)
trap '[ -n "${SRV_PID:-}" ] && kill -9 "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/serve.log" 2>/dev/null; exit 1; }

# 1 M ratings: four 2^18-row transactions
"$NS_BIN" gen -o "$T/data" --raters 10000 --notes 10000 --ratings 1000000 --seed 5 -q
rm -f "$T"/data/truth_*.tsv
want=$(($(wc -l < "$T/data/ratings-00000.tsv") - 1))
serve_start "$T" --score-every 3600

"$NS_BIN" import --db "$T/t.db" "$T/data" > "$T/import.log" 2>&1 &
IMP=$!
posted=0 i=0
while kill -0 "$IMP" 2>/dev/null || [ "$i" -lt 5 ]; do
  i=$((i + 1))
  for j in 1 2 3 4 5; do
    printf '{"noteId":"%d","raterParticipantId":"post-%d-%d","createdAtMillis":1700000000000,"helpfulnessLevel":"HELPFUL"}\n' \
      "$j" "$i" "$j"
  done > "$T/body"
  code=$(curl -s -o "$T/ack" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
    --data-binary @"$T/body" "$URL/v1/ratings")
  [ "$code" = 200 ] || fail "POST $i during the import: HTTP $code $(cat "$T/ack")"
  posted=$((posted + 5))
done
wait "$IMP" || fail "import exited $?: $(tail -3 "$T/import.log")"
serve_stop

got=$(sqlite3 "$T/t.db" "SELECT count(*) FROM ratings r JOIN participants p ON p.id = r.rater_id
                         WHERE p.participant_id NOT LIKE 'post-%'")
got_posted=$(sqlite3 "$T/t.db" "SELECT count(*) FROM ratings r JOIN participants p ON p.id = r.rater_id
                                WHERE p.participant_id LIKE 'post-%'")
[ "$got" = "$want" ] || fail "imported ratings in the DB: $got, want $want"
[ "$got_posted" = "$posted" ] || fail "posted ratings in the DB: $got_posted, want $posted"
echo "ok: $want imported and $posted posted ratings ($i POSTs during the import), all kept"
