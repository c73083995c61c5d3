// The DHCP daemons admins really run, inside a lab's namespaces: dnsmasq as the ISP's server, and
// dhcpcd, udhcpc or dhclient as the router's client. Every file they write (leases, pid files, config,
// scripts) lives in the lab's temp dir; dhcpcd runs in a private mount namespace with tmpfs over /run
// and /var/lib/dhcpcd, and no client runs a script that could touch the host's /etc. Each daemon is
// stopped by its PID (SIGTERM) before the lab is destroyed.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestContext } from 'node:test';
import { Haip, Lab, REPO, sleep } from './lab';

export type ClientKind = 'dhcpcd' | 'udhcpc' | 'dhclient';

/** The exit hook the package installs as /etc/dhcp/dhclient-exit-hooks.d/haip. */
export const DHCLIENT_EXIT_HOOK = join(REPO, 'etc/dhcp/dhclient-exit-hooks.d/haip');

/** A lab whose eth1 has no address yet (a DHCP client gets one), isp2 as usual; torn down after the test. */
export function dhcpUplinkLab(t: TestContext): { lab: Lab; dhcp: Dhcp } {
  const lab = Lab.create({ createUplinks: [2] });
  const dhcp = new Dhcp(lab);
  t.after(async () => {
    await dhcp.stopAll();
    lab.destroy();
  });
  lab.addUplink(1, false);
  return { lab, dhcp };
}

export class Dhcp {
  private procs: Haip[] = [];
  private n = 0;

  constructor(private readonly lab: Lab) {}

  private dir(what: string): string {
    const d = join(this.lab.dir, `${what}-${++this.n}`);
    mkdirSync(d, { recursive: true });
    return d;
  }

  private script(dir: string, name: string, text: string): string {
    const f = join(dir, name);
    writeFileSync(f, text);
    chmodSync(f, 0o755);
    return f;
  }

  /** dnsmasq on isp<i>'s wan, handing out 198.18.<net>.50-60/24 with router 198.18.<net>.1 (DHCP only, no DNS). */
  server(i: number, net: number, extra: string[] = []): Haip {
    const d = this.dir('dnsmasq');
    const p = this.lab.spawnIn(this.lab.isp(i), [
      'dnsmasq', '-k', '--conf-file=/dev/null', '--port=0', '--interface=wan', '--bind-interfaces', '--dhcp-authoritative',
      `--dhcp-range=198.18.${net}.50,198.18.${net}.60,255.255.255.0,2m`, `--dhcp-option=3,198.18.${net}.1`,
      `--dhcp-leasefile=${d}/leases`, `--pid-file=${d}/pid`, '--log-dhcp', `--log-facility=${d}/log`, ...extra,
    ]);
    this.procs.push(p);
    return p;
  }

  /** A client on the router's `iface`, as its distribution's own scripts would set it up. */
  /** @param options dhcpcd only: more `option` names to request (classless_static_routes). */
  client(kind: ClientKind, iface: string, options: string[] = []): Haip {
    const d = this.dir(kind);
    let argv: string[];
    if (kind === 'dhcpcd') {
      writeFileSync(join(d, 'dhcpcd.conf'), `noipv6\nnoipv4ll\nnoarp\noption ${['routers', 'subnet_mask', ...options].join(', ')}\n`);
      // Its own hooks would write resolv.conf: a script that does nothing instead. dhcpcd installs the
      // address and the routes itself (main, metric 1000 + ifindex, proto dhcp).
      const hook = this.script(d, 'hook.sh', '#!/bin/sh\nexit 0\n');
      argv = ['unshare', '-m', '--propagation', 'private', 'sh', '-c',
        `mount -t tmpfs none /run && mount -t tmpfs none /var/lib/dhcpcd && exec dhcpcd -B -4 -f ${d}/dhcpcd.conf -c ${hook} ${iface}`];
    } else if (kind === 'udhcpc') {
      // busybox's simple.script: `route add` puts a second default route beside whatever main holds.
      const script = this.script(d, 'udhcpc.sh', `#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    busybox ifconfig "$interface" "$ip" netmask "$subnet"
    if [ -n "$router" ]; then
      while busybox route del default gw 0.0.0.0 dev "$interface" 2>/dev/null; do :; done
      metric=0
      for r in $router; do busybox route add default gw "$r" dev "$interface" metric $metric; metric=$((metric + 1)); done
    fi ;;
esac
exit 0
`);
      argv = ['udhcpc', '-f', '-i', iface, '-s', script, '-p', `${d}/pid`, '-t', '20', '-T', '1'];
    } else {
      // What Debian's dhclient-script does with the address and the default route (metric 0 in main),
      // then the exit hook haip ships, sourced as dhclient-script sources it.
      const script = this.script(d, 'dhclient-script', `#!/bin/sh
case "$reason" in
  PREINIT) ip link set "$interface" up ;;
  BOUND|RENEW|REBIND|REBOOT)
    if [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ]; then ip -4 addr flush dev "$interface" label "$interface"; fi
    if [ -z "$old_ip_address" ] || [ "$old_ip_address" != "$new_ip_address" ] || [ "$reason" = BOUND ] || [ "$reason" = REBOOT ]; then
      ip -4 addr add "$new_ip_address/$new_subnet_mask" dev "$interface" label "$interface"
      for router in $new_routers; do ip -4 route add default via "$router" dev "$interface" >/dev/null 2>&1; done
    fi ;;
  EXPIRE|FAIL|RELEASE|STOP) ip -4 addr flush dev "$interface" label "$interface" ;;
esac
exit_status=0
. ${DHCLIENT_EXIT_HOOK}
exit 0
`);
      writeFileSync(join(d, 'dhclient.conf'), 'request subnet-mask, routers;\n');
      argv = ['dhclient', '-d', '-4', '-sf', script, '-pf', `${d}/pid`, '-lf', `${d}/leases`, '-cf', `${d}/dhclient.conf`, iface];
    }
    const p = this.lab.spawnIn(this.lab.r, argv);
    this.procs.push(p);
    return p;
  }

  /** Stops one daemon by its PID, and waits for it (up to 2 s, then SIGKILL). */
  async stop(p: Haip): Promise<void> {
    this.procs = this.procs.filter((x) => x !== p);
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.signal('SIGTERM');
    const done = await Promise.race([p.exited.then(() => true), sleep(2000).then(() => false)]);
    if (!done) p.signal('SIGKILL');
  }

  /** Stops every daemon started here. */
  async stopAll(): Promise<void> {
    for (const p of [...this.procs].reverse()) await this.stop(p);
  }
}
