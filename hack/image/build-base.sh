#!/usr/bin/env bash
# Builds the task-api base image (Debian bookworm minbase + python3 + ca-certificates) without pulling
# anything from a container registry: debootstrap into a temporary rootfs, strip it, tar it and
# `docker import` it as task-api-base:bookworm-<key>.
#
# The key is a hash of this script and of base-packages, so editing either rebuilds the base. The rootfs
# tarball is cached in ${TASK_API_CACHE:-~/.cache/task-api}/images/ so CI and later runs reuse it:
# the cold build takes minutes (package downloads), the warm path is a `docker import` or nothing at all.
# Set TASK_API_BASE_REFRESH=1 to rebuild anyway (e.g. to pick up new Debian security updates).
#
# The Debian mirror is read from this machine's apt sources at run time; no mirror host is written here.
# Prints the image reference on stdout; logs go to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
docker=/usr/bin/docker
[ -x "$docker" ] || docker=$(command -v docker)
suite=bookworm
cache=${TASK_API_CACHE:-$HOME/.cache/task-api}/images
log() { printf '[image:base] %s\n' "$*" >&2; }

mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/base-packages" | grep -v '^$')
key=$(cat "$here/build-base.sh" "$here/base-packages" | sha256sum | cut -c1-16)
ref=task-api-base:$suite-$key
tarball=$cache/base-$suite-$key.tar.gz

import_base() {  # $1: the rootfs tarball
  "$docker" import --message "task-api base $key" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    "$1" "$ref" >/dev/null
}

if [ "${TASK_API_BASE_REFRESH:-0}" != 1 ]; then
  if "$docker" image inspect "$ref" >/dev/null 2>&1; then
    log "$ref present"; echo "$ref"; exit 0
  fi
  if [ -s "$tarball" ]; then
    log "importing cached $tarball"
    import_base "$tarball"
    echo "$ref"; exit 0
  fi
fi

# The mirror this machine's apt uses: the first deb822 URIs line (or one-line sources entry) serving $suite.
# The security archive is found the same way, so the image gets the same security updates as the host.
mirror_for() {  # $1: suite to look for; prints the URI
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v want="$1" '
      BEGIN { RS=""; FS="\n" }
      { uri=""; ok=0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uri=u[1] }
          if ($i ~ /^Suites:/) { n=split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == want) ok=1 }
          if ($i ~ /^Types:/ && $i !~ /[ \t]deb([ \t]|$)/) ok=-99
        }
        if (ok == 1 && uri != "") { print uri; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v want="$1" '$1 == "deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == want) { print $i; exit } }' "$f"
  done
}
mirror=$(mirror_for "$suite" | head -n1)
security=$(mirror_for "$suite-security" | head -n1)
if [ -z "$mirror" ]; then
  echo "[image:base] error: no apt source for '$suite' in /etc/apt/sources.list{,.d/*}; cannot pick a Debian mirror" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "[image:base] error: debootstrap missing (run hack/install-deps.sh)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/task-api-base.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
rootfs=$work/rootfs
start=$SECONDS
log "debootstrap $suite (minbase + ${packages[*]}) from the host's apt mirror"
include=$(IFS=,; echo "${packages[*]}")
debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2; echo "[image:base] error: debootstrap failed" >&2; exit 1; }

# Security and point-release updates: the image should not ship fixed CVEs just because debootstrap only
# reads the release suite.
{
  echo "deb $mirror $suite main"
  echo "deb $mirror $suite-updates main"
  [ -n "$security" ] && echo "deb $security $suite-security main"
} >"$rootfs/etc/apt/sources.list"
log "applying $suite-updates and $suite-security"
chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  sh -c 'apt-get -qq update && apt-get -qq -y -o Dpkg::Options::=--force-confold dist-upgrade && apt-get -qq clean' \
  >"$work/upgrade.log" 2>&1 || { tail -n 30 "$work/upgrade.log" >&2; echo "[image:base] error: upgrade failed" >&2; exit 1; }
# Record what is inside, for whoever scans the image later (dpkg's database stays in the image too).
chroot "$rootfs" dpkg-query -W -f='${Package} ${Version}\n' >"$work/packages.txt"

# Strip what a container never reads: docs, man pages, locales, apt lists and caches, logs.
rm -rf "$rootfs"/usr/share/{doc,man,info,lintian,linda,locale}/* \
       "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
       "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/root/.cache
find "$rootfs" -depth -name __pycache__ -type d -exec rm -rf {} +
# Devices and mounts come from the container runtime, never from the image.
rm -rf "${rootfs:?}"/dev/* "${rootfs:?}"/proc/* "${rootfs:?}"/sys/* "${rootfs:?}"/run/*
install -d -m 1777 "$rootfs/tmp"

mkdir -p "$cache"
tar --numeric-owner --sort=name --mtime=@0 -C "$rootfs" -c . | gzip -1 >"$tarball.tmp.$$"
mv "$tarball.tmp.$$" "$tarball"
cp "$work/packages.txt" "$cache/base-$suite-$key.packages.txt"
import_base "$tarball"
log "built $ref in $((SECONDS - start)) s ($(du -h "$tarball" | cut -f1) tarball, $(wc -l <"$work/packages.txt") packages)"
echo "$ref"
