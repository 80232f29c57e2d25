#!/usr/bin/env bash
# `make image`: builds the operator image task-api-operator:dev (override with IMAGE=...) on this machine.
#
#  1. the base image, from Debian packages (hack/image/build-base.sh; cached);
#  2. wheels on the host: the dependency wheels of '.[operator]', pinned to the versions installed in the project
#     venv (the versions the tests ran against) and cached by a hash of those pins; then the project wheel, built
#     offline from the cached build backend wheels;
#  3. `docker build` of images/operator/Dockerfile with that generated context (no network inside the build).
#
# Then checks that the image imports task_api, kopf and kubernetes and runs as uid 65532.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
docker=/usr/bin/docker
[ -x "$docker" ] || docker=$(command -v docker)
# A private test bed (TESTBED_PROFILE) gets its own local tag, so parallel sessions never push each other's build.
image=${IMAGE:-task-api-operator:${TESTBED_PROFILE:-dev}}
venv=${VENV:-.venv}
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
cache=${TASK_API_CACHE:-$HOME/.cache/task-api}/images
context=$root/build/operator-image
log() { printf '[image] %s\n' "$*" >&2; }
start=$SECONDS

base=$(hack/image/build-base.sh)

# Pins: what the venv has, minus the project itself (installed editable) — the image runs what was tested.
pins=$(mktemp); trap 'rm -f "$pins"' EXIT
"${pip[@]}" freeze --exclude-editable | grep -viE '^(task-api|task_api)[ =@]' | LC_ALL=C sort >"$pins"
pyver=$("$venv/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
deps_key=$(cat pyproject.toml "$pins" <(echo "$pyver") | sha256sum | cut -c1-16)
deps=$cache/wheels-$deps_key
if [ ! -f "$deps/.complete" ] || [ ! -x "$deps/buildenv/bin/hatchling" ]; then
  log "building dependency wheels for '.[operator]' ($deps_key; needs PyPI from the host)"
  rm -rf "$deps" && mkdir -p "$deps/run" "$deps/build"
  # Resolving '.[operator]' builds a throwaway project wheel too; it is removed just below.
  "${pip[@]}" wheel -c "$pins" -w "$deps/run" '.[operator]'
  rm -f "$deps"/run/task_api-*.whl
  # The build backend in a venv of its own, so the project wheel is built offline, and fast, from now on.
  "${pip[@]}" download -d "$deps/build" 'hatchling>=1.21'
  "$venv/bin/python" -m venv "$deps/buildenv"
  "$deps/buildenv/bin/python" -m pip install --disable-pip-version-check -q --no-index --find-links "$deps/build" 'hatchling>=1.21'
  touch "$deps/.complete"
else
  log "dependency wheels cached ($deps_key)"
fi

rm -rf "$context" && mkdir -p "$context/deps" "$context/project"
cp images/operator/Dockerfile "$context/"
cp "$deps"/run/*.whl "$context/deps/"
# hatchling writes reproducible wheels (fixed timestamps), so an unchanged project keeps Docker's layer cache.
"$deps/buildenv/bin/hatchling" build -t wheel -d "$context/project" >/dev/null

revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || revision="$revision-dirty"
version=$("$venv/bin/python" -c 'import task_api; print(task_api.__version__)')
log "docker build $image (base $base)"
"$docker" build -q -t "$image" --build-arg "BASE=$base" --build-arg "VERSION=$version" \
  --label org.opencontainers.image.title=task-api-operator \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.revision="$revision" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --label io.task-api.base="$base" \
  "$context" >/dev/null

# Smoke check: the packages import (with the entrypoint overridden) and the default user is not root.
"$docker" run --rm --network none --entrypoint python "$image" -c 'import task_api.controller.app, task_api.measure.measuring' || {
  echo "[image] error: $image cannot import the operator and the measuring module" >&2; exit 1; }
uid=$("$docker" run --rm --network none --entrypoint id "$image" -u)
[ "$uid" = 65532 ] || { echo "[image] error: $image runs as uid $uid, want 65532" >&2; exit 1; }
size=$("$docker" image inspect -f '{{.Size}}' "$image")
log "built $image in $((SECONDS - start)) s, $((size / 1000000)) MB"
