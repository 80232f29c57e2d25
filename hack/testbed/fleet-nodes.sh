#!/usr/bin/env bash
# Sets the number of kwok's fake nodes on a fleet bed (TESTBED_KIND=fleet) and waits until every one is Ready and
# schedulable. Nodes are kwok-node-0 … kwok-node-<N-1>; those past N are deleted.
#
#   TESTBED_PROFILE=scale hack/testbed/fleet-nodes.sh 100
#
# Each node carries the annotation kwok.x-k8s.io/node=fake (kwok manages only those) and the label type=kwok. No
# taint: a fleet bed has no real node for other pods to keep to, and a TaskRun cannot say which taints its pod
# tolerates, so a taint would keep task pods off the fleet.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

case ${1:-} in
  -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
esac
want=${1:-$KWOK_NODES}
[[ $want =~ ^[0-9]+$ && $want -ge 1 && $want -le 5000 ]] || die "node count '$want': give a whole number from 1 to 5000"
[ "$TESTBED_KIND" = fleet ] ||
  die "TESTBED_PROFILE=${TESTBED_PROFILE:-} is a bed with a real node; fake nodes live on a fleet bed (TESTBED_PROFILE=scale)"
[ -s "$KUBECONFIG_ADMIN" ] ||
  die "no fleet bed in $TESTBED_DIR; bring it up first: TESTBED_PROFILE=${TESTBED_PROFILE:-scale} make testbed-up"

have=$(kubectl_admin get nodes -l type=kwok -o name | wc -l)
if [ "$have" -lt "$want" ]; then
  for ((i = have; i < want; i++)); do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
EOF
  done | kubectl_admin apply -f - >/dev/null
elif [ "$have" -gt "$want" ]; then
  # shellcheck disable=SC2046  # one name per word
  kubectl_admin delete node --wait=false $(seq -f 'kwok-node-%g' "$want" "$((have - 1))") >/dev/null
fi

# Ready (kwok's node-initialize Stage) and untainted (the node lifecycle controller lifts not-ready).
fleet_schedulable() {
  probe_fleet_ready || return 1
  [ -z "$(kubectl_admin get nodes -l type=kwok -o 'jsonpath={.items[*].spec.taints}')" ]
}
wait_for "$want fake nodes Ready and schedulable" 180 kwok fleet_schedulable
log "$want fake nodes Ready and schedulable"
