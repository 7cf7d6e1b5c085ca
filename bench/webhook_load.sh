#!/usr/bin/env bash
# Load test of github.webhook on loopback: wrk posts signed 8 KB workflow_run deliveries
# over keep-alive connections into github.webhook -> blackhole, and the same load against
# nginx answering 204 (the ceiling on this machine). Prints requests/s, p50/p99 latency
# and the engine's peak RSS. nginx and the engine take turns for ROUNDS rounds (a fresh
# engine each round) and the medians are compared: on a shared VM one run of either moves
# by 10-20 %. Usage: bench/webhook_load.sh  (env: ROUNDS=3, DURATION, CONNECTIONS, THREADS,
# BUILD, DURABILITY=memory|disk, FSYNC=true|false, ENGINE_THREADS = runtime.threads).
# Needs wrk and nginx (installed from Debian when missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
duration=${DURATION:-15s}
rounds=${ROUNDS:-3}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
secret=bench-secret
durability=${DURABILITY:-memory}
fsync=${FSYNC:-true}
engine_threads=${ENGINE_THREADS:-0}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d)
engine_pid=""; nginx_pid=""
cleanup() {
  [ -n "$engine_pid" ] && kill "$engine_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

body=$root/bench/fixtures/workflow_run.json
signature="sha256=$(openssl dgst -sha256 -hmac "$secret" -r < "$body" | cut -d' ' -f1)"
export BENCH_BODY=$body BENCH_SIGNATURE=$signature
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

summarise() {  # $1 = label, $2 = wrk output file
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$2")
  p50=$(awk '$1=="50%" {print $2}' "$2")
  p99=$(awk '$1=="99%" {print $2}' "$2")
  printf '  %-36s %10s req/s   p50 %-9s p99 %-9s\n' "$1" "$rps" "$p50" "$p99"
  if grep -q "Non-2xx" "$2"; then echo "  !! $(grep Non-2xx "$2")"; fi
}
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

# --- the ceiling: nginx answering 204, two workers for two cores ---
nginx_port=$(free_port)
cat > "$tmp/nginx.conf" <<NGINX
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp;
  client_max_body_size 26m;
  client_body_buffer_size 16k;
  server { listen 127.0.0.1:$nginx_port; location / { return 204; } }
}
NGINX
run_nginx() {  # $1 = round
  "$nginx_bin" -c "$tmp/nginx.conf" -p "$tmp" -g 'daemon off;' &
  nginx_pid=$!
  sleep 0.5
  wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/webhook.lua" \
    "http://127.0.0.1:$nginx_port/github/webhook" > "$tmp/nginx.$1.txt"
  kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true; nginx_pid=""
}

# --- switchyard: github.webhook (HMAC verified per request) -> blackhole ---
mkdir -p "$tmp/pipelines"
cat > "$tmp/pipelines/bench.yaml" <<YAML
name: bench
durability: $durability
queue_size: 65536
source: {type: github.webhook, path: /github/webhook, secret: $secret, dedup_window: 10m}
sinks: [{name: count, type: blackhole, queue_size: 65536}]
YAML
cat > "$tmp/switchyard.yaml" <<YAML
http: {listen: "127.0.0.1:0"}
admin: {listen: "127.0.0.1:0"}
pipelines: {dir: $tmp/pipelines, watch: false}
state: {dir: $tmp/state, fsync: $fsync}
log: {level: info}
runtime: {threads: $engine_threads}
YAML
run_engine() {  # $1 = round; a fresh engine (and state) each round
  rm -rf "$tmp/state"
  "$build/bin/switchyard" run -c "$tmp/switchyard.yaml" 2> "$tmp/engine.$1.log" > /dev/null &
  engine_pid=$!
  for _ in $(seq 100); do grep -q "\[http\] listening on" "$tmp/engine.$1.log" && break; sleep 0.05; done
  local port ticks_before ticks_after requests
  port=$(sed -n 's/.*\[http\] listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/engine.$1.log" | head -1)
  ticks_before=$(awk '{print $14 + $15}' "/proc/$engine_pid/stat")  # user + system, clock ticks
  wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/webhook.lua" \
    "http://127.0.0.1:$port/github/webhook" > "$tmp/switchyard.$1.txt"
  ticks_after=$(awk '{print $14 + $15}' "/proc/$engine_pid/stat")
  awk '/VmHWM/ {print $2}' "/proc/$engine_pid/status" > "$tmp/rss.$1"
  kill -TERM "$engine_pid"; wait "$engine_pid" || true; engine_pid=""
  requests=$(awk '/requests in/ {print $1}' "$tmp/switchyard.$1.txt")
  awk -v t=$((ticks_after - ticks_before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { printf "%.1f\n", t * 1e6 / hz / n }' > "$tmp/cpu.$1"
  sed -n 's/.*\] \([0-9]*\) events received in all.*/\1/p' "$tmp/engine.$1.log" | tail -1 > "$tmp/delivered.$1"
}

echo "body: $(wc -c < "$body") bytes, $connections connections, $threads wrk threads, $duration per run, $rounds rounds, $(nproc) cores"
for round in $(seq "$rounds"); do
  run_nginx "$round"
  run_engine "$round"
  echo "round $round:"
  summarise "nginx return 204 (ceiling)" "$tmp/nginx.$round.txt"
  summarise "switchyard github.webhook ($durability)" "$tmp/switchyard.$round.txt"
  echo "  switchyard CPU per request $(cat "$tmp/cpu.$round") us (user + system, all threads);" \
       "events counted by the sink: $(cat "$tmp/delivered.$round")"
done
rps_of() { for r in $(seq "$rounds"); do awk '/Requests\/sec/ {print $2}' "$tmp/$1.$r.txt"; done | median; }
nginx_rps=$(rps_of nginx)
engine_rps=$(rps_of switchyard)
cpu=$(for r in $(seq "$rounds"); do cat "$tmp/cpu.$r"; done | median)
rss=$(for r in $(seq "$rounds"); do cat "$tmp/rss.$r"; done | sort -n | tail -1)
echo "median of $rounds rounds:"
printf '  nginx %.0f req/s, switchyard %.0f req/s: %.0f %% of the ceiling\n' "$nginx_rps" "$engine_rps" \
  "$(awk -v a="$engine_rps" -v b="$nginx_rps" 'BEGIN { print 100 * a / b }')"
echo "  switchyard CPU per request: $cpu us; peak RSS $rss kB"
