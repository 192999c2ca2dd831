#!/usr/bin/env bash
# tests/e2e/serve_lock.sh -- one `serve` per DB: a second serve on the same
# DB exits 1 at once with a message naming the DB and the first server's
# pid; import and score --db beside the running server still work; after
# the first server stops, a new one starts on the DB.
set -euo pipefail
BIN=${NS_BIN:-build/notescore}
T=$(mktemp -d)
source tests/e2e/serve_lib.bash
trap 'kill "$SRV_PID" 2>/dev/null || true; rm -rf "$T"' EXIT

"$BIN" gen -o "$T/d" --raters 200 --notes 150 --ratings 4000 --seed 9 -q
"$BIN" import --db "$T/t.db" "$T/d/notes-00000.tsv" "$T/d/userEnrollment-00000.tsv" > /dev/null
serve_start "$T"
first=$SRV_PID

# the second server: refused, naming the DB and the holder
set +e
timeout 20 "$BIN" serve --db "$T/t.db" --listen 127.0.0.1:0 2> "$T/err2"; rc=$?
set -e
[ "$rc" = 1 ] || { echo "second serve: exit $rc, want 1"; cat "$T/err2"; exit 1; }
grep -qF "$T/t.db: already served by another \`notescore serve\` (pid $first)" "$T/err2" \
  || { echo "message:"; cat "$T/err2"; exit 1; }
kill -0 "$first" || { echo "the first server died"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ]

# import and score --db beside it
n=$(($(wc -l < "$T/d/ratings-00000.tsv") - 1))
"$BIN" import --db "$T/t.db" "$T/d/ratings-00000.tsv" > "$T/imp"
grep -q "ratings, $n read, $n imported" "$T/imp" || { cat "$T/imp"; exit 1; }
"$BIN" score --db "$T/t.db" 2> "$T/score.err"
grep -q "^notescore: scored $n ratings" "$T/score.err" || { cat "$T/score.err"; exit 1; }
[ "$(sqlite3 "$T/t.db" "SELECT count(*) FROM runs WHERE status = 'published'")" -ge 1 ]

# after the first stops, the lock is free again
serve_stop
serve_start "$T"
serve_stop
echo ok
