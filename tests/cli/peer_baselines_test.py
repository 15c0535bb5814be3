#!/usr/bin/python3
"""Smoke test of bench/peer_baselines.py (issue #15): on the demo scenario
(seconds) the script prints the peer table -- distillguard's row and every
detector at its own and at the oracle calibrations -- and, reused, its
feature cache gives the same table; a malformed event line, labels of
another data set and an unknown detector each stop it with exit code 2 and a
message naming the problem.

Usage: peer_baselines_test.py DISTILLGUARD
Needs Debian's python3-sklearn and python3-scipy (install-deps.sh --bench);
exits 77 (skipped) without them.
"""
import os
import subprocess
import sys
import tempfile

dg = sys.argv[1]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
script = os.path.join(root, "bench", "peer_baselines.py")
try:
    import scipy.stats  # noqa: F401
    import sklearn  # noqa: F401
except ImportError as err:
    print(f"skipped: {err} (install-deps.sh --bench)")
    sys.exit(77)


def run(*cmd, expect=0):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != expect:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}, expected {expect}\n{p.stdout}\n{p.stderr}")
    return p


with tempfile.TemporaryDirectory() as d:
    run(dg, "simulate", "--scenario", "demo", "--seed", "7", "--out", d)
    run(dg, "scan", os.path.join(d, "events.jsonl"), "--now", "2027-06-01T00:00:00Z", "--out",
        os.path.join(d, "out"), "--quiet")
    ev, lab, acc = (os.path.join(d, "events.jsonl"), os.path.join(d, "labels.jsonl"),
                    os.path.join(d, "out", "accounts.jsonl"))
    cache = os.path.join(d, "feat.npz")
    first = run(sys.executable, script, ev, lab, acc, "--cache", cache).stdout
    print(first)
    for want in ("| distillguard scan |", "| MMD (RBF, hashed n-grams) | own", "| PRADA (Shapiro-Wilk, hashed n-grams) | oracle at the 0.05% budget",
                 "| SEAT, similar pairs within an account |",
                 "| MMD, clean reference (labelled legit of the first days) | own (first days' legit as benign)", "| SEAT, similar pairs across accounts |"):
        if want not in first:
            sys.exit(f"FAIL: no row {want!r} in the table")
    rows = [l for l in first.splitlines()
            if l.startswith("| ") and not l.startswith(("| detector", "| distillguard"))]
    if len(rows) != 20:
        sys.exit(f"FAIL: {len(rows)} detector rows, expected 20 (5 detectors x 4 calibrations)")
    if not os.path.exists(cache):
        sys.exit("FAIL: no feature cache written")
    again = run(sys.executable, script, ev, lab, acc, "--cache", cache)
    if again.stdout != first or "features from" not in again.stderr:
        sys.exit("FAIL: the cached features gave another table")

    bad = os.path.join(d, "bad.jsonl")
    with open(ev) as src, open(bad, "w") as dst:
        for i, line in enumerate(src):
            dst.write('{"ts": "2026-04-01T00:00:00Z", "account_id": "a"' if i == 5 else line)
            if i == 5:
                dst.write("\n")
            if i > 2000:
                break
    p = run(sys.executable, script, bad, lab, acc, expect=2)
    if "bad.jsonl:6" not in p.stderr:
        sys.exit(f"FAIL: the malformed line was not named: {p.stderr}")
    other = os.path.join(d, "other_labels.jsonl")
    with open(other, "w") as f:
        f.write('{"account_id": "nobody", "label": "legit", "campaign": null, "archetype": "casual"}\n')
    p = run(sys.executable, script, ev, other, acc, "--cache", cache, expect=2)
    if "have no label" not in p.stderr:
        sys.exit(f"FAIL: labels of another data set were not refused: {p.stderr}")
    p = run(sys.executable, script, ev, lab, acc, "--detectors", "knn", expect=2)
    if "unknown detector" not in p.stderr:
        sys.exit(f"FAIL: an unknown detector was not refused: {p.stderr}")
print("ok")
