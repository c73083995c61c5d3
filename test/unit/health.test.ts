// Hysteresis (one bounded counter per link) and the choice of link: pure functions, table-driven.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forceDown, initialHealth, stepHealth } from '../../src/health/hysteresis';
import { LinkHealth, LinkState } from '../../src/model';
import { Candidate, selectRoute } from '../../src/select';

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
const c = (name: string, weight: number, state: LinkState, reason = ''): Candidate => ({ name, weight, health: h(state, reason) });

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
  ];
  for (const t of cases) {
    it(t.name, () => {
      const got = selectRoute(t.links, t.current);
      assert.equal(got.active, t.active);
      assert.match(got.reason, t.reason);
    });
  }
});
