#!/usr/bin/env bash
# Build the legacy example: `./build.sh [TAG]` (default task-api-example/legacy:dev).
# First the legacy image as it was (legacy/, tagged <name>-old:<tag>), then the migrated image on top of it.
# Nothing is pulled: FROM scratch plus Debian's static busybox (package busybox-static).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tag="${1:-task-api-example/legacy:dev}"
old="${LEGACY_TAG:-${tag%:*}-old:${tag##*:}}"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
mkdir "$context/legacy" "$context/migrated"
cp /bin/busybox "$context/legacy/busybox"
cp "$here/legacy/Dockerfile" "$here/legacy/process.sh" "$context/legacy/"
/usr/bin/docker build --quiet --tag "$old" "$context/legacy" >/dev/null
cp "$here/Dockerfile" "$here/processing-container.json" "$context/migrated/"
/usr/bin/docker build --quiet --build-arg "LEGACY_IMAGE=$old" --tag "$tag" "$context/migrated"
