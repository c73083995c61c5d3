# Sourced by test/e2e/run.sh and test/fresh/run.sh: a debootstrapped Debian 12 rootfs, built once and
# cached, that each run copies and throws away.

# The Debian mirror this machine's apt already uses (deb822 or one-line sources).
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t]|\n|$)/ { if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) { s = substr($0, RSTART, RLENGTH); sub(/.*URIs:[ \t]*/, "", s); print s; exit } }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -E 's/\[[^]]*\]//' | awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }'
}

# cached_rootfs DIR PACKAGES LOG: debootstraps bookworm (minbase + the comma-separated PACKAGES) into
# DIR unless DIR.stamp already names those packages; prints what it does. False on failure (LOG has why).
cached_rootfs() {
  local dir=$1 packages=$2 log=$3 mirror t0
  [ "$(cat "$dir.stamp" 2>/dev/null)" != "$packages" ] || return 0
  mirror=$(debian_mirror | head -1 || true)
  echo "== debootstrap bookworm (minbase + $packages) into $dir, once (about a minute)"
  rm -rf "$dir.new" "$dir" "$dir.stamp"
  t0=$(date +%s)
  debootstrap --variant=minbase --include="$packages" bookworm "$dir.new" ${mirror:+"$mirror"} >"$log" 2>&1 || { tail -20 "$log"; return 1; }
  mv "$dir.new" "$dir"
  echo "$packages" >"$dir.stamp"
  echo "      debootstrap took $(($(date +%s) - t0))s"
}
