#!/usr/bin/env bash
# `make image-push`: tags task-api-operator:dev (IMAGE) as 127.0.0.1:5000/task-api/operator:dev (PUSH_IMAGE) and
# pushes it to the test bed registry. Credentials come from the test bed state dir (or REGISTRY_USER /
# REGISTRY_PASSWORD); the login goes into a throwaway DOCKER_CONFIG, so no password is left in ~/.docker.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
image=${IMAGE:-task-api-operator:${TESTBED_PROFILE:-dev}}  # as hack/image/build.sh names it
target=${PUSH_IMAGE:-$REGISTRY_ADDR/task-api/operator:dev}
case $target in
  127.*|localhost[:/]*) ;;
  *) echo "[image] error: PUSH_IMAGE='$target' is not on a loopback registry; traffic stays on this machine" >&2; exit 1 ;;
esac
"$DOCKER" image inspect "$image" >/dev/null 2>&1 || {
  echo "[image] error: image $image not found; run 'make image' first" >&2; exit 1; }
registry_credentials

config=$(mktemp -d)
trap 'rm -rf "$config"' EXIT
export DOCKER_CONFIG=$config
# (docker warns that the throwaway config stores the password unencrypted: it is deleted on exit.)
printf '%s' "$REGISTRY_PASSWORD" | "$DOCKER" login -u "$REGISTRY_USER" --password-stdin "${target%%/*}" \
  >/dev/null 2>"$config/login.err" || {
  grep -v -i 'warning\|credential helper\|credentials-store\|^$' "$config/login.err" >&2
  echo "[image] error: login to ${target%%/*} as '$REGISTRY_USER' failed" >&2; exit 1; }
"$DOCKER" tag "$image" "$target"
"$DOCKER" push -q "$target" >/dev/null 2>"$config/push.err" || {
  cat "$config/push.err" >&2; echo "[image] error: push of $target failed" >&2; exit 1; }
digest=$("$DOCKER" image inspect -f '{{join .RepoDigests " "}}' "$target" | tr ' ' '\n' | grep "^${target%:*}@" | head -n1)
echo "[image] pushed $target (${digest#*@})" >&2
echo "$target"
