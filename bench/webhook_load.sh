#!/usr/bin/env bash
# Load test of github.webhook on loopback: wrk posts signed 8 KB workflow_run deliveries
# (a fresh X-GitHub-Delivery per request) over keep-alive connections into github.webhook
# -> a sink, and the same load against nginx answering 204 (the ceiling on this machine).
# The modes take turns in each of ROUNDS rounds (a fresh engine and journal each time) and
# the medians are compared: on a shared VM one run of either moves by 10-20 %. For each
# mode: requests/s, p50/p99 latency, CPU per request (user + system of every thread or
# worker process) and, for the engine, bytes written to storage per request (the state
# dir's block device, after a sync; /proc/PID/io write_bytes where there is none) and peak RSS.
# Usage: bench/webhook_load.sh  (env: MODES="nginx memory" (any of nginx, disk, memory),
# BODY_FORMAT=pretty|compact (the fixture as stored, 9.4 KB indented, or without
# whitespace, 8.0 KB, as GitHub sends it),
# SINK=blackhole|file (file: the file sink writing CloudEvents JSON lines to /dev/null),
# SINK_IF="\${{ payload.action == 'completed' }}" (an if: on the sink: the payload is read),
# ROUNDS=3, DURATION, CONNECTIONS, THREADS, BUILD, FSYNC=true|false, DEDUP_WINDOW (github.webhook's
# dedup_window, default 10m; 0 records no delivery ids), ENGINE_THREADS =
# runtime.threads; DURABILITY=memory|disk is the older spelling of MODES="nginx <it>").
# bench/ingest_compare.sh runs it as issue 20 measures: nginx, disk, memory, file sink.
# Needs wrk and nginx (installed from Debian when missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
duration=${DURATION:-15s}
rounds=${ROUNDS:-3}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
secret=bench-secret
modes=${MODES:-nginx ${DURABILITY:-memory}}
sink=${SINK:-blackhole}
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
if [ "${BODY_FORMAT:-pretty}" = compact ]; then  # as GitHub sends it: no whitespace between tokens
  python3 -c 'import json, sys; sys.stdout.write(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":"), ensure_ascii=False))' \
    "$body" > "$tmp/body.json"
  body=$tmp/body.json
fi
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
ticks_of() {  # user + system clock ticks of the processes given, all threads
  local t=0 pid
  for pid in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
per_request() {  # $1 = ticks, $2 = wrk output: microseconds of CPU per request
  awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$(awk '/requests in/ {print $1}' "$2")" \
    'BEGIN { printf "%.1f\n", t * 1e6 / hz / n }'
}
run_nginx() {  # $1 = round
  "$nginx_bin" -c "$tmp/nginx.conf" -p "$tmp" -g 'daemon off;' &
  nginx_pid=$!
  sleep 0.5
  local workers before after
  workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ')
  # shellcheck disable=SC2086
  before=$(ticks_of "$nginx_pid" $workers)
  wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/webhook.lua" \
    "http://127.0.0.1:$nginx_port/github/webhook" > "$tmp/nginx.$1.txt"
  # shellcheck disable=SC2086
  after=$(ticks_of "$nginx_pid" $workers)
  per_request $((after - before)) "$tmp/nginx.$1.txt" > "$tmp/nginx.$1.cpu"
  kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true; nginx_pid=""
}

# --- switchyard: github.webhook (HMAC verified per request) -> blackhole or file ---
mkdir -p "$tmp/pipelines"
case $sink in
  blackhole) sink_yaml="{name: count, type: blackhole, queue_size: 65536}" ;;
  file) sink_yaml="{name: out, type: file, path: /dev/null, queue_size: 65536}" ;;
  *) echo "SINK must be blackhole or file" >&2; exit 2 ;;
esac
# SINK_IF: an if: on the sink (an expression over the payload, so the pipeline reads
# payloads: the source builds each payload's tree instead of deferring it).
if [ -n "${SINK_IF:-}" ]; then sink_yaml="${sink_yaml%\}}, if: \"${SINK_IF}\"}"; fi
write_pipeline() {  # $1 = durability
  cat > "$tmp/pipelines/bench.yaml" <<YAML
name: bench
durability: $1
queue_size: 65536
source: {type: github.webhook, path: /github/webhook, secret: $secret, dedup_window: ${DEDUP_WINDOW:-10m}}
sinks: [$sink_yaml]
YAML
}
cat > "$tmp/switchyard.yaml" <<YAML
http: {listen: "127.0.0.1:0"}
admin: {listen: "127.0.0.1:0"}
pipelines: {dir: $tmp/pipelines, watch: false}
state: {dir: $tmp/state, fsync: $fsync}
log: {level: info}
runtime: {threads: $engine_threads}
YAML
# Bytes written to the disk holding state.dir so far (sectors, after a sync so what the run
# left in the page cache counts; the whole device: run nothing else meanwhile). Where it has
# no block device, what the engine's process wrote (/proc/PID/io: it counts pages dirtied,
# which overstates a file written over in place).
state_disk=$(df --output=source "$tmp" 2>/dev/null | tail -1)
state_disk_stat=/sys/class/block/$(basename "$state_disk")/stat
written_now() {
  if [ -r "$state_disk_stat" ]; then
    sync
    awk '{printf "%.0f\n", $7 * 512}' "$state_disk_stat"
  else
    awk '/^write_bytes/ {print $2}' "/proc/$engine_pid/io"
  fi
}
run_engine() {  # $1 = durability, $2 = round; a fresh engine (and state) each time
  local out=$tmp/$1.$2 port ticks_before ticks_after written_before written_after requests
  rm -rf "$tmp/state"
  write_pipeline "$1"
  "$build/bin/switchyard" run -c "$tmp/switchyard.yaml" 2> "$out.log" > /dev/null &
  engine_pid=$!
  for _ in $(seq 200); do grep -qs "pipeline(s) started" "$out.log" && break; sleep 0.05; done
  port=$(sed -n 's/.*\[http\] listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$out.log" | head -1)
  admin=$(sed -n 's/.*\[admin\] listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$out.log" | head -1)
  ticks_before=$(ticks_of "$engine_pid")
  written_before=$(written_now)
  wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/webhook.lua" \
    "http://127.0.0.1:$port/github/webhook" > "$out.txt"
  ticks_after=$(ticks_of "$engine_pid")
  written_after=$(written_now)
  awk '/VmHWM/ {print $2}' "/proc/$engine_pid/status" > "$out.rss"
  delivered=""
  [ -n "$admin" ] && delivered=$(curl -sf "http://127.0.0.1:$admin/metrics" |
    awk '/^switchyard_events_delivered_total/ {n += $2} END {printf "%d", n}') || true
  echo "${delivered:-?}" > "$out.delivered"
  kill -TERM "$engine_pid"; wait "$engine_pid" || true; engine_pid=""
  per_request $((ticks_after - ticks_before)) "$out.txt" > "$out.cpu"
  requests=$(awk '/requests in/ {print $1}' "$out.txt")
  awk -v b=$((written_after - written_before)) -v n="$requests" 'BEGIN { printf "%.1f\n", b / 1024 / n }' > "$out.written"
}

echo "body: $(wc -c < "$body") bytes (${BODY_FORMAT:-pretty}), $connections connections, $threads wrk threads, $duration per run," \
     "$rounds rounds, $(nproc) cores, sink $sink, fsync $fsync"
label() { case $1 in nginx) echo "nginx return 204 (ceiling)" ;; *) echo "switchyard $1 -> $sink" ;; esac; }
for round in $(seq "$rounds"); do
  echo "round $round:"
  for mode in $modes; do
    if [ "$mode" = nginx ]; then run_nginx "$round"; summarise "$(label nginx)" "$tmp/nginx.$round.txt"
      echo "    CPU per request $(cat "$tmp/nginx.$round.cpu") us"
    else
      run_engine "$mode" "$round"
      summarise "$(label "$mode")" "$tmp/$mode.$round.txt"
      echo "    CPU per request $(cat "$tmp/$mode.$round.cpu") us; written per request" \
           "$(cat "$tmp/$mode.$round.written") KiB; delivered by the sink $(cat "$tmp/$mode.$round.delivered")"
    fi
  done
done
of_rounds() {  # $1 = mode, $2 = what: rps|p50|p99|cpu|written|rss -> the median (rss: the largest)
  for r in $(seq "$rounds"); do
    case $2 in
      rps) awk '/Requests\/sec/ {print $2}' "$tmp/$1.$r.txt" ;;
      p50|p99) awk -v q="${2#p}%" '$1==q { v=$2; if (v ~ /us$/) v/=1000; else if (v ~ /ms$/) v+=0; else if (v ~ /s$/) v*=1000; print v }' "$tmp/$1.$r.txt" ;;
      *) cat "$tmp/$1.$r.$2" ;;
    esac
  done | if [ "$2" = rss ]; then sort -n | tail -1; else median; fi
}
echo "median of $rounds rounds:"
nginx_rps=""
case " $modes " in *" nginx "*) nginx_rps=$(of_rounds nginx rps) ;; esac
for mode in $modes; do
  line=$(printf '  %-36s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  CPU %6.1f us/request' "$(label "$mode")" \
    "$(of_rounds "$mode" rps)" "$(of_rounds "$mode" p50)" "$(of_rounds "$mode" p99)" "$(of_rounds "$mode" cpu)")
  if [ "$mode" != nginx ]; then
    line+=$(printf '  written %5.1f KiB/request  peak RSS %s kB' "$(of_rounds "$mode" written)" "$(of_rounds "$mode" rss)")
    [ -n "$nginx_rps" ] && line+=$(awk -v a="$(of_rounds "$mode" rps)" -v b="$nginx_rps" 'BEGIN { printf "  %.2fx nginx", a / b }')
  fi
  echo "$line"
done
