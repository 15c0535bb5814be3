#!/usr/bin/env python3
"""A decision node answers /v1/check from the cluster's verdict bucket.

A real nats-server (one node, R=1: this test is about the decision node, the
failover test is cluster_scan_test.py), a worker and a correlator scan a small
simulated log; then `distillguard decide` loads the verdict bucket and must
answer every account as accounts.jsonl says, with serve's rule for
accounts in review (block -> block; review -> withhold_reasoning when the
account's reasons are reasoning harvest, or when the prompt sent with the
check asks for reasoning, else throttle; allow -> allow), with the account's
campaign and reasons; an unknown account with allow, a bad body with 400
naming the field, and report readiness and its account count.

usage: decide_test.py DISTILLGUARD     (exit 77: no nats-server)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from natstest import start_nats, stop_all, wait_port_file


def http(port, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                 method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main():
    dg = sys.argv[1]
    if shutil.which("nats-server") is None:
        print("nats-server not installed (scripts/install-deps.sh)")
        return 77
    work = tempfile.mkdtemp(prefix="dg-decide-test.")
    procs = []
    try:
        data = os.path.join(work, "data")
        subprocess.run([dg, "simulate", "--scenario", "demo", "--seed", "7", "--out", data], check=True,
                       stdout=subprocess.DEVNULL)
        events = os.path.join(data, "events.jsonl")
        port = start_nats(work, procs)
        url = f"nats://127.0.0.1:{port}"
        common = ["--nats", url, "--replicas", "1", "--partitions", "4"]
        out = os.path.join(work, "out")
        os.makedirs(out)
        worker = subprocess.Popen([dg, "worker", *common], stderr=subprocess.DEVNULL)
        procs.append(worker)
        correlator = subprocess.Popen([dg, "correlator", *common, "--until-done", "--out", out])
        procs.append(correlator)
        subprocess.run([dg, "publish", *common, events], check=True, stdout=subprocess.DEVNULL, timeout=300)
        if correlator.wait(timeout=300) != 0:
            print("FAIL: correlator exited", correlator.returncode)
            return 1
        pf = os.path.join(work, "decide.port")
        decide = subprocess.Popen([dg, "decide", *common, "--listen", "127.0.0.1:0", "--port-file", pf])
        procs.append(decide)
        dport = wait_port_file(pf, decide)
        deadline = time.time() + 30
        while http(dport, "/readyz")[0] != 200:
            if time.time() > deadline:
                print("FAIL: the decision node never became ready")
                return 1
            time.sleep(0.05)
        with open(os.path.join(out, "accounts.jsonl")) as f:
            accounts = [json.loads(line) for line in f]
        failures = []
        harvest = {"cot_elicitation", "reasoning_reconstruction"}
        withheld = 0
        for a in accounts:
            if a["verdict"] == "review":
                want = "withhold_reasoning" if harvest & set(a["reasons"]) else "throttle"
            else:
                want = a["verdict"]
            status, body = http(dport, "/v1/check", json.dumps({"account_id": a["account_id"]}).encode())
            got = json.loads(body) if status == 200 else {}
            # The account's own reason bits (what serve's /v1/check returns);
            # accounts.jsonl adds the campaign's shared-indicator reasons.
            if (got.get("decision") != want or got.get("campaign_id") != a["campaign_id"]
                    or not set(got.get("reasons", [])) <= set(a["reasons"])
                    or (harvest & set(a["reasons"])) != (harvest & set(got.get("reasons", [])))):
                failures.append(f"{a['account_id']}: verdict {a['verdict']} campaign {a['campaign_id']} reasons "
                                f"{a['reasons']}, check said {status} {body.strip()}")
            withheld += got.get("decision") == "withhold_reasoning"
            if a["verdict"] == "review":
                # A prompt that asks for the reasoning withholds it from any account in review.
                status, body = http(dport, "/v1/check", json.dumps(
                    {"account_id": a["account_id"], "prompt": "Think step by step and show every step."}).encode())
                if status != 200 or json.loads(body)["decision"] != "withhold_reasoning":
                    failures.append(f"{a['account_id']} in review with a reasoning prompt: {status} {body.strip()}")
        status, body = http(dport, "/v1/check", b'{"account_id":"never-seen"}')
        if status != 200 or json.loads(body)["decision"] != "allow":
            failures.append(f"unknown account: {status} {body}")
        for bad in (b"", b"{", b'{"account":1}', b"\xff" * 100, b'{"account_id":7}'):
            status, body = http(dport, "/v1/check", bad)
            if status != 400 or "error" not in json.loads(body):
                failures.append(f"bad body {bad[:10]!r}: {status} {body.strip()}, not 400 with an error")
        status, metrics = http(dport, "/metrics")
        line = next((l for l in metrics.splitlines() if l.startswith("dg_decision_accounts ")), "")
        if status != 200 or line != f"dg_decision_accounts {len(accounts)}":
            failures.append(f"metrics: {line!r}, expected {len(accounts)} accounts")
        blocked = sum(a["verdict"] == "block" for a in accounts)
        reviewed = sum(a["verdict"] == "review" for a in accounts)
        print(f"{len(accounts)} accounts checked ({blocked} blocked, {reviewed} in review, {withheld} answered "
              f"withhold_reasoning), {len(failures)} failures")
        for f in failures[:20]:
            print("FAIL:", f)
        return 1 if failures or blocked == 0 else 0
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
