#!/usr/bin/env bash
# Ablation: scan one simulated data set with one family of signals switched
# off at a time (policy overrides) and print recall per campaign, FPR and
# leakage. Usage: scripts/ablation.sh BUILD_DIR DATA_DIR  (DATA_DIR from simulate)
set -euo pipefail
BUILD=$1
DATA=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
base="$(dirname "$0")/../config/policy.toml"
variants=(
  "all signals|"
  "no payment links|links.payment=0"
  "no IP-prefix links|links.ip_prefix=0"
  "no prompt-content links|links.content_cap=0"
  "no client/behaviour links|links.client=0 links.behaviour=0"
  "no infrastructure links|links.payment=0 links.ip_prefix=0 links.creation_burst=0 links.email_domain=0"
  "no reasoning elicitation|weights.reasoning_elicitation=0"
  "no youth|weights.young_account=0"
)
for v in "${variants[@]}"; do
  name=${v%%|*}
  overrides=${v#*|}
  python3 - "$base" "$WORK/policy.toml" $overrides <<'PY'
import re, sys
src, dst, *overrides = sys.argv[1:]
text = open(src).read()
for ov in overrides:
    key, value = ov.split("=")
    table, field = key.split(".")
    text = re.sub(rf"(\[{table}\][^\[]*?\n){field} = [^\n]*", rf"\g<1>{field} = {value}", text, flags=re.S)
open(dst, "w").write(text)
PY
  "$BUILD/distillguard" scan "$DATA/events.jsonl" --policy "$WORK/policy.toml" --out "$WORK/out" --quiet >/dev/null
  json=$("$BUILD/distillguard" eval --labels "$DATA/labels.jsonl" --accounts "$WORK/out/accounts.jsonl" --json)
  python3 - "$name" "$json" <<'PY'
import json, sys
name, r = sys.argv[1], json.loads(sys.argv[2])
camps = " ".join(f"{k}={v['blocked']/v['accounts']:.2f}" for k, v in sorted(r['campaigns'].items()))
print(f"| {name} | {r['recall']:.4f} | {r['fpr']:.5f} | {r['leakage']:.4f} | {camps} |")
PY
done
