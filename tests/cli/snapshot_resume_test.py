#!/usr/bin/env python3
"""scan --snapshot-out / --resume: a log scanned in two runs, the second
resumed from the first's engine snapshot, gives the same accounts.jsonl and
campaigns.jsonl as one run over both halves; a damaged snapshot is refused
with a reason and a non-zero exit, never half-loaded.

usage: snapshot_resume_test.py DISTILLGUARD
"""
import os
import shutil
import subprocess
import sys
import tempfile


def read(path):
    with open(path) as f:
        return f.read()


def main():
    dg = sys.argv[1]
    work = tempfile.mkdtemp(prefix="dg-snapshot-cli.")
    failures = []
    try:
        data = os.path.join(work, "data")
        subprocess.run([dg, "simulate", "--scenario", "demo", "--seed", "7", "--out", data], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(data, "events.jsonl")) as f:
            lines = f.readlines()
        first, second = os.path.join(work, "first.jsonl"), os.path.join(work, "second.jsonl")
        with open(first, "w") as f:
            f.writelines(lines[: len(lines) // 2])
        with open(second, "w") as f:
            f.writelines(lines[len(lines) // 2:])
        common = ["--quiet", "--now", "2030-01-01T00:00:00Z", "--no-response-index"]
        whole = os.path.join(work, "whole")
        subprocess.run([dg, "scan", first, second, "--out", whole, *common], check=True, stdout=subprocess.DEVNULL)
        snap = os.path.join(work, "first.snap")
        part1 = subprocess.run([dg, "scan", first, "--snapshot-out", snap, *common], check=True, capture_output=True,
                               text=True)
        if "wrote snapshot" not in part1.stderr:
            failures.append(f"first run does not report the snapshot: {part1.stderr[-300:]!r}")
        resumed = os.path.join(work, "resumed")
        part2 = subprocess.run([dg, "scan", second, "--resume", snap, "--out", resumed, *common], check=True,
                               capture_output=True, text=True)
        if "resumed from" not in part2.stderr:
            failures.append(f"second run does not report the resume: {part2.stderr[-300:]!r}")
        for name in ("accounts.jsonl", "campaigns.jsonl"):
            if read(os.path.join(whole, name)) != read(os.path.join(resumed, name)):
                failures.append(f"{name}: resumed run differs from the single run")
        if "camp_" not in read(os.path.join(resumed, "campaigns.jsonl")):
            failures.append("no campaign in the resumed run: the comparison proves little")
        # A damaged snapshot: refused with the reason, exit non-zero.
        raw = bytearray(open(snap, "rb").read())
        raw[len(raw) // 2] ^= 0x20
        bad = os.path.join(work, "bad.snap")
        open(bad, "wb").write(bytes(raw))
        r = subprocess.run([dg, "scan", second, "--resume", bad, *common], capture_output=True, text=True)
        if r.returncode == 0 or "checksum" not in r.stderr:
            failures.append(f"damaged snapshot: exit {r.returncode}, stderr {r.stderr[-300:]!r}")
        # Another policy: refused, the snapshot was taken under the defaults.
        policy = os.path.join(work, "policy.toml")
        open(policy, "w").write("version = 1\n[thresholds]\nsolo_block_score = 0.9\n")
        r = subprocess.run([dg, "scan", second, "--resume", snap, "--policy", policy, *common], capture_output=True,
                           text=True)
        if r.returncode == 0 or "another policy" not in r.stderr:
            failures.append(f"other policy: exit {r.returncode}, stderr {r.stderr[-300:]!r}")
        print(f"{len(lines)} lines; " + next((l for l in part1.stderr.splitlines() if "wrote snapshot" in l), "?"))
        for f in failures:
            print("FAIL:", f)
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
