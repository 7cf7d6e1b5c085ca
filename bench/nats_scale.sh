#!/usr/bin/env bash
# NATS scale-out figures (docs/performance.md): publish throughput with acks to an R3
# stream, and events/s with 1, 2 and 4 worker engines behind a sink taking 5 ms per event.
# Starts a 3-node nats-server cluster on loopback (Debian nats-server, scripts/install-deps.sh).
# Usage: bench/nats_scale.sh   (env: COUNT=2000, DELAY_MS=5, WORKERS="1 2 4", CONCURRENCY=64, BUILD)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
SWITCHYARD_BINARY=$build/bin/switchyard SWITCHYARD_SOURCE_DIR=$root exec node "$root/bench/nats_scale.mjs"
