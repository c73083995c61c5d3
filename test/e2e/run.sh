#!/usr/bin/env bash
# End-to-end test of the Debian package under a real systemd, as an admin would see it:
# build the .deb, install it with apt-get into a Debian 12 rootfs (debootstrapped once and
# cached), boot that rootfs with systemd-nspawn inside the lab's router namespace, and check
# the service, its status line, a failover, the journal, reload, the watchdog, stop and purge; then
# the package's lifecycle (test/e2e/lifecycle.sh): the previous release installed, upgraded to this
# one while it routes (the routing gap measured), removed and purged.
#
# Self-contained on a fresh Debian 12 machine (as root): installs what it needs.
# Environment: HAIP_E2E_CACHE (rootfs cache, default /var/cache/haip-e2e),
# HAIP_E2E_DEB (use this .deb instead of building one), HAIP_E2E_PREVIOUS_DEB (the previous
# release's .deb instead of building it from git history), HAIP_E2E_KEEP=1 (keep the booted
# copy of the rootfs for a look afterwards).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
. test/e2e/lab.sh
. scripts/rootfs.sh
. test/e2e/previous.sh
. test/e2e/lifecycle.sh

CACHE=${HAIP_E2E_CACHE:-/var/cache/haip-e2e}
OUT=$repo/build/e2e
BASE_PACKAGES=systemd,systemd-sysv,dbus,iproute2,iputils-ping,nftables,conntrack,nodejs,man-db
WATCHDOG_SEC=10
T0=$(date +%s)

passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
note() { echo "      $*"; }
# check NAME CMD...: one PASS or FAIL line for a command's success.
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
# wait_for SECONDS CMD...: polls CMD every 0.2s until it succeeds; false on time-out.
wait_for() {
  local deadline=$(($(date +%s%N) + $1 * 1000000000))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if [ "$(id -u)" != 0 ]; then
  echo "test/e2e/run.sh: needs root (namespaces, debootstrap, systemd-nspawn)" >&2
  exit 1
fi
# The lab's namespace names are fixed (haip-e2e-*): a second run on this machine waits for the first.
exec 8>/run/lock/haip-e2e.lock
flock -n 8 || { echo "== another e2e run holds /run/lock/haip-e2e.lock: waiting"; flock 8; }
bash scripts/deps.sh systemd-container debootstrap nftables
mkdir -p "$OUT" "$CACHE"

# ---- the package ------------------------------------------------------------------------------
if [ -n "${HAIP_E2E_DEB:-}" ]; then
  DEB=$(realpath "$HAIP_E2E_DEB")
else
  echo "== building the package (scripts/deb.sh)"
  bash scripts/deb.sh >"$OUT/deb.log" 2>&1 || { tail -30 "$OUT/deb.log" | sed 's/^/      | /'; fail "make deb (log: build/e2e/deb.log)"; echo "$passed passed, $failed failed"; exit 1; }
  DEB=$(ls -t "$repo"/build/haip_*_all.deb | head -1)
fi
echo "== package: ${DEB#"$repo"/}"
# Only what runs: no dev tools, test helpers or unused dependencies.
shipped_extra=$(dpkg -c "$DEB" | awk '{ print $6 }' | grep -E '/(test|tools|bench)/|configReference|config/docs\.js|node_modules/(systemd-notify|typescript)/' || true)
if [ -z "$shipped_extra" ]; then pass "the package ships no dev tools, test helpers or unused modules"; else fail "the package ships: $(head -5 <<<"$shipped_extra" | tr '\n' ' ')"; fi
PREV_DEB=$(previous_deb "$CACHE" "$OUT/deb-previous.log") || { fail "the previous release's .deb ($PREVIOUS_VERSION)"; echo "$passed passed, $failed failed"; exit 1; }
echo "== previous release: $PREVIOUS_VERSION (${PREV_DEB})"

# ---- the cached Debian 12 rootfs ----------------------------------------------------------------
base=$CACHE/bookworm
cached_rootfs "$base" "$BASE_PACKAGES" "$OUT/debootstrap.log" || { fail "debootstrap"; echo "$passed passed, $failed failed"; exit 1; }

# ---- the run: a throwaway copy of the rootfs, the lab, the container ----------------------------
ROOT=$CACHE/run.$$
NSPAWN_PID='' LEADER=''

mounted_under() { grep -q " $1[/ ]" /proc/self/mountinfo; }
cleanup() {
  local rc=$?
  set +e
  if [ -n "$LEADER" ] && [ -d "/proc/$LEADER" ]; then
    nsenter -t "$LEADER" -a journalctl -b --no-pager >"$OUT/journal.txt" 2>&1
    nsenter -t "$LEADER" -a systemctl poweroff --no-block >/dev/null 2>&1
  fi
  if [ -n "$NSPAWN_PID" ]; then
    for _ in $(seq 50); do [ -d "/proc/$NSPAWN_PID" ] || break; sleep 0.2; done
    if [ -d "/proc/$NSPAWN_PID" ]; then
      [ -n "$LEADER" ] && kill -KILL "$LEADER" 2>/dev/null
      sleep 1
      kill -TERM "$NSPAWN_PID" 2>/dev/null
    fi
    wait "$NSPAWN_PID" 2>/dev/null
  fi
  lab_down
  if [ -d "$ROOT" ] && [ "${HAIP_E2E_KEEP:-}" != 1 ]; then
    if mounted_under "$ROOT"; then echo "test/e2e: $ROOT still has mounts; not removing it" >&2; else rm -rf "$ROOT"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== copying the rootfs and installing the package with apt-get"
rm -rf "$ROOT"
cp -a --reflink=auto "$base" "$ROOT"
# The container boots to a prompt on its console; nobody logs in there.
chroot "$ROOT" systemctl mask console-getty.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1
cp "$DEB" "$ROOT/var/tmp/"  # nspawn mounts a fresh tmpfs on /tmp
rootfs_files >"$OUT/rootfs-before.txt"  # what purge must leave again (lifecycle.sh)
install_log=$OUT/apt-install.log
in_root() { systemd-nspawn -q --register=no --keep-unit --pipe -D "$ROOT" "$@"; }
if in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/var/tmp/${DEB##*/}" >"$install_log" 2>&1 ||
  { in_root apt-get update -q >>"$install_log" 2>&1 &&
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/var/tmp/${DEB##*/}" >>"$install_log" 2>&1; }; then
  pass "apt-get install ./${DEB##*/} in a Debian 12 rootfs"
else
  tail -20 "$install_log"
  fail "apt-get install ./${DEB##*/} in a Debian 12 rootfs"
  echo "$passed passed, $failed failed"
  exit 1
fi

lab_up
R() { ip -n haip-e2e-r "$@"; }
rules_before=$(R rule show)

echo "== booting the container in haip-e2e-r"
systemd-nspawn --boot --register=no --keep-unit --console=read-only -D "$ROOT" -M haip-e2e \
  --network-namespace-path=/run/netns/haip-e2e-r --capability=CAP_NET_ADMIN,CAP_NET_RAW \
  >"$OUT/boot.log" 2>&1 </dev/null &
NSPAWN_PID=$!
leader() { LEADER=$(cat "/proc/$NSPAWN_PID/task/$NSPAWN_PID/children" 2>/dev/null | awk '{ print $1 }'); [ -n "$LEADER" ]; }
wait_for 20 leader || { tail -20 "$OUT/boot.log"; fail "systemd-nspawn --boot"; echo "$passed passed, $failed failed"; exit 1; }
leader
# A clean environment, as a login would have: nothing of this shell's (NODE_OPTIONS, ...) leaks in.
C() { nsenter -t "$LEADER" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
booted() { local s; s=$(C systemctl is-system-running 2>/dev/null || true); [ "$s" = running ] || [ "$s" = degraded ]; }
if wait_for 60 booted; then
  pass "systemd-nspawn --boot: systemd is $(C systemctl is-system-running) in the container"
else
  tail -20 "$OUT/boot.log"
  fail "systemd-nspawn --boot: the container did not finish booting"
  echo "$passed passed, $failed failed"
  exit 1
fi
show() { C systemctl show haip -p "$1" --value; }
journal() { C journalctl -u haip -b --no-pager -o cat "$@"; }

# ---- the unit as installed ----------------------------------------------------------------------
verify_out=$(C systemd-analyze verify haip.service 2>&1 || true)
if [ -z "$verify_out" ]; then pass "systemd-analyze verify haip.service prints nothing"; else fail "systemd-analyze verify haip.service: $verify_out"; fi
exposure=$(C systemd-analyze security --offline=yes /lib/systemd/system/haip.service 2>&1 | sed -nE 's/.*Overall exposure level for haip.service: ([0-9.]+).*/\1/p' || true)
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }'; then
  pass "systemd-analyze security --offline=yes: exposure $exposure (<= 2.5)"
else
  fail "systemd-analyze security --offline=yes: exposure '${exposure:-?}' (want <= 2.5)"
fi

# ---- as installed: the shipped config changes nothing and says what to edit ---------------------
# Pipelines end in `grep >/dev/null`, not `grep -q`: an early exit would fail them under pipefail.
names_config() { journal | grep -i 'no links' | grep /etc/haip/haip.yaml >/dev/null; }
wait_for 10 names_config || true
state=$(C systemctl is-active haip || true)
check "shipped config: haip.service is active (is-active: $state)" test "$state" = active
check "shipped config: no default route in the router namespace" test -z "$(R route show default)"
check "shipped config: ip rules unchanged" test "$(R rule show)" = "$rules_before"
check "shipped config: the journal says there are no links and names /etc/haip/haip.yaml" names_config
journal | grep /etc/haip/haip.yaml | sed 's/^/      | /' || true
check_out=$(C haip check 2>&1 || true)
check "haip check of the shipped file: ok, and says no links means haip changes nothing" grep -q 'ok, no links: haip changes nothing' <<<"$check_out"
note "$check_out"
rc=0; usage_out=$(C haip check --json 2>&1) || rc=$?
check "haip check --json: refused with exit 64 (got $rc)" test "$rc" = 64
note "$(head -1 <<<"$usage_out")"
no_errors() { [ -z "$(C journalctl -u haip -b --no-pager -o cat -p 0..3)" ]; }
check "shipped config: nothing logged at priority err or worse" no_errors
C journalctl -u haip -b --no-pager -o cat -p 0..3 | sed 's/^/      | /' || true
# The watchdog must be fed with no links too, or an unconfigured host restarts haip every 10s.
if [ "$state" = active ]; then
  entered=$(date -d "$(show ActiveEnterTimestamp)" +%s)
  wait_s=$((entered + WATCHDOG_SEC + 2 - $(date +%s)))
  [ "$wait_s" -le 0 ] || sleep "$wait_s"
  check "shipped config: still running after WatchdogSec with no restart (NRestarts=$(show NRestarts))" test "$(show NRestarts)" = 0
else
  fail "shipped config: not active for WatchdogSec (state $(C systemctl is-active haip || true), NRestarts=$(show NRestarts))"
fi

# ---- the lab config -----------------------------------------------------------------------------
lab_config >"$ROOT/etc/haip/haip.yaml"
cp "$ROOT/etc/haip/haip.yaml" "$OUT/haip.yaml"
echo "== lab config written; systemctl reload-or-restart haip"
C systemctl reset-failed haip 2>/dev/null || true
C systemctl reload-or-restart haip || true
t_start=$(now)
active() { [ "$(C systemctl is-active haip)" = active ]; }
status_is() { show StatusText | grep "^active: $1 " >/dev/null; }
default_via() { R route show default | grep "via $1 dev $2" >/dev/null; }
lists_links() { local s; s=$(C haip status) && grep isp1 <<<"$s" >/dev/null && grep isp2 <<<"$s" >/dev/null; }
check "systemctl is-active haip" wait_for 15 active
check "StatusText names the active uplink isp1" wait_for 15 status_is isp1
note "StatusText=$(show StatusText)"
check "default route via isp1 (198.18.1.1 dev eth1)" wait_for 5 default_via 198.18.1.1 eth1
note "$(R route show default)"
check "haip status lists both links" lists_links
C haip status 2>&1 | sed 's/^/      | /' || true
check "haip wrote its table names under ProtectSystem=strict" test -s "$ROOT/etc/iproute2/rt_tables.d/haip.conf"
sticky_table() { ip netns exec haip-e2e-r nft list table inet haip >/dev/null 2>&1; }
check "sticky: nft table inet haip installed from inside the sandbox" sticky_table
# ICMP probes through haip's one helper (raw sockets under CapabilityBoundingSet and the syscall filter),
# not the fallback of one ping per target.
# The unit's processes as systemctl status lists them under CGroup: "├─57 haip: icmp helper".
service_procs() { C systemctl status haip --no-pager -l 2>/dev/null | sed -n 's/^ *[│├└─ ]*[0-9][0-9]* //p'; }
icmp_helper() { local ps; ps=$(service_procs); grep -qE '^"?haip: icmp helper' <<<"$ps" && ! grep -qE '^(/usr/bin/|/bin/)?ping ' <<<"$ps"; }
check "probes: the ICMP helper runs inside the unit's sandbox, no ping per target" wait_for 5 icmp_helper
service_procs | sed '/^$/d; s/^/      | /' || true

# ---- failover under systemd ---------------------------------------------------------------------
echo "== isp1 fails (nft drop in haip-e2e-isp1)"
lab_fail_isp 1
t=$(now)
if wait_for 15 default_via 198.18.2.1 eth2; then
  pass "failover: default route via isp2 after $(elapsed "$t")s"
else
  fail "failover: default route still '$(R route show default)' after 15s"
fi
check "StatusText names isp2 after the failover" wait_for 5 status_is isp2
note "StatusText=$(show StatusText)"
switch_at() { C journalctl -u haip -b --no-pager -o cat -p "$1..$1" | grep -E "$2"; }
line=$(switch_at 4 'switch: .*isp1.*-> *isp2' | tail -1 || true)
if [ -n "$line" ]; then pass "journal: the switch away from the failed isp1 at priority warning"; note "$line"; else
  fail "journal: no warning-priority line for the switch isp1 -> isp2"; journal | grep -i switch | sed 's/^/      | /' || true; fi
probes_at_debug() { C journalctl -u haip -b --no-pager -o cat -p 7..7 | grep -E '^probe isp[12]' >/dev/null; }
check "journal: probes logged at priority debug" probes_at_debug
note "$(C journalctl -u haip -b --no-pager -o cat -p 7..7 | grep -E '^probe isp[12]' | tail -1 || true)"

echo "== isp1 heals"
lab_heal_isp 1
t=$(now)
if wait_for 15 default_via 198.18.1.1 eth1; then pass "fail-back: default route via isp1 after $(elapsed "$t")s"; else fail "fail-back: default route still '$(R route show default)'"; fi
line=$(switch_at 5 'switch: .*isp2.*-> *isp1' | tail -1 || true)
if [ -n "$line" ]; then pass "journal: the fail-back at priority notice"; note "$line"; else fail "journal: no notice-priority line for the switch isp2 -> isp1"; fi
# Journal fields (native protocol): one link's story by its name, and the switch by its MESSAGE_ID.
by_link() { C journalctl -u haip -b --no-pager -o cat HAIP_LINK=isp1 HAIP_EVENT=switch | grep -E 'switch: .*isp2.*-> *isp1' >/dev/null; }
check "journal: journalctl -u haip HAIP_LINK=isp1 HAIP_EVENT=switch shows the fail-back to isp1" wait_for 5 by_link
C journalctl -u haip -b --no-pager -o cat HAIP_LINK=isp1 | sed 's/^/      | /' || true
down_fields() {
  local v
  v=$(C journalctl -u haip -b --no-pager -o verbose HAIP_LINK=isp1 HAIP_EVENT=link-down)
  for f in MESSAGE_ID=cad33f2baa4d46f7a9885a15bc18d474 HAIP_INTERFACE=eth1 SYSLOG_IDENTIFIER=haip; do grep -qE "^ +$f\$" <<<"$v" || return 1; done
}
check "journal: isp1's link-down entry has its MESSAGE_ID, HAIP_INTERFACE and SYSLOG_IDENTIFIER" down_fields

# ---- reload with a broken file ------------------------------------------------------------------
echo "== systemctl reload with a broken file"
pid_before=$(show MainPID)
cp "$ROOT/etc/haip/haip.yaml" "$OUT/haip.yaml.good"
printf 'probe_typo: 1\n' >>"$ROOT/etc/haip/haip.yaml"
errors_before=$(C journalctl -u haip -b --no-pager -o cat -p 3..3 | wc -l)
check "systemctl reload haip (broken file) returns 0" C systemctl reload haip
sleep 1
refused() { [ "$(C journalctl -u haip -b --no-pager -o cat -p 3..3 | wc -l)" -gt "$errors_before" ]; }
check "journal: the refused reload at priority err" wait_for 5 refused
C journalctl -u haip -b --no-pager -o cat -p 3..3 | tail -n +$((errors_before + 1)) | head -3 | sed 's/^/      | /' || true
same_main() { active && [ "$(show MainPID)" = "$pid_before" ]; }
check "after the broken reload: still active, same MainPID" same_main
check "after the broken reload: default route still via isp1" default_via 198.18.1.1 eth1
cp "$OUT/haip.yaml.good" "$ROOT/etc/haip/haip.yaml"
C systemctl reload haip || true
check "reload of the good file: still active, StatusText isp1" wait_for 5 status_is isp1

# ---- the watchdog -------------------------------------------------------------------------------
# WATCHDOG=1 must be accepted: by now the service has run past WatchdogSec without a restart.
ran=$(awk -v a="$t_start" -v b="$(now)" 'BEGIN { printf "%d", b - a }')
[ "$ran" -gt "$WATCHDOG_SEC" ] || sleep $((WATCHDOG_SEC + 1 - ran))
check "WATCHDOG=1 accepted: no restart after more than WatchdogSec=${WATCHDOG_SEC}s (NRestarts=$(show NRestarts))" test "$(show NRestarts)" = 0
pid=$(show MainPID)
echo "== SIGSTOP to the daemon (MainPID $pid)"
C sh -c "kill -STOP $pid" || true
t=$(now)
restarted() { [ "$(show NRestarts)" -ge 1 ] && [ "$(show MainPID)" != "$pid" ] && [ "$(show MainPID)" != 0 ] && active; }
if wait_for $((WATCHDOG_SEC * 3)) restarted; then
  pass "a stopped daemon is killed by the watchdog and restarted after $(elapsed "$t")s (NRestarts=$(show NRestarts))"
else
  fail "watchdog: no restart within $((WATCHDOG_SEC * 3))s (NRestarts=$(show NRestarts), state $(C systemctl is-active haip))"
fi
watchdog_logged() { journal | grep -i 'watchdog timeout' >/dev/null; }
check "journal: systemd logged the watchdog timeout" watchdog_logged
journal | grep -i 'watchdog' | head -2 | sed 's/^/      | /' || true
check "after the restart: StatusText isp1" wait_for 15 status_is isp1

# ---- stop ---------------------------------------------------------------------------------------
echo "== systemctl stop haip"
C systemctl stop haip || true
stopped_cleanly() { [ "$(C systemctl is-active haip)" = inactive ] && [ "$(show Result)" = success ] && [ "$(show ExecMainStatus)" = 0 ]; }
check "systemctl stop: inactive with result success and exit status 0" stopped_cleanly
check "systemctl stop leaves the default route (via isp1)" default_via 198.18.1.1 eth1
journal | grep 'stopping' | tail -1 | sed 's/^/      | /' || true

# ---- purge --------------------------------------------------------------------------------------
echo "== apt-get purge haip"
C env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q haip >"$OUT/apt-purge.log" 2>&1 || { tail "$OUT/apt-purge.log"; fail "apt-get purge haip"; }
left=$(for f in /etc/haip /usr/lib/haip /usr/sbin/haip /lib/systemd/system/haip.service /etc/systemd/system/multi-user.target.wants/haip.service \
  /etc/iproute2/rt_tables.d/haip.conf /etc/iproute2/rt_protos.d/haip.conf /run/haip; do if C test -e "$f"; then echo "$f"; fi; done)
if [ -z "$left" ]; then pass "purge removes what the package made"; else fail "purge left: $left"; fi
check "purge: no rule, route or nft table of haip's left" kernel_clean

lifecycle
check "the rootfs has the paths it had before the first install (besides logs, apt's and systemd's state)" rootfs_unchanged "$OUT/rootfs-before.txt"

echo "== e2e took $(($(date +%s) - T0))s; logs in ${OUT#"$repo"/}/"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
