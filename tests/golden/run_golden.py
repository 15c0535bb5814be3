#!/usr/bin/env python3
"""Runs one golden scenario: scan its events with the real binary and check expected.txt."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    binary, folder = sys.argv[1], Path(sys.argv[2])
    failures = []
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([binary, "scan", str(folder / "events.jsonl"), "--out", out, "--quiet"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr)
            print(f"FAIL: scan exited {proc.returncode}")
            return 1
        accounts = {}
        for line in Path(out, "accounts.jsonl").read_text().splitlines():
            rec = json.loads(line)
            accounts[rec["account_id"]] = rec
        campaigns = [json.loads(l) for l in Path(out, "campaigns.jsonl").read_text().splitlines() if l]
        summary = proc.stdout
        for line_no, raw in enumerate((folder / "expected.txt").read_text().splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            words = line.split()
            where = f"expected.txt:{line_no}"
            if words[0] == "summary":
                for kv in words[1:]:
                    key, value = kv.split("=")
                    label = {"accepted": "interactions accepted", "rejected": "rejected",
                             "duplicates": "duplicates", "lines": "lines read"}[key]
                    if f"{label}: {value} " not in summary + " ":
                        failures.append(f"{where}: summary {key}={value} not in: {summary.splitlines()[0]}")
            elif words[0] == "campaigns":
                if len(campaigns) != int(words[1]):
                    failures.append(f"{where}: {len(campaigns)} campaigns, expected {words[1]}")
            elif words[0] == "account":
                acct, verdict, reasons = words[1], words[2], words[3:]
                rec = accounts.get(acct)
                if rec is None:
                    failures.append(f"{where}: account {acct} not in accounts.jsonl")
                    continue
                got = rec["verdict"]
                ok = got != "block" if verdict == "not-block" else got == verdict
                if not ok:
                    failures.append(f"{where}: {acct} is {got}, expected {verdict} (reasons {rec['reasons']})")
                for r in reasons:
                    if r not in rec["reasons"]:
                        failures.append(f"{where}: {acct} lacks reason {r} (has {rec['reasons']})")
            else:
                failures.append(f"{where}: unknown expectation '{words[0]}'")
    for f in failures:
        print("FAIL:", f)
    print(f"{folder.name}: {'ok' if not failures else str(len(failures)) + ' failures'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
