#!/usr/bin/env bash
# Operator scale benchmark (issues #8, #22): N MCPServers on a real kube-apiserver + etcd,
# reconciled by Apiary's operator, ToolHive's, or both in turn.
#
#   bench/operator_scale.sh [SIZE...]          # default: 100 1000 5000
#   OPBENCH_OPERATOR=both OPBENCH_ROUNDS=3 bench/operator_scale.sh 1000
#
# For each size (and round): a fresh envtest control plane (end2end/envtest/up.sh, empty etcd),
# the operator's own CRDs (server-side applied with curl), a namespace, then the operator as its
# own process, idle for 3 s; then bench/operator_scale.py creates the servers (16 workers, the
# same manifest for both operators) and waits until every status and every child the operator
# makes is there (operator_scale.py names each one's children). Prints one Markdown table row
# per run. With OPBENCH_OPERATOR=both the operators alternate within each round (Apiary, then
# ToolHive, each on a fresh control plane), each round adds a row with ToolHive's time and peak
# RSS over Apiary's, and the end lists the median ratio per size. The full JSON of each run
# (request counts, CPU time per process, a 250 ms timeline) goes to $OPBENCH_OUT (default
# /tmp/opbench/results).
#
# ToolHive's operator is `thv-operator` v0.47.0, built (not here) with
#   GOBIN=$HOME/.cache/apiary/bin go install github.com/stacklok/toolhive/cmd/thv-operator@v0.47.0
# Its CRDs come from the same module in the Go module cache
# (deploy/charts/operator-crds/files/crds, all its kinds). It runs with WATCH_NAMESPACE=NS, no
# leader election, no metrics or probe listener, update checks off (TOOLHIVE_SKIP_UPDATE_CHECK)
# and its default log level.
#
# Environment:
#   OPBENCH_OPERATOR apiary (default), toolhive, or both (interleaved, with ratios)
#   OPBENCH_ROUNDS   rounds per size (default 1)
#   APIARY_BIN     the apiary binary (default target/release/apiary; it is not built here)
#   THV_OPERATOR_BIN ToolHive's operator (default $HOME/.cache/apiary/bin/thv-operator)
#   THV_CRDS       ToolHive's CRD folder (default: deploy/charts/operator-crds/files/crds of
#                  github.com/stacklok/toolhive@v0.47.0 in `go env GOMODCACHE`)
#   OPBENCH_STATE  state folder for the control plane (default /tmp/opbench/kube-bench)
#   OPBENCH_OUT    where the JSON results go (default /tmp/opbench/results)
#   APIARY_LOG     the operator's log filter (default warn)
#   OPBENCH_PROFILE  none (default: the minimal spec, image + stdio + port, so no
#                  permissionProfile and no egress) or network (permissionProfile builtin/network)
#   OPBENCH_TIMEOUT  seconds after the first create before a size is given up (default 300)
#   OPBENCH_IDENTITY admin (default: envtest's system:masters certificate, which the apiserver's
#                  max-in-flight limits exempt) or operator (a client certificate for user
#                  apiary-operator bound to deploy/rbac/operator.yaml, so the limits apply)
#
# Idempotent: a control plane left over in OPBENCH_STATE is stopped first; the operator and the
# control plane are stopped on exit (also on Ctrl-C or failure).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin="${APIARY_BIN:-$root/target/release/apiary}"
state="${OPBENCH_STATE:-/tmp/opbench/kube-bench}"
out="${OPBENCH_OUT:-/tmp/opbench/results}"
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(100 1000 5000)
ns=opbench
profile="${OPBENCH_PROFILE:-none}"
timeout_s="${OPBENCH_TIMEOUT:-300}"
identity="${OPBENCH_IDENTITY:-admin}"
[[ "$identity" == admin || "$identity" == operator ]] || { echo "OPBENCH_IDENTITY: admin or operator" >&2; exit 2; }
which_operator="${OPBENCH_OPERATOR:-apiary}"
case "$which_operator" in
  apiary) operators=(apiary) ;;
  toolhive) operators=(toolhive) ;;
  both) operators=(apiary toolhive) ;;
  *) echo "OPBENCH_OPERATOR: apiary, toolhive or both" >&2; exit 2 ;;
esac
rounds="${OPBENCH_ROUNDS:-1}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "OPBENCH_ROUNDS: a positive number" >&2; exit 2; }
thv_version=v0.47.0
thv_bin="${THV_OPERATOR_BIN:-$HOME/.cache/apiary/bin/thv-operator}"

log() { printf 'operator_scale: %s\n' "$*" >&2; }
if [[ "$which_operator" != toolhive ]]; then
  [[ -x "$bin" ]] || { log "no apiary binary at $bin (set APIARY_BIN)"; exit 1; }
fi
if [[ "$which_operator" != apiary ]]; then
  [[ "$identity" == admin ]] || { log "OPBENCH_IDENTITY=operator binds Apiary's ClusterRole: use admin with ToolHive"; exit 2; }
  [[ -x "$thv_bin" ]] || { log "no thv-operator at $thv_bin (GOBIN=\$HOME/.cache/apiary/bin go install github.com/stacklok/toolhive/cmd/thv-operator@$thv_version)"; exit 1; }
  thv_crds="${THV_CRDS:-$(go env GOMODCACHE 2>/dev/null)/github.com/stacklok/toolhive@$thv_version/deploy/charts/operator-crds/files/crds}"
  compgen -G "$thv_crds/*.yaml" >/dev/null || { log "no ToolHive CRDs in $thv_crds (set THV_CRDS)"; exit 1; }
fi
mkdir -p "$state" "$out"

operator_pid=
# SIGTERM, then SIGKILL after 20 s: with thousands of requests in flight the operator's graceful
# shutdown waits for them (a 5,000-server run still had not exited after 2 minutes).
stop_operator() {
  [[ -n "$operator_pid" ]] || return 0
  if kill -0 "$operator_pid" 2>/dev/null; then
    kill -TERM "$operator_pid" 2>/dev/null || true
    local i
    for i in $(seq 1 200); do kill -0 "$operator_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$operator_pid" 2>/dev/null; then
      log "the operator (pid $operator_pid) ignored SIGTERM for 20 s: SIGKILL"
      kill -KILL "$operator_pid" 2>/dev/null || true
    fi
  fi
  wait "$operator_pid" 2>/dev/null || true
  operator_pid=
}
helper_pid=
cleanup() {
  if [[ -n "$helper_pid" ]]; then kill -TERM "$helper_pid" 2>/dev/null || true; wait "$helper_pid" 2>/dev/null || true; fi
  stop_operator
  "$root/end2end/envtest/down.sh" "$state" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A kubeconfig for user apiary-operator (client certificate signed by the envtest CA), bound to
# the documented ClusterRole; prints its path.
operator_kubeconfig() {
  local admin_kubeconfig="$1" dir="$state/operator-identity"
  mkdir -p "$dir"
  if [[ ! -s "$dir/operator.crt" || "$dir/operator.crt" -ot "$state/pki/ca.crt" ]]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/operator.key" 2>/dev/null
    openssl req -new -key "$dir/operator.key" -subj "/CN=apiary-operator" -out "$dir/operator.csr"
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$dir/operator.ext"
    openssl x509 -req -in "$dir/operator.csr" -CA "$state/pki/ca.crt" -CAkey "$state/pki/ca.key" \
      -CAcreateserial -CAserial "$dir/ca.srl" -sha256 -days 30 -extfile "$dir/operator.ext" \
      -out "$dir/operator.crt" 2>/dev/null
  fi
  admin -X PATCH -H 'Content-Type: application/apply-patch+yaml' --data-binary @"$root/deploy/rbac/operator.yaml" \
    "$APIARY_ENVTEST_SERVER/apis/rbac.authorization.k8s.io/v1/clusterroles/apiary-operator?fieldManager=opbench&force=true" >/dev/null
  admin -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
    "$APIARY_ENVTEST_SERVER/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/apiary-operator?fieldManager=opbench&force=true" \
    --data-binary '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"apiary-operator"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"apiary-operator"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"apiary-operator"}]}' >/dev/null
  sed -e "s|client-certificate-data: .*|client-certificate-data: $(base64 -w0 <"$dir/operator.crt")|" \
      -e "s|client-key-data: .*|client-key-data: $(base64 -w0 <"$dir/operator.key")|" \
      "$admin_kubeconfig" >"$dir/kubeconfig"
  echo "$dir/kubeconfig"
}

# Server-side applies each CRD manifest in folder $1 and waits until it is Established.
install_crds() {
  local f name
  for f in "$1"/*.yaml; do
    name="$(awk '/^  name: /{print $2; exit}' "$f")"
    admin -X PATCH -H 'Content-Type: application/apply-patch+yaml' --data-binary @"$f" \
      "$APIARY_ENVTEST_SERVER/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name?fieldManager=opbench&force=true" >/dev/null
    for _ in $(seq 1 100); do
      admin "$APIARY_ENVTEST_SERVER/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name" |
        python3 -c 'import json,sys; c=json.load(sys.stdin)["status"].get("conditions") or []; sys.exit(0 if any(x["type"]=="Established" and x["status"]=="True" for x in c) else 1)' && break
      sleep 0.1
    done
  done
}

# The JSON result of operator $1, size $2, round $3.
result_of() { echo "$out/result-$1-$profile-$identity-$2-r$3.json"; }

# One run: operator $1 (apiary or toolhive), size $2, round $3, on a control plane of its own.
run_size() {
  local op="$1" n="$2" round="$3" kubeconfig crds result operator_log
  result="$(result_of "$op" "$n" "$round")"
  operator_log="$out/operator-$op-$profile-$identity-$n-r$round.log"
  rm -f "$result"
  "$root/end2end/envtest/down.sh" "$state" >/dev/null 2>&1 || true
  # The default /24 Service range holds about 250 Services (each server has one): use a /16.
  kubeconfig="$(APIARY_ENVTEST_SERVICE_CIDR=10.0.0.0/16 "$root/end2end/envtest/up.sh" "$state" 2>"$state/up.log" | tail -n1)"
  # shellcheck disable=SC1091
  source "$state/env"
  admin() {
    curl -sS --fail-with-body --max-time 30 --cacert "$APIARY_ENVTEST_CA" \
      --cert "$APIARY_ENVTEST_ADMIN_CERT" --key "$APIARY_ENVTEST_ADMIN_KEY" "$@"
  }
  # Each operator's own CRDs: Apiary's generated by its binary, ToolHive's from its module.
  if [[ "$op" == apiary ]]; then
    crds="$state/crds"
    rm -rf "$crds"
    "$bin" crds --out "$crds" 2>/dev/null
  else
    crds="$thv_crds"
  fi
  install_crds "$crds"
  # The served version must answer before the operator starts its watches.
  for _ in $(seq 1 100); do
    admin "$APIARY_ENVTEST_SERVER/apis/toolhive.stacklok.dev/v1beta1" >/dev/null 2>&1 && break
    sleep 0.1
  done
  admin -X POST -H 'Content-Type: application/json' "$APIARY_ENVTEST_SERVER/api/v1/namespaces" \
    -d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}" >/dev/null

  if [[ "$identity" == operator ]]; then
    kubeconfig="$(operator_kubeconfig "$kubeconfig")"
  fi
  if [[ "$op" == apiary ]]; then
    KUBECONFIG="$kubeconfig" APIARY_LOG="${APIARY_LOG:-warn}" "$bin" operator --namespace "$ns" \
      >"$operator_log" 2>&1 &
  else
    KUBECONFIG="$kubeconfig" WATCH_NAMESPACE="$ns" POD_NAMESPACE="$ns" TOOLHIVE_SKIP_UPDATE_CHECK=true \
      "$thv_bin" --metrics-bind-address=0 --health-probe-bind-address=0 --leader-elect=false \
      >"$operator_log" 2>&1 &
  fi
  operator_pid=$!
  sleep 3
  kill -0 "$operator_pid" 2>/dev/null || { log "the $op operator exited: $(tail -5 "$operator_log")"; return 1; }

  log "$op, size $n, round $round: control plane $APIARY_ENVTEST_SERVER, operator pid $operator_pid, load $(cut -d' ' -f1-3 /proc/loadavg)"
  local rc=0
  python3 "$here/operator_scale.py" --size "$n" --namespace "$ns" --operator "$op" \
    --server "$APIARY_ENVTEST_SERVER" --ca "$APIARY_ENVTEST_CA" \
    --cert "$APIARY_ENVTEST_ADMIN_CERT" --key "$APIARY_ENVTEST_ADMIN_KEY" \
    --operator-pid "$operator_pid" --apiserver-pid "$APIARY_ENVTEST_APISERVER_PID" \
    --etcd-pid "$APIARY_ENVTEST_ETCD_PID" --profile "$profile" --timeout "$timeout_s" \
    >"$result" &
  helper_pid=$!
  # `wait` (unlike a foreground command) lets a signal's trap run at once.
  wait "$helper_pid" || rc=$?
  helper_pid=

  stop_operator
  "$root/end2end/envtest/down.sh" "$state" >/dev/null 2>&1 || true
  if [[ ! -s "$result" ]]; then
    log "$op, size $n: no result (exit $rc)"
    return 1
  fi
  python3 - "$result" "$identity" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
note = "" if r["finished"] else f" (gave up: {r['done']:,} done)"
rate = r["servers_per_s"] if r["finished"] else round(r["done"] / r["converge_s"], 1)
settle = r["after_done"]
applies = sum(v for k, v in settle["requests_per_s"].items() if k.startswith("APPLY"))
writes = sum(v for k, v in settle["requests_per_s"].items()
             if k.split(" ")[0] in ("APPLY", "PATCH", "PUT", "UPDATE", "CREATE", "DELETE"))
idle = f"operator {settle['cpu_percent'].get('operator', '?')} % CPU, {applies:g} applies/s, {writes:g} writes/s"
who = "" if sys.argv[2] == "admin" else f", as {sys.argv[2]}"
anon = r.get("operator_anon_mib") or {}
own = f"{anon.get('idle')} → {anon.get('peak_sampled')}"
cpu = r["cpu_s"]
print(f"| {r['operator']} | {r['size']:,} | {r['profile']}{who} | {r['create_s']} s | {r['converge_s']} s{note} "
      f"| {rate} | {r['operator_peak_rss_mib']} | {own} | {cpu.get('operator')} / {cpu.get('apiserver')} / {cpu.get('etcd')} "
      f"| {' '.join(r['load_start'])} | {idle} |")
EOF
  (( rc == 0 )) || log "$op, size $n: did not converge (exit $rc), see $result"
  return "$rc"
}

# ToolHive's convergence time and peak RSS over Apiary's, from JSON results given in pairs
# (Apiary, ToolHive): the median over the pairs where both finished, and each pair's.
ratios() {
  python3 - "$@" <<'EOF'
import json, statistics, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
pairs = [(a, t) for a, t in zip(runs[0::2], runs[1::2]) if a["finished"] and t["finished"]]
if not pairs:
    print(f"{runs[0]['size']:,} servers: no round where both finished")
    sys.exit(0)
time = [t["converge_s"] / a["converge_s"] for a, t in pairs]
rss = [t["operator_peak_rss_mib"] / a["operator_peak_rss_mib"] for a, t in pairs]
print(f"{runs[0]['size']:,} servers: ToolHive / Apiary convergence time {statistics.median(time):.2f}x "
      f"({', '.join(f'{x:.2f}' for x in time)}), operator peak RSS {statistics.median(rss):.2f}x")
EOF
}

echo "| operator | servers | profile | create | converge (first create → all done) | servers/s | operator peak RSS MiB | operator's own data (RssAnon) MiB, idle → peak | CPU s: operator / apiserver / etcd | load at start | 5 s after done |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
status=0
summary=()
for n in "${sizes[@]}"; do
  pairs=()
  for round in $(seq 1 "$rounds"); do
    for op in "${operators[@]}"; do
      run_size "$op" "$n" "$round" || status=1
    done
    [[ "$which_operator" == both ]] || continue
    apiary_result="$(result_of apiary "$n" "$round")"
    toolhive_result="$(result_of toolhive "$n" "$round")"
    if [[ -s "$apiary_result" && -s "$toolhive_result" ]]; then
      pairs+=("$apiary_result" "$toolhive_result")
      echo "| ratio, round $round | $(ratios "$apiary_result" "$toolhive_result") | | | | | | | |"
    fi
  done
  if (( ${#pairs[@]} )); then summary+=("$(ratios "${pairs[@]}")"); fi
done
if (( ${#summary[@]} )); then
  echo
  echo "Median over rounds:"
  printf -- '- %s\n' "${summary[@]}"
fi
exit $status
