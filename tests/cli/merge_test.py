#!/usr/bin/env python3
"""Many inputs, one timeline (issue #17): two replica files of one gateway,
overlapping (the shared records are duplicates), each shuffled locally and
given in the wrong order, scan to a byte-identical accounts.jsonl as the one
sorted file; stragglers are reported per file; --reorder-bytes bounds the
reorder buffers and counts what it releases early.

Usage: merge_test.py DISTILLGUARD_BINARY
"""
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dgtest  # noqa: E402
from dgtest import check  # noqa: E402

BIN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="dg_merge_")


def scan(inputs, out, *extra):
    r = subprocess.run([BIN, "scan", *inputs, "--quiet", "--out", out, *extra], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
    return r


def epoch(ts):
    if isinstance(ts, (int, float)):
        return float(ts)
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def write(path, lines):
    with open(path, "w") as f:
        f.writelines(lines)


def main():
    sim = os.path.join(WORK, "sim")
    subprocess.run([BIN, "simulate", "--scenario", "demo", "--scale", "0.3", "--seed", "5", "--out", sim],
                   check=True, capture_output=True)
    lines = open(os.path.join(sim, "events.jsonl")).readlines()
    ordered = [l for _, _, l in sorted((epoch(json.loads(l)["ts"]), i, l) for i, l in enumerate(lines))]
    sorted_path = os.path.join(WORK, "sorted.jsonl")
    write(sorted_path, ordered)

    # Replicas: a has records 0,2 (mod 3), b has 1,2: every third is in both.
    rng = random.Random(11)

    def replica(keep):
        part = [l for i, l in enumerate(ordered) if i % 3 in keep]
        out = []
        for k in range(0, len(part), 64):  # shuffled within blocks far below --reorder-window
            block = part[k:k + 64]
            rng.shuffle(block)
            out += block
        return out

    a, b = os.path.join(WORK, "a.jsonl"), os.path.join(WORK, "b.jsonl")
    write(a, replica({0, 2}))
    write(b, replica({1, 2}))
    shared = sum(1 for i in range(len(ordered)) if i % 3 == 2)

    ref = scan([sorted_path], os.path.join(WORK, "ref"))
    check(ref.returncode == 0, "the sorted file scans")
    for name, inputs in (("b a", [b, a]), ("a b", [a, b])):
        r = scan(inputs, os.path.join(WORK, "m" + name.replace(" ", "")))
        check(r.returncode == 0, f"replicas ({name}) scan")
        check(f"duplicates: {shared}" in r.stdout, f"replicas ({name}): the {shared} shared records are duplicates")
        check("late (out of order): 0" in r.stdout, f"replicas ({name}): nothing late ({r.stdout.splitlines()[0]})")
        same = open(os.path.join(WORK, "ref", "accounts.jsonl"), "rb").read() == \
            open(os.path.join(WORK, "m" + name.replace(" ", ""), "accounts.jsonl"), "rb").read()
        check(same, f"replicas ({name}): accounts.jsonl byte-identical to the sorted file's")

    # A straggler far beyond the window is delivered, counted late, and named by file.
    strag = os.path.join(WORK, "strag.jsonl")
    late = json.loads(ordered[10])
    late["request_id"] += "-straggler"  # not a duplicate of the sorted file's copy
    write(strag, ordered[200:400] + [json.dumps(late) + "\n"])
    r = scan([strag, sorted_path], os.path.join(WORK, "s"), "--reorder-window", "16")
    check(r.returncode == 0 and "late (stragglers) by file:" in r.stdout and "strag.jsonl=1" in r.stdout,
          f"straggler reported by file ({[l for l in r.stdout.splitlines() if 'late' in l]})")

    # The byte cap: a tiny --reorder-bytes releases early, counted, nothing lost.
    r = scan([b, a], os.path.join(WORK, "c"), "--reorder-bytes", "20000")
    check(r.returncode == 0 and "released early to stay within --reorder-bytes:" in r.stdout,
          "a small --reorder-bytes is honoured and counted")
    acc = sum(1 for _ in open(os.path.join(WORK, "c", "accounts.jsonl")))
    ref_acc = sum(1 for _ in open(os.path.join(WORK, "ref", "accounts.jsonl")))
    check(f"interactions accepted: {len(ordered)}" in r.stdout and acc == ref_acc,
          "with the byte cap every record is still delivered")


dgtest.run(main, WORK, "merge")
