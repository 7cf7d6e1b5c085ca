#!/usr/bin/env bash
# Issue 20's measurement: nginx answering 204, then the engine with a durable pipeline
# (durability: disk, the default) and a memory one, taking turns in each round, each with
# github.webhook -> the file sink writing CloudEvents JSON lines to /dev/null. Prints, per
# mode, req/s, p50/p99, CPU per request and (engine) bytes written per request, and the
# engine's rate as a fraction of nginx's in the same run. Any webhook_load.sh variable
# applies (ROUNDS, DURATION, CONNECTIONS, FSYNC, BUILD...).
exec env MODES="${MODES:-nginx disk memory}" SINK="${SINK:-file}" "$(dirname "$0")/webhook_load.sh" "$@"
