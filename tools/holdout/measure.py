#!/usr/bin/env python3
"""Join holdout labels with a scan's accounts.jsonl (and campaigns.jsonl) and print
recall per campaign, FPR per legitimate archetype, leakage, purity, and the engine's
reasons for every false positive and every missed attack account.

    python3 tools/holdout/measure.py --labels DIR/labels.jsonl --out SCAN_OUT [--json FILE]
"""

import argparse
import collections
import json
import os


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", required=True)
    ap.add_argument("--out", required=True, help="scan --out directory")
    ap.add_argument("--json", default=None, help="write the figures here as JSON")
    ap.add_argument("--examples", type=int, default=8, help="listed FP/miss accounts per group")
    args = ap.parse_args()

    labels = {r["account_id"]: r for r in read_jsonl(args.labels)}
    verdicts = {r["account_id"]: r for r in read_jsonl(os.path.join(args.out, "accounts.jsonl"))}

    camp = collections.defaultdict(lambda: {"n": 0, "block": 0, "review": 0, "inter": 0, "served": 0})
    arch = collections.defaultdict(lambda: {"n": 0, "block": 0, "review": 0})
    fps = collections.defaultdict(list)
    misses = collections.defaultdict(list)
    legit_n = legit_block = 0
    pred = collections.defaultdict(collections.Counter)  # predicted campaign -> true campaign/legit
    for aid, lab in labels.items():
        v = verdicts.get(aid, {"verdict": "allow", "reasons": [], "interactions": 0})
        verdict = v.get("verdict", "allow")
        if v.get("campaign_id"):
            pred[v["campaign_id"]][lab.get("campaign") or "legit"] += 1
        if lab["label"] == "attack":
            c = camp[lab["campaign"]]
            c["n"] += 1
            n = v.get("interactions", 0) or 0
            c["inter"] += n
            if verdict == "block":
                c["block"] += 1
                c["served"] += v.get("interactions_before_flag") or n
            else:
                c["served"] += n
                c["review"] += verdict == "review"
                misses[lab["campaign"]].append((aid, v))
        else:
            a = arch[lab["archetype"]]
            a["n"] += 1
            legit_n += 1
            if verdict == "block":
                a["block"] += 1
                legit_block += 1
                fps[lab["archetype"]].append((aid, v))
            elif verdict == "review":
                a["review"] += 1

    out = {"campaigns": {}, "archetypes": {}, "purity": {}}
    tot_n = tot_b = tot_i = tot_s = 0
    print("%-10s %6s %6s %6s %8s %8s" % ("campaign", "accts", "block", "review", "recall", "leakage"))
    for k in sorted(camp):
        c = camp[k]
        rec = c["block"] / c["n"] if c["n"] else 0
        leak = c["served"] / c["inter"] if c["inter"] else 0
        tot_n += c["n"]; tot_b += c["block"]; tot_i += c["inter"]; tot_s += c["served"]
        out["campaigns"][k] = {"accounts": c["n"], "blocked": c["block"], "review": c["review"],
                               "recall": rec, "leakage": leak}
        print("%-10s %6d %6d %6d %8.3f %8.3f" % (k, c["n"], c["block"], c["review"], rec, leak))
    if tot_n:
        print("%-10s %6d %6d %6s %8.3f %8.3f" % ("ALL", tot_n, tot_b, "", tot_b / tot_n, tot_s / max(1, tot_i)))
    out["recall"] = tot_b / tot_n if tot_n else None
    out["leakage"] = tot_s / tot_i if tot_i else None
    print()
    print("%-18s %6s %6s %6s %8s" % ("legit archetype", "accts", "block", "review", "FPR"))
    for k in sorted(arch):
        a = arch[k]
        out["archetypes"][k] = {"accounts": a["n"], "blocked": a["block"], "review": a["review"],
                                "fpr": a["block"] / a["n"]}
        print("%-18s %6d %6d %6d %8.4f" % (k, a["n"], a["block"], a["review"], a["block"] / a["n"]))
    out["fpr"] = legit_block / legit_n if legit_n else None
    print("%-18s %6d %6d %6s %8.5f" % ("ALL legit", legit_n, legit_block, "", out["fpr"] or 0))
    print()
    # purity: for each predicted campaign, share of its members from its majority true campaign
    tot = maj = 0
    for pc, cnt in sorted(pred.items(), key=lambda x: -sum(x[1].values())):
        s = sum(cnt.values())
        top, m = cnt.most_common(1)[0]
        tot += s
        maj += m
        out["purity"][pc] = dict(cnt)
    out["purity_weighted"] = maj / tot if tot else None
    print("predicted campaigns: %d, weighted purity %.3f" % (len(pred), out["purity_weighted"] or 0))
    for pc, cnt in sorted(pred.items(), key=lambda x: -sum(x[1].values()))[:15]:
        print("  %s: %s" % (pc, dict(cnt.most_common())))
    print()
    print("PREDICTED CAMPAIGNS by true archetype:verdict (every campaign with a legit or mixed membership)")
    comp = collections.defaultdict(collections.Counter)
    for aid, v in verdicts.items():
        if v.get("campaign_id") and aid in labels:
            comp[v["campaign_id"]]["%s:%s" % (labels[aid]["archetype"], v.get("verdict"))] += 1
    out["composition"] = {k: dict(c) for k, c in comp.items()}
    for pc, c in sorted(comp.items(), key=lambda x: -sum(x[1].values())):
        truth = pred[pc]
        if "legit" in truth or len(truth) > 1:
            print("  %s: %s" % (pc, dict(c.most_common())))
    print()
    print("FALSE POSITIVES (legit blocked), reasons by archetype")
    for k in sorted(fps):
        rc = collections.Counter(r for _, v in fps[k] for r in v.get("reasons", []))
        print(" %s: %d blocked; reason counts %s" % (k, len(fps[k]), dict(rc.most_common())))
        for aid, v in fps[k][: args.examples]:
            print("   %s score=%.2f camp=%s n=%s before_flag=%s reasons=%s" % (
                aid, v.get("score", 0), v.get("campaign_id"), v.get("interactions"),
                v.get("interactions_before_flag"), v.get("reasons")))
    print()
    print("MISSES (attack not blocked), reasons by campaign")
    for k in sorted(misses):
        rc = collections.Counter(r for _, v in misses[k] for r in v.get("reasons", []))
        vc = collections.Counter(v.get("verdict", "allow") for _, v in misses[k])
        print(" %s: %d missed %s; reason counts %s" % (k, len(misses[k]), dict(vc), dict(rc.most_common())))
        for aid, v in misses[k][: args.examples]:
            print("   %s %s score=%.2f camp=%s n=%s reasons=%s" % (
                aid, v.get("verdict"), v.get("score", 0) or 0, v.get("campaign_id"),
                v.get("interactions"), v.get("reasons")))
    out["false_positives"] = {k: [{"account_id": aid, "score": v.get("score"), "campaign_id": v.get("campaign_id"),
                                   "reasons": v.get("reasons")} for aid, v in l] for k, l in fps.items()}
    out["misses"] = {k: [{"account_id": aid, "verdict": v.get("verdict"), "score": v.get("score"),
                          "reasons": v.get("reasons")} for aid, v in l] for k, l in misses.items()}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
