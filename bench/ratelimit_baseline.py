#!/usr/bin/env python3
"""Baseline (issue #7 a): per-account rate limits of the kind API gateways
provide -- requests and output tokens per minute and per day, in fixed
windows -- set at the tightest levels that still leave at least 99.95% of
legitimate accounts untouched (the false-positive budget distillguard is
held to). Reports how much attack traffic they let through, next to
distillguard's leakage on the same labelled traffic.

Usage: ratelimit_baseline.py EVENTS.jsonl LABELS.jsonl [ACCOUNTS.jsonl]
  ACCOUNTS.jsonl: distillguard scan's output on the same events, for the
  side-by-side figure (computed with the SCHEMA's leakage definition).
"""
import json
import math
import sys
from collections import defaultdict

events_path, labels_path = sys.argv[1], sys.argv[2]
accounts_path = sys.argv[3] if len(sys.argv) > 3 else None
labels = {}
for line in open(labels_path):
    l = json.loads(line)
    labels[l["account_id"]] = l

per_account = defaultdict(list)  # account -> [(ts_s, output_tokens)]
for line in open(events_path):
    e = json.loads(line)
    acct = e.get("account_id") or e.get("user")
    ts = e["ts"]
    if isinstance(ts, str):  # RFC 3339 to seconds (the simulator writes ...Z)
        from datetime import datetime
        ts = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    r = e.get("response") or {}
    out = r.get("output_tokens") if isinstance(r, dict) else None
    if out is None:
        out = (e.get("usage") or {}).get("completion_tokens", 0)
    per_account[acct].append((ts, out or 0))

WINDOWS = {"rpm": (60, False), "rpd": (86400, False), "tpm": (60, True), "tpd": (86400, True)}


def window_max(evts, size, tokens):
    counts = defaultdict(int)
    for ts, out in evts:
        counts[int(ts // size)] += out if tokens else 1
    return max(counts.values()) if counts else 0


legit = [a for a in per_account if labels.get(a, {}).get("label") == "legit"]
attack = [a for a in per_account if labels.get(a, {}).get("label") == "attack"]
limits = {}
for name, (size, tokens) in WINDOWS.items():
    maxima = sorted(window_max(per_account[a], size, tokens) for a in legit)
    # The tightest limit that at most 0.05% of legit accounts ever exceed.
    k = len(maxima) - int(math.floor(len(maxima) * 0.0005)) - 1
    limits[name] = maxima[max(0, k)]


def served(evts):
    used = defaultdict(int)
    n = 0
    for ts, out in sorted(evts):
        keys = {name: (name, int(ts // size)) for name, (size, _) in WINDOWS.items()}
        if all(used[keys[nm]] + (out if WINDOWS[nm][1] else 1) <= limits[nm] for nm in WINDOWS):
            for nm in WINDOWS:
                used[keys[nm]] += out if WINDOWS[nm][1] else 1
            n += 1
    return n


legit_limited = sum(1 for a in legit if served(per_account[a]) < len(per_account[a]))
attack_total = sum(len(per_account[a]) for a in attack)
attack_served = sum(served(per_account[a]) for a in attack)
print("limits (0.05% legit budget): " + ", ".join(f"{k}={v}" for k, v in limits.items()))
print(f"rate limits: legit accounts ever limited {legit_limited}/{len(legit)} ({legit_limited / max(1, len(legit)):.5f}); "
      f"attack interactions served {attack_served}/{attack_total} ({attack_served / max(1, attack_total):.4f}); "
      f"attack accounts stopped: 0 (limits slow accounts, they never block one)")
if accounts_path:
    flagged = {}
    for line in open(accounts_path):
        a = json.loads(line)
        if a["verdict"] == "block":
            flagged[a["account_id"]] = a["interactions_before_flag"] or 0
    leaked = sum(flagged.get(a, len(per_account[a])) for a in attack)
    fp = sum(1 for a in legit if a in flagged)
    print(f"distillguard: legit accounts blocked {fp}/{len(legit)} ({fp / max(1, len(legit)):.5f}); "
          f"attack interactions served before the block {leaked}/{attack_total} ({leaked / max(1, attack_total):.4f}); "
          f"attack accounts blocked {sum(1 for a in attack if a in flagged)}/{len(attack)}")
