#!/bin/sh
# Generate, scan and measure holdout runs. Usage:
#   tools/holdout/matrix.sh ROOT NAME "generator args" ["extra scan args"]
# e.g. tools/holdout/matrix.sh /tmp/ho s1full "--seed 1 --corpus /work/shared/corpora"
set -e
ROOT=$1; NAME=$2; GEN=$3; SCANX=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
DIR=$ROOT/$NAME
mkdir -p "$DIR"
# shellcheck disable=SC2086
python3 "$HERE/holdout.py" --out "$DIR" $GEN > "$DIR/gen.log"
NOW=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['now'])" "$DIR/meta.json")
# shellcheck disable=SC2086
"$TOP/build/distillguard" scan "$DIR/events.jsonl" --now "$NOW" --out "$DIR/out" $SCANX > "$DIR/scan.log" 2>&1
"$TOP/build/distillguard" eval --labels "$DIR/labels.jsonl" --accounts "$DIR/out/accounts.jsonl" > "$DIR/eval.txt" 2>&1
python3 "$HERE/measure.py" --labels "$DIR/labels.jsonl" --out "$DIR/out" --json "$DIR/measure.json" > "$DIR/measure.txt"
rm -f "$DIR/events.jsonl" "$DIR/out/responses.fp"
head -1 "$DIR/eval.txt"
