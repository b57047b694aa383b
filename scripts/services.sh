#!/usr/bin/env bash
# Local services for development and tests: a real Kafka 4.x broker (KRaft, from Maven jars)
# and PostgreSQL. `scripts/services.sh --help` lists the commands; the logic is TypeScript in
# scripts/dev/ (services.ts and its modules), shared with the test helpers.
# This entry point only serialises the commands that change state: two `up`s at once would
# both format and start the same node. flock -o: the lock is not inherited by the brokers.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=${MDS_RUN_DIR:-$ROOT/.run}
TSX=$ROOT/node_modules/tsx
[ -d "$TSX" ] || { echo "services.sh: error: $TSX missing: run 'npm ci' first" >&2; exit 1; }
run=(node --import "$TSX/dist/loader.mjs" "$ROOT/scripts/dev/services.ts" "$@")
case ${1:-} in
  up | down | start-broker)
    mkdir -p "$RUN_DIR"
    # A malformed MDS_START_TIMEOUT is reported by services.ts; the lock wait only needs a number.
    case ${MDS_START_TIMEOUT:-120} in *[!0-9]* | '') LOCK_WAIT=180 ;; *) LOCK_WAIT=$((${MDS_START_TIMEOUT:-120} + 60)) ;; esac
    rc=0
    flock -o -E 75 -w "$LOCK_WAIT" "$RUN_DIR/.lock" "${run[@]}" || rc=$?
    [ "$rc" = 75 ] && echo "services.sh: error: another services.sh holds $RUN_DIR/.lock" >&2 && exit 1
    exit "$rc"
    ;;
  *) exec "${run[@]}" ;;
esac
