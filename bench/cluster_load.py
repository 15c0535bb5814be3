#!/usr/bin/env python3
"""The cluster under a steady publish rate (BENCHMARKS.md, "Scale-out on NATS").

Starts a 3-node nats-server cluster (JetStream, R=3) on free loopback ports,
the correlator, WORKERS workers and two decision nodes -- `decide` (the
minimal one) and `serve --nats` (serve's HTTP stack); publishes EVENTS at
RATE events/s; meanwhile samples the workers' and the correlator's consumer
lag from /metrics every 0.5 s and sends POST /v1/check to the decision
nodes in a loop, alternating between them (one connection per request, from
this script: the latency includes Python's HTTP client). Prints the lag
(median, max) and each node's check latency (p50, p99, max). Stops
everything it started.

usage: cluster_load.py DISTILLGUARD EVENTS RATE [WORKERS]
"""
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def metric(port, name):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def wait_file(path, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if os.path.exists(path):
            return int(open(path).read())
        time.sleep(0.05)
    raise RuntimeError(f"no {path}")


def main():
    dg, events, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    work = tempfile.mkdtemp(prefix="dg-cluster-load.")
    procs = []
    try:
        ports = free_ports(6)
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in ports[3:])
        for n in range(3):
            conf = os.path.join(work, f"n{n}.conf")
            with open(conf, "w") as f:
                f.write(f'server_name: dg{n}\nlisten: 127.0.0.1:{ports[n]}\n'
                        f'jetstream {{ store_dir: "{work}/n{n}", max_memory_store: 67108864, max_file_store: 4294967296 }}\n'
                        f'cluster {{ name: dgload, listen: 127.0.0.1:{ports[n + 3]}, routes: [ {routes} ] }}\n')
            procs.append(subprocess.Popen(["nats-server", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls = ",".join(f"nats://127.0.0.1:{p}" for p in ports[:3])
        common = ["--nats", urls, "--replicas", "3"]
        log = open(os.path.join(work, "nodes.log"), "w")
        procs.append(subprocess.Popen([dg, "correlator", *common, "--listen", "127.0.0.1:0", "--port-file",
                                       f"{work}/c.port"], stdout=log, stderr=log))
        for w in range(workers):
            procs.append(subprocess.Popen([dg, "worker", *common, "--index", str(w), "--of", str(workers), "--listen",
                                           "127.0.0.1:0", "--port-file", f"{work}/w{w}.port"], stdout=log, stderr=log))
        procs.append(subprocess.Popen([dg, "decide", *common, "--listen", "127.0.0.1:0", "--port-file", f"{work}/d.port"],
                                      stdout=log, stderr=log))
        procs.append(subprocess.Popen([dg, "serve", *common, "--data", f"{work}/serve", "--listen", "127.0.0.1:0",
                                       "--port-file", f"{work}/s.port"], stdout=log, stderr=log))
        cport = wait_file(f"{work}/c.port")
        sport = wait_file(f"{work}/s.port")
        wports = [wait_file(f"{work}/w{w}.port") for w in range(workers)]
        dport = wait_file(f"{work}/d.port")
        with open(events) as f:
            # canonical records name the account account_id, OpenAI-shaped ones user
            accounts = sorted({j.get("account_id") or j.get("user") for j in map(json.loads, filter(str.strip, f))} - {None})
        lines = sum(1 for _ in open(events))
        publisher = subprocess.Popen([dg, "publish", *common, "--rate", str(rate), events], stdout=log, stderr=log)
        procs.append(publisher)
        lags, clags = [], []
        latencies = {"decide": [], "serve --nats": []}
        done = threading.Event()

        def checker():
            rng = random.Random(1)
            while not done.is_set():
                body = json.dumps({"account_id": rng.choice(accounts)})
                for name, port in (("decide", dport), ("serve --nats", sport)):
                    t = time.perf_counter()
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    c.request("POST", "/v1/check", body, {"Content-Type": "application/json"})
                    c.getresponse().read()
                    latencies[name].append((time.perf_counter() - t) * 1000)
                    c.close()

        th = threading.Thread(target=checker)
        th.start()
        t0 = time.time()
        while True:
            lag = [metric(p, "dg_worker_consumer_lag") for p in wports]
            if all(v is not None for v in lag) and publisher.poll() is None:
                lags.append(sum(lag))
                c = metric(cport, "dg_correlator_consumer_lag")
                if c is not None:
                    clags.append(c)
            applied = metric(cport, "dg_correlator_applied_total") or 0
            if publisher.poll() is not None and applied >= lines:
                break
            if time.time() - t0 > 900:
                raise RuntimeError("not applied within 15 minutes")
            time.sleep(0.5)
        elapsed = time.time() - t0
        done.set()
        th.join()
        print(f"events {lines} at --rate {rate:.0f}/s, {workers} worker(s): all applied {elapsed:.1f}s after the "
              f"publish started ({lines / elapsed:.0f} events/s end to end)")
        if lags:
            print(f"worker consumer lag while publishing: median {statistics.median(lags):.0f}, max {max(lags):.0f} events "
                  f"({len(lags)} samples)")
        if clags:
            print(f"correlator consumer lag while publishing: median {statistics.median(clags):.0f}, max {max(clags):.0f}")
        for name, lat in latencies.items():
            lat.sort()
            q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
            print(f"/v1/check on {name} while ingesting: {len(lat)} requests, p50 {q(0.5):.2f} ms, "
                  f"p99 {q(0.99):.2f} ms, max {lat[-1]:.2f} ms")
        return 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
