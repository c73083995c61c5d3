# Sourced by test/e2e/run.sh: the previous release's .deb, built from git history with that
# release's own scripts/deb.sh and cached by commit id, for the lifecycle test's upgrade.
#
# The release is named here by commit, not by tag: a fresh `git clone` may carry no tags, and 0.1.0
# was never tagged. 0.1.0 was the version of every build before 0.2.0; this is the last of them that
# wrote the unmarked `inet haip` table (the next commit, 216e478, added the marker and is the one
# 0.2.0's takeover exists for), so an upgrade from it is the one that needs the migration.
# docs/decisions.md, "The lifecycle test: 0.1.0 from git history".
PREVIOUS_VERSION=0.1.0
PREVIOUS_COMMIT=11aa88de83519b42cf0e4923d0fd59e5f7835db8

# previous_deb CACHE LOG: prints the path of haip_PREVIOUS_VERSION_all.deb, building it into
# CACHE/previous/ when no copy for PREVIOUS_COMMIT is there. HAIP_E2E_PREVIOUS_DEB=FILE uses that
# file instead (a checkout without the history). False with the reason on stderr.
previous_deb() {
  local cache=$1/previous log=$2 deb src version
  if [ -n "${HAIP_E2E_PREVIOUS_DEB:-}" ]; then
    realpath "$HAIP_E2E_PREVIOUS_DEB"
    return
  fi
  deb=$cache/haip_${PREVIOUS_VERSION}_${PREVIOUS_COMMIT}.deb
  if [ -s "$deb" ]; then
    echo "$deb"
    return
  fi
  if ! git cat-file -e "$PREVIOUS_COMMIT^{commit}" 2>/dev/null; then
    echo "previous_deb: commit $PREVIOUS_COMMIT ($PREVIOUS_VERSION) is not in this checkout; a shallow clone needs \`git fetch --unshallow\`, or set HAIP_E2E_PREVIOUS_DEB" >&2
    return 1
  fi
  version=$(git show "$PREVIOUS_COMMIT:package.json" | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).version')
  if [ "$version" != "$PREVIOUS_VERSION" ]; then
    echo "previous_deb: $PREVIOUS_COMMIT is version $version, not $PREVIOUS_VERSION" >&2
    return 1
  fi
  mkdir -p "$cache"
  src=$(mktemp -d "$cache/src.XXXXXX")
  echo "== building haip $PREVIOUS_VERSION from ${PREVIOUS_COMMIT:0:12} with its own scripts/deb.sh (once; cached in $cache)" >&2
  git archive "$PREVIOUS_COMMIT" | tar -C "$src" -xf -
  # Its lintian verdict is today's lintian on yesterday's package, and not what this test is about:
  # the .deb is taken once dpkg-buildpackage made it.
  (cd "$src" && bash scripts/deb.sh) >"$log" 2>&1 || true
  if [ ! -s "$src/build/haip_${PREVIOUS_VERSION}_all.deb" ]; then
    tail -20 "$log" >&2
    rm -rf "$src"
    echo "previous_deb: building $PREVIOUS_VERSION failed (log: $log)" >&2
    return 1
  fi
  mv "$src/build/haip_${PREVIOUS_VERSION}_all.deb" "$deb.new"
  mv "$deb.new" "$deb"
  rm -rf "$src"
  echo "$deb"
}
