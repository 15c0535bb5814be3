#!/usr/bin/python3
"""Baselines (issue #15, "peers side by side"): the research detectors of
model extraction a user would reach for, run on the same labelled traffic as
distillguard, the rate limits and the IsolationForest:

  MMD    benign-calibrated maximum mean discrepancy between an account's
         window of queries and a reference sample of the traffic, in the
         manner of "An Embarrassingly Simple Detector for Model Extraction
         Attacks in Large Language Model API Traffic" (Liu, Guo, Dong, 2026).
  PRADA  per account, the minimum distance of each new query to the
         account's growing set of earlier queries, and a Shapiro-Wilk test
         of those distances; flagged when W < delta (Juuti et al., 2019).
  SEAT   similar query pairs: an account is flagged once it has sent K
         queries that are near-duplicates of earlier ones (Zhang et al.,
         2021). Two forms: within the account (SEAT as published) and across
         accounts (a near-duplicate of another account's earlier query --
         the cross-account linking a hydra invites).

Adaptation, said plainly: the published detectors embed queries with
neural encoders (a sentence encoder for MMD, the victim's own features for
PRADA, an adversarially trained similarity encoder for SEAT). Here every
query is a *hashed lexical* vector instead: the text of the request's last
user turn (strings, text blocks and tool results, first 1,000 characters),
lower-cased word unigrams and bigrams hashed into 2^14 dimensions
(scikit-learn's HashingVectorizer), L2-normalised. MMD uses an RBF kernel on
those vectors through 256 random Fourier features (bandwidth: the median
distance of reference pairs); PRADA uses exact L2 distances between them;
SEAT's near-duplicate test is MinHash (48 hashes, 8 bands of 6) over the set
of hashed n-grams -- two queries are "similar" when they share a band, i.e.
Jaccard similarity of about 0.7 or more -- so the pairs are found by
bucketing, never by comparing all pairs. Paraphrase-robust neural encoders
would see more similarity than these features do; what these features
measure is how lexically alike the queries are.

What the detectors see: account id, time and query text. Nothing of
addresses, clients, payment, sign-up or responses (that is the published
designs). No label is read until every score exists.

Windows and schedules:
  MMD    the last --mmd-window queries of an account (default 32), scored
         after every --mmd-stride-th query (default 8) once the account has
         a full window; accounts with fewer queries are never scored.
  PRADA  the account's first --prada-cap queries (default 2,000; the
         published design keeps every query of a client, which is quadratic
         -- beyond the cap the account's last verdict stands), tested after
         every 10th distance once it has --prada-min distances (default 30).
  SEAT   every query, online (only earlier queries count).

Calibration, clearly separated:
  own    what a deployment without labels can do: the first --calib-days
         days of the log (default 2) are taken as benign (unlabelled: any
         attack already running then is in it). For MMD the reference sample
         is 20,000 random queries of those days and the threshold is set by
         benign-vs-benign comparison -- the same windows of the accounts
         active in those days scored against it; for all three detectors the
         threshold is the tightest that flags at most 0.05% of the accounts
         active in the calibration days within those days.
  oracle afterwards, with the labels: the threshold that blocks at most
         distillguard's number of legit accounts, and at most 0.05% of legit
         accounts (the budget distillguard is held to) -- a calibration no
         deployment has, so those rows are each detector's best case (and at
         1% FPR, to show where each would begin to catch anything).
  clean reference (MMD only; --no-clean-reference leaves it out): the
         paper's setting, a history of benign traffic. The labels select the
         legit queries of the first days for the reference sample and the
         legit accounts of those days for the benign-vs-benign threshold --
         a second MMD detector, whose scores depend on the labels through its
         reference and nothing else.

Recall, false-positive rate and leakage are SCHEMA.md's: an account is
blocked at the first evaluation whose score reaches the threshold;
leakage counts the attack interactions up to and including that one, and
all of a never-blocked attack account's interactions.

Usage: peer_baselines.py EVENTS.jsonl LABELS.jsonl ACCOUNTS.jsonl
         [--cache FEATURES.npz] [--calib-days D] [--detectors mmd,prada,seat]
         [--mmd-window K] [--mmd-stride S] [--prada-cap N] [--prada-min N]
         [--no-clean-reference]
  ACCOUNTS.jsonl: distillguard scan's output on the same events.
  --cache: where the parsed features are kept; reused when it exists (and
  newer than EVENTS), so the detectors can be rerun without the parse.
A malformed event or label line stops the run with its file and line.
"""
import argparse
import json
import math
import os
import sys
import time
import warnings
from collections import defaultdict
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from scipy.stats import shapiro
from sklearn.feature_extraction.text import HashingVectorizer

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("events")
ap.add_argument("labels")
ap.add_argument("accounts")
ap.add_argument("--cache")
ap.add_argument("--calib-days", type=float, default=2.0)
ap.add_argument("--detectors", default="mmd,prada,seat")
ap.add_argument("--mmd-window", type=int, default=32)
ap.add_argument("--mmd-stride", type=int, default=8)
ap.add_argument("--mmd-features", type=int, default=256)
ap.add_argument("--prada-cap", type=int, default=2000)
ap.add_argument("--prada-min", type=int, default=30)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--no-clean-reference", dest="clean_reference", action="store_false",
                help="leave out the MMD row whose reference is cleaned with the labels")
args = ap.parse_args()
detectors = [d for d in args.detectors.split(",") if d]
for d in detectors:
    if d not in ("mmd", "prada", "seat"):
        ap.error(f"unknown detector {d!r} (mmd, prada, seat)")
if not detectors:
    ap.error("no detector")
if args.mmd_window < 2 or args.mmd_stride < 1 or args.prada_cap < 10 or args.prada_min < 3 or args.calib_days <= 0:
    ap.error("--mmd-window >= 2, --mmd-stride >= 1, --prada-cap >= 10, --prada-min >= 3, --calib-days > 0")

DIM = 2 ** 14
TEXT_CAP = 1000
N_HASH, BANDS = 48, 8
ROWS = N_HASH // BANDS
BUDGET = 0.0005
t0 = time.time()


def log(msg):
    print(f"[{time.time() - t0:6.0f}s] {msg}", file=sys.stderr, flush=True)


def fail(msg):
    print(f"peer_baselines: {msg}", file=sys.stderr)
    sys.exit(2)


_midnight = {}


def epoch(ts):
    """RFC 3339 (…Z or offset) or epoch seconds/milliseconds to seconds."""
    if isinstance(ts, bool) or not isinstance(ts, (str, int, float)):
        raise TypeError("ts")
    if not isinstance(ts, str):
        return ts / 1000.0 if ts > 1e11 else float(ts)
    day = ts[:10]
    base = _midnight.get(day)
    if base is None:
        base = datetime.fromisoformat(day + "T00:00:00+00:00").timestamp()
        _midnight[day] = base
    if ts.endswith("Z") and len(ts) >= 20 and ts[10] == "T":
        return base + int(ts[11:13]) * 3600 + int(ts[14:16]) * 60 + float(ts[17:-1])
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def block_text(c):
    if isinstance(c, str):
        return c
    out = []
    if isinstance(c, list):
        for b in c:
            if isinstance(b, str):
                out.append(b)
            elif isinstance(b, dict):
                if isinstance(b.get("text"), str):
                    out.append(b["text"])
                elif b.get("type") == "tool_result":
                    out.append(block_text(b.get("content")))
    return "\n".join(out)


def query_text(msgs):
    """The request's last user turn: what the model is asked to answer now."""
    for m in reversed(msgs):
        if isinstance(m, dict) and m.get("role") == "user":
            return block_text(m.get("content"))[:TEXT_CAP]
    return ""


# ---------------------------------------------------------------- features
vectorizer = HashingVectorizer(n_features=DIM, ngram_range=(1, 2), alternate_sign=False, norm="l2",
                               dtype=np.float32)
P31 = np.uint64(2 ** 31 - 1)
_rng = np.random.default_rng(12345)
HA = _rng.integers(1, 2 ** 31 - 1, N_HASH, dtype=np.uint64)
HB = _rng.integers(0, 2 ** 31 - 1, N_HASH, dtype=np.uint64)
BAND_MIX = _rng.integers(1, 2 ** 63, ROWS, dtype=np.uint64) | np.uint64(1)


def minhash_bands(X):
    """MinHash of each row's set of hashed n-grams, folded into BANDS keys;
    an empty row gets keys that match nothing (its own row number)."""
    n = X.shape[0]
    keys = np.zeros((n, BANDS), dtype=np.uint64)
    idx = X.indices.astype(np.uint64)
    lens = np.diff(X.indptr)
    nonempty = lens > 0
    starts = X.indptr[:-1][nonempty]
    sig = np.empty((int(nonempty.sum()), N_HASH), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(N_HASH):
            v = (HA[j] * idx + HB[j]) % P31
            sig[:, j] = np.minimum.reduceat(v, starts) if len(starts) else v[:0]
        for b in range(BANDS):
            k = np.zeros(len(sig), dtype=np.uint64)
            for r in range(ROWS):
                k = k * BAND_MIX[r] + sig[:, b * ROWS + r] + np.uint64(b)
            keys[nonempty, b] = k
    empty = np.flatnonzero(~nonempty).astype(np.uint64)
    for b in range(BANDS):  # unique values, tagged by the top bit, never collide with anything
        keys[~nonempty, b] = empty | np.uint64(1 << 63)
    return keys


def parse_events(path):
    acct_index, acct_names = {}, []
    accts, tss, chunks, bands = [], [], [], []
    texts, a_chunk, t_chunk = [], [], []

    def flush():
        if not texts:
            return
        X = vectorizer.transform(texts).tocsr()
        X.sort_indices()
        chunks.append(X)
        bands.append(minhash_bands(X))
        accts.append(np.array(a_chunk, dtype=np.int32))
        tss.append(np.array(t_chunk, dtype=np.float64))
        texts.clear(), a_chunk.clear(), t_chunk.clear()

    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
                acct = e.get("account_id") or e.get("user")  # canonical or OpenAI-style record
                if not isinstance(acct, str) or not acct:
                    raise ValueError("no account_id")
                t = epoch(e["ts"])
                msgs = e["messages"]
                if not isinstance(msgs, list):
                    raise ValueError("messages is not an array")
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                fail(f"{path}:{lineno}: not an interaction record ({err})")
            i = acct_index.get(acct)
            if i is None:
                i = acct_index[acct] = len(acct_names)
                acct_names.append(acct)
            texts.append(query_text(msgs))
            a_chunk.append(i)
            t_chunk.append(t)
            if len(texts) >= 100000:
                flush()
                log(f"parsed {lineno} lines")
    flush()
    if not accts:
        fail(f"{path}: no interactions")
    return (acct_names, np.concatenate(accts), np.concatenate(tss), sp.vstack(chunks, format="csr"),
            np.concatenate(bands))


if args.cache and os.path.exists(args.cache) and os.path.getmtime(args.cache) >= os.path.getmtime(args.events):
    z = np.load(args.cache, allow_pickle=False)
    acct_names = list(z["acct_names"])
    A, T, KEYS = z["acct"], z["ts"], z["keys"]
    X = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=(len(A), DIM))
    log(f"features from {args.cache}")
else:
    acct_names, A, T, X, KEYS = parse_events(args.events)
    order = np.argsort(T, kind="stable")
    if not np.array_equal(order, np.arange(len(T))):
        A, T, X, KEYS = A[order], T[order], X[order], KEYS[order]
    if args.cache:
        np.savez(args.cache, acct_names=np.array(acct_names), acct=A, ts=T, keys=KEYS, data=X.data,
                 indices=X.indices, indptr=X.indptr)
        log(f"features kept in {args.cache}")
N = len(A)
n_acct = len(acct_names)
log(f"{N} interactions, {n_acct} accounts, {X.nnz / N:.1f} hashed n-grams a query")

# Per account, its interactions in time order (the array is already in time order).
by_acct = np.argsort(A, kind="stable")
acct_start = np.searchsorted(A[by_acct], np.arange(n_acct + 1))
count = np.diff(acct_start)
calib_end = T[0] + args.calib_days * 86400.0

# A detector's output, per account: arrays (score, n) over its evaluations in
# time order -- the account's score at its n-th interaction -- and the time of
# each evaluation (for the calibration days).
Traj = dict


def seq_of(a):
    return by_acct[acct_start[a]:acct_start[a + 1]]


# ---------------------------------------------------------------- MMD
def run_mmd(pool=None):
    """pool: per account, whether its queries may enter the reference (None: every account)."""
    rng = np.random.default_rng(args.seed)
    calib_rows = np.flatnonzero((T < calib_end) & (True if pool is None else pool[A]))
    if len(calib_rows) < 100:
        fail(f"only {len(calib_rows)} interactions in the first {args.calib_days:g} days: no reference for MMD")
    ref = rng.choice(calib_rows, size=min(20000, len(calib_rows)), replace=False)
    R = X[np.sort(ref)]
    # Bandwidth: the median distance between reference pairs (vectors are unit or zero).
    pa, pb = rng.integers(0, R.shape[0], 4000), rng.integers(0, R.shape[0], 4000)
    sq = np.asarray(R[pa].multiply(R[pb]).sum(axis=1)).ravel()
    na = np.asarray(R[pa].multiply(R[pa]).sum(axis=1)).ravel()
    nb = np.asarray(R[pb].multiply(R[pb]).sum(axis=1)).ravel()
    d = np.sqrt(np.maximum(0.0, na + nb - 2 * sq))
    sigma = float(np.median(d[pa != pb])) or 1.0
    D = args.mmd_features
    W = (rng.standard_normal((DIM, D)) / sigma).astype(np.float32)
    B = rng.uniform(0, 2 * np.pi, D).astype(np.float32)
    scale = np.float32(math.sqrt(2.0 / D))

    def rff(M):
        return scale * np.cos(np.asarray(M @ W) + B)

    mu = rff(R).mean(axis=0)
    k, s = args.mmd_window, args.mmd_stride
    out = {}
    for a in range(n_acct):
        rows = seq_of(a)
        n = len(rows)
        if n < k:
            continue
        P = rff(X[rows])
        c = np.vstack([np.zeros((1, D), dtype=np.float64), np.cumsum(P, axis=0, dtype=np.float64)])
        ends = np.arange(k, n + 1)
        ends = ends[(ends - k) % s == 0]
        means = (c[ends] - c[ends - k]) / k
        score = ((means - mu) ** 2).sum(axis=1)  # biased MMD^2 through random features; k fixed
        out[a] = (score, ends, T[rows[ends - 1]])
    log(f"MMD: RBF bandwidth {sigma:.3f}, {sum(len(v[0]) for v in out.values())} windows of {k} "
        f"over {len(out)} accounts")
    return out


# ---------------------------------------------------------------- PRADA
def run_prada():
    warnings.filterwarnings("ignore", module="scipy.stats")
    out = {}
    tests = 0
    for a in range(n_acct):
        rows = seq_of(a)[:args.prada_cap]
        n = len(rows)
        if n < args.prada_min + 1:
            continue
        M = X[rows]
        G = (M @ M.T).toarray().astype(np.float64)
        nrm = np.diag(G).copy()
        dist = np.sqrt(np.maximum(0.0, nrm[:, None] + nrm[None, :] - 2 * G))
        mind = dist[0].copy()  # min distance of every query to the growing set, which starts with query 0
        Ds = []
        s1 = s2 = 0.0
        gs1 = gs2 = 0.0
        gn = 0
        thr = -np.inf
        scores, ns = [], []
        for i in range(1, n):
            dmin = float(mind[i])
            Ds.append(dmin)
            if dmin > thr:  # the query extends the growing set
                mind = np.minimum(mind, dist[i])
                gs1 += dmin
                gs2 += dmin * dmin
                gn += 1
                m = gs1 / gn
                thr = max(thr, m - math.sqrt(max(0.0, gs2 / gn - m * m)))
            if len(Ds) >= args.prada_min and len(Ds) % 10 == 0:
                w = shapiro(Ds)[0] if max(Ds) > min(Ds) else 1.0
                tests += 1
                scores.append(1.0 - w)  # higher = less normal = more suspicious
                ns.append(i + 1)
        if scores:
            ns = np.array(ns)
            out[a] = (np.array(scores), ns, T[rows[ns - 1]])
    log(f"PRADA: {tests} Shapiro-Wilk tests over {len(out)} accounts (first {args.prada_cap} queries each)")
    return out


# ---------------------------------------------------------------- SEAT
def run_seat():
    pos = np.arange(N)
    within = np.zeros(N, dtype=bool)
    cross = np.zeros(N, dtype=bool)
    for b in range(BANDS):
        K = KEYS[:, b]
        # within: an earlier query of the same account in the bucket
        o = np.lexsort((pos, A, K))
        Ko, Ao = K[o], A[o]
        same = np.zeros(N, dtype=bool)
        same[1:] = (Ko[1:] == Ko[:-1]) & (Ao[1:] == Ao[:-1])
        within[o[same]] = True
        # across: an earlier query of another account in the bucket
        o = np.lexsort((pos, K))
        Ko, Ao = K[o], A[o]
        start = np.ones(N, dtype=bool)
        start[1:] = Ko[1:] != Ko[:-1]
        gid = np.cumsum(start) - 1
        gstart = np.flatnonzero(start)
        a0 = Ao[gstart][gid]
        other = Ao != a0
        first_other = np.full(len(gstart), N, dtype=np.int64)
        np.minimum.at(first_other, gid[other], np.flatnonzero(other))
        p = np.arange(N)
        hit = np.where(other, p > gstart[gid], p > first_other[gid])
        cross[o[hit]] = True
    res = {}
    for name, hits in (("within", within), ("cross", cross)):
        out = {}
        for a in range(n_acct):
            rows = seq_of(a)
            h = np.flatnonzero(hits[rows])
            if len(h):
                out[a] = (np.arange(1, len(h) + 1, dtype=np.float64), h + 1, T[rows[h]])
        res[name] = out
        log(f"SEAT ({name} accounts): {int(hits.sum())} of {N} queries have an earlier near-duplicate")
    return res


def read_labels():
    labels, archetype = {}, {}
    with open(args.labels, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                l = json.loads(line)
                if l["label"] not in ("legit", "attack"):
                    raise ValueError(f"label {l['label']!r}")
                labels[l["account_id"]] = l["label"]
                archetype[l["account_id"]] = l.get("archetype") or "?"
            except (ValueError, KeyError, TypeError) as err:
                fail(f"{args.labels}:{lineno}: not a label record ({err})")
    unlabelled = sum(1 for a in acct_names if a not in labels)
    if unlabelled > 0.01 * n_acct:
        fail(f"{unlabelled} of {n_acct} accounts of {args.events} have no label in {args.labels}: "
             "not the same data set?")
    return labels, archetype


results = {}
own_pool = {}  # detector -> the accounts its own calibration may use (None: all)
CLEAN = "MMD, clean reference (labelled legit of the first days)"
if "mmd" in detectors:
    results["MMD (RBF, hashed n-grams)"] = run_mmd()
    own_pool["MMD (RBF, hashed n-grams)"] = None
    if args.clean_reference:
        # The paper's setting: a history of *benign* traffic. Without labels no
        # deployment has one; here the labels clean the reference sample and the
        # benign-vs-benign calibration, and nothing else.
        lab0, _ = read_labels()
        pool = np.array([lab0.get(a) == "legit" for a in acct_names])
        results[CLEAN] = run_mmd(pool)
        own_pool[CLEAN] = pool
if "prada" in detectors:
    results["PRADA (Shapiro-Wilk, hashed n-grams)"] = run_prada()
if "seat" in detectors:
    s = run_seat()
    results["SEAT, similar pairs within an account"] = s["within"]
    results["SEAT, similar pairs across accounts"] = s["cross"]


# ---------------------------------------------------------------- own calibration (no labels)
def own_threshold(traj, pool):
    """The tightest threshold that flags at most 0.05% of the accounts active
    in the calibration days (those of pool, when given), judged on their
    evaluations within those days."""
    act = np.unique(A[T < calib_end])
    active = len(act) if pool is None else int(pool[act].sum())
    worst = sorted((float(sc[ts < calib_end].max()) for a, (sc, _, ts) in traj.items()
                    if (ts < calib_end).any() and (pool is None or pool[a])), reverse=True)
    allowed = int(math.floor(active * BUDGET))
    if allowed >= len(worst):
        return 0.0 if not worst else min(worst)
    return float(np.nextafter(worst[allowed], np.inf))


own = {name: own_threshold(tr, own_pool.get(name)) for name, tr in results.items()}
log("scores done; reading labels")

# ---------------------------------------------------------------- labels, afterwards
labels, archetype = read_labels()
legit = [i for i, a in enumerate(acct_names) if labels.get(a) == "legit"]
attack = [i for i, a in enumerate(acct_names) if labels.get(a) == "attack"]
attack_total = int(count[attack].sum())

dg_block = {}
with open(args.accounts, "rb") as f:
    for lineno, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            if r["verdict"] == "block":
                dg_block[r["account_id"]] = r.get("interactions_before_flag") or 0
        except (ValueError, KeyError, TypeError) as err:
            fail(f"{args.accounts}:{lineno}: not an account record ({err})")
dg_flag = {i: dg_block[a] for i, a in enumerate(acct_names) if a in dg_block}


def outcome(first_flag):
    fp = sum(1 for a in legit if a in first_flag)
    caught = sum(1 for a in attack if a in first_flag)
    leaked = sum(first_flag.get(a, count[a]) for a in attack)
    return fp, caught, int(leaked)


def flags_at(traj, th):
    first = {}
    for a, (sc, ns, _) in traj.items():
        hit = np.flatnonzero(sc >= th)
        if len(hit):
            first[a] = int(ns[hit[0]])
    return first


def oracle_threshold(traj, max_fp):
    """The lowest threshold at which at most max_fp legit accounts are ever blocked."""
    worst = sorted((float(traj[a][0].max()) for a in legit if a in traj), reverse=True)
    if max_fp >= len(worst):
        return -np.inf
    return float(np.nextafter(worst[max_fp], np.inf))


def fmt(fp, caught, leaked):
    return (f"{fp} ({fp / max(1, len(legit)):.5f}) | {caught}/{len(attack)} ({caught / max(1, len(attack)):.4f}) "
            f"| {leaked}/{attack_total} ({leaked / max(1, attack_total):.4f})")


dg = outcome(dg_flag)
budget_fp = int(math.floor(len(legit) * BUDGET))
print(f"accounts: {len(legit)} legit, {len(attack)} attack; attack interactions {attack_total}; "
      f"interactions {N}; calibration days {args.calib_days:g}; MMD window {args.mmd_window} stride "
      f"{args.mmd_stride}; PRADA first {args.prada_cap} queries, from {args.prada_min} distances")
print("| detector | calibration | threshold | legit blocked (FPR) | attack accounts blocked (recall) "
      "| attack interactions served before the block (leakage) |")
print("|---|---|---|---|---|---|")
print(f"| distillguard scan | its own | | {fmt(*dg)} |")
per_arch = []
for name, traj in results.items():
    for cal, th in (("own (first days' legit as benign)" if name == CLEAN else "own (first days as benign)",
                     own[name]),
                    (f"oracle at distillguard's FPR ({dg[0]})", oracle_threshold(traj, dg[0])),
                    ("oracle at the 0.05% budget", oracle_threshold(traj, budget_fp)),
                    ("oracle at 1% FPR", oracle_threshold(traj, int(math.floor(len(legit) * 0.01))))):
        first = flags_at(traj, th)
        print(f"| {name} | {cal} | {th:.4g} | {fmt(*outcome(first))} |")
        if cal.startswith(("oracle at the 0.05%", "own")):
            by = defaultdict(lambda: [0, 0])
            for a in attack:
                by[archetype[acct_names[a]]][1] += 1
                by[archetype[acct_names[a]]][0] += a in first
            fpa = defaultdict(int)
            for a in legit:
                if a in first:
                    fpa[archetype[acct_names[a]]] += 1
            per_arch.append(f"{name}, {cal}: recall by campaign archetype "
                            + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(by.items()))
                            + ("; legit blocked by archetype " + ", ".join(f"{k} {v}" for k, v in sorted(fpa.items()))
                               if fpa else ""))
print()
for name, traj in results.items():
    # How separable the accounts are at all: the AUC of each account's worst score (never scored = lowest).
    lw = np.array([traj[a][0].max() if a in traj else -np.inf for a in legit])
    aw = np.array([traj[a][0].max() if a in traj else -np.inf for a in attack])
    allv = np.concatenate([lw, aw])
    ranks = np.empty(len(allv))
    o = np.argsort(allv, kind="stable")
    srt = allv[o]
    # average ranks for ties
    uniq, first_i, cnt = np.unique(srt, return_index=True, return_counts=True)
    avg = first_i + (cnt - 1) / 2.0 + 1
    ranks[o] = np.repeat(avg, cnt)
    auc = (ranks[len(lw):].sum() - len(aw) * (len(aw) + 1) / 2) / max(1, len(aw) * len(lw))
    print(f"{name}: AUC of the account's worst score, attack vs legit {auc:.3f}; scored accounts "
          f"{sum(1 for a in legit if a in traj)} legit, {sum(1 for a in attack if a in traj)} attack")
for line in per_arch:
    print(line)
log("done")
