#!/usr/bin/env python3
"""Load generator for serve's POST /v1/events: reads JSONL, cuts it into
batches of --batch lines, and posts them over --connections keep-alive
connections as fast as the server acknowledges. Prints events/s and MB/s
(medians are taken by the caller over repeated runs).

Usage: ingest_load.py URL FILE [--batch N] [--connections C] [--limit N] [--token T] [--rate EV_PER_S] [--skip N]
"""
import argparse
import http.client
import threading
import time
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("url")
ap.add_argument("file")
ap.add_argument("--batch", type=int, default=5000)
ap.add_argument("--connections", type=int, default=2)
ap.add_argument("--limit", type=int, default=500000)
ap.add_argument("--skip", type=int, default=0, help="lines to skip first (fresh request ids on a reused server)")
ap.add_argument("--token", default="")
ap.add_argument("--rate", type=float, default=0, help="events/s to offer in total (0: as fast as acknowledged)")
args = ap.parse_args()

batches = []
with open(args.file, "rb") as f:
    cur, n = [], 0
    for _ in range(args.skip):
        f.readline()
    for line in f:
        cur.append(line)
        n += 1
        if len(cur) == args.batch:
            batches.append(b"".join(cur))
            cur = []
        if n >= args.limit:
            break
    if cur:
        batches.append(b"".join(cur))

u = urllib.parse.urlparse(args.url)
lock = threading.Lock()
state = {"next": 0, "accepted": 0, "bytes": 0, "errors": 0}


def worker():
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    headers = {"Content-Type": "application/x-ndjson"}
    if args.token:
        headers["Authorization"] = "Bearer " + args.token
    while True:
        with lock:
            i = state["next"]
            state["next"] += 1
        if i >= len(batches):
            return
        if args.rate > 0:  # paced: batch i is due at i * batch / rate
            due = t0 + i * args.batch / args.rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        conn.request("POST", "/v1/events", body=batches[i], headers=headers)
        r = conn.getresponse()
        body = r.read()
        with lock:
            if r.status == 200:
                import json
                state["accepted"] += json.loads(body)["accepted"]
                state["bytes"] += len(batches[i])
            else:
                state["errors"] += 1


t0 = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(args.connections)]
for t in threads:
    t.start()
for t in threads:
    t.join()
dt = time.perf_counter() - t0
print(f"events={state['accepted']} seconds={dt:.3f} events_per_s={state['accepted'] / dt:.0f} "
      f"MB_per_s={state['bytes'] / dt / 1e6:.1f} errors={state['errors']}")
