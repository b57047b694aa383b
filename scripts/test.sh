#!/usr/bin/env bash
# The one test command: installs dependencies, type-checks and lints, starts the services
# it needs (real Kafka broker, real PostgreSQL), runs unit + integration tests with one
# summary, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

echo "== typecheck"; npx tsc --noEmit -p .
echo "== lint"
npx eslint .
npx prettier --check . >/dev/null
npx knip

was_up=0
if bash scripts/services.sh status >/dev/null 2>&1; then was_up=1; fi
was_up3=0
if bash scripts/services.sh status --brokers 3 >/dev/null 2>&1; then was_up3=1; fi
cleanup() {
  # The broker-outage test starts (and normally stops) a 3-broker cluster; never leave it behind.
  if [ "$was_up3" = 0 ]; then bash scripts/services.sh down --brokers 3 || true; fi
  if [ "$was_up" = 0 ]; then bash scripts/services.sh down || true; fi
}
trap cleanup EXIT
bash scripts/services.sh up
eval "$(bash scripts/services.sh env)"
export KAFKA_BROKERS DATABASE_URL

echo "== tests"
mapfile -t files < <(find test/unit test/integration -name '*.test.ts' | sort)
set +e
# No --test-force-exit: Node 20 can then drop a file's last results from the report and still
# count the run as passed; a hung file failing loudly at CI's limit is better.
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
rc=$?
set -e
# Stop what we started quietly, so the runner's summary stays the last lines of the output.
trap - EXIT
cleanup >"${MDS_RUN_DIR:-$PWD/.run}/test-cleanup.log" 2>&1 || true
exit "$rc"
