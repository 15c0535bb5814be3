#!/usr/bin/env bash
# The analyst console on the demo scenario, in one command (`make console`):
# simulates the `demo` scenario, starts serve on 127.0.0.1:$PORT (8080) with a
# fresh analyst token, ingests the events, and prints the URL and the token.
# Ctrl-C stops serve. Data under $BUILD/console-demo/ (removed at each start).
set -euo pipefail
BUILD=${BUILD:-build}
PORT=${PORT:-8080}
DIR="$BUILD/console-demo"
rm -rf "$DIR"
mkdir -p "$DIR"
"$BUILD/distillguard" simulate --scenario demo --seed 7 --out "$DIR/sim" >/dev/null
python3 -c 'import secrets; print(secrets.token_hex(24))' > "$DIR/analyst.token"
"$BUILD/distillguard" serve --listen "127.0.0.1:$PORT" --data "$DIR/data" --analyst-token-file "$DIR/analyst.token" \
  --port-file "$DIR/port" 2> "$DIR/serve.log" &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 200); do [ -f "$DIR/port" ] && break; sleep 0.05; done
[ -f "$DIR/port" ] || { cat "$DIR/serve.log"; exit 1; }
PORT=$(cat "$DIR/port")  # the bound one (PORT=0 picks a free port)
python3 - "$DIR" "$PORT" <<'PY'
import sys, urllib.request
d, port = sys.argv[1], sys.argv[2]
token = open(d + "/analyst.token").read().strip()
with open(d + "/sim/events.jsonl", "rb") as f:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/events", data=f.read(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/x-ndjson"})
print("ingested:", urllib.request.urlopen(req, timeout=300).read().decode())
PY
echo
echo "console:  http://127.0.0.1:$PORT/ui/"
echo "token:    $(cat "$DIR/analyst.token")   (also in $DIR/analyst.token)"
echo "Ctrl-C stops serve."
wait "$PID"
