#!/usr/bin/env python3
"""The scenario runner can fail: a wrong expectation (on scan, at a serve
checkpoint, in a check line) exits 1 naming the scenario's file:line and what
was found; a malformed line exits 2 naming file:line; a scenario without
expectations fails. Usage: selftest.py DISTILLGUARD_BINARY"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "..", "run_scenario.py")
BIN = sys.argv[1]

EVENTS = """start 2026-04-01T00:00:00Z
defaults ip=192.0.2.7 pay=pm_ok created=-300d ua=curl/8.0
repeat 5 every 1m acct=acct_ok prompt="what is the capital of France? ({i})"
"""

CASES = [
    # name, text, exit code, strings the output must contain
    ("passes", EVENTS + "expect acct_ok allow\n", 0, ["ok   ", "passes.scn:4", "1 ok, 0 failed"]),
    ("scan_verdict", EVENTS + "expect acct_ok block\n", 1, ["FAIL ", "scan_verdict.scn:4", "acct_ok is allow"]),
    ("scan_reason", EVENTS + "expect acct_ok allow cot_elicitation\n", 1, ["scan_reason.scn:4", "lacks ['cot_elicitation']"]),
    ("scan_unseen", EVENTS + "expect acct_nobody allow\n", 1, ["scan_unseen.scn:4", "has not seen the account"]),
    ("scan_campaigns", EVENTS + "expect campaigns 1\n", 1, ["scan_campaigns.scn:4", "0 campaigns"]),
    ("scan_summary", EVENTS + "expect summary accepted=6\n", 1, ["scan_summary.scn:4", "interactions accepted: 5"]),
    ("serve_checkpoint", EVENTS + "expect acct_ok block\nt=+1h acct=acct_ok\nexpect acct_ok allow\n", 1,
     ["serve_checkpoint.scn:4", "[serve]: acct_ok is allow", "1 ok, 1 failed"]),
    ("serve_check", EVENTS + "check acct=acct_ok -> block\n", 1, ["serve_check.scn:4", "-> block: allow"]),
    ("serve_check_json", EVENTS + 'check {"account_id": "acct_ok", "ip": "192.0.2.7"} -> allow\n', 0, ["1 ok, 0 failed"]),
    ("override", EVENTS + 'override acct_ok block by=alice reason="test"\ncheck acct=acct_ok -> allow\n', 1,
     ["override.scn:4: override acct_ok block: HTTP 200", "override.scn:5", "-> allow: block"]),
    ("no_expectations", EVENTS, 1, ["no expectations"]),
    ("parse_field", EVENTS + "acct=a bogus=1\nexpect a allow\n", 2, ["parse_field.scn:4", "unknown field 'bogus'"]),
    ("parse_keyword", EVENTS + "expekt acct_ok allow\n", 2, ["parse_keyword.scn:4", "unknown line 'expekt'"]),
    ("parse_verdict", EVENTS + "expect acct_ok blocked\n", 2, ["parse_verdict.scn:4"]),
    ("parse_quote", EVENTS + 'acct=a prompt="unterminated\n', 2, ["parse_quote.scn:4", "unterminated"]),
    ("parse_duration", EVENTS + "repeat 3 every 5x acct=a\n", 2, ["parse_duration.scn:4", "bad duration"]),
    ("parse_subst", EVENTS + "repeat 3 every 5s acct=a{j}\n", 2, ["parse_subst.scn:4", "unknown substitution {j}"]),
    ("parse_arrow", EVENTS + "check acct=acct_ok block\n", 2, ["parse_arrow.scn:4"]),
    ("parse_time_order", EVENTS + "expect acct_ok allow\nt=+1m acct=acct_ok\nexpect acct_ok allow\n", 2,
     ["parse_time_order.scn:5", "before the checkpoint"]),
    ("parse_time_order_campaigns", EVENTS + "expect campaigns 0\nt=+1m acct=acct_ok\nexpect acct_ok allow\n", 2,
     ["parse_time_order_campaigns.scn:5", "before the checkpoint"]),
]


def readme_example():
    """The example in README.md, so the documentation cannot drift from the runner."""
    text = open(os.path.join(HERE, "..", "README.md")).read()
    return text.split("## An example", 1)[1].split("```")[1].lstrip("\n")


def main():
    fails = 0
    CASES.append(("readme_example", readme_example(), 0, ["6 ok, 0 failed"]))
    with tempfile.TemporaryDirectory(prefix="dg_scn_self_") as work:
        for name, text, want_rc, needles in CASES:
            path = os.path.join(work, name + ".scn")
            with open(path, "w") as f:
                f.write(text)
            p = subprocess.run([sys.executable, RUNNER, BIN, path], capture_output=True, text=True)
            out = p.stdout + p.stderr
            missing = [n for n in needles if n not in out]
            ok = p.returncode == want_rc and not missing
            print(("ok   " if ok else "FAIL ") + f"{name}: exit {p.returncode} (want {want_rc})"
                  + (f", output lacks {missing}" if missing else ""))
            if not ok:
                fails += 1
                print("  | " + out.replace("\n", "\n  | "))
    print(f"{len(CASES) - fails} of {len(CASES)} runner self-tests passed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
