// Health as a value: rounds, silences and damping folded into a link's record, table-driven.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldDamping, foldRound, foldSilence } from '../../src/health/fold';
import { DAMPING_DEFAULTS, undamped } from '../../src/health/damping';
import { LinkHealth, LinkState } from '../../src/model';
import { RoundResult } from '../../src/health/monitor';
import { CONFIG } from './fixtures';

const dsl = CONFIG.links[0];
const h = (state: LinkState): LinkHealth => ({ state, streak: 0, since: 0, reason: state });
const round = (ok: boolean): RoundResult => ({ ok, answered: ok ? 1 : 0, total: 1, perTarget: [], at: 0 } as unknown as RoundResult);

describe('fold: rounds, silences, damping', () => {
  it('a link that cannot be probed is down at once, with the reason', () => {
    const r = foldRound(h('up'), round(true), dsl, [], 'its route cannot be installed in table 101: Error', 10);
    assert.equal(r.state, 'down');
    assert.equal(r.reason, 'its route cannot be installed in table 101: Error');
  });
  it('the first round decides from unknown', () => {
    assert.equal(foldRound(h('unknown'), round(true), dsl, [], undefined, 10).state, 'up');
    assert.equal(foldRound(h('unknown'), round(false), dsl, [], undefined, 10).state, 'down');
  });
  const silences: [LinkState, LinkState | null][] = [
    ['up', 'down'],
    ['degraded', 'down'],
    ['down', null],
    ['unknown', null],
  ];
  for (const [from, to] of silences)
    it(`a silence takes ${from} to ${to ?? 'nothing'}`, () => {
      assert.equal(foldSilence(h(from), dsl, { forMs: 1500, at: 5 } as never)?.state ?? null, to);
    });
  it('damping counts an answering link going down, nothing else', () => {
    const d = undamped(0);
    assert.notDeepEqual(foldDamping(d, h('up'), h('down'), 10, DAMPING_DEFAULTS), d);
    assert.deepEqual(foldDamping(d, h('unknown'), h('down'), 10, DAMPING_DEFAULTS), d);
    assert.deepEqual(foldDamping(d, h('down'), h('up'), 10, DAMPING_DEFAULTS), d);
  });
});
