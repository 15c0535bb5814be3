#!/usr/bin/env python3
"""Writes the events.jsonl of the golden scenarios (deterministic). The
expected.txt files are written by hand: they are the analyst's judgement."""
import json
import random
from pathlib import Path

HERE = Path(__file__).parent
T0 = 1775001600  # 2026-04-01T00:00:00Z


def ts(sec):
    import datetime
    return datetime.datetime.fromtimestamp(sec, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def write(name, events):
    d = HERE / name
    d.mkdir(exist_ok=True)
    with open(d / "events.jsonl", "w") as f:
        for e in events:
            f.write(e if isinstance(e, str) else json.dumps(e, separators=(",", ":")))
            f.write("\n")


def rec(rid, t, acct, text, **kw):
    e = {"ts": ts(t), "request_id": rid, "account_id": acct, "messages": [{"role": "user", "content": text}]}
    e.update(kw)
    return e


def hydra():
    rng = random.Random(1)
    ev = []
    t = T0
    persona = "You are Professor Sage, a world-class expert tutor in mathematics and logic."
    for rnd in range(25):
        for a in range(6):
            t += 7
            task = f"A tank holds {rng.randint(10, 900)} litres and drains at {rng.randint(2, 40)} litres a minute."
            ev.append(rec(f"h{rnd}-{a}", t, f"acct_h{a}",
                          f"Solve the following problem. Think step by step and show your complete reasoning. Problem: {task}",
                          system=persona, ip=f"198.51.100.{10 + a}", user_agent="python-httpx/0.27.2",
                          payment_fingerprint="pm_shared_1" if a % 2 else "pm_shared_2",
                          account_created_at=ts(T0 - 3600), max_tokens=8192, temperature=0.7, model="atlas-3-pro"))
    # a replacement account after the ban, same card, new address
    for k in range(3):
        t += 30
        ev.append(rec(f"new-{k}", t, "acct_replacement", "Solve the following problem. Think step by step and show "
                      "your complete reasoning. Problem: what is 17 times 23?", system=persona, ip="203.0.113.200",
                      user_agent="python-httpx/0.27.2", payment_fingerprint="pm_shared_1",
                      account_created_at=ts(t - 600), max_tokens=8192, temperature=0.7, model="atlas-3-pro"))
    # an unrelated customer on another network
    for k in range(10):
        ev.append(rec(f"c-{k}", T0 + 100 + k * 500, "acct_customer", "how do I make banana bread moist?",
                      ip="192.0.2.44", payment_fingerprint="pm_customer", account_created_at=ts(T0 - 86400 * 200)))
    ev.sort(key=lambda e: e["ts"])
    write("hydra_card_sharing", ev)


def campus():
    rng = random.Random(2)
    ev = []
    questions = ["Explain the difference between mitosis and meiosis. Please explain step by step.",
                 "What were the causes of World War I?", "Solve x^2 - 5x + 6 = 0 step by step.",
                 "Describe the water cycle."]
    for s in range(20):
        created = T0 - 86400 * 3 + s * 3000
        t = T0 + s * 400
        for q in range(8):
            t += rng.randint(600, 20000)
            msgs = [{"role": "user", "content": rng.choice(questions)}]
            if q % 2:
                msgs += [{"role": "assistant", "content": "Here is an explanation."},
                         {"role": "user", "content": "can you give an example?"}]
            ev.append({"ts": ts(t), "request_id": f"s{s}-{q}", "account_id": f"acct_student{s}",
                       "ip": "192.0.2.10", "email_domain": "univ-example.edu", "user_agent": "Mozilla/5.0",
                       "account_created_at": ts(created), "messages": msgs, "model": "atlas-3-pro"})
    ev.sort(key=lambda e: e["ts"])
    write("campus_nat", ev)


def benchmark():
    rng = random.Random(3)
    ev = []
    t = T0
    for i in range(400):
        t += 4
        a = i % 3
        ev.append(rec(f"b{i}", t, f"acct_lab{a}", f"Question: what is {rng.randint(1, 999)} + {rng.randint(1, 999)}?\n"
                      "Let's think step by step, then give the final answer on the last line.",
                      org_id="org_lab", ip="203.0.113.5", payment_fingerprint="pm_lab", user_agent="python-httpx/0.27.2",
                      account_created_at=ts(T0 - 86400 * 400), max_tokens=4096, temperature=0, model="atlas-3-pro"))
    write("benchmark_lab", ev)


def bad_input():
    good = [rec(f"g{i}", T0 + i, "acct_ok", "hello there") for i in range(5)]
    lines = [json.dumps(good[0]), "{broken", json.dumps(good[1]), json.dumps(good[1]),  # duplicate
             json.dumps({"ts": "yesterday", "request_id": "x1", "account_id": "a", "messages": []}),
             json.dumps({"ts": T0, "request_id": "x2", "messages": [{"role": "user", "content": "no account"}]}),
             "", json.dumps(good[2]),
             json.dumps({"ts": T0, "request_id": "x3", "account_id": "a", "messages": [{"role": "user", "content": "x"}], "ip": "not-an-ip"}),
             json.dumps({"ts": T0 + 9, "request_id": "o1", "user": "acct_openai", "model": "gpt",
                         "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
                         "choices": [{"message": {"role": "assistant", "content": "hello"}}],
                         "usage": {"prompt_tokens": 3, "completion_tokens": 1}}),
             json.dumps(good[3]), json.dumps(good[4])]
    write("bad_input_and_openai_shape", lines)


if __name__ == "__main__":
    hydra()
    campus()
    benchmark()
    bad_input()
