#!/usr/bin/env bash
# npm run bench -- [options]: builds, starts the services it needs, runs bench/bench.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
npm run -s build
was_up=0
if bash scripts/services.sh status >/dev/null 2>&1; then was_up=1; fi
trap '[ "$was_up" = 0 ] && bash scripts/services.sh down || true' EXIT
bash scripts/services.sh up >&2
eval "$(bash scripts/services.sh env)"
export KAFKA_BROKERS DATABASE_URL
node --import tsx bench/bench.ts "$@"
