#!/usr/bin/env bash
# Load test of github.webhook on loopback: wrk posts signed 8 KB workflow_run deliveries
# over keep-alive connections into github.webhook -> blackhole, and the same load against
# nginx answering 204 (the ceiling on this machine). Prints requests/s, p50/p99 latency
# and the engine's peak RSS. Usage: bench/webhook_load.sh  (env: DURATION, CONNECTIONS,
# THREADS, BUILD, DURABILITY=memory|disk, FSYNC=true|false, ENGINE_THREADS = runtime.threads). Needs wrk and nginx (installed from Debian when missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
duration=${DURATION:-15s}
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
  printf '%-28s %12s req/s   p50 %-9s p99 %-9s\n' "$1" "$rps" "$p50" "$p99"
  if grep -q "Non-2xx" "$2"; then echo "  !! $(grep Non-2xx "$2")"; fi
}

# --- ceiling: nginx answering 204, two workers for two cores ---
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
"$nginx_bin" -c "$tmp/nginx.conf" -p "$tmp" -g 'daemon off;' &
nginx_pid=$!
sleep 0.5
wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/webhook.lua" \
  "http://127.0.0.1:$nginx_port/github/webhook" > "$tmp/nginx.txt"
kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true; nginx_pid=""

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
"$build/bin/switchyard" run -c "$tmp/switchyard.yaml" 2> "$tmp/engine.log" > /dev/null &
engine_pid=$!
for _ in $(seq 100); do grep -q "\[http\] listening on" "$tmp/engine.log" && break; sleep 0.05; done
port=$(sed -n 's/.*\[http\] listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/engine.log" | head -1)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$engine_pid/stat"; }  # user + system, in clock ticks
ticks_before=$(cpu_ticks)
wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/webhook.lua" \
  "http://127.0.0.1:$port/github/webhook" > "$tmp/switchyard.txt"
ticks_after=$(cpu_ticks)
rss=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$engine_pid/status")
kill -TERM "$engine_pid"; wait "$engine_pid" || true; engine_pid=""
delivered=$(sed -n 's/.*\] \([0-9]*\) events received in all.*/\1/p' "$tmp/engine.log" | tail -1)

echo "body: $(wc -c < "$body") bytes, $connections connections, $threads wrk threads, $duration, $(nproc) cores"
summarise "nginx return 204 (ceiling)" "$tmp/nginx.txt"
summarise "switchyard github.webhook ($durability)" "$tmp/switchyard.txt"
requests=$(awk '/requests in/ {print $1}' "$tmp/switchyard.txt")
cpu_us=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
  'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
echo "switchyard peak RSS: $rss; events counted by the sink: ${delivered:-?}"
echo "switchyard CPU per request (user + system, all threads): $cpu_us us"
