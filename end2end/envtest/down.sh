#!/usr/bin/env bash
# Stops the control plane started by `end2end/envtest/up.sh <state-dir>`:
# SIGTERM to kube-apiserver then etcd, waits for each to exit (SIGKILL after
# APIARY_ENVTEST_STOP_TIMEOUT seconds, default 20). Idempotent: a state dir
# with nothing running is fine. Logs, certificates and etcd data are left in
# <state-dir> (remove the folder to discard them; up.sh starts with an empty
# etcd anyway).
set -euo pipefail

log() { printf 'envtest/down: %s\n' "$*" >&2; }

[[ $# -eq 1 && -n "$1" ]] || { echo "usage: $0 <state-dir>" >&2; exit 2; }
if [[ ! -d "$1" ]]; then
  log "no state dir $1: nothing to stop"
  exit 0
fi
state="$(cd "$1" && pwd)"
stop_timeout="${APIARY_ENVTEST_STOP_TIMEOUT:-20}"

# Is pid $2 alive and still the $1 process of this state dir (guards against
# pid reuse)? A zombie has an empty cmdline and counts as gone.
proc_is() {
  local name="$1" pid="$2"
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] || return 1
  local cmd argv0
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  argv0="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1)" || return 1
  [[ "$argv0" == *"/$name" && "$cmd" == *"$state"* ]]
}

stop() {
  local name="$1" pidfile="$state/$1.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if proc_is "$name" "$pid"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + stop_timeout))
    while proc_is "$name" "$pid" && (( SECONDS < deadline )); do sleep 0.1; done
    if proc_is "$name" "$pid"; then
      log "$name (pid $pid) ignored SIGTERM for ${stop_timeout}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while proc_is "$name" "$pid"; do sleep 0.1; done
    fi
  fi
  rm -f "$pidfile"
}

# apiserver first, so it does not log etcd connection errors while stopping.
stop kube-apiserver
stop etcd
rm -f "$state/env"
