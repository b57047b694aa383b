#!/usr/bin/env bash
# The one demo command: installs dependencies, starts Kafka and PostgreSQL (without
# Docker), migrates, starts the worker and the sample producer, and prints row counts as
# they grow. Ctrl-C stops everything this script started.
#   scripts/demo.sh [--count N] [--rate R] [--symbols S]   (passed to produce-sample)
set -euo pipefail
cd "$(dirname "$0")/.."
run_dir="${MDS_RUN_DIR:-$PWD/.run}"
mkdir -p "$run_dir"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run -s build

was_up=0
if bash scripts/services.sh status >/dev/null 2>&1; then was_up=1; fi
bash scripts/services.sh up
eval "$(bash scripts/services.sh env)"
export KAFKA_BROKERS DATABASE_URL
export METRICS_PORT="${METRICS_PORT:-9464}" DLQ_DIR="${DLQ_DIR:-$run_dir/dlq}"

worker_pid=""; producer_pid=""
cleanup() {
  trap - INT TERM EXIT
  echo; echo "== stopping"
  [ -n "$producer_pid" ] && kill "$producer_pid" 2>/dev/null || true
  if [ -n "$worker_pid" ]; then
    kill -TERM "$worker_pid" 2>/dev/null || true
    wait "$worker_pid" 2>/dev/null || true
  fi
  if [ "$was_up" = 0 ]; then bash scripts/services.sh down; fi
  exit 0
}
trap cleanup INT TERM EXIT

node dist/src/main.js migrate
echo "== worker (log: $run_dir/demo-worker.log, metrics: http://127.0.0.1:$METRICS_PORT/metrics)"
node dist/src/main.js >"$run_dir/demo-worker.log" 2>&1 &
worker_pid=$!
echo "== producer"
node --import tsx scripts/produce-sample.ts --count 20000 --rate 4000 "$@" &
producer_pid=$!

counts() {
  psql "$DATABASE_URL" -Atc "SELECT 'bars=' || (SELECT count(*) FROM bars) || '  options_snap=' || (SELECT count(*) FROM options_snap) || '  fundamentals=' || (SELECT count(*) FROM fundamentals) || '  news=' || (SELECT count(*) FROM news)" 2>/dev/null || echo "(database not reachable)"
}
while kill -0 "$worker_pid" 2>/dev/null; do
  echo "rows: $(counts)"
  if [ -n "$producer_pid" ] && ! kill -0 "$producer_pid" 2>/dev/null; then
    wait "$producer_pid" || true; producer_pid=""
    echo "== producer finished; worker keeps running (Ctrl-C to stop)"
  fi
  sleep 2
done
echo "worker exited; last log lines:"; tail -n 20 "$run_dir/demo-worker.log"
