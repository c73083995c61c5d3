#!/usr/bin/env bash
# Installs what building and testing haip needs on a fresh Debian 12 machine (as root), and nothing
# that is already there. Node comes from Debian (nodejs 18) when the machine has none.
#   scripts/deps.sh            what `make build` and the daemon need
#   scripts/deps.sh --lab      that, plus the field daemons the lab tests run inside their namespaces
#   scripts/deps.sh PKG...     that, plus these Debian packages
# Services that a package would start on install (dnsmasq, keepalived, radvd, ...) are not started:
# a policy-rc.d that refuses every start is in place for the length of the install, so the host's
# own network is never touched by a test's install step.
set -euo pipefail
need=()
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v nft >/dev/null || need+=(nftables)
command -v conntrack >/dev/null || need+=(conntrack)

# The daemons admins really run, for the lab tests; each runs only inside a haip-* namespace.
LAB_PACKAGES=(dnsmasq-base)

extra=()
for arg in "$@"; do
  case $arg in
    --lab) extra+=("${LAB_PACKAGES[@]}") ;;
    *) extra+=("$arg") ;;
  esac
done
for pkg in "${extra[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# haip scripts/deps.sh: no service starts while test dependencies install\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
