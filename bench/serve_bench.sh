#!/usr/bin/env bash
# serve's decision API and ingest, measured on loopback, side by side with
# nginx answering a static 200. Needs wrk and nginx (apt: wrk nginx-light).
# Usage: bench/serve_bench.sh [BUILD_DIR] [EVENTS_JSONL]
#   EVENTS_JSONL: traffic to ingest (default: the simulated standard scenario).
set -euo pipefail
BUILD=${1:-build}
DG="$BUILD/distillguard"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; rm -rf "$WORK"' EXIT
EVENTS=${2:-}
if [ -z "$EVENTS" ]; then
  "$DG" simulate --scenario standard --seed 9 --out "$WORK/sim" 2>/dev/null  # ~1.7M events, 3.3 GB
  EVENTS="$WORK/sim/events.jsonl"
fi
TOKEN=bench-token
DISTILLGUARD_TOKEN=$TOKEN "$DG" serve --listen 127.0.0.1:0 --data "$WORK/data" --port-file "$WORK/port" 2>"$WORK/serve.log" &
while [ ! -s "$WORK/port" ]; do sleep 0.1; done
PORT=$(cat "$WORK/port")
HERE=$(cd "$(dirname "$0")" && pwd)
LOAD="python3 $HERE/ingest_load.py http://127.0.0.1:$PORT $EVENTS --token $TOKEN"

# Warm the engine with traffic so decisions hit real accounts and campaigns.
echo "ingest, as fast as acknowledged (2 connections, 2000-event batches): $($LOAD --limit 200000 --batch 2000)"
ACCOUNT=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline()).get('account_id','a'))" "$EVENTS")
cat > "$WORK/check.lua" <<LUA
wrk.method = "POST"
wrk.body   = '{"account_id":"$ACCOUNT","ip":"198.51.100.7","user_agent":"python-httpx/0.27.2","payment_fingerprint":"pm_x","model":"m"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
mkdir -p "$WORK/ngx"
NGX_PORT=$((PORT + 1))
cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/ngx/error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$NGX_PORT; location / { return 200 '{"decision":"allow"}'; } } }
NGX
nginx -c "$WORK/nginx.conf" -p "$WORK/ngx"
sleep 0.5
wrk_median() {  # label url [extra]
  local label=$1 url=$2
  for i in 1 2 3; do
    wrk -t1 -c16 -d8s --latency -s "$WORK/check.lua" "$url" | awk '
      /Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} /Non-2xx/ {bad=$4}
      END {printf "%s %s %s\n", rps, p50, p99}'
  done | sort -n | sed -n 2p | awk -v l="$label" '{printf "%-44s %10.0f req/s  p50 %-8s p99 %s\n", l, $1, $2, $3}'
}
wrk_median "nginx static 200" "http://127.0.0.1:$NGX_PORT/v1/check"
wrk_median "distillguard /v1/check (idle)" "http://127.0.0.1:$PORT/v1/check"
accepted() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^distillguard_events_accepted_total/ {print $2}'; }
skip=200000
for rate in 5000 20000; do
  $LOAD --skip $skip --limit $((rate * 40)) --batch 1000 --rate $rate > "$WORK/load.txt" &
  skip=$((skip + rate * 40))
  sleep 2
  a0=$(accepted); t0=$(date +%s.%N)
  wrk_median "distillguard /v1/check, ingest ${rate} ev/s" "http://127.0.0.1:$PORT/v1/check"
  a1=$(accepted); t1=$(date +%s.%N)
  kill %2 2>/dev/null || true; wait %2 2>/dev/null || true
  echo "    ingest meanwhile: $(python3 -c "print(f'{($a1 - $a0) / ($t1 - $t0):.0f}')") ev/s accepted of ${rate} offered"
done
# The same decisions next to two CPU-bound loops that take no lock and do no
# I/O: what the machine's scheduler alone does to the tail, at the lowest
# priorities Linux offers.
for how in "nice -n 19" "chrt --idle 0"; do
  $how sh -c 'while :; do :; done' & H1=$!
  $how sh -c 'while :; do :; done' & H2=$!
  sleep 1
  wrk_median "nginx static 200, 2 busy loops ($how)" "http://127.0.0.1:$NGX_PORT/v1/check"
  wrk_median "distillguard /v1/check, 2 busy loops ($how)" "http://127.0.0.1:$PORT/v1/check"
  kill $H1 $H2; wait $H1 $H2 2>/dev/null || true
done
# Server-side decision time (parse, engine, answer) over everything above.
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E "^distillguard_(check_seconds_(bucket\{le=\"0.0001\"|bucket\{le=\"0.001\"|count)|apply_lock_seconds_(bucket\{le=\"0.001\"|count)|checks_from_cache_total|events_accepted_total)" || true
echo "in-process ingest (no HTTP), 1 and 2 threads:"
"$BUILD/bench/dg_serve_ingest_bench" "$EVENTS" 200000 2000 1
"$BUILD/bench/dg_serve_ingest_bench" "$EVENTS" 200000 2000 2
