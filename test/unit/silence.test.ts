// Judging a link by its silence (src/health/silence.ts) and the monitor's silence watch on a fake clock.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LinkMonitor, Silence } from '../../src/health/monitor';
import { judgeSilence, LastAnswers, silentSince } from '../../src/health/silence';
import { LinkConfig } from '../../src/model';
import { Prober } from '../../src/sys/prober';
import { FakeClock } from './fakes';

describe('silence: silentSince', () => {
  const cases: [string, LastAnswers, number, number][] = [
    ['one target: its last answer', [1000], 1, 1000],
    ['quorum 1: the most recent answer of any target', [1000, 2500, 1800], 1, 2500],
    ['quorum 2: the second most recent', [1000, 2500, 1800], 2, 1800],
    ['quorum 3 of 3: the oldest', [1000, 2500, 1800], 3, 1000],
    ['quorum above the targets: silent since ever', [1000], 2, -Infinity],
    ['a target that cannot tell counts as answering', [1000, undefined], 1, Infinity],
    ['...also toward a larger quorum', [1000, undefined, 500], 2, 1000],
    ['no targets', [], 1, -Infinity],
  ];
  for (const [name, last, quorum, want] of cases) test(name, () => assert.equal(silentSince(last, quorum), want));
});

describe('silence: judgeSilence (window 3000 ms)', () => {
  const cases: [string, LastAnswers, number, number, { silent: boolean; forMs: number; checkAt: number }][] = [
    ['answered just now', [10_000], 0, 10_000, { silent: false, forMs: 0, checkAt: 13_000 }],
    ['silent 2999 ms: not yet', [10_000], 0, 12_999, { silent: false, forMs: 2999, checkAt: 13_000 }],
    ['silent 3000 ms: silent', [10_000], 0, 13_000, { silent: true, forMs: 3000, checkAt: 13_000 }],
    ['one target answers, the other is dead (quorum 1)', [5_000, 12_500], 0, 14_000, { silent: false, forMs: 1500, checkAt: 15_500 }],
    ['never before the watch started', [1_000], 9_000, 11_000, { silent: false, forMs: 2000, checkAt: 12_000 }],
    ['a stream that cannot tell is never silent', [undefined], 0, 99_000, { silent: false, forMs: 0, checkAt: 102_000 }],
  ];
  for (const [name, last, since, now, want] of cases) test(name, () => assert.deepEqual(judgeSilence(last, 1, 3000, since, now), want));
});

describe('monitor: the silence watch', () => {
  const link = {
    name: 'dsl',
    interface: 'eth0',
    probe: { targets: ['203.0.113.1', '203.0.113.2'], intervalMs: 1000, timeoutMs: 1000, quorum: 1, down: 3, up: 3 },
  } as unknown as LinkConfig;

  function watch(lastAnswer: Prober['lastAnswer']) {
    const clock = new FakeClock(0);
    const silences: Silence[] = [];
    const prober: Prober = { probe: () => new Promise(() => {}), lastAnswer };
    const m = new LinkMonitor(link, clock, prober, () => ({ address: '198.18.1.2' }), () => {}, (_l, s) => silences.push(s));
    m.start();
    return { clock, silences, m };
  }

  test('tells once when every target has been silent for down x interval, and again a window later', async () => {
    let answeredAt = 0;
    const { clock, silences, m } = watch(() => answeredAt);
    for (let t = 250; t <= 2000; t += 250) {
      await clock.advance(250);
      answeredAt = t;
    }
    // The last answer was at 2000: silent from then on.
    await clock.advance(4999 - 2000);
    assert.deepEqual(silences, []);
    await clock.advance(1);
    assert.deepEqual(silences, [{ forMs: 3000, at: 5000 }]);
    await clock.advance(2999);
    assert.equal(silences.length, 1);
    await clock.advance(1);
    assert.equal(silences.length, 2);
    m.stop();
    await clock.advance(10_000);
    assert.equal(silences.length, 2, 'stopped means quiet');
  });

  test('one answering target keeps the link from silence (quorum 1)', async () => {
    const { clock, silences } = watch((target) => (target === '203.0.113.1' ? 0 : clock.now()));
    await clock.advance(20_000);
    assert.deepEqual(silences, []);
  });

  test('a prober that cannot tell leaves judging to the rounds', async () => {
    const { clock, silences } = watch(() => undefined);
    await clock.advance(20_000);
    assert.deepEqual(silences, []);
  });
});
