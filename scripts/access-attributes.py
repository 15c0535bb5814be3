#!/usr/bin/env python3
"""Synthetic account attributes for the access rules, for a simulated log
(e.g. the `standard` scenario), so that `distillguard access-impact` can be
demonstrated.

Reads only the account ids of EVENTS (the "account_id" field of each line;
nothing else of the events, and never labels.jsonl) and derives every
attribute from a hash of the id: verified country and its jurisdiction,
verification level, organisation type, payment verification and a
sign-up date. The attributes are therefore independent of whether an
account is an attacker: they say nothing about the detector's labels.

Usage: scripts/access-attributes.py EVENTS.jsonl > attributes.csv
Missing attributes (about one account in ten) are left empty, as a real
provider's data would have them.
"""
import hashlib
import re
import sys

# (verified country, jurisdiction, weight)
COUNTRIES = [("US", "US", 30), ("GB", "GB", 7), ("DE", "EU", 7), ("FR", "EU", 5), ("NL", "EU", 2), ("JP", "JP", 5),
             ("CA", "CA", 4), ("IN", "IN", 8), ("BR", "BR", 5), ("CN", "CN", 9), ("RU", "RU", 3), ("SG", "SG", 3),
             ("", "", 12)]  # missing: never verified
LEVELS = [(0, 25), (1, 30), (2, 25), (3, 10), (-1, 10)]  # -1: missing
ORG_TYPES = [("individual", 50), ("company", 30), ("university", 8), ("government", 2), ("", 10)]
PAYMENT = [("true", 65), ("false", 25), ("", 10)]
ACCOUNT = re.compile(rb'"account_id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def pick(table, h):
    total = sum(row[-1] for row in table)
    x = h % total
    for row in table:
        if x < row[-1]:
            return row
        x -= row[-1]
    return table[-1]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ids = set()
    with open(sys.argv[1], "rb") as f:
        for line in f:
            m = ACCOUNT.search(line)
            if m:
                ids.add(m.group(1).decode("utf-8", "replace"))
    out = sys.stdout
    out.write("account_id,verified_country,jurisdiction,verification_level,org_type,payment_verified,created_at\n")
    for account in sorted(ids):
        d = hashlib.sha256(account.encode()).digest()
        h = [int.from_bytes(d[i:i + 4], "big") for i in range(0, 24, 4)]
        country, jurisdiction, _ = pick(COUNTRIES, h[0])
        level = pick(LEVELS, h[1])[0]
        org_type = pick(ORG_TYPES, h[2])[0]
        payment = pick(PAYMENT, h[3])[0]
        # Sign-up between 2024-01-01 and 2026-04-30 (the scenario runs in April 2026).
        created = 1704067200 + h[4] % (850 * 86400)
        quoted = '"' + account.replace('"', '""') + '"' if ("," in account or '"' in account) else account
        out.write(f"{quoted},{country},{jurisdiction},{'' if level < 0 else level},{org_type},{payment},{created}\n")
    print(f"access-attributes: {len(ids)} accounts", file=sys.stderr)


if __name__ == "__main__":
    main()
