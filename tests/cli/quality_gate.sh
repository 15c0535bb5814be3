#!/usr/bin/env bash
# The quality bar as a test: simulate the standard scenario on a seed the
# tuning never used, stream it into scan, and fail if any figure drops below
# the gate. Usage: quality_gate.sh BIN SEED [PROFILE]
#   full (default)  the bar of issue #4: recall >= 99% for every campaign,
#                   FPR <= 0.05%, no legit archetype above 0.5%, leakage <= 2%,
#                   campaign purity >= 0.95
#   corpus          the same with real prompt text from ../shared/corpora
#   gateway         the same traffic as a gateway logs it (no payment, sign-up
#                   time, e-mail domain, org): the same bar but leakage <= 3%
#                   (measured 2.2% on seed 42: issue #15's 2% is missed here)
#   evade-all       every evasion at once (issue #16): recall >= 95% for every
#                   campaign that harvests (its clean "-decoys" accounts are
#                   not held to recall), FPR <= 0.05%, no archetype above 0.5%,
#                   at most 25% of the harvest requests served (measured ~19%),
#                   purity >= 0.95 (measured 0.9995 since campaigns split,
#                   issue #15); leakage is not gated (missed: docs/QUALITY.md)
#   evade-all-but-org  every evasion but one-org (each account its own
#                   org: the attacker who has read why one-org is caught,
#                   issue #16): a floor, not the bar -- recall >= 65% for
#                   every harvesting campaign (measured 0.70-1.0 on seed 58),
#                   FPR <= 0.05%, no archetype above 0.5%, at most 45% of
#                   the harvest requests served (measured 36%), purity
#                   >= 0.75 (measured 0.804 on seed 58; 0.622 before the
#                   community split of issue #15)
#   labs            full fields with realistic evaluation labs (--realistic-labs:
#                   3-12 researchers on one org, card and office network
#                   running benchmarks at temperature 0): the full bar, so no
#                   more than 0.5% of lab accounts blocked (issue #15)
set -euo pipefail
BIN=$1
SEED=$2
PROFILE=${3:-full}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SIM=()
GATE=(--min-recall 0.99 --max-fpr 0.0005 --max-archetype-fpr 0.005 --max-leakage 0.02 --min-purity 0.95)
case "$PROFILE" in
  full) ;;
  corpus)
    CORPUS="$(cd "$(dirname "$0")/../../.." && pwd)/shared/corpora"
    if [ ! -d "$CORPUS/human" ]; then echo "no corpus at $CORPUS; skipped"; exit 77; fi
    SIM=(--corpus "$CORPUS") ;;
  gateway)
    SIM=(--fields gateway)
    GATE=(--min-recall 0.99 --max-fpr 0.0005 --max-archetype-fpr 0.005 --max-leakage 0.03 --min-purity 0.95) ;;
  labs) SIM=(--realistic-labs) ;;
  evade-all)
    SIM=(--evade all)
    GATE=(--min-recall 0.95 --ungated-suffix -decoys --max-fpr 0.0005 --max-archetype-fpr 0.005 --max-harvest-served 0.25 --min-purity 0.95) ;;
  evade-all-but-org)
    SIM=()
    for e in no-shared-payment residential-ip paraphrase diurnal multi-turn no-cot common-ua slow aged-accounts \
             public-decoys hidden-cot; do SIM+=(--evade "$e"); done
    GATE=(--min-recall 0.65 --ungated-suffix -decoys --max-fpr 0.0005 --max-archetype-fpr 0.005 --max-harvest-served 0.45 --min-purity 0.75) ;;
  *) echo "unknown profile $PROFILE" >&2; exit 2 ;;
esac
"$BIN" simulate --scenario standard --seed "$SEED" "${SIM[@]}" --out - --labels "$WORK/labels.jsonl" \
  | "$BIN" scan - --out "$WORK/out" --quiet >/dev/null
"$BIN" eval --labels "$WORK/labels.jsonl" --accounts "$WORK/out/accounts.jsonl" "${GATE[@]}"
