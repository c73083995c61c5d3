// Fakes for the daemon's side-effect interfaces: a kernel behind the `ip` Runner, a clock, a prober and a
// notifier. The fake kernel answers exactly the argv haip uses, in iproute2 6.1's `-j -N` JSON shapes, and
// renders its state as sorted text for golden comparisons (Tailscale's TestRouterStates).
//
// Kernel semantics kept (and what is simplified):
// - `route replace` overwrites the route with the same (table, dst, metric); `route del` matches table, dst,
//   metric (default 0) and every other attribute given, else code 2 "No such process".
// - A gateway must lie inside a prefix of an address on the route's device ("Nexthop has invalid gateway"),
//   the device must exist (code 1) and be administratively up ("Nexthop device is not up").
// - `rule add` of a rule equal in priority, selector and table (protocol ignored, as rule_exists() does)
//   -> code 2 "File exists"; `rule del` deletes the first rule matching every attribute given, else code 2.
// - Adding an address adds the kernel's connected route (proto kernel, main table); removing it drops
//   routes on that device using it as prefsrc or reaching it as a connected prefix, and the last address
//   going drops every route on the device (fib_disable_ip). Removing an interface
//   or taking it administratively down drops every route on it. Carrier loss keeps routes (flag linkdown).
// - `unreachable` routes (no device; `-N` shows their type as "7"); `oif` rules.
// - IPv6 (`ip -6`): its own routes and rules beside IPv4's; a route added without a metric gets 1024,
//   a connected prefix is `proto kernel metric 256`, a link-local gateway (fe80::/10) is reachable on any
//   device, rules and routes print /128 host selectors bare. Not modelled: link-local addresses, DAD.
// - Not modelled: the local table (255) routes, route types other than unicast and unreachable, tos,
//   multipath.
// - Any other argv answers code 255 and is recorded in `unknown`, so tests can assert none happened.
import { Log, LogFields } from '../../src/log';
import { LogLevel } from '../../src/model';
import { covers, prefixLength } from '../../src/net/effective';
import { Clock, TimerHandle } from '../../src/sys/clock';
import { LinkEvents } from '../../src/sys/linkEvents';
import { Notifier } from '../../src/sys/notifier';
import { Prober, ProbeHints, ProbeResult } from '../../src/sys/prober';
import { Runner, RunResult } from '../../src/sys/runner';

// ---- addresses ------------------------------------------------------------------------------------------

function ipToInt(a: string): number {
  const p = a.split('.').map(Number);
  if (p.length !== 4 || p.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new Error(`bad address ${a}`);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

const is6 = (a: string) => a.includes(':');

function v6ToBig(a: string): bigint {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) throw new Error(`bad address ${a}`);
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n);
}

function bigToV6(n: bigint): string {
  const g = [...Array(8)].map((_, i) => Number((n >> BigInt(16 * (7 - i))) & 0xffffn));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i >= 2 && j - i > best.len) best = { at: i, len: j - i };
  }
  const hx = g.map((x) => x.toString(16));
  return best.at < 0 ? hx.join(':') : `${hx.slice(0, best.at).join(':')}::${hx.slice(best.at + best.len).join(':')}`;
}

const mask6 = (len: number) => (len === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - len)) - 1n));

/** An address in the kernel's spelling: dotted quad, or compressed IPv6. */
function canon(a: string): string {
  return is6(a) ? bigToV6(v6ToBig(a)) : intToIp(ipToInt(a));
}

/** "a.b.c.d[/n]" (or IPv6) -> address and length; the kernel keeps host bits of rule selectors as given. */
function parsePrefix(s: string): { addr: string; len: number } {
  if (s === 'all' || s === 'default' || s === '0/0' || s === '0.0.0.0/0') return { addr: '0.0.0.0', len: 0 };
  if (s === '::/0') return { addr: '::', len: 0 };
  if (is6(s)) {
    const [a6, l6] = s.split('/');
    const len6 = l6 === undefined ? 128 : Number(l6);
    if (!Number.isInteger(len6) || len6 < 0 || len6 > 128) throw new Error(`bad prefix ${s}`);
    return { addr: canon(a6), len: len6 };
  }
  const [a, l] = s.split('/');
  const len = l === undefined ? 32 : Number(l);
  if (!Number.isInteger(len) || len < 0 || len > 32) throw new Error(`bad prefix ${s}`);
  return { addr: intToIp(ipToInt(a)), len };
}

function inPrefix(addr: string, net: string, len: number): boolean {
  if (is6(addr) !== is6(net)) return false;
  if (is6(addr)) return ((v6ToBig(addr) ^ v6ToBig(net)) & mask6(len)) === 0n;
  return ((ipToInt(addr) ^ ipToInt(net)) & maskOf(len)) === 0;
}

/** Route destinations as the kernel stores them: host bits cleared, "default" for /0. */
function routeDst(s: string): string {
  const { addr, len } = parsePrefix(s);
  if (len === 0) return 'default';
  if (is6(addr)) {
    const net6 = bigToV6(v6ToBig(addr) & mask6(len));
    return len === 128 ? net6 : `${net6}/${len}`;
  }
  const net = intToIp((ipToInt(addr) & maskOf(len)) >>> 0);
  return len === 32 ? net : `${net}/${len}`;
}

// ---- kernel -------------------------------------------------------------------------------------------

export interface FakeAddress {
  address: string;
  prefixlen: number;
  /** Point-to-point peer (ppp): shown as "address" in `ip -j addr`. */
  peer?: string;
  /** Seconds left (a DHCPv6 client's lease); absent: forever. */
  validS?: number;
  preferredS?: number;
}

export interface FakeInterface {
  ifindex: number;
  name: string;
  adminUp: boolean;
  carrier: boolean;
  /** IFF_POINTOPOINT (ppp, tun): shown as POINTOPOINT in the flags instead of BROADCAST. */
  pointToPoint?: boolean;
  addresses: FakeAddress[];
}

export interface FakeRoute {
  /** Absent: IPv4. */
  family?: 6;
  table: number;
  type?: 'unreachable';
  dst: string; // "default", "a.b.c.d" or "a.b.c.d/n"
  dev: string; // '' for unreachable
  gateway?: string;
  prefsrc?: string;
  onlink?: boolean;
  scope: number; // 0 universe, 253 link, 254 host
  protocol: number;
  metric: number;
}

export interface FakeRule {
  /** Absent: IPv4. */
  family?: 6;
  priority: number;
  src?: { addr: string; len: number };
  dst?: { addr: string; len: number };
  fwmark?: number;
  fwmask?: number;
  iif?: string;
  oif?: string;
  table: number;
  suppressPrefixlen?: number;
  protocol: number; // 0 unspec, 2 kernel
}

interface Failure {
  prefix: string[];
  code: number;
  stderr: string;
  times: number;
}

const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };
const PROTO_NAMES: Record<number, string> = { 2: 'kernel', 3: 'boot', 4: 'static', 16: 'dhcp' };
const ok = (stdout = ''): RunResult => ({ code: 0, stdout, stderr: '' });
const fail = (code: number, stderr: string): RunResult => ({ code, stdout: '', stderr: stderr + '\n' });

export class FakeKernel implements Runner {
  readonly interfaces = new Map<string, FakeInterface>();
  routes: FakeRoute[] = [];
  rules: FakeRule[] = [
    { priority: 0, table: 255, protocol: 2 },
    { priority: 32766, table: 254, protocol: 2 },
    { priority: 32767, table: 253, protocol: 2 },
    { family: 6, priority: 0, table: 255, protocol: 2 },
    { family: 6, priority: 32766, table: 254, protocol: 2 },
  ];
  /** Every argv run, in order, reads included. */
  readonly log: string[][] = [];
  /** Argv the fake did not understand (answered with 255). */
  readonly unknown: string[][] = [];
  private failures: Failure[] = [];
  private nextIndex = 1;

  constructor() {
    this.addInterface('lo', [{ address: '127.0.0.1', prefixlen: 8 }]);
  }

  // ---- test helpers ----

  addInterface(name: string, addresses: FakeAddress[] = [], opts: { up?: boolean; carrier?: boolean; pointToPoint?: boolean } = {}): this {
    if (this.interfaces.has(name)) throw new Error(`fake kernel: ${name} exists`);
    this.interfaces.set(name, { ifindex: this.nextIndex++, name, adminUp: opts.up ?? true, carrier: opts.carrier ?? true, pointToPoint: opts.pointToPoint, addresses: [] });
    for (const a of addresses) this.addAddress(name, a);
    return this;
  }

  removeInterface(name: string): this {
    this.interfaces.delete(name);
    this.routes = this.routes.filter((r) => r.dev !== name);
    return this;
  }

  setCarrier(name: string, carrier: boolean): this {
    this.iface(name).carrier = carrier;
    return this;
  }

  /** Administrative state: going down drops every route on the device, as the kernel does. */
  setAdminUp(name: string, up: boolean): this {
    const i = this.iface(name);
    i.adminUp = up;
    if (!up) this.routes = this.routes.filter((r) => r.dev !== name);
    else for (const a of i.addresses) this.addConnected(name, a);
    return this;
  }

  addAddress(name: string, a: FakeAddress): this {
    const i = this.iface(name);
    i.addresses.push({ ...a });
    if (i.adminUp) this.addConnected(name, a);
    return this;
  }

  removeAddress(name: string, address: string): this {
    const i = this.iface(name);
    const a = i.addresses.find((x) => x.address === address);
    if (!a) throw new Error(`fake kernel: ${name} has no ${address}`);
    i.addresses = i.addresses.filter((x) => x !== a);
    const six = is6(address);
    const left = i.addresses.some((x) => is6(x.address) === six);
    // The last address going disables IP on the device: every route on it goes (fib_disable_ip).
    this.routes = this.routes.filter(
      (r) => !(r.dev === name && (r.family === 6) === six && (!left || r.prefsrc === address || (r.protocol === 2 && r.dst === connectedDst(a)))),
    );
    return this;
  }

  /** Replaces every address of the interface (a ppp redial, a DHCP renew with a new lease). */
  setAddress(name: string, a: FakeAddress | null): this {
    for (const old of [...this.iface(name).addresses]) this.removeAddress(name, old.address);
    if (a) this.addAddress(name, a);
    return this;
  }

  /**
   * Puts a route in as another program would (dhclient, an admin), bypassing argv parsing: appended
   * (`ip route append`, busybox `route add`), or in front of its equals (`ip route prepend`).
   */
  addRawRoute(r: Partial<FakeRoute> & { dst: string; dev: string }, opts: { prepend?: boolean } = {}): this {
    const six = is6(r.dst) || (r.gateway !== undefined && is6(r.gateway)) || r.family === 6;
    const route: FakeRoute = { table: 254, scope: r.gateway || six ? 0 : 253, protocol: 3, metric: six ? 1024 : 0, ...r, dst: routeDst(r.dst) };
    if (six) route.family = 6;
    if (opts.prepend) this.routes.unshift(route);
    else this.routes.push(route);
    return this;
  }

  /** What haip's DHCPv6 client hook leaves for a delegated prefix: `unreachable PREFIX dev lo proto dhcp metric 7200+ifindex`. */
  delegate(prefix: string, wan: string): this {
    this.routes.push({ family: 6, table: 254, type: 'unreachable', dst: routeDst(prefix), dev: '', scope: 0, protocol: 16, metric: 7200 + this.iface(wan).ifindex });
    return this;
  }

  addRawRule(r: Partial<FakeRule> & { priority: number; table: number }): this {
    this.rules.push({ protocol: 0, ...r });
    return this;
  }

  /** The next `times` commands whose argv starts with `prefix` fail with this code and stderr. */
  failNext(prefix: string[], code: number, stderr: string, times = 1): this {
    this.failures.push({ prefix, code, stderr, times });
    return this;
  }

  clearFailures(): this {
    this.failures = [];
    return this;
  }

  /** Removes a route as another program would (a DHCP client renewing), bypassing argv parsing. */
  removeRawRoute(match: (r: FakeRoute) => boolean): this {
    this.routes = this.routes.filter((r) => !match(r));
    return this;
  }

  /** Commands that change state (everything but the reads). */
  get mutations(): string[] {
    return this.log.filter((a) => !a.includes('-j')).map((a) => a.join(' '));
  }

  clearLog(): void {
    this.log.length = 0;
  }

  private iface(name: string): FakeInterface {
    const i = this.interfaces.get(name);
    if (!i) throw new Error(`fake kernel: no interface ${name}`);
    return i;
  }

  private addConnected(dev: string, a: FakeAddress) {
    const dst = connectedDst(a);
    // lo's 127/8 lives in the local table as type local, which is not modelled.
    if (!dst || dev === 'lo') return;
    if (is6(a.address)) {
      this.routes = this.routes.filter((r) => !(r.family === 6 && r.table === 254 && r.dst === dst && r.protocol === 2 && r.dev === dev));
      this.routes.push({ family: 6, table: 254, dst, dev, scope: 0, protocol: 2, metric: 256 });
      return;
    }
    this.routes = this.routes.filter((r) => !(r.table === 254 && r.dst === dst && r.metric === 0 && r.protocol === 2 && r.dev === dev));
    this.routes.push({ table: 254, dst, dev, prefsrc: a.address, scope: 253, protocol: 2, metric: 0 });
  }

  // ---- Runner ----

  /** Commands whose argv starts with this never answer (a hung `ip`), until `hang(null)`. */
  hang(prefix: string[] | null): this {
    this.hanging = prefix;
    return this;
  }
  private hanging: string[] | null = null;

  async run(argv: string[], input?: string): Promise<RunResult> {
    this.log.push([...argv]);
    if (this.hanging && this.hanging.every((p, i) => argv[i] === p)) return new Promise(() => {});
    const f = this.failures.find((x) => x.prefix.every((p, i) => argv[i] === p));
    if (f) {
      if (--f.times <= 0) this.failures = this.failures.filter((x) => x !== f);
      return fail(f.code, f.stderr);
    }
    const key = argv.join(' ');
    if (key === '-j addr show' || key === '-j -N addr show') return ok(JSON.stringify(this.addrJson()));
    // Without a family flag `ip` reads rules and one table's routes as IPv4.
    if (/^-j -N (rule|route) show( table \w+( default)?)?$/.test(key) && !key.includes('table all')) return this.run(['-4', ...argv], input);
    if (key === '-4 -j -N route show table all') return ok(JSON.stringify(this.routeJson()));
    const show = /^-([46]) -j -N route show table (\w+)( default)?$/.exec(key);
    if (show) {
      const six = show[1] === '6';
      const table = show[2] === 'main' ? 254 : num(show[2]);
      const routes = this.routeJson(table, !!show[3], six);
      // The kernel knows a table only while it holds a route; main always exists.
      if (table !== 254 && !this.routes.some((r) => r.table === table && (r.family === 6) === six))
        return fail(2, `Error: ${six ? 'ipv6' : 'ipv4'}: FIB table does not exist.\nDump terminated`);
      return ok(JSON.stringify(routes));
    }
    if (key === '-6 -j -N route show table main type unreachable proto dhcp') {
      // The kernel filters the dump; iproute2 then leaves out the protocol it filtered by.
      const mine = this.routes.filter((r) => r.family === 6 && r.table === 254 && r.type === 'unreachable' && r.protocol === 16);
      return ok(JSON.stringify(mine.map((r) => ({ type: '7', dst: r.dst, dev: 'lo', metric: r.metric, flags: [], pref: 'medium' }))));
    }
    if (key === '-j -N -force -batch -' && /^route get/.test((input ?? '').trim())) return ok(this.batchLookups(input ?? ''));
    if (key === '-j -N -force -batch -') return this.batch('', input ?? '');
    if (key === '-4 -j -N -force -batch -' || key === '-6 -j -N -force -batch -') return this.batch(argv[0], input ?? '');
    if (key === '-4 -j -N rule show') return ok(JSON.stringify(this.ruleJson()));
    if (key === '-6 -j -N rule show') return ok(JSON.stringify(this.ruleJson(true)));
    if (key.startsWith('-4 -j -N route show table all dev ') && argv.length === 9) {
      if (!this.interfaces.has(argv[8])) return fail(1, `Cannot find device "${argv[8]}"`);
      // Filtered by device, iproute2 leaves `dev` out of every route it prints.
      const mine = this.routeJson().filter((j) => (j as { dev?: string }).dev === argv[8]);
      return ok(JSON.stringify(mine.map((j) => ({ ...(j as object), dev: undefined }))));
    }
    try {
      const six = argv[0] === '-6';
      if ((argv[0] === '-4' || six) && argv[1] === 'route' && (argv[2] === 'replace' || argv[2] === 'del')) return this.route(argv[2], argv.slice(3), six);
      if ((argv[0] === '-4' || six) && argv[1] === 'rule' && (argv[2] === 'add' || argv[2] === 'del')) return this.rule(argv[2], argv.slice(3), six);
    } catch (err) {
      if (!(err instanceof UnknownArgv)) throw err;
    }
    this.unknown.push([...argv]);
    return fail(255, `fake kernel does not know: ip ${key}`);
  }

  /**
   * `ip [-4|-6] -j -N -force -batch -`: each line as if run alone (reads with `-j -N`, changes without),
   * a read's JSON on its own line, a failure's words and `Command failed -:N` on stderr, exit 1 if any failed.
   */
  private async batch(family: string, input: string): Promise<RunResult> {
    let stdout = '';
    let stderr = '';
    for (const [i, line] of input.split('\n').filter((l) => l.trim()).entries()) {
      const words = line.trim().split(/\s+/);
      // Without a family flag `ip` reads addresses of both families and everything else as IPv4.
      const argv = family === '' && words[0] === 'addr' ? ['-j', ...words] : [family || '-4', ...(words[1] === 'show' ? ['-j', '-N'] : []), ...words];
      const r = await this.run(argv);
      if (r.code !== 0) stderr += `${r.stderr.trim()}\nCommand failed -:${i + 1}\n`;
      else if (r.stdout) stdout += r.stdout.trim() + '\n';
    }
    return { code: stderr ? 1 : 0, stdout, stderr };
  }

  private route(op: 'replace' | 'del', args: string[], six = false): RunResult {
    const unreachable = args[0] === 'unreachable';
    if (unreachable) args = args.slice(1);
    if (!args.length) throw new UnknownArgv();
    if (args[0] !== 'default' && is6(args[0]) !== six) return fail(2, 'Error: Invalid prefix for given prefix length.');
    const r: Partial<FakeRoute> & { dst: string } = { dst: routeDst(args[0]) };
    let scopeGiven = false;
    for (let i = 1; i < args.length; i += 2) {
      if (args[i] === 'onlink') {
        r.onlink = true;
        i--;
        continue;
      }
      const [k, v] = [args[i], args[i + 1]];
      if (v === undefined) throw new UnknownArgv();
      switch (k) {
        case 'via':
          if (is6(v) !== six) return fail(2, 'Error: inet address is expected rather than "' + v + '".');
          r.gateway = canon(v);
          break;
        case 'dev':
          r.dev = v;
          break;
        case 'src':
          if (is6(v) !== six) return fail(2, 'Error: inet address is expected rather than "' + v + '".');
          r.prefsrc = canon(v);
          break;
        case 'scope':
          if (v !== 'link' && v !== 'host' && v !== 'global') throw new UnknownArgv();
          r.scope = v === 'link' ? 253 : v === 'host' ? 254 : 0;
          scopeGiven = true;
          break;
        case 'proto':
          r.protocol = num(v);
          break;
        case 'metric':
          r.metric = num(v);
          break;
        case 'table':
          r.table = num(v);
          break;
        default:
          throw new UnknownArgv();
      }
    }
    const table = r.table ?? 254;
    // IPv6 has no metric 0: the kernel stores 1024.
    const metric = r.metric || (six ? 1024 : 0);
    const fam = (x: FakeRoute) => (x.family === 6) === six;
    if (unreachable && (r.dev || r.gateway)) throw new UnknownArgv();
    if (op === 'del') {
      const i = this.routes.findIndex(
        (x) =>
          fam(x) &&
          x.table === table &&
          x.dst === r.dst &&
          x.metric === metric &&
          (r.dev === undefined || x.dev === r.dev) &&
          (r.gateway === undefined || x.gateway === r.gateway) &&
          (r.prefsrc === undefined || x.prefsrc === r.prefsrc) &&
          (!scopeGiven || x.scope === r.scope) &&
          (r.protocol === undefined || x.protocol === r.protocol) &&
          (!unreachable || x.type === 'unreachable'),
      );
      if (i < 0) return fail(2, 'RTNETLINK answers: No such process');
      this.routes.splice(i, 1);
      return ok();
    }
    if (unreachable) {
      const route: FakeRoute = { ...(six ? { family: 6 as const } : {}), table, type: 'unreachable', dst: r.dst, dev: '', scope: 0, protocol: r.protocol ?? 3, metric };
      const at = this.routes.findIndex((x) => fam(x) && x.table === table && x.dst === r.dst && x.metric === metric);
      if (at >= 0) this.routes[at] = route;
      else this.routes.push(route);
      return ok();
    }
    if (!r.dev) return fail(2, 'RTNETLINK answers: No such device');
    const dev = this.interfaces.get(r.dev);
    if (!dev) return fail(1, `Cannot find device "${r.dev}"`);
    if (!dev.adminUp) return fail(2, 'Error: Nexthop device is not up.');
    if (r.onlink && !r.gateway) return fail(2, 'Error: onlink without a gateway.');
    if (r.gateway && !r.onlink && !(six && r.gateway.startsWith('fe80:')) && !dev.addresses.some((a) => gatewayReachable(a, r.gateway!)))
      return fail(2, 'Error: Nexthop has invalid gateway.');
    if (r.prefsrc && ![...this.interfaces.values()].some((i) => i.addresses.some((a) => a.address === r.prefsrc)))
      return fail(2, 'Error: Invalid prefsrc address.');
    const route: FakeRoute = {
      ...(six ? { family: 6 as const } : {}),
      table,
      dst: r.dst,
      dev: r.dev,
      gateway: r.gateway,
      prefsrc: r.prefsrc,
      ...(r.onlink ? { onlink: true } : {}),
      // iproute2 gives a route without a gateway scope link unless told otherwise; IPv6 has no scopes.
      scope: six ? 0 : scopeGiven ? r.scope! : r.gateway ? 0 : 253,
      protocol: r.protocol ?? 3,
      metric,
    };
    if (route.gateway === undefined) delete route.gateway;
    if (route.prefsrc === undefined) delete route.prefsrc;
    const at = this.routes.findIndex((x) => fam(x) && x.table === table && x.dst === r.dst && x.metric === metric);
    if (at >= 0) this.routes[at] = route;
    else this.routes.push(route);
    return ok();
  }

  private rule(op: 'add' | 'del', args: string[], six = false): RunResult {
    const r: Partial<FakeRule> = {};
    for (let i = 0; i < args.length; i += 2) {
      const [k, v] = [args[i], args[i + 1]];
      if (v === undefined) throw new UnknownArgv();
      switch (k) {
        case 'priority':
        case 'pref':
        case 'preference':
          r.priority = num(v);
          break;
        case 'from':
          if (v !== 'all' && is6(v) !== six) return fail(2, `Error: ${six ? 'inet6' : 'inet'} prefix is expected rather than "${v}".`);
          if (v !== 'all') r.src = parsePrefix(v);
          break;
        case 'to':
          if (v !== 'all' && is6(v) !== six) return fail(2, `Error: ${six ? 'inet6' : 'inet'} prefix is expected rather than "${v}".`);
          if (v !== 'all') r.dst = parsePrefix(v);
          break;
        case 'fwmark': {
          const [m, mask] = v.split('/');
          r.fwmark = num(m);
          r.fwmask = mask === undefined ? 0xffffffff : num(mask);
          break;
        }
        case 'iif':
          r.iif = v;
          break;
        case 'oif':
          r.oif = v;
          break;
        case 'lookup':
        case 'table':
          r.table = v === 'main' ? 254 : v === 'local' ? 255 : v === 'default' ? 253 : num(v);
          break;
        case 'suppress_prefixlength':
          r.suppressPrefixlen = num(v);
          break;
        case 'protocol':
        case 'proto':
          r.protocol = num(v);
          break;
        default:
          throw new UnknownArgv();
      }
    }
    if (r.src && r.src.len === 0) delete r.src;
    if (r.dst && r.dst.len === 0) delete r.dst;
    if (op === 'add') {
      if (r.table === undefined) return fail(2, 'Error: Rule needs a table.');
      const rule: FakeRule = { ...(six ? { family: 6 as const } : {}), priority: r.priority ?? this.nextRulePriority(), table: r.table, protocol: r.protocol ?? 0 };
      for (const k of ['src', 'dst', 'fwmark', 'fwmask', 'iif', 'oif', 'suppressPrefixlen'] as const) if (r[k] !== undefined) (rule as any)[k] = r[k];
      if (this.rules.some((x) => sameRule(x, rule))) return fail(2, 'RTNETLINK answers: File exists');
      // Rules of equal priority keep insertion order, as the kernel does.
      const at = this.rules.findIndex((x) => x.priority > rule.priority);
      if (at < 0) this.rules.push(rule);
      else this.rules.splice(at, 0, rule);
      return ok();
    }
    const i = this.rules.findIndex(
      (x) =>
        (x.family === 6) === six &&
        (r.priority === undefined || x.priority === r.priority) &&
        (r.table === undefined || x.table === r.table) &&
        (r.src === undefined || sameSel(x.src, r.src)) &&
        (r.dst === undefined || sameSel(x.dst, r.dst)) &&
        (r.fwmark === undefined || (x.fwmark === r.fwmark && x.fwmask === r.fwmask)) &&
        (r.iif === undefined || x.iif === r.iif) &&
        (r.oif === undefined || x.oif === r.oif) &&
        (r.suppressPrefixlen === undefined || x.suppressPrefixlen === r.suppressPrefixlen) &&
        (r.protocol === undefined || x.protocol === r.protocol),
    );
    if (i < 0) return fail(2, 'RTNETLINK answers: No such file or directory');
    this.rules.splice(i, 1);
    return ok();
  }

  /**
   * `ip route get DST from SRC [oif DEV]` for a locally generated, unmarked packet: rules in priority
   * order (iif lo matches local traffic, fwmark rules do not match mark 0, oif rules only a socket bound
   * to that device), longest prefix in the table (a bound socket skips routes through other devices, as
   * fib_lookup_good_nhc() does), and suppress_prefixlength; an unreachable route ends the lookup. Null
   * when nothing routes it (a bound socket's packet would then be sent on-link, ARPing for the target,
   * which no ISP answers).
   */
  routeGet(dst: string, src?: string, oif?: string): { dev: string; gateway?: string; table: number } | null {
    const six = is6(dst);
    const sorted = this.rules.filter((r) => (r.family === 6) === six).sort((a, b) => a.priority - b.priority);
    for (const rule of sorted) {
      if (rule.src && !(src && inPrefix(src, rule.src.addr, rule.src.len))) continue;
      if (rule.dst && !inPrefix(dst, rule.dst.addr, rule.dst.len)) continue;
      if (rule.fwmark !== undefined && (0 & rule.fwmask!) !== rule.fwmark) continue;
      if (rule.iif && rule.iif !== 'lo') continue;
      if (rule.oif && rule.oif !== oif) continue;
      let best: FakeRoute | undefined;
      let bestLen = -1;
      for (const r of this.routes) {
        if ((r.family === 6) !== six || r.table !== rule.table) continue;
        if (r.type !== 'unreachable' && (!this.interfaces.has(r.dev) || (oif !== undefined && r.dev !== oif))) continue;
        const { addr, len } = parsePrefix(r.dst);
        if (inPrefix(dst, addr, len) && (len > bestLen || (len === bestLen && r.metric < best!.metric))) {
          best = r;
          bestLen = len;
        }
      }
      if (!best) continue;
      if (rule.suppressPrefixlen !== undefined && bestLen <= rule.suppressPrefixlen) continue;
      if (best.type === 'unreachable') return null;
      return { dev: best.dev, gateway: best.gateway, table: best.table };
    }
    return null;
  }

  private nextRulePriority(): number {
    const nonzero = this.rules.filter((r) => r.priority > 0).map((r) => r.priority);
    return nonzero.length ? Math.min(...nonzero) - 1 : 32765;
  }

  // ---- iproute2 6.1 JSON ----

  addrJson(): unknown[] {
    return [...this.interfaces.values()].map((i) => {
      const flags = i.name === 'lo' ? ['LOOPBACK'] : i.pointToPoint ? ['POINTOPOINT', 'MULTICAST', 'NOARP'] : ['BROADCAST', 'MULTICAST'];
      if (i.adminUp) flags.push('UP');
      if (i.adminUp && i.carrier) flags.push('LOWER_UP');
      else if (i.adminUp) flags.unshift('NO-CARRIER');
      return {
        ifindex: i.ifindex,
        ifname: i.name,
        flags,
        operstate: i.name === 'lo' ? 'UNKNOWN' : i.adminUp && i.carrier ? 'UP' : i.adminUp ? 'DOWN' : 'DOWN',
        addr_info: i.addresses.map((a) => {
          const j: Record<string, unknown> = { family: is6(a.address) ? 'inet6' : 'inet', local: a.address };
          if (a.peer) j.address = a.peer;
          j.prefixlen = a.prefixlen;
          j.scope = i.name === 'lo' ? 'host' : 'global';
          j.label = i.name;
          // ip prints 4294967295 (forever) for the rest; the samples the fake is held to leave it out.
          if (a.validS !== undefined) j.valid_life_time = a.validS;
          if (a.preferredS !== undefined) j.preferred_life_time = a.preferredS;
          return j;
        }),
      };
    });
  }

  /** `ip -j -N route show table all`, or of one table (whose records then name no table), or its defaults. */
  /**
   * `ip -batch` of `route get fibmatch DST [from SRC]` lines: the rules in order (from, suppress_prefixlength;
   * rules on marks and interfaces never match a plain lookup), longest prefix, then lowest metric, in each
   * table. A lookup without an answer prints nothing, as ip does.
   */
  private batchLookups(text: string): string {
    const out: string[] = [];
    for (const line of text.split('\n')) {
      const m = /^route get fibmatch (\S+)(?: from (\S+))?$/.exec(line.trim());
      if (!m) continue;
      const [dst, src] = [m[1], m[2]];
      if (dst === '127.0.0.1') {
        out.push(JSON.stringify([{ type: 'local', dst: '127.0.0.1', dev: 'lo', table: '255', protocol: '2' }]));
        continue;
      }
      const hit = this.lookup(dst, src);
      if (hit) out.push(JSON.stringify(this.routeJson(undefined, false, is6(dst)).filter((_j, i) => this.sortedRoutes().filter((r) => (r.family === 6) === is6(dst))[i] === hit).map((j) => ({ ...(j as object), table: hit.table === 254 ? undefined : String(hit.table) }))));
    }
    return out.join('\n') + (out.length ? '\n' : '');
  }

  private lookup(dst: string, src?: string): FakeRoute | undefined {
    const six = is6(dst);
    const rules = this.rules.filter((r) => (r.family === 6) === six).sort((a, b) => a.priority - b.priority);
    for (const rule of rules) {
      if (rule.fwmark !== undefined || rule.iif || rule.oif || rule.dst) continue;
      if (rule.src && !(src && covers(`${rule.src.addr}/${rule.src.len}`, src, six ? 6 : 4))) continue;
      const len = (r: FakeRoute) => prefixLength(r.dst, six ? 6 : 4);
      const hits = this.routes.filter((r) => r.table === rule.table && (r.family === 6) === six && covers(r.dst, dst, six ? 6 : 4));
      hits.sort((a, b) => len(b) - len(a) || a.metric - b.metric);
      const best = hits[0];
      if (!best || (rule.suppressPrefixlen !== undefined && len(best) <= rule.suppressPrefixlen)) continue;
      return best.type ? undefined : best;
    }
    return undefined;
  }

  routeJson(table?: number, onlyDefault = false, six = false): unknown[] {
    // Routes of one table in the kernel's order (a prepended route first), sorted only across tables.
    const fam = (r: FakeRoute) => (r.family === 6) === six;
    const routes =
      table === undefined
        ? this.sortedRoutes().filter(fam)
        : onlyDefault
          ? this.routes.filter((r) => fam(r) && r.table === table && r.dst === 'default').sort((a, b) => a.metric - b.metric)
          : this.sortedRoutes().filter((r) => fam(r) && r.table === table);
    return routes.map((r) => {
      const j: Record<string, unknown> = r.type ? { type: '7', dst: r.dst } : { dst: r.dst };
      if (r.gateway) j.gateway = r.gateway;
      if (r.dev) j.dev = r.dev;
      if (r.table !== 254 && table === undefined) j.table = String(r.table);
      // iproute2 does not print `proto boot`.
      if (r.protocol !== 3) j.protocol = String(r.protocol);
      if (r.scope) j.scope = String(r.scope);
      if (r.prefsrc) j.prefsrc = r.prefsrc;
      if (r.metric) j.metric = r.metric;
      const dev = this.interfaces.get(r.dev);
      j.flags = [...(r.onlink ? ['onlink'] : []), ...(dev && !dev.carrier ? ['linkdown'] : [])];
      if (six) j.pref = 'medium';
      return j;
    });
  }

  ruleJson(six = false): unknown[] {
    const host = six ? 128 : 32;
    return this.rules.filter((r) => (r.family === 6) === six).map((r) => {
      const j: Record<string, unknown> = { priority: r.priority, src: r.src ? r.src.addr : 'all' };
      if (r.src && r.src.len !== host) j.srclen = r.src.len;
      if (r.dst) {
        j.dst = r.dst.addr;
        if (r.dst.len !== host) j.dstlen = r.dst.len;
      }
      if (r.fwmark !== undefined) {
        j.fwmark = '0x' + r.fwmark.toString(16);
        if (r.fwmask !== 0xffffffff) j.fwmask = '0x' + r.fwmask!.toString(16);
      }
      if (r.iif) j.iif = r.iif;
      if (r.oif) j.oif = r.oif;
      j.table = String(r.table);
      if (r.suppressPrefixlen !== undefined) j.suppress_prefixlen = r.suppressPrefixlen;
      if (r.protocol && r.protocol !== 2) j.protocol = String(r.protocol);
      return j;
    });
  }

  // ---- rendering ----

  private sortedRoutes(): FakeRoute[] {
    const order = (t: number) => (t === 254 ? -1 : t);
    const dstKey = (d: string) => {
      if (d === 'default') return -1;
      const { addr, len } = parsePrefix(d);
      return is6(addr) ? Number(v6ToBig(addr) >> 64n) * 256 + len : ipToInt(addr) * 64 + len;
    };
    const famKey = (r: FakeRoute) => (r.family === 6 ? 1 : 0);
    return [...this.routes].sort((a, b) => famKey(a) - famKey(b) || order(a.table) - order(b.table) || dstKey(a.dst) - dstKey(b.dst) || a.metric - b.metric);
  }

  /** `ip rule` and `ip route show table all` as sorted text: the golden form of the kernel's state. */
  render(): string {
    const tn = (t: number) => TABLE_NAMES[t] ?? String(t);
    const pn = (p: number) => PROTO_NAMES[p] ?? String(p);
    // IPv6's part only once it holds more than the kernel's own rules: IPv4-only states read as before.
    const six = this.rules.some((r) => r.family === 6 && r.protocol !== 2) || this.routes.some((r) => r.family === 6);
    const rules = this.rules
      .filter((r) => six || r.family !== 6)
      .map((r) => {
        const p = [`${r.family === 6 ? '-6 ' : ''}${r.priority}:`, 'from', r.src ? sel(r.src) : 'all'];
        if (r.dst) p.push('to', sel(r.dst));
        if (r.fwmark !== undefined) p.push('fwmark', r.fwmask === 0xffffffff ? hex(r.fwmark) : `${hex(r.fwmark)}/${hex(r.fwmask!)}`);
        if (r.iif) p.push('iif', r.iif);
        if (r.oif) p.push('oif', r.oif);
        p.push('lookup', tn(r.table));
        if (r.suppressPrefixlen !== undefined) p.push('suppress_prefixlength', String(r.suppressPrefixlen));
        if (r.protocol && r.protocol !== 2) p.push('proto', pn(r.protocol));
        return { priority: r.priority, text: p.join(' ') };
      })
      .sort((a, b) => Number(a.text.startsWith('-6')) - Number(b.text.startsWith('-6')) || a.priority - b.priority || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))
      .map((x) => x.text);
    const routes = this.sortedRoutes().map((r) => {
      const p = [...(r.type ? [r.type] : []), r.family === 6 ? `-6 ${r.dst}` : r.dst];
      if (r.gateway) p.push('via', r.gateway);
      if (r.dev) p.push('dev', r.dev);
      if (r.onlink) p.push('onlink');
      if (r.table !== 254) p.push('table', tn(r.table));
      p.push('proto', pn(r.protocol));
      if (r.scope === 253) p.push('scope', 'link');
      if (r.scope === 254) p.push('scope', 'host');
      if (r.prefsrc) p.push('src', r.prefsrc);
      if (r.metric) p.push('metric', String(r.metric));
      const dev = this.interfaces.get(r.dev);
      if (dev && !dev.carrier) p.push('linkdown');
      return p.join(' ');
    });
    return ['# ip rule', ...rules, '# ip route show table all', ...routes].join('\n') + '\n';
  }
}

class UnknownArgv extends Error {}

function num(v: string): number {
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new UnknownArgv();
  return n;
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

function sel(s: { addr: string; len: number }): string {
  return s.len === (is6(s.addr) ? 128 : 32) ? s.addr : `${s.addr}/${s.len}`;
}

function sameSel(a: { addr: string; len: number } | undefined, b: { addr: string; len: number } | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && a.addr === b.addr && a.len === b.len;
}

function sameRule(a: FakeRule, b: FakeRule): boolean {
  return (
    (a.family === 6) === (b.family === 6) &&
    a.priority === b.priority &&
    a.table === b.table &&
    sameSel(a.src, b.src) &&
    sameSel(a.dst, b.dst) &&
    a.fwmark === b.fwmark &&
    (a.fwmark === undefined || a.fwmask === b.fwmask) &&
    a.iif === b.iif &&
    a.oif === b.oif &&
    a.suppressPrefixlen === b.suppressPrefixlen
  );
}

function connectedDst(a: FakeAddress): string | undefined {
  if (a.peer) return routeDst(a.peer);
  if (a.prefixlen >= (is6(a.address) ? 128 : 32)) return undefined;
  return routeDst(`${a.address}/${a.prefixlen}`);
}

function gatewayReachable(a: FakeAddress, gw: string): boolean {
  if (a.peer) return parsePrefix(a.peer).addr === gw;
  if (is6(a.address) !== is6(gw)) return false;
  return a.prefixlen < (is6(gw) ? 128 : 32) && inPrefix(gw, a.address, a.prefixlen);
}

// ---- clock --------------------------------------------------------------------------------------------

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** Lets the promise chains started by a timer run to their next real wait. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Timers still waiting. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward, running every timer due on the way in time order, settling promises in between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: FakeTimer | undefined;
      for (const t of this.timers) if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.t = Math.max(this.t, next.at);
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

// ---- prober -------------------------------------------------------------------------------------------

export type Answer = (target: string, source: string, device?: string) => ProbeResult | Promise<ProbeResult>;

/** Scripted ICMP: every target answers from every source unless told otherwise. */
export class FakeProber implements Prober {
  readonly calls: { target: string; source: string; timeoutMs: number; device?: string }[] = [];
  private downSources = new Set<string>();
  private downTargets = new Set<string>();
  private answer?: Answer;
  /** Set: every probe fails with this error (ping missing). */
  error?: string;
  /** Set: every probe hangs for ever (a wedged child process). */
  hang = false;
  rttMs = 12.5;
  closed = false;
  /** Set before the daemon starts: a prober that sees every echo (streamed pings), for detection by silence. */
  lastAnswer?: (target: string, source: string, timeoutMs: number, hints?: ProbeHints) => number | undefined;

  setDown(source: string, down = true): this {
    if (down) this.downSources.add(source);
    else this.downSources.delete(source);
    return this;
  }

  setTargetDown(target: string, down = true): this {
    if (down) this.downTargets.add(target);
    else this.downTargets.delete(target);
    return this;
  }

  setAnswer(fn: Answer | undefined): this {
    this.answer = fn;
    return this;
  }

  callsFrom(source: string): number {
    return this.calls.filter((c) => c.source === source).length;
  }

  probe(target: string, source: string, timeoutMs: number, hints?: ProbeHints): Promise<ProbeResult> {
    this.calls.push({ target, source, timeoutMs, device: hints?.device });
    if (this.hang) return new Promise(() => {});
    if (this.error) return Promise.resolve({ alive: false, error: this.error });
    if (this.answer) return Promise.resolve(this.answer(target, source, hints?.device));
    const alive = !this.downSources.has(source) && !this.downTargets.has(target);
    return Promise.resolve(alive ? { alive: true, rttMs: this.rttMs } : { alive: false });
  }

  close(): void {
    this.closed = true;
  }
}

// ---- notifier -----------------------------------------------------------------------------------------

export class RecordingNotifier implements Notifier {
  readonly messages: Record<string, string>[] = [];
  closed = false;

  notify(fields: Record<string, string>): void {
    this.messages.push({ ...fields });
  }

  close(): void {
    this.closed = true;
  }

  /** Messages carrying this field. */
  with(field: string): Record<string, string>[] {
    return this.messages.filter((m) => field in m);
  }

  count(field: string): number {
    return this.with(field).length;
  }

  last(field: string): string | undefined {
    const w = this.with(field);
    return w.length ? w[w.length - 1][field] : undefined;
  }
}

/** LinkEvents a test fires by hand, as `ip monitor` would. */
export class FakeLinkEvents implements LinkEvents {
  private handler?: (what: string) => void;
  started = 0;
  stopped = 0;

  start(onChange: (what: string) => void): void {
    this.started++;
    this.handler = onChange;
  }

  stop(): void {
    this.stopped++;
    this.handler = undefined;
  }

  fire(what: string): void {
    this.handler?.(what);
  }
}

/** A Log that keeps lines (and the fields of those that have any) in memory, for tests. */
export function memoryLog(): Log & { lines: string[]; fields: Map<string, LogFields> } {
  const lines: string[] = [];
  const fields = new Map<string, LogFields>();
  const at = (l: LogLevel) => (msg: string, f?: LogFields) => {
    lines.push(`${l}: ${msg}`);
    if (f) fields.set(`${l}: ${msg}`, f);
  };
  return { lines, fields, error: at('error'), warning: at('warning'), notice: at('notice'), info: at('info'), debug: at('debug'), setLevel() {} };
}
