#!/usr/bin/env bash
# Prints shell exports for using the test bed from a terminal:
#   eval "$(hack/testbed/env.sh)"
# KUBECONFIG (the admin kubeconfig), PATH with the cached kubectl first, and the registry's address.
# The registry password is not printed; it is in $TESTBED_DIR/registry/password (mode 0600).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
printf 'export KUBECONFIG=%q\n' "$KUBECONFIG_ADMIN"
printf 'export PATH=%q:"$PATH"\n' "$KUBE_BIN"
printf 'export TASK_API_TESTBED_DIR=%q\n' "$TESTBED_DIR"
printf 'export TESTBED_REGISTRY=%q\n' "$REGISTRY_ADDR"
