#!/usr/bin/env bash
# /v1/check with 1,000 access rules against /v1/check without any
# (issue #20: within 10%). Three serves side by side on loopback, idle but
# for the one measured: no rules; 1,000 rules of one shape (the same
# requirements, different ids); 1,000 rules with distinct condition sets
# (each its own countries, jurisdiction, org type, label, level and age
# threshold: 1,000 distinct values per field, every predicate evaluated).
# Every rule covers the requested model and no rule applies to the
# benchmark's accounts (10,000, all attributes verified): the cost measured
# is evaluation, not the audit.
#
# Two workloads, alternated with the three serves in each of ROUNDS rounds:
#   warm  the 10,000 accounts in turn on one model (the outcome cache hits
#         after the first 10,000 checks);
#   cold  every (account, model) pair new: 10,000 accounts x 50 models, the
#         rules reloaded (empty caches) before the run -- each check
#         evaluates all 1,000 rules.
# wrk -t1 -c16 for SECONDS s per run; prints each run (req/s and the serve
# process's CPU microseconds per request), then per workload the medians
# of the rounds and their ratios to the serve without rules.
# Needs wrk (scripts/install-deps.sh --bench).
# Usage: bench/access_bench.sh [BUILD_DIR] [ROUNDS] [SECONDS]
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${2:-3}
SECS=${3:-5}
DG="$BUILD/distillguard"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
TOKEN=bench-token
echo "$TOKEN" > "$WORK/token"

python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
with open(f"{w}/accounts.csv", "w") as f:
    f.write("account_id,verified_country,jurisdiction,verification_level,org_type,payment_verified,created_at,labels\n")
    for i in range(10000):
        f.write(f"bench-{i},US,US,3,company,true,2024-01-01T00:00:00Z,customer\n")
head = 'format = 1\nversion = "bench"\n'
rule = ('[[rule]]\nid = "r{i}"\nmodels = ["bench-*"]\neffect = "deny_model"\n'
        'customer_reason = "Not available for your account."\naudit_reason = "bench {i}"\n[rule.require]\n')
with open(f"{w}/similar.toml", "w") as f:
    f.write(head)
    for i in range(1000):
        f.write(rule.format(i=i) + 'verified_country_in = ["US", "GB", "DE"]\nverification_level_at_least = 2\npayment_verified = true\n')
with open(f"{w}/distinct.toml", "w") as f:
    f.write(head)
    for i in range(1000):
        f.write(rule.format(i=i) +
                f'verified_country_in = ["C{i}", "C{i + 1}", "US"]\njurisdiction_not_in = ["J{i}"]\n'
                f'verification_level_at_least = {i % 4}\norg_type_not_in = ["O{i}"]\naccount_age_days_at_least = {i % 365}\n'
                f'payment_verified = true\nlabels_none = ["L{i}"]\n')
PY

# The three serves share one CPU and wrk the other, so that none of them is
# placed better than the others by the scheduler (taskset, util-linux).
PIN_SERVE="" PIN_WRK=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN_SERVE="taskset -c 1" PIN_WRK="taskset -c 0"; fi
declare -A PORT
start() {  # name [args]
  local name=$1
  shift
  DISTILLGUARD_TOKEN=$TOKEN $PIN_SERVE "$DG" serve --listen 127.0.0.1:0 --data "$WORK/data-$name" --port-file "$WORK/port-$name" \
    --accounts "$WORK/accounts.csv" "$@" 2>"$WORK/serve-$name.log" &
  PIDS+=($!)
  while [ ! -s "$WORK/port-$name" ]; do sleep 0.1; done
  PORT[$name]=$(cat "$WORK/port-$name")
}
start none
start similar --access-rules "$WORK/similar.toml"
start distinct --access-rules "$WORK/distinct.toml"

for mode in warm cold; do
  cat > "$WORK/$mode.lua" <<LUA
counter = 0
request = function()
  counter = counter + 1
  local model = "bench-m0"
  if "$mode" == "cold" then model = "bench-m" .. (math.floor(counter / 10000) % 50) end
  local body = '{"account_id":"bench-' .. (counter % 10000) .. '","model":"' .. model .. '","ip":"198.51.100.7"}'
  return wrk.format("POST", "/v1/check", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer $TOKEN"}, body)
end
LUA
done

reload() {  # name: empties the rule set's caches (a new rule set)
  curl -s -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -d '{"by":"bench"}' "http://127.0.0.1:${PORT[$1]}/v1/access/reload"
}
cpu_ticks() {  # pid -> utime + stime (clock ticks)
  awk '{print $14 + $15}' "/proc/$1/stat"
}
declare -A PID
PID[none]=${PIDS[0]}
PID[similar]=${PIDS[1]}
PID[distinct]=${PIDS[2]}
TCK=$(getconf CLK_TCK)
run() {  # name mode -> "req/s cpu_us_per_request"
  local c0 c1 out
  c0=$(cpu_ticks "${PID[$1]}")
  out=$($PIN_WRK wrk -t1 -c16 -d"${SECS}s" -s "$WORK/$2.lua" "http://127.0.0.1:${PORT[$1]}/v1/check")
  c1=$(cpu_ticks "${PID[$1]}")
  echo "$out" | awk -v c="$((c1 - c0))" -v t="$TCK" '/requests in/ {n = $1} /Requests\/sec/ {r = $2} END {printf "%.0f %.2f\n", r, c / t * 1e6 / n}'
}

# Speed two ways: wrk's req/s (the machine's other load moves it a lot),
# and the serve process's CPU time per request (user + system, from
# /proc/PID/stat over the run: steadier on a shared machine).
echo "round workload config    req/s    cpu_us/req"
for round in $(seq 1 "$ROUNDS"); do
  # The order of the three serves rotates from round to round.
  case $((round % 3)) in
    1) order="none similar distinct" ;;
    2) order="similar distinct none" ;;
    0) order="distinct none similar" ;;
  esac
  for mode in warm cold; do
    for name in $order; do
      if [ "$mode" = cold ] && [ "$name" != none ]; then reload "$name"; fi
      r=$(run "$name" "$mode")
      echo "$round $mode $name $r" | tee -a "$WORK/results" | awk '{printf "%-5s %-8s %-9s %-8s %s\n", $1, $2, $3, $4, $5}'
    done
  done
done
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "medians of $ROUNDS rounds; speed relative to no rules (req/s ratio; CPU-per-request ratio none/with):"
for mode in warm cold; do
  line="$mode"
  for name in none similar distinct; do
    line="$line $(awk -v m="$mode" -v n="$name" '$2 == m && $3 == n {print $4}' "$WORK/results" | median)"
    line="$line $(awk -v m="$mode" -v n="$name" '$2 == m && $3 == n {print $5}' "$WORK/results" | median)"
  done
  echo "$line" | awk '{printf "%-5s none %.0f req/s %.1f us | similar %.0f req/s (%.3f) %.1f us (%.3f) | distinct %.0f req/s (%.3f) %.1f us (%.3f)\n",
    $1, $2, $3, $4, $4 / $2, $5, $3 / $5, $6, $6 / $2, $7, $3 / $7}'
done
for name in similar distinct; do
  echo "$name: $(curl -s "http://127.0.0.1:${PORT[$name]}/metrics" | grep -E '^distillguard_access_(enforced|dry_run)_total' | tr '\n' ' ')"
done
