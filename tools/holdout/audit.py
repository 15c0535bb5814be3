#!/usr/bin/env python3
"""Leak audit: which single event-field values are (almost) only used by attack accounts?
Each such value must be a deliberate tell of a tactic (shared card, proxy /24, ...), never
an artifact of the generator. python3 tools/holdout/audit.py DIR [--min-accounts 5]"""
import argparse
import collections
import hashlib
import json
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--min-accounts", type=int, default=5)
    ap.add_argument("--purity", type=float, default=0.95)
    args = ap.parse_args()
    labels = {}
    for l in open(os.path.join(args.dir, "labels.jsonl")):
        r = json.loads(l)
        labels[r["account_id"]] = r
    vals = collections.defaultdict(lambda: collections.defaultdict(set))
    for line in open(os.path.join(args.dir, "events.jsonl")):
        ev = json.loads(line)
        a = ev["account_id"]
        ip = ev.get("ip", "")
        feats = {
            "user_agent": ev.get("user_agent"),
            "email_domain": ev.get("email_domain"),
            "payment_fingerprint": ev.get("payment_fingerprint"),
            "ip/16": ".".join(ip.split(".")[:2]),
            "ip/24": ".".join(ip.split(".")[:3]),
            "model": ev.get("model"),
            "max_tokens": ev.get("max_tokens"),
            "temperature": ev.get("temperature"),
            "system": hashlib.sha1((ev.get("system") or "").encode()).hexdigest()[:10] + ":" + (ev.get("system") or "")[:50],
            "created_day": (ev.get("account_created_at") or "")[:10],
            "n_messages": len(ev["messages"]),
            "has_tools": "tools" in ev,
            "has_reasoning": "reasoning_tokens" in ev["response"],
        }
        for k, v in feats.items():
            vals[k][v].add(a)
    print("values used by >= %d accounts of which >= %.0f%% are attack accounts:" % (args.min_accounts, 100 * args.purity))
    for k in sorted(vals):
        rows = []
        for v, accts in vals[k].items():
            if len(accts) < args.min_accounts:
                continue
            att = sum(1 for a in accts if labels[a]["label"] == "attack")
            if att / len(accts) >= args.purity:
                camps = collections.Counter(labels[a]["campaign"] for a in accts if labels[a]["label"] == "attack")
                rows.append((len(accts), v, att, dict(camps)))
        kinds = collections.Counter()
        for n, v, att, camps in sorted(rows, key=lambda r: -r[0]):
            kinds[tuple(sorted(camps))] += 1
        if rows:
            print(" %s: %d values" % (k, len(rows)))
            for n, v, att, camps in sorted(rows, key=lambda r: -r[0])[:6]:
                print("   %r: %d accounts, %d attack %s" % (v, n, att, camps))


if __name__ == "__main__":
    main()
