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
    ['gateway lost (router lifetime 0) and back: still down until good rounds, not the first round', { link: dsl, source: '198.18.1.2', unusable: 'gateway of eth1 unknown' }, usable, down, true, 'down', ['notice: dsl: eth1 is usable again for IPv4 (source 198.18.1.2)'], true],
    ['back with another gateway than it had: no history', { ...gone, source: '198.18.1.2', gateway: '198.18.1.9' }, usable, down, true, 'unknown', ['notice: dsl: eth1 is usable again for IPv4 (source 198.18.1.2)'], true],
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

describe('views: the reason follows the current view', () => {
  it('an address that came, with a gateway it cannot use: the reason is the new one, not "no IPv4 address"', () => {
    const before: LinkView = { link: dsl, gateway: '198.18.1.1', unusable: 'eth1 has no IPv4 address' };
    const now: LinkView = { link: dsl, source: '198.18.1.1', gateway: '198.18.1.1', unusable: "gateway 198.18.1.1 is eth1's own address" };
    const r = foldView(4, dsl, before, now, { ...down, reason: 'eth1 has no IPv4 address' }, true, 1000);
    assert.equal(r.health.state, 'down');
    assert.equal(r.health.reason, "gateway 198.18.1.1 is eth1's own address");
    assert.equal(r.health.since, 0, 'still down since it went down');
  });
  it('usable again: the reason says so and what it waits for, not the carrier it no longer lacks', () => {
    const r = foldView(4, dsl, { ...gone, source: '198.18.1.2' }, usable, down, true, 1000);
    assert.equal(r.health.reason, `eth1 is usable again; down until ${dsl.probe.up} good probe round${dsl.probe.up > 1 ? 's' : ''} in a row`);
  });
  it('IPv6: the warning names IPv6 once', () => {
    const six: LinkView = { link: dsl, family: 6, source: '2001:db8:1::2', unusable: 'gateway of eth1 unknown: no IPv6 default route through it in main' };
    const r = foldView(6, dsl, { link: dsl, family: 6, source: '2001:db8:1::2', gateway: 'fe80::1' }, six, up, true, 1000);
    assert.deepEqual(r.notes.map((n) => n.text), ['dsl: IPv6 gateway of eth1 unknown: no IPv6 default route through it in main']);
    assert.doesNotMatch(r.notes[0].text, /IPv6 IPv6/);
  });
});
