#!/usr/bin/env bash
# One command: migrate, make sure there is data and an admin, run the notifier beside the api.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export DUBAN_DATABASE_URL="${DUBAN_DATABASE_URL:-sqlite:///$(pwd)/duban.db}"
export DUBAN_WEBHOOK_ALLOW_PRIVATE="${DUBAN_WEBHOOK_ALLOW_PRIVATE:-true}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
export DUBAN_PUBLIC_URL="${DUBAN_PUBLIC_URL:-http://$HOST:$PORT}"

$BIN/duban db upgrade
if $BIN/duban --help 2>/dev/null | grep -q demo && [ ! -f .duban-demo-done ] && [ "${DUBAN_SKIP_DEMO:-}" != "1" ]; then
  $BIN/duban demo --into-current && touch .duban-demo-done || $BIN/duban user ensure-admin
else
  $BIN/duban user ensure-admin
fi

notifier_pid=""
if $BIN/python -c "import notifier.runner" 2>/dev/null; then
  $BIN/duban notifier run &
  notifier_pid=$!
  trap '[ -n "$notifier_pid" ] && kill "$notifier_pid" 2>/dev/null || true' EXIT INT TERM
fi
echo "Duban API on http://$HOST:$PORT  (Swagger UI: http://$HOST:$PORT/docs)"
$BIN/duban api --host "$HOST" --port "$PORT"
