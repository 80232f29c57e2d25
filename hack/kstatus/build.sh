#!/usr/bin/env bash
# Builds hack/kstatus (sigs.k8s.io/cli-utils' kstatus, pinned in go.mod) from the Go module proxy into
# ~/.cache/task-api/kstatus/<hash of the sources and the Go version>/kstatus, unless that is there already.
# Prints the binary's path. Used by the GitOps tests (tests/e2e/test_gitops.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
command -v go >/dev/null || { echo "[kstatus] error: go not found in PATH (Go >= 1.24 is needed)" >&2; exit 1; }
key=$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" <(go env GOVERSION) | sha256sum | cut -c1-16)
out=${TASK_API_CACHE:-$HOME/.cache/task-api}/kstatus/$key
if [ ! -x "$out/kstatus" ]; then
  echo "[kstatus] building sigs.k8s.io/cli-utils kstatus ($key)" >&2
  mkdir -p "$out"
  (cd "$here" && go build -trimpath -ldflags "-s -w" -o "$out/kstatus.tmp.$$" .)
  mv "$out/kstatus.tmp.$$" "$out/kstatus"
fi
echo "$out/kstatus"
