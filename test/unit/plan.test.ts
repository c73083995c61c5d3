// What haip wants in the kernel and the commands that get it there, checked as golden text: named states
// applied to a fake kernel, in random order, always render the same (Tailscale's TestRouterStates).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { Config, NetState, Route, routeToString, ruleToString } from '../../src/model';
import { desiredState, networkOf, viewLink, viewLinks } from '../../src/net/desired';
import { Command, commandToString } from '../../src/net/iproute';
import { reconcile } from '../../src/net/plan';
import { applyCommands, observe, readScope } from '../../src/net/router';
import { FakeKernel } from './fakes';
import { CONFIG, ETH1, KERNEL_RULES, LEGACY, PPP0, setInterfaces, STATES } from './fixtures';

/** One reconcile pass as the daemon makes it: read, compute, apply. */
async function reconcileOnce(k: FakeKernel, config: Config, active: string | null): Promise<Command[]> {
  const obs = await observe(k, readScope(config));
  const keep = obs.net.routes.find((r) => r.table === config.mainTable && r.dst === 'default' && r.protocol === config.protocol);
  const desired = desiredState(config, viewLinks(config, obs.interfaces), active, keep);
  const commands = reconcile(desired, obs.net, config.protocol);
  const result = await applyCommands(k, commands);
  assert.deepEqual(result.errors.map((e) => e.message), []);
  return commands;
}

async function enter(k: FakeKernel, name: string): Promise<Command[]> {
  const s = STATES[name];
  setInterfaces(k, s.interfaces);
  return reconcileOnce(k, s.config, s.active);
}

/** A small seeded PRNG so a failing order can be replayed. */
function rng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

describe('router states: golden renderings', () => {
  for (const name of Object.keys(STATES)) {
    it(`${name}: from empty`, async () => {
      const k = new FakeKernel();
      await enter(k, name);
      assert.equal(k.render(), STATES[name].golden);
      assert.deepEqual(k.unknown, []);
    });
    it(`${name}: a second reconcile plans nothing`, async () => {
      const k = new FakeKernel();
      await enter(k, name);
      k.clearLog();
      assert.deepEqual((await enter(k, name)).map(commandToString), []);
      assert.deepEqual(k.mutations, []);
    });
  }

  for (const seed of [1, 2, 3, 42, 2026]) {
    it(`replaying every state in random order (seed ${seed}) always renders the state's golden`, async () => {
      const rand = rng(seed);
      const names = Object.keys(STATES);
      const k = new FakeKernel();
      const path: string[] = [];
      for (let i = 0; i < 40; i++) {
        const name = names[Math.floor(rand() * names.length)];
        path.push(name);
        await enter(k, name);
        assert.equal(k.render(), STATES[name].golden, `after ${path.join(' -> ')}`);
        assert.deepEqual(await reconcileOnce(k, STATES[name].config, STATES[name].active), [], `converged after ${path.join(' -> ')}`);
      }
      assert.deepEqual(k.unknown, []);
    });
  }

  it('switching the active link replaces the main default route and touches nothing else', async () => {
    const k = new FakeKernel();
    await enter(k, 'both up, dsl active');
    k.clearLog();
    const cmds = await enter(k, 'both up, lte active (point-to-point: default dev ppp0 scope link)');
    assert.deepEqual(cmds.map(commandToString), ['ip -4 route replace default dev ppp0 scope link proto 72 table 254']);
  });

  it('no link chosen keeps haip\'s current main default route', async () => {
    const k = new FakeKernel();
    await enter(k, 'both up, lte active (point-to-point: default dev ppp0 scope link)');
    assert.deepEqual(await reconcileOnce(k, CONFIG, null), []);
    assert.equal(k.render(), STATES['both up, lte active (point-to-point: default dev ppp0 scope link)'].golden);
  });
});

describe('reconcile: ownership and order', () => {
  function world(): FakeKernel {
    const k = new FakeKernel();
    setInterfaces(k, { eth1: { address: ETH1 }, ppp0: { address: PPP0 } });
    // Other programs' routes and rules: dhclient's default at metric 100, a static route, an admin's rules.
    k.addRawRoute({ dst: 'default', gateway: '198.18.1.1', dev: 'eth1', protocol: 16, metric: 100 });
    k.addRawRoute({ dst: '198.51.100.0/24', gateway: '198.18.1.1', dev: 'eth1', protocol: 4 });
    k.addRawRoute({ table: 101, dst: '203.0.113.0/24', gateway: '198.18.1.1', dev: 'eth1', protocol: 4 });
    k.addRawRule({ priority: 100, table: 7, fwmark: 9, fwmask: 0xffffffff });
    k.addRawRule({ priority: 10010, table: 101, src: { addr: '198.51.100.9', len: 32 }, protocol: 4 });
    k.addRawRule({ priority: 20000, table: 101, protocol: 3 });
    return k;
  }
  const foreign = (k: FakeKernel) =>
    k
      .render()
      .split('\n')
      .filter((l) => l && !l.startsWith('#') && !/proto (72|kernel)\b/.test(l) && !KERNEL_RULES.includes(l));

  it('never touches routes or rules of another protocol', async () => {
    const k = world();
    const before = foreign(k);
    assert.equal(before.length, 6);
    // States that keep both interfaces: removing one would let the kernel drop other programs' routes too.
    const names = Object.keys(STATES).filter((n) => 'eth1' in STATES[n].interfaces && 'ppp0' in STATES[n].interfaces);
    assert.ok(names.length >= 5);
    for (const name of [...names, ...names.reverse()]) {
      await enter(k, name);
      assert.deepEqual(foreign(k).map((l) => l.replace(/ linkdown$/, '')), before, name);
    }
    assert.ok(k.mutations.length > 0);
    for (const m of k.mutations) if (m.includes(' del ')) assert.match(m, /(proto|protocol) 72\b/, m);
  });

  it('reads only what haip owns: its tables and main\'s default routes, never `table all` or a foreign table', async () => {
    const k = world();
    // A "BGP table" in 200, and one of the config's extra rules pointing at another table (7) that is not haip's.
    for (let i = 0; i < 50; i++) k.addRawRoute({ table: 200, dst: `198.51.${i}.0/24`, gateway: '198.18.1.1', dev: 'eth1', protocol: 186 });
    k.addRawRoute({ table: 7, dst: '198.51.100.0/24', gateway: '198.18.1.1', dev: 'eth1', protocol: 4 });
    await enter(k, 'both up, dsl active');
    // The batches that carry the reads are not reads of their own.
    const reads = k.log.filter((a) => a.includes('-j') && !a.includes('-batch')).map((a) => a.join(' '));
    assert.deepEqual([...new Set(reads)].sort(), [
      '-4 -j -N route show table 101',
      '-4 -j -N route show table 102',
      '-4 -j -N route show table 254 default',
      '-4 -j -N rule show',
      '-j addr show',
    ]);
  });

  it('a foreign default route with the same key is taken over; at another metric it stays', async () => {
    const k = world();
    k.addRawRoute({ dst: 'default', gateway: '198.18.1.1', dev: 'eth1', protocol: 4 });
    await enter(k, 'both up, lte active (point-to-point: default dev ppp0 scope link)');
    const main = k.render().split('\n').filter((l) => l.startsWith('default') && !l.includes('table'));
    assert.deepEqual(main, ['default dev ppp0 proto 72 scope link', 'default via 198.18.1.1 dev eth1 proto dhcp metric 100']);
  });

  describe('haip owns main\'s default at its metric', () => {
    const mainDefaults = (k: FakeKernel) => k.routeJson(254, true).map((j) => JSON.stringify(j));
    const DSL_MAIN = { dst: 'default', gateway: '198.18.1.1', dev: 'eth1', protocol: 72 };
    const DHCP_100 = { dst: 'default', gateway: '198.18.1.1', dev: 'eth1', protocol: 16, metric: 100 };
    async function dslActive(): Promise<FakeKernel> {
      const k = new FakeKernel();
      await enter(k, 'both up, dsl active');
      k.addRawRoute(DHCP_100);
      return k;
    }

    it('a prepended foreign default (`ip route prepend`) is removed; the higher-metric one stays', async () => {
      const k = await dslActive();
      k.addRawRoute({ dst: 'default', dev: 'ppp0', protocol: 4 }, { prepend: true });
      const cmds = await enter(k, 'both up, dsl active');
      assert.deepEqual(cmds.map(commandToString), ['ip -4 route del default dev ppp0 scope link proto 4 table 254']);
      assert.deepEqual(mainDefaults(k), mainDefaults(await dslActive()));
    });

    it('a same-metric duplicate appended after haip\'s (busybox udhcpc `route add`) is removed', async () => {
      const k = await dslActive();
      k.addRawRoute({ dst: 'default', gateway: '198.18.1.1', dev: 'eth1', protocol: 3 });
      const cmds = await enter(k, 'both up, dsl active');
      assert.deepEqual(cmds.map(commandToString), ['ip -4 route del default via 198.18.1.1 dev eth1 proto 3 table 254']);
      assert.deepEqual(mainDefaults(k), mainDefaults(await dslActive()));
    });

    it('after a prepend, a switch leaves exactly one haip route in main, the new one, first', async () => {
      const k = await dslActive();
      k.addRawRoute({ dst: 'default', gateway: '198.18.1.1', dev: 'eth1', protocol: 4 }, { prepend: true });
      // The replace overwrites the prepended route (the first with its key); haip's old one must go too.
      await enter(k, 'both up, lte active (point-to-point: default dev ppp0 scope link)');
      const main = k.routeJson(254, true) as { dev: string; protocol?: string; metric?: number }[];
      assert.deepEqual(main.map((r) => `${r.dev} ${r.protocol} ${r.metric ?? 0}`), ['ppp0 72 0', 'eth1 16 100']);
      assert.deepEqual(await enter(k, 'both up, lte active (point-to-point: default dev ppp0 scope link)'), []);
    });

    it('a lower metric than haip\'s wins and is removed; a higher one is left alone (plain data)', () => {
      const d = { table: 254, dst: 'default', dev: 'eth1', gateway: '198.18.1.1', protocol: 72, metric: 10 };
      const actual = [
        { ...d },
        { table: 254, dst: 'default', dev: 'ppp0', scope: 'link' as const, protocol: 4, metric: 5 },
        { table: 254, dst: 'default', dev: 'ppp0', scope: 'link' as const, protocol: 4, metric: 20 },
      ];
      assert.deepEqual(reconcile({ routes: [d], rules: [] }, { routes: actual, rules: [] }, 72).map(commandToString), [
        'ip -4 route del default dev ppp0 scope link proto 4 metric 5 table 254',
      ]);
    });

    it('without a default route of haip\'s to keep, foreign defaults are never touched', () => {
      const foreign = { table: 254, dst: 'default', dev: 'ppp0', scope: 'link' as const, protocol: 4 };
      assert.deepEqual(reconcile({ routes: [], rules: [] }, { routes: [foreign], rules: [] }, 72), []);
    });
  });

  it('duplicate owned rules are reduced to one', async () => {
    const k = new FakeKernel();
    await enter(k, 'dsl only');
    // Tools that add without NLM_F_EXCL (older iproute2, netlink libraries) leave the same rule twice.
    k.rules.push({ priority: 10010, table: 101, src: { addr: '198.18.1.2', len: 32 }, protocol: 72 });
    k.rules.push({ priority: 10010, table: 101, src: { addr: '198.18.1.2', len: 32 }, protocol: 72 });
    k.rules.sort((a, b) => a.priority - b.priority);
    const cmds = await enter(k, 'dsl only');
    assert.deepEqual(cmds.map(commandToString), [
      'ip -4 rule del priority 10010 from 198.18.1.2 lookup 101 protocol 72',
      'ip -4 rule del priority 10010 from 198.18.1.2 lookup 101 protocol 72',
    ]);
    assert.equal(k.render(), STATES['dsl only'].golden);
  });

  it('adds and replaces come before deletes', async () => {
    const k = new FakeKernel();
    await enter(k, 'both up, dsl active');
    // Move the table numbers: every route and rule of haip's changes at once.
    const moved = parseConfigText(
      `probe: { targets: [203.0.113.1] }\ntables: { T1: 201, T2: 202 }\nlinks:\n  - { name: dsl, interface: eth1, table: T1, gateway: 198.18.1.1 }\n  - { name: lte, interface: ppp0, table: T2 }\n`,
      'moved.yaml',
    );
    const cmds = await reconcileOnce(k, moved, 'lte');
    const ops = cmds.map((c) => c.op);
    const firstDel = ops.findIndex((o) => o.endsWith('-del'));
    assert.ok(firstDel > 0, ops.join(' '));
    assert.ok(ops.slice(firstDel).every((o) => o.endsWith('-del')), `no add after a delete: ${ops.join(' ')}`);
    assert.equal(ops.filter((o) => o === 'route-replace').length, 7);
    assert.equal(ops.filter((o) => o === 'route-del').length, 6);
    assert.equal(ops.filter((o) => o === 'rule-add').length, 6);
    assert.equal(ops.filter((o) => o === 'rule-del').length, 8);
    assert.deepEqual(await reconcileOnce(k, moved, 'lte'), []);
  });

  it('plans against plain data, without a kernel', () => {
    const desired: NetState = {
      routes: [{ table: 101, dst: 'default', dev: 'eth1', gateway: '198.18.1.1', protocol: 72 }],
      rules: [{ priority: 10010, table: 101, from: '198.18.1.2', protocol: 72 }],
    };
    const actual: NetState = {
      routes: [
        { table: 101, dst: 'default', dev: 'eth1', gateway: '198.18.1.9', protocol: 72 },
        { table: 101, dst: '198.18.5.0/24', dev: 'eth1', protocol: 72, scope: 'link' },
        { table: 101, dst: '198.18.6.0/24', dev: 'eth1', protocol: 4, scope: 'link' },
      ],
      rules: [
        { priority: 10010, table: 101, from: '198.18.1.2', protocol: 3 },
        { priority: 10020, table: 102, from: '198.18.9.2', protocol: 72 },
      ],
    };
    assert.deepEqual(reconcile(desired, actual, 72).map(commandToString), [
      'ip -4 route replace default via 198.18.1.1 dev eth1 proto 72 table 101',
      // Owned by someone else: haip adds its own (the kernel answers "File exists", accepted).
      'ip -4 rule add priority 10010 from 198.18.1.2 lookup 101 protocol 72',
      'ip -4 route del 198.18.5.0/24 dev eth1 scope link proto 72 table 101',
      'ip -4 rule del priority 10020 from 198.18.9.2 lookup 102 protocol 72',
    ]);
  });
});

describe('desired: links as they stand', () => {
  const link = CONFIG.links[0];
  const cases: { name: string; iface: Parameters<typeof viewLink>[1]; source?: string; want: object }[] = [
    { name: 'missing interface', iface: undefined, want: { unusable: 'interface eth1 does not exist' } },
    { name: 'no address', iface: { name: 'eth1', up: true, addresses: [] }, want: { source: undefined, connected: undefined, unusable: 'eth1 has no IPv4 address' } },
    { name: 'no carrier', iface: { name: 'eth1', up: false, addresses: [{ address: '198.18.1.2', prefixlen: 24 }] }, want: { source: '198.18.1.2', connected: '198.18.1.0/24', unusable: 'eth1 has no carrier or is down' } },
    { name: 'usable /24', iface: { name: 'eth1', up: true, addresses: [{ address: '198.18.1.2', prefixlen: 24 }, { address: '198.18.1.3', prefixlen: 24 }] }, want: { source: '198.18.1.2', connected: '198.18.1.0/24' } },
    { name: 'fixed source picks that address', source: '198.18.1.3', iface: { name: 'eth1', up: true, addresses: [{ address: '198.18.1.2', prefixlen: 24 }, { address: '198.18.1.3', prefixlen: 25 }] }, want: { source: '198.18.1.3', connected: '198.18.1.0/25' } },
    { name: 'fixed source not held', source: '198.18.1.9', iface: { name: 'eth1', up: true, addresses: [{ address: '198.18.1.2', prefixlen: 24 }] }, want: { source: undefined, connected: undefined, unusable: 'eth1 does not hold 198.18.1.9' } },
    { name: 'ppp peer', iface: { name: 'eth1', up: true, addresses: [{ address: '198.18.9.2', prefixlen: 32, peer: '198.18.9.1' }] }, want: { source: '198.18.9.2', connected: '198.18.9.1', onlink: true } },
    { name: '/32 without peer: no connected route', iface: { name: 'eth1', up: true, addresses: [{ address: '198.18.9.2', prefixlen: 32 }] }, want: { source: '198.18.9.2', connected: undefined, onlink: true } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const l = c.source ? { ...link, source: c.source } : link;
      // dsl's gateway comes from its config.
      assert.deepEqual(viewLink(l, c.iface), { link: l, gateway: '198.18.1.1', ...c.want });
    });
  }

  it('networkOf clears host bits', () => {
    assert.equal(networkOf('198.18.1.200', 24), '198.18.1.0/24');
    assert.equal(networkOf('198.19.255.255', 15), '198.18.0.0/15');
    assert.equal(networkOf('203.0.113.77', 0), '0.0.0.0/0');
    assert.equal(networkOf('203.0.113.77', 32), '203.0.113.77/32');
  });

  it('a link without a table installs no rule and no table route (legacy), but can carry the default route', () => {
    const views = viewLinks(LEGACY, new Map([['eth1', { name: 'eth1', up: true, addresses: [{ address: '198.18.1.2', prefixlen: 24 }] }]]));
    const d = desiredState(LEGACY, views, 'dsl');
    assert.deepEqual(d.rules, []);
    assert.deepEqual(d.routes.map(routeToString), ['default via 198.18.1.1 dev eth1 proto 72 table main']);
  });

  it('an unusable chosen link falls back to the kept route', () => {
    const keep: Route = { table: 254, dst: 'default', dev: 'ppp0', scope: 'link', protocol: 72 };
    const d = desiredState(CONFIG, viewLinks(CONFIG, new Map()), 'dsl', keep);
    assert.deepEqual(d.routes, [keep]);
    assert.deepEqual(d.rules.map(ruleToString), [
      'priority 10000 from all lookup main suppress_prefixlength 0 proto 72',
      'priority 11010 from all fwmark 0x1/0xff lookup 101 proto 72',
      'priority 11020 from all fwmark 0x2/0xff lookup 102 proto 72',
      'priority 5001 from all fwmark 0x1 lookup 101 proto 72',
      'priority 5002 from all fwmark 0x2/0xff lookup 102 proto 72',
    ]);
  });
});

describe('reconcile: rules written in a form the kernel shortens must still converge', () => {
  // The kernel stores "from X/32" as "from X", and a full fwmark mask as no mask; reading back gives the
  // short form. A config written the long way must not plan an add and a delete of its own rule forever.
  const cases: [string, string][] = [
    ['from a /32', '{ priority: 5003, from: 198.18.1.2/32, table: T1 }'],
    ['to a /32', '{ priority: 5004, to: 203.0.113.1/32, table: T1 }'],
    ['a full fwmark mask', '{ priority: 5005, fwmark: 3, mask: 4294967295, table: T1 }'],
  ];
  for (const [name, rule] of cases) {
    it(name, async () => {
      const config = parseConfigText(
        `probe: { targets: [203.0.113.1] }\ntables: { T1: 101 }\nlinks:\n  - { name: dsl, interface: eth1, table: T1, gateway: 198.18.1.1 }\nrules:\n  - ${rule}\n`,
        'x.yaml',
      );
      const k = new FakeKernel();
      setInterfaces(k, { eth1: { address: ETH1 } });
      await reconcileOnce(k, config, 'dsl');
      const installed = k.render();
      const second = await reconcileOnce(k, config, 'dsl');
      assert.deepEqual(second.map(commandToString), []);
      assert.equal(k.render(), installed, 'the rule is still there after a second pass');
    });
  }
});
