// The metrics file (state label, cadence, stop) and the health file keepalived tracks, on fakes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { Daemon } from '../../src/daemon';
import { HealthFile, healthValue } from '../../src/healthFile';
import { MetricsFile, renderMetrics, stoppedMetrics } from '../../src/metrics';
import { allSinks, FileWriter, StatusDoc } from '../../src/status';
import { nullNotifier } from '../../src/sys/notifier';
import { FakeClock, FakeKernel, FakeProber, memoryLog } from './fakes';
import { CONFIG, ETH1, PPP0, statusDoc } from './fixtures';

const link = (name: string, iface: string, state: 'up' | 'down' | 'unknown', rounds = 7) => ({
  name,
  interface: iface,
  state,
  since: '2026-01-01T00:00:00.000Z',
  reason: '',
  rtt_ms: state === 'up' ? 12.5 : null,
  loss: state === 'up' ? 0 : 1,
  weight: 1,
  table: 101,
  source: null,
  gateway: null,
  targets: [],
  recent_rtt_ms: [],
  rounds,
});

const doc = (over: Partial<StatusDoc> = {}): StatusDoc => statusDoc({ links: [link('dsl', 'eth1', 'up'), link('lte', 'ppp0', 'unknown')], ...over });

/** A MetricsFile on a fake clock that keeps what it writes. */
function metrics(intervalMs = 15_000, file: string | null = '/m/haip.prom') {
  const clock = new FakeClock();
  const writes: { at: number; text: string }[] = [];
  const errors: string[] = [];
  const m = new MetricsFile(() => ({ metricsFile: file ?? undefined, metricsIntervalMs: intervalMs }), clock, new FileWriter((e) => errors.push(e), (_p, text) => void writes.push({ at: clock.now(), text })));
  return { clock, writes, errors, m };
}

describe('metrics: the Prometheus text', () => {
  it('a state label tells unknown from down; haip_link_up stays for dashboards that use it', () => {
    const text = renderMetrics(doc({ links: [link('dsl', 'eth1', 'up'), link('lte', 'ppp0', 'unknown'), link('cable', 'eth2', 'down')] }));
    for (const want of [
      'haip_running 1',
      'haip_link_state{link="dsl",interface="eth1",family="4",state="up"} 1',
      'haip_link_state{link="dsl",interface="eth1",family="4",state="down"} 0',
      'haip_link_state{link="lte",interface="ppp0",family="4",state="unknown"} 1',
      'haip_link_state{link="lte",interface="ppp0",family="4",state="down"} 0',
      'haip_link_state{link="cable",interface="eth2",family="4",state="down"} 1',
      'haip_link_state{link="cable",interface="eth2",family="4",state="unknown"} 0',
      'haip_link_up{link="lte",interface="ppp0",family="4"} 0',
      'haip_link_up{link="cable",interface="eth2",family="4"} 0',
      'haip_link_active{link="dsl",interface="eth1",family="4"} 1',
      'haip_link_rtt_seconds{link="dsl",interface="eth1",family="4"} 0.0125',
      'haip_switches_total{family="4"} 1',
      '# TYPE haip_probe_rounds_total counter',
    ])
      assert.ok(text.split('\n').includes(want), `missing ${want} in\n${text}`);
    assert.doesNotMatch(text, /haip_link_rtt_seconds\{link="lte"/, 'no RTT without an answer');
  });

  it('lan6: each advertised /64 preferred or not, whether RAs go out, when the last did; a deprecation is written at once', async () => {
    const lan6 = (state: 'preferred' | 'deprecated', error: string | null = null) => ({
      interface: 'lan0',
      deprecate: true,
      prefixes: [
        { prefix: '2001:db8:1:100::/64', link: 'dsl', state, why: '' },
        { prefix: '2001:db8:2:100::/64', link: 'lte', state: 'preferred' as const, why: '' },
        { prefix: '2001:db8:1:101::/64', link: 'dsl', state: 'withdrawn' as const, why: '' },
      ],
      sent: '2026-01-01T00:00:10.000Z',
      error,
    });
    const text = renderMetrics(doc({ lan6: lan6('deprecated') }));
    for (const want of [
      'haip_lan6_prefix_preferred{interface="lan0",prefix="2001:db8:1:100::/64",link="dsl"} 0',
      'haip_lan6_prefix_preferred{interface="lan0",prefix="2001:db8:2:100::/64",link="lte"} 1',
      'haip_lan6_ra_failing{interface="lan0"} 0',
      'haip_lan6_ra_sent_timestamp_seconds{interface="lan0"} 1767225610',
    ])
      assert.ok(text.split('\n').includes(want), `missing ${want} in\n${text}`);
    assert.doesNotMatch(text, /2001:db8:1:101::/, 'a withdrawn /64 is no series');
    assert.match(renderMetrics(doc({ lan6: lan6('preferred', 'Network is down') })), /^haip_lan6_ra_failing\{interface="lan0"\} 1$/m);
    assert.doesNotMatch(renderMetrics(doc()), /haip_lan6/, 'nothing without lan6');
    const t = metrics();
    t.m.write(doc({ lan6: lan6('preferred') }));
    await t.clock.advance(1000);
    t.m.write(doc({ lan6: lan6('deprecated') }));
    assert.equal(t.writes.length, 2, 'a deprecation goes out at once');
  });

  it('label values are escaped', () => {
    assert.match(renderMetrics(doc({ links: [link('a"b\\c', 'eth1', 'up')] })), /link="a\\"b\\\\c"/);
  });

  it('once stopped, only haip_running 0 is left', () => {
    assert.equal(stoppedMetrics(), '# HELP haip_running 1 while haip runs; 0 once it has stopped (the link series are then gone).\n# TYPE haip_running gauge\nhaip_running 0\n');
  });
});

describe('metrics: when the file is written', () => {
  it('a change of state at once; new RTTs at most once per interval, the latest values at its end', async () => {
    const t = metrics();
    t.m.write(doc());
    assert.equal(t.writes.length, 1, 'the first document at once');
    for (let i = 1; i <= 14; i++) {
      await t.clock.advance(1000);
      t.m.write(doc({ links: [link('dsl', 'eth1', 'up', 7 + i), link('lte', 'ppp0', 'unknown', 7 + i)] }));
    }
    assert.equal(t.writes.length, 1, 'rounds within the interval wait');
    await t.clock.advance(1000);
    assert.equal(t.writes.length, 2);
    assert.equal(t.writes[1].at - t.writes[0].at, 15_000);
    assert.match(t.writes[1].text, /^haip_probe_rounds_total\{link="dsl",interface="eth1",family="4"\} 21$/m, 'the newest document waited');
    await t.clock.advance(60_000);
    assert.equal(t.writes.length, 2, 'nothing new, nothing written');
    // lte's first round: a change of state goes out at once, inside the interval.
    t.m.write(doc());
    await t.clock.advance(2000);
    t.m.write(doc({ links: [link('dsl', 'eth1', 'up'), link('lte', 'ppp0', 'down')] }));
    assert.equal(t.writes.length, 4);
    assert.match(t.writes[3].text, /state="down"\} 1$/m);
    t.m.write(doc({ active: 'lte', switches: 2, links: [link('dsl', 'eth1', 'down'), link('lte', 'ppp0', 'up')] }));
    assert.equal(t.writes.length, 5, 'a switch at once');
  });

  it('stop cancels the waiting write and leaves haip_running 0', async () => {
    const t = metrics();
    t.m.write(doc());
    await t.clock.advance(1000);
    t.m.write(doc({ updated: 'later' }));
    t.m.close();
    await t.clock.advance(60_000);
    assert.deepEqual(t.writes.map((w) => w.text.trim().split('\n').pop()), ['haip_switches_total{family="4"} 1', 'haip_running 0']);
  });

  it('without metrics_file nothing is written, also not at stop', async () => {
    const t = metrics(15_000, null);
    t.m.write(doc());
    t.m.close();
    assert.equal(t.writes.length, 0);
  });

  it('a write that fails is reported and the next one tried', () => {
    const clock = new FakeClock();
    const errors: string[] = [];
    let fail = true;
    const files = new FileWriter(
      (e) => errors.push(e),
      () => {
        if (fail) throw new Error('EROFS: read-only file system');
      },
    );
    const m = new MetricsFile(() => ({ metricsFile: '/ro/haip.prom', metricsIntervalMs: 15_000 }), clock, files);
    m.write(doc());
    m.write(doc({ active: null }));
    assert.deepEqual(files.failures(), ['/ro/haip.prom: EROFS: read-only file system'], 'status.json can tell');
    fail = false;
    m.write(doc({ active: 'lte' }));
    assert.deepEqual(errors, ['cannot write /ro/haip.prom: EROFS: read-only file system'], 'logged once per reason');
    assert.deepEqual(files.failures(), []);
  });

  it('an hour of a running daemon on fakes: about 240 writes instead of one a second', async () => {
    const kernel = new FakeKernel().addInterface('eth1', [ETH1]).addInterface('ppp0', [PPP0]);
    const clock = new FakeClock();
    const writes: number[] = [];
    let statusWrites = 0;
    const config = { ...CONFIG, metricsFile: '/m/haip.prom' };
    const mf = new MetricsFile(() => config, clock, new FileWriter(() => {}, () => void writes.push(clock.now())));
    const daemon = new Daemon(config, {
      ip: kernel,
      prober: new FakeProber(),
      clock,
      notifier: nullNotifier,
      log: memoryLog(),
      status: allSinks({ write: () => void statusWrites++ }, mf),
      watchdogMs: null,
    });
    await daemon.start();
    await clock.advance(3_600_000);
    await daemon.stop();
    // status.json (tmpfs) still follows every second; the metrics file every 15 s.
    assert.ok(statusWrites >= 3590, `status.json ${statusWrites}`);
    assert.ok(writes.length >= 240 && writes.length <= 245, `metrics ${writes.length}`);
  });
});

describe('health file for keepalived', () => {
  it('1 only while the active link is up', () => {
    assert.equal(healthValue(doc()), 1);
    assert.equal(healthValue(doc({ active: null, links: [link('dsl', 'eth1', 'unknown'), link('lte', 'ppp0', 'unknown')] })), 0, 'starting');
    assert.equal(healthValue(doc({ links: [link('dsl', 'eth1', 'down'), link('lte', 'ppp0', 'down')] })), 0, 'every link down, the route kept');
    const six = { ...link('dsl', 'eth1', 'down'), family: 6 as const };
    assert.equal(healthValue(doc({ active6: 'dsl', links: [link('dsl', 'eth1', 'up'), six] })), 0, 'dual stack: IPv6 down is not healthy');
    assert.equal(healthValue(doc({ active6: 'dsl', links: [link('dsl', 'eth1', 'up'), { ...six, state: 'up' }] })), 1);
  });

  it('written when the value changes, and 0 at stop', () => {
    const writes: string[] = [];
    const h = new HealthFile(() => '/run/haip', new FileWriter(() => {}, (p, text) => void writes.push(`${p}: ${text}`)));
    h.write(doc({ active: null, links: [link('dsl', 'eth1', 'unknown')] }));
    h.write(doc({ active: null, links: [link('dsl', 'eth1', 'unknown')] }));
    h.write(doc());
    h.write(doc());
    h.write(doc({ links: [link('dsl', 'eth1', 'down')] }));
    h.write(doc());
    h.close();
    assert.deepEqual(writes, ['/run/haip/healthy: 0\n', '/run/haip/healthy: 1\n', '/run/haip/healthy: 0\n', '/run/haip/healthy: 1\n', '/run/haip/healthy: 0\n']);
  });
});

describe('metrics_interval in the config', () => {
  it('defaults to 15 s, takes a duration, refuses 0', () => {
    const base = 'links: []\n';
    assert.equal(parseConfigText(base, 'h.yaml').metricsIntervalMs, 15_000);
    assert.equal(parseConfigText(`${base}metrics_interval: 1m\n`, 'h.yaml').metricsIntervalMs, 60_000);
    assert.throws(() => parseConfigText(`${base}metrics_interval: 0\n`, 'h.yaml'), /h\.yaml:2:\d+: metrics_interval: /);
  });
});
