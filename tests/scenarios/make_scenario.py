#!/usr/bin/env python3
"""Helper to start a scenario file from a log you already have: turns SCHEMA.md
JSON Lines into *.scn event lines (README.md beside this file), one per
record; a record the short syntax cannot say (OpenAI shape, blocks, tools,
malformed) becomes a `raw` line. Add the defaults, repeats and expectations
by hand.

Usage: make_scenario.py EVENTS.jsonl > tests/scenarios/NAME.scn
"""
import json
import sys

SHORT = [("ts", "t"), ("request_id", "id"), ("account_id", "acct"), ("org_id", "org"), ("api_key_id", "key"),
         ("ip", "ip"), ("user_agent", "ua"), ("payment_fingerprint", "pay"), ("account_created_at", "created"),
         ("email_domain", "email"), ("model", "model"), ("system", "system"), ("max_tokens", "max_tokens"),
         ("temperature", "temperature"), ("conversation_id", "conv")]
KNOWN = {k for k, _ in SHORT} | {"messages"}


def value(v):
    s = str(v).lower() if isinstance(v, bool) else str(v)
    if s and all(c not in s for c in ' "\\\n\t{}') :
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def event_line(line):
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    if not isinstance(rec, dict) or set(rec) - KNOWN or not isinstance(rec.get("ts"), str):
        return None
    if not str(rec["ts"]).endswith("Z") or not str(rec.get("account_created_at", "Z")).endswith("Z"):
        return None
    msgs = rec.get("messages")
    if not isinstance(msgs, list) or any(not isinstance(m, dict) or m.get("role") not in ("user", "assistant")
                                         or not isinstance(m.get("content"), str) for m in msgs):
        return None
    parts = [f"{short}={value(rec[k])}" for k, short in SHORT if k in rec]
    parts += [f"{'prompt' if m['role'] == 'user' else 'assistant'}={value(m['content'])}" for m in msgs]
    return " ".join(parts)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print("# TODO: what this scenario pins, and why")
    print("start 2026-04-01T00:00:00Z")
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.rstrip("\n")
            ev = event_line(line)
            print(ev if ev is not None else ("raw " + line).rstrip())
    print("# TODO: expect ACCOUNT VERDICT [REASON...] / expect campaigns N / check acct=... -> DECISION")
    return 0


if __name__ == "__main__":
    sys.exit(main())
