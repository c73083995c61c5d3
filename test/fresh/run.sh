#!/usr/bin/env bash
# The README on a fresh Debian 12: a minbase rootfs with only what the README asks the admin to
# install (make, git) and the source, where the README's commands must install everything else
# themselves and pass: `make unit`, `make deb`, and `make demo` (network namespaces inside the
# container's own network namespace). A missing install step in scripts/deps.sh fails here, not on
# a user's machine.
#
# The base rootfs is debootstrapped once and cached (HAIP_E2E_CACHE, default /var/cache/haip-e2e);
# each run works in a throwaway copy of it. Packages come from this machine's Debian mirror, npm
# packages from the npm registry. Needs root (debootstrap, systemd-nspawn).
# Environment: HAIP_FRESH_KEEP=1 keeps the copy for a look afterwards; HAIP_FRESH_DEMO=0 skips the demo;
# HAIP_LAB_LOCK=FILE takes that flock(1) lock around the demo.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
. scripts/rootfs.sh

CACHE=${HAIP_E2E_CACHE:-/var/cache/haip-e2e}
OUT=$repo/build/fresh
# What the README tells the admin to install first; nothing else (no nodejs, npm or compilers).
BASE_PACKAGES=make,git
T0=$(date +%s)

passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() {
  echo "== fresh Debian 12 stage took $(($(date +%s) - T0))s; logs in ${OUT#"$repo"/}/"
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
}

if [ "$(id -u)" != 0 ]; then
  echo "test/fresh/run.sh: needs root (debootstrap, systemd-nspawn)" >&2
  exit 1
fi
bash scripts/deps.sh systemd-container debootstrap
mkdir -p "$OUT" "$CACHE"

base=$CACHE/fresh-bookworm
cached_rootfs "$base" "$BASE_PACKAGES" "$OUT/debootstrap.log" || { fail "debootstrap"; finish; exit 1; }
if [ -e "$base/usr/bin/node" ] || [ -e "$base/usr/bin/npm" ] || [ -e "$base/usr/bin/gcc" ]; then
  fail "the cached base $base has node, npm or gcc: not a fresh machine (remove $base.stamp)"
  finish
  exit 1
fi

# Downloaded .debs are kept between runs (what gets installed is still decided in each fresh copy).
mkdir -p "$CACHE/fresh-apt-archives/partial"
ROOT=$CACHE/fresh.$$
cleanup() {
  local rc=$?
  if [ -d "$ROOT" ] && [ "${HAIP_FRESH_KEEP:-}" != 1 ]; then
    if grep -q " $ROOT[/ ]" /proc/self/mountinfo; then echo "test/fresh: $ROOT still has mounts; not removing it" >&2; else rm -rf "$ROOT"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== a throwaway copy of the base, with the source in /root/haip"
cp -a --reflink=auto "$base" "$ROOT"
mkdir -p "$ROOT/root/haip"
# The working tree as git sees it (tracked and new files, nothing ignored): what `git clone` would give,
# plus the change under test.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar -C "$repo" --null -T - -cf - | tar -C "$ROOT/root/haip" -xf -
else
  tar -C "$repo" --exclude=./node_modules --exclude=./dist --exclude=./build -cf - . | tar -C "$ROOT/root/haip" -xf -
fi
# This machine's CA bundle, so node and npm reach the npm registry through whatever this network does
# to TLS (apt uses the mirror's http). It stays out of /etc/ssl so that scripts/deps.sh still has to
# install ca-certificates, as on a fresh machine; NODE_EXTRA_CA_CERTS adds it to node's store.
mkdir -p "$ROOT/usr/local/share/haip-fresh"
for f in /etc/ssl/certs/ca-certificates.crt ${NODE_EXTRA_CA_CERTS:-}; do
  [ -f "$f" ] && cat "$f"
done >"$ROOT/usr/local/share/haip-fresh/host-ca.crt"

# in_root [NSPAWN-OPTION...] -- CMD: CMD as root in the copy, in a clean environment, as a login shell
# would have it; the container shares this machine's network unless an option says otherwise.
in_root() {
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  systemd-nspawn -q --register=no --keep-unit --pipe -D "$ROOT" "${opts[@]}" --bind="$CACHE/fresh-apt-archives:/var/cache/apt/archives" \
    --setenv=HOME=/root --setenv=LANG=C.UTF-8 --setenv=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --setenv=NODE_EXTRA_CA_CERTS=/usr/local/share/haip-fresh/host-ca.crt --chdir=/root/haip "$@"
}
# step NAME LOG [NSPAWN-OPTION...] -- CMD: one PASS or FAIL line with the time taken; the log's tail on failure.
step() {
  local name=$1 log=$OUT/$2 t0
  shift 2
  t0=$(date +%s)
  echo "== $name"
  if in_root "$@" >"$log" 2>&1; then
    grep '^deps: ' "$log" | sed 's/^/      /' || true
    pass "$name ($(($(date +%s) - t0))s)"
  else
    tail -25 "$log" | sed 's/^/      | /'
    fail "$name ($(($(date +%s) - t0))s; log: ${log#"$repo"/})"
    return 1
  fi
}

ok=1
step "make unit in a fresh Debian 12 (installs node, npm and the tools itself)" unit.log -- make unit || ok=
[ -z "$ok" ] || step "make deb in a fresh Debian 12 (installs its build dependencies itself)" deb.log -- make deb || ok=
if [ -n "$ok" ] && [ "${HAIP_FRESH_DEMO:-1}" != 0 ]; then
  # The demo's namespaces live in the container's own network namespace: no names shared with the host.
  # HAIP_LAB_LOCK=FILE: hold that lock for the demo only, as machines that run several labs at once ask.
  if [ -n "${HAIP_LAB_LOCK:-}" ]; then exec 9>"$HAIP_LAB_LOCK"; flock 9; fi
  step "make demo in a fresh Debian 12 (namespaces inside the container's own network namespace)" demo.log \
    --private-network -- make demo || ok=
  [ -z "${HAIP_LAB_LOCK:-}" ] || flock -u 9
fi
if [ -n "$ok" ]; then
  deb=$(cd "$ROOT/root/haip" && ls build/haip_*_all.deb 2>/dev/null | head -1)
  echo "      built /root/haip/$deb ($(du -h "$ROOT/root/haip/$deb" | cut -f1)); $(chroot "$ROOT" dpkg-query -W -f='${binary:Package}\n' | wc -l) packages installed in the container"
fi
finish
