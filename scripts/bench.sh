#!/usr/bin/env bash
# `make bench`: every benchmark recorded in BENCHMARKS.md, in one run, with
# the results written to bench-results/<date>.txt. Installs what the
# comparisons need first (wrk, nginx, python3-sklearn, python3-scipy).
#
# Usage: scripts/bench.sh [--quick] [BUILD_DIR]
#   --quick  skips the full-size runs (the alibaba-scale incident, ~130M
#            interactions, and the 1M-account point of the scaling series),
#            which take about an hour and a half on 2 cores; the rest takes
#            about twenty minutes (bench/peer_baselines.py about seven of them).
set -euo pipefail
QUICK=0
if [ "${1:-}" = "--quick" ]; then QUICK=1; shift; fi
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DG="$ROOT/$BUILD/distillguard"
[ -x "$DG" ] || DG="$BUILD/distillguard"
"$ROOT/scripts/install-deps.sh" --bench
# Everything below runs these; build them if a plain `make build` did not.
cmake --build "$BUILD" -j"$(nproc)" --target distillguard dg_bench dg_parse_ceiling dg_serve_ingest_bench dg_access_eval_bench >/dev/null
PY=/usr/bin/python3  # Debian's python, which has python3-sklearn and python3-scipy
OUT="$ROOT/bench-results"
mkdir -p "$OUT"
RESULT="$OUT/$(date -u +%Y%m%dT%H%M%SZ).txt"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
{
  echo "# distillguard benchmarks, $(date -u), $(nproc) cores, $(uname -r), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "## micro (Google Benchmark, medians of 3)"
  "$BUILD/bench/dg_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>&1 | grep -E "median|Benchmark"

  echo "## standard scenario, seed 1: simulate, then scan (two threads)"
  /usr/bin/time -f "simulate: %e s wall, %M KiB peak" "$DG" simulate --scenario standard --seed 1 --out "$WORK/std" 2>&1 | tail -1
  /usr/bin/time -f "scan: %e s wall, %M KiB peak" "$DG" scan "$WORK/std/events.jsonl" --out "$WORK/std/out" --quiet 2>&1 | tail -1
  echo "interactions: $(wc -l < "$WORK/std/events.jsonl"), bytes: $(stat -c %s "$WORK/std/events.jsonl")"

  echo "## ingest ceiling: minimal simdjson loop vs scan, first 300k lines, alternated 3 times"
  head -n 300000 "$WORK/std/events.jsonl" > "$WORK/300k.jsonl"
  for i in 1 2 3; do
    "$BUILD/bench/dg_parse_ceiling" "$WORK/300k.jsonl"
    /usr/bin/time -f "scan --no-response-index: %e s" "$DG" scan "$WORK/300k.jsonl" --quiet --out "$WORK/c1" --no-response-index 2>&1 | tail -1
    /usr/bin/time -f "scan (with responses.fp): %e s" "$DG" scan "$WORK/300k.jsonl" --quiet --out "$WORK/c2" 2>&1 | tail -1
  done

  echo "## baselines on the same labelled traffic"
  $PY "$ROOT/bench/ratelimit_baseline.py" "$WORK/std/events.jsonl" "$WORK/std/labels.jsonl" "$WORK/std/out/accounts.jsonl"
  $PY "$ROOT/bench/iforest_baseline.py" "$WORK/std/events.jsonl" "$WORK/std/labels.jsonl" "$WORK/std/out/accounts.jsonl" 2>/dev/null
  $PY "$ROOT/bench/peer_baselines.py" "$WORK/std/events.jsonl" "$WORK/std/labels.jsonl" "$WORK/std/out/accounts.jsonl" 2>/dev/null

  echo "## serve (wrk, nginx side by side)"
  "$ROOT/bench/serve_bench.sh" "$BUILD" "$WORK/std/events.jsonl"
  rm -rf "$WORK/std" "$WORK/c1" "$WORK/c2"

  echo "## access rules (1,000 rules against none; issue #20)"
  "$BUILD/bench/dg_access_eval_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>/dev/null | grep -E "median|Benchmark"
  "$ROOT/bench/access_bench.sh" "$BUILD" 3 5

  echo "## scaling"
  if [ $QUICK = 1 ]; then
    "$ROOT/bench/scaling.sh" --quick "$DG"
  else
    "$ROOT/bench/scaling.sh" "$DG"
    echo "## alibaba-scale end to end"
    "$ROOT/bench/alibaba_scale.sh" "$DG"
  fi
} 2>&1 | tee "$RESULT"
echo "results: $RESULT"
