#!/usr/bin/env bash
# Installs what building and testing haip needs on a fresh Debian 12 machine (as root), and nothing
# that is already there. Node and npm come from Debian (nodejs 18, npm 9) when the machine has none:
# through apt, the machine's own configured client (mirror, proxy, signatures); docs/decisions.md says
# why not a lighter npm.
#   scripts/deps.sh            what `make build` and the daemon need
#   scripts/deps.sh --lab      that, plus the field daemons the lab tests run inside their namespaces
#   scripts/deps.sh --unit     that, plus what the unit tests check shipped files with (promtool)
#   scripts/deps.sh PKG...     that, plus these Debian packages
# Services that a package would start on install (dnsmasq, keepalived, radvd, ...) are not started:
# a policy-rc.d that refuses every start is in place for the length of the install, so the host's
# own network is never touched by a test's install step.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# Debian's nodejs takes its CA certificates from the system store, and only Recommends them.
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v nft >/dev/null || need+=(nftables)
command -v conntrack >/dev/null || need+=(conntrack)
# sysctl and ps for the lab and the demo (procps is in every Debian install but minbase).
command -v sysctl >/dev/null || need+=(procps)
# The unit tests lint the man pages.
command -v mandoc >/dev/null || need+=(mandoc)

# The daemons admins really run, for the lab tests; each runs only inside a haip-* namespace. isc-dhcp-server
# is the ISP's DHCPv6-PD server (dnsmasq cannot delegate prefixes).
LAB_PACKAGES=(radvd dnsmasq-base dhcpcd-base udhcpc isc-dhcp-client keepalived isc-dhcp-server)

# promtool (in Debian's prometheus package; its service is not started, see below) checks the shipped
# alerting rules in the unit tests.
UNIT_PACKAGES=(prometheus)

# iperf3 for make bench's forwarding throughput through the policies (run only inside haip-* namespaces).
BENCH_PACKAGES=(iperf3)

extra=()
for arg in "$@"; do
  case $arg in
    --lab) extra+=("${LAB_PACKAGES[@]}") ;;
    --unit) extra+=("${UNIT_PACKAGES[@]}") ;;
    --bench) extra+=("${BENCH_PACKAGES[@]}") ;;
    *) extra+=("$arg") ;;
  esac
done
for pkg in "${extra[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

# apt_install PKG...: one line saying what and how much, apt's progress on one line, the time taken.
apt_install() {
  local log t0 size
  log=$(mktemp /tmp/haip-deps.XXXXXX)
  export DEBIAN_FRONTEND=noninteractive
  local made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# haip scripts/deps.sh: no service starts while test dependencies install\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  t0=$(date +%s)
  echo "deps: apt-get update (package lists)"
  apt-get update -q >"$log" 2>&1 || { cat "$log" >&2; echo "deps: apt-get update failed" >&2; exit 1; }
  local plan count
  plan=$(apt-get install -s --no-install-recommends "$@" 2>&1) || { echo "$plan" >&2; exit 1; }
  count=$(grep -c '^Inst ' <<<"$plan" || true)
  size=$(apt-get install --no-install-recommends --assume-no "$@" 2>/dev/null | sed -nE 's/^Need to get ([0-9.,]+ [kMG]?B).*/\1/p' || true)
  echo "deps: installing $* from Debian: $count packages with what they need (${size:-? B} to download); usually under a minute, a few on a slow mirror"
  # APT::Status-Fd gives one "pmstatus:PKG:PERCENT:..." line per step; show it as one rewritten line.
  if apt-get install -y -q --no-install-recommends -o APT::Status-Fd=3 "$@" 3> >(progress) >>"$log" 2>&1; then
    wait
    echo "deps: done in $(($(date +%s) - t0)) s"
  else
    wait
    tail -30 "$log" >&2
    echo "deps: apt-get install $* failed (log: $log)" >&2
    exit 1
  fi
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
  rm -f "$log"
}
progress() {
  local tty=
  [ -t 1 ] && tty=1
  awk -F: -v tty="$tty" '
    /^(dl|pm)status:/ { p = int($3); what = ($1 == "dlstatus") ? "downloading" : "installing"
      if (tty) { printf "\r      %s %3d%%  ", what, p; fflush() }
      else if (p >= next_p) { printf "      %s %d%%\n", what, p; fflush(); next_p = p - p % 25 + 25 } }
    END { if (tty) printf "\n" }'
}

[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
