#!/usr/bin/env bash
# Gateway side by side with ToolHive (issue #20 point 5): the same MCP backend called directly,
# through Apiary's gateway and through ToolHive's `thv proxy`, in interleaved rounds.
#
#   bench/gateway_peers.sh [SECONDS] [ROUNDS]      # default: 10 s runs, 4 rounds
#   PEERS_CONNECTIONS="1 8" bench/gateway_peers.sh 2 1     # a smoke run
#
# The backend is npm server-everything (its streamable HTTP mode, Node, the version pinned in
# end2end/mcp-servers), bound to loopback on a port the system picks. A preload makes it listen
# on 127.0.0.1:0, and drops its console.log line per request and its event store (it keeps
# every answer it sends, for resumption, and never forgets one: its heap would grow by about
# 1.2 KB a call). Three targets in front of it:
#   direct  the backend's /mcp
#   apiary  Apiary (APIARY_BIN, local mode, a fresh SQLite database) with the backend registered
#           as a published streamable-HTTP server, at /mcp/peers/everything
#   thv     `thv proxy peers --target-uri <backend>` (TOOLHIVE_RUNTIME=kubernetes so that it starts
#           without a container runtime, update checks off), at its /mcp
#   nginx   (when NGINX_BIN is set) nginx as a plain reverse proxy: one process (no master, so
#           its CPU is one /proc entry), keep-alive connections to the backend, responses not
#           buffered, no access log. It does nothing MCP needs (no session, no curation, no
#           JSON-RPC): what one proxy hop costs on this machine at least, the floor for the
#           gateway's CPU per call
# Each target gets one MCP session (initialize + notifications/initialized with curl) and one
# checked `tools/call echo`. Then, for ROUNDS rounds, for each connection count in
# PEERS_CONNECTIONS, each target in turn (the order rotates every round) gets SECONDS of wrk
# posting `tools/call echo` in its session, a new JSON-RPC id per call; wrk's Lua counts every
# answer that is not HTTP 200 with a JSON-RPC result (or is an `isError` result) as failed.
# Before the rounds each target gets PEERS_WARMUP seconds at the highest connection count,
# not counted. Around each run the script reads utime+stime of Apiary, thv and the backend from
# /proc/PID/stat: CPU time per call is the change over the calls answered. VmRSS of each
# process is read before the warm-up and after the last run.
#
# At the end it prints Markdown tables (also in $PEERS_OUT/report.md): per connection count and
# target the median and range over the rounds of calls/s, p50 and p99 latency, the proxy's and
# the backend's CPU per call, failed calls, and throughput and added latency against direct;
# then RSS before and after. Every run's numbers are in $PEERS_OUT/runs.tsv, wrk's output and
# the processes' logs beside them.
#
# ToolHive's `thv` is v0.47.0, built (not here) with
#   GOBIN=$HOME/.cache/apiary/bin go install github.com/stacklok/toolhive/cmd/thv@v0.47.0
# It runs with its config and state under $PEERS_OUT/thv-home (XDG_* directories), so the
# user's ToolHive settings are neither read nor changed.
#
# Environment:
#   APIARY_BIN         the Apiary under test (default $HOME/.cache/apiary/target/release/apiary);
#                      it is not built here
#   APIARY_BIN_BASELINE  another Apiary build, run beside it as a fourth target, apiary-base (to
#                      compare two builds in one run); none by default
#   THV_BIN            ToolHive's CLI (default $HOME/.cache/apiary/bin/thv)
#   NGINX_BIN          an nginx binary, for the nginx target; none by default. Debian's, without
#                      installing its service: `apt-get download nginx nginx-common && dpkg -x
#                      nginx_*.deb DIR` gives DIR/usr/sbin/nginx
#   EVERYTHING_JS      server-everything's dist/index.js (default: end2end/mcp-servers'
#                      node_modules, installed there with `npm ci` when missing, as .ci/setup does)
#   PEERS_CONNECTIONS  wrk connection counts (default "1 8 32")
#   PEERS_WARMUP       warm-up seconds per target (default 2; 0 for none)
#   PEERS_WRK_THREADS  wrk threads (default 1, at most the connection count): on a small machine
#                      every load-generator thread takes a core from the proxy and the backend
#   PEERS_OUT          where runs, logs and the report go (default /tmp/gateway-peers)
# wrk is Debian's (`apt-get install wrk`).
#
# Loopback only. Idempotent: PEERS_OUT is emptied first. Everything started is stopped on exit
# (also on Ctrl-C or failure).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=../end2end/ports.sh
source "$root/end2end/ports.sh"

seconds="${1:-10}"
rounds="${2:-4}"
cache="${APIARY_CACHE_DIR:-$HOME/.cache/apiary}"
bin="${APIARY_BIN:-$cache/target/release/apiary}"
baseline_bin="${APIARY_BIN_BASELINE:-}"
nginx_bin="${NGINX_BIN:-}"
thv_version=v0.47.0
thv="${THV_BIN:-$cache/bin/thv}"
servers_dir="$root/end2end/mcp-servers"
everything="${EVERYTHING_JS:-$servers_dir/node_modules/@modelcontextprotocol/server-everything/dist/index.js}"
read -r -a conns <<< "${PEERS_CONNECTIONS:-1 8 32}"
warmup="${PEERS_WARMUP:-2}"
wrk_threads="${PEERS_WRK_THREADS:-1}"
out="${PEERS_OUT:-/tmp/gateway-peers}"
protocol=2025-06-18

log() { printf 'gateway_peers %s: %s\n' "$(date +%T)" "$*" >&2; }
positive() { [[ "$1" =~ ^[1-9][0-9]*$ ]] || { log "$2: a positive whole number, not '$1'"; exit 2; }; }
positive "$seconds" SECONDS
positive "$rounds" ROUNDS
positive "$wrk_threads" PEERS_WRK_THREADS
[[ "$warmup" =~ ^[0-9]+$ ]] || { log "PEERS_WARMUP: a whole number of seconds, not '$warmup'"; exit 2; }
[[ ${#conns[@]} -gt 0 ]] || { log "PEERS_CONNECTIONS is empty"; exit 2; }
for c in "${conns[@]}"; do positive "$c" PEERS_CONNECTIONS; done

[[ -x "$bin" ]] || { log "no apiary binary at $bin (set APIARY_BIN; it is not built here)"; exit 1; }
[[ -z "$baseline_bin" || -x "$baseline_bin" ]] || { log "no apiary binary at $baseline_bin (APIARY_BIN_BASELINE)"; exit 1; }
[[ -z "$nginx_bin" || -x "$nginx_bin" ]] || { log "no nginx binary at $nginx_bin (NGINX_BIN)"; exit 1; }
[[ -x "$thv" ]] || { log "no thv at $thv (GOBIN=\$HOME/.cache/apiary/bin go install github.com/stacklok/toolhive/cmd/thv@$thv_version, or set THV_BIN)"; exit 1; }
command -v wrk > /dev/null || { log "no wrk on PATH (apt-get install wrk)"; exit 1; }
command -v node > /dev/null || { log "no node on PATH"; exit 1; }
if [[ ! -f "$everything" ]]; then
  [[ -z "${EVERYTHING_JS:-}" ]] || { log "no server-everything at $EVERYTHING_JS"; exit 1; }
  log "installing server-everything: npm ci in $servers_dir"
  (cd "$servers_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
everything_version=$(node -p 'require(process.argv[1]).version' \
  "$(dirname "$everything")/../package.json" 2>/dev/null || echo '?')

rm -rf "$out"
mkdir -p "$out"

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# utime + stime of process $1, in clock ticks (fields 14 and 15 of /proc/PID/stat; the name in
# field 2 may hold spaces, so count from the ')' that closes it).
cpu_ticks() {
  local stat fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  read -r -a fields <<< "${stat##*) }"
  echo $(( fields[11] + fields[12] ))
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
alive() { kill -0 "$1" 2>/dev/null; }

# The backend. The preload binds server-everything's listener to loopback on a port the system
# picks (it would bind every interface on $PORT) and says which, drops its console.log line per
# request, and (through a module hook) its event store: server-everything keeps every answer it
# sends, for resumption, in a Map that is never pruned (about 1.2 KB of live heap per call), so
# the backend's garbage collection would get slower round after round.
cat > "$out/backend-hooks.mjs" <<'EOF'
// Module hook: server-everything's streamable HTTP transport without its event store.
export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  if (!url.endsWith('/server-everything/dist/transports/streamableHttp.js')) return loaded;
  const source = typeof loaded.source === 'string' ? loaded.source : new TextDecoder().decode(loaded.source);
  const patched = source.replace(/^\s*eventStore, \/\/ Enable resumability\n/m, '');
  if (patched === source) throw new Error(`gateway_peers: no eventStore option to drop in ${url}`);
  return { ...loaded, source: patched };
}
EOF
cat > "$out/backend-preload.mjs" <<'EOF'
// Preloaded into server-everything (node --import): listen on 127.0.0.1, on a port the system
// picks, print the address, drop the console.log line it writes for every request, and load
// its transport without the event store (backend-hooks.mjs).
import net from 'node:net';
import { register } from 'node:module';
register('./backend-hooks.mjs', import.meta.url);
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || typeof args[0] === 'string') {
    this.once('listening', () =>
      console.error(`peers backend listening on http://127.0.0.1:${this.address().port}`));
    return listen.call(this, 0, '127.0.0.1', ...args.filter((a) => typeof a === 'function'));
  }
  return listen.apply(this, args);
};
console.log = () => {};
EOF
node --import "$out/backend-preload.mjs" "$everything" streamableHttp > "$out/backend.log" 2>&1 &
backend_pid=$!
pids+=("$backend_pid")
for _ in $(seq 1 100); do
  grep -q '^peers backend listening on ' "$out/backend.log" && break
  alive "$backend_pid" || break
  sleep 0.1
done
backend_base=$(sed -n 's/^peers backend listening on //p' "$out/backend.log" | head -1)
[[ -n "$backend_base" ]] || { log "the backend did not start: $(tail -5 "$out/backend.log")"; exit 1; }
log "backend: server-everything $everything_version at $backend_base/mcp, pid $backend_pid"

# Apiary $2 as target $1 on a free port (started again on another when some other process
# took it), with the backend registered and published; sets apiary_pid and apiary_base.
start_apiary() {
  local name=$1 binary=$2 port pid refreshed
  mkdir -p "$out/$name"
  apiary_pid=
  for _ in 1 2 3 4 5; do
    port=$(candidate_port)
    APIARY_LISTEN="127.0.0.1:$port" APIARY_DATA_DIR="$out/$name" APIARY_LOG=warn \
      "$binary" serve > "$out/$name/apiary.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
      listens_on "$pid" "$port" && { apiary_pid=$pid; break; }
      alive "$pid" || break
      sleep 0.1
    done
    [[ -n "$apiary_pid" ]] && break
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    log "WARNING: $name did not listen on port $port; trying another"
  done
  [[ -n "$apiary_pid" ]] || { log "$name did not start: $(tail -5 "$out/$name/apiary.log")"; exit 1; }
  pids+=("$apiary_pid")
  apiary_base="http://127.0.0.1:$port"
  curl -fsS -X PUT "$apiary_base/api/v1/servers/peers/everything" -H 'content-type: application/json' \
    -d "{\"ownerTeam\":\"bench\",\"published\":true,\"spec\":{\"transport\":\"streamable-http\",\"url\":\"$backend_base/mcp\"}}" \
    > /dev/null
  refreshed=$(curl -fsS -X POST "$apiary_base/api/v1/servers/peers/everything/refresh")
  [[ "$refreshed" == *'"fetched"'* ]] || { log "$name could not fetch the backend's tools: $refreshed"; exit 1; }
  log "$name: $("$binary" --version 2>/dev/null) ($binary) at $apiary_base, pid $apiary_pid"
}
if [[ -n "$baseline_bin" ]]; then
  start_apiary apiary-base "$baseline_bin"
  base_pid=$apiary_pid
  base_url="$apiary_base/mcp/peers/everything"
fi
start_apiary apiary "$bin"

# thv proxy on a free port: it takes another when the one given is busy, and prints the one it
# took; started again when it does not listen there.
mkdir -p "$out/thv-home"
thv_pid=
for _ in 1 2 3 4 5; do
  port=$(candidate_port)
  TOOLHIVE_RUNTIME=kubernetes TOOLHIVE_SKIP_UPDATE_CHECK=true \
    XDG_CONFIG_HOME="$out/thv-home/config" XDG_STATE_HOME="$out/thv-home/state" \
    XDG_DATA_HOME="$out/thv-home/data" XDG_CACHE_HOME="$out/thv-home/cache" \
    "$thv" proxy peers --target-uri "$backend_base" --host 127.0.0.1 --port "$port" \
    > "$out/thv.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    taken=$(sed -n 's/^Transparent proxy started for server .* on port \([0-9]*\) .*/\1/p' "$out/thv.log" | head -1)
    if [[ -n "$taken" ]] && listens_on "$pid" "$taken"; then thv_pid=$pid; port=$taken; break; fi
    alive "$pid" || break
    sleep 0.1
  done
  [[ -n "$thv_pid" ]] && break
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  log "WARNING: thv proxy did not listen (port $port asked): $(tail -2 "$out/thv.log")"
done
[[ -n "$thv_pid" ]] || { log "thv proxy did not start: $(tail -5 "$out/thv.log")"; exit 1; }
pids+=("$thv_pid")
thv_base="http://127.0.0.1:$port"
# go install leaves `thv version` at "build-unknown"; the module version is in the binary.
thv_module=$(go version -m "$thv" 2>/dev/null | awk '$1 == "mod" {print $3}' || true)
thv_module=${thv_module:-unknown version}
log "thv: $thv_module ($thv) at $thv_base, pid $thv_pid"

# nginx on a free port (started again on another when some other process took it), proxying
# to the backend; sets nginx_pid and nginx_base.
start_nginx() {
  local port pid backend_port=${backend_base##*:}
  mkdir -p "$out/nginx/temp"
  nginx_pid=
  for _ in 1 2 3 4 5; do
    port=$(candidate_port)
    cat > "$out/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $out/nginx/nginx.pid;
error_log $out/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $out/nginx/temp/body;
  proxy_temp_path $out/nginx/temp/proxy;
  fastcgi_temp_path $out/nginx/temp/fastcgi;
  uwsgi_temp_path $out/nginx/temp/uwsgi;
  scgi_temp_path $out/nginx/temp/scgi;
  upstream backend { server 127.0.0.1:$backend_port; keepalive 64; }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
CONF
    "$nginx_bin" -e "$out/nginx/error.log" -p "$out/nginx" -c "$out/nginx/nginx.conf" \
      > "$out/nginx/stdout.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      listens_on "$pid" "$port" && { nginx_pid=$pid; break; }
      alive "$pid" || break
      sleep 0.1
    done
    [[ -n "$nginx_pid" ]] && break
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    log "WARNING: nginx did not listen on port $port: $(tail -2 "$out/nginx/error.log" "$out/nginx/stdout.log" 2>/dev/null)"
  done
  [[ -n "$nginx_pid" ]] || { log "nginx did not start: $(tail -5 "$out/nginx/error.log" "$out/nginx/stdout.log" 2>/dev/null)"; exit 1; }
  pids+=("$nginx_pid")
  nginx_base="http://127.0.0.1:$port"
  log "nginx: $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //') ($nginx_bin) at $nginx_base, pid $nginx_pid"
}
[[ -z "$nginx_bin" ]] || start_nginx

targets=(direct apiary thv)
[[ -z "$baseline_bin" ]] || targets+=(apiary-base)
[[ -z "$nginx_bin" ]] || targets+=(nginx)
declare -A url_of=(
  [direct]="$backend_base/mcp"
  [apiary]="$apiary_base/mcp/peers/everything"
  [thv]="$thv_base/mcp"
)
declare -A pid_of=([apiary]=$apiary_pid [thv]=$thv_pid)
if [[ -n "$baseline_bin" ]]; then
  url_of[apiary-base]=$base_url
  pid_of[apiary-base]=$base_pid
fi
if [[ -n "$nginx_bin" ]]; then
  url_of[nginx]="$nginx_base/mcp"
  pid_of[nginx]=$nginx_pid
fi
# The processes whose RSS is reported: the backend and every proxy.
processes=(backend "${targets[@]:1}")
pid_of[backend]=$backend_pid
declare -A session_of

# One MCP session at URL $1: initialize, notifications/initialized, one checked tools/call echo.
# Prints the session id.
open_session() {
  local url=$1 name=$2 session answer
  session=$(curl -fsS -D - -o "$out/$name-initialize.txt" -X POST "$url" \
    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"$protocol\",\"capabilities\":{},\"clientInfo\":{\"name\":\"gateway-peers\",\"version\":\"1\"}}}" \
    | tr -d '\r' | awk -F': ' 'tolower($1) == "mcp-session-id" {print $2}')
  [[ -n "$session" ]] || { log "$name: no Mcp-Session-Id from initialize at $url: $(head -c 300 "$out/$name-initialize.txt")"; exit 1; }
  curl -fsS -o /dev/null -X POST "$url" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' -H "mcp-session-id: $session" \
    -H "mcp-protocol-version: $protocol" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  answer=$(curl -fsS -X POST "$url" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' -H "mcp-session-id: $session" \
    -H "mcp-protocol-version: $protocol" \
    -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"peers"}}}')
  [[ "$answer" == *'"result"'* && "$answer" == *'Echo: peers'* ]] \
    || { log "$name: tools/call echo at $url did not succeed: ${answer:0:300}"; exit 1; }
  echo "$session"
}
for t in "${targets[@]}"; do
  session_of[$t]=$(open_session "${url_of[$t]}" "$t")
  log "$t: session ${session_of[$t]} at ${url_of[$t]}"
done

# wrk's script: tools/call echo in one session (MCP_SESSION), a new JSON-RPC id per call; counts
# the answers that are not HTTP 200 with a JSON-RPC result, and prints one RESULT line.
cat > "$out/call.lua" <<EOF
local threads = {}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Mcp-Session-Id"] = os.getenv("MCP_SESSION")
wrk.headers["Mcp-Protocol-Version"] = "$protocol"

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  calls, failed, sample = 0, 0, ""
end

function request()
  calls = calls + 1
  return wrk.format(nil, nil, nil, string.format(
    '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":"peers"}}}',
    tid * 1000000000 + calls + 10))
end

function response(status, headers, body)
  if status ~= 200 or not body:find('"result"', 1, true) or body:find('"isError":true', 1, true) then
    failed = failed + 1
    if sample == "" then sample = status .. " " .. body:sub(1, 300) end
  end
end

function done(summary, latency, requests)
  local failed, sample = 0, ""
  for _, t in ipairs(threads) do
    failed = failed + t:get("failed")
    if sample == "" then sample = t:get("sample") end
  end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %.0f %.0f\n", summary.requests, summary.duration,
    failed, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
  if sample ~= "" then io.write("SAMPLE " .. (sample:gsub("%s+", " ")) .. "\n") end
end
EOF

# One wrk run of $3 seconds with $2 connections against target $1; prints
# "requests duration_us failed socket_errors status_errors p50_us p99_us proxy_ticks backend_ticks"
# and keeps wrk's output in $4.
run_wrk() {
  local t=$1 c=$2 secs=$3 file=$4 threads proxy_pid p0=0 p1=0 b0 b1 result
  threads=$(( wrk_threads < c ? wrk_threads : c ))
  proxy_pid=${pid_of[$t]:-}
  if [[ -n "$proxy_pid" ]]; then p0=$(cpu_ticks "$proxy_pid"); fi
  b0=$(cpu_ticks "$backend_pid")
  MCP_SESSION=${session_of[$t]} wrk -t "$threads" -c "$c" -d "${secs}s" --timeout 10s \
    -s "$out/call.lua" "${url_of[$t]}" > "$file" 2>&1 || true
  if [[ -n "$proxy_pid" ]]; then p1=$(cpu_ticks "$proxy_pid"); fi
  b1=$(cpu_ticks "$backend_pid")
  for p in "${processes[@]}"; do
    alive "${pid_of[$p]}" || { log "$p (pid ${pid_of[$p]}) died during the $t run; see $out"; exit 1; }
  done
  result=$(sed -n 's/^RESULT //p' "$file")
  [[ -n "$result" ]] || { log "wrk gave no result for $t with $c connections: $(tail -5 "$file")"; exit 1; }
  echo "$result $(( p1 - p0 )) $(( b1 - b0 ))"
}

declare -A rss_before
for p in "${processes[@]}"; do rss_before[$p]=$(rss_kib "${pid_of[$p]}"); done

max_c=${conns[0]}
for c in "${conns[@]}"; do if (( c > max_c )); then max_c=$c; fi; done
if (( warmup > 0 )); then
  for t in "${targets[@]}"; do
    line=$(run_wrk "$t" "$max_c" "$warmup" "$out/warmup-$t.txt")
    read -r requests _ failed sock status _ <<< "$line"
    log "warm-up $t: $requests calls, $failed failed ($status HTTP errors), $sock socket errors"
  done
fi

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
log "$rounds rounds x connections (${conns[*]}) x ${#targets[@]} targets, $seconds s each; load average $load_start"
printf 'round\tconnections\ttarget\trequests\tduration_us\tfailed\tsocket_errors\tstatus_errors\tp50_us\tp99_us\tproxy_ticks\tbackend_ticks\n' \
  > "$out/runs.tsv"
for (( r = 0; r < rounds; r++ )); do
  for c in "${conns[@]}"; do
    for (( i = 0; i < ${#targets[@]}; i++ )); do
      t=${targets[$(( (i + r) % ${#targets[@]} ))]}
      sleep 1
      line=$(run_wrk "$t" "$c" "$seconds" "$out/wrk-r$((r + 1))-c$c-$t.txt")
      read -r requests duration failed sock status p50 p99 _ _ <<< "$line"
      printf '%s\t%s\t%s\t%s\n' "$(( r + 1 ))" "$c" "$t" "${line// /$'\t'}" >> "$out/runs.tsv"
      log "round $(( r + 1 )) c=$c $t: $(( requests * 1000000 / duration )) calls/s, p50 ${p50} us, p99 ${p99} us, $failed failed ($status HTTP errors), $sock socket errors"
    done
  done
done
ended=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

declare -A rss_after
for p in "${processes[@]}"; do rss_after[$p]=$(rss_kib "${pid_of[$p]}"); done
printf 'process\tbefore_kib\tafter_kib\n' > "$out/rss.tsv"
for p in "${processes[@]}"; do printf '%s\t%s\t%s\n' "$p" "${rss_before[$p]}" "${rss_after[$p]}" >> "$out/rss.tsv"; done

python3 - "$out" "$(getconf CLK_TCK)" "$started" "$ended" "$load_start" "$load_end" \
  "$seconds" "$rounds" "${conns[*]}" "$wrk_threads" "$warmup" "$everything_version" \
  "$("$bin" --version 2>/dev/null), built $(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC')" "thv $thv_module" \
  "$(nproc)" "$(hostname)" "${targets[*]}" \
  "${baseline_bin:+$("$baseline_bin" --version 2>/dev/null), built $(date -u -r "$baseline_bin" '+%Y-%m-%d %H:%M UTC')}" \
  "${nginx_bin:+$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')}" \
  <<'EOF' | tee "$out/report.md"
import csv, statistics, sys

(out, tck, started, ended, load_start, load_end, seconds, rounds, conns, threads, warmup,
 everything, apiary, thv, cores, host, targets, baseline, nginx) = sys.argv[1:]
tck = int(tck)
runs = list(csv.DictReader(open(f"{out}/runs.tsv"), delimiter="\t"))
targets = targets.split()

def med_range(values, fmt):
    if not values:
        return "–"
    m = statistics.median(values)
    if len(values) == 1:
        return fmt.format(m)
    return f"{fmt.format(m)} ({fmt.format(min(values))}–{fmt.format(max(values))})"

stats = {}
for r in runs:
    n, us = int(r["requests"]), int(r["duration_us"])
    s = stats.setdefault((int(r["connections"]), r["target"]),
                         {"rate": [], "p50": [], "p99": [], "proxy": [], "backend": [], "failed": 0, "calls": 0})
    s["rate"].append(n * 1e6 / us)
    s["p50"].append(int(r["p50_us"]) / 1000)
    s["p99"].append(int(r["p99_us"]) / 1000)
    if n:
        if r["target"] != "direct":
            s["proxy"].append(int(r["proxy_ticks"]) * 1e6 / tck / n)
        s["backend"].append(int(r["backend_ticks"]) * 1e6 / tck / n)
    # wrk's response hook sees HTTP errors too (they are in "failed"); socket errors and
    # timeouts never reach it.
    s["failed"] += int(r["failed"]) + int(r["socket_errors"])
    s["calls"] += n

print(f"Gateway side by side: {started} to {ended}, {host} ({cores} cores), load average "
      f"{load_start} at the start, {load_end} at the end. {rounds} interleaved rounds of {seconds} s "
      f"per target and connection count (wrk, {threads} thread(s), one MCP session per target, "
      f"`tools/call echo`), after a {warmup} s warm-up per target. Backend: server-everything "
      f"{everything} (Node, streamable HTTP). Apiary: {apiary}. ToolHive: {thv}."
      + (f" Apiary's baseline (apiary-base): {baseline}." if baseline else "")
      + (f" nginx (a plain reverse proxy, one process): {nginx}." if nginx else ""))
print()
print("Median over the rounds, range in brackets. Latency in ms; CPU in µs of utime+stime per call "
      "(from /proc/PID/stat); \"vs direct\" compares the medians.")
print()
print("| connections | target | calls/s | vs direct | p50 | added p50 | p99 | added p99 | proxy CPU/call | backend CPU/call | failed |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for c in sorted({k[0] for k in stats}):
    d = stats.get((c, "direct"))
    for t in targets:
        s = stats.get((c, t))
        if not s:
            continue
        rate, p50, p99 = (statistics.median(s[k]) for k in ("rate", "p50", "p99"))
        if t == "direct" or not d:
            vs = added50 = added99 = "–"
        else:
            vs = f"{rate / statistics.median(d['rate']) * 100:.1f} %"
            added50 = f"{p50 - statistics.median(d['p50']):+.3f}"
            added99 = f"{p99 - statistics.median(d['p99']):+.3f}"
        print(f"| {c} | {t} | {med_range(s['rate'], '{:.0f}')} | {vs} | {med_range(s['p50'], '{:.3f}')} "
              f"| {added50} | {med_range(s['p99'], '{:.3f}')} | {added99} "
              f"| {med_range(s['proxy'], '{:.0f}') if t != 'direct' else '–'} "
              f"| {med_range(s['backend'], '{:.0f}')} | {s['failed']} of {s['calls']} |")
print()
print("| process | RSS before the warm-up (MiB) | RSS after the last run (MiB) | change |")
print("|---|---|---|---|")
for r in csv.DictReader(open(f"{out}/rss.tsv"), delimiter="\t"):
    b, a = int(r["before_kib"]), int(r["after_kib"])
    change = f"{(a - b) / b * 100:+.1f} %" if b else "–"
    print(f"| {r['process']} | {b / 1024:.1f} | {a / 1024:.1f} | {change} |")
print()
print(f"Runs: {out}/runs.tsv")
EOF
