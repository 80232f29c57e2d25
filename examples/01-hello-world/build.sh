#!/usr/bin/env bash
# Build the example image locally: `./build.sh [TAG]` (default task-api-example/hello-world:dev).
# Nothing is pulled: the image is FROM scratch plus Debian's static busybox (package busybox-static).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tag="${1:-task-api-example/hello-world:dev}"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp /bin/busybox "$context/busybox"
cp -r "$here/Dockerfile" "$here/processing-container.json" "$here/scripts" "$context/"
/usr/bin/docker build --quiet --tag "$tag" "$context"
