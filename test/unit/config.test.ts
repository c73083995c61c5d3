// haip.yaml: a good file builds the expected Config; every bad file reports FILE:LINE:COL: path: message,
// every problem at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfig, ConfigError, formatProblem, isInterfaceName, parseConfigText, parseDuration } from '../../src/config/load';

const GOOD = `log_level: debug
probe:
  targets: [203.0.113.1, 203.0.113.2]
  interval: 500ms
  timeout: 1.5
  quorum: 1
  down: 4
  up: 2
tables: { T1: 101, T2: 102 }
links:
  - name: dsl
    interface: eth1
    weight: 1
    table: T1
    gateway: 198.18.1.1
  - name: lte
    interface: ppp0
    table: 102
    source: 198.18.9.2
    probe: { targets: [198.51.100.7], interval: 1m, up: 5 }
rules:
  - { priority: 5001, fwmark: 1, table: T1 }
  - { priority: 5002, from: 198.18.0.0/16, to: 203.0.113.0/24, iif: lo, table: T2 }
state_dir: /tmp/haip-test
`;

function problems(text: string, file = 'haip.yaml'): string[] {
  try {
    parseConfigText(text, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.problems.map(formatProblem);
  }
  assert.fail('config was accepted');
}

/** A valid file with one link; `extra` goes at the top level, `link` inside the link. */
function withLink(link: string, extra = ''): string {
  return `probe: { targets: [203.0.113.1] }\ntables: { T1: 101 }\n${extra}links:\n  - name: dsl\n    interface: eth1\n${link}`;
}

describe('config: a good file', () => {
  const c = parseConfigText(GOOD, 'haip.yaml');

  it('builds links with resolved tables, merged probe settings and durations in ms', () => {
    assert.equal(c.logLevel, 'debug');
    assert.deepEqual(c.links[0], {
      name: 'dsl',
      interface: 'eth1',
      weight: 1,
      table: 101,
      gateway: '198.18.1.1',
      source: undefined,
      probe: { targets: ['203.0.113.1', '203.0.113.2'], intervalMs: 500, timeoutMs: 1500, quorum: 1, down: 4, up: 2, qualityWindowMs: 60000 },
    });
    assert.deepEqual(c.links[1], {
      name: 'lte',
      interface: 'ppp0',
      weight: 2, // position in the list
      table: 102,
      gateway: undefined,
      source: '198.18.9.2',
      probe: { targets: ['198.51.100.7'], intervalMs: 60_000, timeoutMs: 1500, quorum: 1, down: 4, up: 5, qualityWindowMs: 60000 },
    });
  });

  it('resolves rule tables and keeps the selectors', () => {
    assert.deepEqual(c.rules, [
      { priority: 5001, table: 101, fwmark: 1, from: undefined, to: undefined, mask: undefined, iif: undefined },
      { priority: 5002, table: 102, from: '198.18.0.0/16', to: '203.0.113.0/24', iif: 'lo', fwmark: undefined, mask: undefined },
    ]);
  });

  it('fills the defaults', () => {
    assert.equal(c.stateDir, '/tmp/haip-test');
    assert.equal(c.hooksDir, '/etc/haip/hooks.d');
    assert.equal(c.protocol, 72);
    assert.equal(c.rulePriorityBase, 10000);
    assert.equal(c.mainTable, 254);
    assert.equal(c.sticky, false);
    assert.equal(c.source, 'haip.yaml');
  });

  it('defaults probing to 1s/1s, quorum 1, down 3, up 3', () => {
    const d = parseConfigText(withLink(''), 'x.yaml');
    assert.deepEqual(d.links[0].probe, { targets: ['203.0.113.1'], intervalMs: 1000, timeoutMs: 1000, quorum: 1, down: 3, up: 3, qualityWindowMs: 60000 });
    assert.equal(d.links[0].table, undefined);
    assert.equal(d.links[0].weight, 1);
  });
});

describe('config: durations', () => {
  const cases: [number | string, number][] = [
    ['500ms', 500],
    ['2s', 2000],
    ['1m', 60_000],
    [1.5, 1500],
    [2, 2000],
    ['0.25s', 250],
    ['1.5m', 90_000],
  ];
  for (const [input, ms] of cases) {
    it(`${JSON.stringify(input)} -> ${ms} ms, directly and through the file`, () => {
      assert.equal(parseDuration(input), ms);
      const c = parseConfigText(withLink(`    probe: { interval: ${JSON.stringify(input)} }\n`), 'x.yaml');
      assert.equal(c.links[0].probe.intervalMs, ms);
    });
  }
  for (const bad of ['2h', '1 s', 's', '-1s', '1e3ms', '', 0, -1]) {
    it(`${JSON.stringify(bad)} is refused with the field's position`, () => {
      const p = problems(withLink(`    probe: { interval: ${JSON.stringify(bad)} }\n`));
      assert.deepEqual(p, ['haip.yaml:6:24: links[0].probe.interval: must be a duration such as "500ms", "2s", "1m" or a number of seconds']);
    });
  }
  it('"0s" and "0ms" are refused like the number 0 (a zero interval would spin the probe loop)', () => {
    for (const zero of ['0s', '0ms', '0.0s']) {
      const p = problems(withLink(`    probe: { interval: ${zero} }\n`));
      assert.equal(p.length, 1, zero);
      assert.match(p[0], /links\[0\]\.probe\.interval: must be a duration/);
    }
  });
});

describe('config: each bad file reports FILE:LINE:COL: path: message', () => {
  const cases: { name: string; text: string; want: string[] }[] = [
    {
      name: 'unknown top-level key with a suggestion',
      text: withLink('', 'stickey: true\n'),
      want: ['haip.yaml:3:1: stickey: unknown field "stickey" (did you mean "sticky"?)'],
    },
    {
      name: 'unknown link key with a suggestion',
      text: withLink('    gatway: 198.18.1.1\n'),
      want: ['haip.yaml:6:5: links[0].gatway: unknown field "gatway" (did you mean "gateway"?)'],
    },
    {
      name: 'unknown key without a near match',
      text: withLink('    colour: blue\n'),
      want: ['haip.yaml:6:5: links[0].colour: unknown field "colour"'],
    },
    {
      name: '"-h" as a target (would be an option to ping)',
      text: withLink('    probe: { targets: [-h] }\n'),
      want: ['haip.yaml:6:24: links[0].probe.targets[0]: "-h" is not an IP address; a target is an IPv4 or IPv6 address, tcp://ADDR:PORT [open], http://ADDR[:PORT]/PATH [host=NAME] [status=CODES] [body=TEXT] or dns://ADDR[:PORT]/NAME [answer=ADDR]'],
    },
    {
      name: 'a host name as a target',
      text: withLink('    probe: { targets: [example.com] }\n'),
      want: ['haip.yaml:6:24: links[0].probe.targets[0]: example.com is not an IP address (host names are not looked up: write the address); a target is an IPv4 or IPv6 address, tcp://ADDR:PORT [open], http://ADDR[:PORT]/PATH [host=NAME] [status=CODES] [body=TEXT] or dns://ADDR[:PORT]/NAME [answer=ADDR]'],
    },
    {
      name: 'bad gateway',
      text: withLink('    gateway: 198.18.1.256\n'),
      want: ['haip.yaml:6:14: links[0].gateway: must be an IPv4 address such as 198.51.100.1'],
    },
    {
      name: 'unknown table name',
      text: withLink('    table: T9\n'),
      want: ['haip.yaml:6:12: links[0].table: unknown table "T9": add it under tables'],
    },
    {
      name: 'the main table for a link',
      text: withLink('    table: main\n'),
      want: ["haip.yaml:6:12: links[0].table: table main is the kernel's own; give the link a table of its own"],
    },
    {
      name: 'a reserved number in tables',
      text: withLink('', 'tables: { T1: 101, T2: 254 }\n').replace('tables: { T1: 101 }\n', ''),
      want: ["haip.yaml:2:24: tables.T2: table T2: 254 is reserved for the kernel's own tables (main, default, local)"],
    },
    {
      name: 'a rule naming an unknown table, mask without fwmark',
      text: withLink('', 'rules:\n  - { priority: 5001, table: T7, mask: 255 }\n'),
      want: ['haip.yaml:4:30: rules[0].table: unknown table "T7": add it under tables', 'haip.yaml:4:40: rules[0].mask: mask needs fwmark'],
    },
    {
      name: 'missing interface',
      text: 'probe: { targets: [203.0.113.1] }\nlinks:\n  - name: dsl\n',
      want: ['haip.yaml:3:5: links[0]: missing required field "interface"'],
    },
    {
      name: 'no targets anywhere',
      text: 'links:\n  - { name: dsl, interface: eth1 }\n',
      want: ['haip.yaml:2:5: links[0]: no probe targets: set probe.targets at the top level or in this link'],
    },
    {
      name: 'quorum above the shared targets',
      text: withLink('').replace('targets: [203.0.113.1] }', 'targets: [203.0.113.1], quorum: 2 }'),
      want: ['haip.yaml:1:42: probe.quorum: quorum 2 is more than the 1 target(s) of link "dsl"'],
    },
    {
      name: "quorum above the link's own targets",
      text: withLink('    probe: { targets: [203.0.113.1, 203.0.113.2], quorum: 3 }\n'),
      want: ['haip.yaml:6:59: links[0].probe.quorum: quorum 3 is more than the 2 target(s) of link "dsl"'],
    },
    {
      name: 'YAML syntax error',
      text: 'links: [\n',
      want: ['haip.yaml:2:1: (top level): YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1'],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(problems(c.text), c.want));

  it('a link without a name and a quorum no whole number: the schema says so, and no line speaks of link "undefined" (found by the lab\'s fuzz)', () => {
    const text = 'probe: { targets: [203.0.113.1], quorum: 1.5 }\ntables: { T1: 101 }\nlinks:\n  - { interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1" }\n';
    assert.deepEqual(problems(text), [
      'haip.yaml:1:42: probe.quorum: must be integer',
      'haip.yaml:4:5: links[0]: missing required field "name"',
      'haip.yaml:4:77: links[0].gateway6: links[0] has no IPv6 probe targets, so haip does not route IPv6 through it: add an IPv6 target or drop gateway6',
    ]);
    assert.match(problems(text.replace('quorum: 1.5', 'quorum: 2')).join('\n'), /quorum 2 is more than the 1 target\(s\) of links\[0\]/);
  });

  it('reports every problem of a file at once, in file order', () => {
    const text = `probe:
  targets: [203.0.113.1, -h]
  interval: 2h
  quorom: 1
tables: { T1: 101 }
links:
  - name: dsl
    interface: eth0:1
    table: T9
    gateway: 198.18.1.300
  - name: dsl
    interface: averyveryverylongname
    wieght: 2
    table: T1
`;
    assert.deepEqual(problems(text, '/etc/haip/haip.yaml'), [
      '/etc/haip/haip.yaml:2:26: probe.targets[1]: "-h" is not an IP address; a target is an IPv4 or IPv6 address, tcp://ADDR:PORT [open], http://ADDR[:PORT]/PATH [host=NAME] [status=CODES] [body=TEXT] or dns://ADDR[:PORT]/NAME [answer=ADDR]',
      '/etc/haip/haip.yaml:3:13: probe.interval: must be a duration such as "500ms", "2s", "1m" or a number of seconds',
      '/etc/haip/haip.yaml:4:3: probe.quorom: unknown field "quorom" (did you mean "quorum"?)',
      '/etc/haip/haip.yaml:8:16: links[0].interface: must be a Linux interface name: 1 to 15 bytes, no "/", ":" or white space',
      '/etc/haip/haip.yaml:9:12: links[0].table: unknown table "T9": add it under tables',
      '/etc/haip/haip.yaml:10:14: links[0].gateway: must be an IPv4 address such as 198.51.100.1',
      '/etc/haip/haip.yaml:11:11: links[1].name: duplicate link name "dsl" (also links[0])',
      '/etc/haip/haip.yaml:12:16: links[1].interface: must be a Linux interface name: 1 to 15 bytes, no "/", ":" or white space',
      '/etc/haip/haip.yaml:13:5: links[1].wieght: unknown field "wieght" (did you mean "weight"?)',
    ]);
  });

  it('a key given twice is an error, not a silent override', () => {
    const p = problems(withLink('    gateway: 198.18.1.1\n    gateway: 198.18.1.9\n'));
    assert.equal(p.length, 1);
    assert.match(p[0], /^haip\.yaml:7:5: \(top level\): YAML: Map keys must be unique/);
  });

  it('two links cannot share a table', () => {
    const text = withLink('    table: T1\n  - { name: lte, interface: ppp0, table: 101 }\n');
    assert.deepEqual(problems(text), ['haip.yaml:7:42: links[1].table: table 101 is already used by links[0]']);
  });

  it('buildConfig without positions names the source', () => {
    assert.throws(() => buildConfig({ links: 'eth0' }, 'command line'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, [{ where: 'command line', path: 'links', message: 'must be array' }]);
      return true;
    });
  });
});

describe('config: interface names (the kernel\'s dev_valid_name)', () => {
  it('a control character is named as such, once', () => {
    const text = withLink('').replace('interface: eth1', 'interface: "eth\\t0"');
    assert.deepEqual(problems(text), ['haip.yaml:5:16: links[0].interface: contains the control character U+0009: not allowed in any field']);
  });
  const cases: [string, boolean][] = [
    ['eth0', true],
    ['ppp0', true],
    ['enp0s31f6', true],
    ['wwan0.1', true],
    ['a', true],
    ['x'.repeat(15), true],
    ['x'.repeat(16), false],
    ['', false],
    ['.', false],
    ['..', false],
    ['eth0:1', false],
    ['eth/0', false],
    ['eth 0', false],
    ['eth-\u00e9\u00e9\u00e9\u00e9\u00e9', true], // 10 characters, 15 bytes
    ['eth-\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9', false], // 11 characters, 17 bytes: IFNAMSIZ counts bytes
  ];
  for (const [name, good] of cases) {
    it(`${JSON.stringify(name)} is ${good ? 'accepted' : 'refused'}`, () => {
      assert.equal(isInterfaceName(name), good);
      const text = withLink('').replace('interface: eth1', `interface: ${JSON.stringify(name)}`);
      if (good) assert.equal(parseConfigText(text, 'x.yaml').links[0].interface, name);
      else assert.deepEqual(problems(text), [`haip.yaml:5:16: links[0].interface: must be a Linux interface name: 1 to 15 bytes, no "/", ":" or white space`]);
    });
  }
});
