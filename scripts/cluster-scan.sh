#!/usr/bin/env bash
# cluster-scan.sh: scan a log on a real NATS JetStream cluster (docs/SCALE.md).
#
#   scripts/cluster-scan.sh [--workers N] [--partitions P] [--kill-node [--restart-node]] [--kill-worker] [--replay] [--rate R] [--deadline S] [--prepublish] EVENTS OUTDIR
#
# Starts a 3-node nats-server cluster with JetStream on free loopback ports
# (R=3 streams), the correlator and N workers, publishes EVENTS, waits until
# the correlator has applied every published event, and leaves in OUTDIR
# accounts.jsonl and campaigns.jsonl in scan's format, cluster_summary.json
# (published / applied / duplicate deliveries dropped) and logs/. Stops
# everything it started, by pid, on every exit path.
#   --kill-node    kill -9 one NATS node once a fifth of the events are applied
#                  (it stays dead: the streams keep a quorum of 2 of 3)
#   --restart-node with --kill-node: start that node again once two fifths
#                  are applied (it recovers from its Raft log and catches up);
#                  at the end its copy of DG_DIGESTS must hold what the
#                  others hold (OUTDIR/restarted_digests: "its count, theirs")
#   --kill-worker  kill -9 worker 0 once half are applied -- or, with --rate,
#                  once half are published, if the node kill stalled the
#                  workers (they then catch up faster than this script
#                  polls) -- and start a replacement
#   --replay       afterwards, start a second correlator that rebuilds the
#                  engine from the digest stream alone, ignoring the first
#                  one's snapshot (--no-resume; a correlator restart)
#                  into OUTDIR/replay, and print its rate
#   --rate R       publish at most R events/s (so that the kills above land
#                  mid-stream on a small file: batches make the cluster fast)
#   --deadline S   give up after S seconds of waiting for the correlator
#                  (default 0: wait as long as it takes): print how far it got
#                  and the logs' tails, exit 1 -- a hang becomes a diagnosis
#   --prepublish   publish everything first, then start the correlator and
#                  the workers: the catch-up rate of the workers alone
#                  (BENCHMARKS.md), printed as "catch-up: N events/s" and,
#                  without the nodes' start-up, "steady: N events/s"
# DG: the distillguard binary (default: build/distillguard next to scripts/);
# DG_PUBLISH_FLAGS, DG_WORKER_FLAGS: more flags for those nodes.
set -euo pipefail

workers=1
partitions=8
kill_node=0
restart_node=0
node_restarted=0
kill_worker=0
rate=0
published_half_at=1000000000
prepublish=0
replay=0
deadline=0
publish_flags=()
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) workers="$2"; shift 2 ;;
    --partitions) partitions="$2"; shift 2 ;;
    --kill-node) kill_node=1; shift ;;
    --restart-node) restart_node=1; shift ;;
    --kill-worker) kill_worker=1; shift ;;
    --prepublish) prepublish=1; shift ;;
    --rate) publish_flags+=(--rate "$2"); rate=${2%%.*}; rate=${rate:-0}; shift 2 ;;
    --replay) replay=1; shift ;;
    --deadline) deadline="$2"; shift 2 ;;
    -h|--help) sed -n 2,29p "$0"; exit 0 ;;
    --*) echo "cluster-scan: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -ne 2 ]; then
  echo "usage: cluster-scan.sh [--workers N] [--partitions P] [--kill-node [--restart-node]] [--kill-worker] [--replay] [--rate R] [--deadline S] [--prepublish] EVENTS OUTDIR" >&2
  exit 2
fi
case "$deadline" in
  ''|*[!0-9]*) echo "cluster-scan: --deadline takes whole seconds (0: none), not '$deadline'" >&2; exit 2 ;;
esac
events="$1"
out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
DG="${DG:-$here/../build/distillguard}"
command -v nats-server >/dev/null || { echo "cluster-scan: nats-server not found (scripts/install-deps.sh)" >&2; exit 2; }
[ -x "$DG" ] || { echo "cluster-scan: $DG is not executable (set DG)" >&2; exit 2; }
[ -r "$events" ] || { echo "cluster-scan: cannot read $events" >&2; exit 2; }

mkdir -p "$out/logs"
out="$(cd "$out" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/dg-cluster.XXXXXX")"
pids=()
cleanup() {
  local rc=$?
  # DG_CLUSTER_CPU=1: CPU seconds of every process still running (where the time went).
  # From /proc/PID/stat (user + system clock ticks), to 0.01 s.
  if [ -n "${DG_CLUSTER_CPU:-}" ]; then
    local tck pid
    tck=$(getconf CLK_TCK)
    for pid in "${pids[@]}"; do
      [ -r "/proc/$pid/stat" ] || continue
      awk -v t="$tck" -v p="$pid" -v a="$(tr '\0' ' ' < "/proc/$pid/cmdline" | cut -c1-70)" \
        '{ sub(/^.*\) /, ""); printf "cpu %7s %8.2fs  %s\n", p, ($12 + $13) / t, a }' "/proc/$pid/stat" >&2 || true
    done
  fi
  # The distillguard processes first (they stop cleanly while NATS is up),
  # then the NATS nodes; pids holds the nodes first.
  for ((k = ${#pids[@]} - 1; k >= 3; k--)); do kill "${pids[$k]}" 2>/dev/null || true; done
  for ((k = ${#pids[@]} - 1; k >= 3; k--)); do wait "${pids[$k]}" 2>/dev/null || true; done
  for ((k = 0; k < ${#pids[@]} && k < 3; k++)); do kill "${pids[$k]}" 2>/dev/null || true; done
  for ((k = 0; k < ${#pids[@]} && k < 3; k++)); do wait "${pids[$k]}" 2>/dev/null || true; done
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT INT TERM

# Nine free loopback ports (three clients, three routes, three monitoring):
# bound once to port 0, released, then probed again until a server has each.
read -r -a ports < <(python3 - <<'PY'
import socket
socks, ports = [], []
for _ in range(9):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s); ports.append(s.getsockname()[1])
for s in socks: s.close()
print(*ports)
PY
)
routes="nats://127.0.0.1:${ports[3]},nats://127.0.0.1:${ports[4]},nats://127.0.0.1:${ports[5]}"
urls="nats://127.0.0.1:${ports[0]},nats://127.0.0.1:${ports[1]},nats://127.0.0.1:${ports[2]}"
node_pids=()
for n in 0 1 2; do
  cat > "$work/n$n.conf" <<CONF
server_name: dg$n
listen: 127.0.0.1:${ports[$n]}
http: 127.0.0.1:${ports[$((n + 6))]}
jetstream { store_dir: "$work/n$n", max_memory_store: 67108864, max_file_store: 4294967296 }
cluster { name: dgcluster, listen: 127.0.0.1:${ports[$((n + 3))]}, routes: [ $routes ] }
CONF
  nats-server -c "$work/n$n.conf" > "$out/logs/nats-$n.log" 2>&1 &
  pids+=($!)
  node_pids+=($!)
done
restart_node_2() {
  nats-server -c "$work/n2.conf" >> "$out/logs/nats-2.log" 2>&1 &
  pids+=($!)
  node_pids[2]=$!
}
for n in 0 1 2; do
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/${ports[$n]}") 2>/dev/null && break
    sleep 0.1
  done
done
echo "cluster-scan: NATS cluster on $urls" >&2

common=(--nats "$urls" --partitions "$partitions" --replicas 3)
publish_rc=""
if [ $prepublish = 1 ]; then
  echo "cluster-scan: $(date +%T) publishing before any worker runs" >&2
  "$DG" publish "${common[@]}" ${DG_PUBLISH_FLAGS:-} ${publish_flags[@]+"${publish_flags[@]}"} "$events" > "$out/logs/publish.log" 2>&1 || {
    echo "cluster-scan: publish failed" >&2; cat "$out/logs/publish.log" >&2; exit 1; }
  publish_rc=0
fi
${DG_CORRELATOR_WRAP:-} "$DG" correlator "${common[@]}" --until-done --out "$out" --listen 127.0.0.1:0 --port-file "$work/correlator.port" \
  > "$out/logs/correlator.log" 2>&1 &
correlator=$!
pids+=($correlator)
worker_pids=()
start_worker() {
  "$DG" worker "${common[@]}" ${DG_WORKER_FLAGS:-} --index "$1" --of "$workers" --listen 127.0.0.1:0 --port-file "$work/worker-$1.port" \
    >> "$out/logs/worker-$1.log" 2>&1 &
  pids+=($!)
  worker_pids[$1]=$!
}
for w in $(seq 0 $((workers - 1))); do start_worker "$w"; done

t0=$(date +%s.%N)
started=$SECONDS
publisher=""
if [ $prepublish = 0 ]; then
  # The nodes first have their consumers (a port file each once they have):
  # on a busy machine that can take seconds, and a kill meant for
  # mid-stream must not find the stream half published and nothing applied.
  for _ in $(seq 1 1200); do
    ready=1
    [ -e "$work/correlator.port" ] || ready=0
    for w in $(seq 0 $((workers - 1))); do [ -e "$work/worker-$w.port" ] || ready=0; done
    [ $ready = 1 ] && break
    kill -0 "$correlator" 2>/dev/null || break
    sleep 0.1
  done
  echo "cluster-scan: $(date +%T) publishing" >&2
  "$DG" publish "${common[@]}" ${DG_PUBLISH_FLAGS:-} ${publish_flags[@]+"${publish_flags[@]}"} "$events" > "$out/logs/publish.log" 2>&1 &
  publisher=$!
  pids+=($publisher)
  # When half the events are out at --rate (the publisher does not burst
  # to catch up after a stall).
  if [ "$rate" -gt 0 ]; then published_half_at=$((SECONDS + ($(wc -l < "$events") + 2 * rate - 1) / (2 * rate))); fi
fi

applied() {
  local port
  port=$(cat "$work/correlator.port" 2>/dev/null) || { echo 0; return; }
  python3 - "$port" <<'PY' 2>/dev/null || echo 0
import sys, urllib.request
body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=2).read().decode()
print(next((l.split()[1] for l in body.splitlines() if l.startswith("dg_correlator_applied_total ")), 0))
PY
}
lines=$(wc -l < "$events")
node_killed=0
worker_killed=0
t_first=""  # when the first node had made its consumers (a port file is written after)
while kill -0 "$correlator" 2>/dev/null; do
  if [ "$deadline" != 0 ] && [ $((SECONDS - started)) -gt "$deadline" ]; then
    echo "cluster-scan: deadline of ${deadline}s passed with $(applied) of $lines applied (publisher $( [ -n "$publish_rc" ] && echo "done, exit $publish_rc" || echo running))" >&2
    for f in "$out"/logs/*.log; do echo "--- $(basename "$f") (tail)" >&2; tail -25 "$f" >&2; done
    exit 1
  fi
  if [ -z "$publish_rc" ] && ! kill -0 "$publisher" 2>/dev/null; then
    publish_rc=0
    wait "$publisher" || publish_rc=$?
    if [ "$publish_rc" -ne 0 ]; then echo "cluster-scan: publish failed (exit $publish_rc)" >&2; cat "$out/logs/publish.log" >&2; exit 1; fi
  fi
  a=$(applied)  # once per round: batches move it in large steps
  if [ -z "$t_first" ] && compgen -G "$work/*.port" > /dev/null; then t_first=$(date +%s.%N); fi
  if [ $kill_node = 1 ] && [ $node_killed = 0 ] && [ "$a" -ge $((lines / 5)) ]; then
    kill -9 "${node_pids[2]}"
    node_killed=1
    echo "cluster-scan: killed NATS node dg2 (pid ${node_pids[2]}) at $a applied" >&2
  elif [ $restart_node = 1 ] && [ $node_killed = 1 ] && [ $node_restarted = 0 ] && [ "$a" -ge $((2 * lines / 5)) ]; then
    restart_node_2
    node_restarted=1
    echo "cluster-scan: restarted NATS node dg2 (pid ${node_pids[2]}) at $a applied" >&2
  elif [ $kill_worker = 1 ] && [ $worker_killed = 0 ] && { [ "$a" -ge $((lines / 2)) ] ||
        { [ $node_killed = 1 ] && [ -z "$publish_rc" ] && [ $SECONDS -ge "$published_half_at" ]; }; }; then
    kill -9 "${worker_pids[0]}"
    wait "${worker_pids[0]}" 2>/dev/null || true
    echo "cluster-scan: killed worker 0 (pid ${worker_pids[0]}) at $a applied; starting a replacement" >&2
    start_worker 0
    worker_killed=1
  fi
  sleep 0.1
done
rc=0
wait "$correlator" || rc=$?
t1=$(date +%s.%N)
if [ -z "$publish_rc" ]; then wait "$publisher" || { echo "cluster-scan: publish failed" >&2; exit 1; }; fi
if [ $prepublish = 1 ]; then
  python3 -c "import sys; print(f'catch-up: {int(sys.argv[3]) / (float(sys.argv[2]) - float(sys.argv[1])):.0f} events/s', file=sys.stderr)" "$t0" "$t1" "$lines"
  # The same without the nodes' start-up (connections; consumers deleted
  # and created through Raft, seconds on a busy machine): from the moment
  # the first node was ready (conservative: the others may still start).
  if [ -n "$t_first" ]; then
    python3 -c "import sys; d = float(sys.argv[2]) - float(sys.argv[1]); print(f'steady: {int(sys.argv[3]) / d:.0f} events/s ({d:.2f}s from the first node ready)' if d > 0 else 'steady: too short to tell', file=sys.stderr)" "$t_first" "$t1" "$lines"
  fi
fi
if [ $rc -ne 0 ]; then echo "cluster-scan: correlator failed (exit $rc)" >&2; tail -20 "$out/logs/correlator.log" >&2; exit 1; fi
if [ $kill_node = 1 ] && [ $node_killed = 0 ]; then echo "cluster-scan: finished before the node kill point" >&2; exit 1; fi
if [ $kill_worker = 1 ] && [ $worker_killed = 0 ]; then echo "cluster-scan: finished before the worker kill point" >&2; exit 1; fi
if [ $restart_node = 1 ] && [ $node_restarted = 0 ]; then echo "cluster-scan: finished before the node restart point" >&2; exit 1; fi
grep -h "published:" "$out/logs/publish.log" >&2 || true
# What DG_EVENTS still holds (prompt text): the workers erase what they
# have digested, and sweep what was left every 10 s (docs/SCALE.md), so
# after the last event it should fall to nothing. Asked of a live node's
# monitoring port, for up to 30 s.
# stream_messages STREAM PORT...: the messages a node's copy of STREAM
# holds, from the first of the monitoring ports that answers.
stream_messages() {
  python3 - "$@" <<'PY' 2>/dev/null || echo unknown
import json, sys, urllib.request
for port in sys.argv[2:]:
    try:
        jsz = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/jsz?streams=true", timeout=2))
    except OSError:
        continue
    for acct in jsz.get("account_details", []):
        for st in acct.get("stream_detail", []):
            if st.get("name") == sys.argv[1]:
                print(st["state"]["messages"])
                sys.exit(0)
print("unknown")
PY
}
if [ $node_restarted = 1 ]; then
  # The restarted node replayed its Raft log (the erasures among it) and
  # caught up: its copy of the digests must be the others'.
  mine=unknown
  for _ in $(seq 1 200); do
    theirs=$(stream_messages DG_DIGESTS "${ports[6]}" "${ports[7]}")
    mine=$(stream_messages DG_DIGESTS "${ports[8]}")
    [ "$mine" = "$theirs" ] && break
    sleep 0.1
  done
  echo "cluster-scan: DG_DIGESTS on the restarted node: $mine messages, on the others $theirs" >&2
  echo "$mine $theirs" > "$out/restarted_digests"
fi
left=unknown
for _ in $(seq 1 300); do
  left=$(stream_messages DG_EVENTS "${ports[6]}" "${ports[7]}")
  [ "$left" = 0 ] && break
  sleep 0.1
done
echo "cluster-scan: DG_EVENTS holds $left event messages after the run" >&2
echo "$left" > "$out/events_left"
if [ $replay = 1 ]; then
  mkdir -p "$out/replay"
  r0=$(date +%s.%N)
  "$DG" correlator "${common[@]}" --no-resume --until-done --out "$out/replay" > "$out/logs/correlator-replay.log" 2>&1 || {
    echo "cluster-scan: the replaying correlator failed" >&2; exit 1; }
  r1=$(date +%s.%N)
  python3 -c "import sys; print(f'replay: {int(sys.argv[3]) / (float(sys.argv[2]) - float(sys.argv[1])):.0f} events/s (correlator restart from the digest stream)', file=sys.stderr)" "$r0" "$r1" "$lines"
  cmp -s "$out/accounts.jsonl" "$out/replay/accounts.jsonl" || { echo "cluster-scan: the replay's accounts.jsonl differs" >&2; exit 1; }
fi
python3 -c "import sys; print(f'cluster-scan: {float(sys.argv[2]) - float(sys.argv[1]):.2f}s from the start of the nodes to the last event applied', file=sys.stderr)" "$t0" "$t1"
cat "$out/cluster_summary.json" >&2
