#!/usr/bin/env bash
# Runs the quality evaluation over seeds, the corpus and one evasion at a
# time, and prints one line of figures per run (the table in
# docs/QUALITY.md). Usage: scripts/eval-matrix.sh [BUILD_DIR] [WORK_DIR]
# Each run simulates the standard scenario (~1.7M interactions, ~3 GB),
# scans it and scores it; the data is deleted after each run.
set -euo pipefail
BUILD=${1:-build}
WORK=${2:-$(mktemp -d)}
DG="$BUILD/distillguard"
CORPUS=${CORPUS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/corpora}
SCALE=${SCALE:-1}
runs=(
  "seed=1"
  "seed=2"
  "seed=3 corpus"
  "seed=4 corpus"
  "seed=5 evade=no-shared-payment"
  "seed=6 evade=residential-ip"
  "seed=7 evade=paraphrase"
  "seed=8 evade=diurnal"
  "seed=9 evade=multi-turn"
  "seed=10 evade=no-cot"
  "seed=11 evade=common-ua"
  "seed=12 evade=slow"
  "seed=13 evade=aged-accounts"
)
if [ -n "${RUNS:-}" ]; then IFS=';' read -r -a runs <<<"$RUNS"; fi
printf "%-40s %8s %9s %8s %7s  %s\n" run recall fpr leakage purity "worst campaign recall / worst archetype FPR"
for spec in "${runs[@]}"; do
  args=(--scenario standard --scale "$SCALE")
  for kv in $spec; do
    case "$kv" in
      seed=*) args+=(--seed "${kv#seed=}") ;;
      corpus) args+=(--corpus "$CORPUS") ;;
      evade=*) args+=(--evade "${kv#evade=}") ;;
      fields=*) args+=(--fields "${kv#fields=}") ;;
    esac
  done
  dir="$WORK/run"
  rm -rf "$dir"
  "$DG" simulate "${args[@]}" --out "$dir" 2>/dev/null
  "$DG" scan "$dir/events.jsonl" --out "$dir/out" --quiet >/dev/null
  json=$("$DG" eval --labels "$dir/labels.jsonl" --accounts "$dir/out/accounts.jsonl" --json)
  python3 - "$spec" "$json" <<'PY'
import json, sys
spec, r = sys.argv[1], json.loads(sys.argv[2])
def rate(g, k): return g[k] / g['accounts'] if g['accounts'] else 0
wc = min(r['campaigns'].items(), key=lambda kv: rate(kv[1], 'blocked'))
wa = max(r['archetypes'].items(), key=lambda kv: rate(kv[1], 'blocked'))
print(f"{spec:<40} {r['recall']:8.4f} {r['fpr']:9.5f} {r['leakage']:8.4f} {r['purity']:7.4f}  "
      f"{wc[0]} {rate(wc[1],'blocked'):.3f} / {wa[0]} {rate(wa[1],'blocked'):.4f}")
PY
  rm -rf "$dir"
done
