#!/usr/bin/env bash
# `make bench`: every benchmark recorded in BENCHMARKS.md, in one run, with
# the results written to bench-results/<date>.txt. Installs wrk and nginx
# (the decision-API load and its reference) first.
# Usage: scripts/bench.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/install-deps.sh" --bench
OUT="$ROOT/bench-results"
mkdir -p "$OUT"
RESULT="$OUT/$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "# distillguard benchmarks, $(date -u), $(nproc) cores, $(uname -r), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "## micro (Google Benchmark, medians of 3)"
  "$BUILD/bench/dg_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>&1 | grep -E "median|Benchmark"
  echo "## serve (wrk, nginx side by side)"
  "$ROOT/bench/serve_bench.sh" "$BUILD"
} 2>&1 | tee "$RESULT"
echo "results: $RESULT"
