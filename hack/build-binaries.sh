#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubectl and etcd
# from upstream Go modules into a cache outside the repo, keyed by version.
# Idempotent: a complete cache entry is reused; prints where the binaries are.
#
#   hack/build-binaries.sh            # etcd and Kubernetes (every test bed)
#   hack/build-binaries.sh --kwok     # also kwok (the fleet bed, TESTBED_KIND=fleet)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${TASK_API_CACHE:-$HOME/.cache/task-api}
kube_out=$cache/kubernetes/$KUBE_VERSION
etcd_out=$cache/etcd/$ETCD_VERSION
kwok_out=$cache/kwok/$KWOK_VERSION
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[build] %s\n' "$*" >&2; }
die() { printf '[build] error: %s\n' "$*" >&2; exit 1; }

# k8s.io/kubernetes v1.34 needs Go >= 1.24 (its go.mod says "go 1.24.0"; tool lines need 1.24 too).
# GOTOOLCHAIN=local: never download a toolchain, use the one installed.
check_go() {
  command -v go >/dev/null || die "go not found in PATH; Go >= 1.24 is needed to build the test bed's binaries"
  local v minor
  v=$(go env GOVERSION)
  minor=${v#go1.}; minor=${minor%%.*}
  [[ $v == go1.* && $minor =~ ^[0-9]+$ && $minor -ge 24 ]] ||
    die "$(command -v go) is $v; Go >= 1.24 is needed to build Kubernetes $KUBE_VERSION"
}

kube_bins=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)

build_kube() {
  local complete=1 b
  for b in "${kube_bins[@]}"; do [ -x "$kube_out/$b" ] || complete=0; done
  if [ $complete = 1 ]; then log "kubernetes $KUBE_VERSION cached in $kube_out"; return; fi
  check_go
  log "building kubernetes $KUBE_VERSION (about 4 minutes on 2 cores with an empty Go build cache)"
  local start=$SECONDS minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  local ld="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  local tmp=$kube_out.tmp.$$
  mkdir -p "$tmp"
  local pkgs=()
  for b in "${kube_bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  (cd "$here/build/kubernetes" && go build -trimpath -ldflags "-s -w $ld" -o "$tmp/" "${pkgs[@]}")
  rm -rf "$kube_out" && mv "$tmp" "$kube_out"
  echo "$((SECONDS - start))" > "$kube_out/.build-seconds"
  log "kubernetes built in $((SECONDS - start)) s"
}

build_etcd() {
  if [ -x "$etcd_out/etcd" ]; then log "etcd $ETCD_VERSION cached in $etcd_out"; return; fi
  check_go
  log "building etcd $ETCD_VERSION"
  local start=$SECONDS tmp=$etcd_out.tmp.$$
  mkdir -p "$tmp"
  (cd "$here/build/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$etcd_out" && mv "$tmp" "$etcd_out"
  echo "$((SECONDS - start))" > "$etcd_out/.build-seconds"
  log "etcd built in $((SECONDS - start)) s"
}

# kwok from its own Go module (sigs.k8s.io/kwok), like the Kubernetes binaries: hack/build/kwok pins the version
# and go.sum the checksums of every module it needs.
build_kwok() {
  if [ -x "$kwok_out/kwok" ]; then log "kwok $KWOK_VERSION cached in $kwok_out"; return; fi
  grep -q "^require sigs.k8s.io/kwok $KWOK_VERSION\b" "$here/build/kwok/go.mod" ||
    die "hack/build/kwok/go.mod does not require sigs.k8s.io/kwok $KWOK_VERSION (hack/versions.env); update both"
  check_go
  log "building kwok $KWOK_VERSION (about 2 minutes on 2 cores with an empty Go build cache)"
  local start=$SECONDS tmp=$kwok_out.tmp.$$
  mkdir -p "$tmp"
  (cd "$here/build/kwok" && go build -trimpath -ldflags "-s -w" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok)
  rm -rf "$kwok_out" && mv "$tmp" "$kwok_out"
  echo "$((SECONDS - start))" > "$kwok_out/.build-seconds"
  log "kwok built in $((SECONDS - start)) s"
}

kwok=0
for arg in "$@"; do
  case $arg in
    --kwok) kwok=1 ;;
    -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
    *) die "unknown argument '$arg' (allowed: --kwok, --help)" ;;
  esac
done
build_etcd
build_kube
[ $kwok = 0 ] || build_kwok
echo "KUBE_BIN=$kube_out"
echo "ETCD_BIN=$etcd_out"
[ $kwok = 0 ] || echo "KWOK_BIN=$kwok_out"
