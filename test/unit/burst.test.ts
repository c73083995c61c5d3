// Kernel-event coalescing (src/core/burst.ts): the first event after a quiet spell acts at once, a burst
// folds into one pass per gap, the gap doubles while events keep coming and resets after a quiet spell.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BURST_MAX_GAP_MS, BURST_MIN_GAP_MS, eventPassAt, eventPassStarted, quietBurst } from '../../src/core/burst';

test('the first event after a quiet spell is due at once', () => {
  assert.equal(eventPassAt(quietBurst(), 5000), 5000);
  const b = eventPassStarted(quietBurst(), 5000);
  assert.deepEqual(b, { lastAt: 5000, gap: BURST_MIN_GAP_MS, since: 5000 });
  // Quiet for longer than the gap: at once again, and the gap stays the minimum.
  assert.equal(eventPassAt(b, 6000), 6000);
  assert.deepEqual(eventPassStarted(b, 6000), { lastAt: 6000, gap: BURST_MIN_GAP_MS, since: 6000 });
});

test('a storm: events every 10 ms for 60 s cost a bounded number of passes, the gap capped', () => {
  let b = quietBurst();
  let due: number | undefined;
  const passes: number[] = [];
  for (let now = 0; now <= 60_000; now += 10) {
    // An event at every step; the timer fires at the first step at or after its time.
    due ??= eventPassAt(b, now);
    if (now >= due) {
      b = eventPassStarted(b, now);
      passes.push(now);
      due = undefined;
    }
  }
  assert.equal(passes[0], 0, 'the first event acts at once');
  assert.deepEqual(passes.slice(1, 4), [100, 200, 300], 'the first seconds at the minimum gap (an uplink added, echoes of haip\'s own changes)');
  assert.deepEqual(passes.slice(30, 34), [3000, 3200, 3600, 4400], 'then a doubling gap');
  assert.ok(passes.length <= 45, `${passes.length} passes`);
  for (let i = 1; i < passes.length; i++) assert.ok(passes[i] - passes[i - 1] <= BURST_MAX_GAP_MS);
  assert.equal(b.gap, BURST_MAX_GAP_MS);
  // After the storm, twice the gap of quiet resets it: the next carrier loss acts at once.
  const later = b.lastAt + 2 * BURST_MAX_GAP_MS;
  assert.equal(eventPassAt(b, later), later);
  assert.equal(eventPassStarted(b, later).gap, BURST_MIN_GAP_MS);
});

test('table: when an event is due and what the gap becomes', () => {
  const rows: { b: { lastAt: number; gap: number; since: number }; now: number; at: number; gap: number }[] = [
    { b: { lastAt: 0, gap: 100, since: 0 }, now: 50, at: 100, gap: 100 },
    { b: { lastAt: 900, gap: 100, since: 0 }, now: 950, at: 1000, gap: 100 },
    { b: { lastAt: 2900, gap: 100, since: 0 }, now: 2950, at: 3000, gap: 200 },
    { b: { lastAt: 4000, gap: 100, since: 0 }, now: 4150, at: 4150, gap: 200 },
    { b: { lastAt: 4000, gap: 100, since: 0 }, now: 4200, at: 4200, gap: BURST_MIN_GAP_MS },
    { b: { lastAt: 9000, gap: 8000, since: 0 }, now: 9100, at: 17000, gap: BURST_MAX_GAP_MS },
  ];
  for (const r of rows) {
    assert.equal(eventPassAt(r.b, r.now), r.at, JSON.stringify(r));
    assert.equal(eventPassStarted(r.b, Math.max(r.now, r.at)).gap, r.gap, JSON.stringify(r));
  }
});
