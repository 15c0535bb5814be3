#!/usr/bin/env bash
# The report of the simulator's standard scenario, opened in a real browser
# (headless Chromium): it must load without script errors, need nothing
# from the network, and show every campaign with all its charts drawn. The
# screenshot is kept as a test artifact.
# Usage: report_browser_test.sh DISTILLGUARD_BINARY ARTIFACT_DIR
set -euo pipefail
DG=$1
ART=$2
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  echo "chromium is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$ART"
"$DG" simulate --scenario standard --seed 44 --out - --labels "$WORK/labels.jsonl" 2>/dev/null | "$DG" scan - --out "$WORK/out" --quiet >/dev/null
REPORT="$WORK/out/report.html"
CAMPAIGNS=$(wc -l < "$WORK/out/campaigns.jsonl")
fail() { echo "FAIL $*" >&2; exit 1; }
[ "$CAMPAIGNS" -ge 5 ] || fail "expected the standard scenario's campaigns, found $CAMPAIGNS"
if grep -Eq '(src|href)="(https?:)?//' "$REPORT"; then fail "report.html loads something from the network"; fi
# Ranked by score (issue #19), with harvested tokens and confirmation time,
# and per-account counts on the shared indicators.
python3 - "$REPORT" <<'PY' || fail "campaigns not ranked by score, or harvested tokens / per-account indicator counts missing"
import re, sys
html = open(sys.argv[1]).read()
table = re.search(r'<table id="ranking">(.*?)</table>', html, re.S).group(1)
assert "output tokens harvested" in table and "confirmed" in table
scores = [float(m) for m in re.findall(r'</a></td><td>([0-9.]+)</td>', table)]
assert len(scores) >= 5 and scores == sorted(scores, reverse=True), scores
assert re.search(r'<th>uses per account</th>', html)
PY
DOM=$(timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --virtual-time-budget=10000 --dump-dom "file://$REPORT" 2>/dev/null)
CHECK=$(grep -o 'data-report-check="[^"]*"' <<<"$DOM" || true)
ERRORS=$(grep -o 'data-report-errors="[^"]*"' <<<"$DOM" || true)
[ -z "$ERRORS" ] || fail "script errors in the page: $ERRORS"
[ "$CHECK" = "data-report-check=\"campaigns=$CAMPAIGNS rendered=$CAMPAIGNS\"" ] ||
  fail "expected every one of $CAMPAIGNS campaigns with its charts drawn, the page says: ${CHECK:-nothing (did not load)}"
timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,3000 \
  --screenshot="$ART/report.png" "file://$REPORT" >/dev/null 2>&1
SIZE=$(stat -c %s "$ART/report.png" 2>/dev/null || echo 0)
[ "$SIZE" -gt 20000 ] || fail "screenshot missing or blank ($SIZE bytes)"
cp "$REPORT" "$ART/report.html"
echo "ok: $CAMPAIGNS campaigns rendered with their charts; screenshot $ART/report.png ($SIZE bytes)"
