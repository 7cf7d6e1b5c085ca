#!/usr/bin/env bash
# Messages per second from the smtp sink to a local aiosmtpd (tests/e2e/lib/smtp_server.py,
# light mode: it records no content), with STARTTLS and AUTH as a real submission server
# wants them: connections reused (max_per_connection: 100, the default) against a new
# connection per message (max_per_connection: 1, so every message pays TCP + EHLO + STARTTLS
# + TLS handshake + AUTH). generate → smtp, COUNT events per run; the time is from the first
# message the server records to the last. Each case runs ROUNDS times (a fresh engine and
# server each time); the median is printed, with the CPU time per message of the engine and
# of the server (user + system, from /proc/PID/stat) in that run.
# Usage: bench/smtp_send.sh   (env: COUNT=2000, ROUNDS=3, CONCURRENCY="1 4", TLS=starttls|none, BUILD)
# Needs python3-aiosmtpd and openssl (scripts/install-deps.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
count=${COUNT:-2000}
rounds=${ROUNDS:-3}
concurrencies=${CONCURRENCY:-"1 4"}
tls=${TLS:-starttls}
python=/usr/bin/python3
[ -x "$python" ] || python=python3

tmp=$(mktemp -d)
engine_pid=""; smtp_pid=""
stop_all() {
  if [ -n "$engine_pid" ]; then kill "$engine_pid" 2>/dev/null || true; wait "$engine_pid" 2>/dev/null || true; fi
  if [ -n "$smtp_pid" ]; then kill "$smtp_pid" 2>/dev/null || true; wait "$smtp_pid" 2>/dev/null || true; fi
  engine_pid=""; smtp_pid=""
}
trap 'stop_all; rm -rf "$tmp"' EXIT

# A throwaway CA and a certificate for 127.0.0.1.
(cd "$tmp" &&
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=bench CA" 2>/dev/null &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout mail.key -out mail.csr -subj /CN=mail 2>/dev/null &&
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > mail.ext &&
  openssl x509 -req -in mail.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out mail.pem -days 2 -extfile mail.ext 2>/dev/null)

# One run: prints messages/s.
run() {
  local per_connection=$1 concurrency=$2
  local dir=$tmp/run; rm -rf "$dir"; mkdir -p "$dir/pipelines"
  local config="{\"tls\": \"$tls\", \"cert\": \"$tmp/mail.pem\", \"key\": \"$tmp/mail.key\", \"light\": true,
                 \"auth\": {\"user\": \"bench\", \"password\": \"bench-password\"}}"
  "$python" "$root/tests/e2e/lib/smtp_server.py" "$config" "$dir/records.jsonl" > "$dir/smtp.out" 2>"$dir/smtp.err" &
  smtp_pid=$!
  for _ in $(seq 100); do grep -q port "$dir/smtp.out" 2>/dev/null && break; sleep 0.05; done
  local port; port=$(sed 's/[^0-9]//g' "$dir/smtp.out")
  cat > "$dir/pipelines/bench.yaml" <<EOF
name: bench
durability: memory
source:
  type: generate
  interval: 0s
  count: $count
  payload: {run: "\${{ now() }}", message: "Build failed on main"}
sinks:
  - name: email
    type: smtp
    host: 127.0.0.1
    port: $port
    ca_file: $tmp/ca.pem
    username: bench
    password: bench-password
    from: "CI <ci@example.com>"
    to: ops@example.com
    subject: "Build failed: \${{ payload.message }}"
    text: "The build failed. \${{ payload.run }}"
    max_per_connection: $per_connection
    tls: $tls
    allow_plaintext: true
    pool_size: $concurrency
    concurrency: $concurrency
    retry: {max_attempts: 3, initial: 100ms}
EOF
  cat > "$dir/switchyard.yaml" <<EOF
http: {listen: "127.0.0.1:0"}
admin: {listen: "127.0.0.1:0"}
pipelines: {dir: $dir/pipelines, watch: false}
state: {dir: $dir/state}
log: {level: warn}
EOF
  "$build/bin/switchyard" run -c "$dir/switchyard.yaml" 2>"$dir/engine.err" &
  engine_pid=$!
  local deadline=$((SECONDS + 300))
  while [ "$(grep -c '"event": "message"' "$dir/records.jsonl" 2>/dev/null || true)" -lt "$count" ]; do
    if [ $SECONDS -gt $deadline ]; then echo "timed out; engine log:" >&2; cat "$dir/engine.err" >&2; exit 1; fi
    sleep 0.1
  done
  # records.jsonl: connect, auth and message lines, each stamped by the server as it wrote it.
  "$python" - "$dir/records.jsonl" "$count" "$engine_pid" "$smtp_pid" <<'EOF'
import json, os, sys
path, count, engine, server = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lines = [json.loads(l) for l in open(path)]
messages = [l for l in lines if l["event"] == "message"]
connections = len([l for l in lines if l["event"] == "connect"])
seconds = (messages[-1]["t"] - messages[0]["t"]) or 1e-9
def cpu_us(pid):  # user + system of every thread, per message
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") * 1e6 / count
print(f"{(len(messages) - 1) / seconds:.0f} {connections} {cpu_us(engine):.0f} {cpu_us(server):.0f}")
EOF
  stop_all
}

printf '%-44s %10s %11s %14s %14s\n' "case ($count messages, tls: $tls, AUTH)" "messages/s" "connections" \
  "engine CPU/msg" "server CPU/msg"
for concurrency in $concurrencies; do
  for per_connection in 100 1; do
    results=()
    for _ in $(seq "$rounds"); do results+=("$(run "$per_connection" "$concurrency")"); done
    median=$(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(( (rounds + 1) / 2 ))p")
    read -r rate connections engine_cpu server_cpu <<< "$median"
    label="reuse (max_per_connection 100)"; [ "$per_connection" = 1 ] && label="new connection per message"
    printf '%-44s %10s %11s %12s us %12s us   (runs: %s)\n' "$label, concurrency $concurrency" "$rate" \
      "$connections" "$engine_cpu" "$server_cpu" "$(printf '%s ' "${results[@]%% *}")"
  done
done
