#!/usr/bin/env python3
"""STIX import through the real `distillguard serve` (127.0.0.1, port 0) and
`distillguard import --stix` (issue #18 findings 1 and 7): bundles with
50,000-character pattern literals, ids and created times are skipped or
refused and the service stays up (std::regex used to overflow the stack:
SIGSEGV); [A AND B] is not two indicators; the default trust is review (a
match is never a block), ?trust=block and the {"trust", "bundle"} envelope
block; GET /v1/indicators lists, DELETE /v1/indicators/{id} removes (analyst
role), and both survive a restart.

Usage: serve_stix.py DISTILLGUARD_BINARY
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dgtest  # noqa: E402
from dgtest import check  # noqa: E402

BIN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="dg_serve_stix_")
GATEWAY, ANALYST = "gw-" + str(os.getpid()), "an-" + str(os.getpid())
UID = "0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b"
BIG = "a" * 50000


def indicator(pattern, n=0, id=None, created="2026-11-01T00:00:00Z", **extra):
    o = {"type": "indicator", "spec_version": "2.1", "id": id or f"indicator--{n:08x}" + UID[8:],
         "created": created, "modified": "2026-11-01T00:00:00Z", "pattern": pattern, "pattern_type": "stix",
         "valid_from": "2026-11-01T00:00:00Z"}
    o.update(extra)
    return o


def bundle(*objects):
    return json.dumps({"type": "bundle", "id": "bundle--" + UID, "objects": list(objects)})


def token_file(name, value):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(value + "\n")
    return path


def check_as(s, account, ip=None, card=None):
    fields = {"account_id": account}
    if ip:
        fields["ip"] = ip
    if card:
        fields["payment_fingerprint"] = card
    return s.request("POST", "/v1/check", json.dumps(fields), token=ANALYST)[1]


def main():
    gw, an = token_file("gateway.token", GATEWAY), token_file("analyst.token", ANALYST)
    data = os.path.join(WORK, "data")
    args = ["--gateway-token-file", gw, "--analyst-token-file", an]
    s = dgtest.Server(BIN, WORK, data, args)

    def post(body, query=""):
        return s.request("POST", "/v1/indicators" + query, body, token=ANALYST)

    # Finding 1: 50k-character fields. Skipped or refused; never a crash.
    st, body, _ = post(bundle(indicator("[ipv4-addr:value = '" + BIG + "']")))
    check(st == 200 and body["imported"] == 0 and body["skipped"] == {"pattern over 4096 bytes": 1},
          f"50k-character pattern literal: skipped with its reason ({st} {str(body)[:200]})")
    st, body, _ = post(bundle(indicator("[ipv4-addr:value = '1.2.3.4']", id="indicator--" + BIG)))
    check(st == 400 and "id 'indicator--aaa" in body["error"] and "(50011 bytes)" in body["error"] and len(body["error"]) < 300,
          f"50k-character id: 400 naming the property, quoting a bounded prefix ({st} {str(body)[:300]})")
    st, body, _ = post(bundle(indicator("[ipv4-addr:value = '1.2.3.4']", created="2026-11-01T00:00:00." + "1" * 50000 + "Z")))
    check(st == 400 and "created" in body["error"] and len(body["error"]) < 300,
          f"50k-character created: 400 naming the property ({st} {str(body)[:300]})")
    escaped = "\\'" * 25000
    st, body, _ = post(bundle(indicator("[x-distillguard-payment:fingerprint = '" + escaped + "']")))
    check(st == 200 and body["imported"] == 0, f"50k-character escaped literal: skipped ({st})")
    check(s.proc.poll() is None and s.request("GET", "/healthz", token=None)[0] == 200,
          "the service is still up after the 50k-character bundles")

    # Finding 7: AND is not two indicators; revoked and expired are not imported.
    st, body, _ = post(bundle(indicator("[ipv4-addr:value = '192.0.2.0/24' AND x-distillguard-payment:fingerprint = 'pm_and']", 1),
                              indicator("[ipv4-addr:value = '192.0.2.0/24'] FOLLOWEDBY [ipv4-addr:value = '192.0.3.0/24']", 2),
                              indicator("[ipv4-addr:value = '192.0.4.0/24']", 3, revoked=True),
                              indicator("[ipv4-addr:value = '192.0.5.0/24']", 4, valid_until="2020-01-01T00:00:00Z")))
    check(st == 200 and body["imported"] == 0 and body["skipped"] == {
        "unsupported: AND": 1, "unsupported: FOLLOWEDBY": 1, "revoked": 1, "expired (valid_until in the past)": 1},
        f"AND, FOLLOWEDBY, revoked, expired: skipped and counted ({body})")
    d = check_as(s, "fresh-and", ip="192.0.2.9", card="pm_other")
    check("shared_indicator" not in d["reasons"], f"half of an AND does not match ({d})")

    # Per-source trust: review by default (never a block), block when asked.
    st, body, _ = post(bundle(indicator("[ipv4-addr:value = '203.0.113.0/24']", 5)))
    check(st == 200 and body["imported"] == 1 and body["trust"] == "review", f"default trust: review ({body})")
    d = check_as(s, "fresh-review", ip="203.0.113.9")
    check(d["decision"] != "block" and "shared_indicator" in d["reasons"], f"review trust: matched, not blocked ({d})")
    st, body, _ = post(bundle(indicator("[ipv4-addr:value = '198.51.100.0/24']", 6)), "?trust=block")
    check(st == 200 and body["imported"] == 1 and body["trust"] == "block", f"?trust=block ({body})")
    d = check_as(s, "fresh-block", ip="198.51.100.9")
    check(d["decision"] == "block", f"block trust: a new account is blocked ({d})")
    envelope = json.dumps({"trust": "block", "bundle": json.loads(bundle(indicator("[x-distillguard-payment:fingerprint = 'pm_env']", 7)))})
    st, body, _ = post(envelope)
    check(st == 200 and body["imported"] == 1 and body["trust"] == "block", f"envelope with trust block ({body})")
    check(check_as(s, "fresh-env", card="pm_env")["decision"] == "block", "envelope's indicator blocks")
    check(post(bundle(), "?trust=maybe")[0] == 400, "unknown trust: 400")
    check(post(envelope, "?trust=review")[0] == 400, "query and envelope disagree: 400")
    check(s.request("POST", "/v1/indicators", bundle(), token=GATEWAY)[0] == 403, "gateway token: import refused 403")

    # List and remove.
    st, body, _ = s.request("GET", "/v1/indicators", token=ANALYST)
    listed = {i["value"]: i for i in body["indicators"]} if st == 200 else {}
    check(set(listed) == {"203.0.113.0/24", "198.51.100.0/24", "pm_env"}, f"GET /v1/indicators lists the imported ones ({body})")
    check(listed.get("203.0.113.0/24", {}).get("trust") == "review" and listed.get("pm_env", {}).get("trust") == "block"
          and all(i["imported_at"] and i["source"] and i["kind"] and i["id"] for i in listed.values()),
          "each with kind, value, source, trust, imported_at and id")
    check(s.request("GET", "/v1/indicators", token=GATEWAY)[0] == 403, "gateway token: list refused 403")
    block_id = listed.get("198.51.100.0/24", {}).get("id", "none")
    check(s.request("DELETE", "/v1/indicators/" + block_id, token=GATEWAY)[0] == 403, "gateway token: DELETE refused 403")
    check(s.request("DELETE", "/v1/indicators/ind_0000000000000000", token=ANALYST)[0] == 404, "DELETE of an unknown id: 404")
    check(s.request("GET", "/v1/indicators/" + block_id, token=ANALYST)[0] == 405, "GET on one indicator: 405")
    st, body, _ = s.request("DELETE", "/v1/indicators/" + block_id, token=ANALYST)
    check(st == 200 and body["removed"] == block_id, f"DELETE /v1/indicators/{{id}} ({st} {body})")
    d = check_as(s, "fresh-after-delete", ip="198.51.100.9")
    check(d["decision"] == "allow" and "shared_indicator" not in d["reasons"], f"a removed indicator no longer matches ({d})")
    s.stop()

    # Durable across a restart: the removal and the trusts.
    s = dgtest.Server(BIN, WORK, data, args)
    st, body, _ = s.request("GET", "/v1/indicators", token=ANALYST)
    check(st == 200 and {i["value"] for i in body["indicators"]} == {"203.0.113.0/24", "pm_env"},
          f"after a restart: the list without the removed one ({body})")
    check(check_as(s, "fresh-restart", ip="198.51.100.9")["decision"] == "allow", "after a restart: the removed one stays removed")
    d = check_as(s, "fresh-restart-2", ip="203.0.113.9")
    check(d["decision"] != "block" and "shared_indicator" in d["reasons"], f"after a restart: review trust kept ({d})")
    check(check_as(s, "fresh-restart-3", card="pm_env")["decision"] == "block", "after a restart: block trust kept")
    s.stop()

    # The CLI: import --stix with the same hostile bundles, and --trust.
    cli_data = os.path.join(WORK, "cli")
    for name, b, want_rc, want in [
            ("literal", bundle(indicator("[ipv4-addr:value = '" + BIG + "']")), 0, "pattern over 4096 bytes"),
            ("id", bundle(indicator("[ipv4-addr:value = '1.2.3.4']", id="indicator--" + BIG)), 1, "is not 'indicator--<UUID>'"),
            ("created", bundle(indicator("[ipv4-addr:value = '1.2.3.4']", created="2026-11-01T00:00:00." + "1" * 50000 + "Z")), 1,
             "is not a STIX timestamp")]:
        path = os.path.join(WORK, name + ".json")
        with open(path, "w") as f:
            f.write(b)
        r = subprocess.run([BIN, "import", "--stix", path, "--data", cli_data], capture_output=True, text=True, timeout=120)
        check(r.returncode == want_rc and want in r.stderr,
              f"import --stix with a 50k-character {name}: exit {want_rc}, '{want}' ({r.returncode}: {r.stderr[:300]})")
    path = os.path.join(WORK, "ok.json")
    with open(path, "w") as f:
        f.write(bundle(indicator("[ipv4-addr:value = '203.0.113.0/24']", 8)))
    r = subprocess.run([BIN, "import", "--stix", path, "--data", cli_data, "--trust", "block"], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and "with trust block" in r.stderr, f"import --trust block ({r.returncode}: {r.stderr})")
    r = subprocess.run([BIN, "import", "--stix", path, "--data", cli_data, "--trust", "maybe"], capture_output=True, text=True, timeout=120)
    check(r.returncode != 0, f"import --trust maybe: refused ({r.returncode})")
    s = dgtest.Server(BIN, WORK, cli_data, args)
    st, body, _ = s.request("GET", "/v1/indicators", token=ANALYST)
    check(st == 200 and [i["trust"] for i in body["indicators"]] == ["block"], f"the CLI's import is listed with its trust ({body})")
    check(check_as(s, "fresh-cli", ip="203.0.113.9")["decision"] == "block", "the CLI's block-trust import blocks")
    s.stop()


dgtest.run(main, WORK, "STIX import")
