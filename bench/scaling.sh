#!/usr/bin/env bash
# Scaling (issue #7): how scan's time and memory grow with work and with the
# number of accounts. Every point streams the simulator into `scan -` (the
# simulator on the other core) so nothing big is written to disk; scan runs
# with --no-response-index (the response index is a separate, measured cost).
#
#   interactions: prefixes (head -n N) of one alibaba-scale stream, seed 1:
#                 1M and 10M (the full ~129M stream is bench/alibaba_scale.sh)
#   accounts:     the standard scenario at --scale 0.5 / 5 / 50 (10k, 100k,
#                 1M accounts; 0.84M, 8.4M, 84M interactions), and a wide
#                 stream of 10M interactions each from a new account, new
#                 address and new client (the 10M-account point, where
#                 --max-accounts bounds the state)
#
# Usage: bench/scaling.sh [--quick] DISTILLGUARD   (--quick: no 1M-account point)
set -euo pipefail
QUICK=0
if [ "${1:-}" = "--quick" ]; then QUICK=1; shift; fi
DG=${1:?usage: scaling.sh [--quick] DISTILLGUARD}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# point LABEL PRODUCER...: runs PRODUCER | scan - and prints one table row.
point() {
  local label=$1; shift
  "$@" 2>/dev/null | /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" "$DG" scan - --quiet --no-response-index \
      > "$WORK/summary" 2>&1 || true
  read -r wall user sys kib < "$WORK/time"
  local n accounts kept
  n=$(sed -n 's/.*interactions accepted: \([0-9]*\).*/\1/p' "$WORK/summary")
  accounts=$(sed -n 's/^accounts: \([0-9]*\).*/\1/p' "$WORK/summary")
  kept=$(sed -n 's/^state: \(.*\)/\1/p' "$WORK/summary")
  awk -v l="$label" -v n="$n" -v a="$accounts" -v w="$wall" -v u="$user" -v s="$sys" -v k="$kib" -v kept="$kept" 'BEGIN {
    printf "| %s | %d | %d | %.1f | %.1f | %.0f | %.2f | %.0f | %.0f | %s |\n", l, n, a, w, u + s, n / w, (u + s) * 1e6 / n, k / 1024, k * 1024 / (a > 0 ? a : 1), kept }'
}

echo "| point | interactions | accounts (in output) | wall s | scan CPU s | interactions/s | CPU µs/interaction | peak RSS MiB | peak bytes/account | engine state at the end |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in 1000000 10000000; do
  point "alibaba-scale prefix $n" bash -c "'$DG' simulate --scenario alibaba-scale --seed 1 --out - | head -n $n"
done
scales="0.5 5"
[ $QUICK = 1 ] || scales="$scales 50"
for s in $scales; do
  point "standard --scale $s" "$DG" simulate --scenario standard --seed 1 --scale "$s" --out -
done
point "wide: 10M accounts, 1 interaction each" /usr/bin/python3 "$HERE/wide_stream.py" 10000000
