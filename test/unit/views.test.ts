// The views step: what a changed view of a link does to its health, and what is told.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldView } from '../../src/core/views';
import { LinkHealth } from '../../src/model';
import { LinkView } from '../../src/net/desired';
import { CONFIG } from './fixtures';

const dsl = CONFIG.links[0];
const up: LinkHealth = { state: 'up', streak: 0, since: 0, reason: 'answers' };
const down: LinkHealth = { state: 'down', streak: 0, since: 0, reason: 'eth1 has no carrier or is down' };
const usable: LinkView = { link: dsl, source: '198.18.1.2', gateway: '198.18.1.1' };
const gone: LinkView = { link: dsl, gateway: '198.18.1.1', unusable: 'eth1 has no carrier or is down' };

describe('views: foldView', () => {
  const cases: [string, LinkView, LinkView, LinkHealth, boolean, string, string[], boolean][] = [
    ['carrier lost: down with the reason, told', usable, gone, up, true, 'down', ['warning: dsl: eth1 has no carrier or is down'], false],
    ['unusable at the first reading: down, not told', usable, gone, up, false, 'down', [], false],
    ['carrier back on the same address: still down until good rounds, probes rebound', { ...gone, source: '198.18.1.2' }, usable, down, true, 'down', ['notice: dsl: eth1 is usable again for IPv4 (source 198.18.1.2)'], true],
    ['back with a new address: no history, the first round decides', { ...gone, source: '198.18.1.7' }, usable, down, true, 'unknown', ['notice: dsl: eth1 is usable again for IPv4 (source 198.18.1.2)'], true],
    ['a new source address while usable: told', { ...usable, source: '198.18.1.7' }, usable, up, true, 'up', ['notice: dsl: source address 198.18.1.7 -> 198.18.1.2'], false],
  ];
  for (const [name, before, view, health, seen, state, notes, forget] of cases)
    it(name, () => {
      const r = foldView(4, dsl, before, view, health, seen, 1000);
      assert.equal(r.health.state, state);
      assert.deepEqual(r.notes.map((n) => `${n.level}: ${n.text}`), notes);
      assert.equal(r.forgetProbes, forget);
    });
});
