#!/usr/bin/env python3
"""Correlator restart time with and without an engine snapshot (BENCHMARKS.md,
"Engine snapshots").

One nats-server (R=1) on a free loopback port, one worker; EVENTS published
and digested first. Then, RUNS times each, timed from process start to exit
of a correlator with --until-done:
  replay   --no-resume: the engine rebuilt from the whole digest stream
  resume   from a snapshot taken at --at (share of the log; a correlator that
           snapshots at that point and is then killed with SIGKILL), the rest
           replayed
Every run's accounts.jsonl must equal the first replay's. Prints each run,
the medians, and the snapshot's size and save time from /metrics.

usage: correlator_restart.py DISTILLGUARD EVENTS [--runs 3] [--at 0.5] [--partitions 4]
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "cluster"))
from natstest import start_nats, stop_all, wait_port_file  # noqa: E402


def metric(port, name):
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return next((float(l.split()[1]) for l in body.splitlines() if l.startswith(name + " ")), None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dg")
    ap.add_argument("events")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--at", type=float, default=0.5)
    ap.add_argument("--partitions", type=int, default=4)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dg-restart-bench.")
    procs = []
    try:
        port = start_nats(work, procs)
        common = ["--nats", f"nats://127.0.0.1:{port}", "--replicas", "1", "--partitions", str(a.partitions)]
        wpf = os.path.join(work, "w.port")
        worker = subprocess.Popen([a.dg, "worker", *common, "--listen", "127.0.0.1:0", "--port-file", wpf],
                                  stderr=subprocess.DEVNULL)
        procs.append(worker)
        wport = wait_port_file(wpf, worker)
        pub = subprocess.run([a.dg, "publish", *common, a.events], check=True, capture_output=True, text=True)
        published = int(pub.stdout.split("published: ")[1].split()[0])
        while (metric(wport, "dg_worker_events_total") or 0) < published:
            time.sleep(0.2)
        print(f"{published} events published and digested", flush=True)
        reference = None
        times = {"replay": [], "resume": []}
        snap = {}
        for run in range(a.runs):
            for mode in ("replay", "resume"):
                if mode == "resume":
                    # A correlator that snapshots at --at of the log, killed after it.
                    cpf = os.path.join(work, f"c{run}.port")
                    every = max(1, int(published * a.at))
                    c = subprocess.Popen([a.dg, "correlator", *common, "--no-resume", "--snapshot-every", "0",
                                          "--snapshot-every-events", str(every), "--listen", "127.0.0.1:0",
                                          "--port-file", cpf], stderr=subprocess.DEVNULL)
                    cport = wait_port_file(cpf, c)
                    while (metric(cport, "dg_correlator_snapshots_total") or 0) < 1:
                        time.sleep(0.05)
                    snap = {k: metric(cport, f"dg_correlator_snapshot_{k}") for k in ("bytes", "seconds")}
                    os.kill(c.pid, signal.SIGKILL)
                    c.wait()
                out = os.path.join(work, f"{mode}{run}")
                os.makedirs(out)
                flags = ["--no-resume"] if mode == "replay" else []
                t0 = time.time()
                r = subprocess.run([a.dg, "correlator", *common, *flags, "--snapshot-every", "0", "--until-done",
                                    "--out", out], capture_output=True, text=True)
                dt = time.time() - t0
                if r.returncode != 0:
                    print(f"{mode}: correlator failed: {r.stderr[-500:]}")
                    return 1
                accounts = open(os.path.join(out, "accounts.jsonl")).read()
                if reference is None:
                    reference = accounts
                elif accounts != reference:
                    print(f"{mode} run {run}: accounts.jsonl differs from the first replay's")
                    return 1
                resumed = next((l for l in r.stderr.splitlines() if "resumed from" in l), "")
                times[mode].append(dt)
                print(f"run {run} {mode}: {dt:.2f}s {resumed}", flush=True)
        for mode, ts in times.items():
            print(f"{mode}: " + " · ".join(f"{t:.2f}" for t in ts) + f"  median {statistics.median(ts):.2f}s")
        print(f"snapshot at {a.at:.0%}: {snap.get('bytes', 0):.0f} bytes, saved and stored in {snap.get('seconds', 0):.2f}s"
              f"; median ratio resume/replay {statistics.median(times['resume']) / statistics.median(times['replay']):.2f}")
        return 0
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
