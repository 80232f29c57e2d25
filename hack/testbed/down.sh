#!/usr/bin/env bash
# Stops the test bed and leaves the machine as it was: no process, mount, network interface, iptables
# rule, cgroup or kernel setting of ours behind. Works after a clean run and after a session whose
# processes were all SIGKILLed (stale PID files, leftover mounts and bridges).
#
#   hack/testbed/down.sh           # stop; keep certificates, registry credentials and images
#   hack/testbed/down.sh --purge   # also delete the whole state directory and log Docker out
#
# Only processes we can prove are ours are signalled: daemons by PID file (checked against
# /proc/<pid>/exe), containerd shims by the sockets that our containerd's state directory names,
# pod processes by the cgroup.procs files of the kubepods cgroups that our kubelet created. Nothing is
# looked up by process name.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

purge=0 quiet=0
for arg in "$@"; do
  case $arg in
    --purge) purge=1 ;;
    --quiet) quiet=1 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown argument '$arg' (allowed: --purge, --quiet, --help)" ;;
  esac
done
require_root
say() { [ $quiet = 1 ] || log "$@"; }
[ -d "$TESTBED_DIR" ] || { say "nothing to do: $TESTBED_DIR does not exist"; exit 0; }
take_lock

stop_component() {
  local name=$1 grace=$2 pid
  if pid=$(live_pid "$name"); then
    say "stopping $name (pid $pid)"
    stop_pid "$pid" "$grace"
  fi
  rm -f "$RUN/$name.pid"
}

# Pod processes: everything in the kubepods cgroups. Loop because a dying process may have forked.
kill_pods() {
  local round pids
  for round in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(kubepods_cgroups | while read -r d; do cat "$d/cgroup.procs" 2>/dev/null; done | sort -u)
    [ -z "$pids" ] && return 0
    [ $round = 1 ] && say "killing $(echo "$pids" | wc -w) pod process(es)"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    sleep 0.2
  done
}

task_dir=$CONTAINERD_DIR/state/io.containerd.runtime.v2.task/k8s.io

# Each task directory's "address" file names its shim's socket (one shim serves a whole pod); the shim
# is the process listening on that socket. Prints the socket paths.
shim_sockets() {
  local f a
  for f in "$task_dir"/*/address; do
    [ -f "$f" ] || continue
    a=$(cat "$f")
    echo "${a#unix://}"
  done | sort -u
}

kill_shims() {
  local sock pid
  for sock in $(shim_sockets); do
    for pid in $(ss -xlpH src "$sock" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
      kill -KILL "$pid" 2>/dev/null
    done
  done
}

# A SIGKILLed shim leaves its socket file behind in /run/containerd/s.
remove_shim_sockets() {
  local sock
  for sock in $(shim_sockets); do
    [[ $sock == /run/containerd/s/* ]] && rm -f "$sock"
  done
}

unmount_all() {
  local m i left
  for i in 1 2 3; do
    # Deepest first; mountinfo escapes spaces as \040, which our paths never contain.
    mapfile -t mounts < <(awk -v root="$TESTBED_DIR/" 'index($5, root) == 1 {print $5}' /proc/self/mountinfo |
      awk '{print length, $0}' | sort -rn | cut -d' ' -f2-)
    [ ${#mounts[@]} = 0 ] && return 0
    [ $i = 1 ] && say "unmounting ${#mounts[@]} mount(s) under $TESTBED_DIR"
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  done
  left=$(awk -v root="$TESTBED_DIR/" 'index($5, root) == 1 {print $5}' /proc/self/mountinfo)
  [ -z "$left" ] || log "warning: still mounted: $left"
}

# iptables: first every rule (filter and nat, any chain) that names our pod range, our CNI network or our
# guard; then, repeatedly, every CNI-* chain left empty together with the jumps to it. A CNI-* chain
# that still holds someone else's rules is kept.
clean_iptables() {
  local table rule rules chain prefix=${POD_CIDR%.*/*}.
  for table in filter nat; do
    iptables -w -t "$table" -S 2>/dev/null | grep '^-A' |
      grep -F -e " $prefix" -e "$CNI_NETWORK" | while read -r rule; do
        eval "iptables -w -t $table ${rule/-A/-D}" 2>/dev/null
      done
    for _ in 1 2 3; do
      for chain in $(iptables -w -t "$table" -S 2>/dev/null | awk '/^-N CNI-/ {print $2}'); do
        # Captured, not piped into grep -q: with pipefail, grep exiting early could SIGPIPE iptables and
        # make a chain with rules look empty.
        rules=$(iptables -w -t "$table" -S "$chain")
        [[ $rules == *$'\n-A '* || $rules == '-A '* ]] && continue
        iptables -w -t "$table" -S | grep '^-A' | grep -- "-j $chain\$" | while read -r rule; do
          eval "iptables -w -t $table ${rule/-A/-D}" 2>/dev/null
        done
        iptables -w -t "$table" -X "$chain" 2>/dev/null
      done
    done
  done
}

restore_sysctls() {
  local line
  [ -f "$TESTBED_DIR/sysctl.orig" ] || return 0
  while read -r line; do sysctl -qw "$line" >/dev/null; done <"$TESTBED_DIR/sysctl.orig"
  rm -f "$TESTBED_DIR/sysctl.orig"
}

# 1. The kubelet (or a fleet bed's kwok) first, so that it does not restart what we stop next; then the pods and
# their shims.
stop_component kwok 10
stop_component kubelet 10
kill_pods
kill_shims
stop_component containerd 10
# 2. The control plane and the registry, newest first.
for c in kube-scheduler kube-controller-manager kube-apiserver etcd registry; do stop_component "$c" 15; done
# 3. What the processes left behind.
unmount_all
remove_shim_sockets
kubepods_cgroups | while read -r d; do rmdir "$d" 2>/dev/null; done
if [ -n "$CGROUP_ROOT" ]; then
  for d in /sys/fs/cgroup/*"$CGROUP_ROOT" /sys/fs/cgroup"$CGROUP_ROOT"; do
    [ -d "$d" ] && rmdir "$d" 2>/dev/null
  done
fi
ip link del "$CNI_BRIDGE" 2>/dev/null && say "removed bridge $CNI_BRIDGE"
ip link del "$NODE_IFACE" 2>/dev/null && say "removed interface $NODE_IFACE"
clean_iptables
restore_sysctls
# libcni caches results in /var/lib/cni (not relocatable in containerd 1.6), for our network and for the
# loopback network containerd adds to every sandbox (keyed by sandbox id).
rm -f /var/lib/cni/results/"$CNI_NETWORK"-* 2>/dev/null
for d in "$CONTAINERD_DIR"/{root,state}/io.containerd.grpc.v1.cri/sandboxes/*/; do
  [ -d "$d" ] && rm -f "/var/lib/cni/results/cni-loopback-$(basename "$d")-lo"
done
# Host paths outside $TESTBED_DIR that did not exist before up.sh (kubelet hard-codes
# /var/lib/kubelet/device-plugins and /var/log/containers; libcni /var/lib/cni).
if [ -f "$TESTBED_DIR/host-paths" ]; then
  while read -r p; do
    case $p in /var/lib/kubelet | /var/lib/cni | /var/log/containers) rm -rf "$p" ;; esac
  done <"$TESTBED_DIR/host-paths"
fi
for l in /var/log/containers/*.log; do
  [ -L "$l" ] && [[ $(readlink "$l") == "$LOG/pods/"* ]] && rm -f "$l"
done
# 4. Cluster state: a new cluster every time (docs/testbed.md explains why).
rm -rf "${TESTBED_DIR:?}"/{etcd,containerd,kubelet,cni,pv,run,testbed.json}
if [ -d "$LOG" ]; then
  mkdir -p "$LOG/previous"
  find "$LOG" -maxdepth 1 -name '*.log' -exec mv -f {} "$LOG/previous/" \;
  rm -rf "$LOG/pods"
fi

if ! left=$("$here/leftovers.sh"); then
  log "error: the machine is not clean after teardown:"
  echo "$left" >&2
  exit 1
fi
rm -f "$TESTBED_DIR/host-paths"
if [ $purge = 1 ]; then
  "$DOCKER" logout "$REGISTRY_ADDR" >/dev/null 2>&1
  # The pause image was built with the Docker engine only to be saved for containerd.
  for ref in $("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' localhost/task-api/pause 2>/dev/null); do
    "$DOCKER" rmi "$ref" >/dev/null 2>&1
  done
  rm -rf "${TESTBED_DIR:?}"
  say "purged $TESTBED_DIR"
fi
say "down"
