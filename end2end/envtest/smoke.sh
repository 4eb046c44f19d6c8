#!/usr/bin/env bash
# Smoke test of a control plane started by up.sh, with curl only:
#
#   end2end/envtest/smoke.sh <state-dir>
#
# Lists namespaces, creates a namespace, a CustomResourceDefinition and an
# instance of it, and checks that authentication and RBAC are enforced.
# Ends with an "N passed, N failed" line; exit status 1 if anything failed.
set -uo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 <state-dir>" >&2; exit 2; }
state="$(cd "$1" && pwd)" || exit 2
# shellcheck disable=SC1091
source "$state/env" || { echo "no $state/env: is the control plane up?" >&2; exit 1; }

S="$APIARY_ENVTEST_SERVER"
ns="smoke-$$-$RANDOM"
passed=0 failed=0

admin() { curl -sS --max-time 10 --cacert "$APIARY_ENVTEST_CA" --cert "$APIARY_ENVTEST_ADMIN_CERT" --key "$APIARY_ENVTEST_ADMIN_KEY" "$@"; }
check() { # name, then a command that must succeed
  local name="$1"; shift
  if "$@"; then echo "ok   - $name"; passed=$((passed + 1))
  else echo "FAIL - $name"; failed=$((failed + 1)); fi
}
# status code of a request: code <curl args...>
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$APIARY_ENVTEST_CA" "$@"; }
has() { grep -- "$1" >/dev/null; }  # reads all input (no SIGPIPE under pipefail)

readyz() { [[ "$(admin "$S/readyz")" == ok ]]; }
check "readyz" readyz
version_ok() { admin "$S/version" | has '"gitVersion": "v1\.'; }
check "/version is a real release" version_ok
list_ns() { admin "$S/api/v1/namespaces" | has '"name": "kube-system"'; }
check "list namespaces" list_ns
create_ns() {
  admin -X POST -H 'Content-Type: application/json' "$S/api/v1/namespaces" \
    -d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}" | has '"phase": "Active"'
}
check "create namespace $ns" create_ns

crd='{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": {"name": "widgets.smoke.apiary.dev"},
  "spec": {
    "group": "smoke.apiary.dev",
    "scope": "Namespaced",
    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
    "versions": [{
      "name": "v1", "served": true, "storage": true,
      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}
    }]
  }
}'
# 201 created, or 409 if a previous smoke run on this cluster created it.
c="$(code --cert "$APIARY_ENVTEST_ADMIN_CERT" --key "$APIARY_ENVTEST_ADMIN_KEY" -X POST -H 'Content-Type: application/json' \
  "$S/apis/apiextensions.k8s.io/v1/customresourcedefinitions" -d "$crd")"
check "create CRD (HTTP $c)" test "$c" = 201 -o "$c" = 409

established() {
  for _ in $(seq 1 100); do
    admin "$S/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.smoke.apiary.dev" \
      | tr -d ' \n' | has '"type":"Established","status":"True"' && return 0
    sleep 0.1
  done
  return 1
}
check "CRD established" established

served() { # discovery can lag a moment behind Established
  for _ in $(seq 1 100); do
    [[ "$(code --cert "$APIARY_ENVTEST_ADMIN_CERT" --key "$APIARY_ENVTEST_ADMIN_KEY" "$S/apis/smoke.apiary.dev/v1/namespaces/$ns/widgets")" == 200 ]] && return 0
    sleep 0.1
  done
  return 1
}
check "CR endpoint served" served

c="$(code --cert "$APIARY_ENVTEST_ADMIN_CERT" --key "$APIARY_ENVTEST_ADMIN_KEY" -X POST -H 'Content-Type: application/json' \
  "$S/apis/smoke.apiary.dev/v1/namespaces/$ns/widgets" \
  -d '{"apiVersion":"smoke.apiary.dev/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"size":3}}')"
check "create custom resource (HTTP $c)" test "$c" = 201
read_cr() { admin "$S/apis/smoke.apiary.dev/v1/namespaces/$ns/widgets/w1" | tr -d ' \n' | has '"size":3'; }
check "read custom resource back" read_cr

c="$(code "$S/api/v1/namespaces")"
check "anonymous request is denied (HTTP $c)" test "$c" = 401 -o "$c" = 403
c="$(code "$S/readyz")"
check "anonymous /readyz allowed by default RBAC (HTTP $c)" test "$c" = 200
c="$(code --cert "$APIARY_ENVTEST_ADMIN_CERT" --key "$APIARY_ENVTEST_ADMIN_KEY" -H 'Impersonate-User: smoke-nobody' "$S/api/v1/namespaces/$ns/configmaps")"
check "RBAC denies an unprivileged user (HTTP $c)" test "$c" = 403

# Without kube-controller-manager a deleted namespace stays Terminating, so the
# namespace is left in place; the cluster is throw-away.
admin -X DELETE "$S/apis/smoke.apiary.dev/v1/namespaces/$ns/widgets/w1" >/dev/null || true

echo "$passed passed, $failed failed"
(( failed == 0 ))
