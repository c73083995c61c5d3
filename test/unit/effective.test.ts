// The effective-route check: what the kernel's lookups say against haip's choice, foreign routes that
// beat the default route moved into their link's table, and the daemon doing it on a fake kernel.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Daemon } from '../../src/daemon';
import { parseConfigText } from '../../src/config/load';
import { healthValue } from '../../src/healthFile';
import { LinkConfig, Route } from '../../src/model';
import { covers, judge, LinkFacts, lookupsFor, targetAddress } from '../../src/net/effective';
import { batchText, parseBatch } from '../../src/net/effectiveRead';
import { moveShadows } from '../../src/net/shadows';
import { StatusDoc } from '../../src/status';
import { FakeClock, FakeKernel, FakeLinkEvents, FakeProber, memoryLog, RecordingNotifier } from './fakes';
import { CONFIG, ETH1, PPP0 } from './fixtures';

const [DSL, LTE] = CONFIG.links as [LinkConfig, LinkConfig];
const facts = (usable: [boolean, boolean] = [true, true]): LinkFacts[] => [
  { link: DSL, family: 4, source: '198.18.1.2', usable: usable[0] },
  { link: LTE, family: 4, source: '198.18.9.2', usable: usable[1] },
];
const input = (active: string | null, usable?: [boolean, boolean]) => ({ family: 4 as const, links: facts(usable), active, mainTable: 254, protocol: 72, shadowPrefix: { 4: 8, 6: 16 } });
const r = (dst: string, dev: string, protocol: number, table = 254, gateway?: string): Route => ({ table, dst, dev, protocol, ...(gateway ? { gateway } : {}) });

describe('effective routes: pure', () => {
  it('targets, prefixes, lookups', () => {
    assert.equal(targetAddress('203.0.113.1'), '203.0.113.1');
    assert.equal(targetAddress('tcp://[2001:db8::1]:443'), '2001:db8::1');
    assert.equal(targetAddress('http://198.51.100.7/generate_204'), '198.51.100.7');
    assert.equal(targetAddress('http://example.org/'), undefined);
    for (const [dst, a, want] of [
      ['0.0.0.0/1', '127.1.1.1', true],
      ['0.0.0.0/1', '128.0.0.1', false],
      ['128.0.0.0/1', '203.0.113.1', true],
      ['default', '1.2.3.4', true],
      ['203.0.113.0/24', '203.0.113.9', true],
    ] as const)
      assert.equal(covers(dst, a, 4), want, `${dst} ${a}`);
    assert.ok(covers('2000::/3', '2a00::1', 6));
    assert.ok(!covers('2001:db8::/32', '2a00::1', 6));
    const q = lookupsFor(4, facts());
    // 15 samples + 2 targets, without a source and from each of the two sources.
    assert.equal(q.length, 17 * 3);
    assert.ok(q.some((x) => x.dst === '203.0.113.2' && x.from === '198.18.9.2' && x.link === 'lte'));
  });

  it('parses one answer per lookup; a failed lookup prints nothing before its mark', () => {
    const qs = [{ family: 4 as const, dst: '1.0.0.1' }, { family: 4 as const, dst: '17.0.0.1' }, { family: 4 as const, dst: '33.0.0.1' }];
    assert.equal(batchText(qs.slice(0, 1)), 'route get fibmatch 1.0.0.1\nroute get fibmatch 127.0.0.1\n');
    const mark = '[{"type":"local","dst":"127.0.0.1","dev":"lo","table":"255","protocol":"2","flags":[]}]';
    const out = ['[{"dst":"0.0.0.0/1","gateway":"198.18.1.1","dev":"eth1","protocol":"16","flags":[]}]', mark, mark, '[{"dst":"default","dev":"ppp0","table":"102","protocol":"72","scope":"253"}]', mark].join('\n');
    const got = parseBatch(qs, out);
    assert.deepEqual(got[0].route, { table: 254, dst: '0.0.0.0/1', gateway: '198.18.1.1', dev: 'eth1', protocol: 16 });
    assert.equal(got[1].route, undefined);
    assert.equal(got[2].route?.table, 102);
    assert.equal(parseBatch(qs, out.split('\n').slice(0, 2).join('\n')).length, 1, 'a cut-short answer gives only what it holds');
  });

  it('judges: foreign routes shorter than the limit or covering a target move; longer ones, the kernel\'s and haip\'s stay', () => {
    const cases: [string, Route, boolean][] = [
      ['option 121 half', r('0.0.0.0/1', 'eth1', 16, 254, '198.18.1.1'), true],
      ['netmask 128.0.0.0 subnet route', r('128.0.0.0/1', 'eth1', 2), false],
      ['a /24 covering a probe target', r('203.0.113.0/24', 'eth1', 4, 254, '198.18.1.1'), true],
      ['a /24 elsewhere: the admin\'s business', r('198.51.100.0/24', 'eth1', 4, 254, '198.18.1.1'), false],
      ['through a non-uplink interface', r('0.0.0.0/1', 'lan0', 4), false],
      ['haip\'s own', r('0.0.0.0/1', 'eth1', 72), false],
      ['in a link table', r('0.0.0.0/1', 'eth1', 16, 101), false],
    ];
    for (const [name, route, moved] of cases) {
      const dst = name.includes('target') ? '203.0.113.1' : route.dst.startsWith('128') ? '129.0.0.1' : '1.0.0.1';
      const v = judge(input('lte'), [{ family: 4, dst, route }]);
      assert.equal(v.shadows.length, moved ? 1 : 0, name);
    }
  });

  it('problems: traffic by another link than haip\'s choice, a source leaving by another link, traffic into a down link', () => {
    const viaDsl = r('default', 'eth1', 72, 254, '198.18.1.1');
    assert.deepEqual(judge(input('dsl'), [{ family: 4, dst: '1.0.0.1', route: viaDsl }]).problems, []);
    assert.deepEqual(judge(input('lte', [false, true]), [{ family: 4, dst: '1.0.0.1', route: viaDsl }]).problems, [
      "traffic to 1.0.0.1 goes by dsl (default via 198.18.1.1 dev eth1 proto 72 table main), not by lte, haip's choice",
    ]);
    assert.deepEqual(judge(input(null, [false, false]), [{ family: 4, dst: '1.0.0.1', route: viaDsl }]).problems, [
      'traffic to 1.0.0.1 goes by dsl (default via 198.18.1.1 dev eth1 proto 72 table main), which haip considers down',
    ]);
    const many = ['1.0.0.1', '17.0.0.1', '33.0.0.1'].map((dst) => ({ family: 4 as const, dst, route: viaDsl }));
    assert.deepEqual(judge(input('lte', [false, true]), many).problems, [
      "traffic to 1.0.0.1, 17.0.0.1 and 1 more goes by dsl (default via 198.18.1.1 dev eth1 proto 72 table main), not by lte, haip's choice",
    ]);
    const fromLte = { family: 4 as const, dst: '1.0.0.1', from: '198.18.9.2', link: 'lte', route: viaDsl };
    assert.match(judge(input('dsl'), [fromLte]).problems[0], /from 198\.18\.9\.2 goes by dsl .*not by lte whose address it is/);
    // A longer foreign route is not the default route's traffic.
    assert.deepEqual(judge(input('lte'), [{ family: 4, dst: '198.51.100.1', route: r('198.51.100.0/24', 'eth1', 4, 254, '198.18.1.1') }]).problems, []);
  });

  it('moves each shadow once into its link\'s table, keeps it while the link has its address, deletes it from main', () => {
    const half = r('0.0.0.0/1', 'eth1', 16, 254, '198.18.1.1');
    const lanes = [{ family: 4 as const, active: 'lte', links: facts([false, true]) }];
    const first = moveShadows({ mainTable: 254, protocol: 72 }, [{ family: 4, dst: '1.0.0.1', route: half }], { routes: [], rules: [] }, lanes, []);
    assert.deepEqual(first.desired.remove, [half]);
    assert.deepEqual(first.desired.routes, [{ ...half, table: 101, protocol: 72 }]);
    assert.equal(first.fresh.length, 1);
    const again = moveShadows({ mainTable: 254, protocol: 72 }, [{ family: 4, dst: '1.0.0.1', route: half }], { routes: [], rules: [] }, lanes, first.moved);
    assert.equal(again.fresh.length, 0, 'a DHCP renewal putting it back is deleted again, not logged again');
    const later = moveShadows({ mainTable: 254, protocol: 72 }, [], { routes: [], rules: [] }, lanes, first.moved);
    assert.deepEqual(later.desired.routes, [{ ...half, table: 101, protocol: 72 }]);
    assert.equal(later.desired.remove, undefined);
    const gone = moveShadows({ mainTable: 254, protocol: 72 }, [], { routes: [], rules: [] }, [{ ...lanes[0], links: [{ ...facts()[0], source: undefined }, facts()[1]] }], first.moved);
    assert.deepEqual(gone.moved, [], 'a link that lost its address lost its lease\'s routes');
  });

  it('shadow_prefix sets the limits; unset, /8 and /16', () => {
    const cfg = parseConfigText('probe: { targets: [203.0.113.1] }\nlinks:\n  - { name: a, interface: eth1, weight: 1, gateway: 198.18.1.1 }\nshadow_prefix: { ipv4: 4 }\n', 'haip.yaml');
    assert.deepEqual(cfg.shadowPrefix, { 4: 4 });
    const half = r('0.0.0.0/5', 'eth1', 16, 254, '198.18.1.1');
    const lanes = [{ family: 4 as const, active: 'lte', links: facts() }];
    const q = [{ family: 4 as const, dst: '1.0.0.1', route: half }];
    assert.equal(moveShadows({ mainTable: 254, protocol: 72 }, q, { routes: [], rules: [] }, lanes, []).fresh.length, 1, '/5 is shorter than /8');
    assert.equal(moveShadows({ mainTable: 254, protocol: 72, shadowPrefix: { 4: 4 } }, q, { routes: [], rules: [] }, lanes, []).fresh.length, 0, 'but not than /4');
  });

  it('healthy is 0 while traffic goes another way than haip chose', () => {
    const doc: StatusDoc = { active: 'dsl', since: '', pid: 1, updated: '', switches: 0, links: [{ name: 'dsl', family: 4, state: 'up' } as StatusDoc['links'][number]] };
    assert.equal(healthValue(doc), 1);
    assert.equal(healthValue({ ...doc, misrouted: 1 }), 0);
  });
});

describe('effective routes: the daemon on a fake kernel', () => {
  it('option 121 split routes through dsl: moved into dsl\'s table at once, logged once; after dsl dies all traffic and lte\'s source go by lte', async () => {
    const kernel = new FakeKernel().addInterface('eth1', [ETH1]).addInterface('ppp0', [PPP0]);
    kernel.addRawRoute({ dst: '0.0.0.0/1', gateway: '198.18.1.1', dev: 'eth1', protocol: 16 });
    kernel.addRawRoute({ dst: '128.0.0.0/1', gateway: '198.18.1.1', dev: 'eth1', protocol: 16 });
    const clock = new FakeClock();
    const prober = new FakeProber();
    const log = memoryLog();
    const docs: StatusDoc[] = [];
    const daemon = new Daemon(CONFIG, { ip: kernel, prober, clock, notifier: new RecordingNotifier(), log, events: new FakeLinkEvents(), hooks: { run: () => {} }, status: { write: (d) => void docs.push(d) }, watchdogMs: null });
    await daemon.start();
    await clock.advance(0);
    await clock.advance(200); // the lookups, asked a little after the pass, and the pass they ask for
    const halves = kernel.render().split('\n').filter((l) => /^(0|128)\.0\.0\.0\/1 /.test(l));
    assert.deepEqual(halves, ['0.0.0.0/1 via 198.18.1.1 dev eth1 table 101 proto 72', '128.0.0.0/1 via 198.18.1.1 dev eth1 table 101 proto 72'], kernel.render());
    assert.equal(log.lines.filter((l) => l.includes('moved "')).length, 2, log.lines.join('\n'));
    assert.match(log.lines.find((l) => l.includes('moved "0.0.0.0/1'))!, /installed by proto 16\) into table 101/);
    prober.setDown(ETH1.address);
    await clock.advance(5000);
    assert.equal(daemon.activeLink, 'lte');
    const doc = docs[docs.length - 1];
    assert.deepEqual(doc.problems, []);
    assert.equal(doc.misrouted, undefined);
    assert.equal(healthValue(doc), 1);
    await daemon.stop();
  });

  it('a shadow that cannot be moved is a problem and healthy 0', async () => {
    const kernel = new FakeKernel().addInterface('eth1', [ETH1]).addInterface('ppp0', [PPP0]);
    const clock = new FakeClock();
    const prober = new FakeProber();
    const docs: StatusDoc[] = [];
    const daemon = new Daemon(CONFIG, { ip: kernel, prober, clock, notifier: new RecordingNotifier(), log: memoryLog(), events: new FakeLinkEvents(), hooks: { run: () => {} }, status: { write: (d) => void docs.push(d) }, watchdogMs: null });
    await daemon.start();
    await clock.advance(0);
    prober.setDown(ETH1.address);
    await clock.advance(5000);
    assert.equal(daemon.activeLink, 'lte');
    // A /9 through the dead link: shorter than /8? No: longer, so it stays; a /7 in main is moved.
    kernel.addRawRoute({ dst: '0.0.0.0/7', gateway: '198.18.1.1', dev: 'eth1', protocol: 16 });
    kernel.failNext(['-4', 'route', 'del'], 1, 'RTNETLINK answers: Operation not permitted', 1000);
    await clock.advance(40_000);
    const doc = docs[docs.length - 1];
    assert.ok(doc.problems?.some((p) => /traffic to 1\.0\.0\.1 goes by dsl \(0\.0\.0\.0\/7/.test(p)), JSON.stringify(doc.problems));
    assert.equal(healthValue(doc), 0);
    await daemon.stop();
  });
});
