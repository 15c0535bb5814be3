#!/usr/bin/env python3
"""POST /v1/events as log shippers send it (issue #17), with the real binary
on 127.0.0.1 port 0: NDJSON, one JSON array of records (LiteLLM's generic
API logger), the same gzip-compressed, an unknown Content-Encoding (415),
corrupt gzip (400), and a decompression bomb refused with 413 while the
server stays up and keeps what it had.

Usage: serve_bodies.py DISTILLGUARD_BINARY
"""
import gzip
import http.client
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dgtest  # noqa: E402
from dgtest import check  # noqa: E402

BIN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="dg_serve_bodies_")
TOKEN = "tok-" + str(os.getpid())


def rec(n, account="acct"):
    return {"ts": 1775001600 + n, "request_id": f"{account}-{n}", "account_id": account,
            "messages": [{"role": "user", "content": f"hello {n}"}]}


def main():
    data = os.path.join(WORK, "data")
    s = dgtest.Server(BIN, WORK, data, ["--max-body-bytes", "65536"], token=TOKEN)
    ndjson = "".join(json.dumps(rec(n)) + "\n" for n in range(3))
    st, body, _ = s.request("POST", "/v1/events", ndjson)
    check(st == 200 and body["accepted"] == 3, f"NDJSON: 3 accepted ({st} {body})")

    arr = json.dumps([rec(n) for n in range(3, 6)], indent=2)  # pretty-printed: records span lines
    st, body, _ = s.request("POST", "/v1/events", arr, headers={"Content-Type": "application/json"})
    check(st == 200 and body["accepted"] == 3 and body["rejected"] == 0, f"JSON array: 3 accepted ({st} {body})")

    st, body, _ = s.request("POST", "/v1/events", json.dumps([rec(6), {"ts": "x"}, rec(7)]))
    check(st == 200 and body["accepted"] == 2 and body["rejected"] == 1 and "request:2" in body["errors"][0],
          f"JSON array: a bad element is named by its position, the others kept ({st} {body})")

    gz = gzip.compress("".join(json.dumps(rec(n)) + "\n" for n in range(8, 11)).encode())
    st, body, _ = s.request("POST", "/v1/events", gz, headers={"Content-Encoding": "gzip"})
    check(st == 200 and body["accepted"] == 3, f"gzip NDJSON: 3 accepted ({st} {body})")

    gz = gzip.compress(json.dumps([rec(n) for n in range(11, 13)]).encode())
    st, body, _ = s.request("POST", "/v1/events", gz, headers={"Content-Encoding": "gzip"})
    check(st == 200 and body["accepted"] == 2, f"gzip JSON array: 2 accepted ({st} {body})")

    st, body, _ = s.request("POST", "/v1/events", ndjson, headers={"Content-Encoding": "br"})
    check(st == 415, f"unknown Content-Encoding: 415 ({st} {body})")

    st, body, _ = s.request("POST", "/v1/events", gz[:len(gz) // 2], headers={"Content-Encoding": "gzip"})
    check(st == 400 and "compressed" in body["error"], f"truncated gzip: 400 ({st} {body})")

    st, body, _ = s.request("POST", "/v1/events", b"[1, 2", headers={"Content-Type": "application/json"})
    check(st == 400, f"broken JSON array: 400 ({st} {body})")

    # 64 KiB body cap, 512 KiB inflated cap: 50 MB of zeros compress to ~50 KB.
    bomb = gzip.compress(b"0" * (50 << 20), compresslevel=9)
    check(len(bomb) < 65536, f"bomb fits the body cap ({len(bomb)} bytes)")
    st, body, _ = s.request("POST", "/v1/events", bomb, headers={"Content-Encoding": "gzip"})
    check(st == 413, f"decompression bomb: 413 ({st} {body})")

    st, body, _ = s.request("GET", "/v1/accounts/acct")
    check(st == 200, f"server up after the bomb, account kept ({st})")
    check(s.metric("distillguard_events_accepted_total") == 13, "13 events accepted in all")
    s.stop()
    large_bodies()


def large_bodies():
    """Bodies of many read calls (the server reads up to 64 KiB a call into a
    body it appends to): every byte arrives once and in order, with a
    Content-Length and chunked, on one keep-alive connection."""
    s = dgtest.Server(BIN, WORK, os.path.join(WORK, "data_large"), token=TOKEN)
    pad = "x" * 700  # ~1 KB a record: a 2 MB body is ~30 reads of 64 KiB

    def big(first, n, account):
        return "".join(json.dumps(dict(rec(k, account), metadata={"pad": pad + str(k)})) + "\n"
                       for k in range(first, first + n))

    with_length = big(0, 2000, "big-a").encode()
    chunks = [with_length[i:i + 7001] for i in range(0, len(with_length), 7001)]  # odd chunk edges
    chunked = big(0, 2000, "big-b").encode()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    h = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/x-ndjson"}
    conn.request("POST", "/v1/events", body=with_length, headers=h)
    r = conn.getresponse()
    body = json.loads(r.read())
    check(r.status == 200 and body["accepted"] == 2000 and body["rejected"] == 0,
          f"{len(with_length)} bytes with a Content-Length: 2000 accepted ({r.status} {body})")
    conn.request("POST", "/v1/events", body=iter([chunked[i:i + 5003] for i in range(0, len(chunked), 5003)]),
                 headers=h, encode_chunked=True)
    r = conn.getresponse()
    body = json.loads(r.read())
    check(r.status == 200 and body["accepted"] == 2000 and body["rejected"] == 0,
          f"{len(chunked)} bytes chunked on the same connection: 2000 accepted ({r.status} {body})")
    conn.request("POST", "/v1/events", body=iter(chunks), headers=h, encode_chunked=True)
    r = conn.getresponse()
    body = json.loads(r.read())
    check(r.status == 200 and body["duplicates"] == 2000,
          f"the first body again, chunked: 2000 duplicates, so the same bytes ({r.status} {body})")
    conn.close()
    for account in ("big-a", "big-b"):
        st, body, _ = s.request("GET", "/v1/accounts/" + account)
        check(st == 200 and body["interactions"] == 2000, f"{account}: 2000 interactions ({st} {body.get('interactions')})")
    s.stop()


dgtest.run(main, WORK, "serve bodies")
