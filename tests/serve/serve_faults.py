#!/usr/bin/env python3
"""distillguard serve under faults, with the real binary: a full disk (the
store's size cap, which fails exactly like a full disk: SQLITE_FULL), a torn
write-ahead-log tail after a crash, a client that disconnects mid-body,
SIGTERM in the middle of a batch, and an unusable data directory. In each
case the service must say what is wrong, keep answering decisions, lose no
acknowledged event, and recover.

Connection abuse (issue #18, findings 2 and 3), all on 127.0.0.1 and bounded:
an unauthenticated 60 MB upload (401 before the body), stalled bodies on the
slow routes (ingest and analyst routes keep answering; the stalled
connections are closed after --body-timeout), idle connections closed after
--idle-timeout, more idle connections than the descriptor limit under
`ulimit -n 1024` (/v1/check and ingest keep answering, no accept spin), and
SIGTERM within its grace period with stalled clients still connected.

Usage: serve_faults.py DISTILLGUARD_BINARY
"""
import json
import os
import resource
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
    # PUT /v1/accounts answers by the error's code (common/status.h), not by
    # the message's text: the store's refusal is 503, a bad row 400.
    token = "faults-token-0123456789"
    a = dgtest.Server(BIN, WORK, os.path.join(WORK, "full-accounts"), ["--max-store-bytes", "100000"], token=token)
    accounts = "".join(json.dumps({"account_id": f"full-{i:05}", "org_id": f"org-{i}", "country": "DE",
                                   "email_domain": f"example-{i}.com"}) + "\n" for i in range(4000))
    st, body, _ = a.request("PUT", "/v1/accounts", accounts)
    check(st == 503 and "accounts" in str(body), f"store full: PUT /v1/accounts is 503 ({st} {str(body)[:200]})")
    st, body, _ = a.request("PUT", "/v1/accounts", '{"account_id":"x","org_verified":"maybe"}\n')
    check(st == 400 and "request:1: column 'org_verified'" in str(body),
          f"store full: a bad account row is still 400, naming line and column ({st} {body})")
    check(a.stop() == 0, "store full: clean stop")
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

    connection_abuse(lines)


def raw(port, data=b"", timeout=10):
    """A raw connection to 127.0.0.1:port that sent `data`."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if data:
        sock.sendall(data)
    return sock


def read_reply(sock, timeout):
    """What the server sends until it closes or `timeout` passes: (bytes, closed)."""
    sock.settimeout(0.2)
    got, deadline = b"", time.time() + timeout
    while time.time() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return got, True
        if not chunk:
            return got, True
        got += chunk
    return got, False


def status_of(reply):
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connection_abuse(lines):
    token = "faults-token"
    body_timeout, idle_timeout = 2, 3

    # 7. Auth on the header: an unauthenticated 60 MB upload is refused
    # before any of its body is read.
    s = dgtest.Server(BIN, WORK, os.path.join(WORK, "abuse"),
                      ["--body-timeout", str(body_timeout), "--idle-timeout", str(idle_timeout)], token=token)
    sock = raw(s.port, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 60000000\r\n\r\n" + b"x" * 1000)
    t0 = time.time()
    reply, closed = read_reply(sock, 5)
    sock.close()
    check(status_of(reply) == 401 and closed and time.time() - t0 < 4,
          f"unauthenticated 60 MB upload: 401 before the body is read, connection closed ({reply[:40]!r})")

    # 8. Stalled bodies on the slow routes: two connections (more than the
    # two workers) send a header with Content-Length: 1000 and no body.
    auth = f"Authorization: Bearer {token}\r\n".encode()
    stalled = [raw(s.port, b"POST /v1/events HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 1000\r\n\r\n")
               for _ in range(3)]
    stalled.append(raw(s.port, b"POST /v1/accounts/a/override HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 1000\r\n\r\n"))
    time.sleep(0.3)
    t0 = time.time()
    try:
        st, body, _ = s.request("POST", "/v1/events", "\n".join(lines[:50]) + "\n", timeout=10)
        check(st == 200 and body["accepted"] == 50 and time.time() - t0 < 5,
              f"stalled uploads: ingest still answers ({st}, {time.time() - t0:.2f} s)")
    except Exception as e:
        check(False, f"stalled uploads: ingest still answers ({e!r})")
    try:
        st, _, _ = s.request("GET", "/v1/campaigns", timeout=10)
        check(st == 200, f"stalled uploads: analyst routes still answer ({st})")
    except Exception as e:
        check(False, f"stalled uploads: analyst routes still answer ({e!r})")
    # The stalled connections are closed once the body deadline passes.
    t0 = time.time()
    closed_all = all(read_reply(c, body_timeout + 8)[1] for c in stalled)
    check(closed_all and time.time() - t0 < body_timeout + 8,
          f"stalled uploads: closed after the {body_timeout} s body deadline ({time.time() - t0:.1f} s)")
    for c in stalled:
        c.close()

    # 9. An idle connection (and a slowloris header) is closed after --idle-timeout.
    idle = raw(s.port)
    slow = raw(s.port, b"POST /v1/check HTTP/1.1\r\nHost: x\r\n")
    t0 = time.time()
    idle_closed = read_reply(idle, idle_timeout + 8)[1]
    slow_closed = read_reply(slow, idle_timeout + 8)[1]
    check(idle_closed and slow_closed and time.time() - t0 < idle_timeout + 8,
          f"idle and half-sent-header connections closed after the {idle_timeout} s idle timeout")
    check((s.metric("distillguard_connections_timed_out_total") or 0) >= 6,
          "deadlines: the closed connections are counted in /metrics")
    idle.close()
    slow.close()

    # 10. SIGTERM with stalled clients connected exits within its grace period.
    hold = [raw(s.port, b"POST /v1/events HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 1000\r\n\r\n")
            for _ in range(3)] + [raw(s.port) for _ in range(3)]
    time.sleep(0.3)
    t0 = time.time()
    s.proc.send_signal(signal.SIGTERM)
    try:
        rc = s.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        s.proc.kill()
        rc = "hung"
    check(rc == 0 and time.time() - t0 < 12, f"SIGTERM with stalled clients: exits within the grace period ({rc}, {time.time() - t0:.1f} s)")
    for c in hold:
        c.close()

    # 11. More idle connections than the descriptor limit (ulimit -n 1024):
    # new /v1/check connections still get answered, ingest too, and the
    # accept loop does not spin.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit, n_idle = 1024, 1100
    if hard != resource.RLIM_INFINITY and hard < n_idle + 200:
        # This process may not open 1,100 sockets: the same shape, scaled
        # down (the server's limit below what the flood needs).
        limit = max(128, (hard - 100) // 2)
        n_idle = limit + 76
        print(f"descriptor flood scaled to this machine's hard limit {hard}: ulimit -n {limit}, {n_idle} idle connections")
    if hard == resource.RLIM_INFINITY or hard >= n_idle + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n_idle + 200), hard))
    else:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def limit_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    s = dgtest.Server(BIN, WORK, os.path.join(WORK, "flood"), ["--idle-timeout", "120"], token=token, preexec_fn=limit_fds)
    flood = []
    try:
        for _ in range(n_idle):
            flood.append(socket.create_connection(("127.0.0.1", s.port), timeout=10))
    except OSError as e:
        check(False, f"descriptor flood: opening {n_idle} connections ({len(flood)} opened: {e!r})")
    time.sleep(1.0)
    cpu0, t0 = cpu_seconds(s.proc.pid), time.time()
    answered = 0
    for i in range(5):
        try:
            st, body, _ = s.request("POST", "/v1/check", json.dumps({"account_id": f"acct{i}"}), timeout=10)
            answered += st == 200 and body["decision"] == "allow"
        except Exception as e:
            print(f"  check {i}: {e!r}")
    check(answered == 5, f"{n_idle} idle connections under ulimit -n {limit}: new /v1/check connections answered ({answered}/5)")
    try:
        st, body, _ = s.request("POST", "/v1/events", "\n".join(lines[:20]) + "\n", timeout=10)
        check(st == 200 and body["accepted"] == 20, f"{n_idle} idle connections: ingest answers ({st})")
    except Exception as e:
        check(False, f"{n_idle} idle connections: ingest answers ({e!r})")
    time.sleep(2.0)
    busy = (cpu_seconds(s.proc.pid) - cpu0) / (time.time() - t0)
    check(busy < 0.5, f"{n_idle} idle connections: no accept spin ({busy:.0%} of a core)")
    shed = s.metric("distillguard_connections_shed_total") or 0
    check(shed >= 1, f"{n_idle} idle connections: the longest-idle ones were shed ({shed:.0f})")
    t0 = time.time()
    rc = s.stop()
    check(rc == 0 and time.time() - t0 < 12, f"{n_idle} idle connections: SIGTERM exits promptly ({rc})")
    for c in flood:
        c.close()


dgtest.run(main, WORK, "fault")
