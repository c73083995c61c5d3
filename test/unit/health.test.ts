// Hysteresis (one bounded counter per link) and the choice of link: pure functions, table-driven.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forceDown, initialHealth, stepHealth } from '../../src/health/hysteresis';
import { LinkHealth, LinkState } from '../../src/model';
import { Candidate, selectRoute } from '../../src/select';
import { DAMPING_DEFAULTS, describeHold, heldUntil, penaltyAt, recordFailure, undamped } from '../../src/health/damping';

/** Runs a string of rounds ("+" good, "-" bad) and returns the state after each. */
function run(rounds: string, t = { up: 3, down: 3 }, start: LinkHealth = initialHealth(0)): string {
  let h = start;
  let out = '';
  [...rounds].forEach((r, i) => {
    h = stepHealth(h, r === '+', t, i + 1);
    out += h.state === 'up' ? 'U' : h.state === 'down' ? 'D' : '?';
  });
  return out;
}

describe('hysteresis: stepHealth', () => {
  const cases: [string, string, { up: number; down: number }, string][] = [
    ['the first good round decides up', '+', { up: 3, down: 3 }, 'U'],
    ['the first bad round decides down', '-', { up: 3, down: 3 }, 'D'],
    ['down after N bad', '+---', { up: 3, down: 3 }, 'UUUD'],
    ['not down after N-1 bad', '+--', { up: 3, down: 3 }, 'UUU'],
    ['a good round resets the bad streak', '+--+--+---', { up: 3, down: 3 }, 'UUUUUUUUUD'],
    ['up after N good', '-+++', { up: 3, down: 3 }, 'DDDU'],
    ['a bad round resets the good streak', '-++-++-+++', { up: 3, down: 3 }, 'DDDDDDDDDU'],
    ['down 1 / up 1 follows every round', '+-+-', { up: 1, down: 1 }, 'UDUD'],
    ['asymmetric: quick down, slow up', '+-+++++', { up: 5, down: 1 }, 'UDDDDDU'],
    ['stays down while bad', '------', { up: 2, down: 2 }, 'DDDDDD'],
    ['stays up while good', '++++++', { up: 2, down: 2 }, 'UUUUUU'],
  ];
  for (const [name, rounds, t, want] of cases) it(`${name}: ${rounds} -> ${want}`, () => assert.equal(run(rounds, t), want));

  it('the counter is bounded: it never exceeds the threshold', () => {
    let h = stepHealth(initialHealth(0), true, { up: 3, down: 3 }, 1);
    for (let i = 0; i < 100; i++) {
      h = stepHealth(h, i % 3 !== 2, { up: 3, down: 3 }, i + 2);
      assert.ok(h.streak < 3, `streak ${h.streak}`);
      assert.equal(h.state, 'up');
    }
  });

  it('a transition records when and why; steady rounds keep `since`', () => {
    const t = { up: 2, down: 2 };
    let h = stepHealth(initialHealth(0), true, t, 100, '1/1 targets answered');
    assert.deepEqual(h, { state: 'up', streak: 0, since: 100, reason: 'first probe round answered: 1/1 targets answered' });
    h = stepHealth(h, false, t, 200);
    assert.deepEqual(h, { state: 'up', streak: 1, since: 100, reason: 'first probe round answered: 1/1 targets answered' });
    h = stepHealth(h, false, t, 300, '0/2 targets answered');
    assert.deepEqual(h, { state: 'down', streak: 0, since: 300, reason: '2 failed probe rounds in a row: 0/2 targets answered' });
    const same = stepHealth(h, false, t, 400);
    assert.equal(same, h, 'an unchanged state is the same object');
  });

  it('forceDown takes an up or unknown link down at once, and leaves a down link down', () => {
    const up = stepHealth(initialHealth(0), true, { up: 3, down: 3 }, 1);
    assert.deepEqual(forceDown(up, 'interface eth1 does not exist', 5), { state: 'down', streak: 0, since: 5, reason: 'interface eth1 does not exist' });
    assert.deepEqual(forceDown(initialHealth(0), 'eth1 has no IPv4 address', 5), { state: 'down', streak: 0, since: 5, reason: 'eth1 has no IPv4 address' });
    const down: LinkHealth = { state: 'down', streak: 2, since: 3, reason: 'probes' };
    assert.deepEqual(forceDown(down, 'gone', 9), { state: 'down', streak: 0, since: 3, reason: 'probes' }, 'the good streak is lost, since and reason kept');
    // After forceDown the link needs `up` good rounds again.
    assert.equal(run('++', { up: 3, down: 3 }, forceDown(up, 'gone', 5)), 'DD');
    assert.equal(run('+++', { up: 3, down: 3 }, forceDown(up, 'gone', 5)), 'DDU');
  });
});

const h = (state: LinkState, reason = ''): LinkHealth => ({ state, streak: 0, since: 0, reason });
const c = (name: string, weight: number, state: LinkState, reason = '', held?: string): Candidate => ({ name, weight, health: h(state, reason), ...(held ? { held } : {}) });
const HELD = 'held back 20 s: 4 failures in 10 min';

describe('select: selectRoute', () => {
  const cases: { name: string; links: Candidate[]; current: string | null; active: string | null; reason: RegExp }[] = [
    { name: 'lowest weight wins', links: [c('lte', 2, 'up'), c('dsl', 1, 'up')], current: null, active: 'dsl', reason: /^dsl is the best link that is up \(weight 1\)$/ },
    { name: 'ties go to config order', links: [c('a', 1, 'up'), c('b', 1, 'up')], current: null, active: 'a', reason: /^a is the best/ },
    { name: 'a tie with the current link: config order still decides', links: [c('a', 1, 'up'), c('b', 1, 'up')], current: 'a', active: 'a', reason: /^a is the best link that is up$/ },
    { name: 'a down link is skipped', links: [c('dsl', 1, 'down', 'probes'), c('lte', 2, 'up')], current: 'dsl', active: 'lte', reason: /^dsl is down \(probes\); lte is the best link that is up$/ },
    { name: 'an unknown link is not chosen', links: [c('dsl', 1, 'unknown'), c('lte', 2, 'up')], current: null, active: 'lte', reason: /^lte is the best/ },
    { name: 'fail-back to a better link', links: [c('dsl', 1, 'up'), c('lte', 2, 'up')], current: 'lte', active: 'dsl', reason: /^dsl is up and preferred \(weight 1 < 2\)$/ },
    { name: 'all down keeps the current link', links: [c('dsl', 1, 'down'), c('lte', 2, 'down')], current: 'lte', active: 'lte', reason: /^every link is down; keeping the default route on lte$/ },
    { name: 'all down with none current stays none', links: [c('dsl', 1, 'down'), c('lte', 2, 'down')], current: null, active: null, reason: /^every link is down$/ },
    { name: 'waiting for first rounds keeps the current', links: [c('dsl', 1, 'unknown'), c('lte', 2, 'down')], current: 'lte', active: 'lte', reason: /waiting for the first probe rounds/ },
    { name: 'a current link removed from the config is replaced', links: [c('dsl', 1, 'up')], current: 'old', active: 'dsl', reason: /^dsl is the best/ },
    { name: 'weight 0 beats weight 1', links: [c('a', 1, 'up'), c('b', 0, 'up')], current: 'a', active: 'b', reason: /^b is up and preferred \(weight 0 < 1\)$/ },
    { name: 'fractional weights compare as numbers', links: [c('a', 10, 'up'), c('b', 9.5, 'up')], current: null, active: 'b', reason: /^b is the best/ },
    { name: 'an equal weight never takes the route from the link carrying it', links: [c('a', 2, 'up'), c('b', 2, 'up')], current: 'b', active: 'b', reason: /^b is the best link that is up$/ },
    { name: 'a better link held back by damping does not take the route', links: [c('dsl', 1, 'up', '', HELD), c('lte', 2, 'up')], current: 'lte', active: 'lte', reason: /^lte is the best link that is up$/ },
    { name: 'once no longer held, it does', links: [c('dsl', 1, 'up'), c('lte', 2, 'up')], current: 'lte', active: 'dsl', reason: /weight 1 < 2/ },
    { name: 'a held link is used when no other link is up', links: [c('dsl', 1, 'up', '', HELD), c('lte', 2, 'down', 'probes')], current: 'lte', active: 'dsl', reason: /^lte is down \(probes\); dsl is the best link that is up, though held back 20 s/ },
    { name: 'a held link carrying the route gives it to an unheld one', links: [c('dsl', 1, 'up', '', HELD), c('lte', 2, 'up')], current: 'dsl', active: 'lte', reason: /^lte is up and dsl is held back 20 s/ },
  ];
  for (const t of cases) {
    it(t.name, () => {
      const got = selectRoute(t.links, t.current);
      assert.equal(got.active, t.active);
      assert.match(got.reason, t.reason);
    });
  }
});

describe('damping: penalty per failure, half-life, reuse, max hold', () => {
  const S = DAMPING_DEFAULTS; // 1000 per failure, half-life 60 s, reuse 2000, max hold 10 min
  const after = (times: number[]) => times.reduce((d, t) => recordFailure(d, t, S), undamped(0));
  const cases: { name: string; failures: number[]; now: number; held: number | null }[] = [
    { name: 'one failure costs nothing', failures: [0], now: 0, held: null },
    { name: 'two failures at once sit on the threshold: not held', failures: [0, 0], now: 0, held: null },
    { name: 'three at once: held until 3000 decays to 2000 (35.1 s)', failures: [0, 0, 0], now: 0, held: 35_098 },
    { name: 'three within 20 s: held a bit less', failures: [0, 10_000, 20_000], now: 20_000, held: 20_000 + 25_483 },
    { name: 'the hold is counted from now: 30 s later, 5.1 s are left', failures: [0, 0, 0], now: 30_000, held: 35_098 },
    { name: 'three spread over 10 min: the penalty decayed, not held', failures: [0, 300_000, 600_000], now: 600_000, held: null },
    { name: 'a failure every second for 100 s: held about 5 min', failures: Array.from({ length: 100 }, (_, i) => i * 1000), now: 99_000, held: 99_000 + 293_892 },
    { name: 'a storm is capped at the max hold', failures: Array.from({ length: 3000 }, () => 0), now: 0, held: 600_000 },
  ];
  for (const t of cases) {
    it(t.name, () => {
      const until = heldUntil(after(t.failures), t.now, S);
      if (t.held === null) assert.equal(until, null);
      else assert.ok(until !== null && Math.abs(until - t.held) <= 1, `held until ${until}, expected ${t.held}`);
    });
  }

  it('penalty 0 turns damping off', () => {
    const off = { ...S, penalty: 0 };
    const d = [0, 0, 0, 0].reduce((x, t) => recordFailure(x, t, off), undamped(0));
    assert.equal(heldUntil(d, 0, off), null);
  });

  it('the penalty halves every half-life', () => {
    const d = recordFailure(undamped(0), 0, S);
    assert.equal(penaltyAt(d, 60_000, S), 500);
    assert.equal(penaltyAt(d, 120_000, S), 250);
  });

  it('told as "held back N s: K failures in 10 min"', () => {
    const d = after([0, 1000, 2000, 3000]);
    const until = heldUntil(d, 3000, S)!;
    assert.equal(describeHold(d, until, 3000, S), `held back ${Math.ceil((until - 3000) / 1000)} s: 4 failures in 10 min`);
    assert.match(describeHold(d, until, 3000, S), /^held back \d+ s: 4 failures in 10 min$/);
  });
});
