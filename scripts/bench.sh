#!/usr/bin/env bash
# Benchmarks (figures, not pass/fail): list throughput, importer, scanner, stats.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || true
for b in benchmarks/bench_*.py; do
  echo "== $b"
  $BIN/python "$b"
done
