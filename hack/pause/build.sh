#!/usr/bin/env bash
# Builds the test bed's pause image from hack/pause (static C binary in a FROM scratch image) with the
# Docker engine and saves it as a docker-archive tarball that containerd can import.
#
# Usage: hack/pause/build.sh OUT_DIR
# Prints the image reference. The tag is a hash of the sources, so a cached tarball for the same sources
# is reused and a changed pause.c gets a new tag (containerd never runs a stale sandbox image).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT_DIR}
docker=/usr/bin/docker
hash=$(cat "$here/pause.c" "$here/Dockerfile" | sha256sum | cut -c1-12)
ref="localhost/task-api/pause:$hash"
tar="$out/pause-$hash.tar"
if [ -s "$tar" ]; then echo "$ref"; exit 0; fi
mkdir -p "$out"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
gcc -Os -static -s -Wall -Wextra -Werror -o "$ctx/pause" "$here/pause.c"
cp "$here/Dockerfile" "$ctx/"
"$docker" build -q -t "$ref" "$ctx" >/dev/null
"$docker" save "$ref" -o "$tar.tmp"
mv "$tar.tmp" "$tar"
echo "$ref"
