#!/usr/bin/env bash
# Installs the Debian packages distillguard builds and tests with, and the
# analyst console's npm packages from web/package-lock.json (npm ci).
# Idempotent: packages already present are left alone; runs apt-get only when
# something is missing. Needs root (or sudo) on a fresh machine.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config make
  libsimdjson-dev      # JSONL parsing
  zlib1g-dev libzstd-dev  # .gz / .zst input
  libxxhash-dev        # fingerprint hashing
  libabsl-dev          # flat_hash_map for per-account / per-indicator state
  libcli11-dev         # command line
  libfmt-dev           # formatting of messages and outputs
  libtomlplusplus-dev  # policy and field-mapping config (errors carry line numbers)
  libhowardhinnant-date-dev tzdata  # named time zones in mappings (date/tz over /usr/share/zoneinfo)
  libgtest-dev libgmock-dev  # unit tests
  libbenchmark-dev     # micro-benchmarks
  libsqlite3-dev       # serve persistence
  libgoogle-perftools-dev  # tcmalloc_minimal, the programs' allocator (DG_TCMALLOC)
  libssl-dev           # SHA-256 (libcrypto) of access-rules files and the access audit's hash chain
  libboost-dev         # serve HTTP (Boost.Beast / Asio, header-only)
  libnats-dev nats-server  # the cluster on NATS JetStream (src/cluster, docs/SCALE.md)
  python3              # scenario runner, serve integration test
  chromium             # report.html checked in a real browser (tests/report)
  chromium-driver python3-selenium  # the analyst console driven in Chromium (tests/console)
)
# `install-deps.sh --fuzz` adds clang and its libFuzzer runtime.
if [ "${1:-}" = "--fuzz" ]; then
  PACKAGES+=(clang libclang-rt-14-dev)
fi
# `install-deps.sh --bench` adds what the benchmarks compare against.
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(
    wrk                # decision-API load (bench/serve_bench.sh)
    nginx-light        # the static-200 reference next to it
    python3-sklearn    # the IsolationForest baseline (bench/iforest_baseline.py), hashed features of bench/peer_baselines.py
    python3-scipy      # PRADA's Shapiro-Wilk test and the sparse matrices of bench/peer_baselines.py
  )
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Node.js and npm build the analyst console (web/). Any node >= 18 on PATH
# will do (Debian 12's nodejs is 18, npm 9); Debian's are installed only
# when there is none (a node from elsewhere may bundle its own npm).
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The console's npm packages, exactly as web/package-lock.json pins them
# (npm ci), again only when the lockfile changed since the last install.
# After this the build needs no network (CMake runs Vite from node_modules).
WEB="$(cd "$(dirname "$0")/.." && pwd)/web"
if [ -f "$WEB/package-lock.json" ] && ! cmp -s "$WEB/package-lock.json" "$WEB/node_modules/.dg-installed-lock" 2>/dev/null; then
  echo "install-deps: npm ci in web/ (the analyst console)" >&2
  (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$WEB/package-lock.json" "$WEB/node_modules/.dg-installed-lock"
fi
