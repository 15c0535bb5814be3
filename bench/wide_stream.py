#!/usr/bin/python3
"""The widest stream for the scaling series: N interactions, each from a new
account, a new address and a new client, with a prompt of its own -- the
10M-account point. Canonical records (SCHEMA.md) on stdout.
Usage: wide_stream.py N"""
import sys

n = int(sys.argv[1])
t0 = 1775001600.0
words = ["river", "matrix", "proof", "recipe", "orbit", "tax", "poem", "graph", "enzyme", "contract", "kernel", "storm"]
out = sys.stdout
buf = []
for i in range(n):
    w = words[i % 12], words[(i // 12) % 12], words[(i // 144) % 12]
    buf.append(f'{{"ts":{t0 + i * 0.004:.3f},"request_id":"w{i}","account_id":"acct_w{i}",'
               f'"ip":"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}","user_agent":"client-{i}/1.0",'
               f'"model":"atlas-3-pro","messages":[{{"role":"user","content":"Question {i}: how does the {w[0]} '
               f'relate to the {w[1]} and the {w[2]}?"}}],"response":{{"content":"It depends on the {w[2]}.",'
               f'"output_tokens":{40 + i % 400}}}}}\n')
    if len(buf) == 10000:
        out.write("".join(buf))
        buf.clear()
out.write("".join(buf))
