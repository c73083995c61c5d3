#!/usr/bin/env bash
# Installs what building and testing haip needs on a fresh Debian 12 machine (as root), and nothing
# that is already there. Node comes from Debian (nodejs 18) when the machine has none; npm, when
# missing, from the npm registry as one tarball (Debian's npm brings ~370 node-* packages;
# docs/decisions.md says why).
#   scripts/deps.sh            what `make build` and the daemon need
#   scripts/deps.sh --lab      that, plus the field daemons the lab tests run inside their namespaces
#   scripts/deps.sh PKG...     that, plus these Debian packages
# Services that a package would start on install (dnsmasq, keepalived, radvd, ...) are not started:
# a policy-rc.d that refuses every start is in place for the length of the install, so the host's
# own network is never touched by a test's install step.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm for Node 18 (npm 11 needs Node 20.17), pinned with its registry checksum.
NPM_VERSION=10.9.9
NPM_INTEGRITY=sha512-1g+6jLQvaIuB4zwvHL7yrXuXcWZwDsCtBX8bbWDqbvJSSr9nPiDDWTHNgwXR27iIcTTW7v3A57hDW9RYv2W4Yg==
NPM_REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}

need=()
command -v node >/dev/null || need+=(nodejs)
# Debian's nodejs takes its CA certificates from the system store, and only Recommends them.
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v nft >/dev/null || need+=(nftables)
command -v conntrack >/dev/null || need+=(conntrack)
# The unit tests lint the man pages.
command -v mandoc >/dev/null || need+=(mandoc)

# The daemons admins really run, for the lab tests; each runs only inside a haip-* namespace.
LAB_PACKAGES=(keepalived)

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
npm_missing=
command -v npm >/dev/null || npm_missing=1

if [ ${#need[@]} -gt 0 ] || [ -n "$npm_missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing: ${need[*]}${npm_missing:+ npm} (run as root, or: sudo apt-get install ${need[*]}${npm_missing:+ npm})" >&2
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

# install_npm: npm from its registry tarball into /usr/local, checked against NPM_INTEGRITY.
install_npm() {
  local tmp t0
  t0=$(date +%s)
  tmp=$(mktemp -d /tmp/haip-npm.XXXXXX)
  echo "deps: npm $NPM_VERSION from $NPM_REGISTRY (one tarball, about 2.5 MB) into /usr/local/lib/node_modules/npm"
  node -e '
    const [url, file, integrity] = process.argv.slice(1);
    const get = (u, left) => require("https").get(u, (res) => {
      if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location && left) return get(new URL(res.headers.location, u), left - 1);
      if (res.statusCode !== 200) { console.error(`deps: ${u}: HTTP ${res.statusCode}`); process.exit(1); }
      const chunks = [];
      res.on("data", (c) => chunks.push(c)).on("end", () => {
        const body = Buffer.concat(chunks);
        const got = "sha512-" + require("crypto").createHash("sha512").update(body).digest("base64");
        if (got !== integrity) { console.error(`deps: ${u}: checksum ${got}, want ${integrity}`); process.exit(1); }
        require("fs").writeFileSync(file, body);
      });
    }).on("error", (e) => { console.error(`deps: ${u}: ${e.message}`); process.exit(1); });
    get(url, 3);
  ' "$NPM_REGISTRY/npm/-/npm-$NPM_VERSION.tgz" "$tmp/npm.tgz" "$NPM_INTEGRITY"
  rm -rf /usr/local/lib/node_modules/npm
  mkdir -p /usr/local/lib/node_modules/npm /usr/local/bin
  tar -xzf "$tmp/npm.tgz" --strip-components=1 --no-same-owner -C /usr/local/lib/node_modules/npm
  chmod 755 /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/lib/node_modules/npm/bin/npx-cli.js
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
  rm -rf "$tmp"
  echo "deps: npm $(npm --version) ready in $(($(date +%s) - t0)) s"
}

[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
[ -z "$npm_missing" ] || install_npm
