#!/usr/bin/env bash
# The quality bar of issue #4 as a test: simulate the standard scenario on a
# seed the tuning never used, stream it into scan, and fail if any figure
# drops below the bar. Usage: quality_gate.sh BIN SEED [corpus]
# The bar: recall >= 99% for every campaign, FPR <= 0.05%, no legit
# archetype above 0.5%, leakage <= 2%, campaign purity >= 0.95.
set -euo pipefail
BIN=$1
SEED=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
EXTRA=()
if [ "${3:-}" = corpus ]; then
  CORPUS="$(cd "$(dirname "$0")/../../.." && pwd)/shared/corpora"
  if [ ! -d "$CORPUS/human" ]; then echo "no corpus at $CORPUS; skipped"; exit 77; fi
  EXTRA=(--corpus "$CORPUS")
fi
"$BIN" simulate --scenario standard --seed "$SEED" "${EXTRA[@]}" --out - --labels "$WORK/labels.jsonl" \
  | "$BIN" scan - --out "$WORK/out" --quiet >/dev/null
"$BIN" eval --labels "$WORK/labels.jsonl" --accounts "$WORK/out/accounts.jsonl" \
  --min-recall 0.99 --max-fpr 0.0005 --max-archetype-fpr 0.005 --max-leakage 0.02 --min-purity 0.95
