// The smaller pure parts and one-shot operations: log levels, watchdog interval, STATUS= line, hook
// environment, name files, probe rounds on a clock, and `haip plan` / `haip flush` on the fake kernel.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LinkMonitor, RoundResult, summarize } from '../../src/health/monitor';
import { hookEnv } from '../../src/hooks';
import { effectiveLevel, logStyle } from '../../src/log';
import { LogLevel } from '../../src/model';
import { nameFiles } from '../../src/net/names';
import { flushOwned, planReport } from '../../src/ops';
import { statusLine } from '../../src/status';
import { renderStatus, sparkline } from '../../src/statusView';
import { watchdogIntervalMs } from '../../src/sys/notify';
import { FakeClock, FakeKernel, memoryLog } from './fakes';
import { CONFIG, ETH1, PPP0, setInterfaces, STATES, statusDoc } from './fixtures';

describe('log levels and style', () => {
  const cases: [LogLevel, number, LogLevel][] = [
    ['info', 0, 'info'],
    ['warning', 0, 'warning'],
    ['warning', 1, 'info'],
    ['warning', 2, 'debug'],
    ['debug', 0, 'debug'],
    ['error', 1, 'info'],
    ['info', 5, 'debug'],
  ];
  for (const [configured, v, want] of cases) it(`${configured} with -${'v'.repeat(v)} -> ${want}`, () => assert.equal(effectiveLevel(configured, v), want));

  it('journald, terminal or plain', () => {
    assert.equal(logStyle({ JOURNAL_STREAM: '8:1234' }, true), 'journal');
    assert.equal(logStyle({}, true), 'terminal');
    assert.equal(logStyle({}, false), 'plain');
  });
});

describe('watchdog interval from the environment', () => {
  const cases: [NodeJS.ProcessEnv, number | null][] = [
    [{}, null],
    [{ WATCHDOG_USEC: '20000000' }, 10_000],
    [{ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '4242' }, 10_000],
    [{ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '1' }, null],
    [{ WATCHDOG_USEC: '0' }, null],
    [{ WATCHDOG_USEC: 'abc' }, null],
    [{ WATCHDOG_USEC: '1000' }, 1],
  ];
  for (const [env, want] of cases) it(`${JSON.stringify(env)} -> ${want}`, () => assert.equal(watchdogIntervalMs(env, 4242), want));
});

const doc = statusDoc;

describe('status: STATUS= line and `haip status` table', () => {
  it('names the active link, then every link', () => {
    assert.equal(statusLine(doc()), 'active: dsl (eth1 via 198.18.1.1); dsl up 12.3ms, lte down');
    assert.equal(statusLine(doc({ active: null })), 'active: none; dsl up 12.3ms, lte down');
  });

  it('sparkline', () => {
    assert.equal(sparkline([10, 20, null, 30]), '▁▅×█');
    assert.equal(sparkline([null, null]), '··');
    assert.equal(sparkline([5, 5]), '▁▁');
  });

  it('renders a table with the active link starred', () => {
    assert.equal(
      renderStatus(doc(), Date.parse('2026-01-01T00:01:00.000Z')),
      [
        'default route: dsl (since 1m0s ago)',
        '   LINK  INTERFACE  STATE  SINCE     RTT      LOSS(1m)  WEIGHT  RECENT RTT',
        '*  dsl   eth1       UP     1m0s ago  12.35ms  0%        1       ▁▅×█',
        '   lte   ppp0       DOWN   30s ago   -        100%      2',
        '',
      ].join('\n'),
    );
  });
});

describe('hooks and name files', () => {
  it('hook environment', () => {
    assert.deepEqual(hookEnv({ event: 'switch', link: 'lte', interface: 'ppp0', state: 'up', previous: 'dsl' }), {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HAIP_EVENT: 'switch',
      HAIP_LINK: 'lte',
      HAIP_INTERFACE: 'ppp0',
      HAIP_STATE: 'up',
      HAIP_PREVIOUS: 'dsl',
      HAIP_FAMILY: '4',
    });
    assert.equal(hookEnv({ event: 'link-up', link: 'dsl', interface: 'eth1', state: 'up', previous: 'down', gateway: '198.18.1.1' }).HAIP_GATEWAY, '198.18.1.1');
    assert.equal(hookEnv({ event: 'switch', family: 6, link: 'lte', interface: 'ppp0', state: 'up', previous: 'dsl', gateway: 'fe80::1' }).HAIP_FAMILY, '6');
  });

  it('rt_tables.d and rt_protos.d contents', () => {
    const files = nameFiles({ ...CONFIG, rtTablesFile: '/tmp/x/tables', rtProtosFile: '/tmp/x/protos' });
    assert.deepEqual(files, [
      { path: '/tmp/x/tables', text: '# Written by haip from its config; edits here are replaced.\n101\tT1\n102\tT2\n' },
      { path: '/tmp/x/protos', text: '# Written by haip from its config; edits here are replaced.\n72\thaip\n' },
    ]);
    assert.deepEqual(nameFiles({ ...CONFIG, rtTablesFile: undefined, rtProtosFile: undefined }), []);
  });
});

describe('probe rounds', () => {
  const link = { ...CONFIG.links[0], probe: { ...CONFIG.links[0].probe, quorum: 2 } };

  it('summarize: quorum, mean RTT of the answers, errors joined', () => {
    const r = summarize(
      link,
      [
        { address: '203.0.113.1', result: { alive: true, rttMs: 10 } },
        { address: '203.0.113.2', result: { alive: true, rttMs: 20 } },
        { address: '203.0.113.3', result: { alive: false, error: 'ping: sendmsg: Operation not permitted' } },
      ],
      5,
    );
    assert.deepEqual({ ok: r.ok, answered: r.answered, total: r.total, rttMs: r.rttMs, error: r.error, at: r.at }, { ok: true, answered: 2, total: 3, rttMs: 15, error: 'ping: sendmsg: Operation not permitted', at: 5 });
    const one = summarize(link, [{ address: '203.0.113.1', result: { alive: true, rttMs: 10 } }, { address: '203.0.113.2', result: { alive: false } }], 5);
    assert.equal(one.ok, false, 'quorum 2 needs two answers');
    assert.equal(one.error, undefined);
  });

  it('rounds never overlap: a slow round delays the next one, a quick one keeps the interval', async () => {
    const clock = new FakeClock();
    const starts: number[] = [];
    let slow = true;
    const prober = {
      probe: () => {
        starts.push(clock.now());
        return new Promise<{ alive: boolean }>((resolve) => clock.setTimeout(() => resolve({ alive: true }), slow ? 1500 : 200));
      },
    };
    const rounds: RoundResult[] = [];
    const m = new LinkMonitor({ ...link, probe: { ...link.probe, targets: ['203.0.113.1'] } }, clock, prober, () => ({ address: '198.18.1.2' }), (_, r) => void rounds.push(r));
    const t0 = clock.now();
    m.start();
    await clock.advance(4000);
    slow = false;
    await clock.advance(3000);
    m.stop();
    const n = rounds.length;
    await clock.advance(5000);
    assert.equal(rounds.length, n, 'no round after stop');
    assert.deepEqual(
      starts.map((s) => s - t0),
      [0, 1500, 3000, 4500, 5500, 6500],
    );
  });

  it('a link without a source address makes failed rounds without probing', async () => {
    const clock = new FakeClock();
    let probes = 0;
    const rounds: RoundResult[] = [];
    const m = new LinkMonitor(link, clock, { probe: async () => (probes++, { alive: true }) }, () => ({ why: 'eth1 has no IPv4 address' }), (_, r) => void rounds.push(r));
    m.start();
    await clock.advance(2000);
    m.stop();
    assert.equal(probes, 0);
    assert.equal(rounds.length, 3);
    assert.deepEqual(
      rounds.map((r) => [r.ok, r.total, r.error]),
      Array(3).fill([false, 2, 'eth1 has no IPv4 address']),
    );
  });
});

describe('haip plan and haip flush on the fake kernel', () => {
  it('plan lists the commands, adds before deletes, and changes nothing', async () => {
    const k = new FakeKernel();
    setInterfaces(k, { eth1: { address: ETH1 }, ppp0: { address: PPP0 } });
    const before = k.render();
    const text = await planReport(CONFIG, k);
    assert.equal(k.render(), before);
    assert.deepEqual(k.mutations, []);
    assert.equal(
      text,
      `# haip plan for haip.yaml: nothing is changed by this command
#
# links (assuming every usable link answers its probes):
#   dsl (eth1, weight 1, table 101): usable, source 198.18.1.2, connected 198.18.1.0/24, gateway 198.18.1.1; would carry the default route (lowest weight among usable links)
#   lte (ppp0, weight 2, table 102): usable, source 198.18.9.2, connected 198.18.9.1, point-to-point; standby (weight 2 > 1)
#
# 16 command(s), adds before deletes:
ip -4 route replace 198.18.1.0/24 dev eth1 src 198.18.1.2 scope link proto 72 table 101
ip -4 route replace default via 198.18.1.1 dev eth1 proto 72 table 101
ip -4 route replace unreachable default proto 72 metric 4294967295 table 101
ip -4 route replace 198.18.9.1 dev ppp0 src 198.18.9.2 scope link proto 72 table 102
ip -4 route replace default dev ppp0 scope link proto 72 table 102
ip -4 route replace unreachable default proto 72 metric 4294967295 table 102
ip -4 route replace default via 198.18.1.1 dev eth1 proto 72 table 254
ip -4 rule add priority 10000 lookup 254 suppress_prefixlength 0 protocol 72
ip -4 rule add priority 10005 oif eth1 lookup 101 protocol 72
ip -4 rule add priority 10010 from 198.18.1.2 lookup 101 protocol 72
ip -4 rule add priority 10005 oif ppp0 lookup 102 protocol 72
ip -4 rule add priority 10020 from 198.18.9.2 lookup 102 protocol 72
ip -4 rule add priority 11010 fwmark 0x1/0xff lookup 101 protocol 72
ip -4 rule add priority 11020 fwmark 0x2/0xff lookup 102 protocol 72
ip -4 rule add priority 5001 fwmark 0x1 lookup 101 protocol 72
ip -4 rule add priority 5002 fwmark 0x2/0xff lookup 102 protocol 72
#
# haip's nftables table inet haip (replies by the arrival uplink), replaced atomically:
nft -f - <<'EOF'
table inet haip {}
delete table inet haip
table inet haip {
\tcomment "haip: managed by haip(8), replaced on start and reload"
\tchain prerouting {
\t\ttype filter hook prerouting priority mangle; policy accept;
\t\tct mark & 0xff == 0x1 meta mark set meta mark & 0xffffff00 | 0x1 comment "dsl: restore"
\t\tct mark & 0xff == 0x2 meta mark set meta mark & 0xffffff00 | 0x2 comment "lte: restore"
\t\tct state new iifname "eth1" ct mark set ct mark & 0xffffff00 | 0x1 meta mark set meta mark & 0xffffff00 | 0x1 comment "dsl: incoming"
\t\tct state new iifname "ppp0" ct mark set ct mark & 0xffffff00 | 0x2 meta mark set meta mark & 0xffffff00 | 0x2 comment "lte: incoming"
\t}

\tchain output {
\t\ttype route hook output priority mangle; policy accept;
\t\tct mark & 0xff == 0x1 meta mark set meta mark & 0xffffff00 | 0x1 comment "dsl: restore"
\t\tct mark & 0xff == 0x2 meta mark set meta mark & 0xffffff00 | 0x2 comment "lte: restore"
\t}
}
EOF
`,
    );
  });

  it('flush removes everything haip owns, hands the default route over, and touches nothing else', async () => {
    const k = new FakeKernel();
    setInterfaces(k, STATES['both up, dsl active'].interfaces);
    for (const line of (await planReport(CONFIG, k)).split('\n').filter((l) => l.startsWith('ip '))) {
      assert.equal((await k.run(line.split(' ').slice(1))).code, 0, line);
    }
    k.addRawRule({ priority: 100, table: 7, fwmark: 9, fwmask: 0xffffffff });
    const log = memoryLog();
    k.clearLog();
    const code = await flushOwned({ ...CONFIG, rtTablesFile: undefined, rtProtosFile: undefined }, k, log);
    assert.equal(code, 0);
    assert.equal(
      k.render(),
      `# ip rule
0: from all lookup local
100: from all fwmark 0x9 lookup 7
32766: from all lookup main
32767: from all lookup default
# ip route show table all
default via 198.18.1.1 dev eth1 proto static
198.18.1.0/24 dev eth1 proto kernel scope link src 198.18.1.2
198.18.9.1 dev ppp0 proto kernel scope link src 198.18.9.2
`,
    );
    assert.ok(k.mutations.findIndex((m) => m.includes('proto 4')) === 0, 'the hand-over comes first');
    assert.equal(await flushOwned({ ...CONFIG, rtTablesFile: undefined, rtProtosFile: undefined }, k, log), 0);
    assert.ok(log.lines.includes("notice: flush: nothing of haip's was installed"));
  });
});
