#!/usr/bin/env bash
# Starts Debian's Docker engine when it is not answering (there is no systemd here), and waits for it.
# Idempotent. Survives a stale PID file left by a killed daemon: dockerd replaces a PID file whose process is gone.
set -euo pipefail
state=${TASK_API_STATE:-/var/lib/task-api}
mkdir -p "$state/log"
docker_cli=/usr/bin/docker
[ -x "$docker_cli" ] || docker_cli=$(command -v docker)
if "$docker_cli" info >/dev/null 2>&1; then exit 0; fi
pidfile=/var/run/docker.pid
if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then rm -f "$pidfile"; fi
rm -f /var/run/docker/containerd/containerd.pid 2>/dev/null || true
echo "[docker-up] starting dockerd (log: $state/log/dockerd.log)" >&2
setsid nohup /usr/sbin/dockerd --pidfile "$pidfile" >>"$state/log/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 1 120); do
  if "$docker_cli" info >/dev/null 2>&1; then exit 0; fi
  sleep 0.5
done
echo "[docker-up] dockerd did not answer within 60 s; last log lines:" >&2
tail -n 20 "$state/log/dockerd.log" >&2
exit 1
