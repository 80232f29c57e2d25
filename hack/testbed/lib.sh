# shellcheck shell=bash
# shellcheck disable=SC2034  # the settings below are used by the scripts that source this file
# Shared settings and helpers of the test bed scripts (up.sh, down.sh, status.sh, env.sh).
# Sourced, never run. Every setting can be overridden from the environment; the defaults are what
# tests, `make demo` and the docs assume.
#
# Processes are tracked by PID files in $TESTBED_DIR/run: "<pid> <binary>" on one line. A PID only counts
# (for status and for kill) while /proc/<pid>/exe is still that binary, so a stale file left by a
# SIGKILLed session never makes us signal an unrelated process that reused the PID.

testbed_hack=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../versions.env
source "$testbed_hack/versions.env"

# A profile (hack/testbed/profiles/<name>.env) sets everything a second test bed on the same machine
# must not share with the first one.
if [ -n "${TESTBED_PROFILE:-}" ]; then
  profile=$testbed_hack/testbed/profiles/$TESTBED_PROFILE.env
  if [ ! -f "$profile" ]; then
    printf '[testbed] error: TESTBED_PROFILE=%s: no such profile (allowed: %s)\n' "$TESTBED_PROFILE" \
      "$(cd "$testbed_hack/testbed/profiles" && ls -- *.env | sed 's/\.env$//' | tr '\n' ' ')" >&2
    exit 2
  fi
  set -a
  # shellcheck disable=SC1090
  source "$profile"
  set +a
fi

TESTBED_DIR=${TASK_API_TESTBED_DIR:-${TASK_API_STATE:-/var/lib/task-api}/testbed}
TESTBED_CACHE=${TASK_API_CACHE:-$HOME/.cache/task-api}
KUBE_BIN=$TESTBED_CACHE/kubernetes/$KUBE_VERSION
ETCD_BIN=$TESTBED_CACHE/etcd/$ETCD_VERSION
KWOK_BIN=$TESTBED_CACHE/kwok/$KWOK_VERSION

# "node": one real node (kubelet, containerd, CNI) — every test bed but one. "fleet": the control plane and kwok's
# simulated nodes only, no kubelet (hack/testbed/profiles/scale.env, docs/scaling.md).
TESTBED_KIND=${TESTBED_KIND:-node}
# fleet only: fake nodes up.sh makes (fleet-nodes.sh changes the count later), kwok's port (healthz, metrics), the
# addresses kwok writes into pod statuses (never routed anywhere), and the simulated pods' default timings.
KWOK_NODES=${TESTBED_KWOK_NODES:-10}
KWOK_PORT=${TESTBED_KWOK_PORT:-10247}
KWOK_POD_CIDR=${TESTBED_KWOK_POD_CIDR:-10.252.0.0/16}
KWOK_START_DELAY=${TESTBED_KWOK_START_DELAY:-1s}
KWOK_RUN_TIME=${TESTBED_KWOK_RUN_TIME:-10s}

# The node's address lives on an interface of its own (this kernel has no "dummy" link type, so it is an
# empty bridge): kubelet refuses loopback addresses, and an address we create is one we can remove.
NODE_NAME=${TESTBED_NODE_NAME:-task-api-node}
NODE_IFACE=${TESTBED_NODE_IFACE:-tapi-node0}
NODE_IP=${TESTBED_NODE_IP:-10.251.0.1}
POD_CIDR=${TESTBED_POD_CIDR:-10.250.0.0/24}
CNI_BRIDGE=${TESTBED_CNI_BRIDGE:-tapi-cni0}
CNI_NETWORK=${TESTBED_CNI_NETWORK:-task-api-testbed}
SERVICE_CIDR=${TESTBED_SERVICE_CIDR:-10.96.0.0/16}
KUBERNETES_SERVICE_IP=${TESTBED_KUBERNETES_SERVICE_IP:-10.96.0.1}
APISERVER_PORT=${TESTBED_APISERVER_PORT:-6443}
ETCD_PORT=${TESTBED_ETCD_PORT:-2379}
ETCD_PEER_PORT=${TESTBED_ETCD_PEER_PORT:-2380}
REGISTRY_ADDR=${TESTBED_REGISTRY_ADDR:-127.0.0.1:5000}
KUBELET_PORT=${TESTBED_KUBELET_PORT:-10250}
KUBELET_HEALTHZ_PORT=${TESTBED_KUBELET_HEALTHZ_PORT:-10248}
CONTROLLER_MANAGER_PORT=${TESTBED_CONTROLLER_MANAGER_PORT:-10257}
SCHEDULER_PORT=${TESTBED_SCHEDULER_PORT:-10259}
# The parent cgroup of kubelet's "kubepods" tree ("" is the root). A second test bed on the same machine
# (the lifecycle test's) needs its own, or the two kubelets would manage the same cgroups.
CGROUP_ROOT=${TESTBED_CGROUP_ROOT:-}
# The comment on the iptables rule that keeps pod traffic on this machine (see net_up in up.sh). It
# contains the CNI network's name, which is how down.sh and leftovers.sh recognise our rules; so the
# network names of two test beds on one machine must not contain one another.
GUARD_COMMENT="$CNI_NETWORK guard"

APISERVER_URL="https://$NODE_IP:$APISERVER_PORT"
KUBECONFIG_ADMIN=$TESTBED_DIR/kubeconfig
PKI=$TESTBED_DIR/pki
RUN=$TESTBED_DIR/run
LOG=$TESTBED_DIR/log
CONTAINERD_DIR=$TESTBED_DIR/containerd
CONTAINERD_SOCK=$CONTAINERD_DIR/containerd.sock
KUBELET_DIR=$TESTBED_DIR/kubelet
CNI_CONF_DIR=$TESTBED_DIR/cni/net.d
PV_DIR=$TESTBED_DIR/pv
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker || echo /usr/bin/docker)

# Daemons in start order; down.sh stops them in reverse.
case $TESTBED_KIND in
  node) COMPONENTS=(registry etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet) ;;
  fleet) COMPONENTS=(registry etcd kube-apiserver kube-controller-manager kube-scheduler kwok) ;;
  *)
    printf '[testbed] error: TESTBED_KIND=%s: allowed: node, fleet\n' "$TESTBED_KIND" >&2
    exit 2
    ;;
esac

testbed_t0=$EPOCHREALTIME
# Seconds since the script started, with milliseconds.
elapsed() { awk -v a="$testbed_t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}'; }
log() { printf '[testbed %5ss] %s\n' "$(elapsed)" "$*" >&2; }
die() { printf '[testbed] error: %s\n' "$*" >&2; exit 1; }

require_root() {
  [ "$(id -u)" = 0 ] || die "the test bed needs root (network interfaces, mounts, cgroups); run as root"
}

# Fails with a clear message when an override is not a dotted IPv4 address / CIDR.
validate_settings() {
  local ipv4='^([0-9]{1,3}\.){3}[0-9]{1,3}$'
  [[ $NODE_IP =~ $ipv4 ]] || die "TESTBED_NODE_IP='$NODE_IP' is not an IPv4 address (e.g. 10.251.0.1)"
  [[ $NODE_IP != 127.* ]] || die "TESTBED_NODE_IP='$NODE_IP' is a loopback address; kubelet refuses those"
  [[ ${POD_CIDR%/*} =~ $ipv4 && $POD_CIDR == */* ]] ||
    die "TESTBED_POD_CIDR='$POD_CIDR' is not an IPv4 CIDR (e.g. 10.250.0.0/24)"
  [ ${#NODE_IFACE} -le 15 ] || die "TESTBED_NODE_IFACE='$NODE_IFACE' is longer than 15 characters"
  [ ${#CNI_BRIDGE} -le 15 ] || die "TESTBED_CNI_BRIDGE='$CNI_BRIDGE' is longer than 15 characters"
  [[ -z $CGROUP_ROOT || $CGROUP_ROOT =~ ^/[a-z0-9-]+$ ]] ||
    die "TESTBED_CGROUP_ROOT='$CGROUP_ROOT' must be empty or one path element like /tapi-second"
  [[ $REGISTRY_ADDR == 127.* ]] ||
    die "TESTBED_REGISTRY_ADDR='$REGISTRY_ADDR' must be a loopback address: traffic stays on this machine"
}

binary_of() {
  case $1 in
    registry) echo /usr/bin/docker-registry ;;
    etcd) echo "$ETCD_BIN/etcd" ;;
    containerd) echo /usr/bin/containerd ;;
    kwok) echo "$KWOK_BIN/kwok" ;;
    *) echo "$KUBE_BIN/$1" ;;
  esac
}

# Prints the PID of a component when its PID file names a live process running the expected binary.
live_pid() {
  local name=$1 file=$RUN/$1.pid pid bin exe
  [ -f "$file" ] || return 1
  read -r pid bin <"$file" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  # A binary replaced by a rebuild shows as "<path> (deleted)"; it is still ours.
  [ "${exe% (deleted)}" = "${bin:-$(binary_of "$name")}" ] || return 1
  echo "$pid"
}

# Starts a daemon in its own session (so Ctrl-C in the caller's terminal does not reach it) and
# records its PID. stdout/stderr go to $LOG/<name>.log.
# An optional environment (NAME=VALUE words) and working directory come from the arrays DAEMON_ENV and
# the variable DAEMON_CWD.
start_daemon() {
  local name=$1; shift
  local bin=$1
  mkdir -p "$RUN" "$LOG"
  # Without job control a background child is not a process-group leader, so setsid execs in place,
  # env execs too, and $! is the daemon's own PID.
  # fd 9 is the test bed lock (take_lock): a daemon must not keep holding it.
  setsid env -C "${DAEMON_CWD:-/}" "${DAEMON_ENV[@]}" "$@" >>"$LOG/$name.log" 2>&1 </dev/null 9>&- &
  echo "$! $bin" >"$RUN/$name.pid"
}
DAEMON_ENV=()

# Sends SIGTERM, waits up to $2 seconds, then SIGKILL. Only for a PID that live_pid vouched for.
stop_pid() {
  local pid=$1 grace=${2:-10} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    # A zombie child of ours counts as gone.
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# up.sh and down.sh hold an exclusive lock on $TESTBED_DIR/.lock (fd 9) while they work, so that two
# pytest sessions starting at once do not both rebuild the bed: the second waits, then finds it healthy.
# A nested call (up.sh running down.sh) inherits the lock through TESTBED_LOCKED.
take_lock() {
  [ "${TESTBED_LOCKED:-}" = "$TESTBED_DIR" ] && return 0
  mkdir -p "$TESTBED_DIR"
  exec 9>"$TESTBED_DIR/.lock"
  if ! flock -n 9; then
    log "waiting for another up.sh/down.sh on $TESTBED_DIR to finish"
    flock -w 900 9 || die "another up.sh/down.sh has held $TESTBED_DIR/.lock for 15 minutes"
  fi
  export TESTBED_LOCKED=$TESTBED_DIR
}

# A fingerprint of everything that shapes a running bed: the scripts, pins, manifests, pause sources and
# the resolved settings. up.sh restarts a healthy bed whose fingerprint differs (the scripts changed).
fingerprint() {
  {
    cat "$testbed_hack/versions.env" "$testbed_hack/testbed/lib.sh" "$testbed_hack/testbed/up.sh" \
      "$testbed_hack/testbed/pki.sh" "$testbed_hack/testbed/manifests/"* "$testbed_hack/pause/"*
    echo "$TESTBED_DIR $NODE_NAME $NODE_IFACE $NODE_IP $POD_CIDR $CNI_BRIDGE $CNI_NETWORK $SERVICE_CIDR"
    echo "$KUBERNETES_SERVICE_IP $APISERVER_PORT $ETCD_PORT $ETCD_PEER_PORT $REGISTRY_ADDR $KUBELET_PORT"
    echo "$KUBELET_HEALTHZ_PORT $CONTROLLER_MANAGER_PORT $SCHEDULER_PORT $CGROUP_ROOT $KUBE_BIN $ETCD_BIN"
    # Only a fleet bed depends on these, so a node bed's fingerprint is the same whatever they say.
    [ "$TESTBED_KIND" = node ] || {
      cat "$testbed_hack/testbed/kwok/"*
      echo "$TESTBED_KIND $KWOK_BIN $KWOK_PORT $KWOK_POD_CIDR $KWOK_START_DELAY $KWOK_RUN_TIME"
    }
  } | sha256sum | cut -c1-16
}

# Polls a command until it succeeds; prints a tail of the component's log when it never does.
wait_for() {
  local what=$1 timeout=$2 logname=$3; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$logname" ] && ! live_pid "$logname" >/dev/null; then
      log "$logname exited while waiting for $what; last lines of $LOG/$logname.log:"
      tail -n 25 "$LOG/$logname.log" >&2 || true
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "timed out after ${timeout}s waiting for $what; last lines of $LOG/$logname.log:"
      [ -n "$logname" ] && tail -n 25 "$LOG/$logname.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

kubectl_admin() { "$KUBE_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# Health probes, one per component; each exits 0 when the component answers.
probe_registry() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$REGISTRY_ADDR/v2/")" = 401 ]; }
probe_etcd() {
  curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/apiserver-etcd-client.crt" \
    --key "$PKI/apiserver-etcd-client.key" "https://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'
}
probe_containerd() { ctr --address "$CONTAINERD_SOCK" version; }
probe_kube-apiserver() {
  curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$APISERVER_URL/readyz"
}
probe_kube-controller-manager() { curl -sfk "https://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz"; }
probe_kube-scheduler() { curl -sfk "https://127.0.0.1:$SCHEDULER_PORT/healthz"; }
probe_kubelet() { curl -sf "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz"; }
probe_kwok() { curl -sf "http://127.0.0.1:$KWOK_PORT/healthz"; }

probe_node_untainted() {
  [ -z "$(kubectl_admin get node "$NODE_NAME" -o 'jsonpath={.spec.taints}' 2>/dev/null)" ]
}

# Every kubepods cgroup directory of our kubelet, deepest first (cgroup v1: one tree per hierarchy).
kubepods_cgroups() {
  find /sys/fs/cgroup/*"$CGROUP_ROOT"/kubepods /sys/fs/cgroup"$CGROUP_ROOT"/kubepods -depth -type d 2>/dev/null
}
probe_node_ready() {
  [ "$TESTBED_KIND" = fleet ] && { probe_fleet_ready; return; }
  [ "$(kubectl_admin get node "$NODE_NAME" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
# The fleet: at least one fake node, and every fake node Ready.
probe_fleet_ready() {
  local states
  states=$(kubectl_admin get nodes -l type=kwok \
    -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null) || return 1
  [ -n "$states" ] && ! grep -qv '^True$' <<<"$states"
}
