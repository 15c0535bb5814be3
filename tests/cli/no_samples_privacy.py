#!/usr/bin/env python3
"""Issue #18 finding 15: under --no-samples no prompt text reaches any output.

A simulated log whose harvesting campaigns carry planted unique strings in
their prompts and system prompts is scanned twice. With samples (the
default) the planted text shows (so the check below can fail) but never a
`pw=` value; with --no-samples every output file (accounts.jsonl,
campaigns.jsonl, report.html, the STIX export with and without
--include-prompts) and the run's stderr hold none of it, and content
indicators are listed as `fingerprint <hex>`. Then serve: samples stored by
a run with them on are not restored by a restart with --no-samples, and a
serve run with --no-samples writes none of the planted text to its SQLite
files (with samples on, their redacted form is there: the check can fail).

usage: no_samples_privacy.py BINARY
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dgtest  # noqa: E402
from dgtest import check  # noqa: E402

BIN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="dg_nosamples_")
PLANTED = ("PLANTED-7f3a", "PLANTED-sys-7f3a", "Hunter2Secret", "jdoe")


def plant(src, dst, attackers):
    """Puts planted strings in the attackers' prompts and system prompts."""
    with open(src) as fin, open(dst, "w") as fout:
        for line in fin:
            r = json.loads(line)
            if r.get("account_id") in attackers:
                r["system"] = "PLANTED-sys-7f3a You are a tutor. " + (r.get("system") or "")
                for m in reversed(r.get("messages", [])):
                    if m.get("role") == "user" and isinstance(m.get("content"), str):
                        m["content"] = "PLANTED-7f3a pw=Hunter2Secret! user=jdoe " + m["content"]
                        break
            fout.write(json.dumps(r) + "\n")


def hits(paths, extra_text=""):
    """(file, string) pairs where a planted string occurs."""
    found = []
    for p in paths:
        data = open(p, "rb").read().decode("utf-8", "replace")
        found += [(os.path.basename(p), s) for s in PLANTED if s in data]
    found += [("stderr", s) for s in PLANTED if s in extra_text]
    return found


def db_files(data):
    """The SQLite database and its WAL / shared-memory files in a data directory."""
    return [os.path.join(data, f) for f in sorted(os.listdir(data)) if f.startswith("distillguard.db")]


def scan(log, out, *extra):
    r = subprocess.run([BIN, "scan", log, "--out", out, "--quiet", *extra], capture_output=True, text=True)
    check(r.returncode == 0, f"scan {' '.join(extra) or '(samples on)'} exits 0 ({r.stderr.strip()[-200:]})")
    stix_paths = []
    for flags in ((), ("--include-prompts",)):
        path = os.path.join(WORK, os.path.basename(out) + ("_prompts" if flags else "") + ".stix.json")
        e = subprocess.run([BIN, "export", "--stix", "--from", out, "--out", path, *flags], capture_output=True, text=True)
        check(e.returncode == 0, f"export --stix {' '.join(flags)} exits 0 ({e.stderr.strip()[-200:]})")
        stix_paths.append(path)
    files = [os.path.join(out, f) for f in ("accounts.jsonl", "campaigns.jsonl", "report.html")]
    return files, stix_paths, r.stderr


def main():
    sim = os.path.join(WORK, "sim")
    r = subprocess.run([BIN, "simulate", "--scenario", "demo", "--scale", "0.3", "--seed", "7", "--out", sim],
                       capture_output=True, text=True)
    check(r.returncode == 0, "simulate exits 0")
    attackers = set()
    for line in open(os.path.join(sim, "labels.jsonl")):
        row = json.loads(line)
        if row["label"] == "attack":
            attackers.add(row["account_id"])
    log = os.path.join(WORK, "planted.jsonl")
    plant(os.path.join(sim, "events.jsonl"), log, attackers)

    files, stix, err = scan(log, os.path.join(WORK, "with"))
    campaigns = [json.loads(l) for l in open(files[1])]
    check(len(campaigns) > 0, f"the planted log gives campaigns ({len(campaigns)})")
    found = {s for _, s in hits(files + stix, err)}
    check("PLANTED-7f3a" in found and "PLANTED-sys-7f3a" in found,
          f"with samples on, planted prompt and system prompt text reaches the outputs (found {sorted(found)})")
    check("Hunter2Secret" not in found, "with samples on, the pw= value is still redacted")

    files, stix, err = scan(log, os.path.join(WORK, "without"), "--no-samples")
    found = hits(files + stix, err)
    check(not found, f"--no-samples: no planted string in any output ({found})")
    campaigns = [json.loads(l) for l in open(files[1])]
    check(len(campaigns) > 0, "--no-samples: campaigns still found")
    check(all(not c["samples"] for c in campaigns), "--no-samples: no samples")
    content = [i["value"] for c in campaigns for i in c["indicators"]
               if i["kind"] in ("system_prompt", "prompt_template", "prompt_frame")]
    check(content and all(v.startswith("fingerprint ") and len(v) == 28 for v in content),
          f"--no-samples: content indicators listed by fingerprint ({content[:3]})")
    bundle = open(stix[1]).read()
    check(not re.search(r"fingerprint [0-9a-f]{16}", bundle) and "x-distillguard-prompt" not in bundle,
          "--no-samples: STIX export --include-prompts shares no fingerprint")

    # serve: a run with samples stores them; a restart with --no-samples
    # must not bring them back.
    data = os.path.join(WORK, "data")
    lines = open(log).read().splitlines(keepends=True)
    srv = dgtest.Server(BIN, WORK, data, token="t0ken-for-the-test")
    for start in range(0, len(lines), 2000):
        status, _, _ = srv.request("POST", "/v1/events", "".join(lines[start:start + 2000]))
        if status != 200:
            check(False, f"serve ingest answers 200 (got {status})")
            break
    status, body, _ = srv.request("GET", "/v1/campaigns")
    stored = json.dumps(body)
    check(status == 200 and "PLANTED-7f3a" in stored, f"serve with samples: planted text in its campaigns (samples kept) ({status} {stored[:200]})")
    srv.stop()
    # At rest (finding 13 keeps samples and content indicators' text in the
    # store, so that a restart shows the same): redacted, and only with samples on.
    at_rest = {s for _, s in hits(db_files(data))}
    check("PLANTED-7f3a" in at_rest, f"serve with samples: the store keeps the redacted texts (found {sorted(at_rest)})")
    check("Hunter2Secret" not in at_rest, "serve with samples: the store holds no pw= value (redacted before it is kept)")
    quiet = os.path.join(WORK, "data_no_samples")
    srv = dgtest.Server(BIN, WORK, quiet, extra=("--no-samples",), token="t0ken-for-the-test")
    for start in range(0, len(lines), 2000):
        srv.request("POST", "/v1/events", "".join(lines[start:start + 2000]))
    status, body, _ = srv.request("GET", "/v1/campaigns")
    check(status == 200 and body.get("campaigns"), "serve --no-samples from the start: campaigns found")
    srv.stop()
    found = hits(db_files(quiet))
    check(not found and db_files(quiet), f"serve --no-samples: no planted string in its SQLite files ({found}; {len(db_files(quiet))} files)")
    srv = dgtest.Server(BIN, WORK, data, extra=("--no-samples",), token="t0ken-for-the-test")
    status, body, _ = srv.request("GET", "/v1/campaigns")
    text = json.dumps(body)
    check(status == 200 and body.get("campaigns"), "serve --no-samples after restart: campaigns answered")
    check(not any(s in text for s in PLANTED), "serve --no-samples after restart: restored samples ignored, no planted text")
    srv.stop()
    # The offline readers of a serve directory, with the same flag.
    page = os.path.join(WORK, "served_report.html")
    bundle = os.path.join(WORK, "served.stix.json")
    r1 = subprocess.run([BIN, "report", "--from", data, "--out", page, "--no-samples"], capture_output=True, text=True)
    r2 = subprocess.run([BIN, "export", "--stix", "--from", data, "--out", bundle, "--include-prompts", "--no-samples"],
                        capture_output=True, text=True)
    check(r1.returncode == 0 and r2.returncode == 0, f"report / export --no-samples of the serve directory exit 0 ({r1.stderr}{r2.stderr})")
    found = hits([page, bundle], r1.stderr + r2.stderr)
    check(not found, f"report / export --no-samples of the serve directory: no planted string ({found})")
    r3 = subprocess.run([BIN, "report", "--from", data, "--out", page], capture_output=True, text=True)
    check(r3.returncode == 0 and "PLANTED-7f3a" in open(page).read(),
          "report of the serve directory without the flag shows the stored samples (the check above can fail)")


dgtest.run(main, WORK, "no-samples privacy")
