// The daemon on fakes: a fake kernel behind `ip`, a fake clock, scripted probes and a recording notifier.
// Hours of probing run in milliseconds; every assertion is on what the kernel holds, what systemd was
// told, and what the log says.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Daemon } from '../../src/daemon';
import { NOTICE_IDS } from '../../src/log';
import { HookEvent } from '../../src/model';
import { parseConfigText } from '../../src/config/load';
import { Config } from '../../src/model';
import { StatusDoc } from '../../src/status';
import { FakeClock, FakeKernel, FakeLinkEvents, FakeProber, memoryLog, RecordingNotifier } from './fakes';
import { CONFIG, ETH1, PPP0, STATES } from './fixtures';

const DSL_SRC = ETH1.address; // 198.18.1.2
const LTE_SRC = PPP0.address; // 198.18.9.2
const DSL_ACTIVE = STATES['both up, dsl active'].golden;
const LTE_ACTIVE = STATES['both up, lte active (point-to-point: default dev ppp0 scope link)'].golden;

/** Every fake kernel the tests here used, checked at the end for argv it did not know. */
const kernels: FakeKernel[] = [];

function setup(opts: { config?: Config; watchdogMs?: number; kernel?: FakeKernel } = {}) {
  const kernel = opts.kernel ?? new FakeKernel().addInterface('eth1', [ETH1]).addInterface('ppp0', [PPP0]);
  kernels.push(kernel);
  const clock = new FakeClock();
  const prober = new FakeProber();
  const notifier = new RecordingNotifier();
  const log = memoryLog();
  const events = new FakeLinkEvents();
  const hookEvents: HookEvent[] = [];
  const docs: StatusDoc[] = [];
  const daemon = new Daemon(opts.config ?? CONFIG, {
    ip: kernel,
    prober,
    clock,
    notifier,
    log,
    events,
    hooks: { run: (ev) => void hookEvents.push(ev) },
    status: { write: (d) => void docs.push(d) },
    watchdogMs: opts.watchdogMs ?? null,
  });
  const switches = () => log.lines.filter((l) => / switch: /.test(l));
  const lastDoc = () => docs[docs.length - 1];
  return { kernel, clock, prober, notifier, log, events, hookEvents, docs, daemon, switches, lastDoc };
}

/** Starts the daemon and lets the first probe round of every link run. */
async function started(opts: Parameters<typeof setup>[0] = {}) {
  const t = setup(opts);
  await t.daemon.start();
  await t.clock.advance(0);
  return t;
}

describe('daemon: start', () => {
  it('constructing does nothing; start reconciles, waits for the first rounds, then READY=1 once naming the active link', async () => {
    const t = setup();
    assert.deepEqual(t.kernel.log, []);
    assert.equal(t.clock.pending, 0);
    await t.daemon.start();
    assert.equal(t.notifier.count('READY'), 0, 'no READY before the first rounds');
    assert.equal(t.daemon.activeLink, null);
    await t.clock.advance(0);
    assert.equal(t.notifier.count('READY'), 1);
    const ready = t.notifier.with('READY')[0];
    assert.match(ready.STATUS, /^active: dsl \(eth1 via 198\.18\.1\.1\); dsl up [\d.]+ms, lte up [\d.]+ms$/);
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.equal(t.kernel.render(), DSL_ACTIVE);
    assert.deepEqual(t.switches(), ['notice: switch: default route none -> dsl (eth1 via 198.18.1.1): dsl is the best link that is up (weight 1)']);
    await t.clock.advance(20_000);
    assert.equal(t.notifier.count('READY'), 1, 'READY=1 is sent once');
    assert.equal(t.switches().length, 1);
    assert.equal(t.kernel.render(), DSL_ACTIVE);
    assert.deepEqual(t.kernel.unknown, []);
    assert.equal(t.events.started, 1);
    assert.equal(t.lastDoc().active, 'dsl');
  });

  it('probes each target of each link from the link\'s own source address, once per interval', async () => {
    const t = await started();
    await t.clock.advance(10_000);
    // The first round at 0 s, then one a second: 11 rounds of 2 targets per link.
    assert.equal(t.prober.callsFrom(DSL_SRC), 22);
    assert.equal(t.prober.callsFrom(LTE_SRC), 22);
    assert.deepEqual([...new Set(t.prober.calls.map((c) => c.target))].sort(), ['203.0.113.1', '203.0.113.2']);
    assert.ok(t.prober.calls.every((c) => c.timeoutMs === 1000));
  });

  it('in a steady state nothing is written to the kernel', async () => {
    const t = await started();
    t.kernel.clearLog();
    await t.clock.advance(65_000);
    assert.deepEqual(t.kernel.mutations, []);
  });

  it('with every link down from the start: READY=1 anyway, no default route, loud, and probing on', async () => {
    const t = setup();
    t.prober.setDown(DSL_SRC).setDown(LTE_SRC);
    await t.daemon.start();
    await t.clock.advance(0);
    assert.equal(t.notifier.count('READY'), 1);
    assert.match(t.notifier.with('READY')[0].STATUS, /^active: none; dsl down, lte down$/);
    assert.ok(t.log.lines.some((l) => l.startsWith('error: ') && l.includes('every link is down')), t.log.lines.join('\n'));
    assert.ok(!t.kernel.render().includes('default via 198.18.1.1 dev eth1 proto 72\n'));
    t.prober.setDown(DSL_SRC, false);
    await t.clock.advance(2000);
    assert.equal(t.daemon.activeLink, null, 'a down link needs `up` good rounds');
    await t.clock.advance(1000);
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.equal(t.kernel.render(), DSL_ACTIVE);
  });
});

describe('daemon: failover', () => {
  it('silent loss on the preferred link: down after `down` rounds, the default route moves, one switch line says why', async () => {
    const t = await started();
    t.prober.setDown(DSL_SRC);
    await t.clock.advance(2000);
    assert.equal(t.daemon.activeLink, 'dsl', 'two bad rounds are not enough');
    assert.equal(t.kernel.render(), DSL_ACTIVE);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'up');
    await t.clock.advance(1000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'down');
    assert.equal(t.daemon.activeLink, 'lte');
    assert.equal(t.kernel.render(), LTE_ACTIVE);
    assert.deepEqual(t.switches().slice(1), [
      'warning: switch: default route dsl (eth1 via 198.18.1.1) -> lte (ppp0): dsl is down (3 failed probe rounds in a row: 0/2 targets answered); lte is the best link that is up',
    ]);
    assert.ok(t.log.lines.includes('warning: link dsl (eth1): up -> down: 3 failed probe rounds in a row: 0/2 targets answered'));
    assert.match(t.notifier.last('STATUS')!, /^active: lte \(ppp0\); dsl down, lte up/);
    assert.deepEqual(
      t.hookEvents.map((e) => [e.event, e.link, e.state, e.previous]),
      [
        ['link-up', 'dsl', 'up', 'unknown'],
        ['link-up', 'lte', 'up', 'unknown'],
        ['switch', 'dsl', 'up', ''],
        ['link-down', 'dsl', 'down', 'up'],
        ['switch', 'lte', 'up', 'dsl'],
      ],
    );
  });

  it('a good round in between resets the count', async () => {
    const t = await started();
    for (let i = 0; i < 5; i++) {
      t.prober.setDown(DSL_SRC);
      await t.clock.advance(2000);
      t.prober.setDown(DSL_SRC, false);
      await t.clock.advance(1000);
    }
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.equal(t.switches().length, 1);
  });

  it('one target of two answering is enough with quorum 1', async () => {
    const t = await started();
    t.prober.setTargetDown('203.0.113.1');
    await t.clock.advance(10_000);
    assert.equal(t.daemon.activeLink, 'dsl');
  });

  it('fail-back after `up` good rounds, with a switch line saying why', async () => {
    const t = await started();
    t.prober.setDown(DSL_SRC);
    await t.clock.advance(3000);
    assert.equal(t.daemon.activeLink, 'lte');
    t.prober.setDown(DSL_SRC, false);
    await t.clock.advance(2000);
    assert.equal(t.daemon.activeLink, 'lte', 'two good rounds are not enough');
    await t.clock.advance(1000);
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.equal(t.kernel.render(), DSL_ACTIVE);
    assert.equal(t.switches().length, 3);
    assert.equal(t.switches()[2], 'notice: switch: default route lte (ppp0) -> dsl (eth1 via 198.18.1.1): dsl is up and preferred (weight 1 < 2)');
  });

  it('all links down keeps the current default route and keeps probing every link', async () => {
    const t = await started();
    t.prober.setDown(DSL_SRC);
    await t.clock.advance(3000);
    t.prober.setDown(LTE_SRC);
    await t.clock.advance(3000);
    assert.equal(t.daemon.healthOf('lte')?.state, 'down');
    assert.equal(t.daemon.activeLink, 'lte');
    assert.equal(t.kernel.render(), LTE_ACTIVE, 'the default route stays');
    assert.ok(t.log.lines.includes('error: every link is down; keeping the default route on lte and probing on'), t.log.lines.join('\n'));
    const before = [t.prober.callsFrom(DSL_SRC), t.prober.callsFrom(LTE_SRC)];
    t.kernel.clearLog();
    await t.clock.advance(30_000);
    assert.deepEqual([t.prober.callsFrom(DSL_SRC) - before[0], t.prober.callsFrom(LTE_SRC) - before[1]], [60, 60]);
    assert.deepEqual(t.kernel.mutations, []);
    assert.equal(t.kernel.render(), LTE_ACTIVE);
    assert.equal(t.switches().length, 2);
    // The better link comes back first: fail-back to it.
    t.prober.setDown(DSL_SRC, false);
    await t.clock.advance(3000);
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.equal(t.kernel.render(), DSL_ACTIVE);
  });

  it('a missing ping binary is a failure, logged once, never health', async () => {
    const t = await started();
    t.prober.error = 'ping: command not found';
    await t.clock.advance(5000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'down');
    assert.equal(t.daemon.healthOf('lte')?.state, 'down');
    const errs = t.log.lines.filter((l) => l.includes('cannot probe: ping: command not found'));
    assert.deepEqual(errs, [
      'error: probe dsl: cannot probe: ping: command not found; counting it as a failure',
      'error: probe lte: cannot probe: ping: command not found; counting it as a failure',
    ]);
  });
});

describe('daemon: damping', () => {
  it('a link failing again and again is held back, says so in the log and status, and is trusted again once the penalty decays', async () => {
    const t = await started();
    // CONFIG probes every second, down 3 / up 3: one flap of dsl takes about 6 s.
    const flap = async () => {
      t.prober.setDown(DSL_SRC);
      await t.clock.advance(4000);
      t.prober.setDown(DSL_SRC, false);
      await t.clock.advance(4000);
    };
    await flap();
    await flap();
    assert.equal(t.daemon.activeLink, 'dsl', 'two failures close together are forgiven');
    await flap();
    assert.equal(t.daemon.healthOf('dsl')?.state, 'up');
    assert.equal(t.daemon.activeLink, 'lte', 'the third is not: dsl answers but is held back');
    const held = t.log.lines.filter((l) => / answers again but is held back/.test(l));
    assert.equal(held.length, 1);
    assert.match(held[0], /^notice: dsl answers again but is held back \d+ s: 3 failures in 10 min$/);
    assert.match(t.lastDoc().links[0].held ?? '', /^held back \d+ s: 3 failures in 10 min$/);
    const switches = t.switches().length;
    await t.clock.advance(60_000);
    assert.equal(t.daemon.activeLink, 'dsl', 'trusted again once the penalty decayed below reuse');
    assert.equal(t.switches().length, switches + 1);
    assert.ok(t.log.lines.some((l) => l === 'notice: dsl is trusted again: its damping penalty decayed'));
    assert.equal(t.lastDoc().links[0].held, null);
  });

  it('penalty 0 turns it off: every return takes the route back at once', async () => {
    const t = await started({ config: { ...structuredClone(CONFIG), damping: { penalty: 0, halfLifeMs: 60_000, reuse: 2000, maxHoldMs: 600_000 } } });
    for (let i = 0; i < 4; i++) {
      t.prober.setDown(DSL_SRC);
      await t.clock.advance(4000);
      assert.equal(t.daemon.activeLink, 'lte');
      t.prober.setDown(DSL_SRC, false);
      await t.clock.advance(4000);
      assert.equal(t.daemon.activeLink, 'dsl');
    }
  });
});

describe('daemon: two links that write the same route', () => {
  it('two addresses on one interface (the original haip\'s demo): the switch is confirmed by the same route and announced', async () => {
    // The original's command line: without a gateway it means `default dev eth1` (haip.yaml would need one).
    const { legacyConfig } = await import('../../src/config/legacy');
    const legacy = legacyConfig({ routes: ['1/203.0.113.1/eth1/198.18.100.1', '2/203.0.113.1/eth1/198.18.100.2'] });
    const config = { ...legacy, links: legacy.links.map((l, i) => ({ ...l, name: 'ab'[i] })) };
    const kernel = new FakeKernel().addInterface('eth1', [
      { address: '198.18.100.1', prefixlen: 32 },
      { address: '198.18.100.2', prefixlen: 32 },
    ]);
    const t = await started({ config, kernel });
    assert.equal(t.daemon.activeLink, 'a');
    t.prober.setDown('198.18.100.1');
    await t.clock.advance(4000);
    assert.equal(t.daemon.activeLink, 'b');
    assert.match(t.switches().pop() ?? '', /switch: default route a \(eth1\) -> b \(eth1\): a is down/);
  });
});

describe('daemon: the kernel changes under it', () => {
  it('interface removal (ip monitor event): down at once without probes, the route moves', async () => {
    const t = await started();
    await t.clock.advance(400); // between rounds
    const calls = t.prober.callsFrom(DSL_SRC);
    t.kernel.removeInterface('eth1');
    t.events.fire('Deleted 3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP>');
    await t.clock.advance(50);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'down');
    assert.equal(t.daemon.healthOf('dsl')?.reason, 'interface eth1 does not exist');
    assert.equal(t.daemon.activeLink, 'lte');
    assert.equal(t.kernel.render(), STATES['lte only'].golden);
    assert.equal(t.prober.callsFrom(DSL_SRC), calls, 'no probe was needed');
    assert.match(t.switches()[1], /^warning: switch: default route dsl \(eth1 via 198\.18\.1\.1\) -> lte \(ppp0\): dsl is down \(interface eth1 does not exist\); lte is the best link that is up$/);
    // While it is gone, it is not probed from an address it no longer has.
    await t.clock.advance(10_000);
    assert.equal(t.prober.callsFrom(DSL_SRC), calls);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'down');
  });

  it('a burst of events is debounced into one reconcile', async () => {
    const t = await started();
    t.kernel.clearLog();
    for (let i = 0; i < 20; i++) t.events.fire(`event ${i}`);
    await t.clock.advance(100);
    assert.equal(t.kernel.log.filter((a) => a.join(' ') === '-4 -j -N rule show').length, 1);
  });

  it('interface removal found by sync() alone, and its return decided by the first round', async () => {
    const t = await started();
    t.kernel.removeInterface('eth1');
    await t.daemon.sync('request');
    assert.equal(t.daemon.healthOf('dsl')?.state, 'down');
    assert.equal(t.daemon.activeLink, 'lte');
    assert.equal(t.kernel.render(), STATES['lte only'].golden);
    t.kernel.addInterface('eth1', [ETH1]);
    await t.daemon.sync('request');
    assert.equal(t.daemon.healthOf('dsl')?.state, 'unknown');
    await t.clock.advance(1000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'up');
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.equal(t.kernel.render(), DSL_ACTIVE);
  });

  it('carrier loss: down at once; carrier back on the same address needs `up` good rounds', async () => {
    const t = await started();
    t.kernel.setCarrier('eth1', false);
    t.events.fire('eth1 NO-CARRIER');
    await t.clock.advance(50);
    assert.equal(t.daemon.healthOf('dsl')?.reason, 'eth1 has no carrier or is down');
    assert.equal(t.kernel.render(), STATES['eth1 lost carrier, lte active'].golden);
    t.kernel.setCarrier('eth1', true);
    t.events.fire('eth1 LOWER_UP');
    await t.clock.advance(2000);
    assert.equal(t.daemon.activeLink, 'lte');
    await t.clock.advance(1000);
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.equal(t.kernel.render(), DSL_ACTIVE);
  });

  it('ppp0 redials with a new address: the source rule and probes follow it', async () => {
    const t = await started();
    const next = { address: '198.18.9.7', prefixlen: 32, peer: '198.18.9.1' };
    t.kernel.setAddress('ppp0', next);
    t.events.fire('ppp0 address');
    await t.clock.advance(1000);
    assert.ok(t.kernel.render().includes('10020: from 198.18.9.7 lookup 102 proto 72\n'));
    assert.ok(!t.kernel.render().includes('198.18.9.2'));
    assert.ok(t.prober.callsFrom('198.18.9.7') > 0);
  });

  it('an `ip` failure on route replace is logged with argv and stderr, retried later, never thrown', async () => {
    const t = setup();
    const argv = ['-4', 'route', 'replace', 'default', 'via', '198.18.1.1', 'dev', 'eth1', 'proto', '72', 'table', '254'];
    t.kernel.failNext(argv, 2, 'RTNETLINK answers: Network is unreachable', Infinity);
    await t.daemon.start();
    await t.clock.advance(0);
    await t.clock.advance(2500);
    const errors = t.log.lines.filter((l) => l.startsWith('error: ') && !l.includes('refused'));
    assert.ok(errors.length >= 2, `retried: ${errors.join('\n')}`);
    for (const e of errors) assert.match(e, /^error: \w+: ip -4 route replace default via 198\.18\.1\.1 dev eth1 proto 72 table 254: exit 2: RTNETLINK answers: Network is unreachable; will retry$/);
    assert.ok(!t.kernel.render().includes('default via 198.18.1.1 dev eth1 proto 72\n'));
    // Never without a default route while a link is usable: lte carries it while dsl's is refused.
    assert.equal(t.daemon.activeLink, 'lte');
    assert.ok(t.kernel.render().includes('default dev ppp0 proto 72'), t.kernel.render());
    assert.equal(t.log.lines.filter((l) => l.includes('refused')).length, 1, 'the refusal is told once, not per retry');
    assert.match(t.lastDoc().problems?.[0] ?? '', /switch to dsl refused: RTNETLINK answers: Network is unreachable; lte carries the route meanwhile; retrying/);
    assert.equal(t.lastDoc().links.find((l) => l.name === 'dsl')?.route_refused, 'RTNETLINK answers: Network is unreachable');
    assert.deepEqual(t.switches(), ['notice: switch: default route none -> lte (ppp0): the kernel refuses dsl\'s route (RTNETLINK answers: Network is unreachable); lte is the best link that is up (weight 2)']);
    // Retries back off (1 s, 2 s, 4 s ... 30 s): a lasting failure is not logged every second.
    const before = errors.length;
    await t.clock.advance(60_000);
    const later = t.log.lines.filter((l) => l.startsWith('error: ')).length - before;
    assert.ok(later >= 2 && later <= 6, `${later} retries in a minute`);
    t.kernel.clearFailures();
    await t.clock.advance(30_000);
    assert.equal(t.kernel.render(), DSL_ACTIVE);
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.equal(t.notifier.count('READY'), 1);
  });

  it('a link whose own table refuses its default route is down and unprobed (bound probes would leave on-link), until the kernel takes it', async () => {
    const t = setup();
    t.kernel.failNext(['-4', 'route', 'replace', 'default', 'via', '198.18.1.1', 'dev', 'eth1', 'proto', '72', 'table', '101'], 2, 'Error: Nexthop has invalid gateway.', Infinity);
    await t.daemon.start();
    await t.clock.advance(0);
    await t.clock.advance(5000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'down');
    assert.match(t.daemon.healthOf('dsl')?.reason ?? '', /its route cannot be installed in table 101: Error: Nexthop has invalid gateway/);
    assert.equal(t.prober.callsFrom(DSL_SRC), 0, 'no probe through a table without a route');
    assert.equal(t.daemon.activeLink, 'lte', 'the next link carries the default route');
    assert.equal(t.log.lines.filter((l) => l.includes('refuses the default route in table 101')).length, 1);
    const tableRefusal = t.log.lines.find((l) => l.includes('refuses the default route in table 101'))!;
    assert.equal(t.log.fields.get(tableRefusal)?.MESSAGE_ID, NOTICE_IDS['route-refused'], 'journalctl -x explains it');
    t.kernel.clearFailures();
    await t.clock.advance(40_000);
    assert.ok(t.prober.callsFrom(DSL_SRC) > 0);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'up');
    assert.equal(t.daemon.activeLink, 'dsl');
  });

  it('a switch the kernel refuses is never announced: log, hooks, STATUS= and status.json keep the link it routes by', async () => {
    const t = await started();
    assert.equal(t.daemon.activeLink, 'dsl');
    const hooksBefore = t.hookEvents.length;
    const switchesBefore = t.switches().length;
    t.kernel.failNext(['-4', 'route', 'replace', 'default', 'dev', 'ppp0'], 2, 'Error: Nexthop has invalid gateway.', Infinity);
    t.prober.setDown(DSL_SRC);
    await t.clock.advance(3000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'down');
    await t.clock.advance(10_000);
    assert.equal(t.daemon.activeLink, 'dsl', 'the kernel still routes by dsl');
    assert.equal(t.switches().length, switchesBefore, t.switches().join('\n'));
    assert.ok(!t.hookEvents.slice(hooksBefore).some((e) => e.event === 'switch'));
    assert.equal(t.lastDoc().active, 'dsl');
    assert.match(t.lastDoc().problems?.[0] ?? '', /switch to lte refused: Error: Nexthop has invalid gateway/);
    for (const m of t.notifier.messages) if (m.STATUS) assert.doesNotMatch(m.STATUS, /active: lte/);
    const refusals = t.log.lines.filter((l) => l.includes('switch to lte refused'));
    assert.deepEqual(refusals, ['error: switch to lte refused: Error: Nexthop has invalid gateway.; the default route stays on dsl; will retry']);
    assert.equal(t.log.fields.get(refusals[0])?.MESSAGE_ID, NOTICE_IDS['route-refused']);
    // Once the kernel takes it, the switch is announced, then the hook runs.
    t.kernel.clearFailures();
    await t.clock.advance(30_000);
    assert.equal(t.daemon.activeLink, 'lte');
    assert.equal(t.kernel.render(), LTE_ACTIVE.replace('default via 198.18.1.1 dev eth1 table 101 proto 72\n198.18.1.0/24 dev eth1 table 101 proto 72 scope link src 198.18.1.2\n', 'default via 198.18.1.1 dev eth1 table 101 proto 72\n198.18.1.0/24 dev eth1 table 101 proto 72 scope link src 198.18.1.2\n'));
    assert.equal(t.switches().length, switchesBefore + 1);
    assert.deepEqual(t.lastDoc().problems, []);
    assert.equal(t.hookEvents.filter((e) => e.event === 'switch').pop()?.link, 'lte');
  });

  it('a failing read of the kernel state is logged and retried', async () => {
    const t = await started();
    t.kernel.failNext(['-4', '-j', '-N', 'rule', 'show'], 1, 'Error: something broke', 3);
    t.kernel.removeInterface('eth1');
    await t.daemon.sync('request');
    assert.ok(t.log.lines.some((l) => l.startsWith("error: reading the kernel's state (request):")), t.log.lines.join('\n'));
    await t.clock.advance(5000);
    assert.equal(t.kernel.render(), STATES['lte only'].golden);
  });

  it('a rule deleted by someone else is put back, with a warning saying what', async () => {
    const t = await started();
    const del = await t.kernel.run(['-4', 'rule', 'del', 'priority', '10010']);
    assert.equal(del.code, 0);
    t.events.fire('Deleted 10010: from 198.18.1.2 lookup 101 proto 72');
    await t.clock.advance(50);
    assert.equal(t.kernel.render(), DSL_ACTIVE);
    assert.ok(t.log.lines.includes('warning: changed outside haip, putting back: missing rule priority 10010 from 198.18.1.2 lookup 101 proto 72'), t.log.lines.join('\n'));
  });

  it('a foreign default prepended again and again is removed each time and warned about once per burst; another change gets its own warning', async () => {
    const t = await started();
    for (let i = 0; i < 5; i++) {
      t.kernel.addRawRoute({ dst: 'default', dev: 'ppp0', protocol: 4 }, { prepend: true });
      t.events.fire('default dev ppp0 proto static');
      await t.clock.advance(1000);
      assert.equal(t.kernel.render(), DSL_ACTIVE, `round ${i}`);
    }
    const warned = t.log.lines.filter((l) => l.startsWith('warning: changed outside haip'));
    assert.deepEqual(warned, ["warning: changed outside haip, putting back: a default route that would win over haip's: deleted default dev ppp0 scope link proto 4 table main"]);
    assert.equal(t.log.lines.filter((l) => /changed outside haip again \(\d more in this burst\)/.test(l)).length, 4);
    await t.kernel.run(['-4', 'rule', 'del', 'priority', '10010']);
    t.events.fire('Deleted 10010');
    await t.clock.advance(1000);
    assert.equal(t.log.lines.filter((l) => l.startsWith('warning: changed outside haip')).length, 2);
    // After a quiet minute, the next burst is warned about again, with the count of the last one.
    await t.clock.advance(61_000);
    t.kernel.addRawRoute({ dst: 'default', dev: 'ppp0', protocol: 4 }, { prepend: true });
    t.events.fire('default dev ppp0 proto static');
    await t.clock.advance(1000);
    assert.match(t.log.lines.filter((l) => l.startsWith('warning: changed outside haip')).pop() ?? '', /\(its previous burst was put back 5 times\)$/);
  });

  it('a default route replaced by dhclient is taken back', async () => {
    const t = await started();
    await t.kernel.run(['-4', 'route', 'replace', 'default', 'via', '198.18.1.1', 'dev', 'eth1', 'proto', '16']);
    t.events.fire('default via 198.18.1.1 dev eth1 proto dhcp');
    await t.clock.advance(50);
    assert.equal(t.kernel.render(), DSL_ACTIVE);
    assert.ok(t.log.lines.some((l) => l.startsWith('warning: changed outside haip, putting back: default via 198.18.1.1 dev eth1 proto 16 table main')));
  });

  it('a periodic check finds drift even without an event', async () => {
    const t = await started();
    await t.kernel.run(['-4', 'rule', 'del', 'priority', '10020']);
    await t.clock.advance(31_000);
    assert.equal(t.kernel.render(), DSL_ACTIVE);
  });
});

describe('daemon: watchdog', () => {
  it('WATCHDOG=1 while rounds complete, none once the prober hangs', async () => {
    const t = await started({ watchdogMs: 500 });
    await t.clock.advance(5000);
    const fed = t.notifier.count('WATCHDOG');
    assert.ok(fed >= 10 && fed <= 12, `fed ${fed} times in 5 s`);
    t.prober.hang = true;
    // The last round completed at 5 s; with 1 s interval and 1 s timeout it is stale after 6 s more.
    await t.clock.advance(5000);
    const stillFed = t.notifier.count('WATCHDOG');
    assert.ok(stillFed >= fed + 9, 'a slow round is not yet a hang');
    await t.clock.advance(2000);
    const atStale = t.notifier.count('WATCHDOG');
    await t.clock.advance(20_000);
    assert.equal(t.notifier.count('WATCHDOG'), atStale, 'not fed while the loop is stuck');
    const stale = t.log.lines.find((l) => /^error: no probe round completed for \d+ ms; not feeding the watchdog$/.test(l));
    assert.equal(stale && t.log.fields.get(stale)?.MESSAGE_ID, NOTICE_IDS.stale);
  });

  it('a hung `ip` (a pass that never ends) stops the watchdog after 20 s; status shows it meanwhile', async () => {
    const t = await started({ watchdogMs: 500 });
    await t.clock.advance(2000);
    t.kernel.hang(['-4', '-j', '-N', 'rule', 'show']);
    t.prober.setDown(DSL_SRC);
    await t.clock.advance(3000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'down');
    assert.equal(t.daemon.activeLink, 'dsl', 'the kernel was never changed, so nothing says lte');
    await t.clock.advance(8000);
    assert.match(t.lastDoc().problems?.join('\n') ?? '', /a reconcile pass has been waiting for ip for \d+ s/);
    const fedAt15 = t.notifier.count('WATCHDOG');
    await t.clock.advance(5000);
    assert.ok(t.notifier.count('WATCHDOG') > fedAt15, 'a slow pass is not yet a hang');
    await t.clock.advance(9000);
    const atLimit = t.notifier.count('WATCHDOG');
    await t.clock.advance(10_000);
    assert.equal(t.notifier.count('WATCHDOG'), atLimit, 'not fed while the reconcile is hung');
    const hung = t.log.lines.find((l) => /^error: a reconcile pass has been waiting for ip for \d+ s; not feeding the watchdog$/.test(l));
    assert.equal(hung && t.log.fields.get(hung)?.MESSAGE_ID, NOTICE_IDS.stale);
  });

  it(
    'a probe that never settles on one link counts as a failure (or stops the watchdog), not as health frozen at up',
    async () => {
      const t = await started({ watchdogMs: 500 });
      t.prober.setAnswer((target, source) => (source === LTE_SRC ? new Promise(() => {}) : { alive: true, rttMs: 5 }));
      await t.clock.advance(30_000);
      const fedLately = t.notifier.messages.slice(-10).some((m) => 'WATCHDOG' in m);
      assert.ok(t.daemon.healthOf('lte')?.state === 'down' || !fedLately, `lte ${t.daemon.healthOf('lte')?.state}, watchdog still fed`);
    },
  );

  it('without watchdogMs nothing is sent', async () => {
    const t = await started();
    await t.clock.advance(10_000);
    assert.equal(t.notifier.count('WATCHDOG'), 0);
  });
});

describe('daemon: quality limits', () => {
  it('a slow preferred link is degraded: the route moves, log, status and hooks say why; it comes back well inside the limit', async () => {
    const config: Config = { ...CONFIG, links: CONFIG.links.map((l) => ({ ...l, probe: { ...l.probe, maxRttMs: 100, qualityWindowMs: 10_000 } })) };
    const t = await started({ config });
    const rtt = { [DSL_SRC]: 12.5, [LTE_SRC]: 12.5 };
    t.prober.setAnswer((_target, source) => ({ alive: true, rttMs: rtt[source] }));
    await t.clock.advance(10_000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'up');
    rtt[DSL_SRC] = 300;
    await t.clock.advance(4000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'up', 'the median is still fast');
    await t.clock.advance(3000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'degraded');
    assert.equal(t.daemon.activeLink, 'lte');
    assert.equal(t.kernel.render(), LTE_ACTIVE);
    // Half the window fast, half slow: the median is between the two.
    assert.ok(t.log.lines.includes('warning: link dsl (eth1): up -> degraded: median RTT 156 ms > max_rtt 100 ms over the last 10 s'), t.log.lines.join('\n'));
    assert.match(t.switches().at(-1)!, /^warning: switch: default route dsl .* -> lte \(ppp0\): dsl is degraded \(median RTT 156 ms > max_rtt 100 ms over the last 10 s\); lte is the best link that is up$/);
    const dsl = t.lastDoc().links.find((l) => l.name === 'dsl')!;
    assert.equal(dsl.state, 'degraded');
    assert.deepEqual({ ...dsl.quality, samples: 0, median_rtt_ms: 0 }, { samples: 0, loss_pct: 0, median_rtt_ms: 0, max_loss_pct: null, max_rtt_ms: 100, window_s: 10 });
    assert.ok(dsl.quality!.samples >= 20 && dsl.quality!.median_rtt_ms! > 100, JSON.stringify(dsl.quality));
    assert.deepEqual(t.hookEvents.slice(-2).map((e) => [e.event, e.link, e.state, e.previous]), [
      ['link-degraded', 'dsl', 'degraded', 'up'],
      ['switch', 'lte', 'up', 'dsl'],
    ]);
    // With the backup gone too, the degraded link is better than none.
    t.prober.setAnswer((_target, source) => (source === LTE_SRC ? { alive: false } : { alive: true, rttMs: rtt[source] }));
    await t.clock.advance(3000);
    assert.equal(t.daemon.healthOf('lte')?.state, 'down');
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.match(t.switches().at(-1)!, /no link is within its quality limits; dsl is degraded/);
    // 90 ms is inside max_rtt but not inside 80 % of it: still degraded.
    t.prober.setAnswer((_target, source) => (source === LTE_SRC ? { alive: false } : { alive: true, rttMs: 90 }));
    await t.clock.advance(12_000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'degraded');
    t.prober.setAnswer((_target, source) => (source === LTE_SRC ? { alive: false } : { alive: true, rttMs: 20 }));
    await t.clock.advance(12_000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'up');
    assert.ok(t.log.lines.some((l) => /^notice: link dsl \(eth1\): degraded -> up: back within quality limits: loss 0\.0%, median RTT [0-9.]+ ms over the last 10 s$/.test(l)));
    assert.deepEqual(t.hookEvents.at(-1)!.event, 'link-up');
  });

  it('an outage is not a quality problem: a link back from down starts with an empty window', async () => {
    const config: Config = { ...CONFIG, links: CONFIG.links.map((l) => ({ ...l, probe: { ...l.probe, maxLossPct: 20, qualityWindowMs: 60_000 } })) };
    const t = await started({ config });
    await t.clock.advance(20_000);
    t.prober.setDown(DSL_SRC);
    await t.clock.advance(10_000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'down');
    t.prober.setDown(DSL_SRC, false);
    await t.clock.advance(30_000);
    assert.equal(t.daemon.healthOf('dsl')?.state, 'up');
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.ok(!t.log.lines.some((l) => /degraded/.test(l)), t.log.lines.join('\n'));
  });
});

describe('daemon: reload and stop', () => {
  it('reload with the same config changes nothing and keeps every link\'s health and probing', async () => {
    const t = await started();
    t.prober.setDown(LTE_SRC);
    await t.clock.advance(3000);
    const lte = t.daemon.healthOf('lte');
    assert.equal(lte?.state, 'down');
    const calls = t.prober.calls.length;
    t.kernel.clearLog();
    await t.daemon.reload(structuredClone(CONFIG));
    await t.clock.advance(0);
    assert.equal(t.daemon.healthOf('lte'), lte);
    assert.equal(t.prober.calls.length, calls, 'no extra probe round');
    assert.deepEqual(t.kernel.mutations, []);
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.ok(t.log.lines.includes('notice: reloaded haip.yaml: 2 link(s); links unchanged'));
  });

  it('reload changing one link keeps the other link\'s health and probing', async () => {
    const t = await started();
    t.prober.setDown(LTE_SRC);
    await t.clock.advance(3000);
    const lte = t.daemon.healthOf('lte');
    const dsl = t.daemon.healthOf('dsl');
    const next = structuredClone(CONFIG);
    next.links[0].probe = { ...next.links[0].probe, targets: ['198.51.100.1'] };
    const lteCalls = t.prober.callsFrom(LTE_SRC);
    await t.daemon.reload(next);
    await t.clock.advance(0);
    assert.equal(t.daemon.healthOf('lte'), lte, 'unchanged link: same health');
    assert.equal(t.prober.callsFrom(LTE_SRC), lteCalls, 'unchanged link: no extra round');
    assert.notEqual(t.daemon.healthOf('dsl'), dsl, 'changed probing: a new start');
    assert.equal(t.daemon.healthOf('dsl')?.state, 'up');
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.deepEqual(t.prober.calls.slice(-1)[0], { target: '198.51.100.1', source: DSL_SRC, timeoutMs: 1000, device: 'eth1' });
    assert.equal(t.kernel.render(), DSL_ACTIVE);
  });

  it(
    'reload changing the active link\'s targets does not move the default route away and back',
    async () => {
      const t = await started();
      const next = structuredClone(CONFIG);
      next.links[0].probe = { ...next.links[0].probe, targets: ['198.51.100.1'] };
      t.kernel.clearLog();
      await t.daemon.reload(next);
      await t.clock.advance(0);
      assert.deepEqual(t.switches().slice(1), [], 'no switch for a reload');
      assert.deepEqual(t.kernel.mutations, [], 'the default route never left dsl');
    },
  );

  it('reload changing a weight keeps health and moves the default route', async () => {
    const t = await started();
    const dsl = t.daemon.healthOf('dsl');
    const next = structuredClone(CONFIG);
    next.links[1].weight = 0.5;
    await t.daemon.reload(next);
    await t.clock.advance(0);
    assert.equal(t.daemon.healthOf('dsl'), dsl);
    assert.equal(t.daemon.activeLink, 'lte');
    assert.equal(t.kernel.render(), LTE_ACTIVE);
  });

  it('reload removing the active link moves the route and removes its plumbing', async () => {
    const t = await started();
    const next = structuredClone(CONFIG);
    next.links = [next.links[1]];
    await t.daemon.reload(next);
    await t.clock.advance(0);
    assert.equal(t.daemon.activeLink, 'lte');
    const r = t.kernel.render();
    assert.ok(!r.includes('table 101'), r);
    assert.ok(!r.includes('from 198.18.1.2'), r);
    assert.ok(r.includes('default dev ppp0 proto 72 scope link\n'));
    assert.ok(r.includes('5001: from all fwmark 0x1 lookup 101 proto 72\n'), 'config rules stay as configured');
    const calls = t.prober.callsFrom(DSL_SRC);
    await t.clock.advance(5000);
    assert.equal(t.prober.callsFrom(DSL_SRC), calls, 'the removed link is no longer probed');
  });

  it('stop sends STOPPING=1, leaves the default route, and stops probing and events', async () => {
    const t = await started();
    t.prober.setDown(DSL_SRC);
    await t.clock.advance(3000);
    const before = t.kernel.render();
    assert.equal(before, LTE_ACTIVE);
    t.kernel.clearLog();
    await t.daemon.stop();
    assert.deepEqual(t.notifier.messages[t.notifier.messages.length - 1], { STOPPING: '1' });
    assert.equal(t.kernel.render(), before);
    assert.deepEqual(t.kernel.mutations, []);
    assert.equal(t.prober.closed, true);
    assert.equal(t.events.stopped, 1);
    assert.ok(t.log.lines.includes('notice: stopping; the default route stays on lte'));
    const calls = t.prober.calls.length;
    await t.clock.advance(60_000);
    assert.equal(t.prober.calls.length, calls);
    assert.deepEqual(t.kernel.mutations, []);
    assert.equal(t.notifier.count('STOPPING'), 1);
    await t.daemon.stop();
    assert.equal(t.notifier.count('STOPPING'), 1, 'a second stop is a no-op');
  });

  it('stop survives a part that throws', async () => {
    const t = await started();
    t.events.stop = () => {
      throw new Error('ip monitor already gone');
    };
    await t.daemon.stop();
    assert.ok(t.log.lines.includes('error: stopping link events: ip monitor already gone'));
    assert.equal(t.prober.closed, true);
  });
});

describe('daemon: probes really leave through their own link', () => {
  /** Answers a probe only when the fake kernel routes it out of an interface whose upstream works. */
  function realisticProber(t: ReturnType<typeof setup>, upstreamDown: Set<string>) {
    const egress: { source: string; dev: string | undefined }[] = [];
    t.prober.setAnswer((target, source, device) => {
      const r = t.kernel.routeGet(target, source, device);
      egress.push({ source, dev: r?.dev });
      return r && !upstreamDown.has(r.dev) ? { alive: true, rttMs: 10 } : { alive: false };
    });
    return egress;
  }

  it('with tables: each link is probed through its own interface, so silent loss upstream of eth1 fails over', async () => {
    const t = setup();
    const upstreamDown = new Set<string>();
    const egress = realisticProber(t, upstreamDown);
    await t.daemon.start();
    await t.clock.advance(5000);
    assert.deepEqual([...new Set(egress.map((e) => `${e.source} -> ${e.dev}`))].sort(), ['198.18.1.2 -> eth1', '198.18.9.2 -> ppp0']);
    upstreamDown.add('eth1');
    await t.clock.advance(5000);
    assert.equal(t.daemon.activeLink, 'lte');
    assert.equal(t.kernel.render(), LTE_ACTIVE);
  });

  it(
    'legacy --route mode (no tables): the backup link is probed through itself too, so it can take over',
    async () => {
      const { legacyConfig } = await import('../../src/config/legacy');
      const config = legacyConfig({ routes: ['1/203.0.113.1/eth1:198.18.1.1', '2/203.0.113.1/ppp0'] });
      const t = setup({ config });
      // As on a real host: ifupdown or dhclient installed a default route before haip started.
      t.kernel.addRawRoute({ dst: 'default', gateway: '198.18.1.1', dev: 'eth1', protocol: 3 });
      const upstreamDown = new Set<string>();
      const egress = realisticProber(t, upstreamDown);
      await t.daemon.start();
      await t.clock.advance(5000);
      assert.equal(t.daemon.activeLink, 'eth1');
      upstreamDown.add('eth1');
      await t.clock.advance(60_000);
      assert.equal(t.daemon.activeLink, 'ppp0', 'ppp0 works and should carry the default route');
      assert.equal(t.switches().length, 2, `one failover, no flapping:\n${t.switches().join('\n')}`);
      assert.deepEqual([...new Set(egress.map((e) => `${e.source} -> ${e.dev}`))].sort(), ['198.18.1.2 -> eth1', '198.18.9.2 -> ppp0']);
    },
  );
});

describe('daemon: more of the world', () => {
  it('a restart over its own previous state changes nothing in the kernel', async () => {
    const first = await started();
    await first.daemon.stop();
    const kernel = first.kernel;
    kernel.clearLog();
    const t = await started({ kernel });
    await t.clock.advance(5000);
    assert.deepEqual(kernel.mutations, []);
    assert.equal(kernel.render(), DSL_ACTIVE);
    assert.equal(t.daemon.activeLink, 'dsl');
  });

  it('a link whose interface does not exist yet: READY after the others, and it joins when it appears', async () => {
    const kernel = new FakeKernel().addInterface('eth1', [ETH1]);
    const t = await started({ kernel });
    assert.equal(t.notifier.count('READY'), 1);
    assert.match(t.notifier.with('READY')[0].STATUS, /^active: dsl \(eth1 via 198\.18\.1\.1\); dsl up [\d.]+ms, lte down$/);
    assert.equal(t.daemon.healthOf('lte')?.reason, 'interface ppp0 does not exist');
    assert.equal(t.prober.callsFrom(LTE_SRC), 0);
    assert.equal(t.kernel.render(), STATES['dsl only'].golden);
    // No warning for a link that was never there: the state at start is not a change.
    assert.ok(!t.log.lines.some((l) => l.startsWith('warning: lte:')), t.log.lines.join('\n'));
    kernel.addInterface('ppp0', [PPP0]);
    t.events.fire('ppp0 up');
    await t.clock.advance(1100);
    assert.equal(t.daemon.healthOf('lte')?.state, 'up');
    assert.equal(t.kernel.render(), DSL_ACTIVE);
  });

  it('the active link losing its address (DHCP lease gone): down at once, route moves', async () => {
    const t = await started();
    t.kernel.setAddress('eth1', null);
    t.events.fire('Deleted eth1 inet 198.18.1.2/24');
    await t.clock.advance(50);
    assert.equal(t.daemon.healthOf('dsl')?.reason, 'eth1 has no IPv4 address');
    assert.equal(t.daemon.activeLink, 'lte');
    // eth1 is still there but holds nothing: the same kernel state as with ppp0 alone.
    assert.equal(t.kernel.render(), STATES['lte only'].golden);
  });

  it('stop does not wait for ever on a hung `ip`', async () => {
    const t = await started();
    let hang = false;
    const run = t.kernel.run.bind(t.kernel);
    t.kernel.run = (argv: string[]) => (hang ? new Promise(() => {}) : run(argv));
    hang = true;
    void t.daemon.sync('request');
    let done = false;
    const stopping = t.daemon.stop().then(() => (done = true));
    await t.clock.advance(100);
    assert.equal(done, false, 'waits a little for the reconcile in flight');
    await t.clock.advance(500);
    await stopping;
    assert.equal(done, true);
    assert.equal(t.notifier.count('STOPPING'), 1);
  });

  it('status document: the active link, per-link state, RTT and loss', async () => {
    const t = await started();
    t.prober.setTargetDown('203.0.113.2', true);
    await t.clock.advance(4000);
    const doc = t.daemon.statusDoc();
    assert.equal(doc.active, 'dsl');
    const dsl = doc.links[0];
    assert.equal(dsl.name, 'dsl');
    assert.equal(dsl.state, 'up');
    assert.equal(dsl.rtt_ms, 12.5);
    assert.equal(dsl.source, DSL_SRC);
    assert.equal(dsl.table, 101);
    assert.deepEqual(dsl.targets, [
      { address: '203.0.113.1', rtt_ms: 12.5, loss: 0, failure: null },
      { address: '203.0.113.2', rtt_ms: null, loss: 0.8, failure: 'no answer' },
    ]);
    assert.equal(dsl.loss, 0.4);
    assert.equal(t.lastDoc().active, 'dsl');
  });
});

describe('daemon: links in the field', () => {
  const DHCP_YAML = `probe: { targets: [203.0.113.1] }
tables: { T1: 101, T2: 102 }
links:
  - { name: cable, interface: eth1, weight: 1, table: T1 }
  - { name: lte, interface: ppp0, weight: 2, table: T2 }
`;
  const dhcp = () => parseConfigText(DHCP_YAML, 'dhcp.yaml');
  /** The rules that lead into table n, and its routes. */
  const table = (k: FakeKernel, n: number) => k.render().split('\n').filter((l) => new RegExp(` (table|lookup) ${n} `).test(l));

  it('a gateway omitted in the config is learned from the DHCP client\'s route, and followed through a renumbering', async () => {
    const kernel = new FakeKernel().addInterface('eth1', [ETH1]).addInterface('ppp0', [PPP0]);
    // dhcpcd: main, metric 200 + ifindex, proto dhcp.
    kernel.addRawRoute({ dst: 'default', gateway: '198.18.1.1', dev: 'eth1', protocol: 16, metric: 202 });
    const t = await started({ config: dhcp(), kernel });
    assert.equal(t.daemon.activeLink, 'cable');
    assert.match(t.kernel.render(), /^default via 198\.18\.1\.1 dev eth1 proto 72$/m);
    assert.match(t.kernel.render(), /^default via 198\.18\.1\.1 dev eth1 proto dhcp metric 202$/m, 'the client\'s route stays where it is');
    assert.ok(t.log.lines.includes('notice: cable: gateway 198.18.1.1, learned from default via 198.18.1.1 dev eth1 proto 16 metric 202 table main'), t.log.lines.join('\n'));
    assert.equal(t.lastDoc().links[0].gateway, '198.18.1.1');
    // The ISP renumbers: new address, new subnet, new gateway; the client replaces its route.
    t.kernel.setAddress('eth1', { address: '198.18.11.2', prefixlen: 24 });
    t.kernel.removeRawRoute((r) => r.dev === 'eth1' && r.protocol === 16);
    t.kernel.addRawRoute({ dst: 'default', gateway: '198.18.11.1', dev: 'eth1', protocol: 16, metric: 202 });
    t.events.fire('eth1 renewed');
    await t.clock.advance(50);
    assert.deepEqual(table(t.kernel, 101), [
      '10005: from all oif eth1 lookup 101 proto 72',
      '10010: from 198.18.11.2 lookup 101 proto 72',
      '11010: from all fwmark 0x1/0xff lookup 101 proto 72',
      'default via 198.18.11.1 dev eth1 table 101 proto 72',
      'unreachable default table 101 proto 72 metric 4294967295',
      '198.18.11.0/24 dev eth1 table 101 proto 72 scope link src 198.18.11.2',
    ]);
    assert.ok(t.log.lines.includes('notice: cable: gateway 198.18.1.1 -> 198.18.11.1, learned from default via 198.18.11.1 dev eth1 proto 16 metric 202 table main'));
    // A new address has no history: its first round decides, and the route comes back to it.
    await t.clock.advance(1100);
    assert.equal(t.daemon.activeLink, 'cable');
    assert.match(t.kernel.render(), /^default via 198\.18\.11\.1 dev eth1 proto 72$/m);
  });

  it('a broadcast link whose gateway nobody knows is unusable, with the reason in the log and status', async () => {
    const t = await started({ config: dhcp() });
    const why = 'gateway of eth1 unknown: no default route through it in any table (none from a DHCP client) and no gateway in the config';
    assert.equal(t.daemon.healthOf('cable')?.reason, why);
    assert.equal(t.lastDoc().links[0].reason, why);
    assert.ok(t.log.lines.includes(`warning: link cable (eth1): unknown -> down: ${why}`), t.log.lines.join('\n'));
    assert.doesNotMatch(t.kernel.render(), /dev eth1 .*proto 72|oif eth1/, 'never `default dev eth1` on a broadcast link');
    assert.equal(t.daemon.activeLink, 'lte', 'ppp0 is point-to-point: `default dev ppp0`');
    // The client gets a lease: the link joins, as carrier back does, after `up` (3) good rounds.
    t.kernel.addRawRoute({ dst: 'default', gateway: '198.18.1.1', dev: 'eth1', protocol: 16, metric: 202 });
    t.events.fire('route added');
    await t.clock.advance(1100);
    assert.equal(t.daemon.healthOf('cable')?.state, 'down', 'not on the first round');
    assert.match(t.daemon.healthOf('cable')!.reason, /^eth1 is usable again; down until 3 good probe rounds in a row$|good probe round/);
    await t.clock.advance(3000);
    assert.equal(t.daemon.activeLink, 'cable');
  });

  it('identical home routers: each link is probed through its own interface, and the other takes over', async () => {
    const same = { address: '198.18.100.100', prefixlen: 24 };
    const kernel = new FakeKernel().addInterface('eth1', [same]).addInterface('eth2', [same]);
    const config = parseConfigText(DHCP_YAML.replace('interface: ppp0', 'interface: eth2, gateway: 198.18.100.1').replace('table: T1 }', 'table: T1, gateway: 198.18.100.1 }'), 'same.yaml');
    const t = setup({ config, kernel });
    const upstreamDown = new Set<string>();
    const egress: string[] = [];
    t.prober.setAnswer((target, source, device) => {
      const r = t.kernel.routeGet(target, source, device);
      egress.push(`${device} -> ${r?.dev}`);
      return r && !upstreamDown.has(r.dev) ? { alive: true, rttMs: 10 } : { alive: false };
    });
    await t.daemon.start();
    await t.clock.advance(5000);
    assert.deepEqual([...new Set(egress)].sort(), ['eth1 -> eth1', 'eth2 -> eth2']);
    upstreamDown.add('eth1');
    await t.clock.advance(5000);
    assert.equal(t.daemon.healthOf('lte')?.state, 'up');
    assert.equal(t.daemon.activeLink, 'lte');
    assert.match(t.kernel.render(), /^default via 198\.18\.100\.1 dev eth2 proto 72$/m);
  });
});

// Runs last (node:test keeps file order): the daemon only ever ran argv the fake kernel understands.
describe('daemon: argv', () => {
  it('no test made the daemon run an `ip` command the fake kernel does not know', () => {
    assert.ok(kernels.length > 30);
    assert.deepEqual(kernels.flatMap((k) => k.unknown), []);
  });
});

describe('daemon: foreign routes in a link\'s table (issue 11)', () => {
  it('a foreign default route in T1 is never replaced, nor flushed by a reconcile; the conflict is logged once, naming it', async () => {
    const kernel = new FakeKernel().addInterface('eth1', [ETH1]).addInterface('ppp0', [PPP0]);
    kernel.addRawRoute({ table: 101, dst: 'default', dev: 'eth1', gateway: '198.18.1.9', protocol: 4 });
    const t = await started({ kernel });
    await t.clock.advance(5000);
    assert.match(t.kernel.render(), /default via 198\.18\.1\.9 dev eth1 table 101 proto 4|table 101.*198\.18\.1\.9|198\.18\.1\.9.*table 101/);
    // (The unreachable default closing T1 sits at another metric: it never overwrites the foreign one.)
    assert.ok(!t.kernel.log.some((argv) => argv.join(' ').includes('table 101') && argv.includes('replace') && argv.includes('default') && !argv.includes('unreachable')), t.kernel.log.map((a) => a.join(' ')).join('\n'));
    const errors = t.log.lines.filter((l) => /table 101 holds a route haip did not install/.test(l));
    assert.equal(errors.length, 1, t.log.lines.join('\n'));
    assert.match(errors[0], /default via 198\.18\.1\.9 dev eth1/);
  });
});

describe('daemon: detection by silence', () => {
  /**
   * A prober that sees every echo, like the streamed pings: `lastAnswer` says when a target last
   * answered; after the cut, dsl's rounds fail only when their timeout runs out, as a streamed round does.
   */
  function silentSetup() {
    const t = setup();
    let cutAt: number | undefined;
    const answering = new Set(['203.0.113.1', '203.0.113.2']);
    t.prober.lastAnswer = (target, source) => (source === DSL_SRC && cutAt !== undefined && !answering.has(target) ? cutAt : t.clock.now());
    t.prober.setAnswer((target, source) => {
      if (source !== DSL_SRC || cutAt === undefined || answering.has(target)) return { alive: true, rttMs: 12.5 };
      return new Promise((resolve) => t.clock.setTimeout(() => resolve({ alive: false, lost: 4 }), 1000));
    });
    const cut = (...targets: string[]) => {
      cutAt = t.clock.now();
      for (const x of targets) answering.delete(x);
    };
    return { ...t, cut };
  }

  it('a link silent for down x interval goes down then, ahead of its rounds, and only then is the switch announced', async () => {
    const t = silentSetup();
    await t.daemon.start();
    await t.clock.advance(10_000);
    assert.equal(t.daemon.activeLink, 'dsl');
    const hooksBefore = t.hookEvents.length;
    t.cut('203.0.113.1', '203.0.113.2');
    await t.clock.advance(2999);
    assert.equal(t.daemon.activeLink, 'dsl', 'not before the window is over');
    assert.ok(!t.log.lines.some((l) => /dsl \(eth1\): up -> down/.test(l)));
    await t.clock.advance(1);
    const down = t.log.lines.findIndex((l) => /link dsl \(eth1\): up -> down: no answer from any target for 3\.0 s/.test(l));
    assert.ok(down >= 0, t.log.lines.join('\n'));
    assert.equal(t.daemon.activeLink, 'lte');
    assert.equal(t.kernel.render(), LTE_ACTIVE);
    const sw = t.log.lines.findIndex((l) => / switch: default route dsl .* -> lte /.test(l));
    assert.ok(sw > down, 'the link state first, then the switch the kernel made');
    assert.deepEqual(
      t.hookEvents.slice(hooksBefore).map((e) => `${e.event} ${e.link} ${e.state}`),
      ['link-down dsl down', 'switch lte up'],
    );
  });

  it('one answering target keeps the link up (quorum 1): silence needs every target silent', async () => {
    const t = silentSetup();
    await t.daemon.start();
    await t.clock.advance(10_000);
    t.cut('203.0.113.2');
    await t.clock.advance(60_000);
    assert.equal(t.daemon.activeLink, 'dsl');
    assert.ok(!t.log.lines.some((l) => /up -> down/.test(l)), t.log.lines.join('\n'));
  });
});
