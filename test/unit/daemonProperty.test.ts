// The whole daemon on fakes under random weather: probes failing and healing, carrier lost and back,
// the kernel refusing default routes now and then, time passing in uneven steps. After every step the
// daemon and the fake kernel must agree, and once things are quiet for a while the rules of the choice
// hold: a default route whenever a link can carry one, on the best link that is up, the link status
// names being the one the kernel routes by. Seeds are fixed, so a failure replays.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { Daemon } from '../../src/daemon';
import { StatusDoc } from '../../src/status';
import { FakeClock, FakeKernel, FakeLinkEvents, FakeProber, memoryLog, RecordingNotifier } from './fakes';
import { ETH1, PPP0 } from './fixtures';

const CONFIG = parseConfigText(
  `probe: { targets: [203.0.113.1, 203.0.113.2] }
tables: { T1: 101, T2: 102 }
damping: { penalty: 0 }
links:
  - { name: dsl, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1 }
  - { name: lte, interface: ppp0, weight: 2, table: T2 }
`,
  'haip.yaml',
);
const DEV: Record<string, string> = { eth1: 'dsl', ppp0: 'lte' };

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function weather(seed: number, steps: number) {
  const random = rng(seed);
  const kernel = new FakeKernel().addInterface('eth1', [ETH1]).addInterface('ppp0', [PPP0]);
  const clock = new FakeClock();
  const prober = new FakeProber();
  const events = new FakeLinkEvents();
  const docs: StatusDoc[] = [];
  // A pass that asks for another at once, for ever, would hang the test: past 20,000 ip commands in one
  // step the fake kernel stops answering (the loop stops where it is) and the step fails.
  let commands = 0;
  let busy: string | undefined;
  const run = kernel.run.bind(kernel);
  kernel.run = (argv, input) => {
    if (++commands > 20_000) {
      busy ??= `busy loop: over 20,000 ip commands in one step; the last: ip ${argv.join(' ')}`;
      return new Promise(() => {});
    }
    return run(argv, input);
  };
  const daemon = new Daemon(CONFIG, { ip: kernel, prober, clock, notifier: new RecordingNotifier(), log: memoryLog(), events, status: { write: (d) => void docs.push(d) }, watchdogMs: null });
  await daemon.start();
  await clock.advance(0);
  const mainDefault = () => kernel.routes.find((r) => (r.family ?? 4) === 4 && r.table === 254 && r.dst === 'default');
  const routedBy = () => {
    const r = mainDefault();
    return r ? DEV[r.dev] ?? `foreign ${r.dev}` : null;
  };
  const state = { dslProbes: true, lteProbes: true, carrier: true, dslRefused: false };
  const history: string[] = [];
  for (let step = 0; step < steps; step++) {
    const x = random();
    let what: string;
    if (x < 0.25) {
      state.dslProbes = !state.dslProbes;
      prober.setDown(ETH1.address, !state.dslProbes);
      what = `dsl probes ${state.dslProbes ? 'answer' : 'silent'}`;
    } else if (x < 0.45) {
      state.lteProbes = !state.lteProbes;
      prober.setDown(PPP0.address, !state.lteProbes);
      what = `lte probes ${state.lteProbes ? 'answer' : 'silent'}`;
    } else if (x < 0.6) {
      state.carrier = !state.carrier;
      kernel.setCarrier('eth1', state.carrier);
      events.fire(`eth1 ${state.carrier ? 'LOWER_UP' : 'NO-CARRIER'}`);
      what = `eth1 carrier ${state.carrier ? 'back' : 'lost'}`;
    } else if (x < 0.7) {
      const times = 1 + Math.floor(random() * 3);
      kernel.failNext(['-4', 'route', 'replace', 'default'], 2, 'Error: Nexthop has invalid gateway.', times);
      what = `the kernel refuses the next ${times} default route(s)`;
    } else if (x < 0.8) {
      // A route the kernel keeps refusing (a gateway it will not take): dsl's, in main and in its table.
      state.dslRefused = !state.dslRefused;
      kernel.clearFailures();
      commands = 0;
      if (state.dslRefused) {
        kernel.failNext(['-4', 'route', 'replace', 'default', 'via', '198.18.1.1'], 2, 'Error: Nexthop has invalid gateway.', Infinity);
        // Its routes went (a renumbering, someone's flush) and cannot come back.
        kernel.removeRawRoute((r) => r.dst === 'default' && r.dev === 'eth1');
        events.fire('Deleted default via 198.18.1.1 dev eth1');
      }
      what = `the kernel ${state.dslRefused ? 'refuses' : 'takes'} dsl's default route`;
    } else what = 'nothing';
    commands = 0;
    const ms = Math.floor(random() * 4000);
    await clock.advance(ms);
    history.push(`${what}, ${ms} ms`);
    assert.equal(busy, undefined, busy);
    const context = () => `seed ${seed}, step ${step}:\n  ${history.slice(-8).join('\n  ')}\n${kernel.render()}`;
    // At every step: what the daemon says routes is what the kernel routes by.
    assert.equal(daemon.activeLink, routedBy(), `the daemon names ${daemon.activeLink}, the kernel routes by ${routedBy()}; ${context()}`);
    assert.equal(docs.at(-1)?.active ?? null, daemon.activeLink, `status.json names ${docs.at(-1)?.active}; ${context()}`);
    // Quiet for a while (longer than the longest retry of a refused route): the choice has settled.
    if (random() < 0.3) {
      kernel.clearFailures();
      commands = 0;
      if (state.dslRefused) kernel.failNext(['-4', 'route', 'replace', 'default', 'via', '198.18.1.1'], 2, 'Error: Nexthop has invalid gateway.', Infinity);
      await clock.advance(35_000);
      history.push('quiet 35 s');
      assert.equal(busy, undefined, busy);
      const dslUsable = state.dslProbes && state.carrier && !state.dslRefused;
      const best = dslUsable ? 'dsl' : state.lteProbes ? 'lte' : null;
      if (best) assert.equal(routedBy(), best, `the default route is on ${routedBy()}, ${best} is the best link up; ${context()}`);
      else assert.ok(routedBy() !== 'lte' || !state.lteProbes, `no link can carry it: the last route stays or none; ${context()}`);
      assert.equal(daemon.activeLink, routedBy(), context());
    }
  }
  await daemon.stop();
  assert.deepEqual(kernel.unknown, []);
}

describe('daemon under random weather (fakes)', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) it(`seed ${seed}: 150 steps`, () => weather(seed, 150));
});
