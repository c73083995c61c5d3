// The effective-route check never delays a pass: lookups are asked after a pass (one batch at a time),
// their answers feed the next pass, and they count only while no pass has changed the kernel since.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UpstreamGuard, UpstreamLane } from '../../src/core/upstream';
import { Daemon } from '../../src/daemon';
import { LinkConfig, NetState, Route } from '../../src/model';
import { Lookup } from '../../src/net/effective';
import { Observation } from '../../src/net/router';
import { FakeClock, FakeKernel, FakeLinkEvents, FakeProber, memoryLog, RecordingNotifier } from './fakes';
import { CONFIG, ETH1, PPP0 } from './fixtures';

const [DSL, LTE] = CONFIG.links as [LinkConfig, LinkConfig];
const HALF: Route = { table: 254, dst: '0.0.0.0/1', gateway: '198.18.1.1', dev: 'eth1', protocol: 16 };
const VIA_LTE: Route = { table: 254, dst: 'default', dev: 'ppp0', protocol: 72 };
const OBS: Observation = { interfaces: new Map(), net: { routes: [], rules: [] }, deviceRoutes: [], delegations6: [] };
const EMPTY: NetState = { routes: [], rules: [] };

/** lte chosen, dsl down: traffic by dsl is misrouted. */
const lanes = (dslState = 'down'): UpstreamLane[] => [
  {
    family: 4,
    active: 'lte',
    links: [
      { view: { link: DSL, source: '198.18.1.2', connected: '198.18.1.0/24', gateway: '198.18.1.1' }, state: dslState },
      { view: { link: LTE, source: '198.18.9.2' }, state: 'up' },
    ],
  },
];

/** A guard whose lookups are answered by hand: `pending` holds the batches asked and not yet answered. */
function harness() {
  const pending: { queries: Lookup[]; answer: (route?: Route) => void }[] = [];
  let syncs = 0;
  const guard = new UpstreamGuard({
    log: memoryLog(),
    look: (queries) => new Promise((resolve) => pending.push({ queries, answer: (route) => resolve(queries.map((q) => (route ? { ...q, route } : q))) })),
    sync: () => void syncs++,
  });
  const pass = (changed: boolean, l = lanes()) => {
    const desired = guard.desired(CONFIG, OBS, EMPTY, l);
    return { desired, settled: guard.settle(changed) };
  };
  const flush = () => new Promise((r) => setImmediate(r));
  return { guard, pending, pass, flush, syncs: () => syncs };
}

describe('upstream guard: lookups after the pass', () => {
  it('a pass asks nothing before it applies; the batch comes after, one at a time; only answers that call for a change ask for a pass', async () => {
    const h = harness();
    const first = h.pass(false);
    assert.equal(first.desired.remove, undefined, 'no answers yet: nothing moved');
    assert.equal(h.pending.length, 1, 'asked after the pass');
    h.pass(false);
    h.pass(false);
    assert.equal(h.pending.length, 1, 'a batch in flight: the next requests coalesce');
    h.pending[0].answer(HALF);
    await h.flush();
    assert.equal(h.syncs(), 1, 'a route to move asks for a pass');
    assert.equal(h.pending.length, 2, 'one more batch for the coalesced requests');
    const moving = h.pass(true);
    assert.deepEqual(moving.desired.remove, [HALF], 'the next pass moves the shadow');
    assert.deepEqual(h.guard.problems(), [], 'a pass that changed the kernel judges nothing');
    h.pending[1].answer(HALF); // asked before the move
    await h.flush();
    assert.equal(h.syncs(), 1, 'stale answers ask for nothing');
    h.pending[2].answer(VIA_LTE);
    await h.flush();
    assert.equal(h.syncs(), 1, 'answers that agree with haip cost no pass');
  });

  it('answers asked before a changing pass are stale: they move nothing and count for nothing; a shadow no pass has judged asks once', async () => {
    const h = harness();
    h.pass(false);
    h.pass(true); // changes the kernel while the first batch is out
    h.pending[0].answer(HALF);
    await h.flush();
    assert.equal(h.syncs(), 0, 'stale answers ask for no pass');
    assert.equal(h.pass(false).desired.remove, undefined, 'stale answers move nothing');
    assert.equal(h.pending.length, 2, 'asked again after the change');
    h.pending[1].answer(HALF);
    await h.flush();
    assert.equal(h.syncs(), 1);
    // The pass cannot move it (the kernel refuses, the pass changes nothing): the same answers again
    // wait for the reconciler's retry instead of asking for pass after pass.
    const failed = h.pass(false);
    assert.deepEqual(failed.desired.remove, [HALF]);
    assert.equal(h.guard.problems().length, 2);
    h.pending[2].answer(HALF);
    await h.flush();
    assert.equal(h.syncs(), 1);
  });

  it('problems count only for a pass that changed nothing; after a change the next answers are judged even if unchanged', async () => {
    const h = harness();
    h.pass(false);
    h.pending[0].answer(HALF);
    await h.flush();
    const judged = h.pass(false);
    assert.equal(judged.settled.publish, true);
    assert.equal(h.guard.problems().length, 2, h.guard.problems().join('\n'));
    assert.match(h.guard.problems()[0], /traffic to 1\.0\.0\.1, 17\.0\.0\.1 and \d+ more goes by dsl \(0\.0\.0\.0\/1 .*\), not by lte, haip's choice/);
    // The move fails, say (a pass that changed nothing else): still a problem. Then dsl comes up and is chosen.
    const before = h.syncs();
    h.pass(true, [{ ...lanes('up')[0], active: 'dsl' }]);
    assert.equal(h.guard.problems().length, 2, 'a changing pass keeps the last word until the kernel is asked again');
    h.pending[1].answer(HALF); // asked before the change: stale, asked again
    await h.flush();
    assert.equal(h.syncs(), before);
    h.pending[2].answer(HALF);
    await h.flush();
    assert.equal(h.syncs(), before + 1, 'the same answers after a change still ask for a pass to judge them');
    const after = h.pass(false, [{ ...lanes('up')[0], active: 'dsl' }]);
    assert.equal(after.settled.publish, true);
    // dsl carries the default route now: only lte's own source going by dsl is left.
    assert.equal(h.guard.problems().length, 1);
    assert.match(h.guard.problems()[0], /from 198\.18\.9\.2 goes by dsl .*not by lte whose address it is/);
  });
});

describe('upstream guard: the daemon on a fake kernel', () => {
  it('a probe verdict switches the route before any lookup of that pass', async () => {
    const kernel = new FakeKernel().addInterface('eth1', [ETH1]).addInterface('ppp0', [PPP0]);
    const clock = new FakeClock();
    const prober = new FakeProber();
    const daemon = new Daemon(CONFIG, { ip: kernel, prober, clock, notifier: new RecordingNotifier(), log: memoryLog(), events: new FakeLinkEvents(), hooks: { run: () => {} }, status: { write: () => {} }, watchdogMs: null });
    await daemon.start();
    await clock.advance(0);
    assert.equal(daemon.activeLink, 'dsl');
    const from = kernel.log.length;
    prober.setDown(ETH1.address);
    await clock.advance(5000);
    assert.equal(daemon.activeLink, 'lte');
    const after = kernel.log.slice(from).map((a) => a.join(' '));
    const sw = after.findIndex((a) => /^-4 route replace default .*dev ppp0 .*table 254/.test(a) || /^-4 route replace default dev ppp0/.test(a));
    assert.ok(sw >= 0, after.join('\n'));
    const reads = after.slice(0, sw);
    const lastRead = reads.map((a, i) => (a.includes('show') || a.startsWith('-j addr') ? i : -1)).filter((i) => i >= 0).pop()!;
    // Between the switching pass's read and its write: no batch of lookups (the one without a family flag).
    const lookups = (a: string) => a.startsWith('-j -N -force -batch');
    assert.ok(!reads.slice(lastRead).some(lookups), reads.join('\n'));
    assert.ok(after.slice(sw).some(lookups), 'the lookups come after the switch');
    await daemon.stop();
  });
});
