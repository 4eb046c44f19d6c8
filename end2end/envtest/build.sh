#!/usr/bin/env bash
# Builds kube-apiserver and etcd from source (Go module proxy only, no prebuilt
# binaries) into a cache directory keyed by the pinned go.mod/go.sum files:
#
#   ${APIARY_CACHE_DIR:-$HOME/.cache/apiary}/envtest/<key>/bin/{kube-apiserver,etcd}
#
# A second run with the same pins does nothing but hash four files. Prints the
# bin directory on the last line of stdout; everything else goes to stderr.
#
# Environment:
#   APIARY_CACHE_DIR   cache root (default: $HOME/.cache/apiary)
#   GO                 go command to use (default: go on PATH, else /usr/local/go/bin/go)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf 'envtest/build: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else die "no Go toolchain found (install Go >= 1.24 or set GO=/path/to/go)"; fi
fi

# Bump when the build recipe (flags, ldflags) changes, to force a rebuild.
recipe=1
goos="$("$GO" env GOOS)"
goarch="$("$GO" env GOARCH)"
key="$(
  {
    echo "recipe=$recipe os=$goos arch=$goarch"
    for f in apiserver/go.mod apiserver/go.sum etcd/go.mod etcd/go.sum; do
      echo "== $f"
      cat "$here/$f"
    done
  } | sha256sum | cut -c1-16
)"

cache_root="${APIARY_CACHE_DIR:-$HOME/.cache/apiary}/envtest"
key_dir="$cache_root/$key"
bin_dir="$key_dir/bin"

is_built() {
  [[ -f "$key_dir/.complete" && -x "$bin_dir/kube-apiserver" && -x "$bin_dir/etcd" ]]
}

if is_built; then
  log "cached: $bin_dir"
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$cache_root"
# Serialise concurrent builds of the same key (e.g. parallel test jobs).
exec 9>"$cache_root/$key.lock"
if command -v flock >/dev/null 2>&1; then
  log "taking build lock $cache_root/$key.lock"
  flock 9
fi
if is_built; then
  log "cached (built by a concurrent run): $bin_dir"
  echo "$bin_dir"
  exit 0
fi

# Reproducible, module-pinned builds: never edit go.mod/go.sum, ignore any
# go.work above us, static binaries.
export GOFLAGS="-mod=readonly"
export GOWORK=off
export CGO_ENABLED=0

staging="$key_dir/bin.tmp.$$"
rm -rf "$staging"
mkdir -p "$staging"
trap 'rm -rf "$staging"' EXIT

start=$SECONDS

kube_version="$(cd "$here/apiserver" && "$GO" list -m -f '{{.Version}}' k8s.io/kubernetes)"
etcd_version="$(cd "$here/etcd" && "$GO" list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
[[ "$kube_version" =~ ^v([0-9]+)\.([0-9]+)\. ]] || die "unexpected k8s.io/kubernetes version '$kube_version'"
kube_major="${BASH_REMATCH[1]}"
kube_minor="${BASH_REMATCH[2]}"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# Same version stamping as Kubernetes' hack/lib/version.sh, so /version reports
# the real release instead of v0.0.0-master.
kver=k8s.io/component-base/version
kube_ldflags="-s -w -X $kver.gitVersion=$kube_version -X $kver.gitMajor=$kube_major -X $kver.gitMinor=$kube_minor -X $kver.gitTreeState=clean -X $kver.buildDate=$build_date"
kube_ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$kube_version -X k8s.io/client-go/pkg/version.gitMajor=$kube_major -X k8s.io/client-go/pkg/version.gitMinor=$kube_minor"

log "building etcd $etcd_version (Go $("$GO" env GOVERSION), $goos/$goarch) ..."
(cd "$here/etcd" && "$GO" build -trimpath -ldflags '-s -w' -o "$staging/etcd" go.etcd.io/etcd/server/v3) >&2 \
  || die "etcd build failed"
log "etcd built after $((SECONDS - start))s"

log "building kube-apiserver $kube_version (the first build takes several minutes) ..."
(cd "$here/apiserver" && "$GO" build -trimpath -ldflags "$kube_ldflags" -o "$staging/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver) >&2 \
  || die "kube-apiserver build failed"
log "kube-apiserver built after $((SECONDS - start))s"

cat >"$staging/VERSIONS" <<EOF
kube-apiserver $kube_version
etcd $etcd_version
go $("$GO" env GOVERSION) $goos/$goarch
built $build_date
EOF

rm -rf "$bin_dir"
mv "$staging" "$bin_dir"
trap - EXIT
touch "$key_dir/.complete"
log "done in $((SECONDS - start))s: $bin_dir"
echo "$bin_dir"
