#!/usr/bin/env bash
# Builds build/haip_VERSION_all.deb with debhelper and checks it with lintian.
# Self-contained on a fresh Debian 12 (as root): installs its build dependencies.
# The build runs in a copy of the tree (build/debsrc/) so dpkg-buildpackage's
# outputs and debian/stage never land in the checkout or its parent.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# build-essential: dpkg-checkbuilddeps demands it, and it is only a Recommends of dpkg-dev.
bash scripts/deps.sh build-essential debhelper dpkg-dev lintian

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
npm_version=$(node -p 'require("./package.json").version')
if [ "$version" != "$npm_version" ]; then
  echo "deb.sh: debian/changelog says $version, package.json says $npm_version: make them agree" >&2
  exit 1
fi

src=build/debsrc/haip-$version
rm -rf build/debsrc
mkdir -p "$src"
tar -C "$root" --exclude=./node_modules --exclude=./dist --exclude=./build --exclude=./.git \
  --exclude=./.cache --exclude=./debian/stage -cf - . | tar -C "$src" -xf -

(cd "$src" && dpkg-buildpackage -us -uc --no-sign >"$root/build/dpkg-buildpackage.log" 2>&1) || {
  tail -40 build/dpkg-buildpackage.log >&2
  echo "deb.sh: dpkg-buildpackage failed; the whole log is build/dpkg-buildpackage.log" >&2
  exit 1
}
deb=build/haip_${version}_all.deb
cp "build/debsrc/haip_${version}_all.deb" "$deb"

echo "lintian (errors and warnings fail the build; overrides carry their reason):"
if lintian --fail-on error,warning build/debsrc/haip_"${version}"_*.changes; then
  echo "lintian: clean"
else
  echo "deb.sh: lintian found errors or warnings" >&2
  exit 1
fi
echo "built $deb ($(du -h "$deb" | cut -f1))"
