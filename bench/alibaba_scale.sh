#!/usr/bin/env bash
# The reported incident at full size (issue #7): the alibaba-scale scenario
# (the standard platform plus a 25,000-account industrial hydra, ~129M
# interactions over 44 days) streamed from the simulator into scan, never
# written to disk. Prints end-to-end wall time, each process's CPU time and
# peak memory, scan's summary and the quality figures against the labels.
# Takes about 40 minutes on 2 cores.
# Usage: bench/alibaba_scale.sh DISTILLGUARD [WORK_DIR]
set -euo pipefail
DG=${1:?usage: alibaba_scale.sh DISTILLGUARD [WORK_DIR]}
WORK=${2:-$(mktemp -d)}
mkdir -p "$WORK"
start=$(date +%s.%N)
"$DG" simulate --scenario alibaba-scale --seed 1 --out - --labels "$WORK/labels.jsonl" 2> "$WORK/simulate.log" \
  | /usr/bin/time -f "%e %U %S %M" -o "$WORK/scan.time" \
    "$DG" scan - --out "$WORK/scan" --no-response-index --quiet > "$WORK/scan.summary" 2> "$WORK/scan.log"
end=$(date +%s.%N)
read -r wall user sys kib < "$WORK/scan.time"
echo "end to end: $(echo "$end - $start" | bc) s wall"
echo "simulate: $(tail -1 "$WORK/simulate.log")"
echo "scan: ${wall} s wall, $(echo "$user + $sys" | bc) s CPU, peak RSS $((kib / 1024)) MiB"
grep -E "^(lines read|accounts|state|throughput)" "$WORK/scan.summary"
"$DG" eval --labels "$WORK/labels.jsonl" --accounts "$WORK/scan/accounts.jsonl"
