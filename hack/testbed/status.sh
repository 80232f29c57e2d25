#!/usr/bin/env bash
# Prints the state of every test bed component and exits 0 only when all answer and the node is Ready.
#
#   hack/testbed/status.sh          # one line per component
#   hack/testbed/status.sh --quiet  # exit status only
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
quiet=0
case ${1:-} in
  "") ;;
  -q | --quiet) quiet=1 ;;
  -h | --help) sed -n '2,5p' "$0"; exit 0 ;;
  *) die "unknown argument '$1' (allowed: --quiet, --help)" ;;
esac
line() { [ $quiet = 1 ] || printf '  %-24s %s\n' "$1" "$2"; }

ok=1
[ $quiet = 1 ] || echo "test bed in $TESTBED_DIR (Kubernetes $KUBE_VERSION, etcd $ETCD_VERSION)"
for c in "${COMPONENTS[@]}"; do
  if ! pid=$(live_pid "$c"); then
    line "$c" "not running"; ok=0
  elif ! "probe_$c" >/dev/null 2>&1; then
    line "$c" "pid $pid, not answering"; ok=0
  else
    line "$c" "pid $pid, healthy"
  fi
done
if [ "$TESTBED_KIND" = fleet ]; then
  if [ $ok = 1 ] && probe_fleet_ready; then
    line "fake nodes" "$(kubectl_admin get nodes -l type=kwok -o name | wc -l) Ready (kwok)"
  else
    line "fake nodes" "not all Ready"; ok=0
  fi
elif [ $ok = 1 ] && probe_node_ready; then
  line "node $NODE_NAME" "Ready ($NODE_IP)"
else
  line "node $NODE_NAME" "not Ready"; ok=0
fi
if [ $ok = 1 ] && [ "$TESTBED_KIND" = node ]; then
  pause=$(sed -n 's/^ *sandbox_image = "\(.*\)"/\1/p' "$CONTAINERD_DIR/config.toml")
  # Captured first: with pipefail, grep -q exiting early could SIGPIPE ctr and fail the check.
  images=$(ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q 2>/dev/null)
  if grep -qxF "$pause" <<<"$images"; then
    line "pause image" "$pause present"
  else
    line "pause image" "$pause MISSING (image GC?); run: hack/testbed/up.sh --fresh"; ok=0
  fi
fi
[ $quiet = 1 ] || line kubeconfig "$KUBECONFIG_ADMIN"
[ $ok = 1 ]
