"""What the cluster tests share: free loopback ports, a one-node nats-server
with JetStream, waiting for a node's port file, and stopping what a test
started (by process, newest first)."""
import os
import socket
import subprocess
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port_file(path, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if os.path.exists(path):
            return int(open(path).read())
        if proc.poll() is not None:
            raise RuntimeError(f"exited {proc.returncode} before listening")
        time.sleep(0.05)
    raise RuntimeError("no port file")


def start_nats(work, procs):
    """A one-node nats-server with JetStream storing under work/js; returns
    its client port. The process is appended to procs."""
    port = free_port()
    procs.append(subprocess.Popen(["nats-server", "-js", "-sd", os.path.join(work, "js"), "-a", "127.0.0.1",
                                   "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return port


def stop_all(procs):
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def demo_and_scan(dg, work):
    """The demo scenario (seed 7) in WORK/data and `scan --no-samples` of it
    in WORK/scan -- what a cluster run is compared with. Returns (events, scan)."""
    data = os.path.join(work, "data")
    subprocess.run([dg, "simulate", "--scenario", "demo", "--seed", "7", "--out", data], check=True,
                   stdout=subprocess.DEVNULL)
    events = os.path.join(data, "events.jsonl")
    scan = os.path.join(work, "scan")
    subprocess.run([dg, "scan", events, "--out", scan, "--no-samples", "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    return events, scan


def report(failures):
    """Prints each failure and returns the test's exit code."""
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0
