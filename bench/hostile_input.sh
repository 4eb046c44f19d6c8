#!/usr/bin/env bash
# Hostile bodies against the proposal API (issue #17): are they refused fast, and do other
# requests keep their latency meanwhile?
#
#   bench/hostile_input.sh [SECONDS] [ROUNDS]     # default: 10 s per case, 3 rounds
#
# One Apiary (release build). For each case, vegeta sends GET /healthz at 200 requests/s for
# SECONDS while two curl loops post the case's body to POST /api/v1/proposals back to back.
# The case `none` posts nothing: it is the side-by-side anchor. Cases run interleaved, round
# after round. At the end a Markdown table gives, per case over all rounds, the /healthz
# latency (p50, p99, max) and the hostile requests' count, statuses and time to answer (p50,
# max). Raw results go to $HOSTILE_OUT (default /tmp/hostile-input).
#
# Cases (each body at most the API's 2 MiB body cap):
#   yaml-flow-50k   YAML, a spec nested 50,000 levels deep in flow style (100 KiB)
#   yaml-flow-1m    the same, 1,000,000 levels (2 MiB)
#   yaml-block-deep YAML, nested block mappings as deep as 2 MiB allows (about 2,000 levels)
#   yaml-aliases    YAML, "billion laughs": nine levels of aliases to ten copies each
#   yaml-256k       YAML, a manifest just under the 256 KiB manifest cap, its description filling
#                   it (the largest YAML Apiary parses; refused for the description's length)
#   yaml-2mib       YAML, the same filling 2 MiB (refused by the manifest cap before parsing)
#   json-deep       JSON, a spec nested 1,000,000 levels deep (2 MiB)
#
# Environment:
#   APIARY_BIN  the Apiary under test (default $CARGO_TARGET_DIR/release/apiary, else
#               target/release/apiary); it is not built here
#   VEGETA      the load generator (default: ~/.cache/apiary/bin/vegeta, installed with
#               `go install github.com/tsenart/vegeta/v12@v12.13.0` when missing)
#   HOSTILE_OUT where bodies, raw results and the report go
#
# Loopback only. Everything started is stopped on exit (also on Ctrl-C or failure).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=../end2end/ports.sh
source "$root/end2end/ports.sh"

seconds="${1:-10}"
rounds="${2:-3}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="${APIARY_BIN:-$target_dir/release/apiary}"
cache="${APIARY_CACHE_DIR:-$HOME/.cache/apiary}"
vegeta="${VEGETA:-$cache/bin/vegeta}"
out="${HOSTILE_OUT:-/tmp/hostile-input}"
cases=(none yaml-flow-50k yaml-flow-1m yaml-block-deep yaml-aliases yaml-256k yaml-2mib json-deep)

log() { printf 'hostile_input %s: %s\n' "$(date +%T)" "$*" >&2; }
[[ -x "$bin" ]] || { log "no binary at $bin (see the header for APIARY_BIN)"; exit 1; }
if [[ ! -x "$vegeta" ]]; then
  log "installing vegeta v12.13.0 into $cache/bin"
  mkdir -p "$cache/bin"
  GOBIN="$cache/bin" go install github.com/tsenart/vegeta/v12@v12.13.0
fi
rm -rf "$out"
mkdir -p "$out/bodies" "$out/results"

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# The bodies.
python3 - "$out/bodies" <<'PY'
import json, sys
folder = sys.argv[1]
head = ("apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\n"
        "metadata:\n  name: hostile\n  namespace: bench\n")
def write(name, text):
    with open(f"{folder}/{name}", "w") as f:
        f.write(text)
write("yaml-flow-50k", head + "spec: " + "[" * 50_000 + "]" * 50_000 + "\n")
n = (2 * 1024 * 1024 - len(head) - 16) // 2
write("yaml-flow-1m", head + "spec: " + "[" * n + "]" * n + "\n")
lines, size, depth = [head + "spec:\n"], 0, 1
while True:
    line = "  " * depth + "a:\n"
    if size + len(line) > 2 * 1024 * 1024 - 1024:
        break
    lines.append(line)
    size += len(line)
    depth += 1
write("yaml-block-deep", "".join(lines))
laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for i, key in enumerate("bcdefghi"):
    prev = "abcdefghi"[i]
    laughs.append(f"{key}: &{key} [" + ",".join([f"*{prev}"] * 10) + "]")
write("yaml-aliases", head + "spec:\n  image: npx://x\n  extra:\n" +
      "".join(f"    {line}\n" for line in laughs))
for name, size in [("yaml-256k", 256 * 1024), ("yaml-2mib", 2 * 1024 * 1024)]:
    description = "x" * (size - 4096)
    write(name, head.replace("metadata:\n", "metadata:\n  annotations:\n"
          f"    apiary.dev/description: {description}\n") + "spec:\n  image: npx://left-pad\n")
n = (2 * 1024 * 1024 - 64) // 2
write("json-deep", '{"kind":"create","namespace":"bench","name":"hostile","spec":'
      + "[" * n + "]" * n + "}")
PY
content_type() { [[ $1 == json-* ]] && echo application/json || echo application/yaml; }

# Apiary on a free port (retried if another process took it).
for _ in 1 2 3 4 5; do
  port=$(candidate_port)
  APIARY_LISTEN="127.0.0.1:$port" APIARY_DATA_DIR="$out/data" APIARY_LOG=error \
    "$bin" serve > "$out/apiary.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    listens_on "$pid" "$port" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if listens_on "$pid" "$port"; then pids+=("$pid"); url="http://127.0.0.1:$port"; break; fi
  kill "$pid" 2>/dev/null || true
  log "WARNING: Apiary did not listen on port $port; trying another"
done
[[ -n "${url:-}" ]] || { log "Apiary did not start: $(tail -5 "$out/apiary.log")"; exit 1; }
log "Apiary at $url (pid $pid)"

# Posts body $1 back to back until $2 (epoch seconds), one line per answer to $3:
# "status seconds".
poster() {
  local body=$1 until=$2 file=$3 type
  type=$(content_type "$(basename "$body")")
  while (( $(date +%s) < until )); do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST "$url/api/v1/proposals" \
      -H "content-type: $type" --data-binary "@$body" >> "$file" || echo "000 0" >> "$file"
  done
}

for round in $(seq 1 "$rounds"); do
  for case in "${cases[@]}"; do
    log "round $round: $case"
    result="$out/results/$case.$round"
    until=$(( $(date +%s) + seconds ))
    posters=()
    if [[ $case != none ]]; then
      for i in 1 2; do
        poster "$out/bodies/$case" "$until" "$result.posts" & posters+=($!)
      done
    fi
    echo "GET $url/healthz" | "$vegeta" attack -rate=200 -duration="${seconds}s" -timeout=60s \
      > "$result.bin"
    for p in "${posters[@]}"; do wait "$p"; done
    "$vegeta" report -type=json < "$result.bin" > "$result.json"
  done
done

python3 - "$out/results" "$seconds" "${cases[@]}" <<'PY' | tee "$out/report.md"
import glob, json, statistics, sys
folder, seconds, cases = sys.argv[1], sys.argv[2], sys.argv[3:]
ms = lambda ns: ns / 1e6
print(f"| case | /healthz p50 | p99 | max | success | hostile posts | statuses | answer p50 | max |")
print("|---|---|---|---|---|---|---|---|---|")
for case in cases:
    reports = [json.load(open(f)) for f in sorted(glob.glob(f"{folder}/{case}.*.json"))]
    p50 = statistics.median(ms(r["latencies"]["50th"]) for r in reports)
    p99 = max(ms(r["latencies"]["99th"]) for r in reports)
    worst = max(ms(r["latencies"]["max"]) for r in reports)
    success = min(r["success"] for r in reports)
    posts = []
    for f in glob.glob(f"{folder}/{case}.*.posts"):
        posts += [line.split() for line in open(f) if line.strip()]
    if posts:
        statuses = {}
        for status, _ in posts:
            statuses[status] = statuses.get(status, 0) + 1
        times = [float(t) * 1000 for _, t in posts]
        hostile = (f"{len(posts)} | " + ", ".join(f"{k}×{v}" for k, v in sorted(statuses.items()))
                   + f" | {statistics.median(times):.1f} ms | {max(times):.1f} ms")
    else:
        hostile = "0 | – | – | –"
    print(f"| {case} | {p50:.2f} ms | {p99:.2f} ms | {worst:.1f} ms | {success:.0%} | {hostile} |")
PY
log "report: $out/report.md"
