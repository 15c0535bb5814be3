#!/usr/bin/env python3
"""Runs one behaviour scenario (a *.scn file, syntax in README.md beside this
file) against the real binary.

The file is expanded into SCHEMA.md JSON Lines. Expectations at the end of
the file are checked on `distillguard scan` of all the events; checkpoints in
the middle of the file, `check` and `override` lines are played against a
`distillguard serve` on port 0 (fresh data directory, bearer token from a
temporary file), which is sent the events written before each of them.

Usage: run_scenario.py DISTILLGUARD_BINARY FILE.scn [--print-events]
  --print-events  writes the expanded JSON Lines to stdout and runs nothing
Exit: 0 every expectation held, 1 one failed, 2 the file does not parse.
"""
import datetime
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))

DEFAULT_START = "2026-04-01T00:00:00Z"

# Short names an analyst types -> SCHEMA.md fields. Full field names work too.
FIELDS = {
    "id": "request_id", "acct": "account_id", "org": "org_id", "key": "api_key_id", "ip": "ip",
    "ua": "user_agent", "pay": "payment_fingerprint", "created": "account_created_at",
    "email": "email_domain", "model": "model", "system": "system", "max_tokens": "max_tokens",
    "temperature": "temperature", "conv": "conversation_id", "response": "response",
}
for _f in list(FIELDS.values()):
    FIELDS[_f] = _f
NUMERIC = {"max_tokens": int, "temperature": float}
MESSAGE_KEYS = {"prompt": "user", "user": "user", "assistant": "assistant"}
CHECK_FIELDS = {"acct": "account_id", "key": "api_key_id", "ip": "ip", "ua": "user_agent",
                "pay": "payment_fingerprint", "model": "model", "prompt": "prompt"}
for _f in list(CHECK_FIELDS.values()):
    CHECK_FIELDS[_f] = _f
VERDICTS = {"block", "review", "allow", "not-block"}
DECISIONS = {"allow", "throttle", "withhold_reasoning", "challenge", "block", "not-block"}
SUMMARY_LABELS = {"accepted": "interactions accepted", "rejected": "rejected",
                  "duplicates": "duplicates", "lines": "lines read"}


class ParseError(Exception):
    pass


# ---------------------------------------------------------------- lexing

def tokens(text, where):
    """Splits `a=b c="d e"` into [('a', 'b'), ('c', 'd e')]; a bare word gives (word, None).
    Quoted values understand \\" \\\\ \\n \\t."""
    out, pos, n = [], 0, len(text)
    while pos < n:
        if text[pos].isspace():
            pos += 1
            continue
        m = re.match(r'[^\s="]+', text[pos:])
        if not m:
            raise ParseError(f"{where}: expected a word or key=value at: {text[pos:pos + 30]!r}")
        word = m.group(0)
        pos += len(word)
        if pos < n and text[pos] == "=":
            pos += 1
            if pos < n and text[pos] == '"':
                pos += 1
                val = []
                while True:
                    if pos >= n:
                        raise ParseError(f"{where}: unterminated quoted value for '{word}'")
                    c = text[pos]
                    if c == "\\" and pos + 1 < n:
                        val.append({"n": "\n", "t": "\t"}.get(text[pos + 1], text[pos + 1]))
                        pos += 2
                    elif c == '"':
                        pos += 1
                        break
                    else:
                        val.append(c)
                        pos += 1
                out.append((word, "".join(val)))
            else:
                m = re.match(r"\S*", text[pos:])
                out.append((word, m.group(0)))
                pos += len(m.group(0))
        else:
            out.append((word, None))
    return out


DURATION_TERM = re.compile(r"([+-]?)(\d+)(d|h|m|s)?")


def duration(text, where):
    """'90s', '5m', '1h30m', '-3d+150m', '42' (seconds) -> seconds."""
    text = text.strip()
    if not text:
        raise ParseError(f"{where}: empty duration")
    total, pos, sign = 0, 0, 1
    while pos < len(text):
        m = DURATION_TERM.match(text, pos)
        if not m or m.end() == pos:
            raise ParseError(f"{where}: bad duration {text!r} (like 90s, 5m, 2h, 3d, 1h30m, -2h)")
        if m.group(1):
            sign = -1 if m.group(1) == "-" else 1
        total += sign * int(m.group(2)) * {"d": 86400, "h": 3600, "m": 60, "s": 1, None: 1}[m.group(3)]
        pos = m.end()
    return total


def parse_rfc3339(text):
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def fmt_ts(sec):
    return datetime.datetime.fromtimestamp(sec, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def time_value(text, start, where):
    """'+5m' / '-2h' / '0' are relative to `start`; an RFC 3339 time is absolute."""
    if re.match(r"\d{4}-\d\d-\d\dT", text):
        try:
            return parse_rfc3339(text)
        except ValueError:
            raise ParseError(f"{where}: bad time {text!r}")
    return start + duration(text, where)


# ---------------------------------------------------------------- {…} substitution

EXPR_OK = re.compile(r"^[\si0-9+\-*/%()]+$")
RAND_INT = re.compile(r"^rand\s+(-?\d+)\s+(-?\d+)$")


def eval_expr(expr, i, where):
    """Integer arithmetic over i: + - * / (floor) % and parentheses."""
    py = re.sub(r"(?<![/])/(?!/)", "//", expr)
    try:
        return int(eval(py, {"__builtins__": {}}, {"i": i}))  # grammar checked by EXPR_OK
    except Exception as e:  # noqa: BLE001 -- report any arithmetic error at file:line
        raise ParseError(f"{where}: cannot evaluate {{{expr}}}: {e}")


def substitute(text, i, where, seed):
    """Replaces {EXPR}, {a|b|c} (item i mod n), {rand A B} and {rand a|b|c}
    (deterministic per line, i and position). Other braces (JSON) are kept."""
    count = [0]

    def one(m):
        body = m.group(1)
        count[0] += 1
        rng = random.Random(f"{seed}:{i}:{count[0]}")
        if body.startswith("rand ") and "|" in body:
            return rng.choice(body[5:].split("|"))
        r = RAND_INT.match(body)
        if r:
            return str(rng.randint(int(r.group(1)), int(r.group(2))))
        if "|" in body:
            items = body.split("|")
            return items[i % len(items)]
        if EXPR_OK.match(body):
            return str(eval_expr(body, i, where))
        if re.match(r"^\s*[A-Za-z_][\w ]*$", body):
            raise ParseError(f"{where}: unknown substitution {{{body}}} (use {{i}}, {{i%6}}, {{a|b}}, {{rand 1 9}})")
        return m.group(0)

    return re.sub(r"\{([^{}\"]*)\}", one, text)


# ---------------------------------------------------------------- the scenario

class Scenario:
    def __init__(self, path):
        self.path = Path(path)
        self.name = self.path.stem
        self.start = parse_rfc3339(DEFAULT_START)
        self.defaults = {}
        self.items = []  # ('event', line, ts, dict) | ('raw', line, ts, str)
        self.steps = []  # ('expect'|'check'|'override', line, n_items_before, payload)
        self.last_ts = None
        self.checkpoint_ts = None  # time of the last event sent before a serve step
        self.auto_id = 0

    def where(self, line):
        return f"{self.path}:{line}"

    def parse(self):
        seen_start = False
        for line_no, raw in enumerate(self.path.read_text().splitlines(), 1):
            text = raw.strip()
            where = self.where(line_no)
            if not text or text.startswith("#"):
                continue
            head, _, rest = text.partition(" ")
            if head == "start":
                if self.items or seen_start:
                    raise ParseError(f"{where}: 'start' must come once, before any event")
                try:
                    self.start = parse_rfc3339(rest.strip())
                except ValueError:
                    raise ParseError(f"{where}: bad start time {rest.strip()!r} (RFC 3339, like {DEFAULT_START})")
                seen_start = True
            elif head == "defaults":
                for k, v in tokens(rest, where):
                    if v is None:
                        raise ParseError(f"{where}: defaults takes key=value pairs, got '{k}'")
                    self.check_key(k, where)
                    if k == "t":
                        raise ParseError(f"{where}: t= belongs on each event, not in defaults")
                    if v == "":
                        self.defaults.pop(k, None)
                    else:
                        self.defaults[k] = v
            elif head == "repeat":
                m = re.match(r"(\d+)(?:\s+every\s+(\S+))?\s+(.*)$", rest.strip())
                if not m:
                    raise ParseError(f"{where}: expected 'repeat N [every DURATION] key=value ...'")
                n = int(m.group(1))
                step = duration(m.group(2), where) if m.group(2) else None
                if n < 1:
                    raise ParseError(f"{where}: repeat count must be at least 1")
                first = None
                for i in range(n):
                    fields = self.fields(substitute(m.group(3), i, where, f"{self.name}:{line_no}"), where)
                    if step is None:  # each copy's own t= (which may use {i}), else one second on
                        ts = (time_value(fields.pop("t"), self.start, where) if "t" in fields
                              else (self.last_ts + 1 if self.last_ts is not None else self.start))
                    else:
                        if i == 0:
                            first = (time_value(fields.pop("t"), self.start, where) if "t" in fields
                                     else (self.last_ts + step if self.last_ts is not None else self.start))
                        fields.pop("t", None)
                        ts = first + i * step
                    self.add_event(fields, ts, line_no)
            elif head == "raw":
                ts = self.last_ts if self.last_ts is not None else self.start
                self.items.append(("raw", line_no, ts, rest))
            elif head == "expect":
                self.steps.append(("expect", line_no, len(self.items), self.parse_expect(rest, where)))
            elif head == "check":
                self.steps.append(("check", line_no, len(self.items), self.parse_check(rest, where)))
            elif head == "override":
                self.steps.append(("override", line_no, len(self.items), self.parse_override(rest, where)))
            elif "=" in head:
                fields = self.fields(substitute(text, 0, where, f"{self.name}:{line_no}"), where)
                ts = (time_value(fields.pop("t"), self.start, where) if "t" in fields
                      else (self.last_ts + 1 if self.last_ts is not None else self.start))
                self.add_event(fields, ts, line_no)
            else:
                raise ParseError(f"{where}: unknown line '{head}' (an event starts with key=value; keywords: "
                                 "start, defaults, repeat, raw, expect, check, override)")
        if not self.items:
            raise ParseError(f"{self.path}: no events")
        # Expectations after the last event are the end-of-file ones (checked on scan);
        # the others are checkpoints, played against serve.
        n = len(self.items)
        for kind, line_no, at, payload in self.steps:
            if kind == "expect" and at < n and payload[0] == "summary":
                raise ParseError(f"{self.where(line_no)}: 'expect summary' is about the whole scan: put it at the end")

    def check_key(self, k, where):
        if k != "t" and k not in FIELDS and k not in MESSAGE_KEYS:
            raise ParseError(f"{where}: unknown field '{k}' (known: t, {', '.join(sorted(set(FIELDS) | set(MESSAGE_KEYS)))})")

    def fields(self, text, where):
        """key=value pairs of an event line, over the defaults; messages kept in order."""
        pairs = [(k, v) for k, v in self.defaults.items()]
        own = tokens(text, where)
        own_keys = {k for k, _ in own}
        # An event's own conversation replaces the default one as a whole.
        if own_keys & set(MESSAGE_KEYS):
            pairs = [(k, v) for k, v in pairs if k not in MESSAGE_KEYS]
        pairs = [(k, v) for k, v in pairs if k not in own_keys or k in MESSAGE_KEYS] + own
        out = {"_messages": []}
        for k, v in pairs:
            if v is None:
                raise ParseError(f"{where}: '{k}' has no value (write {k}=...)")
            self.check_key(k, where)
            if v == "" and k not in MESSAGE_KEYS:
                out.pop(k, None)  # `ua=` on an event drops the default
            elif k in MESSAGE_KEYS:
                out["_messages"].append({"role": MESSAGE_KEYS[k], "content": v})
            else:
                out[k] = v
        return out

    def add_event(self, fields, ts, line_no):
        where = self.where(line_no)
        if self.checkpoint_ts is not None and ts < self.checkpoint_ts:
            raise ParseError(f"{where}: event at {fmt_ts(ts)} is before the checkpoint above it "
                             f"({fmt_ts(self.checkpoint_ts)}); a checkpoint is a point in time")
        ev = {"ts": fmt_ts(ts)}
        if "id" not in fields and "request_id" not in fields:
            self.auto_id += 1
            ev["request_id"] = f"{self.name}-{self.auto_id}"
        msgs = fields.pop("_messages")
        for k, v in fields.items():
            name = FIELDS[k]
            if name == "account_created_at":
                ev[name] = fmt_ts(time_value(v, self.start, where))
            elif name in NUMERIC:
                try:
                    ev[name] = NUMERIC[name](v)
                except ValueError:
                    raise ParseError(f"{where}: {k} must be a number, got {v!r}")
            elif name == "response":
                ev[name] = {"content": v}
            else:
                ev[name] = v
        ev["messages"] = msgs
        self.items.append(("event", line_no, ts, ev))
        self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)

    def parse_expect(self, rest, where):
        words = rest.split()
        if not words:
            raise ParseError(f"{where}: expect what? (ACCOUNT VERDICT [REASON...], campaigns N, summary k=v ...)")
        if words[0] == "campaigns":
            if len(words) != 2 or not words[1].isdigit():
                raise ParseError(f"{where}: expected 'expect campaigns N'")
            self.mark_checkpoint()
            return ("campaigns", int(words[1]))
        if words[0] == "summary":
            want = {}
            for kv in words[1:]:
                k, _, v = kv.partition("=")
                if k not in SUMMARY_LABELS or not v.isdigit():
                    raise ParseError(f"{where}: summary takes {'/'.join(SUMMARY_LABELS)}=N, got {kv!r}")
                want[k] = int(v)
            if not want:
                raise ParseError(f"{where}: expect summary needs at least one k=N")
            return ("summary", want)
        if len(words) < 2 or words[1] not in VERDICTS:
            raise ParseError(f"{where}: expected 'expect ACCOUNT {'|'.join(sorted(VERDICTS))} [REASON...]'")
        self.mark_checkpoint()
        return ("account", words[0], words[1], words[2:])

    def mark_checkpoint(self):
        if self.last_ts is not None:
            self.checkpoint_ts = self.last_ts

    def parse_check(self, rest, where):
        body, arrow, want = rest.partition("->")
        if not arrow:
            raise ParseError(f"{where}: expected 'check {{json}} -> DECISION [REASON...]' or 'check acct=... -> DECISION'")
        body = body.strip()
        if body.startswith("{"):
            try:
                req = json.loads(body)
            except ValueError as e:
                raise ParseError(f"{where}: check body is not JSON: {e}")
        else:
            req = {}
            for k, v in tokens(body, where):
                if k not in CHECK_FIELDS or v is None:
                    raise ParseError(f"{where}: check takes {', '.join(sorted(CHECK_FIELDS))}=value, got {k!r}")
                req[CHECK_FIELDS[k]] = v
        words = want.split()
        if not words or words[0] not in DECISIONS:
            raise ParseError(f"{where}: after '->' one of {', '.join(sorted(DECISIONS))}, then reasons")
        self.mark_checkpoint()
        return (req, words[0], words[1:])

    def parse_override(self, rest, where):
        toks = tokens(rest, where)
        if len(toks) < 2 or toks[0][1] is not None or toks[1][0] not in ("allow", "block", "clear"):
            raise ParseError(f"{where}: expected 'override ACCOUNT allow|block|clear by=NAME reason=\"...\"'")
        kv = dict(t for t in toks[2:])
        if set(kv) - {"by", "reason"} or "by" not in kv:
            raise ParseError(f"{where}: override takes by=NAME (required) and reason=\"...\"")
        self.mark_checkpoint()
        return (toks[0][0], {"action": toks[1][0], "by": kv["by"], "reason": kv.get("reason", "")})

    def lines(self, upto=None):
        """The JSON Lines of items[:upto], sorted by time (stable; a raw line
        keeps the time of the line before it)."""
        chosen = sorted(enumerate(self.items[:upto]), key=lambda p: (p[1][2], p[0]))
        return [it[3] if it[0] == "raw" else json.dumps(it[3], separators=(",", ":")) for _, it in chosen]


# ---------------------------------------------------------------- running

def reason_names(rec):
    out = []
    for r in rec.get("reasons") or []:
        out.append(r if isinstance(r, str) else r.get("name") or r.get("reason"))
    return out


def verdict_ok(got, want):
    return got != "block" if want == "not-block" else got == want


class Runner:
    def __init__(self, binary, sc):
        self.binary, self.sc = binary, sc
        self.failures = 0
        self.passed = 0

    def result(self, ok, line_no, text):
        where = self.sc.where(line_no)
        if ok:
            self.passed += 1
            print(f"ok   {where}: {text}")
        else:
            self.failures += 1
            print(f"FAIL {where}: {text}")

    def expect_account(self, line_no, rec, acct, want, reasons, source):
        if rec is None or rec.get("verdict") is None:
            self.result(False, line_no, f"{acct}: expected {want}, but {source} has not seen the account")
            return
        have = reason_names(rec)
        missing = [r for r in reasons if r not in have]
        ok = verdict_ok(rec["verdict"], want) and not missing
        detail = f"{acct} is {rec['verdict']} (reasons {have})"
        if missing:
            detail += f", lacks {missing}"
        self.result(ok, line_no, f"expect {acct} {want} {' '.join(reasons)}".rstrip() + f" [{source}]: {detail}")

    def run_scan(self, work, end_expects):
        events = Path(work, "events.jsonl")
        events.write_text("".join(l + "\n" for l in self.sc.lines()))
        out = Path(work, "scan")
        proc = subprocess.run([self.binary, "scan", str(events), "--out", str(out), "--quiet"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr)
            self.result(False, end_expects[0][1], f"scan exited {proc.returncode}")
            return
        accounts = {}
        for line in Path(out, "accounts.jsonl").read_text().splitlines():
            rec = json.loads(line)
            accounts[rec["account_id"]] = rec
        campaigns = [l for l in Path(out, "campaigns.jsonl").read_text().splitlines() if l]
        summary = proc.stdout + " "
        for _, line_no, _, exp in end_expects:
            if exp[0] == "summary":
                for k, v in exp[1].items():
                    m = re.search(re.escape(SUMMARY_LABELS[k]) + r": (\d+)", summary)
                    got = int(m.group(1)) if m else None
                    self.result(got == v, line_no, f"expect summary {k}={v} [scan]: {SUMMARY_LABELS[k]}: {got}")
            elif exp[0] == "campaigns":
                self.result(len(campaigns) == exp[1], line_no,
                            f"expect campaigns {exp[1]} [scan]: {len(campaigns)} campaigns")
            else:
                _, acct, want, reasons = exp
                self.expect_account(line_no, accounts.get(acct), acct, want, reasons, "scan")

    def run_serve(self, work, serve_steps):
        import dgtest
        token = "scenario-" + os.urandom(8).hex()
        token_file = Path(work, "token")
        token_file.write_text(token + "\n")
        os.chmod(token_file, 0o600)
        server = dgtest.Server(self.binary, work, str(Path(work, "data")), ["--token-file", str(token_file)])
        server.token = token
        sent = 0
        try:
            for kind, line_no, at, payload in serve_steps:
                if at > sent:
                    batch = self.sc.lines(at)[sent:at]
                    st, body, _ = server.request("POST", "/v1/events", "\n".join(batch) + "\n")
                    if st not in (200, 400) or not isinstance(body, dict) or "accepted" not in body:
                        self.result(False, line_no, f"POST /v1/events of the events above: {st} {body}")
                        return
                    sent = at
                if kind == "expect":
                    if payload[0] == "campaigns":
                        st, body, _ = server.request("GET", "/v1/campaigns")
                        n = len(body.get("campaigns", [])) if isinstance(body, dict) else None
                        self.result(n == payload[1], line_no, f"expect campaigns {payload[1]} [serve]: {n} campaigns")
                    else:
                        _, acct, want, reasons = payload
                        st, body, _ = server.request("GET", "/v1/accounts/" + acct)
                        self.expect_account(line_no, body if st == 200 else None, acct, want, reasons, "serve")
                elif kind == "check":
                    req, want, reasons = payload
                    st, body, _ = server.request("POST", "/v1/check", json.dumps(req))
                    if st != 200 or not isinstance(body, dict):
                        self.result(False, line_no, f"check {json.dumps(req)}: HTTP {st} {body}")
                        continue
                    have = body.get("reasons") or []
                    missing = [r for r in reasons if r not in have]
                    ok = verdict_ok(body.get("decision"), want) and not missing
                    detail = f"{body.get('decision')} (reasons {have}, campaign {body.get('campaign_id')})"
                    if missing:
                        detail += f", lacks {missing}"
                    self.result(ok, line_no, f"check {req.get('account_id')} -> {want} {' '.join(reasons)}".rstrip()
                                + f": {detail}")
                else:
                    acct, body = payload
                    st, resp, _ = server.request("POST", f"/v1/accounts/{acct}/override", json.dumps(body))
                    self.result(st == 200, line_no, f"override {acct} {body['action']}: HTTP {st}"
                                + ("" if st == 200 else f" {resp}"))
        finally:
            server.stop()

    def run(self):
        n = len(self.sc.items)
        end_expects = [s for s in self.sc.steps if s[0] == "expect" and s[2] == n]
        serve_steps = [s for s in self.sc.steps if not (s[0] == "expect" and s[2] == n)]
        with tempfile.TemporaryDirectory(prefix="dg_scn_") as work:
            if end_expects:
                self.run_scan(work, end_expects)
            if serve_steps:
                self.run_serve(work, serve_steps)
        if not self.sc.steps:
            print(f"FAIL {self.sc.path}: no expectations: a scenario that checks nothing cannot fail")
            return 1
        print(f"{self.sc.name}: {self.passed} ok, {self.failures} failed")
        return 1 if self.failures else 0


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    sc = Scenario(sys.argv[2])
    try:
        sc.parse()
    except ParseError as e:
        print(f"parse error: {e}")
        return 2
    if "--print-events" in sys.argv[3:]:
        for line in sc.lines():
            print(line)
        return 0
    return Runner(sys.argv[1], sc).run()


if __name__ == "__main__":
    sys.exit(main())
