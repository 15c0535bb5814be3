#!/usr/bin/env python3
"""distillguard access-impact (issue #20): per rule and model, the accounts
and recent requests a rule would deny, by verified country and verification
level; accounts seen only in the logs count as not verified; the window is
--days before --now; bad rules are a usage error naming file:line. Then the
shipped example (config/access/export-control.toml) on a simulated scenario
with attributes from scripts/access-attributes.py.

Usage: access_impact_test.py DISTILLGUARD_BINARY
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
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
WORK = tempfile.mkdtemp(prefix="dg_access_impact_")


def write(name, text):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def run(*args):
    p = subprocess.run([BIN, "access-impact", *args], capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def row(out, rule, model):
    """The table row of (rule, model) -- rule blank on continuation rows -- and its two breakdown lines."""
    lines = out.splitlines()
    current = None
    for i, line in enumerate(lines):
        parts = line.split()
        if not parts or line.startswith("    "):
            continue
        if not line.startswith(" "):
            current = parts[0]
        if current == rule and model in parts:
            return parts, lines[i + 1], lines[i + 2]
    return None, "", ""


def main():
    write("models.toml", 'format = 1\n[models]\n"old" = 2025-01-01\n"new" = 2026-06-01\n')
    rules = write("rules.toml", """format = 1
version = "3"
catalogue = "models.toml"
[[rule]]
id = "newest-allowed-only"
mode = "dry_run"
released_after = 2026-01-01
effect = "deny_model"
customer_reason = "Not available."
audit_reason = "directive"
[rule.require]
verified_country_in = ["US"]
verification_level_at_least = 2
[[rule]]
id = "cap-old"
models = ["old"]
effect = "cap_output_tokens"
cap_output_tokens = 100
customer_reason = "Capped."
audit_reason = "cap"
[rule.when]
verified_country_in = ["CN"]
""")
    accounts = write("accounts.csv", "account_id,verified_country,verification_level\n"
                     "us3,US,3\nus1,US,1\ncn3,CN,3\ncn0,CN,0\nde2,DE,2\n")
    events = []
    t0 = 1780000000  # 2026-05-28T20:26:40Z
    for account, model, n, age_days in [("us3", "new", 5, 1), ("us1", "new", 4, 1), ("cn3", "new", 3, 1), ("cn3", "old", 2, 1),
                                        ("cn0", "new", 7, 30), ("log-only", "new", 6, 2), ("de2", "old", 1, 1)]:
        for k in range(n):
            events.append(json.dumps({"ts": t0 - age_days * 86400 + k, "request_id": f"{account}-{model}-{k}", "account_id": account,
                                      "model": model, "messages": [{"role": "user", "content": "hi"}]}))
    logs = write("events.jsonl", "\n".join(events) + "\n")

    code, out, err = run("--rules", rules, "--accounts", accounts, "--logs", logs, "--days", "7")
    print(out)
    check(code == 0, f"exit 0 ({code} {err})")
    check("version 3" in out and "accounts: 6 (5 with attributes" in out, "header: rules version, accounts incl. the log's")
    check("traffic: 21 requests in the 7 days" in out, "traffic: 21 requests in the window (cn0's 30-day-old ones are out)")
    parts, countries, levels = row(out, "newest-allowed-only", "new")
    # us1 (level 1), cn3, cn0, de2, log-only (no attributes): 5 accounts; active: us1, cn3, log-only (cn0 out of the window).
    check(parts is not None and parts[1:3] == ["dry_run", "deny_model"] and parts[4] == "5", f"5 accounts would be denied ({parts})")
    check(parts is not None and parts[6] == "3" and parts[7] == "13", f"3 active, 13 requests in the window ({parts})")
    check(parts is not None and parts[8] == "72.2%", f"13 of the model's 18 requests ({parts})")
    check("CN 2 (3 req)" in countries and "(missing) 1 (6 req)" in countries and "US 1 (4 req)" in countries,
          f"by country, with requests ({countries.strip()})")
    check("level (missing) 1 (6 req)" in levels and "level 1 1 (4 req)" in levels, f"by level ({levels.strip()})")
    parts, countries, _ = row(out, "cap-old", "old")
    check(parts is not None and parts[2:4] == ["cap_output_tokens", "100"] and parts[5] == "2",
          f"the cap rule: the two CN accounts on the old model ({parts})")
    check(row(out, "cap-old", "new")[0] is None, "a rule is listed only for the models it covers")

    code, out, err = run("--rules", rules, "--accounts", accounts)
    check(code == 0 and "no --logs given" in out and row(out, "newest-allowed-only", "new")[0][4] == "4",
          f"without logs: the directory's accounts only ({code})")

    bad = write("bad.toml", 'version = "1"\n[[rule]]\nid = "x"\nmodels = ["m"]\neffect = "deny_model"\n[rule.require]\ncountry = 1\n')
    code, out, err = run("--rules", bad, "--accounts", accounts)
    check(code == 2 and "bad.toml:7: key 'rule[1].require.country'" in err, f"bad rules: exit 2 naming file:line ({code} {err.strip()})")

    # The shipped example on a simulated scenario, attributes from ids only.
    sim = os.path.join(WORK, "sim")
    p = subprocess.run([BIN, "simulate", "--scenario", "demo", "--seed", "7", "--out", sim], capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, "simulate demo")
    attrs = os.path.join(WORK, "attributes.csv")
    with open(attrs, "w") as f:
        p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "access-attributes.py"), os.path.join(sim, "events.jsonl")],
                           stdout=f, stderr=subprocess.PIPE, text=True, timeout=600)
    check(p.returncode == 0, f"access-attributes.py ({p.stderr.strip()})")
    code, out, err = run("--rules", os.path.join(ROOT, "config", "access", "export-control.toml"), "--accounts", attrs,
                         "--logs", os.path.join(sim, "events.jsonl"))
    print(out)
    parts, _, _ = row(out, "export-control-newest-models", "atlas-4-pro")
    check(code == 0 and parts is not None and int(parts[4].replace(",", "")) > 0,
          f"the export-control example denies some accounts the newest model ({code} {err.strip()[:200]})")
    check(row(out, "export-control-newest-models", "atlas-3-pro")[0] is None, "... and never the older models")


dgtest.run(main, WORK, "access-impact")
