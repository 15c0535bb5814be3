#!/usr/bin/env python3
"""Account enrichment in serve (issue #17), with the real binary on
127.0.0.1 port 0: serve --accounts FILE at start, PUT /v1/accounts (CSV,
JSONL, JSON array; analyst role), attributes joined to later events (seen in
the field coverage of /metrics), a bad body refused whole with file:line,
and everything still there after a restart (SQLite store).

Usage: serve_accounts.py DISTILLGUARD_BINARY
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dgtest  # noqa: E402
from dgtest import check  # noqa: E402

BIN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="dg_serve_accounts_")
GATEWAY, ANALYST = "gw-" + str(os.getpid()), "an-" + str(os.getpid())
N = [0]


def events(*accounts):
    lines = []
    for a in accounts:
        N[0] += 1
        lines.append(json.dumps({"ts": 1775001600 + N[0], "request_id": f"r{N[0]}", "account_id": a,
                                 "messages": [{"role": "user", "content": "hello"}]}))
    return "\n".join(lines) + "\n"


def coverage(s, field):
    _, text, _ = s.request("GET", "/metrics", token=None)
    for line in text.splitlines():
        if line.startswith(f'distillguard_field_coverage{{field="{field}"}} '):
            return float(line.split()[1])
    return None


def token_file(name, value):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(value + "\n")
    return path


def main():
    data = os.path.join(WORK, "data")
    start_file = os.path.join(WORK, "start.csv")
    with open(start_file, "w") as f:
        f.write("account_id,payment_fingerprint,org_id,org_verified\nfrom-file,pm_file,org-f,true\n")
    tokens = ["--gateway-token-file", token_file("gw", GATEWAY), "--analyst-token-file", token_file("an", ANALYST)]
    s = dgtest.Server(BIN, WORK, data, tokens + ["--accounts", start_file])
    check(s.metric("distillguard_enrichment_accounts") == 1, "serve --accounts: one account loaded at start")

    st, body, _ = s.request("PUT", "/v1/accounts", "account_id,payment_fingerprint\nx,pm_x\n", token=GATEWAY)
    check(st == 403, f"PUT /v1/accounts needs the analyst role ({st})")
    st, body, _ = s.request("PUT", "/v1/accounts",
                            "account_id,created_at,payment_fingerprint,email_domain\n"
                            "acct-1,2026-03-01T00:00:00Z,pm_1,example.com\nacct-2,,pm_2,\n", token=ANALYST)
    check(st == 200 and body == {"upserted": 2}, f"PUT CSV: 2 upserted ({st} {body})")
    st, body, _ = s.request("PUT", "/v1/accounts", json.dumps([{"account_id": "acct-3", "payment_fingerprint": "pm_3"}]),
                            token=ANALYST)
    check(st == 200 and body == {"upserted": 1}, f"PUT JSON array: 1 upserted ({st} {body})")
    st, body, _ = s.request("PUT", "/v1/accounts", '{"account_id":"acct-4"}\n{"account_id":"acct-5","org_verified":"perhaps"}\n',
                            token=ANALYST)
    check(st == 400 and "request:2: column 'org_verified'" in body["error"], f"bad body: 400 naming line and column ({st} {body})")
    check(s.metric("distillguard_enrichment_accounts") == 4, "a refused body applies nothing (acct-4 not added)")
    st, body, _ = s.request("GET", "/v1/accounts", token=ANALYST)
    check(st == 405, f"GET /v1/accounts: 405 ({st})")

    st, body, _ = s.request("POST", "/v1/events", events("acct-1", "acct-2", "acct-3", "from-file"), token=GATEWAY)
    check(st == 200 and body["accepted"] == 4, f"events accepted ({st} {body})")
    check(coverage(s, "payment_fingerprint") == 1.0, "every event joined with its account's payment fingerprint")
    check(coverage(s, "org_verified") == 0.25, "org_verified from the start file on from-file's event")
    st, body, _ = s.request("POST", "/v1/events", events("stranger"), token=GATEWAY)
    check(coverage(s, "payment_fingerprint") == 0.8, "an unknown account is not enriched")
    s.stop()

    s = dgtest.Server(BIN, WORK, data, tokens)
    check(s.metric("distillguard_enrichment_accounts") == 4, "after a restart the 4 accounts are still there")
    st, body, _ = s.request("POST", "/v1/events", events("acct-2", "acct-3"), token=GATEWAY)
    check(st == 200 and coverage(s, "payment_fingerprint") == 1.0, "after a restart events are still joined")
    # An update keeps what it does not mention.
    st, body, _ = s.request("PUT", "/v1/accounts", '{"account_id":"acct-2","country":"DE"}\n', token=ANALYST)
    check(st == 200, f"upsert of one field ({st} {body})")
    s.stop()
    s = dgtest.Server(BIN, WORK, data, tokens)
    s.request("POST", "/v1/events", events("acct-2"), token=GATEWAY)
    check(coverage(s, "payment_fingerprint") == 1.0 and coverage(s, "country") == 1.0,
          "after a second restart acct-2 has both its old payment fingerprint and its new country")
    s.stop()


dgtest.run(main, WORK, "serve accounts")
