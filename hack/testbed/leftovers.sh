#!/usr/bin/env bash
# Lists whatever the test bed has left on this machine, one "<kind>: <what>" line each, and exits 1 when
# there is anything; exit 0 and no output means clean. down.sh runs it last; the lifecycle test and
# bench/testbed_up.py use it to check that a teardown really cleans up.
#
# It looks for: live daemons from our PID files, pod processes in the kubepods cgroups, containerd shims
# listening on sockets our state directory names, mounts under $TESTBED_DIR, our network interfaces and
# veths on our bridge, iptables rules naming our pod range or CNI network, kubepods cgroups, libcni cache
# entries of our network, host paths that up.sh found missing (kubelet and libcni create them), links in
# /var/log/containers into our logs, and unrestored kernel settings.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

found=0
say() { echo "$1: $2"; found=1; }

for c in "${COMPONENTS[@]}"; do
  pid=$(live_pid "$c") && say process "$c (pid $pid)"
done
for d in $(kubepods_cgroups); do
  procs=$(tr '\n' ' ' <"$d/cgroup.procs" 2>/dev/null)
  [ -n "${procs// /}" ] && say process "pod processes $procs in $d"
done
for f in "$CONTAINERD_DIR"/state/io.containerd.runtime.v2.task/k8s.io/*/address; do
  [ -f "$f" ] || continue
  sock=$(sed 's|^unix://||' "$f")
  pids=$(ss -xlpH src "$sock" 2>/dev/null | grep -o 'pid=[0-9]*' | sort -u | tr '\n' ' ')
  [ -n "$pids" ] && say process "containerd shim ${pids}on $sock"
done
awk -v root="$TESTBED_DIR/" 'index($5, root) == 1 {print $5}' /proc/self/mountinfo |
  while read -r m; do echo "mount: $m"; done | grep . && found=1
for link in "$NODE_IFACE" "$CNI_BRIDGE"; do
  ip link show "$link" >/dev/null 2>&1 && say interface "$link"
done
ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{print "interface: " $2}' | grep . && found=1
prefix=${POD_CIDR%.*/*}.
for table in filter nat mangle; do
  iptables -w -t "$table" -S 2>/dev/null | grep -F -e " $prefix" -e "$CNI_NETWORK" |
    sed "s/^/iptables: $table /" | grep . && found=1
done
find /sys/fs/cgroup/*"$CGROUP_ROOT"/kubepods /sys/fs/cgroup"$CGROUP_ROOT"/kubepods -maxdepth 0 -type d \
  2>/dev/null | sed 's/^/cgroup: /' | grep . && found=1
if [ -n "$CGROUP_ROOT" ]; then
  find /sys/fs/cgroup/*"$CGROUP_ROOT" -maxdepth 0 -type d 2>/dev/null | sed 's/^/cgroup: /' | grep . && found=1
fi
for f in /var/lib/cni/results/"$CNI_NETWORK"-*; do
  [ -e "$f" ] && say file "$f"
done
if [ -f "$TESTBED_DIR/host-paths" ]; then
  while read -r p; do [ -e "$p" ] && say file "$p (did not exist before up.sh)"; done <"$TESTBED_DIR/host-paths"
fi
for l in /var/log/containers/*.log; do
  [ -L "$l" ] && [[ $(readlink "$l") == "$LOG/pods/"* ]] && say file "$l"
done
[ -f "$TESTBED_DIR/sysctl.orig" ] && ! live_pid kubelet >/dev/null &&
  say sysctl "kernel settings saved in $TESTBED_DIR/sysctl.orig were not restored"
[ $found = 0 ]
