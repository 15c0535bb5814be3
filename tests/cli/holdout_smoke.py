#!/usr/bin/env python3
"""Smoke test for the independent holdout generator (tools/holdout, docs/HOLDOUT.md):
it runs, is deterministic per seed, its events carry no label, the engine scans them
(native and openai-chat shapes) and `eval` parses its labels. No quality figure is
gated here: the holdout is for measuring, not for tuning."""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

BIN = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "..", "tools", "holdout", "holdout.py")


def gen(out, *extra):
    subprocess.run([sys.executable, GEN, "--seed", "5", "--scale", "0.03", "--out", out, *extra],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "events.jsonl"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
        assert gen(a) == gen(b), "not deterministic per seed"
        labels = [json.loads(l) for l in open(os.path.join(a, "labels.jsonl"))]
        kinds = {l["label"] for l in labels}
        assert kinds == {"legit", "attack"}, kinds
        assert all(set(l) == {"account_id", "label", "campaign", "archetype"} for l in labels)
        camps = {l["campaign"] for l in labels if l["label"] == "attack"}
        assert len(camps) == 7, camps
        last = ""
        for line in open(os.path.join(a, "events.jsonl")):
            ev = json.loads(line)
            assert ev["ts"] >= last, "events not time-ordered"
            last = ev["ts"]
            s = line.lower()
            for word in ("attack", "legit", "c-split", "c-slow", "campaign", "archetype"):
                assert word not in s or word in " ".join(m["content"] if isinstance(m["content"], str) else ""
                                                         for m in ev["messages"]).lower() \
                    or word in (ev.get("system") or "").lower() or word in ev["response"]["content"].lower(), \
                    "label word %r in an event's fields" % word
        meta = json.load(open(os.path.join(a, "meta.json")))
        out = os.path.join(tmp, "out")
        subprocess.run([BIN, "scan", os.path.join(a, "events.jsonl"), "--now", meta["now"], "--out", out],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = subprocess.run([BIN, "eval", "--labels", os.path.join(a, "labels.jsonl"),
                            "--accounts", os.path.join(out, "accounts.jsonl")],
                           check=True, capture_output=True, text=True)
        assert "recall" in r.stdout and "c-slow" in r.stdout, r.stdout
        # the openai-chat shape goes through the preset mapping with no rejected line
        c = os.path.join(tmp, "c")
        gen(c, "--fields", "gateway", "--shape", "openai-chat")
        meta = json.load(open(os.path.join(c, "meta.json")))
        r = subprocess.run([BIN, "scan", os.path.join(c, "events.jsonl"), "--mapping", "openai-chat",
                            "--now", meta["now"], "--out", os.path.join(tmp, "outc")],
                           check=True, capture_output=True, text=True)
        with open(os.path.join(tmp, "outc", "accounts.jsonl")) as f:
            n = sum(1 for _ in f)
        assert n == meta["accounts"], (n, meta["accounts"], r.stderr[-2000:])
    print("holdout smoke: ok")


if __name__ == "__main__":
    main()
