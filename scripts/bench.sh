#!/usr/bin/env bash
# Benchmarks (figures, not pass/fail).
#   scripts/bench.sh [run.py options]   the suite: each workload beside its limit (benchmarks/run.py)
#   scripts/bench.sh components         every per-component benchmarks/bench_*.py
#   scripts/bench.sh load [options]     the sustained mixed load (benchmarks/load.py, 10 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || true
case "${1:-}" in
  components)
    for b in benchmarks/bench_*.py; do
      echo "== $b"
      $BIN/python "$b"
    done ;;
  load)
    shift
    $BIN/python benchmarks/load.py "$@" ;;
  *)
    $BIN/python benchmarks/run.py "$@" ;;
esac
