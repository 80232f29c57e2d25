#!/usr/bin/env bash
# Installs the Debian packages the project needs (Docker engine, containerd, runc, CNI plugins,
# the OCI registry, htpasswd, static busybox, iptables, a C compiler for the pause image).
# Idempotent and quick when everything is already there: apt is only called for missing packages.
set -euo pipefail
packages=(docker.io containerd runc containernetworking-plugins docker-registry apache2-utils
          busybox-static iptables iproute2 gcc libc6-dev util-linux procps psmisc conntrack
          python3-venv debootstrap curl openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "[install-deps] installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d forbids package services from starting here; the scripts start daemons themselves.
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
