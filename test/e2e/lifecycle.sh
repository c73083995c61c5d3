# Sourced by test/e2e/run.sh: the package's life on the booted container, as piuparts checks it.
# The previous release (test/e2e/previous.sh) is installed and started with an admin's sticky config,
# upgraded to this .deb on the running system with the edited conffile kept (as unattended-upgrades
# answers the prompt), then removed and purged. `ip monitor` in the router namespace measures the
# routing gap of the upgrade; a file list of the rootfs taken before the first install is compared
# with the one after the last purge.
# Uses run.sh's C, R, check, pass, fail, note, wait_for, show, journal, ROOT, OUT, DEB and PREV_DEB.

LINK_TABLES=(101 102)
apt_in() { C env DEBIAN_FRONTEND=noninteractive apt-get -q -y "$@"; }
installed_version() { C dpkg-query -W -f='${db:Status-Abbrev}${Version}' haip 2>/dev/null || true; }
# Pipelines end in `grep >/dev/null`, not `grep -q`: an early exit would fail them under pipefail.
route_via() { R route show "$@" | grep 'via 198.18.1.1 dev eth1' >/dev/null; }

# haip_in_kernel: what of haip's the router namespace still holds (rules and routes with protocol 72
# in either family, anything in the link tables, the nftables table); nothing when clean.
haip_in_kernel() {
  local f t
  for f in -4 -6; do
    R -N "$f" rule show | grep -w 'proto 72' | sed "s/^/ip $f rule: /" || true
    R -N "$f" route show table all proto 72 2>/dev/null | sed "s/^/ip $f route (proto 72): /" || true
    for t in "${LINK_TABLES[@]}"; do R "$f" route show table "$t" 2>/dev/null | sed "s/^/ip $f route table $t: /" || true; done
  done
  ip netns exec haip-e2e-r nft list table inet haip >/dev/null 2>&1 && echo "nft table inet haip"
  return 0
}
kernel_clean() {
  local left
  left=$(haip_in_kernel)
  [ -z "$left" ] && return 0
  sed 's/^/      | /' <<<"$left"
  return 1
}

# haip_processes: the pids of processes running haip's code in the container.
haip_processes() { C sh -c 'grep -l "usr/lib/[h]aip\|sbin/[h]aip" /proc/[0-9]*/cmdline 2>/dev/null' | cut -d/ -f3 || true; }

# rootfs_files: every path of the container's root file system as the host sees it (no /run, /tmp or
# /proc: those are the container's own mounts), for the comparison piuparts makes.
rootfs_files() { (cd "$ROOT" && find . -xdev | sed 's/^\.//' | sort); }
# What the system itself changes while it runs and apt works, nothing of which is haip's.
ROOTFS_CHURN='^(/var/log|/var/cache|/var/lib/apt|/var/lib/dpkg|/var/lib/systemd|/var/lib/dbus|/var/lib/man-db|/var/tmp)(/|$)|^/etc/ld\.so\.cache$'

# routing_gap FILE STOP: from `ip -ts monitor route rule` lines, how long the main table's default
# route, any route of a link table or any of haip's rules was missing (deleted and not yet back by STOP,
# the monitor's end as `date +%T.%N`), and how many routes and rules were deleted.
# Prints "GAP_MS ROUTE_DELETIONS RULE_DELETIONS".
routing_gap() {
  awk -v tables=" ${LINK_TABLES[*]} " -v stop="$2" '
    function hms(s, p) { split(s, p, ":"); return p[1] * 3600 + p[2] * 60 + p[3] }
    function secs(ts) { return hms(substr(ts, 13, length(ts) - 13)) }
    {
      t = secs($1)
      line = $0; sub(/^\[[^]]*\] /, "", line)
      deleted = sub(/^Deleted /, "", line)
      if (line ~ /^[0-9]+:/) {
        if (line !~ / proto (72|haip)/) next
        key = "rule " line
        if (deleted) rules++
      } else {
        n = split(line, w, " "); dst = w[1]
        if (dst ~ /^(unicast|unreachable|blackhole|prohibit|throw)$/) dst = w[2]
        table = "main"
        for (i = 1; i < n; i++) if (w[i] == "table") table = w[i + 1]
        if (!(table == "main" && dst == "default") && index(tables, " " table " ") == 0) next
        metric = ""
        for (i = 1; i < n; i++) if (w[i] == "metric") metric = w[i + 1]
        key = "route " table " " dst " " metric
        if (deleted) routes++
      }
      # The gap is the time anything was missing (the union of the intervals, not their sum).
      if (deleted && !(key in gone)) { gone[key] = 1; if (!missing++) since = t }
      else if (!deleted && key in gone) { delete gone[key]; if (!--missing) gap += span(since, t) }
    }
    function span(a, b) { return b >= a ? b - a : b - a + 86400 }
    END {
      if (missing) gap += span(since, hms(stop))
      printf "%d %d %d\n", gap * 1000 + 0.5, routes, rules
    }' "$1"
}

lifecycle() {
  local prev=/var/tmp/haip_${PREVIOUS_VERSION}_all.deb new=/var/tmp/${DEB##*/} version admin=$OUT/haip.yaml.admin
  local before after t rc mon stop gap routes rules took line left
  version=$(dpkg-deb -f "$DEB" Version)
  echo "== lifecycle: haip $PREVIOUS_VERSION installed, upgraded to $version, removed, purged"
  cp "$PREV_DEB" "$ROOT$prev"

  # ---- the previous release, with the admin's edited config --------------------------------------
  if apt_in install "$prev" >"$OUT/apt-install-previous.log" 2>&1 && [ "$(installed_version)" = "ii $PREVIOUS_VERSION" ]; then
    pass "apt-get install haip $PREVIOUS_VERSION (built from ${PREVIOUS_COMMIT:0:12})"
  else
    tail -10 "$OUT/apt-install-previous.log" | sed 's/^/      | /'
    fail "apt-get install haip $PREVIOUS_VERSION (dpkg: $(installed_version))"
    return
  fi
  { echo "# edited by this router's admin (test/e2e/lifecycle.sh)"; lab_config; } >"$admin"
  cp "$admin" "$ROOT/etc/haip/haip.yaml"
  C systemctl restart haip || true
  unmarked() { local s; s=$(ip netns exec haip-e2e-r nft list table inet haip 2>/dev/null) && ! grep 'managed by haip' <<<"$s" >/dev/null; }
  check "haip $PREVIOUS_VERSION routes by isp1: main's default and table 101's" wait_for 15 route_via default
  check "haip $PREVIOUS_VERSION routes by isp1 in table 101" wait_for 5 route_via table 101
  check "haip $PREVIOUS_VERSION wrote its sticky table inet haip without a marker comment" wait_for 5 unmarked
  sleep 1 # a few probe rounds: isp2's table is filled too
  before=$(for t in main "${LINK_TABLES[@]}"; do R route show table "$t"; done; R -N rule show)
  R route show default | sed 's/^/      default: /'

  # ---- the upgrade on the running system ---------------------------------------------------------
  echo "== apt-get install ./${DEB##*/} over the running $PREVIOUS_VERSION (--force-confdef --force-confold)"
  ip -n haip-e2e-r -ts monitor route rule >"$OUT/upgrade-monitor.txt" 2>&1 &
  mon=$!
  sleep 0.3
  t=$(now)
  rc=0
  apt_in -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install "$new" >"$OUT/apt-upgrade.log" 2>&1 || rc=$?
  local took_s
  took_s=$(elapsed "$t")
  if [ "$rc" = 0 ] && [ "$(installed_version)" = "ii $version" ]; then
    pass "upgrade: apt-get install ./${DEB##*/} over $PREVIOUS_VERSION, unattended (${took_s}s)"
  else
    tail -10 "$OUT/apt-upgrade.log" | sed 's/^/      | /'
    fail "upgrade: apt-get install exit $rc, dpkg: $(installed_version)"
  fi
  check "upgrade: haip.service is active again" wait_for 15 active
  check "upgrade: StatusText names isp1" wait_for 15 status_is isp1
  sleep 2 # probe rounds and the periodic checks of the new daemon: anything it removes shows up here
  kill "$mon" 2>/dev/null
  stop=$(date +%T.%N) # local time, as ip -ts prints it
  wait "$mon" 2>/dev/null || true # the monitor ends by the signal: not a failure
  read -r gap routes rules < <(routing_gap "$OUT/upgrade-monitor.txt" "$stop")
  echo "      upgrade routing gap: ${gap} ms without main's default route, a link table's route or a rule of haip's; $routes route and $rules rule deletions (ip monitor: build/e2e/upgrade-monitor.txt)"
  check "upgrade: routing gap ${gap} ms (goal 0 ms)" test "$gap" = 0
  grep 'Deleted' "$OUT/upgrade-monitor.txt" | head -5 | sed 's/^/      | /' || true

  line=$(C haip status 2>&1 | grep -E '^haip [^ ]+, pid' || true)
  check "upgrade: haip status says the running daemon is haip $version" grep -Eqx "haip $version, pid [0-9]+" <<<"$line"
  note "$line"
  # From the old daemon's stop to the new one's READY=1: routes and rules stay meanwhile, nothing fails over.
  note "haip was not running for $(awk -v a="$(show ActiveExitTimestampMonotonic)" -v b="$(show ActiveEnterTimestampMonotonic)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')s of the upgrade"
  after=$(for t in main "${LINK_TABLES[@]}"; do R route show table "$t"; done; R -N rule show)
  left=$(comm -23 <(sort <<<"$before") <(sort <<<"$after"))
  if [ -z "$left" ]; then pass "upgrade: every route and rule $PREVIOUS_VERSION had is still there (main's default, tables ${LINK_TABLES[*]}, rules)"; else
    fail "upgrade: routes or rules of $PREVIOUS_VERSION's gone"; sed 's/^/      - /' <<<"$left"; fi
  comm -13 <(sort <<<"$before") <(sort <<<"$after") | sed 's/^/      + /'
  check "upgrade: the admin's /etc/haip/haip.yaml kept" cmp -s "$admin" "$ROOT/etc/haip/haip.yaml"
  [ ! -e "$ROOT/etc/haip/haip.yaml.dpkg-dist" ] || note "the new shipped file is /etc/haip/haip.yaml.dpkg-dist"
  took=$(journal | grep -c 'took over nftables table inet haip left by haip 0\.1\.0' || true)
  check "upgrade: journal says once that the $PREVIOUS_VERSION table was taken over (seen $took times)" test "$took" = 1
  journal | grep 'took over nftables table' | head -1 | sed 's/^/      | /' || true
  marked() { ip netns exec haip-e2e-r nft list table inet haip 2>/dev/null | grep 'managed by haip' >/dev/null; }
  check "upgrade: inet haip now carries haip's marker" marked

  # ---- remove: the config stays, haip's routing goes, the host keeps a default route -------------
  echo "== apt-get remove haip"
  check "before remove: haip's processes are found ($(haip_processes | tr '\n' ' '))" test -n "$(haip_processes)"
  apt_in remove haip >"$OUT/apt-remove.log" 2>&1 || fail "apt-get remove haip"
  grep 'flush' "$OUT/apt-remove.log" | sed 's/\x1b\[[0-9;]*m//g; s/^/      | /' || true
  check "remove: dpkg says rc (removed, config files kept)" test "$(installed_version)" = "rc $version"
  check "remove: the admin's /etc/haip/haip.yaml kept" cmp -s "$admin" "$ROOT/etc/haip/haip.yaml"
  check "remove: no haip process left ($(haip_processes | tr '\n' ' '))" test -z "$(haip_processes)"
  check "remove: no rule, route or nft table of haip's left" kernel_clean
  static_default() { R -N route show default | grep 'via 198.18.1.1 dev eth1 proto 4' >/dev/null; }
  check "remove: the host keeps its default route, handed over as proto static" static_default
  note "$(R route show default)"

  # ---- purge: nothing of haip left ---------------------------------------------------------------
  echo "== apt-get purge haip"
  apt_in purge haip >"$OUT/apt-purge-lifecycle.log" 2>&1 || fail "apt-get purge haip"
  check "purge: dpkg no longer knows haip" test -z "$(installed_version | grep -v '^un')"
  left=$(for f in /etc/haip /run/haip /var/lib/haip /usr/share/haip /usr/lib/haip /etc/iproute2/rt_tables.d/haip.conf \
    /etc/iproute2/rt_protos.d/haip.conf /etc/dhcp/dhclient-exit-hooks.d/haip; do if C test -e "$f"; then echo "$f"; fi; done)
  check "purge: no /etc/haip, /run/haip, /var/lib/haip, name files or hooks left${left:+ (left: $(echo $left))}" test -z "$left"
  check "purge: no rule, route or nft table of haip's left" kernel_clean
  # man-db's formatted pages in /var/cache/man are its cache: its daily job deletes those unread for a week.
  left=$(rootfs_files | grep -i haip | grep -Ev '^/var/(tmp|log|cache/man)/' || true)
  check "purge: no path named haip left in the rootfs${left:+ (left: $(head -5 <<<"$left" | tr '\n' ' '))}" test -z "$left"
}

# rootfs_unchanged BEFORE: the rootfs's paths now against the list taken before the first install,
# beyond what the running system and apt change themselves (ROOTFS_CHURN).
rootfs_unchanged() {
  local diff
  diff=$(diff <(grep -Ev "$ROOTFS_CHURN" "$1") <(rootfs_files | grep -Ev "$ROOTFS_CHURN") | grep '^[<>]' || true)
  [ -z "$diff" ] && return 0
  head -20 <<<"$diff" | sed 's/^</      | gone:/; s/^>/      | new: /'
  return 1
}
