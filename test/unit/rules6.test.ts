// rules: with IPv6 from/to: the family follows the addresses, a mixed pair is refused at its position.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isIPv6Prefix, parseConfigText } from '../../src/config/load';
import { configProblems } from './fixtures';
import { desiredFamilies, desiredState } from '../../src/net/desired';
import { ruleToString } from '../../src/model';

const base = 'tables: { T1: 101 }\nprobe: { targets: [203.0.113.1] }\nlinks:\n  - { name: a, interface: eth1, table: T1 }\nrules:\n';

const problems = configProblems;

describe('rules: IPv6', () => {
  const cases: { name: string; rule: string; want: string[] }[] = [
    { name: 'IPv6 from', rule: '{ priority: 5001, table: T1, from: "2001:db8:1:100::/56" }', want: ['-6 priority 5001 from 2001:db8:1:100::/56 lookup 101 proto 72'] },
    { name: 'IPv6 to', rule: '{ priority: 5002, table: T1, to: "2001:db8:ff::1" }', want: ['-6 priority 5002 from all to 2001:db8:ff::1 lookup 101 proto 72'] },
    { name: 'IPv6 both, with fwmark', rule: '{ priority: 5003, table: T1, from: "2001:db8:2::/48", to: "2001:db8:ff::/64", fwmark: 7 }', want: ['-6 priority 5003 from 2001:db8:2::/48 to 2001:db8:ff::/64 fwmark 0x7 lookup 101 proto 72'] },
    { name: 'IPv4 stays IPv4', rule: '{ priority: 5004, table: T1, from: 198.51.100.0/24 }', want: ['priority 5004 from 198.51.100.0/24 lookup 101 proto 72'] },
    { name: 'no address: IPv4, as before', rule: '{ priority: 5005, table: T1, iif: lo }', want: ['priority 5005 from all iif lo lookup 101 proto 72'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const config = parseConfigText(base + `  - ${c.rule}\n`, 'h.yaml');
      const rules = desiredState(config, [], null).rules.filter((r) => r.priority < 10000);
      assert.deepEqual(rules.map((r) => ruleToString(r).replace(/lookup \S+/, (m) => m.replace('T1', '101'))), c.want);
    });
  }

  it('a mixed rule is an error at FILE:LINE:COL of its to', () => {
    assert.deepEqual(problems(base + '  - { priority: 5001, table: T1, from: 198.51.100.0/24, to: "2001:db8::1" }\n'), [
      'h.yaml:6:61: rules[0].to: to 2001:db8::1 is IPv6 but from 198.51.100.0/24 is IPv4: a rule matches one family; write one rule per family',
    ]);
    assert.deepEqual(problems(base + '  - { priority: 5001, table: T1, from: "2001:db8::/32", to: 203.0.113.1 }\n'), [
      'h.yaml:6:61: rules[0].to: to 203.0.113.1 is IPv4 but from 2001:db8::/32 is IPv6: a rule matches one family; write one rule per family',
    ]);
  });

  it('refuses what is no address or prefix', () => {
    for (const bad of ['"2001:db8::/129"', '"fe80::1%eth0"', '"2001:db8::1/"', '198.51.100.0/33']) {
      const got = problems(base + `  - { priority: 5001, table: T1, from: ${bad} }\n`);
      assert.equal(got.length, 1, `${bad}: ${got.join('; ')}`);
      assert.match(got[0], /rules\[0\]\.from: must be an IPv4 or IPv6 address or prefix such as/);
    }
  });

  it('isIPv6Prefix', () => {
    const table: [string, boolean][] = [
      ['2001:db8::', true], ['2001:db8::/32', true], ['::/0', true], ['2001:db8::/128', true],
      ['2001:db8::/129', false], ['fe80::1%eth0', false], ['198.51.100.1', false], ['2001:db8::/', false], ['', false],
    ];
    for (const [s, want] of table) assert.equal(isIPv6Prefix(s), want, s);
  });
});

describe('links[].prefixes6: delegated prefixes', () => {
  const cfg = (link: string) =>
    `tables: { T1: 101 }\nprobe: { targets: [203.0.113.1, "2001:db8:ff::1"] }\nlinks:\n  - { name: a, interface: eth1, ${link} }\n`;
  const view = { link: { name: 'a' }, family: 6 as const, source: '2001:db8:1::2', connected: '2001:db8:1::/64', gateway: 'fe80::1' };

  it('a source rule per prefix into the link\'s table, in the kernel\'s form, beside the WAN\'s', () => {
    const config = parseConfigText(cfg('table: T1, prefixes6: ["2001:db8:1:100::/56", "2001:DB8:1:0200:0::1/56"]'), 'h.yaml');
    const state = desiredFamilies(config, [{ family: 6, views: [{ ...view, link: config.links[0], prefixes6: config.links[0].prefixes6!.map((prefix) => ({ prefix })) }], active: 'a' }]);
    assert.deepEqual(
      state.rules.filter((r) => r.from).map(ruleToString),
      ['-6 priority 10010 from 2001:db8:1::/64 lookup 101 proto 72', '-6 priority 10010 from 2001:db8:1:100::/56 lookup 101 proto 72', '-6 priority 10010 from 2001:db8:1:200::/56 lookup 101 proto 72'],
    );
  });

  it('refused without a table, without IPv6 targets, or when no IPv6 prefix', () => {
    assert.deepEqual(problems(cfg('prefixes6: ["2001:db8:1:100::/56"]')), [
      'h.yaml:4:44: links[0].prefixes6: link "a" has no table: delegated prefixes are routed by source rules into the link\'s table; add a table',
    ]);
    assert.match(problems(cfg('table: T1, prefixes6: ["2001:db8:1:100::/56"]').replace(', "2001:db8:ff::1"', ''))[0], /links\[0\]\.prefixes6: link "a" has no IPv6 probe targets/);
    for (const bad of ['"2001:db8:1:100::"', '198.51.100.0/24', '"2001:db8::/129"']) {
      assert.match(problems(cfg(`table: T1, prefixes6: [${bad}]`))[0] ?? '', /links\[0\]\.prefixes6\[0\]: must be an IPv6 prefix such as 2001:db8:1:100::\/56/, bad);
    }
  });
});
