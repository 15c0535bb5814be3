#!/usr/bin/env python3
"""Malformed batches are counted and skipped; a re-run's batches are dropped.

A real nats-server (one node, R=1), a worker and a correlator. Before the log
is published, foreign bytes are put on the streams' subjects with a plain
NATS publish (anyone on the bus can): on dg.events.0 a message that is no
batch, two torn batches, a batch with a zero count, a batch whose count exceeds
its bytes, and a well-formed batch holding a record that is no event; on
dg.digests.1 a message that is no batch; and one published event damaged
after its header: the log is published from sequence number 1 and a
well-formed batch on dg.events.0 carries a record with an intact header for
sequence number 0 and a damaged body. Then:
  - the worker and the correlator keep running and finish the log, and
    accounts.jsonl equals scan's on the same file;
  - the worker counts 5 malformed messages and 2 malformed events on /metrics
    and says why on stderr; the correlator counts 1 malformed message;
  - the damaged event does not stall the correlator: the worker passes its
    sequence number on as skipped, and the correlator counts 1 skipped and
    finishes;
  - a re-run of the same publish from the same first sequence number (as
    after a publisher crash before it recorded its count) cuts the same
    batches with the same message ids, and the stream drops every one.

usage: malformed_test.py DISTILLGUARD     (exit 77: no nats-server)
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

from natstest import demo_and_scan, start_nats, stop_all, wait_port_file


def nats_publish(port, messages):
    """Plain NATS publishes (the wire protocol; no client library needed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        if not f.readline().startswith(b"INFO "):
            raise RuntimeError("not a NATS server")
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')
        for subject, payload in messages:
            s.sendall(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(payload), payload))
        s.sendall(b"PING\r\n")
        while True:
            line = f.readline()
            if line.startswith(b"PONG") or not line:
                break
            if line.startswith(b"-ERR"):
                raise RuntimeError(line.decode())


def batch(records, count=None):
    n = len(records) if count is None else count
    return bytes([0xB1]) + struct.pack("<I", n) + b"".join(struct.pack("<I", len(r)) + r for r in records)


def metric(port, name):
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return next((int(float(l.split()[1])) for l in body.splitlines() if l.startswith(name + " ")), None)


def main():
    dg = sys.argv[1]
    if shutil.which("nats-server") is None:
        print("nats-server not installed (scripts/install-deps.sh)")
        return 77
    work = tempfile.mkdtemp(prefix="dg-malformed-test.")
    procs = []
    failures = []
    try:
        events, scan = demo_and_scan(dg, work)
        port = start_nats(work, procs)
        common = ["--nats", f"nats://127.0.0.1:{port}", "--replicas", "1", "--partitions", "4"]
        out = os.path.join(work, "out")
        os.makedirs(out)
        wpf = os.path.join(work, "worker.port")
        werr = open(os.path.join(work, "worker.err"), "w")
        worker = subprocess.Popen([dg, "worker", *common, "--listen", "127.0.0.1:0", "--port-file", wpf], stderr=werr)
        procs.append(worker)
        wport = wait_port_file(wpf, worker)  # the streams exist once the worker listens
        good = batch([b"x" * 10, b"y"])
        nats_publish(port, [
            ("dg.events.0", b"not a batch"),
            ("dg.events.0", good[:-1]),                       # the last record claims more than is left
            ("dg.events.0", good[:-3]),                       # torn inside the last record's length
            ("dg.events.0", batch([b"r"], count=0)),          # zero records
            ("dg.events.0", batch([b"r"], count=4096)),       # more records than bytes
            ("dg.events.0", batch([b"no event record"])),     # framed, but no event inside
            # sequence number 0 with an intact header and a damaged body
            ("dg.events.0", batch([bytes([1]) + struct.pack("<Q", 0) + b"damaged"])),
            ("dg.digests.1", b"not a batch either"),
            ("$KV.dg_meta.published", b"1"),                  # the log follows sequence number 0
        ])
        first = subprocess.run([dg, "publish", *common, events], check=True, capture_output=True, text=True, timeout=300)
        # Started after the publish: before it, dg_meta/published says 1 (the
        # damaged event alone), and a correlator would be done at once.
        correlator = subprocess.Popen([dg, "correlator", *common, "--until-done", "--out", out],
                                      stderr=subprocess.PIPE, text=True)
        procs.append(correlator)
        try:
            _, cerr = correlator.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            print("FAIL: the correlator did not finish the log")
            return 1
        if correlator.returncode != 0:
            print("FAIL: correlator exited", correlator.returncode, cerr[-2000:])
            return 1
        with open(os.path.join(scan, "accounts.jsonl")) as a, open(os.path.join(out, "accounts.jsonl")) as b:
            if a.read() != b.read():
                failures.append("accounts.jsonl differs from scan's")
        with open(os.path.join(out, "cluster_summary.json")) as f:
            summary = json.load(f)
        if summary["bad_batches"] != 1:
            failures.append(f"correlator: {summary['bad_batches']} malformed messages counted, expected 1")
        if summary["skipped"] != 1 or summary["applied"] != summary["published"]:
            failures.append(f"correlator: {summary['skipped']} skipped (expected 1), applied {summary['applied']} of "
                            f"{summary['published']}")
        if "digest stream sequence" not in cerr or "version byte" not in cerr:
            failures.append(f"correlator stderr does not report the malformed message: {cerr[-500:]!r}")
        deadline = time.time() + 30
        while metric(wport, "dg_worker_bad_batches_total") != 5 and time.time() < deadline:
            time.sleep(0.1)
        bad_batches, bad_records = metric(wport, "dg_worker_bad_batches_total"), metric(wport, "dg_worker_bad_records_total")
        if (bad_batches, bad_records) != (5, 2):
            failures.append(f"worker counted {bad_batches} malformed messages and {bad_records} malformed events, "
                            "expected 5 and 2")
        if worker.poll() is not None:
            failures.append(f"the worker exited ({worker.returncode})")
        werr.flush()
        wtext = open(os.path.join(work, "worker.err")).read()
        for reason in ("version byte", "claims", "torn length", "0 records", "cannot fit", "undecodable event record",
                       "sequence number 0 passed on as skipped"):
            if reason not in wtext:
                failures.append(f"worker stderr does not say {reason!r}")
        # A re-run from the same first sequence number: the same batches, the
        # same message ids, every one dropped by the stream's de-duplication.
        nats_publish(port, [("$KV.dg_meta.published", b"1")])
        again = subprocess.run([dg, "publish", *common, events], check=True, capture_output=True, text=True, timeout=300)
        pat = re.compile(r"published: (\d+) events \(sequence (\d+)\.\.\d+\) in (\d+) messages, \d+ resent, (\d+) dropped")
        m1, m2 = pat.search(first.stdout), pat.search(again.stdout)
        if not m1 or not m2:
            failures.append(f"publish output: {first.stdout[-300:]!r} / {again.stdout[-300:]!r}")
        else:
            events1, seq1, msgs1, _ = map(int, m1.groups())
            events2, seq2, msgs2, dropped2 = map(int, m2.groups())
            if seq2 != seq1 or msgs2 != msgs1 or dropped2 != msgs2 or msgs1 >= events1:
                failures.append(f"re-run: sequence {seq2} (first run {seq1}), {msgs2} messages (first run {msgs1} "
                                f"for {events1} events), {dropped2} dropped as duplicates (expected all)")
            print(f"{events1} events in {msgs1} messages; re-run: {dropped2} of {msgs2} dropped by the stream; "
                  f"worker: {bad_batches} malformed messages, {bad_records} malformed events; correlator: "
                  f"{summary['bad_batches']} malformed messages, {summary['skipped']} skipped event")
        for f in failures:
            print("FAIL:", f)
        return 1 if failures else 0
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
