#!/usr/bin/env bash
# `sudo make test-node18`: the unit and lab tests on Debian 12's own nodejs 18 (the .deb's runtime), on a
# host whose node is newer. The Debian packages are unpacked into a cache dir, and shown at their
# usual paths only inside a private mount namespace (read-only overlays): nothing on the host changes.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${HAIP_NODE18_CACHE:-/var/cache/haip-node18}
root=$cache/root
if [ ! -x "$root/usr/bin/node" ]; then
  mkdir -p "$cache" && cd "$cache"
  apt-get update -q >/dev/null
  # Debian's own 18.x, whatever other nodejs the machine's apt sources prefer.
  ver=$(apt-cache madison nodejs | awk '$3 ~ /^18\./ {print $3; exit}')
  apt-get download -q "nodejs=$ver" "libnode108=$ver" node-acorn node-cjs-module-lexer node-undici libc-ares2 libuv1 libbrotli1 libnghttp2-14 libicu72 >/dev/null
  for d in *.deb; do dpkg-deb -x "$d" root; done
  cd - >/dev/null
fi
inner=$(mktemp)
trap 'rm -f "$inner"' EXIT
cat >"$inner" <<INNER
set -e
mount -t overlay overlay -o lowerdir=$root/usr/share:/usr/share /usr/share
mount -t overlay overlay -o lowerdir=$root/usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu
node18=$root/usr/bin/node
echo "node \$(\$node18 --version)"
\$node18 --test --test-reporter=spec dist/test/unit/
for f in dist/test/lab/*.test.js; do echo "== \$f"; \$node18 --test --test-reporter=spec "\$f"; done
INNER
unshare -m --propagation private bash "$inner"
