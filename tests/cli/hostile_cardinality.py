#!/usr/bin/env python3
"""Hostile cardinality, end to end with the real binary.

Stream A ("wide"): N interactions, every one from a new account, a new IP,
a new user agent and a new prompt template -- plus a planted hydra (12
accounts on two cards harvesting step-by-step reasoning). Stream B
("normal"): the same number of interactions from a pool of 2,000 accounts,
plus the same hydra. Stream C ("one account"): one account sending N
distinct prompts, plus the hydra. Stream D ("suspicious"): N/5 accounts of
five requests each that all look like harvesting bots on their own (chain of
thought, single-turn, fixed maximal settings) but share nothing that links
them (own address, client, card; no sign-up time), plus the hydra: they are
suspicious, so the first eviction tier cannot forget them.

Checks: with --max-accounts M the engine keeps at most M accounts (the rest
forgotten; on D the suspicious ones are kept as summaries and listed with
their verdict), peak memory stays under a bound, CPU time on A and C stays
within 2x of B, and the hydra's verdicts are the same in all four.

Usage: hostile_cardinality.py DISTILLGUARD [N] [--max-accounts M]
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dgtest import FAILS, check  # noqa: E402

BIN = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 300000
MAX_ACCOUNTS = 20000
T0 = 1775001600
work = tempfile.mkdtemp(prefix="dg_hostile_")


def hydra(i):
    acct = i % 12
    return {"ts": T0 + i * 0.5, "request_id": f"h{i}", "account_id": f"hydra{acct}", "ip": f"198.51.100.{acct + 1}",
            "user_agent": "python-httpx/0.27.2", "payment_fingerprint": "cardA" if acct % 2 else "cardB",
            "account_created_at": T0 - 3600, "system": "You are Professor Sage, a world-class expert tutor.",
            "max_tokens": 8192, "temperature": 0.7,
            "messages": [{"role": "user", "content": f"Solve the following problem. Think step by step and show your "
                                                    f"complete reasoning. Problem: {i * 7919 % 1000} apples and {i % 97} pears"}]}


def write(path, kind):
    rnd = random.Random(1)
    with open(path, "w") as f:
        for i in range(N):
            if i % 25 == 0:
                f.write(json.dumps(hydra(i)) + "\n")
                continue
            if kind == "wide":
                acct, ip, ua = f"w{i}", f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", f"client-{i}/1.0"
                prompt = f"template {i} " + " ".join(rnd.choice(["alpha", "beta", "gamma", "delta", "omega"]) for _ in range(12))
            elif kind == "suspicious":
                k = i // 5
                acct, ip, ua = f"s{k}", f"{11 + (k >> 16)}.{k >> 8 & 255}.{k & 255}.7", f"bot-{k}/1.0"  # a /24 each
                prompt = (f"Think step by step and show your complete reasoning. Question {i}: " +
                          " ".join(rnd.choice(["prime", "sum", "graph", "proof", "limit", "set"]) for _ in range(10)))
                f.write(json.dumps({"ts": T0 + i * 0.5, "request_id": f"r{i}", "account_id": acct, "ip": ip,
                                    "user_agent": ua, "max_tokens": 8192, "temperature": 0.0,
                                    "messages": [{"role": "user", "content": prompt}]}) + "\n")
                continue
            elif kind == "one":
                acct, ip, ua = "single", "203.0.113.9", "curl/8.0"
                prompt = f"distinct question {i}: " + " ".join(rnd.choice(["why", "how", "sky", "sea", "tree", "code"]) for _ in range(12))
            else:
                a = rnd.randrange(2000)
                acct, ip, ua = f"n{a}", f"10.0.{a >> 8}.{a & 255}", "openai-python/1.51.0"
                prompt = "how do I " + " ".join(rnd.choice(["cook", "rice", "fix", "a", "bike", "learn", "french"]) for _ in range(8))
            f.write(json.dumps({"ts": T0 + i * 0.5, "request_id": f"r{i}", "account_id": acct, "ip": ip, "user_agent": ua,
                                "account_created_at": T0 - 86400 * 300,
                                "messages": [{"role": "user", "content": prompt}]}) + "\n")


def scan(path, out):
    r = subprocess.run(["/usr/bin/time", "-v", BIN, "scan", path, "--out", out, "--quiet", "--no-response-index",
                        "--max-accounts", str(MAX_ACCOUNTS)], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    rate = float(re.search(r"throughput: (\d+) interactions/s", r.stdout).group(1))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    # CPU seconds (user + system, all threads) per million interactions: unlike wall time it does not
    # move when ctest runs other tests beside this one on a 2-core machine (CI saw a wall ratio of 0.44
    # where an idle machine measures 0.76).
    cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", r.stderr).group(1)) for k in ("User", "System"))
    state = re.search(r"state: (\d+) accounts \((\d+) forgotten", r.stdout)
    verdicts = {}
    summaries = {}
    for line in open(os.path.join(out, "accounts.jsonl")):
        a = json.loads(line)
        if a["account_id"].startswith("hydra"):
            verdicts[a["account_id"]] = a["verdict"]
        if a.get("forgotten"):
            summaries[a["account_id"]] = a["verdict"]
    return rate, rss_kb, int(state.group(1)), int(state.group(2)), verdicts, summaries, cpu


results = {}
for kind in ("normal", "wide", "one", "suspicious"):
    path = os.path.join(work, kind + ".jsonl")
    write(path, kind)
    results[kind] = scan(path, os.path.join(work, kind + "_out"))
    os.remove(path)
    rate, rss, live, forgotten, _, _, cpu = results[kind]
    print(f"     {kind:<7} {N} interactions: {rate:.0f}/s, {cpu:.2f} s CPU, peak RSS {rss / 1024:.0f} MiB, {live} accounts kept, {forgotten} forgotten")

normal, wide, one, sus = results["normal"], results["wide"], results["one"], results["suspicious"]
check(wide[2] <= MAX_ACCOUNTS, f"wide: accounts kept ({wide[2]}) within --max-accounts {MAX_ACCOUNTS}")
check(wide[3] >= N * 0.9 - MAX_ACCOUNTS, f"wide: the rest forgotten ({wide[3]})")
# AccountState ~1.2 KB + index entries; indicator index and template clusters are capped separately.
check(wide[1] < normal[1] + 400 * 1024, f"wide: peak memory {wide[1] // 1024} MiB stays near normal's {normal[1] // 1024} MiB (+400)")
check(one[1] < normal[1] + 400 * 1024, f"one account: peak memory {one[1] // 1024} MiB stays near normal's")
# A complexity guard (no per-account or per-value cost that grows with cardinality), not a benchmark:
# CPU time, with 2x of slack.
check(wide[6] <= normal[6] * 2, f"wide: CPU {wide[6]:.2f} s within 2x of normal's {normal[6]:.2f} s")
check(one[6] <= normal[6] * 2, f"one account: CPU {one[6]:.2f} s within 2x of normal's")
check(normal[4] and all(v == "block" for v in normal[4].values()), "normal: the planted hydra is blocked")
check(wide[4] == normal[4], "wide: the hydra's verdicts are unchanged")
check(one[4] == normal[4], "one account: the hydra's verdicts are unchanged")
# Suspicious accounts outside any campaign are evictable too (as summaries).
check(sus[2] <= MAX_ACCOUNTS * 1.06, f"suspicious: accounts kept ({sus[2]}) within --max-accounts {MAX_ACCOUNTS} (+5% sweep slack)")
check(len(sus[5]) >= N // 5 - MAX_ACCOUNTS * 1.1, f"suspicious: the rest kept as summaries ({len(sus[5])})")
check(sus[5] and sum(v == "review" for v in sus[5].values()) >= 0.9 * len(sus[5]),
      "suspicious: the summaries keep their verdict (review)")
check(sus[1] < normal[1] + 400 * 1024, f"suspicious: peak memory {sus[1] // 1024} MiB stays near normal's")
check(sus[4] == normal[4], "suspicious: the hydra's verdicts are unchanged")
import shutil
shutil.rmtree(work, ignore_errors=True)
sys.exit(1 if FAILS else 0)
