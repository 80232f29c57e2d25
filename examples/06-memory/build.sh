#!/usr/bin/env bash
# Build the memory example image: `./build.sh [TAG]` (default task-api-example/memory:dev). Nothing is pulled.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tag="${1:-task-api-example/memory:dev}"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp /bin/busybox "$context/busybox"
cp -r "$here/Dockerfile" "$here/processing-container.json" "$here/scripts" "$context/"
/usr/bin/docker build --quiet --tag "$tag" "$context"
