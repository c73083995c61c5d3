// The Selector as a value: choose before a pass, settle after its read-back; table-driven cases, then
// random sequences of probe results, kernel refusals and read-backs checked against the invariants.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RETRY_MAX_MS as REFUSED_RETRY_MAX_MS } from '../../src/core/backoff';
import { choose, newSelection, nextRetry, Selection, SelectionEvent, settle } from '../../src/core/selector';
import { Family, LinkState } from '../../src/model';
import { Candidate } from '../../src/select';

const c = (name: string, weight: number, state: LinkState = 'up', held?: string): Candidate => ({ name, weight, health: { state, streak: 0, since: 0, reason: state }, held });
const sel = (over: Partial<Selection> = {}): Selection => ({ ...newSelection(4, 0), ...over });
const refusal = (link: string, retryAt: number, tries = 1) => ({ link, reason: 'Error: Nexthop has invalid gateway.', at: 0, retryAt, tries });

describe('selector: choose', () => {
  const cases: [string, Selection, Candidate[], number, string | undefined, string[]][] = [
    ['the best link is chosen at start', sel(), [c('a', 1), c('b', 2)], 0, 'a', []],
    ['the carrying link is kept on a tie', sel({ active: 'b', routedBy: 'b' }), [c('a', 2), c('b', 2)], 0, undefined, []],
    ['a refused link waits its retry while another answers', sel({ refused: [refusal('a', 5000)] }), [c('a', 1), c('b', 2)], 1000, 'b', []],
    ['a refused link is tried again at its retry time', sel({ active: 'b', routedBy: 'b', refused: [refusal('a', 5000)] }), [c('a', 1), c('b', 2)], 5000, 'a', []],
    ['a refused link stays the choice when no other link answers', sel({ refused: [refusal('a', 5000)] }), [c('a', 1), c('b', 2, 'down')], 1000, 'a', []],
    ['the carrying link stays while the better one is refused', sel({ active: 'b', routedBy: 'b', refused: [refusal('a', 5000)] }), [c('a', 1), c('b', 2)], 1000, undefined, []],
    ['a refusal ends when its link stops answering', sel({ refused: [refusal('a', 5000)] }), [c('a', 1, 'down'), c('b', 2)], 1000, 'b', ['changed']],
    ['every link down with no route: warned once', sel(), [c('a', 1, 'down'), c('b', 2, 'down')], 0, undefined, ['all-down']],
    ['every link down, warned already: quiet', sel({ allDownWarned: true }), [c('a', 1, 'down')], 0, undefined, []],
  ];
  for (const [name, s, candidates, now, pending, events] of cases)
    it(name, () => {
      const r = choose(s, candidates, now);
      assert.equal(r.next.pending?.to, pending);
      assert.deepEqual(r.events.map((e) => e.kind), events);
    });

  it('the reason names the refused link it passes over', () => {
    const r = choose(sel({ refused: [refusal('a', 5000)] }), [c('a', 1), c('b', 2)], 0);
    assert.equal(r.next.pending?.reason, "the kernel refuses a's route (Error: Nexthop has invalid gateway.); b is the best link that is up (weight 2)");
  });
});

describe('selector: settle', () => {
  it('a switch is announced only when the read-back routes by it', () => {
    const s = sel({ active: 'b', routedBy: 'b', pending: { to: 'a', reason: 'a is up and preferred' } });
    const ok = settle(s, 'a', undefined, 100);
    assert.deepEqual(ok.events, [{ kind: 'switch', family: 4, from: 'b', to: 'a', reason: 'a is up and preferred' }]);
    assert.equal(ok.next.active, 'a');
    assert.equal(ok.next.switches, 1);
    const no = settle(s, 'b', 'Error: Nexthop has invalid gateway.', 100);
    assert.deepEqual(no.events.map((e) => e.kind), ['refused', 'changed']);
    assert.equal(no.next.active, 'b');
    assert.equal(no.next.pending, undefined);
    assert.deepEqual(no.next.refused, [{ link: 'a', reason: 'Error: Nexthop has invalid gateway.', at: 100, retryAt: 1100, tries: 1 }]);
  });

  it('refusals back off 1 s, 2 s, 4 s ... 30 s and are told once per reason', () => {
    let s = sel({ active: 'b', routedBy: 'b' });
    const told: SelectionEvent[] = [];
    const gaps: number[] = [];
    for (let i = 0, now = 0; i < 8; i++) {
      s = { ...s, pending: { to: 'a', reason: 'x' } };
      const r = settle(s, 'b', 'RTNETLINK answers: Network is unreachable', now);
      told.push(...r.events.filter((e) => e.kind === 'refused'));
      s = r.next;
      gaps.push(nextRetry(s, now)! - now);
      now = nextRetry(s, now)!;
    }
    assert.deepEqual(gaps, [1000, 2000, 4000, 8000, 16000, REFUSED_RETRY_MAX_MS, REFUSED_RETRY_MAX_MS, REFUSED_RETRY_MAX_MS]);
    assert.equal(told.length, 1);
  });

  it('the carrying link whose route went away and cannot be put back is refused, so the next link takes over', () => {
    const s = sel({ active: 'a', routedBy: 'a' });
    const r = settle(s, null, 'Error: Nexthop has invalid gateway.', 50);
    assert.deepEqual(r.next.refused.map((x) => x.link), ['a']);
    assert.equal(choose(r.next, [c('a', 1), c('b', 2)], 60).next.pending?.to, 'b');
  });

  it('a confirmed switch to a refused link ends its refusal', () => {
    const s = sel({ routedBy: 'b', active: 'b', pending: { to: 'a', reason: 'x' }, refused: [refusal('a', 0)] });
    assert.deepEqual(settle(s, 'a', undefined, 10).next.refused, []);
  });
});

/** mulberry32: a small seeded PRNG, so a failing sequence can be replayed from its seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SimLink {
  name: string;
  weight: number;
  state: LinkState;
  /** Whether the kernel takes this link's default route. */
  installable: boolean;
}

/** `final`: the last pass of a step (no refusal asks for another). */
type Check = (s: Selection, links: SimLink[], events: SelectionEvent[], before: Selection, final: boolean) => void;

/**
 * One family against a model kernel: each step changes one link (probe result or installability), then
 * a pass chooses, "applies" (the route moves only if the kernel takes it), reads back and settles; a
 * refusal asks for one more pass at once, as the daemon does.
 */
function simulation(family: Family, rand: () => number, check: Check) {
  const links: SimLink[] = [0, 1, 2].map((i) => ({ name: `l${i}`, weight: 1 + Math.floor(rand() * 3), state: 'unknown', installable: true }));
  let s = newSelection(family, 0);
  let kernel: string | null = null;
  const trace: string[] = [];
  const step = (now: number) => {
    const l = links[Math.floor(rand() * links.length)];
    const r = rand();
    if (r < 0.45) l.state = 'up';
    else if (r < 0.7) l.state = 'down';
    else if (r < 0.8) l.state = 'degraded';
    else l.installable = !l.installable;
    // A route the kernel held stays only while it can: an uninstallable link's route is gone.
    if (kernel && !links.find((x) => x.name === kernel)!.installable) kernel = null;
    for (let pass = 0, again = true; again && pass < 6; pass++) {
      const before = s;
      const chosen = choose(s, links.map((x) => c(x.name, x.weight, x.state)), now);
      const target = chosen.next.pending?.to ?? chosen.next.active;
      const t = target ? links.find((x) => x.name === target)! : undefined;
      let refused: string | undefined;
      if (t && target !== kernel) {
        if (t.installable) kernel = target;
        else refused = 'Error: Nexthop has invalid gateway.';
      }
      const settled = settle(chosen.next, kernel, refused, now);
      s = settled.next;
      const events = [...chosen.events, ...settled.events];
      again = !!refused;
      check(s, links, events, before, !again);
      trace.push(`${now} ${kernel} ${events.map((e) => e.kind).join(',')}`);
    }
  };
  return { step, trace };
}

function run(family: Family, rand: () => number, steps: number, check: Check = () => {}): string[] {
  const sim = simulation(family, rand, check);
  for (let i = 0, now = 0; i < steps; i++, now += Math.floor(rand() * 3000)) sim.step(now);
  return sim.trace;
}

describe('selector: random sequences of probe results, refusals and read-backs', () => {
  const seeds = [1, 2, 3, 42, 1234, 99991, 7, 2026];
  for (const seed of seeds)
    it(`seed ${seed}: 300 steps keep every invariant`, () => {
      run(4, prng(seed), 300, (s, links, events, before, final) => {
        // Nothing is announced that the read-back does not confirm.
        for (const e of events) if (e.kind === 'switch') assert.equal(s.routedBy, e.to, `seed ${seed}: switch to ${e.to} while the kernel routes by ${s.routedBy}`);
        // While some link answers and its route can be installed, the host has a default route on such a link
        // (after the passes a refusal asks for, so on the last of them).
        const usable = links.filter((l) => (l.state === 'up' || l.state === 'degraded') && l.installable);
        if (usable.length && final) {
          const by = links.find((l) => l.name === s.routedBy);
          assert.ok(by && by.installable && (by.state === 'up' || by.state === 'degraded' || !usable.length), `seed ${seed}: routed by ${s.routedBy} while ${usable.map((u) => u.name)} are usable`);
        }
        // Ties never take the route from the carrying link.
        for (const e of events) {
          if (e.kind !== 'switch' || !e.from) continue;
          const from = links.find((l) => l.name === e.from)!;
          const to = links.find((l) => l.name === e.to)!;
          if (from.state === 'up' && from.installable && before.routedBy === e.from) assert.ok(to.weight < from.weight, `seed ${seed}: ${e.from} (weight ${from.weight}) lost the route to ${e.to} (weight ${to.weight})`);
        }
      });
    });

  it('IPv4 and IPv6 never influence each other: IPv4 decides the same alone as interleaved with IPv6', () => {
    for (const seed of seeds) {
      const alone = run(4, prng(seed), 200);
      const r4 = prng(seed);
      const four = simulation(4, r4, () => {});
      const six = simulation(6, prng(seed + 1), () => {});
      for (let i = 0, now = 0; i < 200; i++, now += Math.floor(r4() * 3000)) {
        four.step(now);
        six.step(now);
      }
      assert.deepEqual(four.trace, alone, `seed ${seed}`);
      assert.notDeepEqual(six.trace, alone, 'the other family had a life of its own');
    }
  });
});
