#!/usr/bin/env python3
"""Independent holdout traffic generator for distillguard.

Written from the threat description only (README, docs/LOGS.md, the data
contract, issues 15 and 16), without reading the detector or the project's
simulator.  See docs/HOLDOUT.md.

    python3 tools/holdout/holdout.py --seed 1 --out /tmp/ho1 \
        [--scale 1.0] [--corpus /work/shared/corpora] [--fields full|gateway] \
        [--tactics split,slow,...|all|none] [--shape native|openai-chat]

Writes DIR/events.jsonl (time-ordered), DIR/labels.jsonl
({account_id,label,campaign,archetype}), DIR/account_attrs.jsonl (the
platform's account table, for `scan --accounts`) and DIR/meta.json.
Python 3 standard library only; deterministic per seed.
"""

import argparse
import bisect
import csv
import datetime as dt
import hashlib
import json
import math
import os
import random
import sys

# --------------------------------------------------------------------------
# time frame
T0 = dt.datetime(2026, 5, 4, 0, 0, tzinfo=dt.timezone.utc)  # a Monday
T0S = T0.timestamp()
DAYS = 28
DAY = 86400.0
HOUR = 3600.0
END = T0S + DAYS * DAY
RELEASE = T0S + 15 * DAY + 17 * HOUR  # the new model appears (a Tuesday, 17:00 UTC)
OLD_MODELS = ["atlas-3", "atlas-3", "atlas-3", "atlas-3-mini", "atlas-3-mini"]
NEW_MODEL = "atlas-4"

ALL_TACTICS = ["split", "slow", "rubric", "rush", "hydra", "mimic", "agent"]
CAMPAIGN_OF = {
    "split": "c-split",
    "slow": "c-slow",
    "rubric": "c-rubric",
    "rush": "c-rush",
    "hydra": "c-hydra",
    "mimic": "c-mimic",
    "agent": "c-agent",
}


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def personal_hours(rng):
    """One person's day: the population curve shifted by a chronotype, with a sleep
    window in which they are almost never active."""
    shift = rng.randint(-2, 3)
    base = [HUMAN_HOURS[(h - shift) % 24] for h in range(24)]
    return Chooser(range(24), [b * (0.05 if b < 0.7 else 1.0) for b in base])


def zipf_weights(n, s=1.1):
    return [1.0 / (k + 1) ** s for k in range(n)]


class Chooser:
    """Weighted choice with a precomputed cumulative table."""

    def __init__(self, items, weights):
        self.items = list(items)
        self.cum = []
        c = 0.0
        for w in weights:
            c += w
            self.cum.append(c)
        self.total = c

    def pick(self, rng):
        return self.items[bisect.bisect_left(self.cum, rng.random() * self.total)]


# --------------------------------------------------------------------------
# the world: SDKs, e-mail domains, address space, time zones

SDKS = [
    "OpenAI/Python 1.54.3", "OpenAI/Python 1.51.0", "anthropic-python/0.39.0",
    "OpenAI/NodeJS 4.71.0", "python-httpx/0.27.2", "langchain-python/0.3.7",
    "anthropic-typescript/0.32.1", "python-requests/2.32.3", "axios/1.7.7",
    "OpenAI/Python 1.35.7", "llamaindex/0.11.20", "curl/8.5.0", "Go-http-client/2.0",
    "okhttp/4.12.0", "litellm/1.52.0", "node-fetch/1.0", "Java-http-client/21.0.2",
    "ai-sdk/3.4.9", "anthropic-python/0.34.2", "Ruby", "PostmanRuntime/7.42.0",
    "reqwest/0.12.9", "Dart/3.5 (dart:io)", "OpenAI/Python 1.12.0",
]
SDK_CHOOSER = Chooser(SDKS, zipf_weights(len(SDKS), 1.2))
WEBMAIL = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com",
           "proton.me", "qq.com", "163.com", "gmx.de", "yandex.ru", "mail.ru",
           "naver.com", "web.de", "aol.com", "zoho.com"]
WEBMAIL_CHOOSER = Chooser(WEBMAIL, zipf_weights(len(WEBMAIL), 1.3))
# time zones (UTC offsets in hours) weighted by rough share of API users
TZS = Chooser([-8, -7, -5, -4, -3, 0, 1, 2, 3, 5.5, 7, 8, 9, 10],
              [10, 3, 12, 3, 4, 6, 14, 6, 3, 9, 3, 14, 6, 2])
# local hour weights of a person's activity
HUMAN_HOURS = [1.0, .6, .35, .2, .15, .2, .5, 1.2, 2.2, 2.8, 3.0, 3.0, 2.6, 2.9, 3.0,
               3.0, 2.8, 2.5, 2.4, 2.8, 3.1, 3.0, 2.4, 1.7]
WORK_HOURS = [.05, .02, .02, .02, .02, .05, .2, .8, 2.5, 3.5, 3.6, 3.4, 2.0, 3.0, 3.5,
              3.4, 3.0, 2.2, 1.0, .5, .4, .3, .2, .1]
HUMAN_HOUR_CHOOSER = Chooser(range(24), HUMAN_HOURS)
WORK_HOUR_CHOOSER = Chooser(range(24), WORK_HOURS)

# address space (documentation-style synthetic prefixes; what matters is the
# structure: residential ISPs with many /24s, carrier CGNAT egress pools,
# campus and corporate NATs, cloud and hosting ranges)
RESIDENTIAL_NETS = ["73.%d", "24.%d", "98.%d", "81.%d", "2.%d", "91.%d", "177.%d", "49.%d",
                    "110.%d", "190.%d", "86.%d", "67.%d", "109.%d", "122.%d", "189.%d"]
CLOUD_NETS = ["34.%d", "35.%d", "52.%d", "3.%d", "13.%d", "20.%d", "40.%d"]
HOSTING_NETS = ["45.%d", "185.%d", "159.%d", "167.%d", "188.%d", "5.%d", "95.%d"]
CGNAT_NETS = ["172.56.%d", "100.37.%d", "174.224.%d", "223.104.%d", "39.52.%d"]


_R16 = random.Random("residential-pools")
# each ISP hands out addresses from a few large pools: legitimate homes and residential
# proxies (which are homes too) share them
RESIDENTIAL_16 = [n % o for n in RESIDENTIAL_NETS for o in _R16.sample(range(256), 8)]


def residential_ip(rng):
    return "%s.%d.%d" % (rng.choice(RESIDENTIAL_16), rng.randrange(0, 256), rng.randrange(1, 255))


def cloud_ip(rng, nets=CLOUD_NETS):
    net = rng.choice(nets) % rng.randrange(0, 256)
    return "%s.%d.%d" % (net, rng.randrange(0, 256), rng.randrange(1, 255))


def subnet24(rng, nets):
    n = rng.choice(nets)
    net = rng.choice(RESIDENTIAL_16) if n in RESIDENTIAL_NETS else n % rng.randrange(0, 256)
    return "%s.%d" % (net, rng.randrange(0, 256))


# --------------------------------------------------------------------------
# text: a corpus reader and a built-in fallback

CODE_WORDS = ("code", "python", "function", "program", "script", "sql", "javascript", "c++",
              "java", "rust", "regex", "api", "bug", "compile", "typescript", "bash", "class ",
              "html", "css", "algorithm", "implement", "matlab", "kotlin", "swift")
MATH_WORDS = ("prove", "equation", "probability", "integral", "calculate", "math", "number",
              "sum of", "solve", "geometry", "matrix", "derivative")


def classify(text):
    t = text.lower()
    if any(w in t for w in CODE_WORDS):
        return "code"
    if any(w in t for w in MATH_WORDS):
        return "math"
    return "analysis"


class Texts:
    """Pools of prompts by category; each item is (prompt, response or '')."""

    def __init__(self, corpus, rng):
        self.rng = rng
        self.pools = {}
        self.chats = []          # multi-turn human conversations: list of user turns
        self.personas = []       # "act as" system prompts
        self.judges = []         # judge templates (system, template)
        if corpus and os.path.isdir(corpus):
            self._load(corpus)
        if sum(len(v) for v in self.pools.values()) < 200:
            self._builtin()
        for k in self.pools:
            rng.shuffle(self.pools[k])
        self.cats = sorted(k for k in self.pools if len(self.pools[k]) >= 20)

    def add(self, cat, p, r=""):
        p = (p or "").strip()
        if len(p) < 8:
            return
        if len(p) > 1000:
            p = p[:1000]
        self.pools.setdefault(cat, []).append((p, (r or "").strip()))

    def _json(self, path):
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return []

    def _jsonl(self, path):
        out = []
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if line:
                        try:
                            out.append(json.loads(line))
                        except ValueError:
                            pass
        except OSError:
            pass
        return out

    def _load(self, root):
        d = os.path.join(root, "distill")
        h = os.path.join(root, "human")
        for r in self._json(os.path.join(d, "gpteacher_codegen.json")):
            p = r.get("instruction", "") + (("\n\n" + r["input"]) if r.get("input") else "")
            self.add("code", p, r.get("response", ""))
        for r in self._json(os.path.join(d, "gpteacher_roleplay.json")):
            p = r.get("instruction", "") + (("\n\n" + r["input"]) if r.get("input") else "")
            self.add("roleplay", p, r.get("response", ""))
        for r in self._json(os.path.join(d, "gpteacher_toolformer_0.6.json")):
            self.add("tool", r.get("instruction", ""), r.get("response", ""))
        for r in self._json(os.path.join(d, "toolbench_G1_query.json")):
            self.add("tool", r.get("query", ""), "")
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.startswith("h2o_evol"):
                for r in self._json(os.path.join(d, name)):
                    self.add(classify(r.get("input", "")), r.get("input", ""), r.get("output", ""))
        for r in self._jsonl(os.path.join(d, "mtbench_judge_prompts.jsonl")):
            if r.get("prompt_template"):
                self.judges.append((r.get("system_prompt", ""), r["prompt_template"]))
        for r in self._jsonl(os.path.join(h, "arena_hard_v0.1.jsonl")):
            turns = r.get("turns") or []
            if turns:
                p = turns[0].get("content", "")
                self.add(classify(p + " " + r.get("cluster", "")), p)
        for r in self._jsonl(os.path.join(h, "oasst_prompt_lottery_en_250.jsonl")):
            if isinstance(r, str):
                self.add("chat", r)
        for r in self._jsonl(os.path.join(h, "oasst_en_100_tree.jsonl")):
            pr = r.get("prompt") or {}
            turns = [pr.get("text", "")]
            node = pr
            while node.get("replies"):
                a = node["replies"][0]
                if not a.get("replies"):
                    break
                node = a["replies"][0]
                turns.append(node.get("text", ""))
            self.add("chat", turns[0])
            if len(turns) > 1:
                self.chats.append(turns)
        try:
            with open(os.path.join(h, "awesome_chatgpt_prompts.csv"), encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    if row.get("prompt"):
                        self.personas.append(row["prompt"])
        except OSError:
            pass
        for r in self._jsonl(os.path.join(h, "hh_harmless_base_test.jsonl")):
            txt = r.get("chosen", "")
            turns = [s.split("\n\nAssistant:")[0].strip() for s in txt.split("\n\nHuman:")[1:]]
            turns = [t for t in turns if t]
            if turns:
                self.add("chat", turns[0])
                if len(turns) > 1:
                    self.chats.append(turns)

    def _builtin(self):
        rng = random.Random("builtin-text")
        topics = ["binary search", "a REST API", "photosynthesis", "the French revolution",
                  "compound interest", "a linked list", "climate policy", "a sourdough starter",
                  "quantum tunnelling", "supply and demand", "a job interview", "the immune system",
                  "unit tests", "a marketing plan", "black holes", "a wedding speech",
                  "SQL joins", "the Roman empire", "a budget spreadsheet", "neural networks"]
        verbs = {"code": ["Write a Python function for", "Fix the bug in my code for",
                          "Implement in JavaScript", "Explain the complexity of"],
                 "math": ["Solve this problem about", "Calculate the answer involving",
                          "Prove the statement about"],
                 "analysis": ["Compare the pros and cons of", "Explain in detail",
                              "Give a critical analysis of", "Summarize the key ideas of"],
                 "roleplay": ["Pretend you are an expert on", "Act as a tutor teaching",
                              "Imagine you are writing a story about"],
                 "tool": ["Search the web for news on", "Use the calculator to work out",
                          "Look up the weather and plan"],
                 "chat": ["hey, quick question about", "what do you think about",
                          "can you help me understand", "any tips for"]}
        for cat, vs in verbs.items():
            for _ in range(400):
                p = "%s %s%s" % (rng.choice(vs), rng.choice(topics),
                                 rng.choice(["", "?", ".", " for a beginner.", " with examples.",
                                             " in under 200 words.", " for my class."]))
                self.add(cat, p, "")
        self.personas = ["I want you to act as a %s. Answer the user's questions in that role." % r
                         for r in ["travel guide", "career coach", "English teacher", "chef",
                                   "linux terminal", "storyteller", "financial advisor",
                                   "fitness coach", "interviewer", "poet"]]
        self.judges = [("You are a fair judge.",
                        "[Question]\n{question}\n\n[The Start of Assistant's Answer]\n{answer}\n"
                        "[The End of Assistant's Answer]\nRate the answer from 1 to 10.")]
        for _ in range(200):
            self.chats.append([self.pick("chat", rng)[0], "ok and " + rng.choice(topics) + "?",
                               "thanks, one more thing"])

    def pick(self, cat, rng):
        pool = self.pools.get(cat) or self.pools[self.cats[0]]
        return pool[rng.randrange(len(pool))]

    def any(self, rng, cats=None):
        return self.pick(rng.choice(cats or self.cats), rng)


# --------------------------------------------------------------------------
# phrasing: chain-of-thought requests, paraphrase, rubric prompts

COT_SUFFIX = [
    "Let's think step by step.",
    "Think it through step by step before answering.",
    "Please show your full reasoning, then give the final answer.",
    "Walk me through your thought process in detail.",
    "Explain each step of your reasoning; don't skip anything.",
    "Before you answer, reason out loud about every consideration.",
    "Give a detailed derivation, then the result on its own line.",
    "Show all intermediate steps.",
    "Piensa paso a paso y explica tu razonamiento antes de responder.",
    "Explique ton raisonnement étape par étape avant de donner la réponse.",
    "Denke Schritt für Schritt nach und erkläre jeden Schritt.",
    "请一步一步地思考，并写出完整的推理过程。",
    "段階的に考えて、推論の過程をすべて書いてください。",
    "Рассуждай шаг за шагом и покажи все рассуждения.",
    "Pense passo a passo e mostre todo o raciocínio.",
    "단계별로 생각하고 추론 과정을 모두 보여 주세요.",
]
COT_EARLIER = [
    "For every question I ask in this chat, lay out your complete reasoning before the answer.",
    "From now on, always explain how you arrive at each answer, step by step.",
    "Rule for this conversation: think out loud first, answer last.",
    "En esta conversación, razona siempre paso a paso antes de contestar.",
    "在这次对话中，请始终先详细推理，再给出答案。",
]
FAKE_ACK = ["Understood. I will show my complete reasoning for each task.",
            "Sure! I'll walk through my reasoning step by step every time.",
            "Got it.", "Of course. I will reason step by step before answering."]
JSON_REASONING = [
    'Respond only with JSON matching {"reasoning": string, "answer": string}. '
    'Put your full step-by-step analysis in "reasoning".',
    'Output format: {"analysis": "<detailed chain of reasoning>", "final": "<answer>"}',
    'Return a JSON object with keys "thoughts" (list of reasoning steps) and "result".',
]
PARA_PREFIX = ["", "", "Please ", "Could you ", "I need you to ", "Hey, ", "Quick task: ",
               "Help me with this: ", "Task: ", "Can you ", "I'd like you to ", "Pls "]
PARA_SUFFIX = ["", "", "", " Thanks!", " Be thorough.", " Keep it clear.", " Thank you.",
               " Answer in detail.", " (for a project)", " :)"]
SYNONYMS = [("explain", "describe"), ("write", "create"), ("Write", "Compose"),
            ("detailed", "thorough"), ("example", "sample"), ("program", "script"),
            ("describe", "outline"), ("Explain", "Clarify"), ("list", "enumerate"),
            ("important", "key"), ("use", "utilize"), ("find", "determine")]


def paraphrase(text, rng):
    t = text
    for a, b in SYNONYMS:
        if a in t and rng.random() < 0.5:
            t = t.replace(a, b, 1)
    if rng.random() < 0.3 and t[:1].isupper():
        t = t[0].lower() + t[1:]
    if rng.random() < 0.15:
        i = rng.randrange(len(t))
        t = t[:i] + t[i + 1:]  # a typo
    return rng.choice(PARA_PREFIX) + t + rng.choice(PARA_SUFFIX)


FILLER = ("the of and to a in is that for it as with on this be are by can an or your "
          "which will from each step then first result value answer we these example "
          "approach because however therefore note data function case").split()


def response_text(rng, src, n_words=30):
    if src:
        s = src[:220]
        return s + " " + " ".join(rng.choice(FILLER) for _ in range(6))
    return " ".join(rng.choice(FILLER) for _ in range(n_words)).capitalize() + "."


def lognorm_int(rng, median, sigma, lo=1, hi=10 ** 7):
    return int(max(lo, min(hi, round(median * math.exp(rng.gauss(0, sigma))))))


# --------------------------------------------------------------------------
# accounts and events


class Account:
    __slots__ = ("key", "rng", "label", "campaign", "archetype", "tz", "created", "card",
                 "email", "org", "org_verified", "ua", "home_ip", "keys", "events", "idx", "hours")

    def __init__(self, world, key, label, archetype, campaign=None):
        self.key = key
        self.rng = random.Random("%d/%s" % (world.seed, key))
        self.label = label
        self.campaign = campaign
        self.archetype = archetype
        self.tz = TZS.pick(self.rng)
        self.created = T0S - self.rng.uniform(5, 900) * DAY
        self.card = "pf_" + world.hexid(self.rng, 16)
        self.email = WEBMAIL_CHOOSER.pick(self.rng)
        self.org = None
        self.org_verified = False
        self.ua = SDK_CHOOSER.pick(self.rng)
        self.home_ip = residential_ip(self.rng)
        self.keys = ["key_" + world.hexid(self.rng, 10)]
        self.events = []
        self.idx = 0
        self.hours = personal_hours(self.rng)


class World:
    def __init__(self, args):
        self.seed = args.seed
        self.scale = args.scale
        self.fields = args.fields
        self.shape = args.shape
        self.rng = random.Random("world/%d" % args.seed)
        self.texts = Texts(args.corpus, random.Random("texts/%d" % args.seed))
        self.accounts = []
        self.used_ids = set()
        # popular apps built on the API: a system prompt and a client each,
        # Zipf-distributed number of builders
        r = self.rng
        personas = self.texts.personas or ["You are a helpful assistant."]
        self.apps = []
        for i in range(40):
            sp = r.choice(personas)
            if r.random() < 0.5:
                sp = ("You are %s, a friendly assistant inside the %s app. Be concise and helpful. "
                      % (r.choice(["Nova", "Sage", "Pixel", "Echo", "Orbit", "Juniper", "Atlas"]),
                         r.choice(["Notes", "Study", "Chat", "Writer", "Mail", "Code", "Travel"]))) + sp
            self.apps.append((sp, SDK_CHOOSER.pick(r)))
        self.app_chooser = Chooser(range(len(self.apps)), zipf_weights(len(self.apps), 1.3))
        # tutorial templates copied all over the internet
        self.tutorial = [
            "Summarize the following text in 3 bullet points:\n\n{x}",
            "You are an expert. Answer the question below.\nQuestion: {x}\nAnswer:",
            "Translate the following into French:\n{x}",
            "Classify the sentiment of this text as positive, negative or neutral: {x}",
            "Extract the key entities from the text below as JSON.\n\n{x}",
            "Rewrite this to sound more professional:\n{x}",
            "Explain this like I'm five: {x}",
            "Generate 5 quiz questions about: {x}",
            "Write a short blog post about {x}",
            "Fix the grammar: {x}",
        ]
        self.tut_chooser = Chooser(range(len(self.tutorial)), zipf_weights(len(self.tutorial), 1.0))
        self.common_systems = ["You are a helpful assistant.", "You are a helpful assistant.",
                               "You are ChatGPT, a large language model.", "",
                               "You are a helpful AI assistant.", ""]

    def hexid(self, rng, n):
        return "%0*x" % (n, rng.getrandbits(4 * n))

    def new_account(self, key, label, archetype, campaign=None):
        a = Account(self, key, label, archetype, campaign)
        self.accounts.append(a)
        return a

    # one interaction ------------------------------------------------------
    def emit(self, a, t, user, *, system=None, history=None, model=None, max_tokens=None,
             temperature=None, tools=None, ip=None, ua=None, conv=None, out_tokens=None,
             reasoning=0, resp_src="", tool_blocks=None):
        rng = a.rng
        if t < T0S or t >= END:
            return None
        msgs = list(history or [])
        if tool_blocks:
            msgs.append({"role": "user", "content": tool_blocks})
        else:
            msgs.append({"role": "user", "content": user})
        if model is None:
            model = NEW_MODEL if (t > RELEASE and rng.random() < 0.15) else rng.choice(OLD_MODELS)
        if out_tokens is None:
            out_tokens = lognorm_int(rng, 220, 0.8, 5, 8000)
        if max_tokens and out_tokens > max_tokens:
            out_tokens = max_tokens
        rtext = response_text(rng, resp_src)
        in_tok = int(sum(len(m["content"]) if isinstance(m["content"], str) else 200
                         for m in msgs) / 4 + len(system or "") / 4) + 3
        ev = {
            "ts": iso(t),
            "request_id": "req_" + self.hexid(rng, 20),
            "account_id": None,  # filled at write time (ids are assigned after shuffling)
            "api_key_id": rng.choice(a.keys),
            "ip": ip or a.home_ip,
            "user_agent": ua or a.ua,
            "model": model,
            "messages": msgs,
            "response": {"content": rtext,
                         "stop_reason": "max_tokens" if max_tokens and out_tokens >= max_tokens
                         else "end_turn",
                         "input_tokens": in_tok, "output_tokens": out_tokens},
        }
        if reasoning:
            ev["response"]["reasoning_tokens"] = reasoning
        if system:
            ev["system"] = system
        if max_tokens:
            ev["max_tokens"] = max_tokens
        if temperature is not None:
            ev["temperature"] = temperature
        if tools:
            ev["tools"] = tools
        if conv:
            ev["conversation_id"] = conv
        if self.fields == "full":
            ev["payment_fingerprint"] = a.card
            ev["account_created_at"] = iso(a.created)
            ev["email_domain"] = a.email
            if a.org:
                ev["org_id"] = a.org
        a.events.append((t, ev))
        return rtext

    # a human conversation: 1..k turns with real history
    def session(self, a, t, turns, gap=(20, 400), **kw):
        history = []
        conv = "conv_" + self.hexid(a.rng, 12) if len(turns) > 1 else None
        for u in turns:
            user, src = u if isinstance(u, tuple) else (u, "")
            r = self.emit(a, t, user, history=history, conv=conv, resp_src=src, **kw)
            if r is None:
                return t
            history = history + [{"role": "user", "content": user},
                                 {"role": "assistant", "content": r}]
            t += a.rng.uniform(*gap)
        return t


# --------------------------------------------------------------------------
# time samplers


def local_time(rng, tz, day, hour_chooser, weekend_factor=0.6):
    """A UTC timestamp on `day` (0-based, in the account's local calendar)."""
    for _ in range(10):
        d = day
        wd = (T0.weekday() + d) % 7
        if wd >= 5 and rng.random() > weekend_factor:
            day = rng.randrange(DAYS)
            continue
        h = hour_chooser.pick(rng)
        return T0S + d * DAY + (h + rng.random()) * HOUR - tz * HOUR
    return T0S + day * DAY + rng.uniform(0, DAY)


def active_days(rng, n_sessions, first=0, last=DAYS, burstiness=0.5):
    """Days a person is active: a few favourite days plus random ones."""
    days = []
    fav = [rng.randrange(first, last) for _ in range(max(1, int(n_sessions * burstiness / 3)))]
    for _ in range(n_sessions):
        days.append(rng.choice(fav) if rng.random() < burstiness else rng.randrange(first, last))
    return days


# --------------------------------------------------------------------------
# legitimate population


def human_prompt(w, rng, cats=None):
    """What a person types: chat, hard questions, code, sometimes multi-turn."""
    if w.texts.chats and rng.random() < 0.25:
        c = rng.choice(w.texts.chats)
        return c[: rng.randint(1, min(4, len(c)))]
    p, r = w.texts.any(rng, cats or ["chat", "chat", "analysis", "code", "math", "roleplay"])
    turns = [(p, r)]
    while rng.random() < 0.35:
        turns.append(rng.choice(["thanks! can you make it shorter?", "why?",
                                 "can you give an example?", "what about edge cases?",
                                 "ok, and in Spanish?", "that doesn't work, I get an error",
                                 "explain the second point again step by step",
                                 "great. now write tests for it"]))
    return turns


TEMPS = [None, None, None, 0.7, 0.7, 1.0, 0.2, 0.5, 0.8, 0.6, 0.3, 0.9, 0.0]
MAXTOK = [None, 512, 1024, 1024, 1500, 2048, 4096, 8192]


def human_user(w, a, n_sessions, first_day=0, last_day=DAYS, hours=None,
               system=None, cats=None, cot_rate=0.04, ip_fn=None, **kw):
    rng = a.rng
    temp = rng.choice(TEMPS)
    for d in active_days(rng, n_sessions, first_day, last_day):
        t = local_time(rng, a.tz, d, hours or a.hours)
        turns = human_prompt(w, rng, cats)
        if rng.random() < cot_rate:
            u = turns[0] if isinstance(turns[0], str) else turns[0][0]
            turns[0] = u + " " + rng.choice(COT_SUFFIX[:8] if rng.random() < 0.7 else COT_SUFFIX)
        ip = ip_fn(rng) if ip_fn else None
        sys_p = system if system is not None else (rng.choice(w.common_systems) or None)
        w.session(a, t, turns, system=sys_p, ip=ip,
                  temperature=temp if rng.random() < 0.8 else rng.choice(TEMPS), **kw)


def build_legit(w, n):
    rng = w.rng
    plan = [  # archetype, share
        ("hobbyist", 0.26), ("app_builder", 0.12), ("tutorial_user", 0.07),
        ("heavy_scripter", 0.05), ("lab", 0.04), ("agent_product", 0.03),
        ("family", 0.06), ("company_team", 0.10), ("campus_student", 0.08),
        ("mobile_cgnat", 0.07), ("early_adopter", 0.04), ("dormant_returner", 0.04),
        ("multilingual", 0.04),
    ]
    counter = [0]

    def acct(arch):
        counter[0] += 1
        return w.new_account("L%d" % counter[0], "legit", arch)

    budget = {k: int(round(n * s)) for k, s in plan}
    cgnat_pools = [[("%s.%d" % (rng.choice(CGNAT_NETS) % rng.randrange(256), rng.randrange(1, 255)))
                    for _ in range(60)] for _ in range(5)]

    # hobbyists: a few sessions, heavy tail
    for _ in range(budget["hobbyist"]):
        a = acct("hobbyist")
        if rng.random() < 0.2:
            a.created = T0S + a.rng.uniform(0, DAYS - 1) * DAY
        first = max(0, int((a.created - T0S) / DAY))
        human_user(w, a, lognorm_int(a.rng, 4, 1.0, 1, 120), first_day=first)

    # app builders: the app's end users come through one account, one system prompt
    for _ in range(budget["app_builder"]):
        a = acct("app_builder")
        sp, ua = w.apps[w.app_chooser.pick(a.rng)]
        a.ua = ua
        if a.rng.random() < 0.15:  # young builders of a popular app (framing victims)
            a.created = T0S + a.rng.uniform(0, DAYS - 3) * DAY
        first_app_day = max(0, int((a.created - T0S) / DAY) + 1)
        a.home_ip = cloud_ip(a.rng)
        server_ips = [cloud_ip(a.rng) for _ in range(a.rng.randint(1, 3))]
        app_temp, app_mt = a.rng.choice(TEMPS), a.rng.choice(MAXTOK)
        n = lognorm_int(a.rng, 12, 1.2, 2, 800)
        for _ in range(n):
            d = a.rng.randrange(min(first_app_day, DAYS - 1), DAYS)
            t = local_time(a.rng, a.tz, d, HUMAN_HOUR_CHOOSER, 0.9)
            w.session(a, t, human_prompt(w, a.rng), system=sp, ip=a.rng.choice(server_ips),
                      temperature=app_temp, max_tokens=app_mt)

    # tutorial users: the same copied templates
    for _ in range(budget["tutorial_user"]):
        a = acct("tutorial_user")
        if a.rng.random() < 0.3:
            a.created = T0S + a.rng.uniform(0, DAYS - 2) * DAY
        first = max(0, int((a.created - T0S) / DAY))
        tpl = [w.tutorial[w.tut_chooser.pick(a.rng)] for _ in range(2)]
        for d in active_days(a.rng, lognorm_int(a.rng, 3, 0.8, 1, 40), first):
            t = local_time(a.rng, a.tz, d, a.hours)
            for _ in range(a.rng.randint(1, 8)):
                x, r = w.texts.any(a.rng, ["chat", "analysis"])
                w.emit(a, t, a.rng.choice(tpl).replace("{x}", x), resp_src=r,
                       system="You are a helpful assistant.", temperature=0.7)
                t += a.rng.uniform(5, 120)

    # heavy scripters: batch jobs, single-turn, fixed settings, long answers
    for _ in range(budget["heavy_scripter"]):
        a = acct("heavy_scripter")
        a.ua = SDK_CHOOSER.pick(a.rng) if a.rng.random() < 0.5 else "OpenAI/Python 1.54.3"
        if a.rng.random() < 0.4:
            a.home_ip = cloud_ip(a.rng, HOSTING_NETS + CLOUD_NETS)
        job_hour = a.rng.randrange(24)
        cats = a.rng.sample(w.texts.cats, k=min(len(w.texts.cats), a.rng.randint(1, 3)))
        tpl = a.rng.choice(w.tutorial + ["{x}", "{x}", "Answer thoroughly:\n{x}"])
        mt = a.rng.choice([2048, 4096, 4096, 8192, 1024, 1500])
        s_temp = a.rng.choice([0.0, 0.0, 0.0, 0.2, 0.5, 0.7, 0.8, 0.6])
        s_sys = a.rng.choice(JSON_REASONING) if a.rng.random() < 0.2 else None
        total = lognorm_int(a.rng, 150, 0.9, 30, 3000)
        runs = a.rng.randint(3, 20)
        cot = a.rng.random() < 0.2
        for k in range(runs):
            d = a.rng.randrange(DAYS)
            t = T0S + d * DAY + (job_hour - a.tz) * HOUR + a.rng.uniform(0, 600)
            for _ in range(total // runs):
                p, r = w.texts.any(a.rng, cats)
                u = tpl.replace("{x}", p)
                if cot:
                    u += " Think step by step."
                w.emit(a, t, u, resp_src=r, max_tokens=mt, temperature=s_temp, system=s_sys,
                       out_tokens=lognorm_int(a.rng, mt / 4, 0.6, 20, mt))
                t += a.rng.uniform(0.5, 8)

    # research / evaluation labs: groups, org, shared card and NAT, public CoT
    # benchmarks, judge prompts, few-shot with written assistant turns,
    # release-day runs on the new model
    left = budget["lab"]
    lab_no = 0
    while left > 0:
        lab_no += 1
        size = min(left, rng.randint(3, 12))
        left -= size
        org = "org_" + w.hexid(rng, 8)
        card = "pf_" + w.hexid(rng, 16)
        nat = subnet24(rng, RESIDENTIAL_NETS + CLOUD_NETS)
        domain = "lab%s.edu" % w.hexid(rng, 4) if rng.random() < 0.6 else "%s-ai.com" % w.hexid(rng, 5)
        ua = SDK_CHOOSER.pick(rng)
        tz = TZS.pick(rng)
        release_rush = rng.random() < 0.7
        for _ in range(size):
            a = acct("lab")
            a.org, a.org_verified, a.card, a.email, a.ua, a.tz = org, rng.random() < 0.5, card, domain, ua, tz
            a.home_ip = "%s.%d" % (nat, a.rng.randrange(1, 30))
            runs = a.rng.randint(2, 4)
            for k in range(runs):
                if release_rush and k == 0:
                    t0 = RELEASE + a.rng.uniform(0.3, 8) * HOUR
                    model = NEW_MODEL
                else:
                    t0 = local_time(a.rng, a.tz, a.rng.randrange(DAYS), WORK_HOUR_CHOOSER, 0.2)
                    model = NEW_MODEL if t0 > RELEASE else "atlas-3"
                kind = a.rng.choice(["cot", "cot", "judge", "fewshot"])
                n = lognorm_int(a.rng, 60, 0.6, 15, 400)
                t = t0
                for _ in range(n):
                    p, r = w.texts.any(a.rng, ["math", "analysis", "code"])
                    if kind == "cot":
                        w.emit(a, t, p + "\n\nLet's think step by step.", model=model,
                               temperature=0.0, max_tokens=2048, resp_src=r,
                               out_tokens=lognorm_int(a.rng, 500, 0.5, 30, 2048))
                    elif kind == "judge" and w.texts.judges:
                        sp, tpl = a.rng.choice(w.texts.judges)
                        q2, r2 = w.texts.any(a.rng)
                        u = fill_judge(tpl, p, r or q2, q2, r2)
                        w.emit(a, t, u, system=sp, model=model, temperature=0.0, max_tokens=1024,
                               out_tokens=lognorm_int(a.rng, 250, 0.4, 30, 1024))
                    else:
                        hist = []
                        for _ in range(3):
                            q, ans = w.texts.any(a.rng, ["math", "analysis"])
                            hist += [{"role": "user", "content": q},
                                     {"role": "assistant", "content": (ans or "The answer is B.")[:200]}]
                        w.emit(a, t, p, history=hist, model=model, temperature=0.0, max_tokens=512,
                               out_tokens=lognorm_int(a.rng, 60, 0.6, 1, 512))
                    t += a.rng.uniform(0.3, 4)

    # agent / tool-use products: servers in the cloud, 24/7, tools
    for _ in range(budget["agent_product"]):
        a = acct("agent_product")
        a.home_ip = cloud_ip(a.rng)
        tools = make_tools(a.rng)
        sp = a.rng.choice(["You are an autonomous agent. Use the tools to complete the user's task. ",
                           "You are a helpful assistant with access to tools. "]) + \
            a.rng.choice(["Be efficient.", "Think before each tool call.", "Cite sources.",
                          "Explain your plan, then act.", "Reason step by step about which tool to use."])
        ag_temp, ag_mt = a.rng.choice([0.2, 0.0, 0.7, 0.5, None]), a.rng.choice([2048, 4096, 1024])
        n = lognorm_int(a.rng, 35, 1.0, 5, 800)
        for _ in range(n):
            t = T0S + a.rng.uniform(0, DAYS * DAY)
            p, r = w.texts.any(a.rng, ["tool", "tool", "analysis", "code"])
            hist = []
            conv = "conv_" + w.hexid(a.rng, 12)
            for step in range(a.rng.randint(1, 5)):
                if step == 0:
                    r1 = w.emit(a, t, p, system=sp, tools=tools, conv=conv, resp_src=r,
                                temperature=ag_temp, max_tokens=ag_mt)
                    hist = [{"role": "user", "content": p}]
                else:
                    blocks = [{"type": "tool_result", "tool_use_id": "tu_" + w.hexid(a.rng, 8),
                               "content": response_text(a.rng, "", 20)}]
                    r1 = w.emit(a, t, None, tool_blocks=blocks, history=hist, system=sp, tools=tools,
                                conv=conv, temperature=ag_temp, max_tokens=ag_mt)
                    hist = hist + [{"role": "user", "content": blocks}]
                if r1 is None:
                    break
                hist = hist + [{"role": "assistant", "content": r1}]
                t += a.rng.uniform(1, 20)

    # families: 2-4 accounts, one card, one home IP
    left = budget["family"]
    while left > 0:
        size = min(left, rng.randint(2, 4))
        left -= size
        card, ip = "pf_" + w.hexid(rng, 16), residential_ip(rng)
        tz = TZS.pick(rng)
        for _ in range(size):
            a = acct("family")
            a.card, a.home_ip, a.tz = card, ip, tz
            human_user(w, a, lognorm_int(a.rng, 6, 0.8, 1, 60), cot_rate=0.08)

    # company teams: corporate card, NAT, org, internal system prompt, work hours
    left = budget["company_team"]
    while left > 0:
        size = min(left, max(2, int(rng.paretovariate(1.3) * 3)))
        size = min(size, 60)
        left -= size
        org = "org_" + w.hexid(rng, 8)
        card = "pf_" + w.hexid(rng, 16)
        nat = subnet24(rng, RESIDENTIAL_NETS + CLOUD_NETS)
        dom = "%s.com" % w.hexid(rng, 6)
        sp = "You are the internal assistant of %s. Follow the style guide. " % dom.split(".")[0] + \
            rng.choice(["Answer in English.", "Be concise.", "Use Markdown."])
        ua = SDK_CHOOSER.pick(rng)
        tz = TZS.pick(rng)
        created = T0S - rng.uniform(1, 400) * DAY
        for _ in range(size):
            a = acct("company_team")
            a.org, a.org_verified, a.card, a.email, a.ua, a.tz = org, rng.random() < 0.3, card, dom, ua, tz
            a.created = created + a.rng.uniform(0, 2) * HOUR  # accounts provisioned together
            a.home_ip = "%s.%d" % (nat, a.rng.randrange(1, 8))
            human_user(w, a, lognorm_int(a.rng, 12, 0.7, 1, 100), hours=WORK_HOUR_CHOOSER,
                       system=sp, cats=["code", "analysis", "chat", "math"], cot_rate=COT_RATE["company_team"])

    # campus students: NAT, created in a burst, homework templates, CoT asks
    campuses = [(subnet24(rng, RESIDENTIAL_NETS), TZS.pick(rng), T0S + rng.uniform(-3, 10) * DAY)
                for _ in range(4)]
    for _ in range(budget["campus_student"]):
        a = acct("campus_student")
        nat, tz, term = rng.choice(campuses)
        a.tz = tz
        a.created = term + a.rng.uniform(0, 36) * HOUR
        a.home_ip = "%s.%d" % (nat, a.rng.randrange(1, 6))
        first = max(0, int((a.created - T0S) / DAY))
        if first >= DAYS:
            continue
        home = residential_ip(a.rng)
        human_user(w, a, lognorm_int(a.rng, 8, 0.7, 1, 60), first_day=first,
                   cats=["math", "analysis", "code", "chat"], cot_rate=COT_RATE["campus_student"],
                   ip_fn=lambda r, a=a, home=home: a.home_ip if r.random() < 0.7 else home)

    # mobile users behind carrier CGNAT
    for _ in range(budget["mobile_cgnat"]):
        a = acct("mobile_cgnat")
        pool = rng.choice(cgnat_pools)
        a.ua = a.rng.choice(["okhttp/4.12.0", "Dart/3.5 (dart:io)", a.ua])
        human_user(w, a, lognorm_int(a.rng, 6, 0.8, 1, 60),
                   ip_fn=lambda r, pool=pool: r.choice(pool))

    # early adopters: switch to the new model within hours of release, hard prompts
    for _ in range(budget["early_adopter"]):
        a = acct("early_adopter")
        human_user(w, a, lognorm_int(a.rng, 5, 0.7, 1, 30), last_day=15)
        t = RELEASE + a.rng.uniform(0.2, 12) * HOUR
        for _ in range(lognorm_int(a.rng, 25, 0.7, 3, 200)):
            p, r = w.texts.any(a.rng, ["math", "analysis", "code"])
            if a.rng.random() < 0.4:
                p += " " + a.rng.choice(COT_SUFFIX)
            w.emit(a, t, p, model=NEW_MODEL, resp_src=r,
                   out_tokens=lognorm_int(a.rng, 600, 0.7, 20, 8000),
                   reasoning=lognorm_int(a.rng, 800, 1.0, 0, 20000) if a.rng.random() < 0.5 else 0)
            t += a.rng.uniform(20, 900) if a.rng.random() < 0.8 else a.rng.uniform(3600, 2 * DAY)

    # dormant accounts coming back
    for _ in range(budget["dormant_returner"]):
        a = acct("dormant_returner")
        a.created = T0S - a.rng.uniform(200, 1000) * DAY
        back = a.rng.randrange(5, DAYS - 2)
        human_user(w, a, lognorm_int(a.rng, 10, 0.8, 1, 80), first_day=back)

    # people writing in other languages (CoT phrasings are common in teaching)
    for _ in range(budget["multilingual"]):
        a = acct("multilingual")
        lang = a.rng.randrange(8, len(COT_SUFFIX))
        for d in active_days(a.rng, lognorm_int(a.rng, 6, 0.8, 1, 50)):
            t = local_time(a.rng, a.tz, d, a.hours)
            p, r = w.texts.any(a.rng, ["chat", "analysis", "math"])
            u = p + ("\n" + COT_SUFFIX[lang] if a.rng.random() < 0.4 else "")
            w.session(a, t, [(u, r)] + (["?"] if a.rng.random() < 0.3 else []))


def fill_judge(tpl, q, a, q2, a2):
    return (tpl.replace("{question}", q).replace("{answer}", a)
            .replace("{question_1}", q).replace("{answer_1}", a)
            .replace("{question_2}", q2).replace("{answer_2}", a2)
            .replace("{answer_a}", a).replace("{answer_b}", a2)
            .replace("{answer_a_1}", a).replace("{answer_b_1}", a2)
            .replace("{answer_a_2}", a2).replace("{answer_b_2}", a)
            .replace("{ref_answer_1}", a2).replace("{ref_answer_2}", a))


def make_tools(rng):
    names = ["web_search", "get_weather", "run_python", "read_file", "send_email", "sql_query",
             "calendar_lookup", "http_get", "calculator", "browse"]
    return [{"name": n, "description": "Tool %s." % n,
             "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}
            for n in rng.sample(names, rng.randint(2, 5))]


# --------------------------------------------------------------------------
# attack campaigns


def cot_wrap(w, rng, p, style):
    """A chain-of-thought request in one of many forms; returns (user, history, system)."""
    if style == "suffix":
        return p + ("\n\n" if rng.random() < 0.5 else " ") + rng.choice(COT_SUFFIX), None, None
    if style == "json":
        return p, None, rng.choice(JSON_REASONING)
    if style == "earlier_fake":
        return p, [{"role": "user", "content": rng.choice(COT_EARLIER)},
                   {"role": "assistant", "content": rng.choice(FAKE_ACK)}], None
    return p, None, None


def build_split(w, n, camp):
    """Account-per-category splitting: each account works one slice of one category,
    no overlap between accounts, the campaign jointly covers every category."""
    rng = random.Random("split/%d" % w.seed)
    cats = w.texts.cats
    cards = ["pf_" + w.hexid(rng, 16) for _ in range(max(2, n // 4))]
    subnets = [subnet24(rng, HOSTING_NETS) for _ in range(3)]
    slices = {c: list(range(len(w.texts.pools[c]))) for c in cats}
    for c in cats:
        rng.shuffle(slices[c])
    per_cat = {c: 0 for c in cats}
    for i in range(n):
        a = w.new_account("A-split-%d" % i, "attack", "split_coverage", camp)
        cat = cats[i % len(cats)]
        k = per_cat[cat]
        per_cat[cat] += 1
        n_in_cat = (n + len(cats) - 1 - cats.index(cat)) // len(cats)
        pool = w.texts.pools[cat]
        idx = slices[cat][k::max(1, n_in_cat)]
        a.card = cards[i % len(cards)]
        a.created = T0S - a.rng.uniform(0, 12) * DAY
        a.ua = "OpenAI/Python 1.54.3" if a.rng.random() < 0.7 else SDK_CHOOSER.pick(a.rng)
        style = a.rng.choice(["json", "suffix", "none"])
        total = lognorm_int(a.rng, 400, 0.3, 100, 1200)
        start = a.rng.uniform(0, 3) * DAY
        t = T0S + start
        j = 0
        per_day = total / (DAYS - start / DAY)
        while j < total and t < END:
            # work windows of a few hours, a few per day, machine pace
            burst = int(per_day / a.rng.randint(1, 3)) + 1
            for _ in range(burst):
                p, r = pool[idx[j % len(idx)]] if idx else pool[a.rng.randrange(len(pool))]
                if j >= len(idx):
                    p = paraphrase(p, a.rng)
                u, hist, sp = cot_wrap(w, a.rng, p, style)
                w.emit(a, t, u, history=hist, system=sp or "You are a helpful assistant.",
                       ip="%s.%d" % (a.rng.choice(subnets), a.rng.randrange(2, 254)),
                       max_tokens=4096, temperature=0.7, resp_src=r,
                       out_tokens=lognorm_int(a.rng, 1400, 0.4, 100, 4096))
                j += 1
                t += a.rng.uniform(4, 40)
            t += a.rng.uniform(3, 10) * HOUR


def build_slow(w, n, camp):
    """Low and slow: aged accounts, each its own card and webmail address, residential
    proxies rotating per session, human-looking sessions, paraphrased shared task list,
    CoT asked in many languages and forms, sometimes in an earlier (real) turn."""
    rng = random.Random("slow/%d" % w.seed)
    tasks = []
    for c in ["analysis", "math", "code", "roleplay"]:
        if c in w.texts.pools:
            tasks += w.texts.pools[c][:600]
    rng.shuffle(tasks)
    for i in range(n):
        a = w.new_account("A-slow-%d" % i, "attack", "low_and_slow", camp)
        a.created = T0S - a.rng.uniform(60, 500) * DAY
        total = lognorm_int(a.rng, 90, 0.3, 30, 250)
        j = 0
        while j < total:
            d = a.rng.randrange(DAYS)
            t = local_time(a.rng, a.tz, d, a.hours, 0.8)
            ip = residential_ip(a.rng)
            hist = []
            conv = "conv_" + w.hexid(a.rng, 12)
            if a.rng.random() < 0.3:
                first = a.rng.choice(COT_EARLIER)
                r = w.emit(a, t, first, ip=ip, conv=conv, out_tokens=a.rng.randint(8, 40))
                if r is not None:
                    hist = [{"role": "user", "content": first}, {"role": "assistant", "content": r}]
                t += a.rng.uniform(20, 120)
            for _ in range(a.rng.randint(2, 6)):
                p, src = tasks[a.rng.randrange(len(tasks))]
                p = paraphrase(p, a.rng)
                if not hist and a.rng.random() < 0.7:
                    p = p + " " + a.rng.choice(COT_SUFFIX)
                r = w.emit(a, t, p, history=hist[-4:], ip=ip, conv=conv, resp_src=src,
                           temperature=a.rng.choice([None, 0.7, 1.0, 0.5]),
                           max_tokens=a.rng.choice([None, 2048, 4096]),
                           out_tokens=lognorm_int(a.rng, 900, 0.5, 50, 4096))
                j += 1
                if r is None:
                    break
                hist = hist + [{"role": "user", "content": p}, {"role": "assistant", "content": r}]
                t += a.rng.uniform(40, 400)


def build_rubric(w, n, camp):
    """Reward-label harvesting: the model as a grader of (question, answer) pairs."""
    rng = random.Random("rubric/%d" % w.seed)
    cards = ["pf_" + w.hexid(rng, 16) for _ in range(2)]
    subnets = [subnet24(rng, HOSTING_NETS + CLOUD_NETS) for _ in range(2)]
    created = T0S - 3 * DAY
    own_rubrics = [
        "Grade the response below on a 1-10 scale for helpfulness, correctness and harmlessness. "
        "Justify each sub-score in detail before the final score.\n\nPrompt: {q}\n\nResponse: {a}",
        "You are a strict reviewer. Compare Response A and Response B to the instruction and explain, "
        "point by point, which is better and why. End with [[A]] or [[B]].\n\n"
        "Instruction: {q}\n\nResponse A: {a}\n\nResponse B: {b}",
        "Evalúa la respuesta del 1 al 10 y razona tu puntuación paso a paso.\nPregunta: {q}\nRespuesta: {a}",
    ]
    runs = [T0S + d * DAY + rng.uniform(0, 20) * HOUR for d in range(0, DAYS, 2)]
    for i in range(n):
        a = w.new_account("A-rubric-%d" % i, "attack", "rubric_grader", camp)
        a.card = cards[i % 2]
        a.created = created + a.rng.uniform(0, 30) * HOUR
        a.ua = a.rng.choice(["python-httpx/0.27.2", "OpenAI/Python 1.54.3"])
        ip = "%s.%d" % (a.rng.choice(subnets), a.rng.randrange(2, 254))
        for r0 in runs:
            if a.rng.random() < 0.25:
                continue
            t = r0 + a.rng.uniform(0, 300)
            for _ in range(lognorm_int(a.rng, 25, 0.3, 5, 80)):
                q, ans = w.texts.any(a.rng)
                q2, ans2 = w.texts.any(a.rng)
                if w.texts.judges and a.rng.random() < 0.5:
                    sp, tpl = a.rng.choice(w.texts.judges)
                    u = fill_judge(tpl, q, ans or q2, q2, ans2 or q)
                else:
                    sp = None
                    u = a.rng.choice(own_rubrics).replace("{q}", q).replace(
                        "{a}", (ans or q2)[:1200]).replace("{b}", (ans2 or q)[:1200])
                w.emit(a, t, u, system=sp, ip=ip, temperature=0.0, max_tokens=2048,
                       out_tokens=lognorm_int(a.rng, 500, 0.3, 80, 1500))
                t += a.rng.uniform(2, 15)


def build_rush(w, n, camp):
    """Bought aged accounts with a real previous owner's history, rushing the new model
    within hours of its release with CoT and long thinking budgets."""
    rng = random.Random("rush/%d" % w.seed)
    start = RELEASE + rng.uniform(1, 5) * HOUR
    cats = [c for c in ["math", "code", "analysis"] if c in w.texts.pools] or w.texts.cats
    for i in range(n):
        a = w.new_account("A-rush-%d" % i, "attack", "new_model_rush", camp)
        a.created = T0S - a.rng.uniform(150, 800) * DAY
        # the previous owner's light use
        human_user(w, a, a.rng.randint(0, 4), last_day=14)
        t = start + a.rng.uniform(0, 3) * HOUR
        total = lognorm_int(a.rng, 260, 0.3, 80, 700)
        for j in range(total):
            p, r = w.texts.any(a.rng, cats)
            p = paraphrase(p, a.rng)
            style = a.rng.choice(["suffix", "suffix", "json", "none"])
            u, hist, sp = cot_wrap(w, a.rng, p, style)
            w.emit(a, t, u, history=hist, system=sp, model=NEW_MODEL, ip=residential_ip(a.rng),
                   max_tokens=8192, temperature=a.rng.choice([0.6, 0.8, 1.0]), resp_src=r,
                   out_tokens=lognorm_int(a.rng, 1500, 0.4, 100, 8192),
                   reasoning=lognorm_int(a.rng, 4000, 0.5, 200, 32000))
            t += a.rng.uniform(20, 240)
            if a.rng.random() < 0.03:
                t += a.rng.uniform(2, 8) * HOUR


def build_hydra(w, n, camp):
    """A proxy reseller's hydra: few cards, reseller egress /24s, resold ordinary traffic
    mixed with templated distillation, synchronized waves."""
    rng = random.Random("hydra/%d" % w.seed)
    cards = ["pf_" + w.hexid(rng, 16) for _ in range(max(2, n // 15))]
    subnets = [subnet24(rng, HOSTING_NETS) for _ in range(6)]
    templates = [
        "Task: {x}\n\nProvide a detailed, complete solution and explain every step.",
        "### Instruction\n{x}\n\n### Requirements\nBe exhaustive. Show reasoning, then the answer.",
        "{x}\n\nAnswer as an expert would, with a step-by-step justification.",
    ]
    waves = []
    t = T0S + rng.uniform(0, DAY)
    while t < END:
        waves.append(t)
        t += rng.uniform(2, 9) * HOUR
    ua = "OpenAI/Python 1.54.3"
    for i in range(n):
        a = w.new_account("A-hydra-%d" % i, "attack", "hydra_reseller", camp)
        a.card = cards[i % len(cards)]
        a.created = T0S - (i // 25) * 7 * DAY - a.rng.uniform(0, 6) * HOUR  # created in waves
        a.ua = ua if a.rng.random() < 0.8 else SDK_CHOOSER.pick(a.rng)
        tpl = templates[i % len(templates)]
        for wv in waves:
            if a.rng.random() < 0.45:
                continue
            t = wv + a.rng.uniform(0, 900)
            ip = "%s.%d" % (a.rng.choice(subnets), a.rng.randrange(2, 254))
            for _ in range(a.rng.randint(1, 6)):
                if a.rng.random() < 0.4:  # resold ordinary traffic
                    turns = human_prompt(w, a.rng)
                    t = w.session(a, t, turns, ip=ip, gap=(2, 30),
                                  system=a.rng.choice(w.common_systems) or None)
                else:
                    p, r = w.texts.any(a.rng, ["analysis", "code", "math", "roleplay"])
                    w.emit(a, t, tpl.replace("{x}", p), ip=ip, max_tokens=4096, temperature=0.8,
                           resp_src=r, out_tokens=lognorm_int(a.rng, 1300, 0.4, 80, 4096))
                    t += a.rng.uniform(3, 30)


def build_mimic(w, n, camp):
    """Hide behind the most popular app: its system prompt and client, a CoT instruction in an
    earlier user turn with an assistant acknowledgement the platform never produced."""
    sp, ua = w.apps[0]
    for i in range(n):
        a = w.new_account("A-mimic-%d" % i, "attack", "app_mimic", camp)
        a.created = T0S - a.rng.uniform(0, 60) * DAY
        a.ua = ua
        ips = [cloud_ip(a.rng) for _ in range(2)]
        total = lognorm_int(a.rng, 180, 0.3, 60, 500)
        for j in range(total):
            d = a.rng.randrange(DAYS)
            t = local_time(a.rng, a.tz, d, a.hours, 0.9)
            p, r = w.texts.any(a.rng, ["analysis", "code", "math", "roleplay"])
            u, hist, _ = cot_wrap(w, a.rng, paraphrase(p, a.rng), "earlier_fake")
            w.emit(a, t, u, history=hist, system=sp, ip=a.rng.choice(ips), temperature=0.7,
                   max_tokens=1024 if a.rng.random() < 0.5 else 4096, resp_src=r,
                   out_tokens=lognorm_int(a.rng, 900, 0.4, 80, 4096))


def build_agent(w, n, camp):
    """Tool-use trajectory harvesting dressed as an agent product: cloud servers, an agent
    system prompt with tools, multi-step tasks whose tool results the client writes itself,
    each account its own card, steady round-the-clock pace like a product's backend."""
    rng = random.Random("agent/%d" % w.seed)
    sp_base = rng.choice(["You are an autonomous agent. Use the tools to complete the user's task. ",
                          "You are a helpful assistant with access to tools. "])
    cats = [c for c in ["tool", "code", "analysis"] if c in w.texts.pools] or w.texts.cats
    for i in range(n):
        a = w.new_account("A-agent-%d" % i, "attack", "tool_trajectory", camp)
        a.created = T0S - a.rng.uniform(10, 90) * DAY
        a.home_ip = cloud_ip(a.rng)
        tools = make_tools(a.rng)
        sp = sp_base + a.rng.choice(["Think before each tool call.", "Explain your plan, then act.",
                                     "Reason step by step about which tool to use."])
        tasks = lognorm_int(a.rng, 90, 0.3, 30, 250)
        for _ in range(tasks):
            t = T0S + a.rng.uniform(0, DAYS * DAY)
            p, r = w.texts.any(a.rng, cats)
            conv = "conv_" + w.hexid(a.rng, 12)
            hist = []
            steps = a.rng.randint(2, 5)
            for step in range(steps):
                if step == 0:
                    r1 = w.emit(a, t, p, system=sp, tools=tools, conv=conv, resp_src=r,
                                temperature=0.7, max_tokens=4096,
                                out_tokens=lognorm_int(a.rng, 700, 0.4, 60, 4096))
                    hist = [{"role": "user", "content": p}]
                else:
                    blocks = [{"type": "tool_result", "tool_use_id": "tu_" + w.hexid(a.rng, 8),
                               "content": response_text(a.rng, w.texts.any(a.rng)[1], 20)}]
                    r1 = w.emit(a, t, None, tool_blocks=blocks, history=hist, system=sp, tools=tools,
                                conv=conv, temperature=0.7, max_tokens=4096,
                                out_tokens=lognorm_int(a.rng, 700, 0.4, 60, 4096))
                    hist = hist + [{"role": "user", "content": blocks}]
                if r1 is None:
                    break
                hist = hist + [{"role": "assistant", "content": r1}]
                t += a.rng.uniform(2, 25)


# How often each of these legitimate archetypes asks for reasoning; --cot-rate
# changes it for a stress variant (docs/HOLDOUT.md: campus students or company
# staff who ask for reasoning in most requests).
COT_RATE = {"campus_student": 0.3, "company_team": 0.05}


BUILDERS = {"split": (build_split, 60), "slow": (build_slow, 250), "rubric": (build_rubric, 40),
            "rush": (build_rush, 80), "hydra": (build_hydra, 150), "mimic": (build_mimic, 50),
            "agent": (build_agent, 60)}


# --------------------------------------------------------------------------
# output shapes


def to_openai_chat(ev):
    req = {"model": ev.get("model"), "messages": ([{"role": "system", "content": ev["system"]}]
                                                 if ev.get("system") else []) + ev["messages"]}
    for k in ("max_tokens", "temperature", "tools"):
        if k in ev:
            req[k] = ev[k] if k != "tools" else [
                {"type": "function", "function": {"name": t["name"], "description": t["description"],
                                                  "parameters": t["input_schema"]}} for t in ev[k]]
    r = ev["response"]
    resp = {"id": "chatcmpl-" + ev["request_id"][4:], "object": "chat.completion", "model": ev.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": r["content"]},
                         "finish_reason": "length" if r["stop_reason"] == "max_tokens" else "stop"}],
            "usage": {"prompt_tokens": r["input_tokens"], "completion_tokens": r["output_tokens"],
                      "completion_tokens_details": {"reasoning_tokens": r.get("reasoning_tokens", 0)}}}
    out = {"ts": ev["ts"], "account_id": ev["account_id"], "ip": ev.get("ip"),
           "user_agent": ev.get("user_agent"), "request_id": ev["request_id"],
           "request": req, "response": resp}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--fields", choices=["full", "gateway"], default="full")
    ap.add_argument("--tactics", default="all",
                    help="comma list of %s, or all, or none" % ",".join(ALL_TACTICS))
    ap.add_argument("--shape", choices=["native", "openai-chat"], default="native")
    ap.add_argument("--legit", type=int, default=None, help="legitimate accounts (default 6500*scale)")
    ap.add_argument("--cot-rate", action="append", default=[], metavar="ARCHETYPE=RATE",
                    help="stress variant: the share of requests asking for reasoning for %s" % " or ".join(COT_RATE))
    args = ap.parse_args()
    for spec in args.cot_rate:
        arch, _, rate = spec.partition("=")
        if arch not in COT_RATE:
            ap.error("--cot-rate: unknown archetype %r (known: %s)" % (arch, ", ".join(COT_RATE)))
        try:
            COT_RATE[arch] = float(rate)
        except ValueError:
            ap.error("--cot-rate: %r is not a number" % rate)

    tactics = ALL_TACTICS if args.tactics == "all" else (
        [] if args.tactics == "none" else [t.strip() for t in args.tactics.split(",") if t.strip()])
    for t in tactics:
        if t not in BUILDERS:
            ap.error("unknown tactic %r (known: %s)" % (t, ", ".join(ALL_TACTICS)))
    w = World(args)
    n_legit = args.legit if args.legit is not None else int(6500 * args.scale)
    build_legit(w, n_legit)
    for t in tactics:
        fn, size = BUILDERS[t]
        fn(w, max(3, int(round(size * args.scale))), CAMPAIGN_OF[t])

    # opaque account ids assigned in a random order independent of the label
    idrng = random.Random("ids/%d" % args.seed)
    order = list(range(len(w.accounts)))
    idrng.shuffle(order)
    for k in order:
        a = w.accounts[k]
        while True:
            aid = "acct_" + w.hexid(idrng, 12)
            if aid not in w.used_ids:
                break
        w.used_ids.add(aid)
        a.key = aid

    os.makedirs(args.out, exist_ok=True)
    allev = []
    for a in w.accounts:
        for t, ev in a.events:
            ev["account_id"] = a.key
            allev.append((t, ev["request_id"], ev))
    allev.sort(key=lambda x: (x[0], x[1]))
    with open(os.path.join(args.out, "events.jsonl"), "w", encoding="utf-8") as f:
        for _, _, ev in allev:
            if args.shape == "openai-chat":
                ev = to_openai_chat(ev)
            f.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")))
            f.write("\n")
    with open(os.path.join(args.out, "labels.jsonl"), "w", encoding="utf-8") as f:
        for k in sorted(range(len(w.accounts)), key=lambda k: w.accounts[k].key):
            a = w.accounts[k]
            if not a.events:
                continue
            f.write(json.dumps({"account_id": a.key, "label": a.label, "campaign": a.campaign,
                                "archetype": a.archetype}) + "\n")
    with open(os.path.join(args.out, "account_attrs.jsonl"), "w", encoding="utf-8") as f:
        for k in sorted(range(len(w.accounts)), key=lambda k: w.accounts[k].key):
            a = w.accounts[k]
            if not a.events:
                continue
            row = {"account_id": a.key, "created_at": iso(a.created), "payment_fingerprint": a.card,
                   "email_domain": a.email}
            if a.org:
                row["org_id"] = a.org
                row["org_verified"] = a.org_verified
            f.write(json.dumps(row) + "\n")
    last = allev[-1][0] if allev else END
    by_arch = {}
    for a in w.accounts:
        if a.events:
            n, e = by_arch.get(a.archetype, (0, 0))
            by_arch[a.archetype] = (n + 1, e + len(a.events))
    meta = {"seed": args.seed, "scale": args.scale, "fields": args.fields, "tactics": tactics,
            "shape": args.shape, "corpus": bool(args.corpus), "accounts": sum(1 for a in w.accounts if a.events),
            "attack_accounts": sum(1 for a in w.accounts if a.events and a.label == "attack"),
            "events": len(allev), "first": iso(allev[0][0]) if allev else None, "last": iso(last),
            "now": iso(last + 3600), "release": iso(RELEASE), "new_model": NEW_MODEL,
            "by_archetype": by_arch}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
