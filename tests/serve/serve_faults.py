#!/usr/bin/env python3
"""distillguard serve under faults, with the real binary: a full disk (the
store's size cap, which fails exactly like a full disk: SQLITE_FULL), a torn
write-ahead-log tail after a crash, a client that disconnects mid-body,
SIGTERM in the middle of a batch, and an unusable data directory. In each
case the service must say what is wrong, keep answering decisions, lose no
acknowledged event, and recover.

Usage: serve_faults.py DISTILLGUARD_BINARY
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dgtest  # noqa: E402
from dgtest import FAILS, check  # noqa: E402
BIN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="dg_serve_faults_")


class Server(dgtest.Server):
    def __init__(self, data, extra=()):
        super().__init__(BIN, WORK, data, extra)

    def post(self, path, body, timeout=60):
        st, parsed, _ = self.request("POST", path, body, timeout=timeout)
        return st, parsed

    def get(self, path):
        st, parsed, _ = self.request("GET", path)
        return st, parsed


def resend_all(s, acked):
    dup = acc = 0
    for i in range(0, len(acked), 5000):
        st, body = s.post("/v1/events", "\n".join(acked[i:i + 5000]) + "\n")
        dup += body.get("duplicates", 0)
        acc += body.get("accepted", 0)
    return dup, acc


def main():
    sim = os.path.join(WORK, "sim")
    subprocess.run([BIN, "simulate", "--scenario", "demo", "--seed", "3", "--out", sim], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lines = open(os.path.join(sim, "events.jsonl")).read().splitlines()

    # 1. Disk full: the store refuses, the service says so, nothing is acked
    # that is not stored, decisions go on, and it recovers with room again.
    data = os.path.join(WORK, "full")
    s = Server(data, ["--max-store-bytes", "400000"])
    acked, refused, pos = [], None, 0
    while pos < len(lines):
        chunk = lines[pos:pos + 300]
        st, body = s.post("/v1/events", "\n".join(chunk) + "\n")
        if st != 200:
            refused = (st, body)
            break
        acked.extend(chunk)
        pos += 300
    check(refused is not None and refused[0] == 503 and "disk is full" in refused[1]["error"],
          "disk full: 503 saying the disk is full")
    st, body = s.post("/v1/check", json.dumps({"account_id": "anyone"}))
    check(st == 200 and body["decision"] == "allow", "disk full: decisions are still answered")
    check((s.metric("distillguard_store_failures_total") or 0) >= 1, "disk full: counted in /metrics")
    check(s.stop() == 0, "disk full: clean stop")
    s = Server(data)  # room again
    dup, acc = resend_all(s, acked)
    check(dup == len(acked) and acc == 0, f"disk full: all {len(acked)} acknowledged events kept")
    st, body = s.post("/v1/events", "\n".join(lines[pos:pos + 300]) + "\n")
    check(st == 200 and body["accepted"] == len(lines[pos:pos + 300]), "disk full: ingest recovers once there is room")
    acked.extend(lines[pos:pos + 300])
    pos += 300

    # 2. A torn write-ahead-log tail (a crash in the middle of a write).
    s.proc.kill()
    s.proc.wait()
    wal = os.path.join(data, "distillguard.db-wal")
    with open(wal, "ab") as f:
        f.write(os.urandom(3000))
    s = Server(data)
    dup, acc = resend_all(s, acked)
    check(dup == len(acked) and acc == 0, "torn log tail after a crash: restarts, every acknowledged event kept")

    # 3. A client that disconnects in the middle of its body.
    before = s.metric("distillguard_events_accepted_total")
    sock = socket.create_connection(("127.0.0.1", s.port))
    body = ("\n".join(lines[pos:pos + 200]) + "\n").encode()
    sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:len(body) // 2])
    sock.close()
    time.sleep(0.5)
    check(s.get("/healthz")[0] == 200, "client gone mid-body: the service carries on")
    check(s.metric("distillguard_events_accepted_total") == before, "client gone mid-body: nothing half-ingested")

    # 4. SIGTERM while a large batch is in flight: it is either acknowledged
    # and stored whole, or not acknowledged; never half stored.
    batch = lines[pos:pos + 20000]
    result = {}

    def send():
        try:
            result["reply"] = s.post("/v1/events", "\n".join(batch) + "\n", timeout=120)
        except Exception as e:  # connection closed by the stopping server
            result["error"] = repr(e)

    t = threading.Thread(target=send)
    t.start()
    time.sleep(0.05)
    rc = s.stop()
    t.join()
    check(rc == 0, f"SIGTERM during a batch: clean exit ({rc})")
    s = Server(data)
    dup, acc = resend_all(s, batch)
    if "reply" in result and result["reply"][0] == 200:
        check(dup == len(batch), f"SIGTERM during a batch: acknowledged ({len(batch)} events) and all stored")
    else:
        check(dup in (0, len(batch)), f"SIGTERM during a batch: not acknowledged, stored whole or not at all ({dup})")
    s.stop()

    # 5. The data directory turns read-only under a running service (chattr
    # +i: honoured even for root, unlike permissions): ingest answers 503
    # and acknowledges nothing, decisions go on, and it recovers.
    ro = os.path.join(WORK, "ro")
    s = Server(ro)
    st, body = s.post("/v1/events", "\n".join(lines[:500]) + "\n")
    ro_acked = lines[:500] if st == 200 else []
    # The directory and the database files; not the -shm file, which SQLite
    # memory-maps (an unwritable mapping is a SIGBUS: docs/RELIABILITY.md).
    files = [ro] + [os.path.join(ro, f) for f in os.listdir(ro) if not f.endswith("-shm")]
    if subprocess.run(["chattr", "+i", *files], capture_output=True).returncode != 0:
        print("skip read-only data directory: chattr +i is not available here")
        s.stop()
    else:
        try:
            st, body = s.post("/v1/events", "\n".join(lines[500:800]) + "\n")
            check(st == 503 and "not stored" in body["error"], f"read-only data directory: 503, nothing acknowledged ({st})")
            st, body = s.post("/v1/check", json.dumps({"account_id": "anyone"}))
            check(st == 200, "read-only data directory: decisions are still answered")
        finally:
            subprocess.run(["chattr", "-i", *files], capture_output=True)
        st, body = s.post("/v1/events", "\n".join(lines[500:800]) + "\n")
        check(st == 200 and body["accepted"] == 300, "read-only data directory: ingest recovers once writable")
        ro_acked += lines[500:800]
        s.stop()
        s = Server(ro)
        dup, acc = resend_all(s, ro_acked)
        check(dup == len(ro_acked) and acc == 0, "read-only data directory: every acknowledged event kept")
        s.stop()

    # 6. A data directory that cannot be used: a clear error, exit 1.
    r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", "/proc/distillguard-data"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "/proc/distillguard-data" in r.stderr, f"unusable data directory: exit 1 naming it")
    blocker = os.path.join(WORK, "a-file")
    open(blocker, "w").write("not a directory")
    r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", blocker], capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "a-file" in r.stderr, "data path that is a file: exit 1 naming it")


dgtest.run(main, WORK, "fault")
