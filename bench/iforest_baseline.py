#!/usr/bin/python3
"""Baseline (issue #7 b): a generic anomaly detector -- scikit-learn's
IsolationForest (Debian's python3-sklearn) on per-account behavioural
features -- run the way a platform would run one: a batch job every
--every-hours over everything logged so far, blocking from then on the
accounts it scores as most anomalous. Reports recall, false-positive rate and
leakage (SCHEMA.md's definitions) at the same false-positive rate as
distillguard on the same labelled traffic, and at the 0.05% budget.

The detector sees no label. Labels are used only afterwards, to pick the
score threshold that gives the wanted false-positive rate -- an oracle
calibration no real deployment has, so these figures are the baseline's
best case.

Features per account (what a generic detector gets from API logs, without
distillguard's cross-account correlation or prompt fingerprints):
requests, requests per active day, active days, account age at first
request, prompt length mean/std, output and reasoning tokens mean, share of
requests with reasoning, share single-turn, share with a system prompt,
distinct prompts / requests, distinct addresses, distinct user agents,
distinct models, temperature std, hour-of-day entropy, inter-arrival mean
and coefficient of variation.

Usage: iforest_baseline.py EVENTS.jsonl LABELS.jsonl ACCOUNTS.jsonl
         [--every-hours H] [--seed N] [--trees N]
  ACCOUNTS.jsonl: distillguard scan's output on the same events.
"""
import argparse
import json
import math
import sys
import zlib
from collections import defaultdict
from datetime import datetime, timezone

import numpy as np
from sklearn.ensemble import IsolationForest

ap = argparse.ArgumentParser()
ap.add_argument("events")
ap.add_argument("labels")
ap.add_argument("accounts")
ap.add_argument("--every-hours", type=float, default=24.0)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--trees", type=int, default=200)
args = ap.parse_args()

labels = {}
for line in open(args.labels):
    l = json.loads(line)
    labels[l["account_id"]] = l["label"]

_midnight = {}


def epoch(ts):
    """RFC 3339 (…Z or offset) or epoch seconds/milliseconds to seconds."""
    if not isinstance(ts, str):
        return ts / 1000.0 if ts > 1e11 else float(ts)
    day = ts[:10]
    base = _midnight.get(day)
    if base is None:
        base = datetime.fromisoformat(day + "T00:00:00+00:00").timestamp()
        _midnight[day] = base
    if ts.endswith("Z") and len(ts) >= 20 and ts[10] == "T":
        return base + int(ts[11:13]) * 3600 + int(ts[14:16]) * 60 + float(ts[17:-1])
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


class Acc:
    __slots__ = ("n", "first", "last", "created", "days", "plen", "plen2", "out", "reason", "with_reason",
                 "single", "system", "prompts", "ips", "uas", "models", "temp", "temp2", "ntemp", "hours",
                 "gap", "gap2", "ngap")

    def __init__(self):
        self.n = 0
        self.first = self.last = None
        self.created = None
        self.days = set()
        self.plen = self.plen2 = 0.0
        self.out = self.reason = 0.0
        self.with_reason = self.single = self.system = 0
        self.prompts, self.ips, self.uas, self.models = set(), set(), set(), set()
        self.temp = self.temp2 = 0.0
        self.ntemp = 0
        self.hours = [0] * 24
        self.gap = self.gap2 = 0.0
        self.ngap = 0

    def features(self):
        n = self.n
        mean_p = self.plen / n
        sd_p = math.sqrt(max(0.0, self.plen2 / n - mean_p * mean_p))
        tm = self.temp / self.ntemp if self.ntemp else 0.0
        sd_t = math.sqrt(max(0.0, self.temp2 / self.ntemp - tm * tm)) if self.ntemp else 0.0
        ent = 0.0
        for h in self.hours:
            if h:
                p = h / n
                ent -= p * math.log(p)
        gm = self.gap / self.ngap if self.ngap else 0.0
        gsd = math.sqrt(max(0.0, self.gap2 / self.ngap - gm * gm)) if self.ngap else 0.0
        age = (self.first - self.created) / 86400.0 if self.created is not None else 0.0
        return [math.log1p(n), math.log1p(n / len(self.days)), len(self.days), math.log1p(max(0.0, age)),
                math.log1p(mean_p), math.log1p(sd_p), math.log1p(self.out / n), math.log1p(self.reason / n),
                self.with_reason / n, self.single / n, self.system / n, len(self.prompts) / n,
                math.log1p(len(self.ips)), math.log1p(len(self.uas)), len(self.models), sd_t, ent,
                math.log1p(gm), gsd / gm if gm > 0 else 0.0]


accounts = defaultdict(Acc)
checkpoints = []  # (time, {account: (score, interactions so far)})
every = args.every_hours * 3600.0
next_cut = None
bad = 0


def checkpoint(now):
    ids = [a for a, s in accounts.items() if s.n > 0]
    X = np.array([accounts[a].features() for a in ids], dtype=np.float64)
    forest = IsolationForest(n_estimators=args.trees, random_state=args.seed, n_jobs=1)
    forest.fit(X)
    scores = -forest.score_samples(X)  # higher = more anomalous
    checkpoints.append((now, {a: (float(s), accounts[a].n) for a, s in zip(ids, scores)}))
    print(f"checkpoint {len(checkpoints)}: {datetime.fromtimestamp(now, timezone.utc):%Y-%m-%d %H:%M} "
          f"{len(ids)} accounts", file=sys.stderr)


for lineno, line in enumerate(open(args.events, "rb"), 1):
    try:
        e = json.loads(line)
        acct = e.get("account_id") or e.get("user")  # canonical or OpenAI-style record
        t = epoch(e["ts"])
    except (ValueError, KeyError, TypeError) as err:
        bad += 1
        continue
    if acct is None:
        bad += 1
        continue
    if next_cut is None:
        next_cut = t + every
    while t >= next_cut:
        checkpoint(next_cut)
        next_cut += every
    s = accounts[acct]
    if s.n:
        g = t - s.last
        s.gap += g
        s.gap2 += g * g
        s.ngap += 1
    else:
        s.first = t
        c = e.get("account_created_at")
        if c is not None:
            try:
                s.created = epoch(c)
            except (ValueError, TypeError):
                pass
    s.n += 1
    s.last = t
    s.days.add(int(t // 86400))
    s.hours[int(t // 3600) % 24] += 1
    msgs = e.get("messages") or []
    prompt = ""
    for m in reversed(msgs):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            prompt = c if isinstance(c, str) else json.dumps(c)
            break
    s.plen += len(prompt)
    s.plen2 += len(prompt) ** 2
    s.prompts.add(zlib.crc32(" ".join(prompt.lower().split()).encode()))
    s.single += 1 if len(msgs) <= 1 else 0
    s.system += 1 if e.get("system") or any(isinstance(m, dict) and m.get("role") == "system" for m in msgs) else 0
    r = e.get("response")
    if isinstance(r, dict):
        out, rt = r.get("output_tokens") or 0, r.get("reasoning_tokens") or 0
    else:
        u = e.get("usage") or {}
        out = u.get("completion_tokens") or 0
        rt = (u.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    s.out += out
    s.reason += rt
    s.with_reason += 1 if rt > 0 else 0
    if e.get("ip"):
        s.ips.add(e["ip"])
    if e.get("user_agent"):
        s.uas.add(e["user_agent"])
    if e.get("model"):
        s.models.add(e["model"])
    temp = e.get("temperature")
    if isinstance(temp, (int, float)):
        s.temp += temp
        s.temp2 += temp * temp
        s.ntemp += 1
checkpoint(next_cut if next_cut is not None else 0.0)

legit = [a for a in accounts if labels.get(a) == "legit"]
attack = [a for a in accounts if labels.get(a) == "attack"]
attack_total = sum(accounts[a].n for a in attack)

# An account's worst (highest) score over all checkpoints decides whether it is
# ever blocked at a threshold; the first checkpoint above it says when.
worst = defaultdict(float)
for _, scores in checkpoints:
    for a, (sc, _) in scores.items():
        worst[a] = max(worst[a], sc)


def at_threshold(th):
    first_flag = {}
    for _, scores in checkpoints:
        for a, (sc, seen) in scores.items():
            if sc >= th and a not in first_flag:
                first_flag[a] = seen
    fp = sum(1 for a in legit if a in first_flag)
    caught = sum(1 for a in attack if a in first_flag)
    leaked = sum(first_flag.get(a, accounts[a].n) for a in attack)
    return fp, caught, leaked


def threshold_for(max_fp):
    """The lowest threshold at which at most max_fp legit accounts are ever blocked."""
    legit_worst = sorted((worst[a] for a in legit), reverse=True)
    if max_fp >= len(legit_worst):
        return 0.0
    return np.nextafter(legit_worst[max_fp], np.inf)


dg_block = {}
for line in open(args.accounts):
    a = json.loads(line)
    if a["verdict"] == "block":
        dg_block[a["account_id"]] = a["interactions_before_flag"] or 0
dg_fp = sum(1 for a in legit if a in dg_block)
dg_caught = sum(1 for a in attack if a in dg_block)
dg_leaked = sum(dg_block.get(a, accounts[a].n) for a in attack)

print(f"accounts: {len(legit)} legit, {len(attack)} attack; attack interactions {attack_total}; "
      f"checkpoints every {args.every_hours:g} h: {len(checkpoints)}; unreadable lines {bad}")
print("| detector | legit blocked (FPR) | attack accounts blocked (recall) | attack interactions served before the block (leakage) |")
print("|---|---|---|---|")


def row(name, fp, caught, leaked):
    print(f"| {name} | {fp} ({fp / max(1, len(legit)):.5f}) | {caught}/{len(attack)} ({caught / max(1, len(attack)):.4f}) "
          f"| {leaked}/{attack_total} ({leaked / max(1, attack_total):.4f}) |")


row("distillguard scan", dg_fp, dg_caught, dg_leaked)
budgets = [("IsolationForest at distillguard's FPR", dg_fp),
           ("IsolationForest at the 0.05% budget", int(math.floor(len(legit) * 0.0005))),
           ("IsolationForest at 1% FPR", int(math.floor(len(legit) * 0.01))),
           ("IsolationForest at 5% FPR", int(math.floor(len(legit) * 0.05)))]
for name, max_fp in budgets:
    row(name, *at_threshold(threshold_for(max_fp)))
