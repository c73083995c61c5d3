// Policies in haip.yaml: the issue's config builds the expected policies; every bad policy or traffic
// rule is reported at FILE:LINE:COL with its field, all at once, and nothing is built.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatProblem, parseConfigText } from '../../src/config/load';

const BASE = `probe: { targets: [203.0.113.1] }
tables: { T1: 101, T2: 102, T3: 103 }
links:
  - { name: dsl, interface: eth1, table: T1, gateway: 198.18.1.1 }
  - { name: cable, interface: eth2, table: T2, gateway: 198.18.2.1, share: 2 }
  - { name: lte, interface: ppp0, table: T3 }
`;

const ISSUE = `policies:
  - { name: spread, balance: [dsl, cable], by: source }
  - { name: voip, prefer: [cable, dsl] }
  - { name: no-lte, prefer: [dsl, cable], last_resort: unreachable }
traffic:
  - { proto: udp, dport: 5060-5061, policy: voip }
  - { from: 192.168.1.64/26, policy: no-lte }
  - { from: 192.168.1.0/24, policy: spread }
`;

function problems(text: string): string[] {
  try {
    parseConfigText(text, 'haip.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.problems.map(formatProblem);
  }
  assert.fail('the config was accepted');
}

describe('policies in the config', () => {
  it('builds the issue\'s example with its defaults', () => {
    const c = parseConfigText(BASE + ISSUE + 'default_policy: spread\n', 'haip.yaml');
    assert.deepEqual(c.policies, [
      // Neither list names lte: unreachable is their default last resort.
      { name: 'spread', kind: 'balance', links: ['dsl', 'cable'], by: 'source', lastResort: 'unreachable', failback: 'keep' },
      { name: 'voip', kind: 'prefer', links: ['cable', 'dsl'], by: 'source', lastResort: 'unreachable', failback: 'keep' },
      { name: 'no-lte', kind: 'prefer', links: ['dsl', 'cable'], by: 'source', lastResort: 'unreachable', failback: 'keep' },
    ]);
    assert.deepEqual(c.traffic, [
      { proto: 'udp', dport: [5060, 5061], policy: 'voip' },
      { from: '192.168.1.64/26', policy: 'no-lte' },
      { from: '192.168.1.0/24', policy: 'spread' },
    ]);
    assert.equal(c.defaultPolicy, 'spread');
    assert.equal(c.links[1].share, 2);
  });

  it('a list naming every link follows the main default route by default', () => {
    const c = parseConfigText(BASE + 'policies:\n  - { name: all, prefer: [lte, dsl, cable] }\n', 'haip.yaml');
    assert.equal(c.policies![0].lastResort, 'default');
  });

  it('no policies: nothing in the Config', () => {
    const c = parseConfigText(BASE, 'haip.yaml');
    assert.equal(c.policies, undefined);
    assert.equal(c.traffic, undefined);
  });

  const cases: { name: string; text: string; want: string[] }[] = [
    {
      name: 'an unknown link, a link named twice, a link without a table',
      text: BASE.replace('table: T3 }', '}') + 'policies:\n  - { name: a, balance: [dsl, dls, dsl, lte] }\n',
      want: [
        'haip.yaml:8:31: policies[0].balance[1]: unknown link "dls" (links: dsl, cable, lte)',
        'haip.yaml:8:36: policies[0].balance[2]: link "dsl" is named twice',
        'haip.yaml:8:41: policies[0].balance[3]: link "lte" has no table: a policy routes its traffic by the link\'s table',
      ],
    },
    {
      name: 'an empty list, both kinds, neither kind',
      text: BASE + 'policies:\n  - { name: a, prefer: [] }\n  - { name: b, prefer: [dsl], balance: [dsl] }\n  - { name: c }\n',
      want: [
        'haip.yaml:8:24: policies[0].prefer: an empty list: name at least one link',
        'haip.yaml:9:5: policies[1]: give balance or prefer, not both',
        'haip.yaml:10:5: policies[2]: needs balance: [LINKS] or prefer: [LINKS]',
      ],
    },
    {
      name: 'unknown policies in traffic and default_policy, a duplicate name',
      text: BASE + 'policies:\n  - { name: a, prefer: [dsl] }\n  - { name: a, prefer: [cable] }\ntraffic:\n  - { from: 10.0.0.0/8, policy: b }\ndefault_policy: c\n',
      want: [
        'haip.yaml:9:13: policies[1].name: duplicate policy name "a" (also policies[0])',
        'haip.yaml:11:33: traffic[0].policy: unknown policy "b" (policies: a)',
        'haip.yaml:12:17: default_policy: unknown policy "c" (policies: a)',
      ],
    },
    {
      name: 'a port range upside down, ports past 65535, ports without a protocol that has them',
      text: BASE + 'policies:\n  - { name: a, prefer: [dsl] }\ntraffic:\n  - { proto: udp, dport: 5061-5060, policy: a }\n  - { proto: tcp, sport: 1-70000, policy: a }\n  - { dport: 443, policy: a }\n',
      want: [
        'haip.yaml:10:26: traffic[0].dport: the range 5061-5060 is upside down: write 5060-5061',
        'haip.yaml:11:26: traffic[1].sport: ports run from 1 to 65535, not 1-70000',
        'haip.yaml:12:14: traffic[2].dport: dport needs proto tcp, udp or sctp',
      ],
    },
    {
      name: 'families that disagree',
      text: BASE + 'policies:\n  - { name: a, prefer: [dsl] }\ntraffic:\n  - { from: 10.0.0.0/8, to: "2001:db8::/32", policy: a }\n  - { to: "2001:db8::1", proto: icmp, policy: a }\n  - { from: 10.0.0.300, policy: a }\n',
      want: [
        'haip.yaml:10:29: traffic[0].to: from is IPv4 and to IPv6: a rule matches one family',
        'haip.yaml:11:33: traffic[1].proto: icmp with IPv6 addresses: IPv6 uses icmpv6',
        'haip.yaml:12:13: traffic[2].from: must be an IPv4 or IPv6 address or prefix such as 198.51.100.0/24 or 2001:db8:1:100::/56',
      ],
    },
    {
      name: 'marks that do not fit mark_mask say how many are needed',
      text: BASE + 'mark_mask: 0x7\npolicies:\n  - { name: a, balance: [dsl, cable] }\n  - { name: b, prefer: [dsl, cable] }\n',
      want: ['haip.yaml:7:12: mark_mask: policies need 8 marks (3 for the links, 4 for the links of the policies, 1 for refused traffic), but mark_mask 0x7 holds 7: widen mark_mask'],
    },
    {
      name: 'by and failback only where they mean something',
      text: BASE + 'policies:\n  - { name: a, prefer: [dsl], by: connection }\n  - { name: b, balance: [dsl], failback: move }\n',
      want: [
        'haip.yaml:8:35: policies[0].by: by is for balance policies: prefer sends everything to one link',
        'haip.yaml:9:42: policies[1].failback: failback: move is for prefer policies: a balance policy gives a returning link exactly its own hosts back',
      ],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(problems(c.text), c.want));
});
