#!/usr/bin/env python3
"""The cluster gives scan's answers through failures (issue #22).

Runs scripts/cluster-scan.sh on a scaled-down standard scenario with two
workers, a NATS node killed (kill -9, left dead) and a worker killed and
replaced mid-stream, on a real 3-node nats-server cluster, and checks against
`scan` on the same file:
  - no event lost or double-counted: published == applied == scan's accepted,
    and every account's interaction count equals scan's;
  - verdicts agree with scan for >= 99.9% of accounts;
  - eval's quality figures are within 0.1 percentage points;
  - campaigns.jsonl equals scan --no-samples' (the digest stream carries no text);
  - DG_EVENTS holds no event message (no prompt text) once all are applied:
    the workers erase what they digested, through the kills.

With a third argument, the fault injector tests/cluster/lose_deliveries.cc
(a shared library): no kills; the workers run with it preloaded and lose
2% of their deliveries (ten each at most), so each re-creates its consumer
while pulls are still arriving (the path on which libnats 3.4 used a freed
subscription, NatsLink::Retire); the same checks hold, and the workers'
logs must show deliveries lost.

usage: cluster_scan_test.py DISTILLGUARD SCRIPTS_DIR [LOSE_DELIVERIES_SO]     (exit 77: no nats-server)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def load_accounts(path):
    with open(path) as f:
        return {a["account_id"]: a for a in map(json.loads, f)}


def main():
    dg, scripts = sys.argv[1], sys.argv[2]
    lose = sys.argv[3] if len(sys.argv) > 3 else None
    if shutil.which("nats-server") is None:
        print("nats-server not installed (scripts/install-deps.sh)")
        return 77
    work = tempfile.mkdtemp(prefix="dg-cluster-test.")
    try:
        data = os.path.join(work, "data")
        subprocess.run([dg, "simulate", "--scenario", "standard", "--scale", "0.005", "--seed", "42", "--out", data],
                       check=True, stdout=subprocess.DEVNULL)
        events, labels = os.path.join(data, "events.jsonl"), os.path.join(data, "labels.jsonl")
        scan = os.path.join(work, "scan")
        scan_run = subprocess.run([dg, "scan", events, "--out", scan, "--no-samples", "--quiet"], check=True,
                                  capture_output=True, text=True)
        accepted = int(scan_run.stdout.split("interactions accepted:")[1].split()[0])
        out = os.path.join(work, "cluster")
        env = dict(os.environ, DG=dg)
        kills = ["--kill-node", "--kill-worker"]
        if lose:
            # Every node through a wrapper that preloads the injector; it
            # acts in worker processes only.
            wrapper = os.path.join(work, "dg-lose.sh")
            with open(wrapper, "w") as f:
                f.write(f'#!/bin/sh\nLD_PRELOAD="{lose}" exec "{dg}" "$@"\n')
            os.chmod(wrapper, 0o755)
            # Each loss costs its worker a consumer re-creation (seconds):
            # ten per worker, early in the stream.
            env.update(DG=wrapper, DG_TEST_LOSE="0.02", DG_TEST_LOSE_SEED="7", DG_TEST_LOSE_MAX="10")
            kills = []
        # Paced, so that both kills land mid-stream: with 64 events per
        # message the cluster would otherwise finish a file this small in a
        # few seconds, and the node kill stalls the cluster for seconds
        # (elections, timed-out API calls) while the publish goes on; at
        # 5,000/s the worker kill came after the last event in 2 of 6 runs.
        # The script's own deadline comes before ctest's timeout (600 s), so
        # that a hang is reported with how far the cluster got and every
        # node's log instead of a kill that prints nothing.
        run = subprocess.run([os.path.join(scripts, "cluster-scan.sh"), "--workers", "2", *kills,
                              "--rate", "2500", "--deadline", "360", events, out], env=env, capture_output=True,
                             text=True, timeout=540)
        sys.stderr.write(run.stderr)
        if run.returncode != 0:
            for name in sorted(os.listdir(os.path.join(out, "logs"))):
                with open(os.path.join(out, "logs", name)) as f:
                    sys.stderr.write(f"--- {name} (tail)\n" + "".join(f.readlines()[-15:]))
            print(f"FAIL: cluster-scan.sh exited {run.returncode}")
            return 1
        failures = []
        if lose:
            lost = 0
            for name in os.listdir(os.path.join(out, "logs")):
                if name.startswith("worker"):
                    with open(os.path.join(out, "logs", name)) as f:
                        lost += sum(1 for line in f if line.startswith("lose_deliveries: lost"))
            print(f"deliveries lost on their way to the workers: {lost}")
            if lost < 10:
                failures.append(f"only {lost} deliveries lost: the injector did not act (LD_PRELOAD?)")
        else:
            done = re.findall(r"killed (NATS node|worker 0).* at (\d+) applied", run.stderr)
            if sorted(k for k, _ in done) != ["NATS node", "worker 0"] or any(int(n) >= accepted for _, n in done):
                failures.append(f"the node and the worker were not both killed mid-stream: {done} of {accepted}")
        with open(os.path.join(out, "cluster_summary.json")) as f:
            summary = json.load(f)
        if not (summary["published"] == summary["applied"] == accepted):
            failures.append(f"events: scan accepted {accepted}, published {summary['published']}, "
                            f"applied {summary['applied']}")
        a, b = load_accounts(os.path.join(scan, "accounts.jsonl")), load_accounts(os.path.join(out, "accounts.jsonl"))
        if set(a) != set(b):
            failures.append(f"accounts: {len(set(a) ^ set(b))} seen by only one of scan and the cluster")
        counts = [k for k in a if k in b and a[k]["interactions"] != b[k]["interactions"]]
        if counts:
            failures.append(f"{len(counts)} accounts with another interaction count, e.g. {counts[0]}")
        agree = sum(1 for k in a if k in b and a[k]["verdict"] == b[k]["verdict"]
                    and a[k]["campaign_id"] == b[k]["campaign_id"])
        share = agree / max(len(a), 1)
        if share < 0.999:
            failures.append(f"verdicts agree on {share:.4%} of accounts (< 99.9%)")
        figures = []
        for accounts in (os.path.join(scan, "accounts.jsonl"), os.path.join(out, "accounts.jsonl")):
            ev = subprocess.run([dg, "eval", "--labels", labels, "--accounts", accounts, "--json"], check=True,
                                capture_output=True, text=True)
            figures.append(json.loads(ev.stdout))
        for key in ("recall", "fpr", "leakage", "legit_interactions_blocked", "purity"):
            if abs(figures[0][key] - figures[1][key]) > 0.001:
                failures.append(f"eval {key}: scan {figures[0][key]:.6f}, cluster {figures[1][key]:.6f}")
        with open(os.path.join(scan, "campaigns.jsonl")) as f1, open(os.path.join(out, "campaigns.jsonl")) as f2:
            if f1.read() != f2.read():
                failures.append("campaigns.jsonl differs from scan --no-samples'")
        # Prompt text is kept in the cluster only until digested: the workers
        # (the replacement too) erase what they acknowledged.
        with open(os.path.join(out, "events_left")) as f:
            left = f.read().strip()

        if left != "0":
            failures.append(f"DG_EVENTS still holds {left} event messages (prompt text) after every event was applied")
        print(f"accounts {len(a)}, verdicts agree {share:.4%}, events {accepted} published {summary['published']} "
              f"applied {summary['applied']} (duplicate deliveries dropped {summary['duplicates_dropped']}), "
              f"recall {figures[1]['recall']:.4f} fpr {figures[1]['fpr']:.4f}")
        for f in failures:
            print("FAIL:", f)
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
