# shellcheck shell=bash
# Helpers shared by hack/image/push.sh and hack/deploy-testbed.sh. Sourced, never run.

# The test bed's settings (TESTBED_DIR, REGISTRY_ADDR, NODE_IP, APISERVER_PORT, KUBE_BIN, KUBECONFIG_ADMIN)
# come from its own lib.sh when it exists, so there is one source of truth; the fallbacks match its defaults.
_image_hack=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -f "$_image_hack/testbed/lib.sh" ]; then
  # shellcheck source=../testbed/lib.sh
  source "$_image_hack/testbed/lib.sh"
fi
TESTBED_DIR=${TESTBED_DIR:-${TASK_API_TESTBED_DIR:-${TASK_API_STATE:-/var/lib/task-api}/testbed}}
REGISTRY_ADDR=${REGISTRY_ADDR:-${TESTBED_REGISTRY_ADDR:-127.0.0.1:5000}}
DOCKER=${DOCKER:-/usr/bin/docker}
[ -x "$DOCKER" ] || DOCKER=$(command -v docker || echo /usr/bin/docker)

# Sets REGISTRY_USER and REGISTRY_PASSWORD: from the environment when both are set, else from the test bed's
# state dir ($TESTBED_DIR/registry/username and .../password, written by hack/testbed/up.sh). Never prints them.
registry_credentials() {
  if [ -n "${REGISTRY_USER:-}" ] && [ -n "${REGISTRY_PASSWORD:-}" ]; then return 0; fi
  local dir=$TESTBED_DIR/registry
  if [ -s "$dir/username" ] && [ -s "$dir/password" ]; then
    REGISTRY_USER=$(tr -d '\n' <"$dir/username")
    REGISTRY_PASSWORD=$(tr -d '\n' <"$dir/password")
    return 0
  fi
  printf '[image] error: no registry credentials: set REGISTRY_USER and REGISTRY_PASSWORD, or bring the test bed up (hack/testbed/up.sh) so %s/username and password exist\n' "$dir" >&2
  return 1
}
