#!/usr/bin/env python3
"""The console's API without a browser (issue #19): cases and their outcome
feeding back (false positive -> allow override and a policy hint), the
decision log (non-allow answers durable, allows counted per hour, search,
paging), retention (--decision-log-days), everything across a SIGTERM
restart and a kill -9; access (roles, sessions, CSRF, login rate limit).

usage: console_api_test.py DISTILLGUARD
"""
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dgtest  # noqa: E402
from dgtest import check  # noqa: E402

BINARY = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="dg-console-api-")
DATA = os.path.join(WORK, "data")
GATEWAY = "api-test-gateway-token-000001"
ANALYST = "api-test-analyst-token-000001"


SERVERS = []


def start(extra=()):
    srv = dgtest.Server(BINARY, WORK, DATA, extra=["--gateway-token-file", os.path.join(WORK, "gw"), "--analyst-token-file",
                                                  os.path.join(WORK, "an"), *extra])
    srv.token = ANALYST
    SERVERS.append(srv)
    return srv


def raw(srv, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = data
    return r.status, parsed, r


def main():
    for name, token in (("gw", GATEWAY), ("an", ANALYST)):
        with open(os.path.join(WORK, name), "w") as f:
            f.write(token + "\n")
    demo = os.path.join(WORK, "demo")
    subprocess.run([BINARY, "simulate", "--scenario", "demo", "--seed", "7", "--out", demo], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv = start()
    with open(os.path.join(demo, "events.jsonl"), "rb") as f:
        status, body, _ = srv.request("POST", "/v1/events", f.read(), token=GATEWAY, timeout=300)
    check(status == 200, "demo ingested")

    # Access.
    check(srv.request("GET", "/v1/cases", token=None)[0] == 401, "no token: 401")
    check(srv.request("GET", "/v1/cases", token=GATEWAY)[0] == 403, "gateway token: 403 on the console's routes")
    check(srv.request("GET", "/v1/decisions", token=GATEWAY)[0] == 403, "gateway token: 403 on the decision log")
    check(srv.request("GET", "/ui/", token=None)[0] == 200, "the app itself is open")
    _, session, _ = srv.request("GET", "/ui/api/session", token=None)
    check(session == {"analyst": "", "csrf": ""}, "no session: analyst is empty")

    _, camps, _ = srv.request("GET", "/v1/console/campaigns")
    scores = [c["score"] for c in camps["campaigns"]]
    check(scores == sorted(scores, reverse=True) and len(scores) > 0, f"campaigns ranked by score ({len(scores)})")
    top = camps["campaigns"][0]
    _, page, _ = srv.request("GET", "/v1/console/campaigns/" + top["campaign_id"])
    check(len(page["nodes"]) == top["account_count"], "campaign page: a node per member")
    check(all(e["verdict"] in ("block", "review", "allow", "mixed") for e in page["edges"]) and len(page["edges"]) > 0,
          "campaign page: edges carry the shared indicator and a verdict colour")
    check(all(e["kind"] and e["value"] for e in page["edges"]), "edges are labelled with the indicator")
    check(all(len(v["accounts"]) >= 2 for v in page["indicator_accounts"]), "indicators with per-account counts")
    check(page["scan"]["complete"], "the whole (small) log was read for tokens per day")
    check(sum(d["output_tokens"] for d in page["tokens_per_day"]) > 0, "output tokens per day")
    check(srv.request("GET", "/v1/console/campaigns/nope")[0] == 404, "unknown campaign: 404")

    # Verdict history: recorded at each change (not sampled).
    member = page["nodes"][0]["id"]
    _, acct, _ = srv.request("GET", "/v1/console/accounts/" + member)
    check(len(acct["verdict_history"]) >= 1 and acct["verdict_history"][-1]["verdict"] == acct["decided"]["verdict"],
          "verdict history ends with the latest change")
    check(acct["timeline"]["complete"] and len(acct["timeline"]["events"]) > 0, "account timeline from the log")
    check(all("text" not in e and "prompt" not in e for e in acct["timeline"]["events"]), "timeline carries digests, not text")

    # Cases.
    status, case, _ = srv.request("POST", "/v1/cases", json.dumps({"subject_kind": "campaign", "subject_id": top["campaign_id"],
                                                                  "title": "<script>alert(1)</script>", "assignee": "bob"}))
    check(status == 201 and case["status"] == "open" and case["title"] == "<script>alert(1)</script>", "campaign case opened (title kept as text)")
    cid = case["case_id"]
    check(srv.request("POST", "/v1/cases", json.dumps({"subject_kind": "org", "subject_id": "x"}))[0] == 400, "bad subject kind: 400")
    check(srv.request("POST", "/v1/cases", json.dumps({"subject_kind": "account", "subject_id": "nobody"}))[0] == 404, "unknown account: 404")
    check(srv.request("PATCH", "/v1/cases/" + cid, json.dumps({"status": "done"}))[0] == 400, "unknown status: 400")
    check(srv.request("PATCH", "/v1/cases/" + cid, json.dumps({"status": "false_positive"}))[0] == 400, "false positive needs an outcome")
    status, case, _ = srv.request("PATCH", "/v1/cases/" + cid, json.dumps({"status": "investigating", "note": "card issuer asked"}))
    check(status == 200 and case["status"] == "investigating" and [e["kind"] for e in case["events"]] == ["opened", "status", "note"],
          "status change and note recorded")
    status, case, _ = srv.request("POST", "/v1/cases/" + cid + "/notes", json.dumps({"text": "second note"}))
    check(status == 200 and case["events"][-1]["text"] == "second note", "note added")
    check(srv.request("POST", "/v1/cases/" + cid + "/notes", json.dumps({"text": "  "}))[0] == 400, "blank note: 400")
    check(srv.request("GET", "/v1/cases/case-999")[0] == 404 and srv.request("GET", "/v1/cases/abc")[0] == 400, "unknown / bad case id")

    # An account case closed as a false positive: allowed, and a policy hint.
    fp_account = page["nodes"][-1]["id"]
    _, fpcase, _ = srv.request("POST", "/v1/cases", json.dumps({"subject_kind": "account", "subject_id": fp_account}))
    status, fpcase, _ = srv.request("PATCH", "/v1/cases/" + fpcase["case_id"],
                                    json.dumps({"status": "false_positive", "outcome": "a university lab, verified"}))
    check(status == 200 and fpcase["status"] == "false_positive", "account case: false positive")
    _, d, _ = srv.check(account_id=fp_account)
    check(d["decision"] == "allow" and "analyst_override" in d["reasons"], "false positive -> allow override in /v1/check")
    _, hints, _ = srv.request("GET", "/v1/policy-hints")
    check(any(h["subject_id"] == fp_account and h["reasons"] for h in hints["hints"]), "policy hint recorded with the reasons that fired")
    _, acct, _ = srv.request("GET", "/v1/console/accounts/" + fp_account)
    check(acct["overrides"][-1]["by"] == "analyst" and fpcase["case_id"] in acct["overrides"][-1]["reason"], "override names the case")
    check(acct["verdict_history"][-1]["verdict"] == "allow", "the override is a verdict change in the history")

    # Decision log: blocks durable, allows counted.
    blocked = page["nodes"][1]["id"]
    status, _, _ = srv.request("POST", "/v1/review/" + blocked, json.dumps({"action": "block", "reason": "ring member"}))
    check(status == 200, "review: block")
    check(srv.request("POST", "/v1/review/" + blocked, json.dumps({"action": "block"}))[0] == 400, "review without a reason: 400")
    check(srv.request("POST", "/v1/review/" + blocked, json.dumps({"action": "delete", "reason": "x"}))[0] == 400, "unknown review action: 400")
    for _ in range(3):
        srv.request("POST", "/v1/check", json.dumps({"account_id": blocked, "model": "atlas-3-pro"}), token=GATEWAY)
    s, authz, _ = raw(srv, "GET", "/v1/authz/x", headers={"Authorization": "Bearer " + GATEWAY, "x-account-id": blocked})
    check(s == 403, "ext_authz blocks it too")
    for _ in range(4):
        srv.request("POST", "/v1/check", json.dumps({"account_id": "acct_new_and_clean"}), token=GATEWAY)
    _, dl, _ = srv.request("GET", "/v1/decisions?account=" + blocked)
    check(len(dl["decisions"]) == 4 and all(r["decision"] == "block" for r in dl["decisions"]), "4 blocks logged (3 check, 1 authz)")
    check({r["source"] for r in dl["decisions"]} == {"check", "authz"}, "sources: check and authz")
    check(all("analyst_override" in r["reasons"] and r["policy_version"] >= 1 for r in dl["decisions"]), "reasons and policy version kept")
    _, dl, _ = srv.request("GET", "/v1/decisions?account=acct_new_and_clean")
    check(dl["decisions"] == [] and sum(a["allows"] for a in dl["allow_counts"]) == 4, "allows counted per hour, not logged one by one")
    _, dl, _ = srv.request("GET", "/v1/decisions?decision=block&limit=2")
    check(len(dl["decisions"]) == 2 and dl["next_before"] is not None, "paging: limit and next_before")
    _, dl2, _ = srv.request("GET", f"/v1/decisions?decision=block&limit=2&before={dl['next_before']}")
    check(len(dl2["decisions"]) == 2 and dl2["decisions"][0]["id"] < dl["decisions"][-1]["id"], "paging: the next page is older")
    _, dl, _ = srv.request("GET", "/v1/decisions?since=2099-01-01T00:00:00Z")
    check(dl["decisions"] == [], "since in the future: nothing")
    check(srv.request("GET", "/v1/decisions?acount=x")[0] == 400, "unknown query parameter: 400")
    check(srv.request("GET", "/v1/decisions?limit=0")[0] == 400, "limit out of range: 400")
    check(srv.request("GET", "/v1/decisions?decision=allow")[0] == 400, "allow is not a logged decision: 400")

    # Sessions and CSRF.
    status, login, r = raw(srv, "POST", "/ui/api/login", json.dumps({"token": ANALYST}))
    cookie = r.getheader("Set-Cookie")
    check(status == 200 and "HttpOnly" in cookie and "SameSite=Strict" in cookie, "login: HttpOnly SameSite=Strict cookie")
    sid = cookie.split(";")[0]
    csrf = login["csrf"]
    check(raw(srv, "GET", "/v1/cases", headers={"Cookie": sid})[0] == 200, "cookie reads")
    body = json.dumps({"subject_kind": "campaign", "subject_id": top["campaign_id"]})
    check(raw(srv, "POST", "/v1/cases", body, {"Cookie": sid})[0] == 403, "cookie write without CSRF token: 403")
    check(raw(srv, "POST", "/v1/cases", body, {"Cookie": sid, "X-CSRF-Token": "0" * 64})[0] == 403, "wrong CSRF token: 403")
    check(raw(srv, "POST", "/v1/cases", body, {"Cookie": sid, "X-CSRF-Token": csrf, "Origin": "http://evil.example"})[0] == 403,
          "cross-origin write: 403")
    check(raw(srv, "POST", "/v1/cases", body, {"Cookie": sid, "X-CSRF-Token": csrf})[0] == 201, "cookie + CSRF token writes")
    check(raw(srv, "POST", "/ui/api/logout", "{}", {"Cookie": sid, "X-CSRF-Token": csrf})[0] == 200, "logout")
    check(raw(srv, "GET", "/v1/cases", headers={"Cookie": sid})[0] == 401, "the session is gone after logout")
    codes = [raw(srv, "POST", "/ui/api/login", json.dumps({"token": "wrong-%d" % i}))[0] for i in range(8)]
    check(codes[:3] == [401, 401, 401] and 429 in codes, f"login attempts rate-limited ({codes})")
    s, _, r = raw(srv, "GET", "/ui/")
    check("script-src 'self'" in (r.getheader("Content-Security-Policy") or ""), "CSP header on the app")
    check(r.getheader("X-Frame-Options") == "DENY" and r.getheader("X-Content-Type-Options") == "nosniff", "no framing, no sniffing")
    s, _, r = raw(srv, "GET", "/v1/cases", headers={"Authorization": "Bearer " + ANALYST})
    check("frame-ancestors 'none'" in (r.getheader("Content-Security-Policy") or "") and r.getheader("Cache-Control") == "no-store",
          "API answers: CSP and no-store")

    # Restart (SIGTERM): cases, decisions, hints, audit and verdict history kept.
    _, cases_before, _ = srv.request("GET", "/v1/cases")
    _, hist_before, _ = srv.request("GET", "/v1/console/accounts/" + member)
    _, audit_before, _ = srv.request("GET", "/v1/audit")
    srv.stop()
    srv = start()
    _, cases_after, _ = srv.request("GET", "/v1/cases")
    check(cases_after == cases_before, "cases identical after a restart")
    _, hist_after, _ = srv.request("GET", "/v1/console/accounts/" + member)
    check(hist_after["verdict_history"] == hist_before["verdict_history"], "verdict history rebuilt identically on replay")
    _, dl, _ = srv.request("GET", "/v1/decisions?account=" + blocked)
    check(len(dl["decisions"]) == 4, "decision log kept across a restart")
    _, audit_after, _ = srv.request("GET", "/v1/audit")
    check(audit_after["audit"][:len(audit_before["audit"])] == audit_before["audit"] or
          audit_after["audit"][-len(audit_before["audit"]):] == audit_before["audit"], "audit kept")
    _, d, _ = srv.check(account_id=fp_account)
    check(d["decision"] == "allow", "the false positive's allow survives the restart")

    # kill -9: decisions written by the background writer within its interval.
    srv.request("POST", "/v1/check", json.dumps({"account_id": blocked}), token=GATEWAY)
    time.sleep(1.0)
    srv.stop(signal.SIGKILL)
    srv = start()
    _, dl, _ = srv.request("GET", "/v1/decisions?account=" + blocked)
    check(len(dl["decisions"]) == 5, f"the block answered before kill -9 is logged ({len(dl['decisions'])} of 5)")
    srv.stop()

    # Retention: a row 3 days old is deleted at start with --decision-log-days 1.
    db = sqlite3.connect(os.path.join(DATA, "console.db"))
    old_ms = int((time.time() - 3 * 86400) * 1000)
    db.execute("INSERT INTO decisions(ts, account_id, decision, reasons, campaign_id, score, policy_version, source, model)"
               " VALUES(?, 'acct_old', 'block', '', '', 0, 1, 'check', '')", (old_ms,))
    db.execute("INSERT INTO allow_counts(account_id, hour, n) VALUES('acct_old', ?, 5)", (old_ms - old_ms % 3600000,))
    db.commit()
    db.close()
    srv = start(["--decision-log-days", "30"])
    _, dl, _ = srv.request("GET", "/v1/decisions?account=acct_old")
    check(len(dl["decisions"]) == 1 and dl["allow_counts"], "within 30 days: the old row is kept")
    srv.stop()
    srv = start(["--decision-log-days", "1"])
    _, dl, _ = srv.request("GET", "/v1/decisions?account=acct_old")
    check(dl["decisions"] == [] and dl["allow_counts"] == [] and dl["retention_days"] == 1, "past 1 day: deleted at start")
    _, dl, _ = srv.request("GET", "/v1/decisions?account=" + blocked)
    check(len(dl["decisions"]) == 5, "recent rows kept")
    srv.stop()


def main_then_stop():
    # A failed expectation that raises must not leave a server running.
    try:
        main()
    finally:
        for srv in SERVERS:
            if srv.proc.poll() is None:
                srv.proc.kill()
                srv.proc.wait()


if __name__ == "__main__":
    dgtest.run(main_then_stop, WORK, "console API")
