#!/usr/bin/env bash
# Installs the Debian packages distillguard builds and tests with.
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
  libssl-dev           # SHA-256 (libcrypto) of access-rules files and the access audit's hash chain
  libboost-dev         # serve HTTP (Boost.Beast / Asio, header-only)
  python3              # scenario runner, serve integration test
  chromium             # report.html checked in a real browser (tests/report)
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
    python3-sklearn    # the IsolationForest baseline (bench/iforest_baseline.py)
  )
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
