#!/usr/bin/env python3
"""The stages' layering: a file in src/<stage>/ may include headers of its own
stage and of the stages below it, never of a later one. The allowed graph is
the one CMakeLists.txt links (dg_stage DEPS) and docs/ARCHITECTURE.md draws.

usage: layering_check.py SRC_DIR     exit 1 and one line per violation
"""
import pathlib
import re
import sys

# stage -> stages it may include directly (transitive closure taken below)
DEPS = {
    "common": [],
    "signals": ["common"],
    "policy": ["signals"],
    "ingest": ["common"],
    "content": ["ingest"],
    "account": ["content", "signals"],
    "detect": ["account", "policy"],
    "correlate": ["account", "policy"],
    "decide": ["correlate", "detect"],
    "engine": ["decide"],
    "report": ["engine"],
    "sim": ["common"],
    "serve": ["report"],
    "cluster": ["serve"],
    "cli": ["cluster", "serve", "sim"],
}


def closure(stage):
    # iterative: the graph is small, but keep to the project's rule
    out, todo = set(), list(DEPS[stage])
    while todo:
        s = todo.pop()
        if s not in out:
            out.add(s)
            todo.extend(DEPS[s])
    return out


def main():
    src = pathlib.Path(sys.argv[1])
    include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')
    bad = []
    stages = sorted(p.name for p in src.iterdir() if p.is_dir())
    for stage in stages:
        if stage not in DEPS:
            bad.append(f"src/{stage}/: a folder the layering does not know (add it to DEPS and to CMakeLists.txt)")
            continue
        allowed = closure(stage) | {stage}
        for f in sorted((src / stage).glob("*")):
            if f.suffix not in (".h", ".cc"):
                continue
            for n, line in enumerate(f.read_text().splitlines(), 1):
                m = include.match(line)
                if m and m.group(1) not in allowed:
                    bad.append(f"src/{stage}/{f.name}:{n}: includes {m.group(1)}/, a later stage than {stage}")
    for b in bad:
        print(b)
    print(f"layering: {len(stages)} stages, {len(bad)} violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
