#!/usr/bin/env bash
# Stops, or starts again, only the kube-apiserver of a control plane started by up.sh, on the
# same port and the same etcd (its data is kept): for tests of what happens while the
# apiserver is away.
#
#   end2end/envtest/apiserver.sh <state-dir> stop    SIGKILL, as a crash would; waits for exit
#   end2end/envtest/apiserver.sh <state-dir> start   the same command line; waits for /readyz
set -euo pipefail

log() { printf 'envtest/apiserver: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $# -eq 2 ]] || { echo "usage: $0 <state-dir> stop|start" >&2; exit 2; }
state="$(cd "$1" && pwd)"
pidfile="$state/kube-apiserver.pid"
[[ -s "$state/kube-apiserver.args" ]] || die "no $state/kube-apiserver.args: start it with up.sh first"

case "$2" in
  stop)
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && die "kube-apiserver (pid $pid) did not exit"
    fi
    log "kube-apiserver stopped"
    ;;
  start)
    mapfile -t command <"$state/kube-apiserver.args"
    server="$(sed -n 's/^APIARY_ENVTEST_SERVER=//p' "$state/env")"
    rm -f "$pidfile"
    # Detached like up.sh's processes: own session, pid in the pid file, log appended.
    # shellcheck disable=SC2016 # $$ and $@ expand in the child sh
    (cd "$state" && exec setsid nohup sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "${command[@]}" \
        >>"$state/kube-apiserver.log" 2>&1 </dev/null &)
    for _ in $(seq 1 600); do
      if [[ "$(curl -sS --max-time 2 --cacert "$state/pki/ca.crt" --cert "$state/pki/admin.crt" \
          --key "$state/pki/admin.key" "$server/readyz" 2>/dev/null || true)" == ok ]]; then
        log "kube-apiserver ready again at $server"
        exit 0
      fi
      sleep 0.2
    done
    die "kube-apiserver not ready again within 120 s (see $state/kube-apiserver.log)"
    ;;
  *) echo "usage: $0 <state-dir> stop|start" >&2; exit 2 ;;
esac
