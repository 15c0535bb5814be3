#!/usr/bin/env python3
"""Issue #18 finding 13: a restart restores the same analyst state.

The real binary on 127.0.0.1 port 0. A simulated log (demo scenario, several
campaigns) is POSTed in batches; between batches an analyst allows one
attacker (before its first event) and clears that allow once its events are
in, and blocks another. Then /v1/campaigns and every campaign member's
/v1/accounts/{id} are fetched as raw bytes, serve is stopped (SIGTERM, and
then kill -9 on the second round) and started on the same data directory,
and both are fetched again: they must be byte-equal -- samples, content
indicators, member lists, first_flagged_at included.

Before the fix, campaigns lost the samples taken before they were confirmed
and every content indicator (the log keeps no text), and the overridden
account's first_flagged_at moved (overrides were replayed after the whole
log instead of where they were made).

Usage: serve_restart.py DISTILLGUARD_BINARY
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dgtest  # noqa: E402
from dgtest import check  # noqa: E402

BIN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="dg_serve_restart_")
TOKEN = "t0ken-restart-" + str(os.getpid())


def raw_get(srv, path):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    conn.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def snapshot(srv, accounts):
    """Raw bytes of /v1/campaigns and of each account's view."""
    status, campaigns = raw_get(srv, "/v1/campaigns")
    check(status == 200, f"GET /v1/campaigns answers 200 ({status})")
    views = {}
    for a in accounts:
        st, body = raw_get(srv, "/v1/accounts/" + a)
        views[a] = (st, body)
    return campaigns, views


def first_diff(a, b):
    n = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
    return f"first difference at byte {n}: {a[max(0, n - 80):n + 120]!r} vs {b[max(0, n - 80):n + 120]!r}"


def post_all(srv, lines, what):
    for start in range(0, len(lines), 1500):
        status, body, _ = srv.request("POST", "/v1/events", "".join(lines[start:start + 1500]))
        if status != 200 or body.get("rejected"):
            check(False, f"{what}: batch at line {start} accepted whole ({status} {str(body)[:200]})")
            return


def override(srv, account, action):
    status, body, _ = srv.request("POST", f"/v1/accounts/{account}/override",
                                  json.dumps({"action": action, "by": "restart-test", "reason": "finding 13"}))
    check(status == 200, f"override {action} on {account}: 200 ({status} {body})")


def main():
    sim = os.path.join(WORK, "sim")
    r = subprocess.run([BIN, "simulate", "--scenario", "demo", "--seed", "7", "--out", sim], capture_output=True, text=True)
    check(r.returncode == 0, f"simulate exits 0 ({r.stderr.strip()[-200:]})")
    events = os.path.join(sim, "events.jsonl")
    attackers = sorted({json.loads(l)["account_id"] for l in open(os.path.join(sim, "labels.jsonl"))
                        if json.loads(l)["label"] == "attack"})
    lines = open(events).read().splitlines(keepends=True)
    check(len(attackers) >= 4 and len(lines) > 1000, f"the simulated log has attackers ({len(attackers)}) and events ({len(lines)})")
    # The attacker to allow and then clear: one the evidence blocks (so its
    # first flag is the clear's time); the one to block: one it does not.
    r = subprocess.run([BIN, "scan", events, "--quiet", "--out", os.path.join(WORK, "scan")], capture_output=True, text=True)
    verdicts = {json.loads(l)["account_id"]: json.loads(l)["verdict"] for l in open(os.path.join(WORK, "scan", "accounts.jsonl"))}
    allowed = next(a for a in attackers if verdicts.get(a) == "block")
    blocked = next((a for a in attackers if verdicts.get(a) != "block"), attackers[-1])

    data = os.path.join(WORK, "data")
    srv = dgtest.Server(BIN, WORK, data, token=TOKEN)
    override(srv, allowed, "allow")  # before its first event
    half = len(lines) // 2
    post_all(srv, lines[:half], "first half")
    override(srv, blocked, "block")
    post_all(srv, lines[half:], "second half")
    override(srv, allowed, "clear")  # back to its evidence

    status, body, _ = srv.request("GET", "/v1/campaigns")
    campaigns = body["campaigns"] if status == 200 else []
    members = sorted({a for c in campaigns for a in c["accounts"]} | {allowed, blocked})
    with_samples = sum(1 for c in campaigns if c["samples"])
    content = sum(1 for c in campaigns for i in c["indicators"]
                  if i["kind"] in ("system_prompt", "prompt_template", "prompt_frame"))
    check(len(campaigns) >= 4, f"several campaigns before the restart ({len(campaigns)})")
    check(with_samples >= 3 and content >= 3,
          f"campaigns with samples ({with_samples}) and content indicators ({content}) before the restart")
    _, view = raw_get(srv, "/v1/accounts/" + allowed)
    acct = json.loads(view)
    check(acct["first_flagged_at"] is not None,
          f"the allowed-then-cleared attacker is flagged once cleared ({acct['verdict']} {acct['first_flagged_at']})")
    before = snapshot(srv, members)
    check(srv.stop() == 0, "SIGTERM: exit 0")

    for how in ("SIGTERM", "kill -9"):
        srv = dgtest.Server(BIN, WORK, data, token=TOKEN)
        after = snapshot(srv, members)
        check(after[0] == before[0],
              f"after a restart ({how} before it): /v1/campaigns byte-equal ({len(before[0])} bytes; "
              + ("same" if after[0] == before[0] else first_diff(before[0], after[0])) + ")")
        moved = [a for a in members if after[1][a] != before[1][a]]
        check(not moved, f"after a restart ({how}): every member's /v1/accounts/{{id}} byte-equal ({len(members)} accounts; "
              f"differ: {moved[:5]}" + (" " + first_diff(before[1][moved[0]][1], after[1][moved[0]][1]) if moved else "") + ")")
        if how == "SIGTERM":
            check(srv.stop() == 0, "SIGTERM after the first restart: exit 0")
        else:
            srv.stop(signal.SIGKILL)
    # Once more after the kill -9: still the same.
    srv = dgtest.Server(BIN, WORK, data, token=TOKEN)
    again = snapshot(srv, members)
    check(again == before, "a third start (after kill -9): the same bytes again")
    srv.stop()


dgtest.run(main, WORK, "serve restart")
