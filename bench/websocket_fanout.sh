#!/usr/bin/env bash
# The websocket sink under load: for each client count, a fresh engine (http source → websocket
# sink, one room) and bench/websocket_fanout.cpp's clients on the same machine: memory per idle
# connection, broadcast latency (POST to each client's arrival), fan-out messages/s.
# Usage: bench/websocket_fanout.sh   (env: CLIENTS="1000 10000", BROADCASTS=30, FLOOD=100,
#        DURABILITY=memory|durable, ROUNDS=1, BUILD=build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
clients_list=${CLIENTS:-"1000 10000"}
broadcasts=${BROADCASTS:-30}
flood=${FLOOD:-100}
durability=${DURABILITY:-memory}
rounds=${ROUNDS:-1}
ulimit -n 20000  # 10,000 connections on each side, plus the engine's own files

tmp=$(mktemp -d)
engine_pid=""
stop_engine() {
  if [ -n "$engine_pid" ]; then kill "$engine_pid" 2>/dev/null || true; wait "$engine_pid" 2>/dev/null || true; fi
  engine_pid=""
}
trap 'stop_engine; rm -rf "$tmp"' EXIT

for n in $clients_list; do
  for round in $(seq "$rounds"); do
    dir=$tmp/run; rm -rf "$dir"; mkdir -p "$dir/pipelines"
    cat > "$dir/switchyard.yaml" <<YAML
http: {listen: "127.0.0.1:0", max_connections: 25000}
admin: {listen: "127.0.0.1:0"}
pipelines: {dir: $dir/pipelines, watch: false}
state: {dir: $dir/state}
YAML
    cat > "$dir/pipelines/fanout.yaml" <<YAML
name: fanout
durability: $durability
source: {type: http, path: /in, id_header: X-Request-Id, event_type: github.workflow_run}
sinks:
  - name: feed
    type: websocket
    path: /live
    room: "\${{ payload.room }}"
    max_connections: 20000
    max_connections_per_client: 20000
YAML
    "$build/bin/switchyard" run -c "$dir/switchyard.yaml" 2> "$dir/engine.log" &
    engine_pid=$!
    port=""
    for _ in $(seq 200); do
      port=$(sed -n 's/.*\[http\] listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/engine.log" | head -1)
      [ -n "$port" ] && break
      sleep 0.05
    done
    [ -n "$port" ] || { cat "$dir/engine.log"; exit 1; }
    "$build/bin/websocket_fanout_bench" --port "$port" --pid "$engine_pid" --clients "$n" \
      --broadcasts "$broadcasts" --flood "$flood"
    stop_engine
  done
done
