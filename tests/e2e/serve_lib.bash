# tests/e2e/serve_lib.bash -- helpers sourced by the serve_*.sh tests (not
# a test: the runner only picks up *.sh).
#   serve_start DIR [ARGS...]   start `notescore serve` on a free loopback
#                               port; sets SRV_PID and URL
#   serve_stop                  SIGTERM, wait, require exit 0


NS_BIN=${NS_BIN:-build/notescore}

serve_start() {
  local dir=$1; shift
  rm -f "$dir/port"
  "$NS_BIN" serve --db "$dir/t.db" --listen 127.0.0.1:0 --port-file "$dir/port" "$@" \
    2>>"$dir/serve.log" &
  SRV_PID=$!
  for _ in $(seq 1 100); do
    [ -s "$dir/port" ] && break
    kill -0 "$SRV_PID" 2>/dev/null || { cat "$dir/serve.log"; echo "server died"; return 1; }
    sleep 0.05
  done
  [ -s "$dir/port" ] || { echo "server did not start"; return 1; }
  URL="http://127.0.0.1:$(cat "$dir/port")"
}

serve_stop() {
  kill -TERM "$SRV_PID"
  local rc=0
  wait "$SRV_PID" || rc=$?
  [ "$rc" = 0 ] || { echo "server exit status $rc after SIGTERM"; return 1; }
}

# status METHOD PATH [curl args...] -> prints the HTTP status code
status() {
  local m=$1 p=$2; shift 2
  curl -s -o /dev/null -w '%{http_code}' -X "$m" "$@" "$URL$p"
}
