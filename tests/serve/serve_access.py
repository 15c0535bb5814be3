#!/usr/bin/env python3
"""Model access rules in serve (issue #20), with the real binary on
127.0.0.1 port 0: --access-rules FILE with a model catalogue; /v1/check and
ext_authz return the stricter of the detector's decision and the rules',
naming the rule; the customer's answer carries no detector internals; a
dry-run rule allows and is audited as "would_..."; a hot reload (API, then
SIGHUP) changes decisions without a restart and is audited with who and
the file's hash; a bad file keeps the old rules and says why; the audit's
hash chain verifies and survives a restart.

Usage: serve_access.py DISTILLGUARD_BINARY
"""
import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dgtest  # noqa: E402
from dgtest import check  # noqa: E402

BIN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="dg_serve_access_")
GATEWAY, ANALYST = "gw-" + str(os.getpid()), "an-" + str(os.getpid())
# Words and fields that would tell a client how the detector judged it.
DETECTOR_WORDS = ("score", "campaign", "reasons", "analyst_override", "detector", "suspicious")

CATALOGUE = """format = 1
[models]
"atlas-3" = 2025-02-01
"atlas-4-pro" = 2026-06-01
"""


def rules(version, allowed, extra=""):
    return f"""format = 1
version = "{version}"
catalogue = "models.toml"

[[rule]]
id = "export-newest"
released_after = 2026-01-01
effect = "deny_model"
customer_reason = "This model is not available for your account's jurisdiction."
audit_reason = "Directive 2026/17: newest models for verified persons in allowed jurisdictions only"
[rule.require]
verified_country_in = {json.dumps(allowed)}
verification_level_at_least = 2

[[rule]]
id = "unverified-no-reasoning"
mode = "dry_run"
models = ["atlas-*"]
effect = "withhold_reasoning"
customer_reason = "Reasoning traces need a verified account."
audit_reason = "planned: reasoning traces for verified accounts only"
[rule.require]
verification_level_at_least = 1

[[rule]]
id = "held-accounts"
models = ["*"]
effect = "deny_model"
customer_reason = "Access to this model is suspended for your account."
audit_reason = "blocked accounts lose every model"
[rule.when]
detector_decision_in = ["block"]
labels_any = ["held"]

[[rule]]
id = "trial-cap"
models = ["atlas-3"]
effect = "cap_output_tokens"
cap_output_tokens = 2048
customer_reason = "Trial accounts are limited to 2048 output tokens."
audit_reason = "trial accounts"
[rule.when]
labels_any = ["trial"]
{extra}"""


ACCOUNTS = """account_id,verified_country,verification_level,labels,created_at
ok-us,US,3,,2025-01-01T00:00:00Z
foreign,CN,3,,2025-01-01T00:00:00Z
low-level,US,1,,2025-01-01T00:00:00Z
held,US,3,held,2025-01-01T00:00:00Z
trial,US,3,trial,2025-01-01T00:00:00Z
"""


def write(name, text):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def verify_chain(lines):
    prev = "0" * 64
    for line in lines:
        rec = json.loads(line)
        if rec["prev"] != prev:
            return f"seq {rec['seq']}: prev does not link"
        suffix = ',"hash":"' + rec["hash"] + '"}'
        if not line.endswith(suffix):
            return f"seq {rec['seq']}: hash is not the last member"
        body = line[: -len(suffix)] + "}"
        if hashlib.sha256(body.encode()).hexdigest() != rec["hash"]:
            return f"seq {rec['seq']}: hash does not match"
        prev = rec["hash"]
    return None


def audit(s, since=0):
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    conn.request("GET", f"/v1/access/audit?since={since}", headers={"Authorization": "Bearer " + ANALYST})
    r = conn.getresponse()
    text = r.read().decode()
    conn.close()
    assert r.status == 200 and r.getheader("Content-Type") == "application/x-ndjson", (r.status, text)
    lines = [line for line in text.splitlines() if line]
    return lines, [json.loads(line) for line in lines]


def client_keys_clean(body):
    text = json.dumps(body)
    return all(w not in text for w in DETECTOR_WORDS)


def main():
    data = os.path.join(WORK, "data")
    write("models.toml", CATALOGUE)
    rules_path = write("rules.toml", rules("1", ["US", "GB"]))
    acc = write("accounts.csv", ACCOUNTS)
    tokens = ["--gateway-token-file", write("gw", GATEWAY + "\n"), "--analyst-token-file", write("an", ANALYST + "\n")]
    s = dgtest.Server(BIN, WORK, data, tokens + ["--accounts", acc, "--access-rules", rules_path])

    def gw(account, model):
        return s.request("POST", "/v1/check", json.dumps({"account_id": account, "model": model}), token=GATEWAY)

    def an(account, model):
        return s.request("POST", "/v1/check", json.dumps({"account_id": account, "model": model}), token=ANALYST)

    # Enforced rule: the newest model only for verified persons in allowed countries.
    st, body, _ = gw("ok-us", "atlas-4-pro")
    check(st == 200 and body["decision"] == "allow", f"verified US account, newest model: allow ({body})")
    st, body, _ = gw("foreign", "atlas-4-pro")
    check(body["decision"] == "block" and body["reason"] == "model_not_available" and body.get("rule_id") == "export-newest"
          and "jurisdiction" in body.get("message", ""), f"verified CN account, newest model: blocked naming the rule ({body})")
    check(set(body) <= {"decision", "reason", "ttl_s", "rule_id", "message"} and client_keys_clean(body),
          f"the customer's answer has no detector internals ({sorted(body)})")
    st, body, _ = gw("foreign", "atlas-3")
    check(body["decision"] == "allow", f"the same account on an older model: allow ({body})")
    st, body, _ = gw("nobody-knows", "atlas-4-pro")
    check(body["decision"] == "block" and body.get("rule_id") == "export-newest",
          f"an account with no attributes counts as not verified: blocked ({body})")
    st, body, _ = gw("low-level", "atlas-4-pro")
    check(body["decision"] == "block", f"verification level 1 < 2: blocked ({body})")
    # The analyst sees the detector and the rule.
    st, body, _ = an("foreign", "atlas-4-pro")
    check(body["decision"] == "block" and body["access"]["rule_id"] == "export-newest" and body["access"]["decided"] is True
          and "score" in body, f"the analyst's answer has the rule and the detector's fields ({body})")
    # Cap.
    st, body, _ = gw("trial", "atlas-3")
    check(body["decision"] == "allow" and body.get("max_output_tokens") == 2048 and body.get("rule_id") == "trial-cap",
          f"a cap rides along an allow ({body})")

    # ext_authz: 403 with the rule named in a header.
    st, body, r = s.request("GET", "/v1/authz/v1/chat", token=GATEWAY, headers={"x-account-id": "foreign", "x-model": "atlas-4-pro"})
    check(st == 403 and r.getheader("x-distillguard-rule") == "export-newest" and client_keys_clean(body),
          f"ext_authz: 403 naming the rule, no detector internals ({st} {body})")
    st, body, r = s.request("GET", "/v1/authz/v1/chat", token=GATEWAY, headers={"x-account-id": "trial", "x-model": "atlas-3"})
    check(st == 200 and r.getheader("x-distillguard-max-output-tokens") == "2048", f"ext_authz: the cap as a header ({st})")

    # The stricter of detector and rule wins. An analyst's block makes the detector say block.
    for account in ("ok-us", "held"):
        st, body, _ = s.request("POST", f"/v1/accounts/{account}/override",
                                json.dumps({"action": "block", "by": "t", "reason": "test"}), token=ANALYST)
        check(st == 200, f"override block {account} ({st})")
    st, body, _ = gw("ok-us", "atlas-3")
    check(body["decision"] == "block" and body["reason"] == "access_denied" and "rule_id" not in body,
          f"detector block, no rule applies: the detector's block ({body})")
    st, body, _ = gw("low-level", "atlas-3")
    check(body["decision"] == "allow", f"a dry-run rule allows ({body})")
    # held: the detector blocks, and a rule reading the detector denies too: at equal strictness
    # the rule's text is given but its id is not (it reads the detector's verdict).
    st, body, _ = gw("held", "atlas-3")
    check(body["decision"] == "block" and "rule_id" not in body and "suspended" in body.get("message", "")
          and client_keys_clean(body), f"a rule reading the detector is not named to the customer ({body})")
    st, body, _ = an("held", "atlas-3")
    check(body["access"]["rule_id"] == "held-accounts" and body["access"]["shown_to_customer"] is False,
          f"... but is named to the analyst ({body.get('access')})")
    # A withhold rule never weakens a detector block.
    st, body, _ = gw("ok-us", "atlas-4-pro")
    check(body["decision"] == "block", f"detector block and an allowing rule: block ({body})")

    # Audit so far: enforced and dry-run decisions with attributes as evaluated.
    lines, recs = audit(s)
    check(recs and recs[0]["kind"] == "reload" and recs[0]["via"] == "start" and recs[0]["ok"] is True
          and recs[0]["rules"]["sha256"] == hashlib.sha256(open(rules_path, "rb").read()).hexdigest(),
          f"the audit starts with the load at start, with the file's SHA-256 ({recs[0] if recs else None})")
    denied = [r for r in recs if r["kind"] == "decision" and r["account_id"] == "foreign" and r["rule_id"] == "export-newest"]
    check(denied and denied[0]["outcome"] == "deny_model" and denied[0]["attributes"]["verified_country"] == "CN"
          and denied[0]["attributes"]["verification_level"] == 3 and denied[0]["rules"]["version"] == "1"
          and denied[0]["model"] == "atlas-4-pro" and "Directive" in denied[0]["audit_reason"],
          f"a denial is audited with the rule, version and attributes ({denied[:1]})")
    unknown = [r for r in recs if r["kind"] == "decision" and r["account_id"] == "nobody-knows"]
    check(unknown and unknown[0]["attributes"]["known"] is False
          and set(unknown[0]["missing"]) == {"verified_country", "verification_level"},
          f"an unknown account's record says which attributes were missing ({unknown[:1]})")
    dry = [r for r in recs if r["kind"] == "decision" and r["rule_id"] == "unverified-no-reasoning"]
    check(any(r["account_id"] == "nobody-knows" and r["outcome"] == "would_withhold_reasoning" and r["decision"] == "block" for r in dry),
          f"dry-run rules are audited as would_... ({[(r['account_id'], r['outcome']) for r in dry]})")
    check(not any(r["kind"] == "decision" and r["account_id"] == "ok-us" and r["model"] == "atlas-4-pro"
                  and r["decision"] == "allow" for r in recs), "an allowed check leaves no record")
    check(verify_chain(lines) is None, f"the audit's hash chain verifies ({verify_chain(lines)})")

    # Roles: the gateway can neither reload nor read the audit.
    st, _, _ = s.request("POST", "/v1/access/reload", json.dumps({"by": "gw"}), token=GATEWAY)
    check(st == 403, f"the gateway token cannot reload ({st})")
    st, _, _ = s.request("GET", "/v1/access/audit", token=GATEWAY)
    check(st == 403, f"the gateway token cannot read the audit ({st})")
    st, body, _ = s.request("POST", "/v1/access/reload", "{}", token=ANALYST)
    check(st == 400 and "by" in body["error"], f"a reload must say who ({st} {body})")

    # Hot reload through the API: the US is no longer allowed.
    write("rules.toml", rules("2", ["GB"]))
    st, body, _ = s.request("POST", "/v1/access/reload", json.dumps({"by": "alice", "reason": "GB only"}), token=ANALYST)
    check(st == 200 and body["rules"]["version"] == "2", f"reload via the API ({st} {body})")
    st, body, _ = gw("trial", "atlas-4-pro")
    check(body["decision"] == "block" and body.get("rule_id") == "export-newest", f"after the reload, US accounts are denied ({body})")
    st, body, _ = s.request("GET", "/v1/access/rules", token=ANALYST)
    check(body["version"] == "2" and body["rules"] == 4 and body["dry_run"] == 1, f"/v1/access/rules ({body})")

    # A bad file keeps the old rules and says why.
    write("rules.toml", rules("3", ["GB"]).replace("verification_level_at_least = 2", "verification_level_at_least = \"two\""))
    st, body, _ = s.request("POST", "/v1/access/reload", json.dumps({"by": "bob"}), token=ANALYST)
    check(st == 422 and "rules.toml:" in body["error"] and "verification_level_at_least" in body["error"]
          and "unchanged: version 2" in body["error"], f"a bad file is refused with file:line and key ({st} {body})")
    st, body, _ = gw("trial", "atlas-4-pro")
    check(body["decision"] == "block", f"... and the rules in force stay ({body})")

    # SIGHUP reloads too.
    write("rules.toml", rules("4", ["US", "GB"]))
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    version = None
    while time.time() < deadline:
        _, body, _ = s.request("GET", "/v1/access/rules", token=ANALYST)
        version = body["version"]
        if version == "4":
            break
        time.sleep(0.05)
    check(version == "4", f"SIGHUP reloaded the rules ({version})")
    st, body, _ = gw("trial", "atlas-4-pro")
    check(body["decision"] == "allow", f"after SIGHUP, US accounts are allowed again, no restart ({body})")

    lines, recs = audit(s)
    reloads = [r for r in recs if r["kind"] == "reload"]
    check([(r["by"], r["ok"]) for r in reloads][1:] == [("alice", True), ("bob", False), (reloads[-1]["by"], True)]
          and reloads[-1]["via"] == "SIGHUP" and reloads[-1]["by"].startswith("pid ")
          and reloads[1]["previous"]["version"] == "1" and reloads[1]["rules"]["version"] == "2"
          and reloads[2]["error"].startswith(rules_path + ":") and len(reloads[2]["file_sha256"]) == 64,
          f"every reload is audited: who, how, the hashes, the refusal ({[(r['by'], r['via'], r['ok']) for r in reloads]})")
    check(verify_chain(lines) is None, "the chain still verifies")
    before = lines
    check(s.metric("distillguard_access_audit_dropped_total") == 0, "no audit record dropped")
    check(s.stop() == 0, "serve stops cleanly")

    # Restart: the audit is all there and the chain goes on.
    s = dgtest.Server(BIN, WORK, data, tokens + ["--access-rules", rules_path])
    st, body, _ = gw("foreign", "atlas-4-pro")
    check(body["decision"] == "block", f"after a restart the rules apply ({body})")
    lines, recs = audit(s)
    check(lines[: len(before)] == before, "after a restart the audit holds every earlier record, byte for byte")
    check(len(lines) >= len(before) + 2 and verify_chain(lines) is None, "... and the chain goes on across the restart")
    tail = audit(s, since=recs[-1]["seq"] - 1)[1]
    check(len(tail) == 1 and tail[0]["seq"] == recs[-1]["seq"], "?since=SEQ returns the later records only")
    # Tampering is visible.
    tampered = list(lines)
    tampered[3] = tampered[3].replace('"CN"', '"GB"') if '"CN"' in tampered[3] else tampered[3].replace('"seq"', '"seq" ', 1)
    check(verify_chain(tampered) is not None, "an edited record breaks the chain")
    s.stop()

    # A bad rules file at start: serve refuses to start, naming file:line.
    write("bad.toml", 'version = "1"\n[[rule]]\nid = "x"\nmodels = ["m"]\neffect = "deny"\n')
    p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", os.path.join(WORK, "data2"),
                        "--access-rules", os.path.join(WORK, "bad.toml")], capture_output=True, text=True, timeout=60)
    check(p.returncode != 0 and "bad.toml:5: key 'rule[1].effect'" in p.stderr, f"a bad file at start: refused ({p.returncode} {p.stderr.strip()})")


dgtest.run(main, WORK, "serve access")
