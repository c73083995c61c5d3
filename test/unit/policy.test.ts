// Policies, the pure core: which link a prefer policy takes, how a balance policy deals its buckets and
// keeps them consistent through failures and returns (a property test, which also catches a naive
// assignment), traffic rules as map lookups, the mark layout and the fwmark rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { ruleToString, ruleWords } from '../../src/model';
import { parseRules } from '../../src/net/iproute';
import { desiredState, LinkView } from '../../src/net/desired';
import { assignBuckets, BUCKETS, decide, homeBuckets, Standing, usableLinks } from '../../src/policy/assign';
import { deposit, markCapacity, planMarks } from '../../src/policy/marks';
import { classifyText, firstMatch, runs } from '../../src/policy/match';
import { PolicyConfig, TrafficRule } from '../../src/policy/types';

const up: Standing = { state: 'up' };
const down: Standing = { state: 'down' };
const degraded: Standing = { state: 'degraded' };
const held: Standing = { state: 'up', held: true };
const unknown: Standing = { state: 'unknown' };

const prefer = (links: string[]): PolicyConfig => ({ name: 'p', kind: 'prefer', links, by: 'source', lastResort: 'unreachable', failback: 'keep' });
const balance = (links: string[]): PolicyConfig => ({ ...prefer(links), name: 'b', kind: 'balance' });

describe('prefer: the first usable link, by the health haip already has', () => {
  const cases: { name: string; states: Record<string, Standing>; want: string | null }[] = [
    { name: 'the first when it is up', states: { cable: up, dsl: up }, want: 'cable' },
    { name: 'the next when the first is down', states: { cable: down, dsl: up }, want: 'dsl' },
    { name: 'an up link before a degraded one', states: { cable: degraded, dsl: up }, want: 'dsl' },
    { name: 'an up link before one damping holds back', states: { cable: held, dsl: up }, want: 'dsl' },
    { name: 'a degraded link when nothing is up', states: { cable: degraded, dsl: down }, want: 'cable' },
    { name: 'links not yet judged before none at all', states: { cable: unknown, dsl: unknown }, want: 'cable' },
    { name: 'none usable: the last resort', states: { cable: down, dsl: down }, want: null },
    { name: 'a link that does not route the family counts as down', states: { dsl: up }, want: 'dsl' },
  ];
  for (const c of cases)
    it(c.name, () => assert.equal(decide(prefer(['cable', 'dsl']), () => 1, (l) => c.states[l]).chosen, c.want));
});

describe('balance: buckets dealt by share', () => {
  const count = (bs: (string | null)[], l: string) => bs.filter((b) => b === l).length;
  it('equal shares: 32 and 32, interleaved', () => {
    const h = homeBuckets([{ name: 'dsl', share: 1 }, { name: 'cable', share: 1 }]);
    assert.equal(h.length, BUCKETS);
    assert.equal(count(h, 'dsl'), 32);
    assert.deepEqual(h.slice(0, 4), ['dsl', 'cable', 'dsl', 'cable']);
  });
  it('share 2 beside 1: two thirds, to a bucket', () => {
    const h = homeBuckets([{ name: 'dsl', share: 1 }, { name: 'cable', share: 2 }]);
    assert.equal(count(h, 'cable'), 43);
    assert.equal(count(h, 'dsl'), 21);
  });
  it('a dead link\'s buckets go to the others, and only those move', () => {
    const links = [{ name: 'a', share: 1 }, { name: 'b', share: 1 }, { name: 'c', share: 1 }];
    const homes = homeBuckets(links);
    const without = assignBuckets(homes, links.filter((l) => l.name !== 'b'), homes);
    homes.forEach((h, i) => (h === 'b' ? assert.notEqual(without[i], 'b') : assert.equal(without[i], h)));
    // The orphans are spread over both survivors, not piled on one.
    const orphans = without.filter((_, i) => homes[i] === 'b');
    assert.ok(count(orphans, 'a') >= 5 && count(orphans, 'c') >= 5, JSON.stringify(orphans));
    assert.deepEqual(assignBuckets(homes, links, without), homes, 'its return brings back exactly its buckets');
  });
  it('no usable link: every bucket is the last resort\'s', () => {
    assert.deepEqual(new Set(decide(balance(['a', 'b']), () => 1, () => down).buckets), new Set([null]));
  });
  it('usable links are those of the best tier present', () => {
    assert.deepEqual(usableLinks(['a', 'b', 'c'], (l) => ({ a: degraded, b: up, c: up })[l]), ['b', 'c']);
    assert.deepEqual(usableLinks(['a', 'b'], (l) => ({ a: degraded, b: down })[l]), ['a']);
  });
});

/** A deterministic pseudo-random sequence, so a failure replays. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

type Assign = (homes: string[], usable: { name: string; share: number }[], previous: (string | null)[]) => (string | null)[];

/**
 * Walks random failures and returns; the problem found, or undefined. A bucket on a link that stays
 * usable may move only home, and only when its home is the link that returned.
 */
function consistencyProblem(assign: Assign, seed: number, steps = 300): string | undefined {
  const rand = rng(seed);
  const links = ['a', 'b', 'c', 'd'].map((name, i) => ({ name, share: 1 + (i % 2) }));
  const homes = homeBuckets(links);
  let live = new Set(links.map((l) => l.name));
  let cur = assign(homes, links, []);
  for (let step = 0; step < steps; step++) {
    const flip = links[Math.floor(rand() * links.length)].name;
    const next = new Set(live);
    if (next.has(flip)) next.delete(flip);
    else next.add(flip);
    const after = assign(homes, links.filter((l) => next.has(l.name)), cur);
    for (let b = 0; b < homes.length; b++) {
      const was = cur[b];
      if (was && next.has(was) && after[b] !== was && !(after[b] === homes[b] && homes[b] === flip && !live.has(flip)))
        return `step ${step}: ${flip} ${live.has(flip) ? 'failed' : 'returned'}, bucket ${b} moved ${was} -> ${after[b]} though ${was} stayed usable`;
      if (after[b] && !next.has(after[b]!)) return `step ${step}: bucket ${b} on ${after[b]}, which is not usable`;
      if (!next.has(homes[b]) ? false : after[b] !== homes[b]) return `step ${step}: bucket ${b} not at home on ${homes[b]}`;
    }
    live = next;
    cur = after;
  }
  return undefined;
}

describe('balance is consistent (property test over random failures and returns)', () => {
  it('no bucket on a usable link moves because another link failed or returned', () => {
    for (let seed = 1; seed <= 50; seed++) assert.equal(consistencyProblem(assignBuckets, seed), undefined, `seed ${seed}`);
  });
  it('the check catches a naive assignment (bucket mod the usable links)', () => {
    const naive: Assign = (homes, usable) => homes.map((_, b) => (usable.length ? usable[b % usable.length].name : null));
    assert.match(consistencyProblem(naive, 1) ?? '', /moved .* though .* stayed usable|not at home/);
  });
  it('the check catches rendezvous without memory (orphans jump back when a third link returns)', () => {
    const forgetful: Assign = (homes, usable) => assignBuckets(homes, usable, []);
    assert.match(consistencyProblem(forgetful, 3) ?? '', /though .* stayed usable/);
  });
});

describe('marks', () => {
  it('values inside the mask, from the top, around the links\' own', () => {
    assert.equal(deposit(1, 0xff00), 0x100);
    assert.equal(deposit(3, 0x0f0), 0x30);
    assert.equal(markCapacity(0xff), 255);
    const plan = planMarks(0xff, [1, 2], [{ name: 'v', links: ['a', 'b'], lastResort: 'unreachable' }]);
    assert.deepEqual(plan, { pairs: [{ policy: 'v', link: 'a', mark: 0xfe }, { policy: 'v', link: 'b', mark: 0xfd }], unreachable: 0xff, needed: 5, available: 255, fits: true });
  });
  it('skips a link mark in the top range', () => {
    const plan = planMarks(0x3, [3], [{ name: 'v', links: ['a'], lastResort: 'default' }]);
    assert.deepEqual(plan.pairs, [{ policy: 'v', link: 'a', mark: 2 }]);
  });
});

describe('traffic rules as map lookups', () => {
  const r = (x: Partial<TrafficRule>): TrafficRule => ({ policy: 'p', ...x });
  it('100 rules of one shape are one lookup', () => {
    const rules = Array.from({ length: 100 }, (_, i) => r({ proto: 'tcp', dport: [1000 + i, 1000 + i] }));
    assert.equal(runs(rules).length, 1);
    const text = classifyText(rules, () => 'policy_0');
    assert.equal(text.rules.length, 1);
    assert.match(text.rules[0], /^meta l4proto \. th dport vmap @traffic_0 comment "traffic\[0\.\.99\]"$/);
  });
  it('an overlap starts a new lookup, so the first match still wins', () => {
    const rules = [r({ from: '192.168.1.64/26', policy: 'a' }), r({ from: '10.0.0.0/8', policy: 'c' }), r({ from: '192.168.1.0/24', policy: 'b' })];
    assert.deepEqual(runs(rules).map((x) => x.entries.map((e) => e.index)), [[0, 1], [2]]);
  });
  it('first match for a flow', () => {
    const rules = [r({ proto: 'udp', dport: [5060, 5061], policy: 'voip' }), r({ from: '192.168.1.64/26', policy: 'no-lte' }), r({ from: '192.168.1.0/24', policy: 'spread' })];
    assert.equal(firstMatch(rules, { from: '192.168.1.70', proto: 'udp', dport: 5060 })?.index, 0);
    assert.equal(firstMatch(rules, { from: '192.168.1.70', proto: 'tcp', dport: 443 })?.index, 1);
    assert.equal(firstMatch(rules, { from: '192.168.1.10', to: '203.0.113.5' })?.index, 2);
    assert.equal(firstMatch(rules, { from: '10.1.1.1' }), undefined);
    assert.equal(firstMatch([r({ from: '2001:db8::/32' })], { from: '2001:db8:1::5' })?.index, 0);
    assert.equal(firstMatch([r({ from: '2001:db8::/32' })], { from: '10.0.0.1' }), undefined);
  });
  it('a rule without addresses but with dscp has a lookup per family', () => {
    const t = classifyText([r({ dscp: 46 })], () => 'policy_0');
    assert.deepEqual(t.rules, ['meta nfproto ipv4 ip dscp vmap @traffic_0 comment "traffic[0]"', 'meta nfproto ipv6 ip6 dscp vmap @traffic_1 comment "traffic[0]"']);
  });
});

describe('fwmark rules of policies', () => {
  it('one per (policy, link) at rule_priority + 7, into the link\'s table', () => {
    const c = parseConfigText(
      `probe: { targets: [203.0.113.1] }\ntables: { T1: 101, T2: 102 }\nlinks:\n  - { name: dsl, interface: eth1, table: T1, gateway: 198.18.1.1 }\n  - { name: cable, interface: eth2, table: T2, gateway: 198.18.2.1 }\npolicies:\n  - { name: voip, prefer: [cable, dsl] }\n`,
      'haip.yaml',
    );
    const views: LinkView[] = c.links.map((link, i) => ({ link, source: `198.18.${i + 1}.2`, connected: `198.18.${i + 1}.0/24`, gateway: `198.18.${i + 1}.1` }));
    // The links' own fwmark rules (replies by the arrival uplink, at 11010...) are not the policies'.
    const rules = desiredState(c, views, 'dsl').rules.filter((r) => r.fwmark !== undefined && r.priority < 11000).map(ruleToString);
    assert.deepEqual(rules, ['priority 10007 from all fwmark 0xff/0xff lookup 102 proto 72', 'priority 10007 from all fwmark 0xfe/0xff lookup 101 proto 72']);
  });
  it('a refusing policy\'s marks meet an unreachable rule at + 8, so an emptied link table leaks nothing', () => {
    const c = parseConfigText(
      `probe: { targets: [203.0.113.1] }\ntables: { T1: 101, T2: 102 }\nlinks:\n  - { name: dsl, interface: eth1, table: T1, gateway: 198.18.1.1 }\n  - { name: lte, interface: eth2, table: T2, gateway: 198.18.2.1 }\npolicies:\n  - { name: no-lte, prefer: [dsl] }\n`,
      'haip.yaml',
    );
    const views: LinkView[] = c.links.map((link, i) => ({ link, source: `198.18.${i + 1}.2`, connected: `198.18.${i + 1}.0/24`, gateway: `198.18.${i + 1}.1` }));
    const rules = desiredState(c, views, 'dsl').rules.filter((r) => r.fwmark !== undefined && r.priority < 11000);
    assert.deepEqual(rules.map(ruleToString), [
      'priority 10007 from all fwmark 0xfe/0xff lookup 101 proto 72',
      'priority 10008 from all fwmark 0xfe/0xff unreachable proto 72',
      'priority 10008 from all fwmark 0xff/0xff unreachable proto 72',
    ]);
    assert.deepEqual(ruleWords(rules[1], true), ['priority', '10008', 'fwmark', '0xfe/0xff', 'unreachable', 'protocol', '72']);
    const read = parseRules('[{"priority":10008,"src":"all","fwmark":"0xfe","fwmask":"0xff","action":"7","protocol":"72"}]');
    assert.equal(ruleToString(read[0]), 'priority 10008 from all fwmark 0xfe/0xff unreachable proto 72');
  });
});
