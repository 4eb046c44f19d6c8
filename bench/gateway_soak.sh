#!/usr/bin/env bash
# Gateway memory soak (issue #20): does Apiary's RSS stay flat under a steady load?
#
#   bench/gateway_soak.sh [MINUTES] [RATE]        # default: 30 minutes at 500 calls/s
#
# One fast MCP backend (apiary-testmcp over streamable HTTP), then one Apiary per binary under
# test, side by side on the same backend: each registers the backend, opens one MCP session
# through its gateway, and gets `tools/call` requests at RATE per second for MINUTES from its own
# vegeta (a constant-rate load generator). Every 10 s the script samples each Apiary's RSS
# (VmRSS). At the end it prints a Markdown table: RSS after the first minute, at the end, the
# change, the bytes per request after the first minute, and vegeta's success ratio and
# latencies. Raw samples go to $SOAK_OUT (default /tmp/gateway-soak).
#
# Environment:
#   APIARY_BIN           the Apiary under test (default $CARGO_TARGET_DIR/release/apiary, else
#                        target/release/apiary); it is not built here
#   APIARY_BIN_BASELINE  optional: a second Apiary (an older build) run beside it, same load
#   TESTMCP_BIN          the backend (default: apiary-testmcp next to APIARY_BIN)
#   VEGETA               the load generator (default: ~/.cache/apiary/bin/vegeta, installed with
#                        `go install github.com/tsenart/vegeta/v12@v12.13.0` when missing)
#   SOAK_OUT             where samples and reports go
#
# Loopback only. Everything started is stopped on exit (also on Ctrl-C or failure).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=../end2end/ports.sh
source "$root/end2end/ports.sh"

minutes="${1:-30}"
rate="${2:-500}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="${APIARY_BIN:-$target_dir/release/apiary}"
baseline="${APIARY_BIN_BASELINE:-}"
testmcp="${TESTMCP_BIN:-$(dirname "$bin")/apiary-testmcp}"
cache="${APIARY_CACHE_DIR:-$HOME/.cache/apiary}"
vegeta="${VEGETA:-$cache/bin/vegeta}"
out="${SOAK_OUT:-/tmp/gateway-soak}"

log() { printf 'gateway_soak %s: %s\n' "$(date +%T)" "$*" >&2; }
for b in "$bin" "$testmcp" ${baseline:+"$baseline"}; do
  [[ -x "$b" ]] || { log "no binary at $b (see the header for APIARY_BIN, TESTMCP_BIN)"; exit 1; }
done
if [[ ! -x "$vegeta" ]]; then
  log "installing vegeta v12.13.0 into $cache/bin"
  mkdir -p "$cache/bin"
  GOBIN="$cache/bin" go install github.com/tsenart/vegeta/v12@v12.13.0
fi
rm -rf "$out"
mkdir -p "$out"

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# The backend: a tool list of one echo tool, streamable HTTP on a port the system picks.
echo '[{"name":"echo","description":"Echoes its arguments","inputSchema":{"type":"object"}}]' \
  > "$out/tools.json"
"$testmcp" --tools "$out/tools.json" --http 127.0.0.1:0 > "$out/backend.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^listening on ' "$out/backend.log" && break; sleep 0.1; done
backend_url=$(sed -n 's/^listening on //p' "$out/backend.log" | head -1)
[[ -n "$backend_url" ]] || { log "the backend did not start: $(cat "$out/backend.log")"; exit 1; }
log "backend at $backend_url"

# Starts Apiary binary $2 as instance $1 on a free port (retried if another process took it);
# sets apiary_pid and apiary_url.
start_apiary() {
  local name=$1 binary=$2 port pid
  mkdir -p "$out/$name"
  for _ in 1 2 3 4 5; do
    port=$(candidate_port)
    APIARY_LISTEN="127.0.0.1:$port" APIARY_DATA_DIR="$out/$name" APIARY_LOG=warn \
      "$binary" serve > "$out/$name/apiary.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
      listens_on "$pid" "$port" && { apiary_pid=$pid; apiary_url="http://127.0.0.1:$port"; pids+=("$pid"); return 0; }
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    log "WARNING: $name did not listen on port $port; trying another"
  done
  log "$name did not start: $(tail -5 "$out/$name/apiary.log")"
  exit 1
}

# Registers the backend in Apiary at $1, opens a session through its gateway, and writes its
# gateway URL and the session's id to $2.
prepare() {
  local url=$1 targets=$2 session
  curl -fsS -X PUT "$url/api/v1/servers/soak/fast" -H 'content-type: application/json' \
    -d "{\"ownerTeam\":\"bench\",\"published\":true,\"spec\":{\"transport\":\"streamable-http\",\"url\":\"$backend_url\"}}" \
    > /dev/null
  curl -fsS -X POST "$url/api/v1/servers/soak/fast/refresh" > /dev/null
  session=$(curl -fsS -D - -o /dev/null -X POST "$url/mcp/soak/fast" \
    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"soak","version":"1"}}}' \
    | tr -d '\r' | awk -F': ' 'tolower($1) == "mcp-session-id" {print $2}')
  [[ -n "$session" ]] || { log "no MCP session from $url"; exit 1; }
  curl -fsS -o /dev/null -X POST "$url/mcp/soak/fast" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' -H "mcp-session-id: $session" \
    -H 'mcp-protocol-version: 2025-06-18' \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  printf '%s/mcp/soak/fast\n%s\n' "$url" "$session" > "$targets"
}

# vegeta targets, one JSON line each, for `tools/call` at the URL and session in file $1, each
# with its own JSON-RPC id: ids must be unique within a session, and a backend that gets the
# same id again may leave one of the calls unanswered (rmcp's did, about 0.3 % of calls).
targets() {
  python3 - "$1" <<'PY'
import base64, json, sys
url, session = open(sys.argv[1]).read().split()
header = {"Content-Type": ["application/json"], "Accept": ["application/json, text/event-stream"],
          "Mcp-Session-Id": [session], "Mcp-Protocol-Version": ["2025-06-18"]}
n = 10
try:
    while True:
        n += 1
        body = ('{"jsonrpc":"2.0","id":%d,"method":"tools/call",'
                '"params":{"name":"echo","arguments":{"text":"soak"}}}' % n)
        sys.stdout.write(json.dumps({"method": "POST", "url": url, "header": header,
                                     "body": base64.b64encode(body.encode()).decode()}) + "\n")
except BrokenPipeError:
    pass
PY
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

names=(apiary)
binaries=("$bin")
if [[ -n "$baseline" ]]; then names+=(baseline); binaries+=("$baseline"); fi
declare -A pid_of
for i in "${!names[@]}"; do
  start_apiary "${names[$i]}" "${binaries[$i]}"
  pid_of[${names[$i]}]=$apiary_pid
  prepare "$apiary_url" "$out/${names[$i]}/targets.txt"
  log "${names[$i]} (${binaries[$i]}) at $apiary_url, pid $apiary_pid"
done

log "soak: $minutes min at $rate calls/s per Apiary; load average $(cut -d' ' -f1-3 /proc/loadavg)"
attackers=()
for name in "${names[@]}"; do
  targets "$out/$name/targets.txt" | "$vegeta" attack -lazy -format=json -rate="$rate/s" \
    -duration="${minutes}m" -timeout=10s -max-workers=64 > "$out/$name/results.bin" &
  attackers+=($!)
  pids+=($!)
done
started=$(date +%s)
echo "seconds,${names[*]}" | tr ' ' ',' > "$out/rss.csv"
sample() {
  local row
  row="$(( $(date +%s) - started ))"
  for name in "${names[@]}"; do row+=",$(rss_kib "${pid_of[$name]}")"; done
  echo "$row" >> "$1"
}
while :; do
  any=0
  for a in "${attackers[@]}"; do kill -0 "$a" 2>/dev/null && any=1; done
  [[ $any == 1 ]] || break
  sample "$out/rss.csv"
  sleep 10
done
for a in "${attackers[@]}"; do wait "$a" || true; done
# Idle for 30 s after the load: does what grew come back?
sleep 30
echo "seconds,${names[*]}" | tr ' ' ',' > "$out/rss-idle.csv"
sample "$out/rss-idle.csv"

echo
echo "Soak: $minutes min at $rate tools/call per second per Apiary, one session each; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| Apiary | RSS at 1 min (MiB) | RSS at end of load (MiB) | change | bytes/request after 1 min | RSS 30 s idle (MiB) | success | p50 | p99 |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for i in "${!names[@]}"; do
  name=${names[$i]}
  col=$(( i + 2 ))
  read -r first last < <(awk -F, -v c="$col" 'NR > 1 && $1 >= 60 && !f {f = $c} NR > 1 {l = $c} END {if (!f) f = l; print f, l}' "$out/rss.csv")
  idle=$(awk -F, -v c="$col" 'NR == 2 {print $c}' "$out/rss-idle.csv")
  "$vegeta" report -type=json < "$out/$name/results.bin" > "$out/$name/report.json"
  read -r requests success p50 p99 < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["requests"], r["success"], r["latencies"]["50th"] / 1e6, r["latencies"]["99th"] / 1e6)' "$out/$name/report.json")
  python3 - "$name" "${binaries[$i]}" "$first" "$last" "$requests" "$success" "$p50" "$p99" "$minutes" "$idle" <<'EOF'
import sys
name, binary, first, last, requests, success, p50, p99, minutes, idle = sys.argv[1:]
first, last, requests, minutes, idle = int(first), int(last), int(requests), float(minutes), int(idle)
after_first_minute = requests * (minutes - 1) / minutes
per_request = (last - first) * 1024 / after_first_minute if after_first_minute else 0
print(f"| {name} (`{binary}`) | {first / 1024:.1f} | {last / 1024:.1f} | {(last - first) / first * 100:+.1f} % "
      f"| {per_request:.1f} | {idle / 1024:.1f} | {float(success) * 100:.2f} % | {float(p50):.2f} ms | {float(p99):.2f} ms |")
EOF
done
echo
echo "Samples: $out/rss.csv"
