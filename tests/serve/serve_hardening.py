#!/usr/bin/env python3
"""distillguard serve against a hostile client, partner or co-tenant (issue
#18, serve side), with the real binary on 127.0.0.1, port 0: separate gateway
and analyst tokens, no token on a non-loopback address, one serve per data
directory, the proxy-appended X-Forwarded-For entry and IPv4-mapped
addresses, percent-decoded path ids, decisions without detector internals
for the gateway and the end client, Bearer in any case, 431/400 answers to
protocol errors, Expect: 100-continue, /readyz while ingest fails, control
characters kept out of the log, retention, and a zero-length database.

Usage: serve_hardening.py DISTILLGUARD_BINARY
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dgtest  # noqa: E402
from dgtest import check  # noqa: E402

BIN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="dg_serve_hard_")
GATEWAY, ANALYST = "gw-" + str(os.getpid()), "an-" + str(os.getpid())
BUNDLE_ID = "0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b"
BUNDLE = {"type": "bundle", "id": "bundle--" + BUNDLE_ID, "objects": [{
    "type": "indicator", "spec_version": "2.1", "id": "indicator--" + BUNDLE_ID,
    "created": "2026-11-01T00:00:00Z", "modified": "2026-11-01T00:00:00Z",
    "pattern": "[ipv4-addr:value = '203.0.113.0/24']", "pattern_type": "stix",
    "valid_from": "2026-11-01T00:00:00Z"}]}
INTERNALS = ("campaign_id", "score", "reasons")


def token_file(name, value):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(value + "\n")
    return path


def event(n, account="acct", ip="198.51.100.7", ts=None):
    return json.dumps({"ts": ts if ts is not None else 1775001600 + n, "request_id": f"{account}-{n}", "account_id": account,
                       "ip": ip, "messages": [{"role": "user", "content": f"hello {n}"}]})


def raw_exchange(port, data, timeout=5):
    """Sends raw bytes, returns what comes back until close or timeout."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(data)
    got, deadline = b"", time.time() + timeout
    sock.settimeout(0.2)
    while time.time() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        got += chunk
    sock.close()
    return got


def roles_and_bodies():
    gw, an = token_file("gateway.token", GATEWAY), token_file("analyst.token", ANALYST)
    data = os.path.join(WORK, "roles")
    s = dgtest.Server(BIN, WORK, data, ["--gateway-token-file", gw, "--analyst-token-file", an])

    # Finding 10: the gateway's token does not administer.
    st, body, _ = s.request("POST", "/v1/events", event(1) + "\n", token=GATEWAY)
    check(st == 200 and body["accepted"] == 1, f"gateway token: /v1/events accepted ({st})")
    st, body, _ = s.request("POST", "/v1/check", json.dumps({"account_id": "acct"}), token=GATEWAY)
    check(st == 200, f"gateway token: /v1/check answered ({st})")
    st, body, _ = s.request("POST", "/v1/accounts/acct/override", json.dumps({"action": "allow", "by": "x", "reason": "y"}),
                            token=GATEWAY)
    check(st == 403 and "analyst" in body["error"], f"gateway token: override refused 403 ({st})")
    st, body, _ = s.request("POST", "/v1/indicators", json.dumps(BUNDLE), token=GATEWAY)
    check(st == 403, f"gateway token: indicator import refused 403 ({st})")
    check(s.request("GET", "/v1/campaigns", token=GATEWAY)[0] == 403, "gateway token: analyst reads refused 403")
    check(s.request("GET", "/v1/campaigns", token="wrong")[0] == 401, "wrong token: 401")
    st, body, _ = s.request("POST", "/v1/indicators?trust=block", json.dumps(BUNDLE), token=ANALYST)
    check(st == 200 and body["imported"] == 1, f"analyst token: indicator import ({st})")
    check(s.request("GET", "/v1/campaigns", token=ANALYST)[0] == 200, "analyst token: analyst reads")

    # Finding 16: "bearer" in any case.
    st, _, _ = s.request("POST", "/v1/check", json.dumps({"account_id": "acct"}), token=None,
                         headers={"Authorization": "bearer " + GATEWAY})
    check(st == 200, f"lowercase 'bearer' accepted ({st})")

    # Finding 5: the address our proxy appended decides, not the client-written one.
    st, body, resp = s.request("GET", "/v1/authz/v1/messages", token=GATEWAY,
                               headers={"x-account-id": "fresh-1", "x-forwarded-for": "198.51.100.5, 203.0.113.9"})
    check(st == 403, f"ext_authz: a forged leftmost X-Forwarded-For does not hide the real (blocked) address ({st})")
    st, body, resp = s.request("GET", "/v1/authz/v1/messages", token=GATEWAY,
                               headers={"x-account-id": "fresh-2", "x-forwarded-for": "203.0.113.9, 198.51.100.5"})
    check(st == 200, f"ext_authz: a client-written blocked address does not block ({st})")
    st, body, resp = s.request("GET", "/v1/authz/v1/messages", token=GATEWAY,
                               headers={"x-account-id": "fresh-3", "x-forwarded-for": "::ffff:203.0.113.9"})
    check(st == 403, f"ext_authz: ::ffff:203.0.113.9 is 203.0.113.9 ({st})")
    # Finding 16: the end client sees a decision and a reason code, no internals.
    check(body is not None and body.get("decision") == "block" and body.get("reason") == "access_denied"
          and not any(k in body for k in INTERNALS) and resp.getheader("x-distillguard-campaign") is None,
          f"ext_authz 403 body has no detector internals ({body})")
    st, body, _ = s.request("POST", "/v1/check", json.dumps({"account_id": "fresh-4", "ip": "::ffff:203.0.113.9"}), token=GATEWAY)
    check(st == 200 and body["decision"] == "block", f"/v1/check: ::ffff:203.0.113.9 is 203.0.113.9 ({body})")
    check(not any(k in body for k in INTERNALS) and body.get("reason") == "access_denied",
          f"/v1/check for the gateway role: no detector internals ({body})")
    st, body, _ = s.request("POST", "/v1/check", json.dumps({"account_id": "fresh-4", "ip": "203.0.113.9"}), token=ANALYST)
    check(st == 200 and "shared_indicator" in body.get("reasons", []), f"/v1/check for the analyst role: with reasons ({body})")

    # Finding 12: path ids are percent-decoded; a bad escape is a 400.
    st, body, _ = s.request("POST", "/v1/accounts/bob%20smith/override",
                            json.dumps({"action": "block", "by": "alice", "reason": "test"}), token=ANALYST)
    check(st == 200 and body["account_id"] == "bob smith", f"override on bob%20smith applies to 'bob smith' ({body})")
    s.request("POST", "/v1/events", event(1, account="bob smith") + "\n", token=GATEWAY)
    st, body, _ = s.request("POST", "/v1/check", json.dumps({"account_id": "bob smith"}), token=GATEWAY)
    check(body["decision"] == "block", f"the block on bob%20smith holds for 'bob smith' ({body})")
    # A block on an account that has sent nothing yet applies at once.
    s.request("POST", "/v1/accounts/not-seen-yet/override", json.dumps({"action": "block", "by": "alice", "reason": "fraud"}),
              token=ANALYST)
    st, body, _ = s.request("POST", "/v1/check", json.dumps({"account_id": "not-seen-yet"}), token=GATEWAY)
    check(body["decision"] == "block", f"a block on an account not seen yet applies before its first event ({body})")
    st, body, _ = s.request("GET", "/v1/accounts/bob%2", token=ANALYST)
    check(st == 400 and "percent" in body["error"], f"bad percent-escape: 400 ({st})")

    # Finding 16: protocol errors are answered, not just closed.
    reply = raw_exchange(s.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    check(reply.startswith(b"HTTP/1.1 431") and b'"error"' in reply, f"header over 16 KiB: 431 with a JSON error ({reply[:20]!r})")
    reply = raw_exchange(s.port, b"GARBAGE\x01 / HTTP/1.1\r\n\r\n")
    check(reply.startswith(b"HTTP/1.1 400") and b'"error"' in reply, f"malformed request line: 400 with a JSON error ({reply[:20]!r})")

    # Finding 16: Expect: 100-continue is answered before the body is sent.
    body = (event(2) + "\n").encode()
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + GATEWAY.encode() +
                 f"\r\nExpect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    try:
        first = sock.recv(100)
    except socket.timeout:
        first = b""
    check(first.startswith(b"HTTP/1.1 100"), f"Expect: 100-continue answered with 100 before the body ({first[:20]!r})")
    sock.sendall(body)
    rest = sock.recv(4096)
    check(b" 200 " in first + rest, "Expect: 100-continue: the body then gets its 200")
    sock.close()
    # An unauthenticated Expect gets its 401 instead of a 100.
    reply = raw_exchange(s.port, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 50000000\r\n\r\n")
    check(reply.startswith(b"HTTP/1.1 401"), f"unauthenticated Expect: 401, no 100 ({reply[:20]!r})")

    # Finding 11: a second serve on the same directory is refused.
    r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", data], capture_output=True, text=True, timeout=60)
    check(r.returncode == 1 and "in use by another distillguard serve" in r.stderr and str(s.proc.pid) in r.stderr,
          f"second serve on the same data directory: refused naming the first ({r.returncode}: {r.stderr.strip()[-160:]})")
    bundle = os.path.join(WORK, "bundle.json")
    with open(bundle, "w") as f:
        json.dump(BUNDLE, f)
    r = subprocess.run([BIN, "import", "--stix", bundle, "--data", data], capture_output=True, text=True, timeout=60)
    check(r.returncode == 1 and "POST /v1/indicators" in r.stderr,
          f"import into a running serve's directory: refused, pointing to the API ({r.returncode})")
    check(s.stop() == 0, "roles: clean stop")
    s = dgtest.Server(BIN, WORK, data, ["--token-file", gw])
    check(s.request("GET", "/v1/campaigns", token=GATEWAY)[0] == 200, "restart after the first stopped: the lock is free; "
          "--token-file is one token for every role")
    s.stop()


def no_token():
    # Finding 10: no token on a non-loopback address is refused unless --insecure.
    data = os.path.join(WORK, "open")
    r = subprocess.run([BIN, "serve", "--listen", "0.0.0.0:0", "--data", data], capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if k != "DISTILLGUARD_TOKEN"})
    check(r.returncode == 2 and "--insecure" in r.stderr, f"no token on 0.0.0.0: refused, naming --insecure ({r.returncode})")
    s = dgtest.Server(BIN, WORK, data, ["--insecure"])  # listens on 127.0.0.1 here; the flag is accepted
    check(s.request("GET", "/healthz")[0] == 200, "--insecure is accepted")
    s.stop()


def store_faults():
    # Finding 16: /readyz says not ready while ingest answers 503.
    data = os.path.join(WORK, "full")
    s = dgtest.Server(BIN, WORK, data, ["--max-store-bytes", "200000"], token=GATEWAY)
    check(s.request("GET", "/readyz")[0] == 200, "readyz: ready at start")
    st, n = 200, 0
    while st == 200 and n < 200:
        st, _, _ = s.request("POST", "/v1/events", "\n".join(event(n * 500 + i) for i in range(500)) + "\n")
        n += 1
    check(st == 503, f"a full store: ingest answers 503 ({st})")
    st, body, _ = s.request("GET", "/readyz")
    check(st == 503 and "store" in body["error"], f"readyz: not ready while ingest answers 503 ({st} {body})")
    s.stop()
    s = dgtest.Server(BIN, WORK, data, token=GATEWAY)  # room again (no cap)
    check(s.request("GET", "/readyz")[0] == 200, "readyz: ready again once the store takes writes")

    # Finding 16: control characters from request fields never reach the log raw.
    follow = os.path.join(WORK, "gateway.log")
    with open(follow, "w") as f:
        f.write(json.dumps({"ts": "\x1b[2J\x1b[31mFAKE serve: all good\r", "request_id": "x", "account_id": "a"}) + "\n")
    s.stop()
    s = dgtest.Server(BIN, WORK, data, ["--follow", follow], token=GATEWAY)
    deadline = time.time() + 20
    while (s.metric("distillguard_events_rejected_total") or 0) < 1 and time.time() < deadline:
        time.sleep(0.1)
    s.stop()
    log = open(s.log.name, "rb").read()
    check(b"FAKE" in log and b"\x1b" not in log and b"\r" not in log,
          "a rejected line's control characters are escaped in the log")

    # Retention: events older than --retention-days are pruned; replay rebuilds the retained history only.
    data = os.path.join(WORK, "retention")
    s = dgtest.Server(BIN, WORK, data, token=GATEWAY)
    old = "\n".join(event(i, account="old", ts=1577836800 + i) for i in range(20))  # 2020-01-01
    new = "\n".join(event(i, account="new", ts=int(time.time()) - 60 + i) for i in range(20))
    s.request("POST", "/v1/events", old + "\n")
    s.request("POST", "/v1/events", new + "\n")
    s.stop()
    s = dgtest.Server(BIN, WORK, data, ["--retention-days", "30"], token=GATEWAY)
    check(s.request("GET", "/v1/accounts/old")[0] == 404, "retention: events older than 30 days are gone after a restart")
    st, body, _ = s.request("GET", "/v1/accounts/new")
    check(st == 200 and body["interactions"] == 20, f"retention: recent events kept ({st})")
    s.stop()

    # Finding 14: a zero-length database is refused, not started empty.
    data = os.path.join(WORK, "zero")
    os.makedirs(data)
    open(os.path.join(data, "distillguard.db"), "w").close()
    r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", data], capture_output=True, text=True, timeout=60)
    check(r.returncode == 1 and "empty (0 bytes)" in r.stderr, f"zero-length database: refused ({r.returncode})")


def throttle_rate():
    # Finding 16: "throttle" is a rate, not a 429 on every request. A young
    # account that looks wholly automated (single-turn, fixed settings, one
    # template, paced) but asks for no reasoning is under review: throttled.
    s = dgtest.Server(BIN, WORK, os.path.join(WORK, "throttle"), ["--throttle-rate", "0.2", "--throttle-burst", "3"], token=GATEWAY)

    def bot_event(n):
        return json.dumps({"ts": 1775001600 + n * 20, "request_id": f"b{n}", "account_id": "bot", "ip": "198.51.100.9",
                           "user_agent": "python-httpx/0.27.2", "payment_fingerprint": "pm_bot", "account_created_at": 1775000000,
                           "max_tokens": 8192, "temperature": 0.7, "system": "You are a data generator.",
                           "messages": [{"role": "user", "content": f"Write a product description for item {n * 7919 % 1000}."}],
                           "response": {"content": f"Item {n} is great.", "output_tokens": 900}})

    st, body, _ = s.request("POST", "/v1/events", "\n".join(bot_event(n) for n in range(100)) + "\n")
    check(st == 200 and body["accepted"] == 100, "throttle: the automated account's events accepted")
    answers = [s.request("POST", "/v1/check", json.dumps({"account_id": "bot"})) for _ in range(5)]
    decisions = [a[1]["decision"] for a in answers]
    check(decisions[:3] == ["allow"] * 3 and all(a[1]["ttl_s"] == 0 for a in answers[:3]),
          f"throttle: the burst is served, and not cached by the gateway ({decisions})")
    st, body, resp = answers[3]
    check(body["decision"] == "throttle" and body.get("retry_after_s", 0) >= 1 and resp.getheader("Retry-After"),
          f"throttle: past the burst, throttle with retry_after_s and Retry-After ({body})")
    st, body, resp = s.request("GET", "/v1/authz/x", headers={"x-account-id": "bot"})
    check(st == 429 and resp.getheader("Retry-After") and body["reason"] == "rate_limited",
          f"throttle: ext_authz answers 429 with Retry-After past the rate ({st} {body})")
    st, body, _ = s.request("POST", "/v1/check", json.dumps({"account_id": "someone-else"}))
    check(body["decision"] == "allow", "throttle: other accounts are not affected")
    time.sleep(5.5)  # 0.2/s: one token back after 5 s
    st, body, _ = s.request("POST", "/v1/check", json.dumps({"account_id": "bot"}))
    check(body["decision"] == "allow", f"throttle: served again once the rate allows ({body})")
    s.stop()


def main():
    roles_and_bodies()
    throttle_rate()
    no_token()
    store_faults()


dgtest.run(main, WORK, "hardening")
