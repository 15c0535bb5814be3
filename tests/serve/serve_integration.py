#!/usr/bin/env python3
"""distillguard serve, end to end: the real binary on port 0 with a real data
directory, driven over HTTP. Covers decisions before and after a campaign is
detected, a new account of a known campaign, ext_authz, overrides, auth
failures, malformed and oversized bodies, --follow, a clean restart, and a
kill -9 in the middle of ingest with nothing acknowledged lost.

Usage: serve_integration.py DISTILLGUARD_BINARY
"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dgtest  # noqa: E402
from dgtest import FAILS, check  # noqa: E402

BIN = sys.argv[1]
TOKEN = "it-token-" + str(os.getpid())
WORK = tempfile.mkdtemp(prefix="dg_serve_it_")


def Server(data, extra=(), token=TOKEN):
    return dgtest.Server(BIN, WORK, data, extra, token)


def main():
    # Labelled traffic from the simulator (small scenario).
    sim = os.path.join(WORK, "sim")
    subprocess.run([BIN, "simulate", "--scenario", "demo", "--seed", "11", "--out", sim], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lines = open(os.path.join(sim, "events.jsonl")).read().splitlines()
    labels = [json.loads(l) for l in open(os.path.join(sim, "labels.jsonl"))]
    attack = [l["account_id"] for l in labels if l["label"] == "attack"]
    events = [json.loads(l) for l in lines]
    for e in events:  # OpenAI-shaped records carry the account in "user"
        e.setdefault("account_id", e.get("user"))
    first_of = {}
    for e in events:
        first_of.setdefault(e["account_id"], e)
    # An attack account active early, and its payment card.
    attack_set = set(attack)
    early_attack = next(e["account_id"] for e in events if e["account_id"] in attack_set)
    data = os.path.join(WORK, "data")
    s = Server(data)

    # Open endpoints and auth.
    check(s.request("GET", "/healthz", token=None)[0] == 200, "healthz is open")
    check(s.request("GET", "/readyz", token=None)[0] == 200, "readyz is open")
    check(s.request("GET", "/metrics", token=None)[0] == 200, "metrics is open")
    st, body, _ = s.request("POST", "/v1/check", json.dumps({"account_id": "x"}), token=None)
    check(st == 401 and "token" in body["error"], "check without token: 401 with a JSON error")
    check(s.request("POST", "/v1/events", lines[0], token="wrong")[0] == 401, "events with a wrong token: 401")
    check(s.request("GET", "/v1/campaigns", token="wrong")[0] == 401, "analyst API with a wrong token: 401")

    # Malformed and oversized bodies never touch state.
    before = s.metric("distillguard_events_accepted_total")
    st, body, _ = s.request("POST", "/v1/check", "{not json")
    check(st == 400 and "JSON" in body["error"], "check with invalid JSON: 400")
    st, body, _ = s.request("POST", "/v1/check", json.dumps({"account_id": 7}))
    check(st == 400 and "account_id" in body["error"], "check with a non-string account_id: 400 naming the field")
    st, body, _ = s.request("POST", "/v1/check", json.dumps({"ip": "1.2.3.4"}))
    check(st == 400 and "account_id" in body["error"], "check without account_id: 400")
    st, body, _ = s.request("POST", "/v1/check", json.dumps({"account_id": "a", "prompt": "x" * 100000}))
    check(st == 413, "check body over 64 KiB: 413")
    st, body, _ = s.request("POST", "/v1/events", "garbage\n{\"ts\": 1}\n")
    check(st == 400 and body["rejected"] == 2 and body["errors"][0].startswith("request:1:"),
          "events that are all bad: 400 with line-numbered errors")
    check(s.metric("distillguard_events_accepted_total") == before, "bad requests accepted nothing")

    # Before any traffic the attack account is unknown: allowed.
    st, body, _ = s.check(account_id=early_attack)
    check(st == 200 and body["decision"] == "allow", "attack account allowed before anything is known")

    # Ingest the first 60% in batches; decisions change once the campaign is found.
    cut = int(len(lines) * 0.6)
    acked = []
    for i in range(0, cut, 2000):
        chunk = lines[i:min(cut, i + 2000)]
        st, body, _ = s.request("POST", "/v1/events", "\n".join(chunk) + "\n")
        check(st == 200 and body["accepted"] == len(chunk), f"batch {i // 2000}: {len(chunk)} events accepted") if i == 0 else None
        if st != 200:
            check(False, f"batch at {i} failed: {st} {body}")
            break
        acked.extend(chunk)
    st, body, _ = s.check(account_id=early_attack)
    check(body["decision"] == "block" and body["campaign_id"], f"attack account blocked after detection ({body['decision']})")
    camp = body["campaign_id"]
    card = first_of[early_attack].get("payment_fingerprint")
    ip = first_of[early_attack].get("ip")
    st, body, _ = s.check(account_id="brand-new-account", payment_fingerprint=card, ip=ip)
    check(body["decision"] in ("block", "challenge") and body["campaign_id"] == camp,
          f"a new account on a campaign's card and address is stopped at its first request ({body['decision']})")
    legit = next(l["account_id"] for l in labels if l["label"] == "legit" and l["account_id"] in first_of)
    st, body, _ = s.check(account_id=legit)
    check(body["decision"] == "allow", "a legit account is allowed")

    # Envoy ext_authz: headers in, status out.
    st, body, resp = s.request("GET", "/v1/authz/v1/messages", headers={"x-account-id": early_attack})
    check(st == 403 and resp.getheader("x-distillguard-decision") == "block", "ext_authz: blocked account gets 403")
    st, body, resp = s.request("POST", "/v1/authz/v1/messages", headers={"x-account-id": legit})
    check(st == 200 and resp.getheader("x-distillguard-decision") == "allow", "ext_authz: legit account gets 200")

    # Analyst API.
    st, body, _ = s.request("GET", "/v1/campaigns")
    check(st == 200 and any(c["campaign_id"] == camp for c in body["campaigns"]), "campaign listed")
    st, body, _ = s.request("GET", "/v1/campaigns/" + camp)
    check(st == 200 and early_attack in body["accounts"], "campaign detail lists the account")
    check(s.request("GET", "/v1/campaigns/camp_nope")[0] == 404, "unknown campaign: 404")
    st, body, _ = s.request("GET", "/v1/accounts/" + early_attack)
    check(st == 200 and body["verdict"] == "block" and body["reasons"], "account detail with verdict and reasons")

    # Indicators shared by another provider, imported with block trust, block at the first request.
    uid = "0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b"
    bundle = {"type": "bundle", "id": "bundle--" + uid, "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": "indicator--" + uid,
        "created": "2026-11-01T00:00:00Z", "modified": "2026-11-01T00:00:00Z",
        "pattern": "[ipv4-addr:value = '203.0.113.0/24']", "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z"}]}
    st, body, _ = s.request("POST", "/v1/indicators?trust=block", json.dumps(bundle), headers={"Content-Type": "application/json"})
    check(st == 200 and body["imported"] == 1, "STIX bundle imported over the API")
    st, body, _ = s.check(account_id="fresh-from-provider-x", ip="203.0.113.50")
    check(body["decision"] == "block" and "shared_indicator" in body["reasons"],
          "an account on a shared indicator is blocked at its first request")
    st, body, _ = s.request("POST", "/v1/indicators", "{\"type\": \"campaign\"}")
    check(st == 400 and "bundle" in body["error"], "not a bundle: 400")

    # Overrides: who and why required; a person's allow wins and sticks.
    st, body, _ = s.request("POST", f"/v1/accounts/{early_attack}/override", json.dumps({"action": "allow"}))
    check(st == 400 and "by" in body["error"], "override without 'by': 400")
    st, body, _ = s.request("POST", f"/v1/accounts/{early_attack}/override",
                            json.dumps({"action": "allow", "by": "alice", "reason": "confirmed customer"}))
    check(st == 200 and body["overrides"][-1]["by"] == "alice", "override recorded with who and why")
    check(s.check(account_id=early_attack)[1]["decision"] == "allow", "overridden account allowed")
    st, body, _ = s.request("POST", f"/v1/accounts/{early_attack}/override", json.dumps({"action": "allow", "by": "x"}),
                            token=None)
    check(st == 401, "override without token: 401")

    # --follow source and a clean restart: same decisions, override kept.
    rc = s.stop()
    check(rc == 0, f"SIGTERM: clean exit ({rc})")
    follow = os.path.join(WORK, "gateway.log")
    with open(follow, "w") as f:
        f.write("\n".join(lines[cut:cut + 500]) + "\n")
    s = Server(data, ["--follow", follow])
    check(s.check(account_id=early_attack)[1]["decision"] == "allow", "override survives a restart")
    deadline = time.time() + 30
    while s.metric("distillguard_events_accepted_total") < 500 and time.time() < deadline:
        time.sleep(0.1)
    check(s.metric("distillguard_events_accepted_total") == 500, "--follow ingested the tailed file")
    with open(follow, "a") as f:
        f.write("\n".join(lines[cut + 500:cut + 700]) + "\n")
    deadline = time.time() + 30
    while s.metric("distillguard_events_accepted_total") < 700 and time.time() < deadline:
        time.sleep(0.1)
    check(s.metric("distillguard_events_accepted_total") == 700, "--follow picks up appended lines")
    acked.extend(lines[cut:cut + 700])

    # kill -9 while a client is ingesting: nothing acknowledged is lost.
    rest = lines[cut + 700:]
    sent_before = len(acked)
    done = threading.Event()

    def writer():
        for i in range(0, len(rest), 100):
            chunk = rest[i:i + 100]
            try:
                st, body, _ = s.request("POST", "/v1/events", "\n".join(chunk) + "\n", timeout=10)
            except Exception:
                break
            if st == 200:
                acked.extend(chunk)
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    # Kill at a random point once a random share of the rest is acknowledged.
    target = sent_before + int(len(rest) * random.Random(os.getpid()).uniform(0.2, 0.7))
    while len(acked) < target and not done.is_set():
        time.sleep(0.001)
    s.proc.kill()
    s.proc.wait()
    t.join()
    check(len(acked) < sent_before + len(rest), f"kill -9 landed mid-ingest ({len(acked) - sent_before} of {len(rest)} acknowledged)")
    s = Server(data, ["--follow", follow])
    # Re-sending everything acknowledged must find all of it already stored.
    dup = 0
    for i in range(0, len(acked), 5000):
        st, body, _ = s.request("POST", "/v1/events", "\n".join(acked[i:i + 5000]) + "\n")
        dup += body["duplicates"]
        if body["accepted"]:
            check(False, f"{body['accepted']} acknowledged events were missing after kill -9")
    check(dup == len(acked), f"after kill -9 all {len(acked)} acknowledged events are in the log")
    check(s.check(account_id=early_attack)[1]["decision"] == "allow", "override survives kill -9")
    st, body, _ = s.request("GET", "/v1/campaigns")
    check(st == 200 and any(c["campaign_id"] == camp for c in body["campaigns"]), "campaigns resume after kill -9")

    # report and export read the data directory of a stopped server.
    s.stop()
    out = os.path.join(WORK, "shared.json")
    r = subprocess.run([BIN, "export", "--stix", "--from", data, "--out", out], capture_output=True, text=True)
    exported = json.load(open(out)) if r.returncode == 0 else {"objects": []}
    check(any(o["type"] == "campaign" and o["name"].endswith(camp) for o in exported["objects"]),
          "export --stix from the serve data directory")
    r = subprocess.run([BIN, "report", "--from", data, "--out", os.path.join(WORK, "r.html")], capture_output=True, text=True)
    check(r.returncode == 0 and camp in open(os.path.join(WORK, "r.html")).read(), "report from the serve data directory")

    # No token configured: the analyst API is closed, not open.
    s = Server(os.path.join(WORK, "data2"), token=None)
    st, body, _ = s.request("GET", "/v1/campaigns", token=None)
    check(st == 403 and "token" in body["error"], "analyst API without a configured token: 403")
    st, body, _ = s.request("POST", "/v1/events", "x" * 3000, token=None)
    s.stop()
    s = Server(os.path.join(WORK, "data3"), ["--max-body-bytes", "1000"], token=None)
    st, body, _ = s.request("POST", "/v1/events", "\n".join(lines[:10]) + "\n", token=None)
    check(st == 413, "events body over --max-body-bytes: 413")
    s.stop()


dgtest.run(main, WORK, "serve")
