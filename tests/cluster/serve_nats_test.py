#!/usr/bin/env python3
"""Two `serve --nats` decision nodes in front of a cluster.

A real nats-server (one node, R=1: the failover test is cluster_scan_test.py),
a correlator (which runs the intake sequencer) and a worker; two serve nodes,
A and B, on port 0 with a bearer token. The demo scenario's events go in
through POST /v1/events on A only (in time order, 1,000 lines a request);
one request is sent again to B, as a gateway retrying on another node would.
Half-way through, the correlator (which runs the sequencer) is killed with
SIGKILL and a new one started. Then:
  - every request is answered 200 only once the cluster stored it, and the
    cluster numbers each event once (`published` == the file's events: the
    request sent twice is dropped by the sequencer's request-id check, and
    the restarted sequencer neither skips nor repeats a number), and the
    correlator applies them all;
  - node B, which received nothing but the retried request, answers
    /v1/check from its watched copy: `block` for accounts scan blocks as
    members of a campaign (at least 80% with a campaign id: the live
    correlator has not run Engine::Finish), and `allow` for accounts
    scan finds clean; over every account, B's decisions agree with scan's
    verdicts (block -> block, review -> throttle / withhold_reasoning,
    allow -> allow) for at least 95% (the live correlator has not run
    Engine::Finish, and the events arrive in 1,000-line requests);
  - a never-seen account on any scanned account's card and address gets
    from B what a single-process `serve` (C, fed the same requests) answers
    -- block, challenge or allow, with the same campaign: B matches it
    against the correlator's dg_indicators and dg_campaigns as serve's
    engine matches it against its own index;
  - B, started with --replica, follows the cluster's engine: its
    /v1/campaigns lists the campaigns single-process serve (C) lists, and
    /v1/accounts/{id} gives C's verdict and campaign; A (no replica) lists
    none;
  - an indicator imported through A (STIX, block trust) blocks a new
    account on its card on B, is listed on B, makes the correlator block an
    account that then uses the card, and removed through B no longer
    matches on A;
  - an override set on A (block a clean account, allow a blocked one, block
    an account never seen) holds on B within 2 s; a `clear` on B gives the
    clean account back to the detector on A;
  - the correlator applied the overrides too (Engine::SetOverride): the
    clean account's value in dg_verdicts (read with a plain JetStream API
    request) turns block, and allow again after the clear.
  - /readyz is 200 on both nodes, /metrics counts the published events;
  - no prompt text stays at rest in the cluster: DG_EVENTS (erased by the
    workers once digested) and DG_INTAKE (erased by the restarted
    sequencer, run with --intake-keep 1, a second after numbering) hold
    no message at the end -- the request retried after the restart still
    counts once, from the memory the sequencer rebuilt when it started.

usage: serve_nats_test.py DISTILLGUARD     (exit 77: no nats-server)
"""
import base64
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

from natstest import start_nats, stop_all, wait_port_file

TOKEN = "serve-nats-test-token"


def http(port, path, body=None, method=None, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=headers,
                                 method=method or ("POST" if body is not None else "GET"))
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(port, name, token=TOKEN):
    status, body = http(port, "/metrics", token=token)
    if status != 200:
        return None
    return next((float(l.split()[1]) for l in body.splitlines() if l.startswith(name + " ")), None)


def js_api(nats_port, subject, req):
    """The JSON answer of a JetStream API request, by a plain NATS request
    (no client library needed); None if the server closes first."""
    with socket.create_connection(("127.0.0.1", nats_port), timeout=10) as s:
        f = s.makefile("rb")
        if not f.readline().startswith(b"INFO "):
            raise RuntimeError("not a NATS server")
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB _INBOX.api 1\r\n'
                  b"PUB %s _INBOX.api %d\r\n%s\r\n" % (subject.encode(), len(req), req))
        while True:
            line = f.readline()
            if not line:
                return None
            if line.startswith(b"PING"):
                s.sendall(b"PONG\r\n")
            if line.startswith(b"MSG "):
                size = int(line.split()[-1])
                return json.loads(f.read(size + 2)[:size])


def kv_get(nats_port, bucket, account):
    """The value of an account's key in a KV bucket; None if absent."""
    key = "a." + account.encode().hex()
    req = json.dumps({"last_by_subj": f"$KV.{bucket}.{key}"}).encode()
    answer = js_api(nats_port, f"$JS.API.STREAM.MSG.GET.KV_{bucket}", req)
    if answer is None or "message" not in answer:
        return None
    return json.loads(base64.b64decode(answer["message"]["data"]))


def stream_messages(nats_port, stream):
    """How many messages a stream holds now (None: no answer)."""
    answer = js_api(nats_port, f"$JS.API.STREAM.INFO.{stream}", b"")
    return None if answer is None or "state" not in answer else answer["state"]["messages"]


def check(port, account):
    status, body = http(port, "/v1/check", json.dumps({"account_id": account}).encode())
    return json.loads(body) if status == 200 else {"status": status, "body": body}


def wait_for(what, fn, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.1)
    print("FAIL: timed out waiting for", what)
    return False


def main():
    dg = sys.argv[1]
    if shutil.which("nats-server") is None:
        print("nats-server not installed (scripts/install-deps.sh)")
        return 77
    work = tempfile.mkdtemp(prefix="dg-serve-nats-test.")
    procs = []
    try:
        sim = os.path.join(work, "sim")
        subprocess.run([dg, "simulate", "--scenario", "demo", "--seed", "7", "--out", sim], check=True,
                       stdout=subprocess.DEVNULL)
        events = os.path.join(sim, "events.jsonl")
        scan_out = os.path.join(work, "scan")
        subprocess.run([dg, "scan", events, "--out", scan_out, "--no-samples"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with open(os.path.join(scan_out, "accounts.jsonl")) as f:
            scanned = [json.loads(line) for line in f]
        with open(events) as f:
            lines = [l for l in f if l.strip()]
        lines.sort(key=lambda l: json.loads(l)["ts"])

        port = start_nats(work, procs)
        common = ["--nats", f"nats://127.0.0.1:{port}", "--replicas", "1"]
        token_file = os.path.join(work, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        cpf = os.path.join(work, "correlator.port")
        correlator = subprocess.Popen([dg, "correlator", *common, "--partitions", "4", "--listen", "127.0.0.1:0",
                                       "--port-file", cpf])
        procs.append(correlator)
        cport = wait_port_file(cpf, correlator)
        procs.append(subprocess.Popen([dg, "worker", *common, "--partitions", "4"], stderr=subprocess.DEVNULL))
        nodes = []
        for name in ("a", "b"):
            pf = os.path.join(work, f"serve-{name}.port")
            # B is also an analyst node: it follows the cluster's engine (--replica).
            extra = ["--replica"] if name == "b" else []
            p = subprocess.Popen([dg, "serve", *common, *extra, "--data", os.path.join(work, f"data-{name}"), "--listen",
                                  "127.0.0.1:0", "--port-file", pf, "--token-file", token_file])
            procs.append(p)
            nodes.append(wait_port_file(pf, p))
        a, b = nodes
        # C: single-process serve fed the same requests -- the answers a
        # decision node must give for accounts it has never seen.
        cpf_single = os.path.join(work, "serve-c.port")
        single = subprocess.Popen([dg, "serve", "--data", os.path.join(work, "data-c"), "--listen", "127.0.0.1:0",
                                   "--port-file", cpf_single, "--token-file", token_file])
        procs.append(single)
        c = wait_port_file(cpf_single, single)
        for n in nodes:
            if not wait_for(f"/readyz on port {n}", lambda: http(n, "/readyz")[0] == 200, 60):
                return 1
        failures = []

        # Ingest through A; one request again through B (a retry elsewhere).
        chunk = 1000
        accepted = 0
        t0 = time.time()
        starts = list(range(0, len(lines), chunk))
        for start in starts:
            if start == starts[len(starts) // 2]:
                # The correlator (and its sequencer) dies mid-ingest: the nodes
                # go on storing requests in the intake stream; a new correlator
                # resumes numbering from dg_meta/sequencer.
                wait_for("the sequencer to number something", lambda: (metric(cport, "dg_correlator_published", None)
                                                                        or 0) > 0, 60)
                correlator.kill()
                correlator.wait()
                os.remove(cpf)
                # It keeps intake messages one second after numbering them
                # (not an hour): checked at the end, all are erased.
                correlator = subprocess.Popen([dg, "correlator", *common, "--partitions", "4", "--listen",
                                               "127.0.0.1:0", "--port-file", cpf, "--intake-keep", "1"])
                procs.append(correlator)
                cport = wait_port_file(cpf, correlator)
            body = "".join(lines[start:start + chunk]).encode()
            status, answer = http(c, "/v1/events", body)
            if status != 200:
                failures.append(f"POST /v1/events on C (single process): {status} {answer.strip()}")
                break
            status, answer = http(a, "/v1/events", body)
            if status != 200:
                failures.append(f"POST /v1/events on A: {status} {answer.strip()}")
                break
            accepted += json.loads(answer)["accepted"]
        ingest_s = time.time() - t0
        status, answer = http(b, "/v1/events", "".join(lines[:chunk]).encode())
        if status != 200:
            failures.append(f"the retried request on B: {status} {answer.strip()}")
        if accepted != len(lines):
            failures.append(f"A accepted {accepted} of {len(lines)} events")
        if metric(a, "distillguard_cluster_events_published_total") != len(lines):
            failures.append(f"A's distillguard_cluster_events_published_total is "
                            f"{metric(a, 'distillguard_cluster_events_published_total')}, not {len(lines)}")
        # Every event numbered once and applied.
        # The retried request was stored in the intake when B answered; the
        # sequencer drops its events asynchronously, so wait for that too.
        wait_for("the correlator to apply every event", lambda: metric(cport, "dg_correlator_published", None) == len(lines)
                 and metric(cport, "dg_correlator_applied_total", None) == len(lines)
                 and metric(cport, "dg_sequencer_duplicates_total", None) == chunk, 120)
        published = metric(cport, "dg_correlator_published", None)
        applied = metric(cport, "dg_correlator_applied_total", None)
        duplicates = metric(cport, "dg_sequencer_duplicates_total", None)
        if duplicates != chunk:
            failures.append(f"the sequencer dropped {duplicates} repeated request ids, not the retried {chunk}")
        if published != len(lines) or applied != len(lines):
            failures.append(f"published {published}, applied {applied}: expected {len(lines)} each (the retried request "
                            f"must count once)")
        # B answers from the verdicts the correlator flushes (every 500 ms).
        blocked = [s for s in scanned if s["verdict"] == "block" and s["campaign_id"]]
        clean = [s for s in scanned if s["verdict"] == "allow" and not s["campaign_id"] and not s["reasons"]]
        if not blocked or not clean:
            failures.append(f"the scenario has {len(blocked)} blocked campaign members and {len(clean)} clean accounts")
            raise SystemExit(report(failures))
        # The correlator writes an account's value when its verdict changes:
        # wait until B has received no change for 2 s.
        seen = {"updates": -1, "since": time.time()}

        def settled():
            now = metric(b, "distillguard_cluster_updates_total")
            if now != seen["updates"]:
                seen.update(updates=now, since=time.time())
            return now and time.time() - seen["since"] > 2

        wait_for("B's watched copy to settle", settled, 60)
        harvest = {"cot_elicitation", "reasoning_reconstruction"}
        agree = 0
        for s in scanned:
            got = check(b, s["account_id"])
            if s["verdict"] == "review":
                ok = got.get("decision") in ("throttle", "withhold_reasoning")
            else:
                ok = got.get("decision") == s["verdict"]
            agree += ok
        with_campaign = 0
        for s in blocked:
            got = check(b, s["account_id"])
            if got.get("decision") != "block":
                failures.append(f"B on {s['account_id']} (blocked by scan in {s['campaign_id']}): {got}")
            with_campaign += bool(got.get("campaign_id"))
        # Without Engine::Finish a campaign may not be confirmed yet for every member.
        if with_campaign < 0.8 * len(blocked):
            failures.append(f"B names a campaign for {with_campaign} of {len(blocked)} blocked campaign members")
        for s in clean[:20]:
            got = check(b, s["account_id"])
            if got.get("decision") != "allow":
                failures.append(f"B on clean {s['account_id']}: {got}")
        if agree < 0.95 * len(scanned):
            failures.append(f"B agrees with scan on {agree} of {len(scanned)} accounts (< 95%)")

        # New accounts on known campaigns' values: B answers from the
        # correlator's dg_indicators / dg_campaigns what C's engine answers
        # (block, challenge or allow, and the campaign), for a never-seen
        # account on each scanned account's card and address.
        first_seen = {}
        for line in lines:
            e = json.loads(line)
            if isinstance(e.get("account_id"), str):  # the demo holds a few malformed lines
                first_seen.setdefault(e["account_id"], (e.get("payment_fingerprint") or "", e.get("ip") or ""))
        probes = [first_seen[s["account_id"]] for s in scanned if s["account_id"] in first_seen]
        new_same, new_blocked, new_challenged = 0, 0, 0
        mismatches = []
        for i, (card, ip) in enumerate(probes):
            req = json.dumps({"account_id": f"new-probe-{i}", "payment_fingerprint": card, "ip": ip}).encode()
            got_b = json.loads(http(b, "/v1/check", req)[1])
            got_c = json.loads(http(c, "/v1/check", req)[1])
            same = (got_b.get("decision"), got_b.get("campaign_id")) == (got_c.get("decision"), got_c.get("campaign_id"))
            new_same += same
            new_blocked += got_c.get("decision") == "block"
            new_challenged += got_c.get("decision") == "challenge"
            if not same:
                mismatches.append(f"{card} {ip}: B {got_b.get('decision')} {got_b.get('campaign_id')}, "
                                  f"C {got_c.get('decision')} {got_c.get('campaign_id')}")
        if new_same < len(probes) or new_blocked == 0:
            failures.append(f"new accounts: B answers as single-process serve for {new_same} of {len(probes)} "
                            f"({new_blocked} blocked by serve): {mismatches[:5]}")
        table_values = metric(b, "distillguard_cluster_request_values")

        # The analyst replica on B: /v1/campaigns and /v1/accounts show the
        # cluster's engine -- the same campaigns and verdicts as the
        # single-process serve C (fed the same requests), A's own (no
        # replica) shows none.
        wait_for("B's replica to apply every event",
                 lambda: metric(b, "distillguard_cluster_replica_applied_total") is not None
                 and metric(b, "distillguard_engine_interactions") == len(lines), 60)
        camps_b = sorted(x["campaign_id"] for x in json.loads(http(b, "/v1/campaigns")[1])["campaigns"])
        camps_c = sorted(x["campaign_id"] for x in json.loads(http(c, "/v1/campaigns")[1])["campaigns"])
        camps_a = json.loads(http(a, "/v1/campaigns")[1])["campaigns"]
        if not camps_c or camps_b != camps_c or camps_a:
            failures.append(f"campaigns: B (replica) {camps_b[:10]}, C (serve) {camps_c[:10]}, A (no replica) {len(camps_a)}")
        replica_same = 0
        for s in scanned[:200]:
            got_b = json.loads(http(b, f"/v1/accounts/{s['account_id']}")[1])
            got_c = json.loads(http(c, f"/v1/accounts/{s['account_id']}")[1])
            replica_same += (got_b.get("verdict"), got_b.get("campaign_id")) == (got_c.get("verdict"), got_c.get("campaign_id"))
        if replica_same < 200:
            failures.append(f"accounts: B's replica and C agree on {replica_same} of 200")

        # Imported (STIX) indicators: imported through A with block trust,
        # they hold on B for a never-seen account, are applied by the
        # correlator (an account that then uses the card is blocked in
        # dg_verdicts), are listed on B, and removed through B they stop
        # matching on A.
        shared_card = "pm_shared_by_partner_0001"
        bundle = {"type": "bundle", "id": "bundle--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3c", "objects": [{
            "type": "indicator", "id": "indicator--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3c", "spec_version": "2.1",
            "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
            "pattern": f"[x-distillguard-payment:fingerprint = '{shared_card}']", "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z"}]}
        status, answer = http(a, "/v1/indicators?trust=block", json.dumps(bundle).encode())
        if status != 200 or json.loads(answer).get("imported") != 1:
            failures.append(f"import on A: {status} {answer.strip()}")

        def check_card(node, account):
            req = json.dumps({"account_id": account, "payment_fingerprint": shared_card}).encode()
            return json.loads(http(node, "/v1/check", req)[1])

        if not wait_for("B to block a new account on the imported card",
                        lambda: check_card(b, "acct-shared-probe-1").get("decision") == "block", 5):
            failures.append(f"imported card: B says {check_card(b, 'acct-shared-probe-1')}")
        elif "shared_indicator" not in check_card(b, "acct-shared-probe-1").get("reasons", []):
            failures.append(f"imported card: B blocks without shared_indicator: {check_card(b, 'acct-shared-probe-1')}")
        status, listed = http(b, "/v1/indicators")
        if status != 200 or shared_card not in listed:
            failures.append(f"B's /v1/indicators does not list the card imported on A: {status} {listed[:300]}")
        probe_event = json.loads(lines[-1])
        probe_event.update({"account_id": "acct-shared-probe-2", "request_id": "req-shared-probe-2",
                            "payment_fingerprint": shared_card})
        status, answer = http(a, "/v1/events", (json.dumps(probe_event) + "\n").encode())
        if status != 200:
            failures.append(f"the probe event on A: {status} {answer.strip()}")
        if not wait_for("the correlator to block the account that used the imported card",
                        lambda: (kv_get(port, "dg_verdicts", "acct-shared-probe-2") or {}).get("verdict") == "block", 20):
            failures.append(f"dg_verdicts for the account on the imported card: "
                            f"{kv_get(port, 'dg_verdicts', 'acct-shared-probe-2')}")
        ids = [i["id"] for i in json.loads(listed).get("indicators", []) if i.get("value") == shared_card] if status == 200 else []
        if ids:
            status, answer = http(b, f"/v1/indicators/{ids[0]}", method="DELETE")
            if status != 200:
                failures.append(f"DELETE on B: {status} {answer.strip()}")
            if not wait_for("A to stop matching the removed card",
                            lambda: check_card(a, "acct-shared-probe-3").get("decision") == "allow", 5):
                failures.append(f"removed card: A says {check_card(a, 'acct-shared-probe-3')}")

        # Overrides: set on one node, hold on the other at once.
        victim, freed, unseen = clean[0]["account_id"], blocked[0]["account_id"], "acct-never-seen-zz"

        def override(node, account, action):
            status, answer = http(node, f"/v1/accounts/{account}/override",
                                  json.dumps({"action": action, "by": "test", "reason": "serve --nats test"}).encode())
            if status != 200:
                failures.append(f"override {action} {account}: {status} {answer.strip()}")

        t_override = time.time()
        override(a, victim, "block")
        override(a, freed, "allow")
        override(a, unseen, "block")
        for account, want in ((victim, "block"), (freed, "allow"), (unseen, "block")):
            if not wait_for(f"B to answer {want} for {account}", lambda: check(b, account).get("decision") == want, 2):
                failures.append(f"override {want} on A for {account}: B says {check(b, account)} after 2 s")
        held_s = time.time() - t_override
        # The correlator applied the block too (Engine::SetOverride): its own
        # value for the account in dg_verdicts says block.
        if not wait_for(f"the correlator's verdict for {victim} to be block",
                        lambda: (kv_get(port, "dg_verdicts", victim) or {}).get("verdict") == "block", 10):
            failures.append(f"dg_verdicts for {victim} after the block override: {kv_get(port, 'dg_verdicts', victim)}")
        override(b, victim, "clear")
        if not wait_for(f"A to give {victim} back to the detector",
                        lambda: check(a, victim).get("decision") == "allow", 5):
            failures.append(f"clear on B: A says {check(a, victim)}")
        if not wait_for(f"the correlator's verdict for {victim} to be allow again",
                        lambda: (kv_get(port, "dg_verdicts", victim) or {}).get("verdict") == "allow", 10):
            failures.append(f"dg_verdicts for {victim} after the clear: {kv_get(port, 'dg_verdicts', victim)}")
        status, answer = http(a, "/readyz")
        if status != 200:
            failures.append(f"A /readyz: {status} {answer}")
        # Prompt text at rest: the workers erase digested event messages, the
        # sequencer intake messages numbered --intake-keep (1 s) ago.
        for stream in ("DG_EVENTS", "DG_INTAKE"):
            if not wait_for(f"{stream} to be erased", lambda: stream_messages(port, stream) == 0, 15):
                failures.append(f"{stream} still holds {stream_messages(port, stream)} messages after every event was "
                                f"applied")
        print(f"{len(lines)} events through A in {ingest_s:.2f}s ({len(lines) / ingest_s:.0f}/s); "
              f"B agrees with scan on {agree}/{len(scanned)} accounts ({len(blocked)} blocked campaign members, "
              f"{with_campaign} of them with their campaign, "
              f"{len(clean)} clean); new accounts on {len(probes)} accounts' card and address: B answers as "
              f"single-process serve for {new_same} ({new_blocked} block, {new_challenged} challenge; "
              f"{table_values:.0f} values watched); B's replica: {len(camps_b)} campaigns as C, accounts as C for "
              f"{replica_same}/200; three overrides held on B within {held_s:.2f}s")
        return report(failures)
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


def report(failures):
    for f in failures[:20]:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
