// lan6: which /64s haip's router advertisements carry and how (src/net/ra.ts), the bytes on the wire,
// the advertiser's timing and what it tells (src/core/lan6.ts), the config key, and refused delegated
// prefixes in status (src/net/refused6.ts, src/core/statusDoc.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { LanAdvertiser, lan6Input, MIN_GAP_MS, PERIOD_MS, REPEAT_MS, RETRY_MS } from '../../src/core/lan6';
import { LinkState } from '../../src/model';
import { AdvertEntry, afterSend, buildRouterAdvert, LanInput, leasesMoved, leasesOf, lifetimesOf, planLan, prefixesOf, PREFERRED_S, VALID_S, WITHDRAW_SENDS } from '../../src/net/ra';
import { refusedPrefixes6 } from '../../src/net/refused6';
import { Heard } from '../../src/sys/raPort';
import { FakeClock, memoryLog } from './fakes';
import { configProblems } from './fixtures';

const isp = (name: string, prefixes: string[], state: LinkState = 'up') => ({ name, prefixes, state });
const lan = (...a: string[]) => a.map((x) => ({ address: x.split('/')[0], prefixlen: Number(x.split('/')[1]) }));
const show = (es: AdvertEntry[]) => es.map((e) => `${e.prefix} ${e.link} ${e.state}${e.sendsLeft ? ` ${e.sendsLeft}` : ''}`);

describe('planLan: what the RAs carry', () => {
  const two = [isp('isp1', ['2001:db8:1:100::/56']), isp('isp2', ['2001:DB8:2:0100::/56'])];
  const both = lan('2001:db8:2:100::1/64', '2001:db8:1:100::1/64');
  const cases: { name: string; input: LanInput; previous?: AdvertEntry[]; want: string[]; skipped?: string[] }[] = [
    { name: 'both up: both preferred, in the links\' order', input: { addresses: both, links: two, deprecate: true }, want: ['2001:db8:1:100::/64 isp1 preferred', '2001:db8:2:100::/64 isp2 preferred'] },
    {
      name: 'isp1 down: its /64 deprecated',
      input: { addresses: both, links: [isp('isp1', ['2001:db8:1:100::/56'], 'down'), two[1]], deprecate: true },
      want: ['2001:db8:1:100::/64 isp1 deprecated', '2001:db8:2:100::/64 isp2 preferred'],
    },
    {
      name: 'degraded and unknown links count as alive',
      input: { addresses: both, links: [isp('isp1', ['2001:db8:1:100::/56'], 'degraded'), isp('isp2', ['2001:db8:2:100::/56'], 'unknown')], deprecate: true },
      want: ['2001:db8:1:100::/64 isp1 preferred', '2001:db8:2:100::/64 isp2 preferred'],
    },
    {
      name: 'every link down: nothing deprecated (nowhere better to go)',
      input: { addresses: both, links: two.map((l) => ({ ...l, state: 'down' as const })), deprecate: true },
      want: ['2001:db8:1:100::/64 isp1 preferred', '2001:db8:2:100::/64 isp2 preferred'],
    },
    {
      name: 'deprecate: false keeps a down link preferred',
      input: { addresses: both, links: [isp('isp1', ['2001:db8:1:100::/56'], 'down'), two[1]], deprecate: false },
      want: ['2001:db8:1:100::/64 isp1 preferred', '2001:db8:2:100::/64 isp2 preferred'],
    },
    {
      name: 'only what a link delegated: ULA, the admin\'s own prefix and a refused one are not haip\'s',
      input: { addresses: lan('fd00:200::1/64', '2001:db8:9::1/64', '2001:db8:1:100::1/64'), links: [isp('isp1', ['2001:db8:1:100::/56']), isp('isp2', [])], deprecate: true },
      want: ['2001:db8:1:100::/64 isp1 preferred'],
    },
    {
      name: 'not a /64, or inside two links\' prefixes: skipped with the reason',
      input: { addresses: lan('2001:db8:1:100::1/60', '2001:db8:3:100::1/64'), links: [isp('isp1', ['2001:db8:1:100::/56', '2001:db8:3::/48']), isp('isp2', ['2001:db8:3:100::/56'])], deprecate: true },
      want: [],
      skipped: ['2001:db8:1:100::1 /60: hosts number themselves (SLAAC) from a /64 only', '2001:db8:3:100::1 inside the delegated prefixes of isp1 and isp2'],
    },
    {
      name: 'two /64s of one delegation on one LAN, two addresses in one /64: one entry each',
      input: { addresses: lan('2001:db8:1:101::1/64', '2001:db8:1:100::1/64', '2001:db8:1:100::2/64'), links: [isp('isp1', ['2001:db8:1:100::/56'])], deprecate: true },
      want: ['2001:db8:1:100::/64 isp1 preferred', '2001:db8:1:101::/64 isp1 preferred'],
    },
    {
      name: 'a /64 that left the LAN is withdrawn, WITHDRAW_SENDS times',
      input: { addresses: lan('2001:db8:2:100::1/64'), links: two, deprecate: true },
      previous: [{ prefix: '2001:db8:1:100::/64', link: 'isp1', state: 'preferred', why: '' }],
      want: ['2001:db8:2:100::/64 isp2 preferred', `2001:db8:1:100::/64 isp1 withdrawn ${WITHDRAW_SENDS}`],
    },
    {
      name: 'a withdrawal keeps its countdown; one that comes back is advertised again',
      input: { addresses: lan('2001:db8:1:100::1/64'), links: two, deprecate: true },
      previous: [
        { prefix: '2001:db8:1:100::/64', link: 'isp1', state: 'withdrawn', why: '', sendsLeft: 1 },
        { prefix: '2001:db8:2:100::/64', link: 'isp2', state: 'withdrawn', why: 'gone', sendsLeft: 2 },
      ],
      want: ['2001:db8:1:100::/64 isp1 preferred', '2001:db8:2:100::/64 isp2 withdrawn 2'],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const plan = planLan(c.input, c.previous ?? []);
      assert.deepEqual(show(plan.entries), c.want);
      assert.deepEqual(plan.skipped.map((s) => `${s.address} ${s.why}`), c.skipped ?? []);
    });

  it('afterSend counts a withdrawal down and drops it at the end', () => {
    const w: AdvertEntry = { prefix: '2001:db8:1:100::/64', link: 'isp1', state: 'withdrawn', why: '', sendsLeft: 2 };
    assert.deepEqual(show(afterSend([w])), ['2001:db8:1:100::/64 isp1 withdrawn 1']);
    assert.deepEqual(afterSend([{ ...w, sendsLeft: 1 }]), []);
  });
});

describe('buildRouterAdvert: the bytes on the wire (RFC 4861 4.2, 4.6.2)', () => {
  it('header and one prefix information option per /64', () => {
    const b = buildRouterAdvert(1800, [
      { prefix: '2001:db8:1:100::/64', validS: 86400, preferredS: 0 },
      { prefix: '2001:db8:2:100::/64', validS: 86400, preferredS: 14400 },
    ]);
    assert.equal(b.length, 16 + 2 * 32);
    // type 134, code 0, checksum 0 (the kernel's), hop limit 0, flags 0, router lifetime 1800, reachable 0, retrans 0
    assert.equal(b.subarray(0, 16).toString('hex'), '86000000000007080000000000000000');
    assert.equal(
      b.subarray(16, 48).toString('hex'),
      // type 3, length 4, /64, L+A, valid 86400, preferred 0, reserved, prefix
      '030440c0' + '00015180' + '00000000' + '00000000' + '20010db8000101000000000000000000',
    );
    assert.equal(b.subarray(48).toString('hex').slice(0, 24), '030440c00001518000003840');
  });
  const lifetimes: { name: string; life: number; want: string }[] = [
    { name: 'router lifetime 0 (not a default router)', life: 0, want: '0000' },
    { name: 'capped at 9000 s', life: 100000, want: '2328' },
  ];
  for (const c of lifetimes) it(c.name, () => assert.equal(buildRouterAdvert(c.life, []).subarray(6, 8).toString('hex'), c.want));
  it('preferred never above valid; withdrawn is 0/0', () => {
    const b = buildRouterAdvert(1800, [{ prefix: '2001:db8:1:100::/64', validS: 0, preferredS: 14400 }]);
    assert.equal(b.subarray(20, 28).toString('hex'), '0000000000000000');
  });
});

describe('prefixesOf: the prefixes another router advertises (bytes from the LAN)', () => {
  const ra = buildRouterAdvert(1800, [{ prefix: '2001:db8:1:100::/64', validS: 86400, preferredS: 14400 }]);
  const mtu = Buffer.from('05010000000005dc', 'hex');
  const cases: { name: string; packet: Buffer; want: string[] }[] = [
    { name: 'one PIO', packet: ra, want: ['2001:db8:1:100::/64 14400/86400'] },
    { name: 'other options skipped (MTU first)', packet: Buffer.concat([ra.subarray(0, 16), mtu, ra.subarray(16)]), want: ['2001:db8:1:100::/64 14400/86400'] },
    { name: 'a truncated option ends the walk', packet: ra.subarray(0, 40), want: [] },
    { name: 'a zero length ends the walk', packet: Buffer.concat([ra.subarray(0, 16), Buffer.from('0300000000000000', 'hex'), ra.subarray(16)]), want: [] },
    { name: 'not an RA', packet: Buffer.concat([Buffer.from([133]), ra.subarray(1)]), want: [] },
    { name: 'host bits cleared, prefix length kept', packet: Buffer.from(ra.toString('hex').replace('20010db8000101000000000000000000', '20010db80001010000000000000000ff'), 'hex'), want: ['2001:db8:1:100::/64 14400/86400'] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(prefixesOf(c.packet).map((p) => `${p.prefix} ${p.preferredS}/${p.validS}`), c.want));
});

/** A port that records what it was given; `fail` makes the next sends fail with that reason. */
function fakePort() {
  const sent: Buffer[] = [];
  const opened: string[] = [];
  let hear: (h: Heard) => void = () => {};
  const state = { fail: null as string | null, attempts: 0 };
  return {
    sent,
    opened,
    state,
    solicit: () => hear({ kind: 'rs' }),
    hear: (h: Heard) => hear(h),
    factory: (iface: string, index: number, heard: (h: Heard) => void) => {
      opened.push(`${iface}#${index}`);
      hear = heard;
      return { send: async (b: Buffer) => (state.attempts++, state.fail ? state.fail : (sent.push(b), null)), close: () => opened.push(`closed ${iface}#${index}`) };
    },
  };
}

/** Each sent RA as "PREFIX preferred/valid" per PIO. */
const pios = (b: Buffer) => {
  const out: string[] = [];
  for (let o = 16; o + 32 <= b.length; o += 32) out.push(`${b[o + 2]}:${b.subarray(o + 16, o + 24).toString('hex')} ${b.readUInt32BE(o + 8)}/${b.readUInt32BE(o + 4)}`);
  return out.join(', ');
};

describe('lifetimes: RFC 9096 limits, capped by what the delegation has left', () => {
  const entry = (state: AdvertEntry['state']): AdvertEntry => ({ prefix: '2001:db8:1:100::/64', link: 'isp1', state, why: '' });
  const cases: { name: string; state: AdvertEntry['state']; lease?: { v?: number; p?: number }; at?: number; want: string }[] = [
    { name: 'no lease (a static address): the limits', state: 'preferred', want: `${VALID_S}/${PREFERRED_S}` },
    { name: 'a lease shorter than the limits: what it has left', state: 'preferred', lease: { v: 600, p: 300 }, want: '600/300' },
    { name: 'counted down at the send', state: 'preferred', lease: { v: 600, p: 300 }, at: 100_500, want: '499/199' },
    { name: 'a lease longer than the limits: the limits', state: 'preferred', lease: { v: 86_400, p: 14_400 }, want: `${VALID_S}/${PREFERRED_S}` },
    { name: 'preferred never beyond valid', state: 'preferred', lease: { v: 100 }, want: '100/100' },
    { name: 'an expired lease: 0', state: 'preferred', lease: { v: 60, p: 30 }, at: 90_000, want: '0/0' },
    { name: 'deprecated: valid as the lease allows, preferred 0', state: 'deprecated', lease: { v: 600, p: 300 }, want: '600/0' },
    { name: 'withdrawn: both 0', state: 'withdrawn', lease: { v: 600, p: 300 }, want: '0/0' },
  ];
  for (const c of cases)
    it(c.name, () => {
      const lease = c.lease && { validUntil: c.lease.v === undefined ? undefined : c.lease.v * 1000, preferredUntil: c.lease.p === undefined ? undefined : c.lease.p * 1000 };
      const w = lifetimesOf(entry(c.state), lease, c.at ?? 0);
      assert.equal(`${w.validS}/${w.preferredS}`, c.want);
    });

  it('leasesOf: per /64 from the seconds left at the read; the longest of two addresses; forever stays forever', () => {
    const ls = leasesOf(
      [
        { address: '2001:db8:1:100::1', prefixlen: 64, validS: 600, preferredS: 300 },
        { address: '2001:db8:1:100::2', prefixlen: 64, validS: 900, preferredS: 100 },
        { address: '2001:db8:2:100::1', prefixlen: 64 },
        { address: '2001:db8:3:100::1', prefixlen: 64, validS: 600 },
        { address: '2001:db8:3:100::2', prefixlen: 64 },
        { address: '2001:db8:4::1', prefixlen: 56, validS: 10 },
      ],
      1000,
    );
    assert.deepEqual(Object.fromEntries(ls), {
      '2001:db8:1:100::/64': { validUntil: 901_000, preferredUntil: 301_000 },
      '2001:db8:2:100::/64': { validUntil: undefined, preferredUntil: undefined },
      '2001:db8:3:100::/64': { validUntil: undefined, preferredUntil: undefined },
    });
  });

  it('leasesMoved: a countdown is no change; a renewal, a cut or a lease that comes or goes is', () => {
    const at = (now: number, validS?: number, preferredS?: number) => leasesOf([{ address: '2001:db8:1:100::1', prefixlen: 64, validS, preferredS }], now);
    assert.deepEqual(leasesMoved(at(0, 600, 300), at(5000, 595, 295)), [], 'counted down');
    assert.deepEqual(leasesMoved(at(0, 600, 300), at(5000, 596, 296)), [], 'a second of rounding');
    assert.deepEqual(leasesMoved(at(0, 600, 300), at(300_000, 600, 300)), ['2001:db8:1:100::/64'], 'renewed');
    assert.deepEqual(leasesMoved(at(0, 600, 300), at(1000, 60, 0)), ['2001:db8:1:100::/64'], 'cut short');
    assert.deepEqual(leasesMoved(at(0), at(1000, 600, 300)), ['2001:db8:1:100::/64'], 'a static address now leased');
    assert.deepEqual(leasesMoved(new Map(), at(1000, 600, 300)), [], 'new /64s are a plan change, not a lease move');
  });
});

describe('LanAdvertiser: when RAs go out and what is told', () => {
  const config = { interface: 'lan0', deprecate: true, routerLifetimeS: 1800 };
  const input = (s1: LinkState, s2: LinkState = 'up') => ({
    index: 3,
    addresses: lan('2001:db8:1:100::1/64', '2001:db8:2:100::1/64'),
    links: [isp('isp1', ['2001:db8:1:100::/56'], s1), isp('isp2', ['2001:db8:2:100::/56'], s2)],
  });

  /** A new advertiser on a fake clock and port; `changed` counts its status changes. */
  function fresh() {
    const clock = new FakeClock();
    const log = memoryLog();
    const port = fakePort();
    const counts = { changed: 0 };
    const a = new LanAdvertiser({ log, clock, ports: port.factory, changed: () => counts.changed++ });
    return { clock, log, port, counts, a };
  }

  /** An advertiser that has sent its first RA, both links up. */
  async function running() {
    const { clock, log, port, a } = fresh();
    a.update(config, input('up'));
    await clock.advance(0);
    return { clock, log, port, a };
  }

  it('a change goes out at once, repeats twice 3 s apart, then every period; told once it went out', async () => {
    const { clock, log, port, a } = await running();
    assert.deepEqual(port.opened, ['lan0#3']);
    assert.equal(port.sent.length, 1);
    assert.equal(pios(port.sent[0]), '64:20010db800010100 2700/5400, 64:20010db800020100 2700/5400');
    a.update(config, input('up'));
    await clock.advance(REPEAT_MS * 2);
    assert.equal(port.sent.length, 3, 'two repeats, nothing for an unchanged plan');
    await clock.advance(PERIOD_MS + 1000);
    assert.equal(port.sent.length, 4);
    a.update(config, input('down'));
    await clock.advance(0);
    assert.equal(port.sent.length, 5, 'a change at once');
    assert.equal(pios(port.sent[4]), '64:20010db800010100 0/5400, 64:20010db800020100 2700/5400');
    assert.deepEqual(
      log.lines.filter((l) => l.includes('lan6')),
      [
        'notice: lan6: 2001:db8:1:100::/64 of isp1 advertised on lan0 (isp1\'s IPv6 is up)',
        'notice: lan6: 2001:db8:2:100::/64 of isp2 advertised on lan0 (isp2\'s IPv6 is up)',
        'notice: lan6: 2001:db8:1:100::/64 of isp1 deprecated on lan0 (isp1\'s IPv6 is down): hosts number new connections from the live prefixes',
      ],
    );
    assert.deepEqual(a.status()?.prefixes.map((p) => `${p.prefix} ${p.state}`), ['2001:db8:1:100::/64 deprecated', '2001:db8:2:100::/64 preferred']);
    a.update(config, input('up'));
    await clock.advance(1000);
    assert.match(log.lines[log.lines.length - 1], /2001:db8:1:100::\/64 of isp1 preferred again on lan0/);
    a.stop();
  });

  it('a failed send is told once, retried after 1 s, 2 s, ...; status keeps what went out', async () => {
    const { clock, log, port, a } = fresh();
    port.state.fail = 'Cannot assign requested address';
    a.update(config, input('up'));
    await clock.advance(RETRY_MS);
    assert.deepEqual(log.lines, ['warning: lan6: router advertisement on lan0 not sent: Cannot assign requested address'], 'tried twice, told once');
    assert.deepEqual(a.status(), { interface: 'lan0', deprecate: true, prefixes: [], sent: null, error: 'Cannot assign requested address' });
    a.update(config, input('up'));
    await clock.advance(0);
    assert.equal(port.state.attempts, 2, 'a pass with nothing new keeps the backoff');
    port.state.fail = null;
    await clock.advance(2 * RETRY_MS - 1);
    assert.equal(port.sent.length, 0);
    await clock.advance(1);
    assert.equal(port.sent.length, 1);
    assert.equal(a.status()?.error, null);
    a.stop();
  });

  it('every RA that goes out moves status\'s sent time and tells status.json, repeats and answers too', async () => {
    const { clock, port, counts, a } = fresh();
    a.update(config, input('up'));
    await clock.advance(0);
    assert.equal(counts.changed, 1);
    const first = a.status()?.sent;
    await clock.advance(REPEAT_MS);
    assert.equal(port.sent.length, 2);
    assert.equal(counts.changed, 2, 'a repeat with nothing new still moves `sent`');
    assert.notEqual(a.status()?.sent, first);
    assert.equal(a.status()?.sent, new Date(clock.now()).toISOString());
    a.stop();
  });

  it('a lease renewed or cut short goes out at once with its lifetimes; its countdown does not; status shows what went out', async () => {
    const { clock, log, port, a } = fresh();
    const leased = (validS: number, preferredS: number) => ({
      ...input('up'),
      addresses: [{ address: '2001:db8:1:100::1', prefixlen: 64, validS, preferredS }, { address: '2001:db8:2:100::1', prefixlen: 64 }],
    });
    a.update(config, leased(600, 300));
    await clock.advance(REPEAT_MS * 2 + 10_000);
    assert.equal(port.sent.length, 3);
    assert.equal(pios(port.sent[0]), `64:20010db800010100 300/600, 64:20010db800020100 ${PREFERRED_S}/${VALID_S}`);
    assert.equal(pios(port.sent[2]), `64:20010db800010100 294/594, 64:20010db800020100 ${PREFERRED_S}/${VALID_S}`, 'the repeat 6 s later counts down');
    a.update(config, leased(584, 284));
    await clock.advance(0);
    assert.equal(port.sent.length, 3, 'the lease counting down is no change');
    a.update(config, leased(60, 0 + 30));
    await clock.advance(0);
    assert.equal(port.sent.length, 4, 'the ISP cut the lease: at once');
    assert.equal(pios(port.sent[3]), `64:20010db800010100 30/60, 64:20010db800020100 ${PREFERRED_S}/${VALID_S}`);
    assert.match(log.lines[log.lines.length - 1], /lan6: the delegation behind 2001:db8:1:100::\/64 was renewed or cut short/);
    assert.deepEqual(a.status()?.prefixes.map((p) => `${p.prefix} ${p.valid_s}/${p.preferred_s}`), ['2001:db8:1:100::/64 60/30', `2001:db8:2:100::/64 ${VALID_S}/${PREFERRED_S}`]);
    await clock.advance(REPEAT_MS);
    const before = port.sent.length;
    a.update(config, leased(600, 300));
    await clock.advance(MIN_GAP_MS);
    assert.equal(port.sent.length, before + 1);
    assert.equal(pios(port.sent[before]).split(',')[0], '64:20010db800010100 299/599', 'renewed: at once (after the 500 ms gap)');
    a.stop();
  });

  it('a solicitation is answered, at most one RA per 3 s', async () => {
    const { clock, port, a } = fresh();
    a.update(config, input('up'));
    await clock.advance(REPEAT_MS * 2 + 4000);
    assert.equal(port.sent.length, 3, 'the first RA and its repeats, at 0, 3 and 6 s');
    port.solicit();
    port.solicit();
    await clock.advance(0);
    assert.equal(port.sent.length, 4, 'answered at once, 4 s after the last');
    port.solicit();
    await clock.advance(REPEAT_MS - 1);
    assert.equal(port.sent.length, 4, 'not within 3 s of the last');
    await clock.advance(1);
    assert.equal(port.sent.length, 5);
    a.stop();
  });

  it('another router advertising one of haip\'s /64s is named once; others\' prefixes are theirs', async () => {
    const { clock, log, port, a } = await running();
    const theirs = buildRouterAdvert(1800, [
      { prefix: '2001:db8:1:100::/64', validS: 86400, preferredS: 14400 },
      { prefix: 'fd00:200::/64', validS: 86400, preferredS: 14400 },
    ]);
    for (let i = 0; i < 3; i++) port.hear({ kind: 'ra', from: 'fe80::9', packet: theirs });
    assert.deepEqual(log.lines.filter((l) => l.startsWith('warning')), [
      'warning: lan6: fe80::9 also advertises 2001:db8:1:100::/64 on lan0 (preferred lifetime 14400 s): hosts follow the latest router advertisement, so a deprecation by haip lasts only until its next one; leave the delegated /64s to haip (radvd: no prefix block for them)',
    ]);
    a.stop();
  });

  it('the interface gone, renamed or recreated: the port follows it; nothing without config', async () => {
    const clock = new FakeClock();
    const port = fakePort();
    const a = new LanAdvertiser({ log: memoryLog(), clock, ports: port.factory });
    a.update(config, input('up'));
    a.update(config, { ...input('up'), index: 7 });
    a.update(config, { ...input('up'), index: undefined });
    a.update(undefined, input('up'));
    assert.deepEqual(port.opened, ['lan0#3', 'closed lan0#3', 'lan0#7', 'closed lan0#7']);
    assert.equal(a.status(), undefined);
    a.stop();
  });

  it('lan6Input: the LAN\'s addresses, and each link\'s prefixes without the refused ones', () => {
    const obs = { interfaces: new Map([['lan0', { index: 4, addresses6: lan('2001:db8:1:100::1/64') }]]) };
    const rts = [
      { config: { name: 'isp1' }, view: { prefixes6: [{ prefix: '2001:db8:1:100::/56' }] }, health: { state: 'up' as const } },
      { config: { name: 'isp2' }, view: { prefixes6: [{ prefix: '2001:DB8:1:100::/56' }] }, health: { state: 'down' as const } },
    ];
    const refused = [{ link: 'isp2', prefix: '2001:db8:1:100::/56', learned: false, why: 'owned' }];
    assert.deepEqual(lan6Input(config, obs, rts, refused), {
      index: 4,
      addresses: lan('2001:db8:1:100::1/64'),
      links: [isp('isp1', ['2001:db8:1:100::/56']), isp('isp2', [], 'down')],
    });
    assert.deepEqual(lan6Input(config, { interfaces: new Map() }, [], []), { addresses: [], links: [] });
  });
});

describe('lan6 in the config', () => {
  const base = 'tables: { T1: 101 }\nprobe: { targets: [203.0.113.1, "2001:db8:ff::1"] }\nlinks:\n  - { name: a, interface: eth1, table: T1 }\n';
  const problems = configProblems;
  it('defaults: deprecate, router lifetime 1800', () => {
    assert.deepEqual(parseConfigText(base + 'lan6: { interface: lan0 }\n', 'h.yaml').lan6, { interface: 'lan0', deprecate: true, routerLifetimeS: 1800 });
    assert.deepEqual(parseConfigText(base + 'lan6: { interface: lan0, deprecate: false, router_lifetime: 0 }\n', 'h.yaml').lan6, { interface: 'lan0', deprecate: false, routerLifetimeS: 0 });
    assert.equal(parseConfigText(base, 'h.yaml').lan6, undefined);
  });
  const cases: { name: string; text: string; want: RegExp }[] = [
    { name: 'an uplink\'s interface', text: base + 'lan6: { interface: eth1 }\n', want: /^h\.yaml:5:20: lan6\.interface: eth1 is the interface of link "a": router advertisements go to the LAN/ },
    { name: 'a router lifetime that lapses between RAs', text: base + 'lan6: { interface: lan0, router_lifetime: 300 }\n', want: /lan6\.router_lifetime: must be 0 or at least 600/ },
    { name: 'no link routing IPv6', text: base.replace(', "2001:db8:ff::1"', '') + 'lan6: { interface: lan0 }\n', want: /^h\.yaml:5:7: lan6: no link routes IPv6 delegated prefixes/ },
    { name: 'an unknown key', text: base + 'lan6: { interface: lan0, prefixes: [] }\n', want: /lan6/ },
    { name: 'no interface', text: base + 'lan6: { deprecate: true }\n', want: /lan6/ },
  ];
  for (const c of cases) it(`refused: ${c.name}`, () => assert.match(problems(c.text).join('\n'), c.want));
});

describe('refusedPrefixes6: what status names as not routed', () => {
  it('learned refusals and configured prefixes another link owns; other conflicts are not prefixes', () => {
    const got = refusedPrefixes6(
      [{ link: 'isp1', prefix: '2001:db8::/32', why: '/32 is not a delegation (/48 to /64)' }],
      [
        { link: 'isp2', family: 6, address: '2001:db8:1:100::', delegated: true, prefix: '2001:db8:1:100::/56', owner: 'isp1', text: '' },
        { link: 'isp2', family: 4, address: '198.18.1.2', owner: 'isp1', text: '' },
      ],
    );
    assert.deepEqual(got, [
      { link: 'isp1', prefix: '2001:db8::/32', learned: true, why: '/32 is not a delegation (/48 to /64)' },
      { link: 'isp2', prefix: '2001:db8:1:100::/56', learned: false, why: 'link "isp1" owns it (or a prefix overlapping it) first: no source rule' },
    ]);
  });
});
