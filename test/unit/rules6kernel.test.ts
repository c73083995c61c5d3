// `rules:` with IPv6 from/to: an `ip -6 rule`, read and reconciled in IPv6's ruleset; mixed families refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { desiredState, viewLinks } from '../../src/net/desired';
import { reconcile } from '../../src/net/plan';
import { applyCommands, observe, readScope } from '../../src/net/router';
import { FakeKernel } from './fakes';

const text = (rules: string) => `probe: { targets: [203.0.113.1] }
tables: { T1: 101, VOIP: 200 }
links:
  - { name: dsl, interface: eth1, table: T1, gateway: 198.18.1.1 }
rules:
${rules}`;

describe("rules: IPv6 on the fake kernel", () => {
  it('an IPv6 from or to makes an ip -6 rule, installed once and kept', async () => {
    const c = parseConfigText(text('  - { priority: 500, from: "2001:db8:1:100::/56", table: VOIP }\n  - { priority: 501, to: 198.51.100.0/24, table: VOIP }\n'), 'r.yaml');
    assert.equal(c.rules[0].family, 6);
    assert.equal(c.rules[1].family, undefined);
    assert.deepEqual(readScope(c).families, [4, 6]);
    const k = new FakeKernel().addInterface('eth1', [{ address: '198.18.1.2', prefixlen: 24 }]);
    let obs = await observe(k, readScope(c));
    const { errors } = await applyCommands(k, reconcile(desiredState(c, viewLinks(c, obs.interfaces), 'dsl'), obs.net, 72));
    assert.deepEqual(errors, []);
    assert.match(k.render(), /-6 .*500: from 2001:db8:1:100::\/56 lookup 200|500: from 2001:db8:1:100::\/56 lookup 200/);
    obs = await observe(k, readScope(c));
    assert.deepEqual(reconcile(desiredState(c, viewLinks(c, obs.interfaces), 'dsl'), obs.net, 72), []);
  });

  it('a rule mixing families is refused at FILE:LINE:COL', () => {
    assert.throws(() => parseConfigText(text('  - { priority: 500, from: 198.18.200.0/24, to: "2001:db8::/32", table: VOIP }\n'), 'r.yaml'), /r\.yaml:6:49: rules\[0\]\.to: to 2001:db8::\/32 is IPv6 but from 198\.18\.200\.0\/24 is IPv4/);
  });

  it('a prefix that is neither family is refused', () => {
    assert.throws(() => parseConfigText(text('  - { priority: 500, from: "2001:db8::/129", table: VOIP }\n'), 'r.yaml'), /rules\[0\]\.from/);
  });
});
