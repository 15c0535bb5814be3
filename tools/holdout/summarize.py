#!/usr/bin/env python3
"""Markdown tables from matrix runs: python3 tools/holdout/summarize.py ROOT [RUN...]
(each RUN is a directory with measure.json and eval.txt written by matrix.sh)."""
import json
import os
import sys


def main():
    root = sys.argv[1]
    runs = sys.argv[2:] or sorted(d for d in os.listdir(root) if os.path.exists(os.path.join(root, d, "measure.json")))
    data = {r: json.load(open(os.path.join(root, r, "measure.json"))) for r in runs}
    camps = sorted({c for m in data.values() for c in m["campaigns"]})
    archs = sorted({a for m in data.values() for a in m["archetypes"]})
    print("| run | recall | FPR | worst archetype (FPR) | leakage | purity (eval) | " +
          " | ".join(camps) + " |")
    print("|---" * (6 + len(camps)) + "|")
    for r, m in data.items():
        worst = max(m["archetypes"].items(), key=lambda kv: kv[1]["fpr"], default=(None, {"fpr": 0}))
        purity = ""
        try:
            first = open(os.path.join(root, r, "eval.txt")).readline()
            purity = first.split("campaign purity:")[1].strip().split(" ")[0]
        except (OSError, IndexError):
            pass
        cells = []
        for c in camps:
            x = m["campaigns"].get(c)
            cells.append("%.2f (%d/%d)" % (x["recall"], x["blocked"], x["accounts"]) if x else "")
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            r, "%.3f" % m["recall"] if m["recall"] is not None else "-",
            "%.4f" % m["fpr"], "%s %.3f" % (worst[0], worst[1]["fpr"]) if worst[0] else "-",
            "%.3f" % m["leakage"] if m["leakage"] is not None else "-", purity, " | ".join(cells)))
    print()
    print("| run | " + " | ".join(archs) + " |")
    print("|---" * (1 + len(archs)) + "|")
    for r, m in data.items():
        print("| %s | %s |" % (r, " | ".join(
            ("%d/%d" % (m["archetypes"][a]["blocked"], m["archetypes"][a]["accounts"]))
            if a in m["archetypes"] else "" for a in archs)))


if __name__ == "__main__":
    main()
