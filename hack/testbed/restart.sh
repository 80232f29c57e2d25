#!/usr/bin/env bash
# Stops, starts or restarts ONE component of the running test bed, keeping everything else up. For fault
# tests (tests/chaos): an API server, etcd or registry outage of a chosen length, then the same daemon back.
#
#   hack/testbed/restart.sh COMPONENT            # stop (SIGTERM, then SIGKILL after 10 s), start, wait healthy
#   hack/testbed/restart.sh COMPONENT --kill     # the same, but SIGKILL at once (a crash, not a shutdown)
#   hack/testbed/restart.sh COMPONENT stop [--kill]
#   hack/testbed/restart.sh COMPONENT start      # start it again exactly as it ran before "stop"
#   hack/testbed/restart.sh COMPONENT --down-for SECONDS [--kill]
#                                                # an outage: stop, print "down", wait, start; all under the lock
#
# COMPONENT is one of: registry etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet.
#
# How "exactly as before" works: up.sh starts each daemon with a long command line. Rather than repeat it here
# (and drift from it), "stop" records the live process's argv, working directory and environment from /proc
# into $RUN/<component>.cmd before signalling it, and "start" replays that record with lib.sh's start_daemon,
# so the PID file and the log stay where up.sh put them. The record holds no secret that is not already in
# the process list and environment of the daemon (they take secrets from files, never from arguments).
#
# The lock: up.sh/down.sh hold $TESTBED_DIR/.lock while they rebuild the bed; we take it too, so a fault
# test never races a rebuild. An outage must hold it from stop to start (--down-for): up.sh, run meanwhile by
# another test session, would find the bed unhealthy and rebuild it from scratch, wiping everyone's objects.
# It waits for the lock instead, then finds the bed healthy. Separate "stop" and "start" calls release it in
# between; use them only when nobody else uses the bed. INT/TERM during an outage still start the component.
# A bed that is not running is an error, not something we start: use up.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

usage() { sed -n '2,14p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
component=$1; shift
case " ${COMPONENTS[*]} " in
  *" $component "*) ;;
  *) die "unknown component '$component' (allowed: ${COMPONENTS[*]})" ;;
esac
action=restart
signal=TERM
down_for=0
while [ $# -gt 0 ]; do
  case $1 in
    stop | start | restart) action=$1 ;;
    --kill) signal=KILL ;;
    --down-for)
      [[ ${2:-} =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--down-for '${2:-}': allowed: a number of seconds, e.g. 5 or 2.5"
      down_for=$2; shift ;;
    -h | --help) usage ;;
    *) die "unknown argument '$1' (allowed: stop, start, restart, --kill, --down-for SECONDS)" ;;
  esac
  shift
done
require_root
record=$RUN/$component.cmd

# Saves argv, cwd and environment (each a NUL-separated list) of the live daemon.
save_record() {
  local pid=$1
  {
    printf 'cwd\0%s\0' "$(readlink "/proc/$pid/cwd")"
    printf 'argc\0%s\0' "$(tr -cd '\0' <"/proc/$pid/cmdline" | wc -c)"
    cat "/proc/$pid/cmdline"
    cat "/proc/$pid/environ"
  } >"$record.tmp"
  chmod 600 "$record.tmp"
  mv "$record.tmp" "$record"
}

do_stop() {
  local pid
  pid=$(live_pid "$component") || die "$component is not running (see hack/testbed/status.sh; start the bed with up.sh)"
  save_record "$pid"
  log "stopping $component (pid $pid, SIG$signal)"
  if [ "$signal" = KILL ]; then
    kill -KILL "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
      sleep 0.1
    done
  else
    stop_pid "$pid" 10
  fi
}

do_start() {
  live_pid "$component" >/dev/null && { log "$component is already running"; return 0; }
  [ -s "$record" ] || die "$record: missing; '$0 $component stop' records how to start it again"
  local fields=() cwd argc
  mapfile -d '' fields <"$record"
  if [ "${fields[0]:-}" != cwd ] || [ "${fields[2]:-}" != argc ]; then die "$record: not written by $0"; fi
  cwd=${fields[1]}
  argc=${fields[3]}
  local argv=("${fields[@]:4:argc}")
  local environ=("${fields[@]:4+argc}")
  log "starting $component again"
  # env -i: exactly the environment it had (kubelet's HOME, for one), nothing inherited from the caller.
  DAEMON_CWD=$cwd DAEMON_ENV=(-i "${environ[@]}")
  start_daemon "$component" "$(binary_of "$component")" "${argv[@]:1}"
  # shellcheck disable=SC2034 # read by start_daemon (lib.sh)
  DAEMON_CWD=/ DAEMON_ENV=()
  wait_for "$component to answer" 90 "$component" "probe_$component" || die "$component did not come back"
  # The others recover too before the lock is released (the API server's /readyz fails for a while after etcd
  # returns): an up.sh waiting for the lock must find the whole bed healthy, or it would rebuild it.
  local c
  for c in "${COMPONENTS[@]}"; do
    wait_for "$c to answer" 90 "$c" "probe_$c" || die "$c did not recover after $component came back"
  done
  wait_for "node $NODE_NAME Ready" 90 kubelet probe_node_ready || die "node $NODE_NAME not Ready after $component"
  log "$component healthy again (and the rest of the bed)"
}

take_lock
case $action in
  stop) do_stop ;;
  start) do_start ;;
  restart)
    do_stop
    trap 'log "interrupted: starting $component now"' INT TERM
    echo down
    sleep "$down_for" || true
    do_start
    ;;
esac
