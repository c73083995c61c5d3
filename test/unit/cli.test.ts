// The command line: haip's subcommands, and the original haip's flags mapped onto the same Config.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliArgs, parseArgs, UsageError } from '../../src/cli';
import { legacyConfig } from '../../src/config/legacy';
import { ConfigError, formatProblem } from '../../src/config/load';

describe('cli: parseArgs', () => {
  const base: CliArgs = { command: 'run', verbosity: 0, json: false, routes: [] };
  const cases: [string[], Partial<CliArgs>][] = [
    [[], {}],
    [['-vv', '--wait=2', '--route', 'A', '--route', 'B'], { verbosity: 2, wait: '2', routes: ['A', 'B'] }],
    [['--wait', '2'], { wait: '2' }],
    [['-w', '2', '-f', '4'], { wait: '2', fail: '4' }],
    [['--fail=4'], { fail: '4' }],
    [['-v', '-v'], { verbosity: 2 }],
    [['-v', '--verbose', '-vv'], { verbosity: 4 }],
    [['--route=1/198.18.0.1/eth0', '-r', '2/198.18.0.1/ppp0'], { routes: ['1/198.18.0.1/eth0', '2/198.18.0.1/ppp0'] }],
    [['--toggle=/usr/local/bin/t --x=1'], { toggle: '/usr/local/bin/t --x=1' }],
    [['check', '-c', 'F'], { command: 'check', configFile: 'F' }],
    [['-c', 'F', 'check'], { command: 'check', configFile: 'F' }],
    [['--config=/etc/haip/other.yaml'], { configFile: '/etc/haip/other.yaml' }],
    [['status', '--json'], { command: 'status', json: true }],
    [['status', '--state-dir', '/tmp/s'], { command: 'status', stateDir: '/tmp/s' }],
    [['plan'], { command: 'plan' }],
    [['flush', '-c', 'F'], { command: 'flush', configFile: 'F' }],
    [['run', '-v'], { command: 'run', verbosity: 1 }],
    [['-h'], { command: 'help' }],
    [['--help'], { command: 'help' }],
    [['--version'], { command: 'version' }],
    [['version'], { command: 'version' }],
    [['-r', '-1/198.18.0.1/eth0'], { routes: ['-1/198.18.0.1/eth0'] }],
    [['check', '--route', '1/198.18.0.1/eth0', '--wait=2'], { command: 'check', routes: ['1/198.18.0.1/eth0'], wait: '2' }],
    [['flush', '-v'], { command: 'flush', verbosity: 1 }],
    [['status', '-c', 'F', '--json', '--state-dir=/tmp/s'], { command: 'status', configFile: 'F', json: true, stateDir: '/tmp/s' }],
    // Help for one command, however asked; the rest of the line is not checked.
    [['check', '--help'], { command: 'help', topic: 'check' }],
    [['status', '--json', '-h'], { command: 'help', topic: 'status' }],
    [['help', 'plan'], { command: 'help', topic: 'plan' }],
    [['help'], { command: 'help' }],
    [['--help', 'flush'], { command: 'help', topic: 'flush' }],
  ];
  for (const [argv, want] of cases) {
    it(JSON.stringify(argv), () => assert.deepEqual(parseArgs(argv), { ...base, ...want }));
  }

  const errors: [string[], RegExp][] = [
    [['--route'], /^--route needs a value$/],
    [['-c'], /^-c needs a value$/],
    [['--wait'], /^--wait needs a value$/],
    [['-x'], /^unknown option -x$/],
    [['--bogus=1'], /^unknown option --bogus$/],
    [['start'], /^unknown command "start" \(commands: run, check, status, which, plan, flush, help, version\)$/],
    [['check', 'status'], /^unknown command "status"/],
    [['-c', 'F', '--route', '1/198.18.0.1/eth0'], /--route and -c do not mix/],
    // Options belong to the commands that use them.
    [['check', '--json'], /^check takes no --json option \(it takes -c\/--config, -r\/--route, -w\/--wait, -f\/--fail, -t\/--toggle\)$/],
    [['status', '--wait=3'], /^status takes no --wait option/],
    [['version', '--route', 'x'], /^version takes no --route option \(it takes none\)$/],
    [['--version', '-v'], /^version takes no -v option/],
    [['check', '--version'], /^--version is a command of its own/],
    [['plan', '-vv'], /^plan takes no -v option/],
    [['status', '--json=yes'], /^--json takes no value$/],
    [['help', 'nonsense'], /^unknown command "nonsense"/],
  ];
  for (const [argv, re] of errors) {
    it(`${JSON.stringify(argv)} is a usage error`, () => {
      assert.throws(() => parseArgs(argv), (err: unknown) => err instanceof UsageError && re.test(err.message));
    });
  }
});

function legacyProblems(opts: Parameters<typeof legacyConfig>[0]): string[] {
  try {
    legacyConfig(opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map(formatProblem);
  }
  assert.fail('accepted');
}

describe('legacy --route command line', () => {
  it('1/198.18.0.1/eth0: one link with a table of its own (7201), the target pinged from the device', () => {
    const c = legacyConfig({ routes: ['1/198.18.0.1/eth0'] });
    assert.equal(c.source, 'command line');
    assert.deepEqual(c.links, [
      {
        name: 'eth0',
        interface: 'eth0',
        weight: 1,
        table: 7201,
        gateway: undefined,
        onLink: true,
        source: undefined,
        probe: { targets: ['198.18.0.1'], intervalMs: 1000, timeoutMs: 1000, quorum: 1, down: 3, up: 3, qualityWindowMs: 60000 },
      },
    ]);
    assert.deepEqual(c.rules, []);
    assert.equal(c.toggle, undefined);
  });

  it('2/198.18.0.1/ppp0:198.18.9.1/198.18.9.2: gateway and source', () => {
    const c = legacyConfig({ routes: ['1/203.0.113.1/eth1:198.18.1.1', '2/198.18.0.1/ppp0:198.18.9.1/198.18.9.2'] });
    assert.deepEqual(
      c.links.map((l) => [l.name, l.interface, l.weight, l.gateway, l.source, l.probe.targets]),
      [
        ['eth1', 'eth1', 1, '198.18.1.1', undefined, ['203.0.113.1']],
        ['ppp0', 'ppp0', 2, '198.18.9.1', '198.18.9.2', ['198.18.0.1']],
      ],
    );
  });

  it('weights are numbers, not strings compared as text (10 is worse than 9)', () => {
    const c = legacyConfig({ routes: ['10/198.18.0.1/eth0', '9/198.18.0.2/eth1', '1.5/198.18.0.3/eth2'] });
    assert.deepEqual(c.links.map((l) => l.weight), [10, 9, 1.5]);
    for (const l of c.links) assert.equal(typeof l.weight, 'number');
  });

  it('links on their own interfaces get tables 7201, 7202...; links sharing one (the seed demo) get none', () => {
    const c = legacyConfig({ routes: ['1/198.18.0.1/eth0', '2/203.0.113.1/eth0', '3/203.0.113.1/ppp0'] });
    assert.deepEqual(c.links.map((l) => [l.name, l.table]), [['eth0-1', undefined], ['eth0-2', undefined], ['ppp0', 7203]]);
    assert.equal(c.rtTablesFile, undefined);
    assert.equal(c.rtProtosFile, undefined);
  });

  it('the same device twice gets distinct names', () => {
    const c = legacyConfig({ routes: ['1/198.18.0.1/eth0', '2/203.0.113.1/eth0'] });
    assert.deepEqual(c.links.map((l) => l.name), ['eth0-1', 'eth0-2']);
  });

  const mapping: [Partial<Parameters<typeof legacyConfig>[0]>, { intervalMs: number; timeoutMs: number; down: number; up: number }][] = [
    [{}, { intervalMs: 1000, timeoutMs: 1000, down: 3, up: 3 }],
    [{ wait: '2' }, { intervalMs: 2000, timeoutMs: 2000, down: 3, up: 3 }],
    [{ wait: '5' }, { intervalMs: 5000, timeoutMs: 2000, down: 3, up: 3 }],
    [{ wait: '0.5' }, { intervalMs: 500, timeoutMs: 500, down: 3, up: 3 }],
    [{ fail: '5' }, { intervalMs: 1000, timeoutMs: 1000, down: 5, up: 5 }],
    [{ wait: '3', fail: '1' }, { intervalMs: 3000, timeoutMs: 2000, down: 1, up: 1 }],
  ];
  for (const [opts, want] of mapping) {
    it(`--wait/--fail ${JSON.stringify(opts)} -> interval ${want.intervalMs} ms, timeout ${want.timeoutMs} ms, down/up ${want.down}/${want.up}`, () => {
      const c = legacyConfig({ routes: ['1/198.18.0.1/eth0'], ...opts });
      const { intervalMs, timeoutMs, down, up } = c.links[0].probe;
      assert.deepEqual({ intervalMs, timeoutMs, down, up }, want);
    });
  }

  it('--toggle is kept for the hooks', () => {
    assert.equal(legacyConfig({ routes: ['1/198.18.0.1/eth0'], toggle: '/usr/local/bin/t' }).toggle, '/usr/local/bin/t');
  });

  const bad: [Parameters<typeof legacyConfig>[0], string[]][] = [
    [{ routes: ['x/198.18.0.1/eth0'] }, ['--route x/198.18.0.1/eth0: links[0].weight: weight "x" must be a number']],
    [{ routes: ['-1/198.18.0.1/eth0'] }, ['--route -1/198.18.0.1/eth0: links[0].weight: weight "-1" must be a number']],
    [{ routes: ['198.18.0.1/eth0'] }, ['--route 198.18.0.1/eth0: links[0]: expected WEIGHT/TARGET/DEV[:GW][/SRC], e.g. 1/198.18.0.1/eth0']],
    [{ routes: ['1/-h/eth0'] }, ['--route 1/-h/eth0: links[0].probe.targets[0]: "-h" is not an IP address; a target is an IPv4 or IPv6 address, tcp://ADDR:PORT [open], http://ADDR[:PORT]/PATH [host=NAME] [status=CODES] [body=TEXT] or dns://ADDR[:PORT]/NAME [answer=ADDR]']],
    [{ routes: ['1/198.18.0.1/eth0:gw'] }, ['--route 1/198.18.0.1/eth0:gw: links[0].gateway: must be an IPv4 address such as 198.51.100.1']],
    [{ routes: ['1/198.18.0.1/eth0'], wait: '0' }, ['--wait: probe.interval: "0" must be a positive number']],
    [{ routes: ['1/198.18.0.1/eth0'], fail: 'many' }, ['--fail: probe.down: "many" must be a positive number']],
    [{ routes: [] }, ['command line: links: give at least one --route WEIGHT/TARGET/DEV']],
    [
      { routes: ['x/198.18.0.1/eth0', '1/198.18.0.1/eth1'], wait: '-2' },
      ['--route x/198.18.0.1/eth0: links[0].weight: weight "x" must be a number', '--wait: probe.interval: "-2" must be a positive number'],
    ],
  ];
  it('refuses an empty device', () => {
    assert.ok(
      legacyProblems({ routes: ['1/198.18.0.1/'] }).includes(
        '--route 1/198.18.0.1/: links[0].interface: must be a Linux interface name: 1 to 15 bytes, no "/", ":" or white space',
      ),
    );
  });
  for (const [opts, want] of bad) it(`refuses ${JSON.stringify(opts)}`, () => assert.deepEqual(legacyProblems(opts), want));
});
