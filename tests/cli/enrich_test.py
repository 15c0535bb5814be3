#!/usr/bin/env python3
"""scan --accounts (issue #17): gateway-only logs (no payment fingerprint,
sign-up time, e-mail domain or org) lose verdicts; with the provider's
account file joined by account id they give a byte-identical accounts.jsonl
to the full canonical log. Also: summary.json's coverage object and the
missing-family warnings on stderr, and a bad accounts file named by
file:line and column.

Usage: enrich_test.py DISTILLGUARD_BINARY
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
WORK = tempfile.mkdtemp(prefix="dg_enrich_")
STRIPPED = (("payment_fingerprint", "payment_fingerprint"), ("account_created_at", "created_at"),
            ("email_domain", "email_domain"), ("org_id", "org_id"))


def scan(*args):
    return subprocess.run([BIN, "scan", *args, "--quiet"], capture_output=True, text=True)


def main():
    sim = os.path.join(WORK, "sim")
    subprocess.run([BIN, "simulate", "--scenario", "demo", "--scale", "0.3", "--seed", "9", "--out", sim],
                   check=True, capture_output=True)
    full = os.path.join(sim, "events.jsonl")
    gw, accts = os.path.join(WORK, "gw.jsonl"), os.path.join(WORK, "accounts.csv")
    acc = {}
    with open(gw, "w") as out:
        for line in open(full):
            r = json.loads(line)
            d = acc.setdefault(r.get("account_id") or r.get("user"), {})
            for field, col in STRIPPED:
                v = r.pop(field, None)
                if v:
                    d[col] = v
            out.write(json.dumps(r) + "\n")
    with open(accts, "w") as f:
        f.write("account_id,created_at,payment_fingerprint,email_domain,org_id\n")
        for a, d in acc.items():
            f.write(",".join([a] + [str(d.get(c, "")) for c in ("created_at", "payment_fingerprint", "email_domain", "org_id")]) + "\n")

    r = scan(full, "--out", os.path.join(WORK, "full"))
    check(r.returncode == 0, "full canonical log scans")
    r = scan(gw, "--out", os.path.join(WORK, "gw"))
    check(r.returncode == 0, "gateway-only log scans")
    check("warning: no payment fingerprints: shared-payment linking is off; add --accounts" in r.stderr,
          "gateway-only: the missing payment family is named on stderr")
    summary = json.load(open(os.path.join(WORK, "gw", "summary.json")))
    check(summary["coverage"]["fields"]["payment_fingerprint"] == 0 and summary["coverage"]["fields"]["ip"] == 1
          and any("payment" in w for w in summary["coverage"]["warnings"]),
          f"summary.json has the coverage object ({summary['coverage']['fields']})")
    # report.html says the same, escaped, in the warning box at the top.
    gw_html = open(os.path.join(WORK, "gw", "report.html")).read()
    box = gw_html.find('id="coverage-warnings"')
    check(box != -1 and gw_html.find("no payment fingerprints: shared-payment linking is off; add --accounts", box) != -1
          and box < gw_html.find("<h2>Campaigns, ranked</h2>"),
          "gateway-only: report.html shows the payment warning above the campaigns")
    check('<tr class="missing"><td>payment_fingerprint</td><td>0.0%</td></tr>' in gw_html
          and "<tr><td>ip</td><td>100.0%</td></tr>" in gw_html,
          "gateway-only: report.html has the field-share table, the missing field marked")
    full_html = open(os.path.join(WORK, "full", "report.html")).read()
    check('id="coverage"' in full_html and "no payment fingerprints" not in full_html
          and 'id="coverage-warnings"' not in full_html and "<tr><td>payment_fingerprint</td><td>" in full_html
          and '<tr class="missing">' not in full_html,
          "full log: report.html has the coverage table and no payment warning")
    gw_acc = open(os.path.join(WORK, "gw", "accounts.jsonl"), "rb").read()
    full_acc = open(os.path.join(WORK, "full", "accounts.jsonl"), "rb").read()
    check(gw_acc != full_acc, "without the account data the verdicts differ (the test can fail)")

    r = scan(gw, "--accounts", accts, "--out", os.path.join(WORK, "enr"))
    check(r.returncode == 0 and "enriched from --accounts:" in r.stdout, "gateway-only + --accounts scans")
    check("no payment fingerprints" not in r.stderr, "with --accounts no payment warning")
    check("no payment fingerprints" not in open(os.path.join(WORK, "enr", "report.html")).read(),
          "with --accounts: no payment warning in report.html")
    enr_acc = open(os.path.join(WORK, "enr", "accounts.jsonl"), "rb").read()
    check(enr_acc == full_acc, "gateway-only + --accounts: accounts.jsonl byte-identical to the full log's")

    bad = os.path.join(WORK, "bad.csv")
    with open(bad, "w") as f:
        f.write("account_id,created_at\nx,2026-13-01\n")
    r = scan(gw, "--accounts", bad)
    check(r.returncode == 2 and "bad.csv:2: column 'created_at'" in r.stderr, f"bad accounts file: usage error naming file:line ({r.stderr.strip()})")


dgtest.run(main, WORK, "enrichment")
