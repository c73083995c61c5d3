#!/usr/bin/env bash
# make release VERSION=x.y.z: the version moves in package.json (the one source haip reads) and its
# lock file, and debian/changelog gets a new stanza in dch's format with the three headings admins
# read, the commits since the last release printed to write them from. Nothing is committed or tagged:
# the stanza is written by a person (docs/decisions.md "How a release is made").
set -euo pipefail
cd "$(dirname "$0")/.."
new=${VERSION:-${1:-}}
if ! [[ $new =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "release.sh: VERSION=x.y.z, got '${new}'" >&2
  exit 64
fi
old=$(dpkg-parsechangelog -l debian/changelog -S Version)
if ! dpkg --compare-versions "$new" gt "$old"; then
  echo "release.sh: $new is not newer than debian/changelog's $old" >&2
  exit 1
fi
if [ -n "$(git status --porcelain -- package.json package-lock.json debian/changelog)" ]; then
  echo "release.sh: package.json, package-lock.json or debian/changelog has uncommitted changes" >&2
  exit 1
fi
# The commit that last changed the version line: the previous release.
since=$(git log -1 --format=%H -G '^haip \(' -- debian/changelog)

# Text edits, not JSON.stringify: the files keep their layout. The result is read back as JSON.
node -e '
  const fs = require("fs");
  const v = process.argv[1];
  const bump = (file, times, check) => {
    let n = 0;
    const text = fs.readFileSync(file, "utf8").replace(/"version": "[^"]*"/g, (m) => (n++ < times ? `"version": "${v}"` : m));
    if (!check(JSON.parse(text))) throw new Error(`${file}: the version did not move`);
    fs.writeFileSync(file, text);
  };
  bump("package.json", 1, (j) => j.version === v);
  bump("package-lock.json", 2, (j) => j.version === v && j.packages[""].version === v);
' "$new"

maint=$(dpkg-parsechangelog -l debian/changelog -S Maintainer)
{
  printf 'haip (%s) unstable; urgency=medium\n\n' "$new"
  printf '  * New configuration keys:\n    - RELEASE-TODO\n'
  printf '  * Changed behaviour:\n    - RELEASE-TODO\n'
  printf '  * Migrations:\n    - RELEASE-TODO\n'
  printf '\n -- %s  %s\n\n' "$maint" "$(date -u -R)"
  cat debian/changelog
} >debian/changelog.new
mv debian/changelog.new debian/changelog

echo "release.sh: $old -> $new in package.json, package-lock.json and debian/changelog."
echo "Replace every RELEASE-TODO in debian/changelog (a unit test fails while one is left), from:"
git log --oneline --no-merges "$since"..HEAD
