#!/usr/bin/env bash
# Starts a throw-away Kubernetes control plane (etcd + kube-apiserver, no
# kubelet, no controller-manager, no scheduler) on loopback, envtest-style.
#
#   end2end/envtest/up.sh <state-dir>
#
# Writes into <state-dir>:
#   kubeconfig           admin kubeconfig (CN=apiary-admin, O=system:masters), CA embedded
#   env                  KEY=value lines (APIARY_TEST_KUBECONFIG, ports, pids); `source` it
#   pki/                 ca, apiserver serving cert, service-account key pair, admin cert
#   etcd.pid, kube-apiserver.pid, etcd.log, kube-apiserver.log, etcd-data/
#
# Idempotent: if the control plane of <state-dir> is already up and ready it
# just prints; otherwise it (re)starts it with an empty etcd (certs are kept).
# The processes run in their own session and outlive this script; stop them
# with end2end/envtest/down.sh <state-dir>.
# The last line of stdout is the kubeconfig path; progress goes to stderr.
#
# Environment:
#   APIARY_ENVTEST_BIN_DIR   use these kube-apiserver/etcd binaries instead of build.sh
#   APIARY_ENVTEST_TIMEOUT   seconds to wait for /readyz (default 60)
#   APIARY_CACHE_DIR         passed on to build.sh
#   APIARY_ENVTEST_SERVICE_CIDR  the Service ClusterIP range (default 10.0.0.0/24, room for
#                            about 250 Services; bench/operator_scale.sh uses a /16). Its first
#                            address must stay 10.0.0.1, which the serving certificate names.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf 'envtest/up: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || { echo "usage: $0 <state-dir>" >&2; exit 2; }
mkdir -p "$1"
state="$(cd "$1" && pwd)"
pki="$state/pki"
timeout_s="${APIARY_ENVTEST_TIMEOUT:-60}"
service_cidr="${APIARY_ENVTEST_SERVICE_CIDR:-10.0.0.0/24}"

for tool in openssl curl setsid; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required"
done

# Is pid $2 alive and still the $1 process of this state dir (guards against
# pid reuse)?
proc_is() {
  local name="$1" pid="$2"
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] || return 1
  local cmd argv0
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  argv0="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1)" || return 1
  [[ "$argv0" == *"/$name" && "$cmd" == *"$state"* ]]
}
read_pid() { [[ -f "$state/$1.pid" ]] && cat "$state/$1.pid" || true; }

curl_admin() {
  curl -sS --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$@"
}

# --- already running? --------------------------------------------------------
if [[ -f "$state/env" ]] && proc_is etcd "$(read_pid etcd)" && proc_is kube-apiserver "$(read_pid kube-apiserver)"; then
  server="$(sed -n 's/^APIARY_ENVTEST_SERVER=//p' "$state/env")"
  if [[ "$(curl_admin "$server/readyz" 2>/dev/null || true)" == ok ]]; then
    log "already running at $server"
    echo "$state/kubeconfig"
    exit 0
  fi
fi
# Half-started or stale: clean up before starting afresh.
"$here/down.sh" "$state" >&2

# --- binaries ----------------------------------------------------------------
if [[ -n "${APIARY_ENVTEST_BIN_DIR:-}" ]]; then
  bin="$APIARY_ENVTEST_BIN_DIR"
else
  bin="$("$here/build.sh" | tail -n1)"
fi
[[ -x "$bin/kube-apiserver" && -x "$bin/etcd" ]] || die "no kube-apiserver/etcd in '$bin'"

# --- PKI (kept across restarts) ------------------------------------------------
gen_pki() {
  local tmp="$pki.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  (
    cd "$tmp"
    newkey() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
    # CA
    newkey ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=apiary-envtest-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -addext "subjectKeyIdentifier=hash" \
      -out ca.crt
    sign() { # name subject extensions
      newkey "$1.key"
      openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    # kube-apiserver serving cert (loopback + the in-cluster names)
    sign apiserver "/CN=kube-apiserver" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
authorityKeyIdentifier=keyid
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.0.0.1"
    # admin client cert: group system:masters bypasses RBAC
    sign admin "/O=system:masters/CN=apiary-admin" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid"
    # service-account token signing key pair
    newkey sa.key
    openssl pkey -in sa.key -pubout -out sa.pub
    rm -f ca.srl
    chmod 600 ./*.key
  )
  rm -rf "$pki"
  mv "$tmp" "$pki"
}
if ! [[ -s "$pki/ca.crt" && -s "$pki/apiserver.crt" && -s "$pki/admin.crt" && -s "$pki/sa.key" && -s "$pki/sa.pub" ]]; then
  log "generating certificates in $pki"
  gen_pki
fi

# --- ports -------------------------------------------------------------------
# candidate_port and listens_on: a server counts as started only once the very process this
# script started listens on its port; if another process took the port first, it is started
# again on another.
# shellcheck source=../ports.sh
source "$here/../ports.sh"
START_ATTEMPTS=5

# Start "$@" detached (own session, immune to SIGHUP, stdin closed), logging to
# $state/$name.log, pid in $state/$name.pid (the exec'd process itself).
spawn() {
  local name="$1"; shift
  rm -f "$state/$name.pid"
  : >"$state/$name.log"
  # shellcheck disable=SC2016 # $$ and $@ expand in the child sh
  (cd "$state" && exec setsid nohup sh -c 'echo $$ >"$0"; exec "$@"' "$state/$name.pid" "$@" \
      >>"$state/$name.log" 2>&1 </dev/null &)
  for _ in $(seq 1 50); do [[ -s "$state/$name.pid" ]] && return 0; sleep 0.1; done
  die "$name did not start (see $state/$name.log)"
}

tail_logs() {
  local f
  for f in "$@"; do
    [[ -f "$state/$f.log" ]] || continue
    printf '\n----- last 40 lines of %s -----\n' "$state/$f.log" >&2
    tail -n 40 "$state/$f.log" >&2
  done
}

fail() {
  log "error: $*"
  tail_logs "${logs_to_show[@]}"
  "$here/down.sh" "$state" >&2 || true
  exit 1
}

t0=$SECONDS

# --- etcd --------------------------------------------------------------------
start_etcd() {
  rm -rf "$state/etcd-data"
  etcd_port="$(candidate_port)"
  peer_port="$(candidate_port)"
  while [[ "$peer_port" == "$etcd_port" ]]; do peer_port="$(candidate_port)"; done
  spawn etcd "$bin/etcd" \
    --name=envtest \
    --data-dir="$state/etcd-data" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="envtest=http://127.0.0.1:$peer_port" \
    --initial-cluster-state=new \
    --unsafe-no-fsync=true \
    --log-level=warn
  local pid deadline=$((SECONDS + 30))
  pid="$(read_pid etcd)"
  while (( SECONDS < deadline )); do
    if ! proc_is etcd "$pid"; then return 1; fi
    # Healthy, and the answer came from this etcd: it holds both of its ports.
    if listens_on "$pid" "$etcd_port" && listens_on "$pid" "$peer_port" &&
      curl -s --max-time 2 "http://127.0.0.1:$etcd_port/health" 2>/dev/null | grep -q '"health":"true"'; then
      return 0
    fi
    sleep 0.2
  done
  return 2
}
logs_to_show=(etcd)
ok=
for attempt in $(seq 1 "$START_ATTEMPTS"); do
  rc=0; start_etcd || rc=$?
  if (( rc == 0 )); then ok=1; break; fi
  (( rc == 2 )) && break
  log "WARNING: etcd exited during startup (start $attempt of $START_ATTEMPTS; a port was probably taken): $(grep -m1 -i 'error\|fatal' "$state/etcd.log" 2>/dev/null || true)"
  "$here/down.sh" "$state" >&2
done
[[ -n "$ok" ]] || fail "etcd did not become healthy"
log "etcd healthy on 127.0.0.1:$etcd_port after $((SECONDS - t0))s"

# --- kube-apiserver ----------------------------------------------------------
start_apiserver() {
  api_port="$(candidate_port)"
  while [[ "$api_port" == "$etcd_port" || "$api_port" == "$peer_port" ]]; do api_port="$(candidate_port)"; done
  server="https://127.0.0.1:$api_port"
  local command=("$bin/kube-apiserver"
    --etcd-servers="http://127.0.0.1:$etcd_port"
    --bind-address=127.0.0.1
    --advertise-address=127.0.0.1
    --secure-port="$api_port"
    --tls-cert-file="$pki/apiserver.crt"
    --tls-private-key-file="$pki/apiserver.key"
    --client-ca-file="$pki/ca.crt"
    --authorization-mode=RBAC
    --anonymous-auth=true
    --service-account-issuer="$server"
    --service-account-key-file="$pki/sa.pub"
    --service-account-signing-key-file="$pki/sa.key"
    --service-cluster-ip-range="$service_cidr"
    --endpoint-reconciler-type=none
    --allow-privileged=true
    --enable-priority-and-fairness=false
    --profiling=false
  )
  # Kept for end2end/envtest/apiserver.sh, which restarts it the same way (fault tests).
  printf '%s\n' "${command[@]}" >"$state/kube-apiserver.args"
  spawn kube-apiserver "${command[@]}"
  local pid deadline=$((SECONDS + timeout_s))
  pid="$(read_pid kube-apiserver)"
  while (( SECONDS < deadline )); do
    if ! proc_is kube-apiserver "$pid"; then return 1; fi
    if listens_on "$pid" "$api_port" && [[ "$(curl_admin "$server/readyz" 2>/dev/null || true)" == ok ]]; then
      return 0
    fi
    sleep 0.25
  done
  return 2
}
logs_to_show=(kube-apiserver etcd)
ok=
for attempt in $(seq 1 "$START_ATTEMPTS"); do
  rc=0; start_apiserver || rc=$?
  if (( rc == 0 )); then ok=1; break; fi
  if (( rc == 2 )); then
    { echo "----- $server/readyz?verbose -----"; curl_admin "$server/readyz?verbose" 2>&1 | grep -v '^\[+\]' || true; } >&2
    fail "kube-apiserver not ready at $server/readyz after ${timeout_s}s"
  fi
  if ! proc_is etcd "$(read_pid etcd)"; then fail "etcd exited while kube-apiserver started"; fi
  log "WARNING: kube-apiserver exited during startup (start $attempt of $START_ATTEMPTS; its port was probably taken): $(grep -m1 -i 'address already in use\|failed to listen\|error' "$state/kube-apiserver.log" 2>/dev/null || true)"
  kill "$(read_pid kube-apiserver)" 2>/dev/null || true
done
[[ -n "$ok" ]] || fail "kube-apiserver did not start"
log "kube-apiserver ready at $server after $((SECONDS - t0))s"

# --- kubeconfig & env --------------------------------------------------------
b64() { base64 -w0 <"$1"; }
umask 077
cat >"$state/kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: apiary-envtest
  cluster:
    server: $server
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: apiary-admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: apiary-envtest
  context:
    cluster: apiary-envtest
    user: apiary-admin
    namespace: default
current-context: apiary-envtest
EOF
mv "$state/kubeconfig.tmp" "$state/kubeconfig"

{
  printf '%s=%q\n' \
    APIARY_TEST_KUBECONFIG "$state/kubeconfig" \
    APIARY_ENVTEST_SERVER "$server" \
    APIARY_ENVTEST_ETCD "http://127.0.0.1:$etcd_port" \
    APIARY_ENVTEST_APISERVER_PID "$(read_pid kube-apiserver)" \
    APIARY_ENVTEST_ETCD_PID "$(read_pid etcd)" \
    APIARY_ENVTEST_CA "$pki/ca.crt" \
    APIARY_ENVTEST_ADMIN_CERT "$pki/admin.crt" \
    APIARY_ENVTEST_ADMIN_KEY "$pki/admin.key" \
    APIARY_ENVTEST_BIN_DIR "$bin" \
    APIARY_ENVTEST_STATE_DIR "$state"
} >"$state/env.tmp"
mv "$state/env.tmp" "$state/env"

log "up: source $state/env  (or KUBECONFIG=$state/kubeconfig)"
echo "$state/kubeconfig"
