#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# fixed time on a copy of its seed corpus (fuzz/corpus/<target>); prints the
# executions and any crash. Findings are saved as fuzz-findings/<target>/.
# Inputs up to 64 KiB, except fuzz_stix: up to 300,000 bytes (a partner
# bundle's fields are large; issue #18 finding 1 needed a 50 KB literal).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...] (default 60, all)
set -euo pipefail
SECONDS_PER=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_record_parser fuzz_config fuzz_http_bodies fuzz_stix fuzz_mapping fuzz_access_rules fuzz_console fuzz_cluster_codec fuzz_cluster_batch fuzz_snapshot)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$ROOT/build-fuzz"
"$ROOT/scripts/install-deps.sh" --fuzz
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDG_FUZZ=ON \
  -DDG_BUILD_TESTS=OFF -DDG_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]}" >/dev/null
status=0
for target in "${TARGETS[@]}"; do
  max_len=65536 len_control=100
  # fuzz_stix: long inputs from the start (libFuzzer otherwise grows its
  # length limit slowly: a 150 s run stayed near the largest seed, 50 KB).
  if [ "$target" = fuzz_stix ]; then max_len=300000 len_control=0; fi
  work=$(mktemp -d)
  cp -r "$ROOT/fuzz/corpus/$target/." "$work/"
  mkdir -p "$ROOT/fuzz-findings/$target"
  log="$ROOT/fuzz-findings/$target/last-run.log"
  if "$BUILD/fuzz/$target" "$work" -max_total_time="$SECONDS_PER" -max_len="$max_len" -len_control="$len_control" -timeout=10 -rss_limit_mb=4096 \
      -artifact_prefix="$ROOT/fuzz-findings/$target/" -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result="FOUND A CRASH (see $log and fuzz-findings/$target/)"
    status=1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  echo "$target: $execs executions in ${SECONDS_PER}s, $cov, corpus grew to $(ls "$work" | wc -l) inputs: $result"
  rm -rf "$work"
done
exit $status
