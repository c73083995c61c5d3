// Quality limits: the window's loss and median RTT, degraded beyond a limit and back only well inside
// it, and a degraded link carrying traffic only when no link is up. Pure functions, table-driven.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stepHealth } from '../../src/health/hysteresis';
import { MIN_SAMPLES, QualityLimits, QualitySample, stepQuality, trimWindow, windowStats } from '../../src/health/quality';
import { LinkHealth } from '../../src/model';
import { Candidate, selectRoute } from '../../src/select';
import { ConfigError, formatProblem, parseConfigText } from '../../src/config/load';

/** `n` probes of one echo each, `lostEvery`-th lost, the others answered in `rttMs`. */
function probes(n: number, lostEvery: number, rttMs: number, at = 0): QualitySample[] {
  return Array.from({ length: n }, (_, i) =>
    lostEvery && (i + 1) % lostEvery === 0 ? { at, sent: 1, lost: 1 } : { at, sent: 1, lost: 0, rttMs },
  );
}

const UP: LinkHealth = { state: 'up', streak: 0, since: 0, reason: 'first probe round answered' };
const DEGRADED: LinkHealth = { state: 'degraded', streak: 0, since: 0, reason: 'loss 50% > max_loss 20% over the last 60 s' };
const LIMITS: QualityLimits = { maxLossPct: 20, maxRttMs: 200, windowMs: 60_000 };

describe('quality: window statistics', () => {
  it('loss counts echoes, not probes; the median is of answers', () => {
    const s = windowStats([
      { at: 0, sent: 4, lost: 3, rttMs: 10 },
      { at: 0, sent: 1, lost: 0, rttMs: 30 },
      { at: 0, sent: 4, lost: 4 },
      { at: 0, sent: 1, lost: 0, rttMs: 20 },
    ]);
    assert.deepEqual(s, { sent: 10, lossPct: 70, medianRttMs: 20 });
  });
  it('an even number of answers takes the mean of the middle two', () => assert.equal(windowStats(probes(4, 0, 0).map((p, i) => ({ ...p, rttMs: [1, 9, 3, 5][i] }))).medianRttMs, 4));
  it('nothing sent: no loss, no RTT', () => assert.deepEqual(windowStats([]), { sent: 0, lossPct: 0, medianRttMs: undefined }));
  it('trimWindow drops what is older than the window, in place', () => {
    const w = [{ at: 100, sent: 1, lost: 1 }, { at: 200, sent: 1, lost: 0 }, { at: 300, sent: 1, lost: 0 }];
    trimWindow(w, 1200, 1000);
    assert.deepEqual(w.map((s) => s.at), [300]);
  });
});

describe('quality: stepQuality', () => {
  const cases: [string, LinkHealth, QualitySample[], QualityLimits, string, RegExp?][] = [
    ['within limits stays up', UP, probes(40, 10, 50), LIMITS, 'up'],
    ['loss beyond max_loss degrades', UP, probes(40, 4, 50), LIMITS, 'degraded', /^loss 25% > max_loss 20% over the last 60 s$/],
    ['loss exactly at max_loss is within', UP, probes(40, 5, 50), LIMITS, 'up'],
    ['median RTT beyond max_rtt degrades', UP, probes(40, 0, 250), LIMITS, 'degraded', /^median RTT 250 ms > max_rtt 200 ms over the last 60 s$/],
    ['both limits broken: both are said', UP, probes(40, 2, 300), LIMITS, 'degraded', /^loss 50% > max_loss 20%, median RTT 300 ms > max_rtt 200 ms/],
    ['too few echoes: no judgement', UP, probes(MIN_SAMPLES - 1, 1, 0), LIMITS, 'up'],
    ['no limits: never degraded', UP, probes(40, 1, 0), { windowMs: 60_000 }, 'up'],
    ['only max_rtt set: loss does not count', UP, probes(40, 2, 50), { maxRttMs: 200, windowMs: 60_000 }, 'up'],
    ['every echo lost: loss degrades, no RTT to judge', UP, probes(40, 1, 0), LIMITS, 'degraded', /^loss 100% > max_loss 20%/],
    ['degraded stays while above half of max_loss', DEGRADED, probes(40, 8, 50), LIMITS, 'degraded'],
    ['degraded stays while above 80% of max_rtt', DEGRADED, probes(40, 0, 170), LIMITS, 'degraded'],
    ['degraded comes back at half of max_loss and 80% of max_rtt', DEGRADED, probes(40, 10, 160), LIMITS, 'up', /^back within quality limits: loss 10%, median RTT 160 ms over the last 60 s$/],
    ['a down link is not judged', { ...UP, state: 'down' }, probes(40, 1, 0), LIMITS, 'down'],
    ['an unknown link is not judged', { ...UP, state: 'unknown' }, probes(40, 1, 0), LIMITS, 'unknown'],
  ];
  for (const [name, from, samples, limits, want, reason] of cases)
    it(name, () => {
      const got = stepQuality(from, samples, limits, 5);
      assert.equal(got.state, want);
      if (reason) assert.match(got.reason, reason);
      if (want === from.state) assert.equal(got, from, 'no change returns the same object');
      else assert.equal(got.since, 5);
    });

  it('a degraded link still goes down after `down` failed rounds, and comes back up, not degraded', () => {
    let h = stepHealth(DEGRADED, false, { up: 2, down: 2 }, 1);
    assert.equal(h.state, 'degraded');
    h = stepHealth(h, false, { up: 2, down: 2 }, 2);
    assert.equal(h.state, 'down');
    h = stepHealth(stepHealth(h, true, { up: 2, down: 2 }, 3), true, { up: 2, down: 2 }, 4);
    assert.equal(h.state, 'up');
  });
});

describe('quality: selection with degraded links', () => {
  const link = (name: string, weight: number, state: LinkHealth['state']): Candidate => ({ name, weight, health: { state, streak: 0, since: 0, reason: `${name} reason` } });
  const cases: [string, Candidate[], string | null, string | null, RegExp][] = [
    ['an up link beats a lighter degraded one', [link('a', 1, 'degraded'), link('b', 2, 'up')], 'a', 'b', /^a is degraded \(a reason\); b is the best link that is up$/],
    ['with none up, the lightest degraded link carries', [link('a', 1, 'degraded'), link('b', 2, 'down')], 'b', 'a', /^no link is within its quality limits; a is degraded \(a reason\) but answers$/],
    ['among degraded links the weight decides, as among up ones', [link('a', 1, 'degraded'), link('b', 2, 'degraded')], 'b', 'a', /no link is within its quality limits; a is degraded/],
    ['a degraded link of equal weight does not take the route from another', [link('a', 1, 'degraded'), link('b', 1, 'degraded')], 'b', 'b', /keeping b, degraded/],
    ['an up link held back by damping beats a degraded one', [link('a', 1, 'degraded'), { ...link('b', 2, 'up'), held: 'held back 20 s' }], 'a', 'b', /a is degraded \(a reason\); b is the best link that is up, though held back 20 s/],
    ['a degraded link is not left for a down one', [link('a', 1, 'down'), link('b', 2, 'degraded')], 'b', 'b', /keeping b, degraded/],
    ['every link down: keep the route', [link('a', 1, 'down'), link('b', 2, 'down')], 'a', 'a', /every link is down/],
  ];
  for (const [name, links, current, want, reason] of cases)
    it(name, () => {
      const c = selectRoute(links, current);
      assert.equal(c.active, want);
      assert.match(c.reason, reason);
    });
});

describe('quality: in haip.yaml', () => {
  const yaml = (probe: string, linkProbe = '') =>
    `probe: { targets: [203.0.113.1], ${probe} }\nlinks:\n  - { name: a, interface: eth1${linkProbe ? `, probe: { ${linkProbe} }` : ''} }\n  - { name: b, interface: eth2 }\n`;
  const problems = (text: string) => {
    try {
      parseConfigText(text, 'haip.yaml');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems.map(formatProblem);
    }
    return [];
  };

  it('no limits by default, a 60 s window', () => {
    const c = parseConfigText(yaml('interval: 1s'), 'haip.yaml');
    assert.deepEqual([c.links[0].probe.maxLossPct, c.links[0].probe.maxRttMs, c.links[0].probe.qualityWindowMs], [undefined, undefined, 60_000]);
  });
  it('limits at the top level, overridden per link', () => {
    const c = parseConfigText(yaml('max_loss: 20%, max_rtt: 500ms, quality_window: 2m', 'max_loss: 2.5%, max_rtt: 0.2'), 'haip.yaml');
    assert.deepEqual([c.links[0].probe.maxLossPct, c.links[0].probe.maxRttMs, c.links[0].probe.qualityWindowMs], [2.5, 200, 120_000]);
    assert.deepEqual([c.links[1].probe.maxLossPct, c.links[1].probe.maxRttMs, c.links[1].probe.qualityWindowMs], [20, 500, 120_000]);
  });
  const bad: [string, string][] = [
    ['max_loss: 20', 'haip.yaml:1:44: probe.max_loss: must be a percentage from 0% to 100% such as "20%"'],
    ['max_loss: 120%', 'haip.yaml:1:44: probe.max_loss: must be a percentage from 0% to 100% such as "20%"'],
    ['max_loss: "-5%"', 'haip.yaml:1:44: probe.max_loss: must be a percentage from 0% to 100% such as "20%"'],
    ['max_rtt: 0', 'haip.yaml:1:43: probe.max_rtt: must be a duration such as "500ms", "2s", "1m" or a number of seconds'],
    ['quality_window: 2h', 'haip.yaml:1:50: probe.quality_window: must be a duration such as "500ms", "2s", "1m" or a number of seconds'],
  ];
  for (const [probe, want] of bad) it(probe, () => assert.deepEqual(problems(yaml(probe)), [want]));
});
