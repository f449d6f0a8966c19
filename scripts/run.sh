#!/usr/bin/env bash
# `make run`: migrate, make sure there is a first admin, run the notifier beside the api — an empty
# system for real use. `make demo` (`run.sh demo`): a fresh demo database (var/demo.db) served on a
# clock inside the demo plan's period, so the board shows green, yellow and red.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
MODE="${1:-run}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
export DUBAN_PUBLIC_URL="${DUBAN_PUBLIC_URL:-http://$HOST:$PORT}"

# The signing key: generated once, kept in var/secret_key (0600), never a published default.
if [ -z "${DUBAN_SECRET_KEY:-}" ]; then
  mkdir -p var
  if [ ! -s var/secret_key ]; then
    (umask 077 && $BIN/python -c 'import secrets; print(secrets.token_urlsafe(48))' > var/secret_key.new)
    mv var/secret_key.new var/secret_key
    echo "generated a secret key in var/secret_key (keep it; tokens are signed with it)"
  fi
  chmod 600 var/secret_key
  DUBAN_SECRET_KEY="$(cat var/secret_key)"
  export DUBAN_SECRET_KEY
fi

clock_args=()
if [ "$MODE" = "demo" ]; then
  # 09:00 Beijing time on 2025-11-20: six weeks before the demo plan's final deadline.
  DEMO_AT="${DEMO_AT:-2025-11-20T09:00+08:00}"
  mkdir -p var
  if [ -z "${DUBAN_DATABASE_URL:-}" ]; then
    # A fresh file each time: the demo's passwords are printed again.
    $BIN/duban demo --database var/demo.db --as-of "$DEMO_AT" --no-webhook
    export DUBAN_DATABASE_URL="sqlite:///$(pwd)/var/demo.db"
  else
    $BIN/duban demo --database "$DUBAN_DATABASE_URL" --as-of "$DEMO_AT" --no-webhook
  fi
  clock_args=(--clock-at "$DEMO_AT")
  echo "Duban demo on http://$HOST:$PORT  (clock starts at $DEMO_AT; Ctrl-C stops it)"
  exec $BIN/duban api --host "$HOST" --port "$PORT" "${clock_args[@]}"
fi

export DUBAN_DATABASE_URL="${DUBAN_DATABASE_URL:-sqlite:///$(pwd)/duban.db}"
$BIN/duban db upgrade
$BIN/duban user ensure-admin

$BIN/duban notifier run &
notifier_pid=$!
trap 'kill "$notifier_pid" 2>/dev/null || true' EXIT INT TERM
echo "Duban API on http://$HOST:$PORT  (Swagger UI: http://$HOST:$PORT/docs; Ctrl-C stops it)"
$BIN/duban api --host "$HOST" --port "$PORT"
