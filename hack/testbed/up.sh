#!/usr/bin/env bash
# Brings the single-node Kubernetes test bed up, or leaves it alone when it is already healthy.
#
#   hack/testbed/up.sh           # idempotent: a no-op (a few probes) when everything answers
#   hack/testbed/up.sh --fresh   # always start a new, empty cluster
#
# With TESTBED_KIND=fleet (hack/testbed/profiles/scale.env) the bed has no real node: the control plane, the
# registry and kwok, which simulates nodes (--nodes N, default 10; a healthy bed is scaled to N) and the lifecycle
# of the pods placed on them.
#
# When any component is down or unhealthy — including after a session was SIGKILLed — it first runs
# down.sh (kill by PID file, unmount, remove network and iptables leftovers, wipe cluster state) and then
# starts a new cluster. Kept across runs: certificates, the registry's credentials and stored images, the
# pause image tarball. See docs/testbed.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

fresh=0 nodes=""
while [ $# -gt 0 ]; do
  case $1 in
    --fresh) fresh=1 ;;
    --nodes)
      nodes=${2:-}
      shift
      [[ $nodes =~ ^[0-9]+$ ]] || die "--nodes '$nodes': give a whole number of fake nodes"
      [ "$TESTBED_KIND" = fleet ] || die "--nodes: fake nodes live on a fleet bed (TESTBED_PROFILE=scale), not this one"
      KWOK_NODES=$nodes
      ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (allowed: --fresh, --nodes N, --help)" ;;
  esac
  shift
done
require_root
validate_settings

healthy() {
  local c
  if [ "$(cat "$RUN/fingerprint" 2>/dev/null)" != "$(fingerprint)" ]; then
    [ -f "$RUN/fingerprint" ] && log "the scripts or settings changed since this bed started: restarting it"
    return 1
  fi
  for c in "${COMPONENTS[@]}"; do
    live_pid "$c" >/dev/null && "probe_$c" >/dev/null 2>&1 || return 1
  done
  probe_node_ready
}

# What clients need, in one machine-readable place (tests/fixtures/testbed.py reads it). No secrets here.
describe() {
  local pause_ref="" nodes=0
  [ "$TESTBED_KIND" = fleet ] ||
    pause_ref=$(sed -n 's/^ *sandbox_image = "\(.*\)"/\1/p' "$CONTAINERD_DIR/config.toml")
  [ "$TESTBED_KIND" = node ] || nodes=$(kubectl_admin get nodes -l type=kwok -o name | wc -l)
  cat >"$TESTBED_DIR/testbed.json.tmp" <<EOF
{
  "kind": "$TESTBED_KIND",
  "kwok_nodes": $nodes,
  "kube_version": "$KUBE_VERSION",
  "etcd_version": "$ETCD_VERSION",
  "kubeconfig": "$KUBECONFIG_ADMIN",
  "kubectl": "$KUBE_BIN/kubectl",
  "apiserver": "$APISERVER_URL",
  "etcd": "https://127.0.0.1:$ETCD_PORT",
  "pki_dir": "$PKI",
  "node_name": "$NODE_NAME",
  "node_ip": "$NODE_IP",
  "pod_cidr": "$POD_CIDR",
  "registry": "$REGISTRY_ADDR",
  "registry_username_file": "$TESTBED_DIR/registry/username",
  "registry_password_file": "$TESTBED_DIR/registry/password",
  "storage_class": "task-api-local",
  "pv_dir": "$PV_DIR",
  "pause_image": "$pause_ref"
}
EOF
  mv "$TESTBED_DIR/testbed.json.tmp" "$TESTBED_DIR/testbed.json"
}

"$testbed_hack/install-deps.sh"
# Before take_lock: docker-up.sh may start dockerd, which must never inherit the lock (fd 9).
"$testbed_hack/docker-up.sh" 9>&-
take_lock
if [ "$TESTBED_KIND" = fleet ]; then
  "$testbed_hack/build-binaries.sh" --kwok >/dev/null
else
  "$testbed_hack/build-binaries.sh" >/dev/null
fi

if [ $fresh = 0 ] && healthy; then
  [ -z "$nodes" ] || "$here/fleet-nodes.sh" "$nodes"
  describe
  if [ "$TESTBED_KIND" = fleet ]; then
    log "already up ($(kubectl_admin get nodes -l type=kwok -o name | wc -l) fake nodes Ready); KUBECONFIG=$KUBECONFIG_ADMIN"
  else
    log "already up (node $NODE_NAME Ready); KUBECONFIG=$KUBECONFIG_ADMIN"
  fi
  exit 0
fi
# Anything left from an earlier run (clean or SIGKILLed) goes first; a partial bed is never patched up.
"$here/down.sh" --quiet
mkdir -p "$RUN" "$LOG" "$PV_DIR"
"$here/pki.sh"
conf=$TESTBED_DIR/conf

# --- registry: Debian's docker-registry on loopback, bcrypt htpasswd, credentials generated once ---------------
registry_setup() {
  local dir=$TESTBED_DIR/registry
  mkdir -p "$dir/data"
  (
    umask 077
    [ -s "$dir/username" ] || echo task-api >"$dir/username"
    [ -s "$dir/password" ] || head -c 18 /dev/urandom | base64 -w0 | tr '+/' '-_' >"$dir/password"
    [ -s "$dir/http-secret" ] || head -c 32 /dev/urandom | base64 -w0 >"$dir/http-secret"
    # htpasswd reads the password from stdin (-i) so that it never shows in a process list.
    htpasswd -iBc "$dir/htpasswd" "$(cat "$dir/username")" <"$dir/password" 2>/dev/null
  )
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
  secret: $(cat "$dir/http-secret")
auth:
  htpasswd:
    realm: task-api-testbed
    path: $dir/htpasswd
EOF
  chmod 600 "$dir/config.yml"
}

# --- containerd: a second instance beside Docker's, everything under $CONTAINERD_DIR -----------------------
containerd_setup() {
  local pause_ref=$1
  mkdir -p "$CONTAINERD_DIR"/{root,state,runc,opt} "$CNI_CONF_DIR" "$TESTBED_DIR/cni/ipam"
  cat >"$CONTAINERD_DIR/config.toml" <<EOF
version = 2
root = "$CONTAINERD_DIR/root"
state = "$CONTAINERD_DIR/state"
# Storage drivers we do not use.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  level = "warn"

[plugins."io.containerd.internal.v1.opt"]
  path = "$CONTAINERD_DIR/opt"
# The tasks service needs the v1 runtime loaded (unused: CRI runs io.containerd.runc.v2); keep its
# default root (/run/containerd/runc) away from Docker's containerd.
[plugins."io.containerd.runtime.v1.linux"]
  runtime_root = "$CONTAINERD_DIR/runc-v1"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_ref"
  # This machine lacks CAP_SYS_RESOURCE: without this every sandbox fails to set a negative oom_score_adj.
  restrict_oom_score_adj = true
  tolerate_missing_hugetlb_controller = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$CONTAINERD_DIR/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CNI_CONF_DIR"
    max_conf_num = 1
EOF
  # Written in place before containerd starts: containerd 1.6 ignores files moved into the directory.
  # firewall: Docker sets FORWARD's policy to DROP; the plugin accepts our pods' traffic (and consults
  # CNI-ADMIN first, where net_up keeps it from leaving the machine). No ipMasq: nothing is NATed outward.
  cat >"$CNI_CONF_DIR/10-$CNI_NETWORK.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$TESTBED_DIR/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall", "backend": "iptables"}
  ]
}
EOF
}

# --- network: the node address and the rule that keeps pod traffic on this machine --------------------------
net_up() {
  ip link add "$NODE_IFACE" type bridge
  ip addr add "$NODE_IP/32" dev "$NODE_IFACE"
  ip link set "$NODE_IFACE" up
  # CNI-ADMIN is the firewall plugin's chain for administrator rules, evaluated before it accepts pod traffic.
  iptables -w -N CNI-ADMIN 2>/dev/null || true
  iptables -w -A CNI-ADMIN -s "$POD_CIDR" ! -d "$POD_CIDR" -m comment --comment "$GUARD_COMMENT" \
    -j REJECT --reject-with icmp-net-prohibited
  # The API server and kubelet listen on the node address: only this host and our pods may reach it, even
  # if another machine routed packets for it here.
  iptables -w -I INPUT -d "$NODE_IP/32" ! -s "$POD_CIDR" -m addrtype ! --src-type LOCAL \
    -m comment --comment "$GUARD_COMMENT" -j DROP
}

# kubelet sets these kernel tunables (protectKernelDefaults: false); down.sh restores the saved values.
save_sysctls() {
  [ -f "$TESTBED_DIR/sysctl.orig" ] && return 0
  local k
  for k in kernel.panic kernel.panic_on_oops vm.overcommit_memory; do
    echo "$k=$(sysctl -n "$k")"
  done >"$TESTBED_DIR/sysctl.orig.tmp"
  mv "$TESTBED_DIR/sysctl.orig.tmp" "$TESTBED_DIR/sysctl.orig"
}

kubelet_setup() {
  mkdir -p "$KUBELET_DIR" "$LOG/pods"
  # kubelet requires its cgroupRoot to exist in every hierarchy; a new cpuset cgroup starts with no CPUs
  # and no memory nodes, so it inherits the root's.
  if [ -n "$CGROUP_ROOT" ]; then
    local h
    for h in /sys/fs/cgroup/*/; do
      [ -f "$h/cgroup.procs" ] && mkdir -p "$h${CGROUP_ROOT#/}"
    done
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset$CGROUP_ROOT/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset$CGROUP_ROOT/cpuset.mems"
  fi
  cat >"$conf/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $PKI/kubelet-server.crt
tlsPrivateKeyFile: $PKI/kubelet-server.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
# containerd 1.6 cannot report its cgroup driver; Debian's runs with cgroupfs.
cgroupDriver: cgroupfs
cgroupRoot: ${CGROUP_ROOT:-/}
failSwapOn: false
# Lowering one's own oom_score_adj needs CAP_SYS_RESOURCE, which this machine lacks.
oomScoreAdj: 0
podLogsDir: $LOG/pods
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
# containerd 1.6 does not pin the sandbox image: image GC must never run, or it could delete pause.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
makeIPTablesUtilChains: false
serializeImagePulls: false
shutdownGracePeriod: 0s
maxPods: 110
EOF
}

# --- kwok (fleet only): its configuration and Stages, the bed's settings filled in ----------------------------
# A Go duration as milliseconds (the Stages' defaults); only the forms the profiles use: 250ms, 2s, 1m.
duration_ms() {
  case $1 in
    *ms) echo "${1%ms}" ;;
    *s) echo "$((${1%s} * 1000))" ;;
    *m) echo "$((${1%m} * 60000))" ;;
    *) die "'$1' is not a duration like 500ms, 10s or 2m" ;;
  esac
}
kwok_setup() {
  local start_ms run_ms
  start_ms=$(duration_ms "$KWOK_START_DELAY") run_ms=$(duration_ms "$KWOK_RUN_TIME")
  [[ $start_ms =~ ^[0-9]+$ && $run_ms =~ ^[0-9]+$ ]] ||
    die "TESTBED_KWOK_START_DELAY='$KWOK_START_DELAY' / TESTBED_KWOK_RUN_TIME='$KWOK_RUN_TIME': use 500ms, 10s or 2m"
  sed -e "s|@START_DELAY_MS@|$start_ms|g" -e "s|@RUN_TIME_MS@|$run_ms|g" \
    -e "s|@START_DELAY@|$KWOK_START_DELAY|g" -e "s|@RUN_TIME@|$KWOK_RUN_TIME|g" \
    -e "s|@POD_CIDR@|$KWOK_POD_CIDR|g" -e "s|@NODE_IP@|$NODE_IP|g" -e "s|@PORT@|$KWOK_PORT|g" \
    -e "s|@MEASURE_BYTES@|52428800|g" -e "s|@MEASURE_FILES@|12|g" \
    "$here/kwok/stages.yaml" >"$conf/kwok.yaml"
}

if [ "$TESTBED_KIND" = fleet ]; then
  registry_setup
  net_up
  kwok_setup
else
  # Paths outside $TESTBED_DIR that kubelet and libcni create and cannot be told to put elsewhere; down.sh
  # removes the ones that were not there before.
  for p in /var/lib/kubelet /var/lib/cni /var/log/containers; do
    [ -e "$p" ] || echo "$p"
  done >"$TESTBED_DIR/host-paths"
  pause_ref=$("$testbed_hack/pause/build.sh" "$TESTBED_DIR/images")
  registry_setup
  containerd_setup "$pause_ref"
  net_up
  save_sysctls
  kubelet_setup
fi

# The waits below are generous on purpose: on 2 cores shared with other work, the API server can take
# minutes to start; on an idle machine the whole sequence takes about 10 s (bench/testbed_up.py).
log "starting registry, etcd$([ "$TESTBED_KIND" = fleet ] || echo ' and containerd')"
start_daemon registry /usr/bin/docker-registry serve "$TESTBED_DIR/registry/config.yml"
start_daemon etcd "$ETCD_BIN/etcd" --name testbed --data-dir "$TESTBED_DIR/etcd" \
  --listen-client-urls "https://127.0.0.1:$ETCD_PORT" --advertise-client-urls "https://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "https://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "https://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "testbed=https://127.0.0.1:$ETCD_PEER_PORT" \
  --cert-file "$PKI/etcd-server.crt" --key-file "$PKI/etcd-server.key" \
  --trusted-ca-file "$PKI/ca.crt" --client-cert-auth \
  --peer-cert-file "$PKI/etcd-server.crt" --peer-key-file "$PKI/etcd-server.key" \
  --peer-trusted-ca-file "$PKI/ca.crt" --peer-client-cert-auth \
  --listen-metrics-urls "" --log-level warn --unsafe-no-fsync
[ "$TESTBED_KIND" = fleet ] || start_daemon containerd /usr/bin/containerd --config "$CONTAINERD_DIR/config.toml"

wait_for etcd 120 etcd probe_etcd
log "starting kube-apiserver"
start_daemon kube-apiserver "$KUBE_BIN/kube-apiserver" \
  --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$APISERVER_PORT" \
  --etcd-servers "https://127.0.0.1:$ETCD_PORT" --etcd-cafile "$PKI/ca.crt" \
  --etcd-certfile "$PKI/apiserver-etcd-client.crt" --etcd-keyfile "$PKI/apiserver-etcd-client.key" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --encryption-provider-config "$conf/encryption-config.yaml" \
  --allow-privileged=true --profiling=false --v=0

if [ "$TESTBED_KIND" = node ]; then
  wait_for containerd 120 containerd probe_containerd
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$TESTBED_DIR/images/pause-${pause_ref##*:}.tar" \
    >/dev/null
fi
wait_for registry 120 registry probe_registry
wait_for kube-apiserver 240 kube-apiserver probe_kube-apiserver

# A fleet bed's fake nodes renew 120 s leases (kwok/stages.yaml); the controllers and the scheduler get the client
# rates a cluster of hundreds of nodes is run with (their defaults, 20 and 50 requests/s, would bound the
# simulated pods' lifecycle rather than the operator under test).
fleet_kcm=() fleet_scheduler=()
if [ "$TESTBED_KIND" = fleet ]; then
  fleet_kcm=(--node-monitor-grace-period 240s --kube-api-qps 300 --kube-api-burst 600)
  fleet_scheduler=(--kube-api-qps 500 --kube-api-burst 1000)
fi
log "starting kube-controller-manager, kube-scheduler and $([ "$TESTBED_KIND" = fleet ] && echo kwok || echo kubelet)"
start_daemon kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
  --kubeconfig "$conf/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig "$conf/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig "$conf/kube-controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$CONTROLLER_MANAGER_PORT" --leader-elect=false \
  --root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --use-service-account-credentials --controllers '*,bootstrapsigner,tokencleaner' \
  --service-cluster-ip-range "$SERVICE_CIDR" --cluster-name task-api-testbed --profiling=false \
  --pvclaimbinder-sync-period 5s --node-monitor-period 2s "${fleet_kcm[@]}"
start_daemon kube-scheduler "$KUBE_BIN/kube-scheduler" \
  --kubeconfig "$conf/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig "$conf/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig "$conf/kube-scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --leader-elect=false --profiling=false \
  "${fleet_scheduler[@]}"
if [ "$TESTBED_KIND" = fleet ]; then
  # --v=WARN: at INFO kwok logs every patch it makes (two per pod).
  start_daemon kwok "$KWOK_BIN/kwok" --kubeconfig "$KUBECONFIG_ADMIN" --config "$conf/kwok.yaml" --v=WARN
  kubectl_admin apply -f "$here/manifests/" >/dev/null
  wait_for kube-controller-manager 180 kube-controller-manager probe_kube-controller-manager
  wait_for kube-scheduler 180 kube-scheduler probe_kube-scheduler
  wait_for kwok 120 kwok probe_kwok
  "$here/fleet-nodes.sh" "$KWOK_NODES"
  ready_seconds=$(elapsed)
  wait_for "ServiceAccount default/default" 180 kube-controller-manager kubectl_admin get serviceaccount default
  "$DOCKER" login --username "$(cat "$TESTBED_DIR/registry/username")" --password-stdin "$REGISTRY_ADDR" \
    <"$TESTBED_DIR/registry/password" >/dev/null 2>&1 || die "docker login $REGISTRY_ADDR failed"
  describe
  usable_seconds=$(elapsed)
  printf 'ready=%s usable=%s\n' "$ready_seconds" "$usable_seconds" >"$TESTBED_DIR/.up-seconds"
  log "up: $KWOK_NODES fake nodes Ready after $ready_seconds s, usable after $usable_seconds s; registry $REGISTRY_ADDR"
  fingerprint >"$RUN/fingerprint"
  log "use it with: eval \"\$(TESTBED_PROFILE=${TESTBED_PROFILE:-} hack/testbed/env.sh)\""
  exit 0
fi
# kubelet reads Docker's credentials from $HOME/.docker/config.json, its root and working directories
# and /.docker: with HOME and the working directory in its root, only imagePullSecrets authenticate.
DAEMON_CWD=$KUBELET_DIR DAEMON_ENV=(HOME="$KUBELET_DIR")
start_daemon kubelet "$KUBE_BIN/kubelet" --config "$conf/kubelet-config.yaml" \
  --kubeconfig "$conf/kubelet.kubeconfig" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
  --root-dir "$KUBELET_DIR" --pod-infra-container-image "$pause_ref"
DAEMON_CWD=/ DAEMON_ENV=()

# Cluster objects every test may rely on: the default StorageClass for pre-bound local volumes.
kubectl_admin apply -f "$here/manifests/" >/dev/null
wait_for kube-controller-manager 180 kube-controller-manager probe_kube-controller-manager
wait_for kube-scheduler 180 kube-scheduler probe_kube-scheduler
wait_for "node $NODE_NAME Ready" 240 kubelet probe_node_ready
log "node $NODE_NAME Ready"
ready_seconds=$(elapsed)
# Usable means pods can be scheduled and admitted: the node lifecycle controller has lifted the
# not-ready taint, and the service-account controller has made "default" (tests' namespaces wait for
# their own in tests/fixtures/testbed.py).
wait_for "the not-ready taint to be lifted" 180 kube-controller-manager probe_node_untainted
log "node untainted"
wait_for "ServiceAccount default/default" 180 kube-controller-manager kubectl_admin get serviceaccount default

# The Docker engine pushes to the registry (people and `make demo` use the default Docker config; the
# pytest fixtures log in with a private one). The password goes through stdin, never a command line.
"$DOCKER" login --username "$(cat "$TESTBED_DIR/registry/username")" --password-stdin "$REGISTRY_ADDR" \
  <"$TESTBED_DIR/registry/password" >/dev/null 2>&1 || die "docker login $REGISTRY_ADDR failed"

describe

usable_seconds=$(elapsed)
printf 'ready=%s usable=%s\n' "$ready_seconds" "$usable_seconds" >"$TESTBED_DIR/.up-seconds"
log "up: node $NODE_NAME Ready after $ready_seconds s, usable after $usable_seconds s; registry $REGISTRY_ADDR"
fingerprint >"$RUN/fingerprint"
log "use it with: eval \"\$(hack/testbed/env.sh)\""
