// The log limiter (src/core/logLimit.ts): the first lines of a window always pass, the rest are counted
// and told in one summary that says how many and the last of them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admit, flush, LimitedLines, LimitState } from '../../src/core/logLimit';

const S = { burst: 2, windowMs: 60_000 };

test('table: a storm of one kind of line, then quiet, then the next change', () => {
  let state: LimitState = new Map();
  const rows: [number, string, string, boolean, string[]][] = [
    [0, 'isp1 view', 'no carrier', true, []],
    [10, 'isp1 view', 'usable again', true, []],
    [20, 'isp1 view', 'no carrier', false, []],
    [30, 'isp2 view', 'no carrier', true, []], // another key is not limited by the first
    [40, 'isp1 view', 'usable again', false, []],
    // The window is over: the summary first, then the line of the next change, which is never dropped.
    [60_000, 'isp1 view', 'no carrier', true, ['2 more lines like this not logged in the last 60 s (isp1 view); the last: usable again']],
  ];
  for (const [now, key, text, log, summaries] of rows) {
    const v = admit(state, key, text, now, S);
    assert.equal(v.log, log, `${now} ${text}`);
    assert.deepEqual(v.summaries, summaries, `${now} ${text}`);
    state = v.state;
  }
});

test('flush: a window that ended tells its count without waiting for another line; one that counted nothing is silent', () => {
  let state: LimitState = new Map();
  for (let i = 0; i < 5; i++) state = admit(state, 'k', `line ${i}`, i * 1000, S).state;
  state = admit(state, 'quiet', 'once', 0, S).state;
  assert.deepEqual(flush(state, 59_999, S).summaries, []);
  const f = flush(state, 61_000, S);
  assert.deepEqual(f.summaries, ['3 more lines like this not logged in the last 61 s (k); the last: line 4']);
  assert.equal(f.state.size, 0);
});

test('LimitedLines: 3000 carrier changes in a minute are 3 lines and one summary', () => {
  const out: string[] = [];
  const log = { error: (m: string) => out.push(`error ${m}`), warning: (m: string) => out.push(`warning ${m}`), notice: (m: string) => out.push(`notice ${m}`), info: (m: string) => out.push(`info ${m}`) };
  const lines = new LimitedLines();
  for (let i = 0; i < 3000; i++) lines.say(log, i % 2 ? 'notice' : 'warning', 'isp1 view', i % 2 ? 'isp1: eth1 is usable again' : 'isp1: eth1 has no carrier or is down', i * 20);
  lines.flush(log, 60_000);
  assert.deepEqual(out, [
    'warning isp1: eth1 has no carrier or is down',
    'notice isp1: eth1 is usable again',
    'warning isp1: eth1 has no carrier or is down',
    'notice 2997 more lines like this not logged in the last 60 s (isp1 view); the last: isp1: eth1 is usable again',
  ]);
});
