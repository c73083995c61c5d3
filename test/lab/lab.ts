// A throwaway network in namespaces (all named haip-<id>-*): a router with one veth uplink per ISP, the
// ISPs, and an "internet" holding the probe targets on lo. Failures are made the way they happen:
// silent loss (nft drop), unreachable routes, carrier loss, a vanished interface, random loss.
// Every namespace is removed on exit, also when a test fails or the process is interrupted.
import { ChildProcess, execFileSync, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const TARGETS = ['203.0.113.1', '203.0.113.2'];
export const TARGETS6 = ['2001:db8:ff::1', '2001:db8:ff::2'];
export const REPO = resolve(__dirname, '../../..');
export const HAIP_JS = join(REPO, 'dist/src/main.js');

const live = new Set<Lab>();
let hooked = false;
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const lab of live) lab.destroy();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      for (const lab of live) lab.destroy();
      process.exit(130);
    });
  }
}

export interface LabOptions {
  uplinks?: number;
  /** Create the router's uplink interfaces (eth1..ethN); false leaves some to be added later. */
  createUplinks?: number[];
  /**
   * A LAN host behind the router (haip-<id>-lan, 198.18.200.2/24 via the router's lan0 198.18.200.1),
   * masqueraded per uplink by the lab's own nft table, and ISPs that drop what their customer sends
   * from an address that is not theirs, as real ISPs do.
   */
  lan?: boolean;
}

export const LAN_HOST = '198.18.200.2';
export const LAN_HOST6 = 'fd00:200::2';
export const LAN_GATEWAY6 = 'fd00:200::1';
export const SERVER6 = '2001:db8:ff::10';
export const LAN_GATEWAY = '198.18.200.1';
/** A TCP echo server in the internet that tells each client the address it sees (tcpPeer.ts). */
export const SERVER = '198.51.100.1';

export class Lab {
  readonly id = randomBytes(3).toString('hex');
  readonly dir = mkdtempSync(join(tmpdir(), 'haip-lab-'));
  readonly r: string;
  readonly inet: string;
  readonly lan: string;
  private namespaces: string[] = [];
  private procs = new Set<ChildProcess>();
  private destroyed = false;

  constructor(readonly uplinks = 2) {
    this.r = this.name('r');
    this.inet = this.name('inet');
    this.lan = this.name('lan');
  }

  name(role: string): string {
    return `haip-${this.id}-${role}`;
  }

  isp(i: number): string {
    return this.name(`isp${i}`);
  }

  static create(opts: LabOptions = {}): Lab {
    if (process.getuid?.() !== 0) throw new Error('lab tests need root (network namespaces): run them with sudo');
    hookExit();
    const lab = new Lab(opts.uplinks ?? 2);
    live.add(lab);
    try {
      lab.build(opts.createUplinks ?? Array.from({ length: lab.uplinks }, (_, i) => i + 1));
      if (opts.lan) lab.buildLan();
    } catch (err) {
      lab.destroy();
      throw err;
    }
    return lab;
  }

  /** A namespace of the lab's own (removed with it), with forwarding on and rp_filter off. */
  addNs(ns: string) {
    execFileSync('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    this.ip(ns, 'link', 'set', 'lo', 'up');
    // No duplicate address detection in the lab's namespaces: IPv6 addresses are usable at once, not 1-2 s later.
    for (const k of ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'])
      this.exec(ns, 'sysctl', '-qw', k);
  }

  private build(withUplinks: number[]) {
    this.addNs(this.r);
    this.addNs(this.inet);
    for (const t of [...TARGETS, '198.51.100.1']) this.ip(this.inet, 'addr', 'add', `${t}/32`, 'dev', 'lo');
    for (let i = 1; i <= this.uplinks; i++) {
      const isp = this.isp(i);
      this.addNs(isp);
      // isp<i> <-> inet over 198.19.<i>.0/30; inet routes the uplink's customer net back through it.
      this.ip(isp, 'link', 'add', 'core', 'type', 'veth', 'peer', 'name', `isp${i}`, 'netns', this.inet);
      this.ip(isp, 'addr', 'add', `198.19.${i}.1/30`, 'dev', 'core');
      this.ip(this.inet, 'addr', 'add', `198.19.${i}.2/30`, 'dev', `isp${i}`);
      this.ip(isp, 'link', 'set', 'core', 'up');
      this.ip(this.inet, 'link', 'set', `isp${i}`, 'up');
      this.ip(isp, 'route', 'add', 'default', 'via', `198.19.${i}.2`);
      this.ip(this.inet, 'route', 'add', `198.18.${i}.0/24`, 'via', `198.19.${i}.1`);
      if (withUplinks.includes(i)) this.addUplink(i);
    }
  }

  private buildLan() {
    this.addNs(this.lan);
    this.ip(this.r, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.lan);
    this.ip(this.r, 'addr', 'add', `${LAN_GATEWAY}/24`, 'dev', 'lan0');
    this.ip(this.lan, 'addr', 'add', `${LAN_HOST}/24`, 'dev', 'eth0');
    this.ip(this.r, 'link', 'set', 'lan0', 'up');
    this.ip(this.lan, 'link', 'set', 'eth0', 'up');
    this.ip(this.lan, 'route', 'add', 'default', 'via', LAN_GATEWAY);
    // The lab's NAT, not haip's: haip never installs NAT, it only marks connections.
    const masq = Array.from({ length: this.uplinks }, (_, k) => `oifname "eth${k + 1}" ip saddr 198.18.200.0/24 masquerade`);
    this.nft(this.r, `table ip haiplabnat { chain postrouting { type nat hook postrouting priority srcnat; policy accept; ${masq.join('; ')}; }; }\n`);
    for (let i = 1; i <= this.uplinks; i++)
      this.nft(this.isp(i), `table inet haiplabspoof { chain forward { type filter hook forward priority -10; policy accept; iifname "wan" ip saddr != 198.18.${i}.0/24 counter drop; }; }\n`);
  }

  /**
   * Dual stack: isp<i> gives the router 2001:db8:<i>::/64 (router 2001:db8:<i>::2, isp 2001:db8:<i>::1 and
   * a link-local fe80::<i>), routes it to the internet, whose targets 2001:db8:ff::1 and ::2 sit on lo, and
   * drops what the router sends from an IPv6 source outside that /64 (BCP 38). ISPs listed in `ra` also
   * run radvd (config and pid file in the lab's temp dir) advertising themselves as default router; the
   * router accepts router advertisements on those uplinks (accept_ra=2, since it forwards).
   */
  enableIPv6(ra: number[] = []) {
    for (const ns of [this.r, this.inet, ...Array.from({ length: this.uplinks }, (_, k) => this.isp(k + 1))])
      this.exec(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    for (const t of TARGETS6) this.ip(this.inet, 'addr', 'add', `${t}/128`, 'dev', 'lo');
    for (let i = 1; i <= this.uplinks; i++) {
      const isp = this.isp(i);
      this.ip(isp, '-6', 'addr', 'add', `2001:db8:f0${i}::1/64`, 'dev', 'core', 'nodad');
      this.ip(this.inet, '-6', 'addr', 'add', `2001:db8:f0${i}::2/64`, 'dev', `isp${i}`, 'nodad');
      this.ip(isp, '-6', 'route', 'add', 'default', 'via', `2001:db8:f0${i}::2`);
      this.ip(this.inet, '-6', 'route', 'add', `2001:db8:${i}::/64`, 'via', `2001:db8:f0${i}::1`);
      this.ip(isp, '-6', 'addr', 'add', `2001:db8:${i}::1/64`, 'dev', 'wan', 'nodad');
      this.ip(isp, '-6', 'addr', 'add', `fe80::${i}/64`, 'dev', 'wan', 'nodad');
      this.ip(this.r, '-6', 'addr', 'add', `2001:db8:${i}::2/64`, 'dev', `eth${i}`, 'nodad');
      this.nft(isp, `table inet haiplabbcp38 { chain forward { type filter hook forward priority -10; policy accept; iifname "wan" ip6 saddr != 2001:db8:${i}::/64 counter drop; }; }\n`);
      if (!ra.includes(i)) continue;
      this.exec(this.r, 'sysctl', '-qw', `net.ipv6.conf.eth${i}.accept_ra=2`);
      const conf = join(this.dir, `radvd-isp${i}.conf`);
      writeFileSync(conf, 'interface wan {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 4;\n  AdvDefaultLifetime 30;\n};\n', { mode: 0o644 });
      this.spawnIn(isp, ['radvd', '-C', conf, '-p', join(this.dir, `radvd-isp${i}.pid`), '-n', '-m', 'stderr']);
    }
  }

  /**
   * IPv6 on the LAN (after enableIPv6 on a lab with `lan`): the LAN host fd00:200::2/64 behind the
   * router's fd00:200::1, NPTv6's poor cousin in the lab's own table (masquerade per uplink), and a
   * server address in the internet for the sticky tests.
   */
  enableLan6() {
    this.ip(this.r, '-6', 'addr', 'add', `${LAN_GATEWAY6}/64`, 'dev', 'lan0', 'nodad');
    this.ip(this.lan, '-6', 'addr', 'add', `${LAN_HOST6}/64`, 'dev', 'eth0', 'nodad');
    this.ip(this.lan, '-6', 'route', 'add', 'default', 'via', LAN_GATEWAY6);
    this.ip(this.inet, 'addr', 'add', `${SERVER6}/128`, 'dev', 'lo');
    const masq = Array.from({ length: this.uplinks }, (_, k) => `oifname "eth${k + 1}" ip6 saddr fd00:200::/64 masquerade`);
    this.nft(this.r, `table ip6 haiplabnat6 { chain postrouting { type nat hook postrouting priority srcnat; policy accept; ${masq.join('; ')}; }; }\n`);
  }

  /** Packets isp<i> dropped because the router sent them from an IPv6 address outside its /64. */
  bcp38Drops6(i: number): number {
    const out = this.exec(this.isp(i), 'nft', 'list', 'table', 'inet', 'haiplabbcp38');
    return Number(/counter packets (\d+)/.exec(out)?.[1] ?? 0);
  }

  /** Silent loss of one family only at isp<i>. */
  dropFamilyAtIsp(i: number, family: 4 | 6) {
    const proto = family === 6 ? 'ipv6' : 'ipv4';
    this.nft(this.isp(i), `table inet haiplab { chain forward_drop { type filter hook forward priority 0; policy accept; iifname "wan" meta nfproto ${proto} drop; oifname "wan" meta nfproto ${proto} drop; }; }\n`);
  }

  /** The router's main IPv6 default route that the kernel uses (lowest metric) as `dev[ via gw]`. */
  defaultRoute6(): string {
    const routes: { dev: string; gateway?: string; metric?: number }[] = JSON.parse(this.ip(this.r, '-j', '-6', 'route', 'show', 'default') || '[]');
    const r = routes.sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
    return r ? `${r.dev}${r.gateway ? ` via ${r.gateway}` : ''}` : '';
  }

  /** Polls until the IPv6 default route leaves through `dev`; the elapsed ms, or throws after `timeoutMs`. */
  async waitForDefault6(dev: string, timeoutMs: number, since = Date.now()): Promise<number> {
    for (;;) {
      if (this.defaultRoute6().split(' ')[0] === dev) return Date.now() - since;
      if (Date.now() - since > timeoutMs) throw new Error(`IPv6 default route still "${this.defaultRoute6()}" after ${timeoutMs} ms, waiting for ${dev}`);
      await sleep(20);
    }
  }

  /** A port forward on the router: TCP `port` arriving on eth<i> goes to the LAN host's `toPort`. */
  portForward(i: number, port: number, toPort: number) {
    this.nft(this.r, `table ip haiplabdnat { chain prerouting { type nat hook prerouting priority dstnat; policy accept; iifname "eth${i}" tcp dport ${port} dnat to ${LAN_HOST}:${toPort}; }; }\n`);
  }

  /** Packets isp<i> dropped because the router sent them from an address that is not its customer's. */
  spoofDrops(i: number): number {
    const out = this.exec(this.isp(i), 'nft', 'list', 'table', 'inet', 'haiplabspoof');
    return Number(/counter packets (\d+)/.exec(out)?.[1] ?? 0);
  }

  /**
   * One nft counter at isp<i> per match (`icmp type echo-request`, `tcp dport 7000`, ...) on what it
   * forwards from its customer; returns a reader of the counts, in the order of `matches`.
   */
  countAtIsp(i: number, matches: string[]): () => number[] {
    const rules = matches.map((m) => `iifname "wan" ${m} counter`).join('; ');
    this.nft(this.isp(i), `table inet haiplabcount { chain count { type filter hook forward priority -5; policy accept; ${rules}; }; }\n`);
    return () => [...this.exec(this.isp(i), 'nft', 'list', 'table', 'inet', 'haiplabcount').matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
  }

  /** Runs a lab helper (dist/test/lab/<script>.js) with node inside a namespace. */
  spawnNode(ns: string, script: string, args: string[]): Haip {
    return this.spawnIn(ns, [process.execPath, join(__dirname, `${script}.js`), ...args]);
  }

  spawnIn(ns: string, argv: string[]): Haip {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { env: { PATH: process.env.PATH }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.procs.add(child);
    child.on('exit', () => this.procs.delete(child));
    return new Haip(child);
  }

  /** The router's eth<i> (198.18.<i>.2/24) to isp<i>'s wan (198.18.<i>.1/24); `dev` names it otherwise. */
  addUplink(i: number, withAddress = true, router = this.r, dev = `eth${i}`) {
    const isp = this.isp(i);
    this.ip(isp, 'link', 'add', 'wan', 'type', 'veth', 'peer', 'name', dev, 'netns', router);
    this.ip(isp, 'addr', 'add', `198.18.${i}.1/24`, 'dev', 'wan');
    this.ip(isp, 'link', 'set', 'wan', 'up');
    this.ip(router, 'link', 'set', dev, 'up');
    if (withAddress) this.ip(router, 'addr', 'add', `198.18.${i}.2/24`, 'dev', dev);
  }

  gateway(i: number): string {
    return `198.18.${i}.1`;
  }

  exec(ns: string, ...argv: string[]): string {
    return execFileSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  ip(ns: string, ...argv: string[]): string {
    return execFileSync('ip', ['-n', ns, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  tryIp(ns: string, ...argv: string[]): boolean {
    try {
      this.ip(ns, ...argv);
      return true;
    } catch {
      return false;
    }
  }

  nft(ns: string, script: string) {
    execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  // ---- failures ----------------------------------------------------------------------------------

  /** Silent loss at the ISP: every packet to or from the customer is dropped. */
  dropAtIsp(i: number) {
    this.nft(this.isp(i), 'table inet haiplab { chain forward_drop { type filter hook forward priority 0; policy accept; iifname "wan" drop; oifname "wan" drop; }; }\n');
  }

  /** Random loss at the ISP: `percent` of the customer's forwarded packets dropped, each way. */
  lossAtIsp(i: number, percent: number) {
    this.healIsp(i);
    this.nft(
      this.isp(i),
      `table inet haiplab { chain forward_drop { type filter hook forward priority 0; policy accept; iifname "wan" numgen random mod 100 < ${percent} drop; oifname "wan" numgen random mod 100 < ${percent} drop; }; }\n`,
    );
  }

  healIsp(i: number) {
    try {
      this.exec(this.isp(i), 'nft', 'delete', 'table', 'inet', 'haiplab');
    } catch {}
  }

  unreachableAtIsp(i: number, on = true) {
    this.ip(this.isp(i), 'route', on ? 'add' : 'del', 'unreachable', '203.0.113.0/24');
  }

  farEnd(i: number, up: boolean) {
    this.ip(this.isp(i), 'link', 'set', 'wan', up ? 'up' : 'down');
  }

  // ---- observing ---------------------------------------------------------------------------------

  /** The router's main default route as `dev[ via gw]`, or '' when there is none. */
  defaultRoute(table = 'main'): string {
    const routes = JSON.parse(this.ip(this.r, '-j', '-4', 'route', 'show', 'default', 'table', table) || '[]');
    const r = routes[0];
    return r ? `${r.dev}${r.gateway ? ` via ${r.gateway}` : ''}` : '';
  }

  defaultDev(): string {
    return this.defaultRoute().split(' ')[0];
  }

  /** Polls until the default route leaves through `dev`; the elapsed ms, or throws after `timeoutMs`. */
  async waitForDefault(dev: string, timeoutMs: number, since = Date.now()): Promise<number> {
    for (;;) {
      if (this.defaultDev() === dev) return Date.now() - since;
      if (Date.now() - since > timeoutMs) throw new Error(`default route still "${this.defaultRoute()}" after ${timeoutMs} ms, waiting for ${dev}`);
      await sleep(20);
    }
  }

  rules(): string {
    return this.ip(this.r, '-4', 'rule', 'show');
  }

  // ---- haip --------------------------------------------------------------------------------------

  writeConfig(yaml: string, name = 'haip.yaml'): string {
    const file = join(this.dir, name);
    writeFileSync(file, yaml);
    return file;
  }

  /** Paths the daemon writes, pointed into this lab's temp dir. */
  pathsYaml(): string {
    return [
      `state_dir: ${this.dir}/state`,
      `hooks_dir: ${this.dir}/hooks.d`,
      `rt_tables_file: ${this.dir}/rt_tables.d/haip.conf`,
      `rt_protos_file: ${this.dir}/rt_protos.d/haip.conf`,
    ].join('\n');
  }

  /** The usual two-uplink config: isp1 preferred. */
  configYaml(probe = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }', extra = ''): string {
    const links = Array.from({ length: this.uplinks }, (_, k) => {
      const i = k + 1;
      return `  - { name: isp${i}, interface: eth${i}, weight: ${i}, table: T${i}, gateway: ${this.gateway(i)} }`;
    });
    const tables = Array.from({ length: this.uplinks }, (_, k) => `T${k + 1}: ${101 + k}`).join(', ');
    return `probe: ${probe}\ntables: { ${tables} }\nlinks:\n${links.join('\n')}\n${this.pathsYaml()}\n${extra}`;
  }

  /** Runs a haip command (status, plan, ...) in the router namespace to the end. */
  cli(...args: string[]): SpawnSyncReturns<string> {
    return spawnSync('ip', ['netns', 'exec', this.r, process.execPath, HAIP_JS, ...args], { encoding: 'utf8' });
  }

  startHaip(args: string[], env: NodeJS.ProcessEnv = {}): Haip {
    const child = spawn('ip', ['netns', 'exec', this.r, process.execPath, HAIP_JS, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.procs.add(child);
    child.on('exit', () => this.procs.delete(child));
    return new Haip(child);
  }

  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.procs) p.kill('SIGKILL');
    for (const ns of this.namespaces.reverse()) {
      // What is still running in the namespace is the test's (a daemon's `nft monitor` outlives a daemon
      // killed with SIGKILL: it only notices on its next write, and a deleted namespace has no events).
      let pids: string[] = [];
      try {
        pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter((p) => /^\d+$/.test(p));
      } catch {}
      for (const pid of pids)
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {}
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {}
    }
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }
}

/** A running haip: its output as lines, and ways to wait for them. */
export class Haip {
  readonly lines: string[] = [];
  private waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    let partial = '';
    const take = (d: Buffer) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts);
      if (process.env.HAIP_LAB_ECHO) for (const l of parts) process.stderr.write(`  | ${l}\n`);
      for (const w of this.waiters.splice(0)) w();
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    this.exited = new Promise((res) => child.on('exit', (code) => res(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  output(): string {
    return this.lines.join('\n');
  }

  async waitFor(re: RegExp, timeoutMs = 10_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.slice(from).find((l) => re.test(l));
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`haip never logged ${re} within ${timeoutMs} ms; output:\n${this.output()}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  /** Writes a line to the process's stdin (helpers started with spawnIn take commands that way). */
  send(line: string) {
    this.child.stdin?.write(line + '\n');
  }

  signal(sig: NodeJS.Signals) {
    this.child.kill(sig);
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** Both ISPs behave as identical home routers: 198.18.100.1/24 on the LAN side, NAT to their uplink. */
export function identicalRouters(lab: Lab) {
  for (const i of [1, 2]) {
    lab.ip(lab.isp(i), 'addr', 'flush', 'dev', 'wan');
    lab.ip(lab.isp(i), 'addr', 'add', '198.18.100.1/24', 'dev', 'wan');
    lab.ip(lab.r, 'addr', 'flush', 'dev', `eth${i}`);
    lab.ip(lab.r, 'addr', 'add', '198.18.100.2/24', 'dev', `eth${i}`);
    lab.nft(lab.isp(i), `table ip haiplabnat { chain post { type nat hook postrouting priority srcnat; policy accept; oifname "core" masquerade; }; }\n`);
  }
}

/** Polls `check` every `stepMs` until it returns true; the elapsed ms since `since`, or throws with `what`. */
export async function within(ms: number, what: string, check: () => boolean, since = Date.now(), stepMs = 20): Promise<number> {
  for (;;) {
    if (check()) return Date.now() - since;
    if (Date.now() - since > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(stepMs);
  }
}

/** One echo from the LAN host to `target`, answered within a second. */
export function pingFromLan(lab: Lab, target: string): boolean {
  try {
    lab.exec(lab.lan, 'ping', '-n', '-c', '1', '-W', '1', target);
    return true;
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
