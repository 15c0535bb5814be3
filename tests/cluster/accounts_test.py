#!/usr/bin/env python3
"""Account attributes shared by `serve --nats` nodes (docs/SCALE.md).

A real nats-server (one node, R=1) and two decision nodes, A and B, on port
0; B enforces an access rule (the newest model for verified persons in
allowed countries only: docs/ACCESS.md). Checks:
  - before anything is known, B denies the newest model to the account (its
    attributes are missing) and allows an older one;
  - the attributes PUT on A (verified country US, level 3) reach B: B allows
    the newest model within 5 s -- access rules read the same attributes on
    every node -- and B's /metrics counts the row it received;
  - rows in dg_accounts that are not the one account their key names (not
    an account, several forged accounts, another account; outside input:
    anyone on the bus can write it) are refused and counted on B, and
    change nothing;
  - a third node started afterwards knows the account at once (the bucket
    is replayed before /readyz turns 200).

usage: accounts_test.py DISTILLGUARD     (exit 77: no nats-server)
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from natstest import report, start_nats, stop_all, wait_port_file

TOKEN = "accounts-test-token"
CATALOGUE = """format = 1
[models]
"atlas-3" = 2025-02-01
"atlas-4-pro" = 2026-06-01
"""
RULES = """format = 1
version = "t1"
catalogue = "models.toml"

[[rule]]
id = "export-newest"
released_after = 2026-01-01
effect = "deny_model"
customer_reason = "This model is not available for your account's jurisdiction."
audit_reason = "test: newest models for verified persons in allowed jurisdictions only"
[rule.require]
verified_country_in = ["US", "DE"]
verification_level_at_least = 2
"""


def http(port, path, body=None, method=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                 headers={"Authorization": f"Bearer {TOKEN}"},
                                 method=method or ("POST" if body is not None else "GET"))
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def decision(port, account, model):
    status, body = http(port, "/v1/check", json.dumps({"account_id": account, "model": model}).encode())
    return json.loads(body).get("decision") if status == 200 else f"HTTP {status}"


def metric(port, name):
    status, body = http(port, "/metrics")
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def wait_for(fn, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.1)
    return False


def kv_put_raw(nats_port, bucket, key, value):
    """A value written straight into a bucket, as anyone on the bus could."""
    with socket.create_connection(("127.0.0.1", nats_port), timeout=10) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB _INBOX.put 1\r\n'
                  b"PUB $KV.%s.%s _INBOX.put %d\r\n%s\r\n" % (bucket.encode(), key.encode(), len(value), value))
        while True:
            line = f.readline()
            if not line or line.startswith(b"MSG "):
                return
            if line.startswith(b"PING"):
                s.sendall(b"PONG\r\n")


def main():
    dg = sys.argv[1]
    if shutil.which("nats-server") is None:
        print("no nats-server; skipped")
        return 77
    work = tempfile.mkdtemp(prefix="dg_cluster_accounts_")
    procs = []
    try:
        with open(os.path.join(work, "models.toml"), "w") as f:
            f.write(CATALOGUE)
        rules = os.path.join(work, "rules.toml")
        with open(rules, "w") as f:
            f.write(RULES)
        token_file = os.path.join(work, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        port = start_nats(work, procs)
        common = ["--nats", f"nats://127.0.0.1:{port}", "--replicas", "1"]

        def node(name, extra=()):
            pf = os.path.join(work, f"serve-{name}.port")
            p = subprocess.Popen([dg, "serve", *common, *extra, "--data", os.path.join(work, f"data-{name}"), "--listen",
                                  "127.0.0.1:0", "--port-file", pf, "--token-file", token_file],
                                 stderr=open(os.path.join(work, f"serve-{name}.log"), "w"))
            procs.append(p)
            n = wait_port_file(pf, p)
            if not wait_for(lambda: http(n, "/readyz")[0] == 200, 60):
                raise RuntimeError(f"node {name} never ready")
            return n

        a = node("a")
        b = node("b", ["--access-rules", rules])
        failures = []
        acct = "acct-verified-us"
        if decision(b, acct, "atlas-4-pro") != "block":
            failures.append(f"B before the PUT, newest model: {decision(b, acct, 'atlas-4-pro')} (want block)")
        if decision(b, acct, "atlas-3") != "allow":
            failures.append(f"B before the PUT, older model: {decision(b, acct, 'atlas-3')} (want allow)")

        row = {"account_id": acct, "verified_country": "US", "verification_level": 3}
        status, answer = http(a, "/v1/accounts", json.dumps(row).encode(), method="PUT")
        if status != 200:
            failures.append(f"PUT /v1/accounts on A: {status} {answer.strip()}")
        t0 = time.time()
        if not wait_for(lambda: decision(b, acct, "atlas-4-pro") == "allow", 5):
            failures.append(f"B after the PUT on A, newest model: {decision(b, acct, 'atlas-4-pro')} after 5 s")
        held = time.time() - t0
        received = metric(b, "distillguard_cluster_account_rows_total")
        if not received or received < 1:
            failures.append(f"B's distillguard_cluster_account_rows_total is {received}")

        # Outside input on the bucket (anyone on the bus can write it): a row
        # that is not an account, one that holds many accounts, and one that
        # names another account than its key are refused, counted, and
        # change nothing; B goes on.
        known = metric(b, "distillguard_enrichment_accounts")
        forged = "".join(json.dumps({"account_id": f"acct-forged-{i}", "verified_country": "US",
                                     "verification_level": 3}) + "\n" for i in range(3)).encode()
        kv_put_raw(port, "dg_accounts", "a." + "junk".encode().hex(), b"not an account row")
        kv_put_raw(port, "dg_accounts", "a." + "acct-forged-0".encode().hex(), forged)
        kv_put_raw(port, "dg_accounts", "a." + "acct-other".encode().hex(), json.dumps(row).encode())
        if not wait_for(lambda: (metric(b, "distillguard_cluster_account_rows_refused_total") or 0) >= 3, 5):
            failures.append(f"B refused {metric(b, 'distillguard_cluster_account_rows_refused_total')} of the 3 bad rows")
        if metric(b, "distillguard_enrichment_accounts") != known:
            failures.append(f"B's accounts went from {known} to {metric(b, 'distillguard_enrichment_accounts')} on bad rows")
        for who, want in ((acct, "allow"), ("acct-forged-1", "block"), ("acct-other", "block")):
            if decision(b, who, "atlas-4-pro") != want:
                failures.append(f"B after the bad rows, {who}: {decision(b, who, 'atlas-4-pro')} (want {want})")

        # A node started now reads the bucket before it is ready.
        c = node("c", ["--access-rules", rules])
        if decision(c, acct, "atlas-4-pro") != "allow":
            failures.append(f"C, started after the PUT: {decision(c, acct, 'atlas-4-pro')} (want allow at once)")

        print(f"attributes PUT on A held on B within {held:.2f}s; B received {received} rows; "
              f"a new node knew them when ready")
        return report(failures)
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
