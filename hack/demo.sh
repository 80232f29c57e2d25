#!/usr/bin/env bash
# `make demo`: the main job end to end on the project's test bed — the operator deployed with kustomize, the
# examples' images built and pushed, TaskRuns applied with kubectl, and their results shown.
#
# Namespace task-api-demo (re-created on every run) gets the registry pull secret, a claim `data` holding the
# hello-world example's input files, a claim `results`, and the workspace claim; then examples/02-kubernetes (two
# runs of hello-world) and examples/03-chain (three chained runs) are applied and waited for.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=image/lib.sh
source "$root/hack/image/lib.sh"
registry_credentials
ns=task-api-demo
k() { "$KUBE_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building and pushing the example images"
printf '%s' "$REGISTRY_PASSWORD" | "$DOCKER" login -u "$REGISTRY_USER" --password-stdin "$REGISTRY_ADDR" >/dev/null 2>&1
for example in 01-hello-world 03-chain; do
  ref=$REGISTRY_ADDR/examples/${example#*-}:demo
  "$root/examples/$example/build.sh" "$ref" >/dev/null
  "$DOCKER" push -q "$ref" >/dev/null
  echo "  $ref"
done

say "namespace $ns with claims data, results and task-api-workspace"
k delete namespace "$ns" --ignore-not-found --wait=true >/dev/null
k create namespace "$ns" >/dev/null
auth=$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASSWORD" | base64 -w0)
printf '{"auths":{"%s":{"auth":"%s"}}}' "$REGISTRY_ADDR" "$auth" |
  k -n "$ns" create secret generic task-api-registry --type=kubernetes.io/dockerconfigjson \
    --from-file=.dockerconfigjson=/dev/stdin >/dev/null
claim() {  # claim NAME -> host directory behind a Bound claim (a local PersistentVolume pre-bound to it)
  local name=$1 pv="$ns-$1" dir="$PV_DIR/$ns-$1"
  k delete pv "$pv" --ignore-not-found >/dev/null
  rm -rf "$dir" && mkdir -p "$dir" && chmod 0777 "$dir"
  k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: $pv, labels: {task-api.io/demo: "true"}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: task-api-local
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: $dir, type: Directory}
  claimRef: {namespace: $ns, name: $name}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $name, namespace: $ns}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: task-api-local
  resources: {requests: {storage: 1Gi}}
  volumeName: $pv
YAML
  echo "$dir"
}
data=$(claim data)
results=$(claim results)
workspace=$(claim task-api-workspace)
cp -r "$root/examples/01-hello-world/input" "$data/input"

say "kubectl apply: examples/02-kubernetes and examples/03-chain"
sed "s|IMAGE|$REGISTRY_ADDR/examples/hello-world:demo|" "$root/examples/02-kubernetes/processing-container.yaml" | k -n "$ns" apply -f -
k -n "$ns" apply -f "$root/examples/02-kubernetes/taskruns.yaml"
sed "s|IMAGE|$REGISTRY_ADDR/examples/chain:demo|" "$root/examples/03-chain/chain.yaml" | k -n "$ns" apply -f -

say "waiting for the TaskRuns to finish"
runs=(hello-checksum hello-compress chain-produce chain-relay chain-report)
deadline=$((SECONDS + 300))
for run in "${runs[@]}"; do
  until [[ $(k -n "$ns" get taskrun "$run" -o jsonpath='{.status.conditions[?(@.type=="Succeeded")].status}') =~ ^(True|False)$ ]]; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for $run" >&2; k -n "$ns" get taskruns >&2; exit 1; }
    sleep 1
  done
done

say "kubectl get processingcontainers,taskruns -n $ns"
k -n "$ns" get processingcontainers
echo
k -n "$ns" get taskruns -o wide

say "outputs"
echo "--- results/checksum/checksums.sha256"; cat "$results/checksum/checksums.sha256"
echo "--- results/compress:"; ls -l "$results/compress"
report=$(find "$workspace" -name report.txt | head -n1)
echo "--- chain report ($report)"; cat "$report"
echo "--- memory of hello-checksum, as the scale rule computed it"
k -n "$ns" get taskrun hello-checksum -o jsonpath='{range .status.memory.explanation[*]}  {@}{"\n"}{end}'

failed=$(k -n "$ns" get taskruns -o jsonpath='{range .items[*]}{.status.reason}{"\n"}{end}' | grep -vc '^Succeeded$' || true)
if [ "$failed" != 0 ]; then echo "$failed TaskRun(s) did not succeed" >&2; exit 1; fi
say "demo done: every TaskRun Succeeded"
