#!/usr/bin/env bash
# Deploys the operator and its node agent into the project's test bed (manifests/overlays/testbed), or removes them.
#
#   hack/deploy-testbed.sh                 render the overlay with the test bed's values, apply it, wait until the
#                                          Deployment is Available
#   hack/deploy-testbed.sh --delete        remove everything the overlay installs (CRDs too, and so every TaskRun
#                                          and ProcessingContainer); add --keep-crds to leave the CRDs
#   hack/deploy-testbed.sh --render DIR    only write the rendered kustomization into DIR (nothing is applied;
#                                          DIR then holds the registry credentials: keep it private)
#   --namespaces NS[,NS...]                with the above: namespaced mode — the operator watches only these
#                                          namespaces (TASK_API_NAMESPACES) and holds its rights only there (one
#                                          RoleBinding each, manifests/components/namespaced; no ClusterRoleBinding).
#                                          The namespaces must exist. Without it, the cluster-wide binding is
#                                          restored and namespaced mode's RoleBindings are removed.
#   --host-path-roots DIR[,DIR...]         with the above: TASK_API_ALLOWED_HOST_PATH_ROOTS (absolute node
#                                          directories TaskRuns may read through hostPath; default none)
#
# Values filled in: the API server's host address and port (the test bed's settings, hack/testbed/lib.sh: NODE_IP,
# APISERVER_PORT; override with TESTBED_APISERVER_HOST / TESTBED_APISERVER_PORT), the pull secret task-api-registry
# built from the test bed registry's credentials (or REGISTRY_USER / REGISTRY_PASSWORD), and the image pinned to the
# digest `make image-push` pushed, so a new push rolls the operator. Credentials only ever go to a private temporary
# directory removed on exit; they are never printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=image/lib.sh
source "$root/hack/image/lib.sh"

mode=apply keep_crds=0 render_dir="" watch_namespaces="" host_path_roots=""
while [ $# -gt 0 ]; do
  case $1 in
    --delete) mode=delete ;;
    --keep-crds) keep_crds=1 ;;
    --render) mode=render; render_dir=${2:?--render needs a directory}; shift ;;
    --namespaces) watch_namespaces=${2:?--namespaces needs a comma-separated list}; shift ;;
    --host-path-roots) host_path_roots=${2:?--host-path-roots needs a comma-separated list of directories}; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) echo "[deploy] error: unknown argument '$1' (allowed: --delete, --keep-crds, --render DIR, --namespaces NS, --host-path-roots DIRS, --help)" >&2; exit 2 ;;
  esac
  shift
done

namespace=task-api-system
agent_namespace=task-api-node-agent
image_repo=$REGISTRY_ADDR/task-api/operator
overlay_repo=127.0.0.1:5000/task-api/operator
api_host=${TESTBED_APISERVER_HOST:-${NODE_IP:-}}
api_port=${TESTBED_APISERVER_PORT:-${APISERVER_PORT:-6443}}
kubectl=${KUBECTL:-}
if [ -z "$kubectl" ]; then
  if [ -n "${KUBE_BIN:-}" ] && [ -x "$KUBE_BIN/kubectl" ]; then kubectl=$KUBE_BIN/kubectl; else kubectl=$(command -v kubectl || true); fi
fi
[ -n "$kubectl" ] || { echo "[deploy] error: no kubectl: build the test bed binaries (hack/build-binaries.sh) or set KUBECTL" >&2; exit 1; }
kubeconfig=${KUBECONFIG:-${KUBECONFIG_ADMIN:-$TESTBED_DIR/kubeconfig}}
k() { "$kubectl" --kubeconfig "$kubeconfig" "$@"; }
log() { printf '[deploy] %s\n' "$*" >&2; }

if ! [[ $api_host =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ || $api_host =~ ^[A-Za-z0-9.-]+$ ]]; then
  echo "[deploy] error: API server host '$api_host' (TESTBED_APISERVER_HOST or the test bed's NODE_IP) is not a host name or IPv4 address" >&2
  exit 1
fi
if [ -n "$watch_namespaces" ] && ! [[ $watch_namespaces =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(,[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ ]]; then
  echo "[deploy] error: --namespaces '$watch_namespaces' is not a comma-separated list of namespace names (lower-case letters, digits, '-')" >&2
  exit 2
fi
[[ $api_port =~ ^[0-9]+$ ]] && if [ -n "$host_path_roots" ] && ! [[ $host_path_roots =~ ^/[A-Za-z0-9._/-]*[A-Za-z0-9._-](,/[A-Za-z0-9._/-]*[A-Za-z0-9._-])*$ ]]; then
  echo "[deploy] error: --host-path-roots '$host_path_roots' is not a comma-separated list of absolute directories (letters, digits, '.', '_', '-', '/'; no trailing '/')" >&2
  exit 2
fi
[ "$api_port" -ge 1 ] && [ "$api_port" -le 65535 ] || {
  echo "[deploy] error: API server port '$api_port' (TESTBED_APISERVER_PORT or APISERVER_PORT) is not a port number 1-65535" >&2
  exit 1; }

# Writes the kustomization that layers the test bed's values over manifests/overlays/testbed into $1.
render() {
  local dir=$1 with_secret=$2 image_ref=$image_repo:dev digest
  mkdir -p "$dir" && chmod 700 "$dir"
  # Pin the digest we pushed when Docker knows it, so the pod template changes with every push.
  digest=$("$DOCKER" image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$image_repo:dev" 2>/dev/null |
           grep "^$image_repo@sha256:" | head -n1 || true)
  [ -n "$digest" ] && image_ref=$digest
  {
    echo "# Rendered by hack/deploy-testbed.sh; temporary."
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources:"
    # kustomize refuses an absolute path here; a relative one from the temporary directory is fine.
    echo "- $(realpath --relative-to="$dir" "$root/manifests/overlays/testbed")"
    if [ -n "$watch_namespaces" ]; then
      echo "- rolebindings.yaml"
      echo "components:"
      echo "- $(realpath --relative-to="$dir" "$root/manifests/components/namespaced")"
    fi
    echo "images:"
    # Matched by the name manifests/overlays/testbed gives the image; a private bed's registry replaces it.
    echo "- name: $overlay_repo"
    echo "  newName: $image_repo"
    if [ "$image_ref" != "$image_repo:dev" ]; then echo "  digest: ${image_ref#*@}"; else echo "  newTag: dev"; fi
    echo "patches:"
    # A strategic merge patch: env entries merge by name, replacing the overlay's placeholders.
    echo "- patch: |-"
    echo "    apiVersion: apps/v1"
    echo "    kind: Deployment"
    echo "    metadata: {name: task-api-operator, namespace: $namespace}"
    echo "    spec:"
    echo "      template:"
    echo "        spec:"
    echo "          containers:"
    echo "          - name: operator"
    echo "            env:"
    echo "            - {name: KUBERNETES_SERVICE_HOST, value: \"$api_host\"}"
    echo "            - {name: KUBERNETES_SERVICE_PORT, value: \"$api_port\"}"
    # The node agent: the same API server address, and the bed's kubelet cgroup root (where kubepods lives).
    echo "- patch: |-"
    echo "    apiVersion: apps/v1"
    echo "    kind: DaemonSet"
    echo "    metadata: {name: task-api-node-agent, namespace: $agent_namespace}"
    echo "    spec:"
    echo "      template:"
    echo "        spec:"
    echo "          containers:"
    echo "          - name: agent"
    echo "            env:"
    echo "            - {name: KUBERNETES_SERVICE_HOST, value: \"$api_host\"}"
    echo "            - {name: KUBERNETES_SERVICE_PORT, value: \"$api_port\"}"
    echo "            - {name: TASK_API_AGENT_CGROUP_ROOT, value: \"${CGROUP_ROOT:-/}\"}"
    if [ -n "${TESTBED_OPERATOR_PORT:-}" ]; then
      # A private test bed (TESTBED_PROFILE) runs its operator on a port of its own: every bed's operator shares
      # the host's network.
      echo "- patch: |-"
      echo "    apiVersion: v1"
      echo "    kind: ConfigMap"
      echo "    metadata: {name: task-api-config, namespace: $namespace}"
      echo "    data: {TASK_API_METRICS_PORT: \"$TESTBED_OPERATOR_PORT\"}"
      echo "- target: {kind: Deployment, name: task-api-operator}"
      echo "  patch: |-"
      for probe in startupProbe livenessProbe readinessProbe; do
        echo "    - {op: replace, path: /spec/template/spec/containers/0/$probe/httpGet/port, value: $TESTBED_OPERATOR_PORT}"
      done
    fi
    if [ -n "$watch_namespaces" ]; then
      echo "- patch: |-"
      echo "    apiVersion: v1"
      echo "    kind: ConfigMap"
      echo "    metadata: {name: task-api-config, namespace: $namespace}"
      echo "    data: {TASK_API_NAMESPACES: \"$watch_namespaces\"}"
    fi
    # The registries this bed's operator may reach on the host's loopback, over plain HTTP: the bed's own, and the
    # port where tests/security runs its misbehaving registry (the operator's port + 100). Nothing else on loopback.
    local registries="$REGISTRY_ADDR,127.0.0.1:$(( ${TESTBED_OPERATOR_PORT:-19080} + 100 ))"
    echo "- patch: |-"
    echo "    apiVersion: v1"
    echo "    kind: ConfigMap"
    echo "    metadata: {name: task-api-config, namespace: $namespace}"
    echo "    data: {TASK_API_INSECURE_REGISTRIES: \"$registries\", TASK_API_EGRESS_ALLOW_PRIVATE: \"$registries\"}"
    if [ -n "$host_path_roots" ]; then
      echo "- patch: |-"
      echo "    apiVersion: v1"
      echo "    kind: ConfigMap"
      echo "    metadata: {name: task-api-config, namespace: $namespace}"
      echo "    data: {TASK_API_ALLOWED_HOST_PATH_ROOTS: \"$host_path_roots\"}"
    fi
    echo "replacements:"
    # The admission policy reads the final namespaces and roots (base/admission-policy-replacement.yaml ran before).
    local key variable
    for key in TASK_API_NAMESPACES:served TASK_API_ALLOWED_HOST_PATH_ROOTS:roots TASK_API_ALLOW_ROOT_NAMESPACES:rootNamespaces; do
      variable=${key#*:}
      echo "- source: {kind: ConfigMap, name: task-api-config, fieldPath: data.${key%%:*}}"
      echo "  targets:"
      echo "  - select: {kind: ValidatingAdmissionPolicy, name: task-api-operator-pods}"
      echo "    fieldPaths:"
      echo "    - spec.variables.[name=$variable].expression"
      echo "    options: {delimiter: \"'\", index: 1}"
    done
    echo "- source: {kind: Deployment, name: task-api-operator, fieldPath: 'spec.template.spec.containers.[name=operator].image'}"
    echo "  targets:"
    echo "  - select: {kind: ConfigMap, name: task-api-config}"
    echo "    fieldPaths: [data.TASK_API_MEASURE_IMAGE]"
    if [ "$with_secret" = 1 ]; then
      echo "secretGenerator:"
      echo "- name: task-api-registry"
      echo "  namespace: $namespace"
      echo "  type: kubernetes.io/dockerconfigjson"
      echo "  files: [.dockerconfigjson=dockerconfig.json]"
      echo "  options: {disableNameSuffixHash: true}"
      echo "- name: task-api-registry"
      echo "  namespace: $agent_namespace"
      echo "  type: kubernetes.io/dockerconfigjson"
      echo "  files: [.dockerconfigjson=dockerconfig.json]"
      echo "  options: {disableNameSuffixHash: true}"
    fi
  } >"$dir/kustomization.yaml"
  if [ -n "$watch_namespaces" ]; then
    local ns
    : >"$dir/rolebindings.yaml"
    for ns in ${watch_namespaces//,/ }; do
      cat >>"$dir/rolebindings.yaml" <<EOF_RB
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: task-api-operator
  namespace: $ns
  labels: {app.kubernetes.io/name: task-api-operator, app.kubernetes.io/component: operator, task-api.io/rbac: namespaced}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: task-api-operator}
subjects:
- {kind: ServiceAccount, name: task-api-operator, namespace: $namespace}
EOF_RB
    done
  fi
  if [ "$with_secret" = 1 ]; then
    local auth
    auth=$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASSWORD" | base64 -w0)
    (umask 077; printf '{"auths":{"%s":{"auth":"%s"}}}' "$REGISTRY_ADDR" "$auth" >"$dir/dockerconfig.json")
  fi
  # Refuse to apply anything that still carries a placeholder.
  local out
  out=$("$kubectl" kustomize "$dir") || { echo "[deploy] error: kustomize failed on $dir" >&2; return 1; }
  if grep -q 'TESTBED_APISERVER_' <<<"$out"; then
    echo "[deploy] error: placeholders left in the rendered overlay (env names in overlays/testbed changed?)" >&2
    return 1
  fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/task-api-deploy.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Applying or deleting holds the test bed's lock (hack/testbed/lib.sh), as up.sh and restart.sh do: a chaos
# scenario that holds it — an outage, or the leader-failover scenario running the operator at two replicas — is not
# undone under it by another session's deploy, which waits instead. A caller holding it already (TESTBED_LOCKED)
# goes on.
lock_bed() { if declare -F take_lock >/dev/null; then take_lock; fi; }

case $mode in
  render)
    registry_credentials
    render "$render_dir" 1
    log "rendered into $render_dir (apply with: kubectl apply -k $render_dir)"
    ;;
  apply)
    registry_credentials
    lock_bed
    render "$work/k" 1
    for ns in ${watch_namespaces//,/ }; do
      k get namespace "$ns" >/dev/null 2>&1 ||
        { echo "[deploy] error: --namespaces: namespace '$ns' does not exist; create it first (its RoleBinding goes there)" >&2; exit 1; }
    done
    log "applying manifests/overlays/testbed (API server $api_host:$api_port, image from $REGISTRY_ADDR${watch_namespaces:+, namespaced: $watch_namespaces})"
    # CRDs and the namespace first, so the rest never races their creation.
    "$kubectl" kustomize "$work/k" >"$work/all.yaml"
    # The pod shares this host's network (the test bed's only node): a port already taken here would only show
    # up later as a crash loop, so say so now. Our own running operator holding it is fine (it gets replaced).
    port=$(sed -n 's/^ *TASK_API_METRICS_PORT: "\{0,1\}\([0-9]*\)"\{0,1\}$/\1/p' "$work/all.yaml" | head -n1)
    if [ -n "$port" ] && ! k -n "$namespace" get deployment task-api-operator >/dev/null 2>&1 &&
       [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
      echo "[deploy] error: port $port (TASK_API_METRICS_PORT of manifests/overlays/testbed) is already in use on this host:" >&2
      ss -Hltnp "sport = :$port" >&2 || true
      exit 1
    fi
    # CRDs first, and wait until their storage serves lists: an Established CRD can still answer 429 "storage is
    # (re)initializing" for a moment, which an operator started alongside would log as failed watch attempts.
    awk 'BEGIN{RS="\n---\n"; ORS="\n---\n"} /(^|\n)kind: CustomResourceDefinition\n/' "$work/all.yaml" >"$work/crds.yaml"
    k apply --server-side --force-conflicts -f "$work/crds.yaml" >/dev/null
    k wait --for=condition=Established --timeout=60s crd/taskruns.task-api.io crd/processingcontainers.task-api.io >/dev/null
    for _ in $(seq 1 60); do
      k get taskruns.task-api.io,processingcontainers.task-api.io -A --request-timeout=5s >/dev/null 2>&1 && break
      sleep 0.5
    done
    config_before=$(k -n "$namespace" get configmap task-api-config -o jsonpath='{.data}' 2>/dev/null || true)
    k apply --server-side --force-conflicts -f "$work/all.yaml" >/dev/null
    # The operator reads its configuration at start (envFrom): a changed ConfigMap alone rolls nothing.
    config_after=$(k -n "$namespace" get configmap task-api-config -o jsonpath='{.data}')
    if [ -n "$config_before" ] && [ "$config_before" != "$config_after" ]; then
      log "task-api-config changed: restarting the operator"
      k -n "$namespace" rollout restart deployment/task-api-operator >/dev/null
    fi
    # apply adds and changes but never removes: take away the binding of the other mode.
    if [ -n "$watch_namespaces" ]; then
      k delete clusterrolebinding task-api-operator --ignore-not-found >/dev/null
      for binding in $(k get rolebindings -A -l task-api.io/rbac=namespaced -o jsonpath='{range .items[*]}{.metadata.namespace}{"\n"}{end}'); do
        [[ ",$watch_namespaces," == *",$binding,"* ]] || k -n "$binding" delete rolebinding task-api-operator --ignore-not-found >/dev/null
      done
    else
      k delete rolebindings -A -l task-api.io/rbac=namespaced --ignore-not-found >/dev/null
    fi
    if ! k -n "$namespace" rollout status deployment/task-api-operator --timeout="${DEPLOY_TIMEOUT:-180s}" >&2 ||
       ! k -n "$namespace" wait --for=condition=Available --timeout=10s deployment/task-api-operator >/dev/null; then
      log "the operator did not become Available; pods and recent events:"
      k -n "$namespace" get pods -o wide >&2 || true
      k -n "$namespace" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 15 >&2 || true
      k -n "$namespace" logs deployment/task-api-operator --tail=30 >&2 2>/dev/null || true
      exit 1
    fi
    # A replaced operator pod keeps reconciling with its old settings (it may still hold the Lease) until it has
    # terminated; "rollout status" does not wait for that, and a run created meanwhile would meet the old settings.
    for _ in $(seq 1 120); do
      terminating=$(k -n "$namespace" get pods -l app.kubernetes.io/name=task-api-operator,app.kubernetes.io/component=operator \
        -o jsonpath='{range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name}{"\n"}{end}' 2>/dev/null || true)
      [ -z "$terminating" ] && break
      sleep 0.5
    done
    if ! k -n "$agent_namespace" rollout status daemonset/task-api-node-agent --timeout="${DEPLOY_TIMEOUT:-180s}" >&2; then
      log "the node agent did not start; pods and recent events:"
      k -n "$agent_namespace" get pods -o wide >&2 || true
      k -n "$agent_namespace" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 15 >&2 || true
      k -n "$agent_namespace" logs daemonset/task-api-node-agent --tail=30 >&2 2>/dev/null || true
      exit 1
    fi
    log "task-api-operator is Available in $namespace, the node agent runs in $agent_namespace"
    ;;
  delete)
    lock_bed
    render "$work/k" 0
    "$kubectl" kustomize "$work/k" >"$work/all.yaml"
    if [ "$keep_crds" = 1 ]; then
      # Drop the CustomResourceDefinition documents from what gets deleted.
      awk 'BEGIN{RS="\n---\n"; ORS="\n---\n"} !/(^|\n)kind: CustomResourceDefinition\n/' "$work/all.yaml" >"$work/keep.yaml"
      mv "$work/keep.yaml" "$work/all.yaml"
    fi
    log "deleting the operator from the test bed$([ "$keep_crds" = 1 ] && echo ' (keeping the CRDs)')"
    k delete --ignore-not-found --wait=true --timeout="${DEPLOY_TIMEOUT:-180s}" -f "$work/all.yaml" >/dev/null
    log "removed"
    ;;
esac
