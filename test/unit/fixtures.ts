// Shared test data: the configs and the named router states with their golden `ip` renderings.
import { ConfigError, parseConfigText } from '../../src/config/load';
import { Config } from '../../src/model';
import { StatusDoc } from '../../src/status';
import { FakeAddress, FakeKernel } from './fakes';

export const CONFIG = parseConfigText(
  `probe: { targets: [203.0.113.1, 203.0.113.2] }
tables: { T1: 101, T2: 102 }
links:
  - { name: dsl, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1 }
  - { name: lte, interface: ppp0, weight: 2, table: T2 }
rules:
  - { priority: 5001, fwmark: 1, table: T1 }
  - { priority: 5002, fwmark: 2, mask: 255, table: T2 }
`,
  'haip.yaml',
);

/** The original haip's mode: no tables, no rules, only the main default route. */
export const LEGACY = parseConfigText(
  `probe: { targets: [203.0.113.1] }
links:
  - { name: dsl, interface: eth1, gateway: 198.18.1.1 }
  - { name: lte, interface: ppp0 }
`,
  'legacy.yaml',
);

export type IfSpec = Record<string, { address?: FakeAddress; carrier?: boolean }>;

export const ETH1: FakeAddress = { address: '198.18.1.2', prefixlen: 24 };
export const PPP0: FakeAddress = { address: '198.18.9.2', prefixlen: 32, peer: '198.18.9.1' };

export interface NamedState {
  config: Config;
  interfaces: IfSpec;
  active: string | null;
  golden: string;
}

export const KERNEL_RULES = ['0: from all lookup local', '32766: from all lookup main', '32767: from all lookup default'];
export const HAIP_RULES = [
  '5001: from all fwmark 0x1 lookup 101 proto 72',
  '5002: from all fwmark 0x2/0xff lookup 102 proto 72',
  '10000: from all lookup main suppress_prefixlength 0 proto 72',
  // Replies by the arrival uplink: every link with a table, sticky or not.
  '11010: from all fwmark 0x1/0xff lookup 101 proto 72',
  '11020: from all fwmark 0x2/0xff lookup 102 proto 72',
];
export function golden(rules: string[], routes: string[]): string {
  const all = [...KERNEL_RULES, ...rules].sort((a, b) => parseInt(a) - parseInt(b));
  return ['# ip rule', ...all, '# ip route show table all', ...routes].join('\n') + '\n';
}

export const STATES: Record<string, NamedState> = {
  'no uplink interfaces yet': {
    config: CONFIG,
    interfaces: {},
    active: null,
    golden: golden(HAIP_RULES, []),
  },
  'dsl only': {
    config: CONFIG,
    interfaces: { eth1: { address: ETH1 } },
    active: 'dsl',
    golden: golden(
      [...HAIP_RULES, '10005: from all oif eth1 lookup 101 proto 72', '10010: from 198.18.1.2 lookup 101 proto 72'],
      [
        'default via 198.18.1.1 dev eth1 proto 72',
        '198.18.1.0/24 dev eth1 proto kernel scope link src 198.18.1.2',
        'default via 198.18.1.1 dev eth1 table 101 proto 72',
        'unreachable default table 101 proto 72 metric 4294967295',
        '198.18.1.0/24 dev eth1 table 101 proto 72 scope link src 198.18.1.2',
      ],
    ),
  },
  'both up, dsl active': {
    config: CONFIG,
    interfaces: { eth1: { address: ETH1 }, ppp0: { address: PPP0 } },
    active: 'dsl',
    golden: golden(
      [...HAIP_RULES, '10005: from all oif eth1 lookup 101 proto 72', '10010: from 198.18.1.2 lookup 101 proto 72', '10005: from all oif ppp0 lookup 102 proto 72', '10020: from 198.18.9.2 lookup 102 proto 72'],
      [
        'default via 198.18.1.1 dev eth1 proto 72',
        '198.18.1.0/24 dev eth1 proto kernel scope link src 198.18.1.2',
        '198.18.9.1 dev ppp0 proto kernel scope link src 198.18.9.2',
        'default via 198.18.1.1 dev eth1 table 101 proto 72',
        'unreachable default table 101 proto 72 metric 4294967295',
        '198.18.1.0/24 dev eth1 table 101 proto 72 scope link src 198.18.1.2',
        'default dev ppp0 table 102 proto 72 scope link',
        'unreachable default table 102 proto 72 metric 4294967295',
        '198.18.9.1 dev ppp0 table 102 proto 72 scope link src 198.18.9.2',
      ],
    ),
  },
  'both up, lte active (point-to-point: default dev ppp0 scope link)': {
    config: CONFIG,
    interfaces: { eth1: { address: ETH1 }, ppp0: { address: PPP0 } },
    active: 'lte',
    golden: golden(
      [...HAIP_RULES, '10005: from all oif eth1 lookup 101 proto 72', '10010: from 198.18.1.2 lookup 101 proto 72', '10005: from all oif ppp0 lookup 102 proto 72', '10020: from 198.18.9.2 lookup 102 proto 72'],
      [
        'default dev ppp0 proto 72 scope link',
        '198.18.1.0/24 dev eth1 proto kernel scope link src 198.18.1.2',
        '198.18.9.1 dev ppp0 proto kernel scope link src 198.18.9.2',
        'default via 198.18.1.1 dev eth1 table 101 proto 72',
        'unreachable default table 101 proto 72 metric 4294967295',
        '198.18.1.0/24 dev eth1 table 101 proto 72 scope link src 198.18.1.2',
        'default dev ppp0 table 102 proto 72 scope link',
        'unreachable default table 102 proto 72 metric 4294967295',
        '198.18.9.1 dev ppp0 table 102 proto 72 scope link src 198.18.9.2',
      ],
    ),
  },
  'lte only': {
    config: CONFIG,
    interfaces: { ppp0: { address: PPP0 } },
    active: 'lte',
    golden: golden(
      [...HAIP_RULES, '10005: from all oif ppp0 lookup 102 proto 72', '10020: from 198.18.9.2 lookup 102 proto 72'],
      [
        'default dev ppp0 proto 72 scope link',
        '198.18.9.1 dev ppp0 proto kernel scope link src 198.18.9.2',
        'default dev ppp0 table 102 proto 72 scope link',
        'unreachable default table 102 proto 72 metric 4294967295',
        '198.18.9.1 dev ppp0 table 102 proto 72 scope link src 198.18.9.2',
      ],
    ),
  },
  'ppp0 without an address yet': {
    config: CONFIG,
    interfaces: { eth1: { address: ETH1 }, ppp0: {} },
    active: 'dsl',
    golden: golden(
      [...HAIP_RULES, '10005: from all oif eth1 lookup 101 proto 72', '10010: from 198.18.1.2 lookup 101 proto 72'],
      [
        'default via 198.18.1.1 dev eth1 proto 72',
        '198.18.1.0/24 dev eth1 proto kernel scope link src 198.18.1.2',
        'default via 198.18.1.1 dev eth1 table 101 proto 72',
        'unreachable default table 101 proto 72 metric 4294967295',
        '198.18.1.0/24 dev eth1 table 101 proto 72 scope link src 198.18.1.2',
      ],
    ),
  },
  'ppp0 redialled with a new address': {
    config: CONFIG,
    interfaces: { eth1: { address: ETH1 }, ppp0: { address: { address: '198.18.9.7', prefixlen: 32, peer: '198.18.9.1' } } },
    active: 'lte',
    golden: golden(
      [...HAIP_RULES, '10005: from all oif eth1 lookup 101 proto 72', '10010: from 198.18.1.2 lookup 101 proto 72', '10005: from all oif ppp0 lookup 102 proto 72', '10020: from 198.18.9.7 lookup 102 proto 72'],
      [
        'default dev ppp0 proto 72 scope link',
        '198.18.1.0/24 dev eth1 proto kernel scope link src 198.18.1.2',
        '198.18.9.1 dev ppp0 proto kernel scope link src 198.18.9.7',
        'default via 198.18.1.1 dev eth1 table 101 proto 72',
        'unreachable default table 101 proto 72 metric 4294967295',
        '198.18.1.0/24 dev eth1 table 101 proto 72 scope link src 198.18.1.2',
        'default dev ppp0 table 102 proto 72 scope link',
        'unreachable default table 102 proto 72 metric 4294967295',
        '198.18.9.1 dev ppp0 table 102 proto 72 scope link src 198.18.9.7',
      ],
    ),
  },
  'eth1 lost carrier, lte active': {
    config: CONFIG,
    interfaces: { eth1: { address: ETH1, carrier: false }, ppp0: { address: PPP0 } },
    active: 'lte',
    golden: golden(
      [...HAIP_RULES, '10005: from all oif ppp0 lookup 102 proto 72', '10020: from 198.18.9.2 lookup 102 proto 72'],
      [
        'default dev ppp0 proto 72 scope link',
        '198.18.1.0/24 dev eth1 proto kernel scope link src 198.18.1.2 linkdown',
        '198.18.9.1 dev ppp0 proto kernel scope link src 198.18.9.2',
        'default dev ppp0 table 102 proto 72 scope link',
        'unreachable default table 102 proto 72 metric 4294967295',
        '198.18.9.1 dev ppp0 table 102 proto 72 scope link src 198.18.9.2',
      ],
    ),
  },
  'legacy config (no table): no rule, only the main default route': {
    config: LEGACY,
    interfaces: { eth1: { address: ETH1 }, ppp0: { address: PPP0 } },
    active: 'dsl',
    golden: golden(
      [],
      [
        'default via 198.18.1.1 dev eth1 proto 72',
        '198.18.1.0/24 dev eth1 proto kernel scope link src 198.18.1.2',
        '198.18.9.1 dev ppp0 proto kernel scope link src 198.18.9.2',
      ],
    ),
  },
  'legacy config, lte active': {
    config: LEGACY,
    interfaces: { eth1: { address: ETH1 }, ppp0: { address: PPP0 } },
    active: 'lte',
    golden: golden(
      [],
      [
        'default dev ppp0 proto 72 scope link',
        '198.18.1.0/24 dev eth1 proto kernel scope link src 198.18.1.2',
        '198.18.9.1 dev ppp0 proto kernel scope link src 198.18.9.2',
      ],
    ),
  },
};

/** Makes the fake kernel's interfaces match the spec, as the world outside haip would. */
export function setInterfaces(k: FakeKernel, spec: IfSpec) {
  for (const name of [...k.interfaces.keys()]) if (name !== 'lo' && !(name in spec)) k.removeInterface(name);
  for (const [name, s] of Object.entries(spec)) {
    if (!k.interfaces.has(name)) k.addInterface(name);
    const cur = k.interfaces.get(name)!.addresses;
    if (JSON.stringify(cur) !== JSON.stringify(s.address ? [s.address] : [])) k.setAddress(name, s.address ?? null);
    k.setCarrier(name, s.carrier ?? true);
  }
}

/** A status document: dsl active and up, lte down. */
export const statusDoc = (over: Partial<StatusDoc> = {}): StatusDoc => ({
  active: 'dsl',
  since: '2026-01-01T00:00:00.000Z',
  pid: 1,
  updated: '2026-01-01T00:01:00.000Z',
  switches: 1,
  links: [
    { name: 'dsl', interface: 'eth1', state: 'up', since: '2026-01-01T00:00:00.000Z', reason: '', rtt_ms: 12.345, loss: 0, weight: 1, table: 101, source: '198.18.1.2', gateway: '198.18.1.1', targets: [], recent_rtt_ms: [10, 20, null, 30], rounds: 7 },
    { name: 'lte', interface: 'ppp0', state: 'down', since: '2026-01-01T00:00:30.000Z', reason: '', rtt_ms: null, loss: 1, weight: 2, table: 102, source: null, gateway: null, targets: [], recent_rtt_ms: [], rounds: 7 },
  ],
  ...over,
});

/** Two links and three policies (balance, prefer with failback: move, prefer of one link that refuses), three traffic rules. */
export const POLICY_YAML = `probe: { targets: [203.0.113.1] }
tables: { T1: 101, T2: 102 }
links:
  - { name: dsl, interface: eth1, table: T1, gateway: 198.18.1.1 }
  - { name: cable, interface: eth2, table: T2, gateway: 198.18.2.1 }
policies:
  - { name: spread, balance: [dsl, cable] }
  - { name: voip, prefer: [cable, dsl], failback: move }
  - { name: no-cable, prefer: [dsl] }
traffic:
  - { proto: udp, dport: 5060-5061, policy: voip }
  - { from: 192.168.1.64/26, policy: no-cable }
  - { from: 192.168.1.0/24, policy: spread }
`;

/** A config text's problems as "WHERE: PATH: MESSAGE", or none when it loads. */
export function configProblems(text: string, file = 'h.yaml'): string[] {
  try {
    parseConfigText(text, file);
  } catch (err) {
    return (err as ConfigError).problems.map((p) => `${p.where}: ${p.path}: ${p.message}`);
  }
  return [];
}
