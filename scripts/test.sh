#!/usr/bin/env bash
# The whole suite on SQLite and PostgreSQL (PostgreSQL at 127.0.0.1:5432 unless DUBAN_TEST_PG_URL says otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# Browser tests use Debian's Chromium (and CJK fonts, so the board screenshot is legible);
# install them when we can and they are missing.
if { [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; } \
   && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  (apt-get install -y -qq chromium fonts-noto-cjk >/dev/null 2>&1 \
    || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null 2>&1)) \
    || echo "warning: could not install chromium/fonts; browser tests will skip outside CI" >&2
fi
export DUBAN_ENVIRONMENT=test
# Contracts first: they are fast and name the problem exactly.
$BIN/ruff check services tests benchmarks migrations
$BIN/ruff format --check services tests benchmarks migrations
$BIN/lint-imports --no-cache  # the package contracts in pyproject.toml
# Types: strict on duban, plandoc and notifier, checked on the api (configuration in pyproject.toml).
$BIN/mypy
WORKERS="${DUBAN_TEST_WORKERS:-2}"
exec $BIN/pytest -n "$WORKERS" --dist loadgroup -q --durations=15 "$@"
