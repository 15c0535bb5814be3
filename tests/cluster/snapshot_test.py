#!/usr/bin/env python3
"""A correlator killed after a snapshot resumes from it; a bad snapshot means a full replay.

A real nats-server (one node, R=1), a worker, the demo scenario published and
digested. Then:
  1. a correlator (no --until-done) that snapshots every third of the log is
     killed with SIGKILL once it has written a snapshot (no snapshot on the
     way out);
  2. a second correlator with --until-done says it resumed from the snapshot,
     replays only the digests after it (resumed_from in cluster_summary.json,
     0 < resumed_from < published), and its accounts.jsonl and
     campaigns.jsonl equal scan's on the same file;
  3. both snapshot slots' first chunk is overwritten with garbage (a plain
     NATS publish on the bucket's subjects): a third correlator says the
     snapshot is unusable, counts it (snapshot_load_errors), replays from the
     start (resumed_from 0) and still writes scan's accounts.jsonl.

usage: snapshot_test.py DISTILLGUARD     (exit 77: no nats-server)
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from malformed_test import metric, nats_publish
from natstest import demo_and_scan, start_nats, stop_all, wait_port_file


def read(path):
    with open(path) as f:
        return f.read()


def main():
    dg = sys.argv[1]
    if shutil.which("nats-server") is None:
        print("nats-server not installed (scripts/install-deps.sh)")
        return 77
    work = tempfile.mkdtemp(prefix="dg-snapshot-test.")
    procs = []
    failures = []
    try:
        events, scan = demo_and_scan(dg, work)
        port = start_nats(work, procs)
        common = ["--nats", f"nats://127.0.0.1:{port}", "--replicas", "1", "--partitions", "4"]
        wpf = os.path.join(work, "worker.port")
        worker = subprocess.Popen([dg, "worker", *common, "--listen", "127.0.0.1:0", "--port-file", wpf],
                                  stderr=subprocess.DEVNULL)
        procs.append(worker)
        wport = wait_port_file(wpf, worker)
        pub = subprocess.run([dg, "publish", *common, events], check=True, capture_output=True, text=True, timeout=300)
        published = int(pub.stdout.split("published: ")[1].split()[0])
        deadline = time.time() + 120
        while (metric(wport, "dg_worker_events_total") or 0) < published and time.time() < deadline:
            time.sleep(0.1)
        every = published // 3 + 1

        # 1. snapshots every third of the log; killed after the first.
        cpf = os.path.join(work, "c1.port")
        c1 = subprocess.Popen([dg, "correlator", *common, "--snapshot-every", "0", "--snapshot-every-events", str(every),
                               "--listen", "127.0.0.1:0", "--port-file", cpf], stderr=subprocess.DEVNULL)
        procs.append(c1)
        cport = wait_port_file(cpf, c1)
        deadline = time.time() + 120
        while (metric(cport, "dg_correlator_snapshots_total") or 0) < 1 and time.time() < deadline:
            time.sleep(0.02)
        snap_bytes = metric(cport, "dg_correlator_snapshot_bytes")
        applied_at_kill = metric(cport, "dg_correlator_applied_total")
        os.kill(c1.pid, signal.SIGKILL)
        c1.wait()
        if not snap_bytes:
            failures.append("the first correlator wrote no snapshot")

        # 2. resumed from the snapshot.
        out2 = os.path.join(work, "out2")
        os.makedirs(out2)
        c2 = subprocess.run([dg, "correlator", *common, "--snapshot-every", "0", "--until-done", "--out", out2],
                            capture_output=True, text=True, timeout=300)
        if c2.returncode != 0:
            failures.append(f"resumed correlator exited {c2.returncode}: {c2.stderr[-1000:]}")
        else:
            s2 = json.loads(read(os.path.join(out2, "cluster_summary.json")))
            if "resumed from snapshot gen" not in c2.stderr:
                failures.append(f"the second correlator does not say it resumed: {c2.stderr[-500:]!r}")
            if not 0 < s2["resumed_from"] < published:
                failures.append(f"resumed_from {s2['resumed_from']}, expected within (0, {published})")
            if s2["applied"] != published:
                failures.append(f"applied {s2['applied']} of {published}")
            for name in ("accounts.jsonl", "campaigns.jsonl"):
                if read(os.path.join(scan, name)) != read(os.path.join(out2, name)):
                    failures.append(f"resumed: {name} differs from scan's")
            print(f"{published} events; first correlator snapshot {snap_bytes} bytes, killed at {applied_at_kill} "
                  f"applied; resumed from {s2['resumed_from']}, replayed {published - s2['resumed_from']}")

        # 3. a corrupt snapshot: said, counted, full replay, same answers.
        nats_publish(port, [("$KV.dg_snapshots.s0.0", b"garbage"), ("$KV.dg_snapshots.s1.0", b"garbage")])
        out3 = os.path.join(work, "out3")
        os.makedirs(out3)
        c3 = subprocess.run([dg, "correlator", *common, "--snapshot-every", "0", "--until-done", "--out", out3],
                            capture_output=True, text=True, timeout=300)
        if c3.returncode != 0:
            failures.append(f"correlator after corruption exited {c3.returncode}: {c3.stderr[-1000:]}")
        else:
            s3 = json.loads(read(os.path.join(out3, "cluster_summary.json")))
            if "snapshot unusable" not in c3.stderr or "replaying" not in c3.stderr:
                failures.append(f"the third correlator does not report the bad snapshot: {c3.stderr[-500:]!r}")
            if s3["snapshot_load_errors"] != 1 or s3["resumed_from"] != 0:
                failures.append(f"after corruption: snapshot_load_errors {s3['snapshot_load_errors']}, resumed_from "
                                f"{s3['resumed_from']} (expected 1 and 0)")
            if read(os.path.join(scan, "accounts.jsonl")) != read(os.path.join(out3, "accounts.jsonl")):
                failures.append("after a full replay: accounts.jsonl differs from scan's")
            print("corrupt snapshot: " + next((l for l in c3.stderr.splitlines() if "unusable" in l), "?"))
        for f in failures:
            print("FAIL:", f)
        return 1 if failures else 0
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
