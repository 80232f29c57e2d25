#!/usr/bin/env bash
# Build the guide pipeline's image: `./build.sh [TAG]` (default task-api-example/guide:dev). Nothing is pulled.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tag="${1:-task-api-example/guide:dev}"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp /bin/busybox "$context/busybox"
cp -r "$here/image/Dockerfile" "$here/image/processing-container.json" "$here/image/scripts" "$context/"
/usr/bin/docker build --quiet --tag "$tag" "$context"
