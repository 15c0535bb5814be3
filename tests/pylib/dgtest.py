"""Helpers shared by the Python tests that drive the real binary: a check
recorder, and a `distillguard serve` process on port 0 with an HTTP client."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time

FAILS = []


def check(cond, what):
    """Prints ok/FAIL for one expectation and remembers failures."""
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def run(main, work, what):
    """Runs main(), removes the work directory whatever happens, and exits 1
    if any check failed."""
    try:
        main()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if FAILS:
        print(f"{len(FAILS)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print(f"all {what} checks passed")


class Server:
    """`distillguard serve --listen 127.0.0.1:0 --data DATA [extra]`, with the
    bearer token in DISTILLGUARD_TOKEN when given; waits for its port file."""

    def __init__(self, binary, work, data, extra=(), token=None, preexec_fn=None):
        self.token = token
        self.port_file = os.path.join(work, "port")
        if os.path.exists(self.port_file):
            os.remove(self.port_file)
        env = dict(os.environ)
        env.pop("DISTILLGUARD_TOKEN", None)
        if token:
            env["DISTILLGUARD_TOKEN"] = token
        self.log = open(os.path.join(work, "server.log"), "a")
        self.proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data", data,
                                      "--port-file", self.port_file, *extra],
                                     env=env, stdout=self.log, stderr=self.log, preexec_fn=preexec_fn)
        deadline = time.time() + 60
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit("server did not start; see " + self.log.name)
            time.sleep(0.05)
        self.port = int(open(self.port_file).read())

    def request(self, method, path, body=None, token="default", headers=None, timeout=60):
        """Returns (status, parsed JSON or text, response)."""
        if token == "default":
            token = self.token
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, bytes):
            body = body.encode()
        if body is not None:
            h.setdefault("Content-Type", "application/x-ndjson" if path == "/v1/events" else "application/json")
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode(errors="replace")
        return r.status, parsed, r

    def check(self, **fields):
        return self.request("POST", "/v1/check", json.dumps(fields))

    def metric(self, name):
        _, text, _ = self.request("GET", "/metrics", token=None)
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)
        return self.proc.returncode
