#!/usr/bin/env python3
"""scan --batch-input (issue #17): an OpenAI Batch output file joined with
its input file by custom_id gets its prompts scanned (prompt-text coverage
0 without the input, 1.0 with it, zero rejected lines); output records
whose custom_id is not in the input are still scanned and counted; bad
input lines are named by file:line and field and counted; the index's byte
budget leaves requests unindexed (counted) instead of growing; an
unreadable input file is a usage error. Also (report.html): the prompt-text
warning is shown in the report when the input is missing.

Usage: batch_join_test.py DISTILLGUARD_BINARY
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
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "logs")
OUTPUT = os.path.join(DATA, "openai-batch.jsonl")
INPUT = os.path.join(DATA, "openai-batch-input.jsonl")
WORK = tempfile.mkdtemp(prefix="dg_batch_")


def scan(out, *args):
    return subprocess.run([BIN, "scan", "--mapping", "openai-batch", "--default-account", "acct_42", "--quiet",
                           "--out", os.path.join(WORK, out), *args], capture_output=True, text=True)


def summary(out):
    return json.load(open(os.path.join(WORK, out, "summary.json")))


def main():
    r = scan("plain", OUTPUT)
    check(r.returncode == 0, f"output file alone scans ({r.stderr.strip()[-300:]})")
    s = summary("plain")
    check(s["coverage"]["fields"]["prompt_text"] == 0 and "batch_input" not in s,
          "without --batch-input: no prompt text")
    check(any("no prompt text" in w for w in s["coverage"]["warnings"]), "without --batch-input: the prompt warning")
    html = open(os.path.join(WORK, "plain", "report.html")).read()
    check("no prompt text: content signals" in html, "without --batch-input: report.html shows the prompt warning")

    r = scan("joined", "--batch-input", INPUT, OUTPUT)
    check(r.returncode == 0, f"output + --batch-input scans ({r.stderr.strip()[-300:]})")
    s = summary("joined")
    check(s["rejected"] == 0 and s["accepted"] == 2, f"joined: 2 accepted, zero rejected lines ({s['accepted']}, {s['rejected']})")
    b = s.get("batch_input", {})
    check(b.get("indexed") == 2 and b.get("bad_lines") == 0 and b.get("joined") == 2 and b.get("unmatched") == 0,
          f"joined: both requests indexed and joined ({b})")
    check(s["coverage"]["fields"]["prompt_text"] == 1.0, f"joined: every record has its prompt ({s['coverage']['fields']['prompt_text']})")
    check(not any("no prompt text" in w for w in s["coverage"]["warnings"]), "joined: no prompt warning")
    check("joined with --batch-input: 2 of 2 interactions; 0 without a request" in r.stdout, "joined: the count on stdout")
    html = open(os.path.join(WORK, "joined", "report.html")).read()
    check("no prompt text" not in html, "joined: report.html has no prompt warning")

    # Bad and partial input: only request-1 is usable; request-2 and an
    # extra output record (request-9) are scanned response-only.
    inp, outp = os.path.join(WORK, "input.jsonl"), os.path.join(WORK, "output.jsonl")
    lines = open(INPUT).read().splitlines()
    with open(inp, "w") as f:
        f.write(lines[0] + "\n")                                            # 1: request-1
        f.write('{"custom_id": "request-2", "method": "POST", "url": \n')   # 2: not JSON
        f.write('{"method": "POST", "url": "/v1/chat/completions", "body": {"model": "m", "messages": []}}\n')  # 3: no custom_id
        f.write(lines[0] + "\n")                                            # 4: duplicate custom_id
        f.write('{"custom_id": "e-1", "method": "POST", "url": "/v1/embeddings", "body": {"model": "text-embedding-3-small", "input": "x"}}\n')
        f.write('{"custom_id": "request-3", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m", "messages": 42}}\n')  # 6
    out_lines = open(OUTPUT).read().splitlines()
    with open(outp, "w") as f:
        f.write("\n".join(out_lines) + "\n")
        f.write(out_lines[0].replace("request-1", "request-9").replace("batch_req_1", "batch_req_9").replace("req_b1", "req_b9") + "\n")
    r = scan("partial", "--batch-input", inp, outp)
    check(r.returncode == 0, f"partial input scans ({r.stderr.strip()[-300:]})")
    check(f"{inp}:2: malformed_json" in r.stderr, "bad input line named by file:line and reason")
    check(f"{inp}:3: field 'custom_id': missing_field" in r.stderr, f"missing custom_id named by file:line and field")
    check(f"{inp}:4: field 'custom_id': duplicate" in r.stderr, "duplicate custom_id named by file:line")
    check(f"{inp}:6: field 'messages': wrong_type" in r.stderr, "wrong-typed messages named by file:line and field")
    s = summary("partial")
    b = s.get("batch_input", {})
    check(b == {"indexed": 1, "bad_lines": 3, "duplicates": 1, "other_endpoint": 1, "not_indexed": 0, "joined": 1, "unmatched": 2},
          f"partial: counts ({b})")
    check(s["accepted"] == 3 and s["rejected"] == 0, "partial: unmatched output records are still scanned")
    check(abs(s["coverage"]["fields"]["prompt_text"] - 1 / 3) < 1e-3, f"partial: one record in three has a prompt ({s['coverage']['fields']['prompt_text']})")

    # The byte budget: nothing fits, so nothing is indexed, and the scan goes on.
    r = scan("budget", "--batch-input", INPUT, "--batch-input-bytes", "100", OUTPUT)
    check(r.returncode == 0 and "batch input index full" in r.stderr, f"budget: reported ({r.stderr.strip()[-300:]})")
    b = summary("budget").get("batch_input", {})
    check(b.get("indexed") == 0 and b.get("not_indexed") == 2 and b.get("unmatched") == 2, f"budget: counted ({b})")

    r = scan("missing", "--batch-input", os.path.join(WORK, "nope.jsonl"), OUTPUT)
    check(r.returncode == 2 and "nope.jsonl" in r.stderr, f"unreadable --batch-input: usage error naming it ({r.stderr.strip()})")


dgtest.run(main, WORK, "batch join")
