// `lan6`: haip's router advertisements on the LAN interface. After each pass the plan (src/net/ra.ts) is
// made again from the LAN's addresses and the IPv6 links' health; a change goes out at once and twice
// more 3 s apart (an RA is multicast and may be lost), then every PERIOD_MS, and a host's router
// solicitation is answered (at most one RA per MIN_GAP_MS). What the log and status say is what went
// out: an entry is told only once the helper reports its RA sent.
import { Log } from '../log';
import { InterfaceFacts, Lan6Config, LinkState } from '../model';
import { AdvertEntry, afterSend, buildRouterAdvert, Lease, leasesMoved, leasesOf, lifetimesOf, planLan, prefixesOf, RaPrefix, sameAdverts } from '../net/ra';
import { Clock, TimerHandle } from '../sys/clock';
import { RaPort, RaPortFactory } from '../sys/raPort';
import { networkOf6 } from '../net/address';
import { RefusedPrefix6 } from '../net/refused6';

/** Repeats of a change, after the first RA. */
export const REPEATS = 2;
/** RFC 4861 MIN_DELAY_BETWEEN_RAS: the gap between repeats, and between answers to solicitations. */
export const REPEAT_MS = 3000;
/** Unsolicited RAs without a change (radvd sends one every 200-600 s). */
export const PERIOD_MS = 300_000;
/** A failed send is tried again after this, doubling up to PERIOD_MS. */
export const RETRY_MS = 1000;
/** Foreign advertisers remembered for the warning (a LAN flooding forged RAs must not grow it). */
const MAX_FOREIGN_TOLD = 64;
/** A change is sent at once unless an RA went out less than this ago. */
export const MIN_GAP_MS = 500;

export interface Lan6Deps {
  log: Log;
  clock: Clock;
  ports: RaPortFactory;
  /** What the RAs said changed (status.json must follow). */
  changed?(): void;
}

/** What a pass knows that the LAN's RAs depend on. */
export interface Lan6Input {
  /** The LAN interface's ifindex; absent: it does not exist. */
  index?: number;
  addresses: NonNullable<InterfaceFacts['addresses6']>;
  links: { name: string; prefixes: string[]; state: LinkState }[];
}

export interface Lan6Status {
  interface: string;
  deprecate: boolean;
  /** What the last RA sent said, per /64 (its lifetimes as they went on the wire, in seconds). */
  prefixes: { prefix: string; link: string; state: AdvertEntry['state']; why: string; valid_s?: number; preferred_s?: number }[];
  /** When the last RA went out; null: none yet. */
  sent: string | null;
  /** Why the last RA could not be sent, or null. */
  error: string | null;
}

export class LanAdvertiser {
  private config?: Lan6Config;
  private port?: { iface: string; index: number; port: RaPort };
  /** What the next RA says. */
  private want: AdvertEntry[] = [];
  /** What the last RA sent said. */
  private told: AdvertEntry[] = [];
  /** The lifetimes the last RA put on the wire, per /64. */
  private wire = new Map<string, RaPrefix>();
  /** Per /64, what its delegation still allows (from the last pass's read of the LAN's addresses). */
  private leases = new Map<string, Lease>();
  private repeats = 0;
  private timer?: { at: number; handle: TimerHandle };
  private lastSent?: number;
  private sending = false;
  private error: string | null = null;
  /** After a failed send: the wait before the next try, doubling from RETRY_MS. */
  private retryMs = 0;
  private skippedTold = new Set<string>();
  /** "SENDER PREFIX" of foreign RAs already warned about. */
  private foreignTold = new Set<string>();
  private stopped = false;

  constructor(private readonly deps: Lan6Deps) {}

  /** After a pass: the plan from what the kernel and the probes say now; a change goes out at once. */
  update(config: Lan6Config | undefined, input: Lan6Input): void {
    if (this.stopped) return;
    this.config = config;
    if (!config || input.index === undefined) {
      // No RAs without a LAN: what hosts were told stays with them until its lifetimes run out.
      if (config && this.port) this.deps.log.warning(`lan6: interface ${config.interface} is gone; no router advertisements until it returns`);
      this.closePort();
      this.want = [];
      return;
    }
    if (this.port && (this.port.iface !== config.interface || this.port.index !== input.index)) this.closePort();
    if (!this.port) {
      const iface = config.interface;
      this.port = { iface, index: input.index, port: this.deps.ports(iface, input.index, (h) => (h.kind === 'rs' ? this.solicited() : this.foreign(h.from, h.packet)), (m) => this.deps.log.warning(m)) };
    }
    const plan = planLan({ ...input, deprecate: config.deprecate }, this.want);
    const leases = leasesOf(input.addresses, this.deps.clock.now());
    const moved = leasesMoved(this.leases, leases).filter((p) => plan.entries.some((e) => e.prefix === p && e.state !== 'withdrawn'));
    this.leases = leases;
    if (moved.length) this.deps.log.info(`lan6: the delegation behind ${moved.join(', ')} was renewed or cut short: telling ${config.interface} its lifetimes`);
    const skipped = new Set(plan.skipped.map((s) => `lan6: ${s.address} on ${config.interface} is not advertised: ${s.why}`));
    for (const s of skipped) if (!this.skippedTold.has(s)) this.deps.log.warning(s);
    this.skippedTold = skipped;
    // Unchanged, and either told already or on its way (a failed send keeps its backoff).
    if (sameAdverts(plan.entries, this.want) && !moved.length && (this.lastSent !== undefined || this.timer)) return;
    this.want = plan.entries;
    this.repeats = REPEATS;
    const now = this.deps.clock.now();
    this.schedule(this.lastSent === undefined ? now : Math.max(now, this.lastSent + MIN_GAP_MS));
  }

  stop(): void {
    this.stopped = true;
    this.closePort();
  }

  status(): Lan6Status | undefined {
    if (!this.config) return undefined;
    return {
      interface: this.config.interface,
      deprecate: this.config.deprecate,
      prefixes: this.told.map((e) => {
        const w = this.wire.get(e.prefix);
        return { prefix: e.prefix, link: e.link, state: e.state, why: e.why, ...(w ? { valid_s: w.validS, preferred_s: w.preferredS } : {}) };
      }),
      sent: this.lastSent === undefined ? null : new Date(this.lastSent).toISOString(),
      error: this.error,
    };
  }

  /** A host asked: an RA within REPEAT_MS of the last one at the latest. */
  private solicited() {
    if (!this.want.length) return;
    // Logged only when it brings an RA forward: a flood of solicitations is one line per REPEAT_MS.
    if (this.schedule(Math.max(this.deps.clock.now(), (this.lastSent ?? 0) + REPEAT_MS))) this.deps.log.debug(`lan6: router solicitation on ${this.port?.iface}: answering`);
  }

  /**
   * Another router's RA (radvd or dnsmasq on this router, another router on the LAN) carrying a /64 haip
   * advertises: hosts take the latest preferred lifetime, so haip's deprecation will not hold. Told once
   * per sender and prefix.
   */
  private foreign(from: string, packet: Buffer) {
    const ours = new Set([...this.want, ...this.told].map((e) => e.prefix));
    for (const p of prefixesOf(packet)) {
      const key = `${from} ${p.prefix}`;
      if (!ours.has(p.prefix) || this.foreignTold.has(key)) continue;
      if (this.foreignTold.size >= MAX_FOREIGN_TOLD) this.foreignTold.clear();
      this.foreignTold.add(key);
      this.deps.log.warning(
        `lan6: ${from} also advertises ${p.prefix} on ${this.port?.iface} (preferred lifetime ${p.preferredS} s): hosts follow the latest router advertisement, so a deprecation by haip lasts only until its next one; leave the delegated /64s to haip (radvd: no prefix block for them)`,
      );
    }
  }

  /** Whether this moved the next RA forward. */
  private schedule(at: number): boolean {
    if (this.stopped || (this.timer && this.timer.at <= at)) return false;
    this.timer?.handle.cancel();
    const handle = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      void this.send();
    }, at - this.deps.clock.now());
    this.timer = { at, handle };
    return true;
  }

  private async send() {
    const port = this.port;
    if (!port || !this.config || this.stopped) return;
    if (this.sending) return void this.schedule(this.deps.clock.now() + MIN_GAP_MS);
    const sent = this.want;
    if (!sent.length) return;
    this.sending = true;
    const wire = sent.map((e) => lifetimesOf(e, this.leases.get(e.prefix), this.deps.clock.now()));
    const why = await port.port.send(buildRouterAdvert(this.config.routerLifetimeS, wire));
    this.sending = false;
    if (this.stopped || this.port !== port) return;
    const now = this.deps.clock.now();
    if (why !== null) {
      if (why !== this.error) {
        this.error = why;
        this.deps.log.warning(`lan6: router advertisement on ${port.iface} not sent: ${why}`);
        this.deps.changed?.();
      }
      // Mostly the LAN's carrier just back and its link-local address not ready yet: try again soon.
      this.retryMs = Math.min(this.retryMs ? this.retryMs * 2 : RETRY_MS, PERIOD_MS);
      return void this.schedule(now + this.retryMs);
    }
    this.retryMs = 0;
    this.lastSent = now;
    this.tell(sent);
    this.wire = new Map(wire.map((w) => [w.prefix, w]));
    this.error = null;
    if (this.want === sent) this.want = afterSend(sent);
    // Every RA moves status's `sent` (repeats and answers too: a reader waiting for quiet must see them).
    this.deps.changed?.();
    const next = this.repeats > 0 ? REPEAT_MS : PERIOD_MS;
    if (this.repeats > 0) this.repeats--;
    this.schedule(now + next);
  }

  /** One line per /64 whose advertised state changed, once its RA went out. */
  private tell(sent: AdvertEntry[]): void {
    const iface = this.port?.iface;
    for (const e of sent) {
      const before = this.told.find((t) => t.prefix === e.prefix);
      if (before?.state === e.state) continue;
      const what =
        e.state === 'deprecated'
          ? `deprecated on ${iface} (${e.why}): hosts number new connections from the live prefixes`
          : e.state === 'withdrawn'
            ? `withdrawn on ${iface} (${e.why})`
            : `${before ? 'preferred again' : 'advertised'} on ${iface} (${e.why})`;
      this.deps.log.notice(`lan6: ${e.prefix} of ${e.link} ${what}`);
    }
    this.told = sent.filter((e) => e.state !== 'withdrawn' || (e.sendsLeft ?? 0) > 1);
  }

  private closePort() {
    this.timer?.handle.cancel();
    this.timer = undefined;
    this.port?.port.close();
    this.port = undefined;
    this.lastSent = undefined;
    this.told = [];
    this.wire = new Map();
  }
}

/** What the RAs depend on, from the last pass: the LAN's addresses, and each IPv6 link's routed prefixes and health. */
export function lan6Input(
  config: Lan6Config | undefined,
  obs: { interfaces: Map<string, { index?: number; addresses6?: { address: string; prefixlen: number }[] }> } | undefined,
  runtimes: { config: { name: string }; view: { prefixes6?: { prefix: string }[] }; health: { state: LinkState } }[],
  refused: RefusedPrefix6[],
): Lan6Input {
  const iface = config && obs?.interfaces.get(config.interface);
  const routes = (link: string, prefix: string) => !refused.some((r) => r.link === link && r.prefix === networkOf6(prefix.split('/')[0], Number(prefix.split('/')[1])));
  return {
    ...(iface?.index !== undefined ? { index: iface.index } : {}),
    addresses: iface?.addresses6 ?? [],
    links: runtimes.map((rt) => ({ name: rt.config.name, prefixes: (rt.view.prefixes6 ?? []).map((p) => p.prefix).filter((p) => routes(rt.config.name, p)), state: rt.health.state })),
  };
}

/** Without a way to send RAs (a test's deps): each send says so, and the log says it once. */
export function unavailableRaPorts(log: Log): RaPortFactory {
  let told = false;
  return () => ({
    send: async () => {
      if (!told) log.warning('lan6: no router advertisement sender in this build');
      told = true;
      return 'no router advertisement sender';
    },
    close: () => {},
  });
}

/** `haip plan`'s lines: what haip's RAs on the LAN would say now. */
export function lan6PlanLines(config: Lan6Config, input: Lan6Input): string[] {
  const head = `# lan6: router advertisements on ${config.interface} (at once on a change, then every ${PERIOD_MS / 1000} s), as the links stand here:`;
  if (input.index === undefined) return ['#', head, `#   ${config.interface} does not exist: none are sent until it does`];
  const plan = planLan({ ...input, deprecate: config.deprecate }, []);
  const leases = leasesOf(input.addresses, 0);
  const lines = plan.entries.map((e) => {
    const w = lifetimesOf(e, leases.get(e.prefix), 0);
    return `#   ${e.prefix} of ${e.link}: ${e.state} (${e.why}); valid ${w.validS} s, preferred ${w.preferredS} s`;
  });
  for (const s of plan.skipped) lines.push(`#   ${s.address} NOT advertised: ${s.why}`);
  if (!plan.entries.length) lines.push(`#   nothing to advertise: ${config.interface} holds no /64 inside a link's delegated prefixes`);
  return ['#', head, ...lines];
}
