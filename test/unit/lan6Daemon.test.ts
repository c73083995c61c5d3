// lan6 and refused delegated prefixes through the whole daemon on fakes: the RA follows a link's IPv6
// verdict, status.json carries what the last RA said and which delegated prefixes route nothing, and why.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { Daemon } from '../../src/daemon';
import { planReport } from '../../src/ops';
import { StatusDoc } from '../../src/status';
import { renderStatus } from '../../src/statusView';
import { FakeClock, FakeKernel, FakeLinkEvents, FakeProber, memoryLog, RecordingNotifier } from './fakes';

const LINKS = `probe: { targets: [203.0.113.1, "2001:db8:ff::1"] }
tables: { T1: 101, T2: 102 }
links:
  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1", prefixes6: ["2001:db8:1:100::/56"] }
  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1, gateway6: "fe80::2"PREFIXES2 }
`;

function setup(text: string, delegate?: string) {
  const kernel = new FakeKernel()
    .addInterface('eth1', [{ address: '198.18.1.2', prefixlen: 24 }, { address: '2001:db8:1::2', prefixlen: 64 }])
    .addInterface('eth2', [{ address: '198.18.2.2', prefixlen: 24 }, { address: '2001:db8:2::2', prefixlen: 64 }])
    .addInterface('lan0', [{ address: '2001:db8:1:100::1', prefixlen: 64 }, { address: '2001:db8:2:100::1', prefixlen: 64 }]);
  if (delegate) kernel.delegate(delegate, 'eth2');
  const clock = new FakeClock();
  const prober = new FakeProber();
  const docs: StatusDoc[] = [];
  const sent: Buffer[] = [];
  const daemon = new Daemon(parseConfigText(text, 'h.yaml'), {
    ip: kernel,
    prober,
    clock,
    notifier: new RecordingNotifier(),
    log: memoryLog(),
    events: new FakeLinkEvents(),
    status: { write: (d) => void docs.push(d) },
    watchdogMs: null,
    raPorts: () => ({ send: async (b) => (sent.push(b), null), close: () => {} }),
  });
  return { daemon, clock, prober, sent, doc: () => docs[docs.length - 1] };
}

/** The preferred lifetime of each PIO of an RA, by the prefix's third group. */
const preferred = (b: Buffer) => {
  const out: string[] = [];
  for (let o = 16; o + 32 <= b.length; o += 32) out.push(`${b.subarray(o + 20, o + 22).toString('hex')}:${b.readUInt32BE(o + 8)}`);
  return out.join(' ');
};

describe('lan6 in the daemon', () => {
  it('isp1\'s IPv6 down deprecates its /64 on the LAN, its return brings it back; status says what went out', async () => {
    const t = setup(LINKS.replace('PREFIXES2', ', prefixes6: ["2001:db8:2:100::/56"]') + 'lan6: { interface: lan0 }\n');
    await t.daemon.start();
    await t.clock.advance(0);
    assert.equal(preferred(t.sent[t.sent.length - 1]), '0001:2700 0002:2700');
    t.prober.setDown('2001:db8:1::2');
    for (let i = 0; i < 4; i++) await t.clock.advance(1000);
    assert.equal(t.daemon.healthOf('isp1', 6)?.state, 'down');
    assert.equal(preferred(t.sent[t.sent.length - 1]), '0001:0 0002:2700');
    // status.json follows the RA that went out, not only the pass before it.
    assert.deepEqual(t.doc().lan6?.prefixes.map((p) => `${p.prefix} ${p.state}`), ['2001:db8:1:100::/64 deprecated', '2001:db8:2:100::/64 preferred']);
    assert.match(renderStatus(t.daemon.statusDoc(), t.clock.now()), /LAN lan0: router advertisements, last sent \d+s ago\n  2001:db8:1:100::\/64 of isp1: deprecated \(isp1's IPv6 is down\); valid 5400 s, preferred 0 s\n/);
    t.prober.setDown('2001:db8:1::2', false);
    for (let i = 0; i < 25; i++) await t.clock.advance(1000);
    assert.equal(preferred(t.sent[t.sent.length - 1]), '0001:2700 0002:2700');
    await t.daemon.stop();
  });

  it('without lan6: no RA, no lan6 in status', async () => {
    const t = setup(LINKS.replace('PREFIXES2', ''));
    await t.daemon.start();
    await t.clock.advance(0);
    assert.equal(t.sent.length, 0);
    assert.equal(t.daemon.statusDoc().lan6, undefined);
    await t.daemon.stop();
  });
});

describe('refused delegated prefixes in status', () => {
  it('a learned prefix haip refused is named with the reason, on the link\'s IPv6 row', async () => {
    const t = setup(LINKS.replace('PREFIXES2', ''), '2001:db8::/32');
    await t.daemon.start();
    await t.clock.advance(0);
    const row = t.daemon.statusDoc().links.find((l) => l.name === 'isp2' && l.family === 6);
    assert.deepEqual(row?.prefixes6_refused, [{ prefix: '2001:db8::/32', learned: true, why: '/32 is not a delegation (/48 to /64)' }]);
    assert.match(renderStatus(t.daemon.statusDoc(), t.clock.now()), /isp2 does not route learned delegated prefix 2001:db8::\/32: \/32 is not a delegation \(\/48 to \/64\)/);
    await t.daemon.stop();
  });

  it('a configured prefix another link owns first is refused, not shown as routed', async () => {
    const t = setup(LINKS.replace('PREFIXES2', ', prefixes6: ["2001:db8:1:100::/56"]'));
    await t.daemon.start();
    await t.clock.advance(0);
    const row = t.daemon.statusDoc().links.find((l) => l.name === 'isp2' && l.family === 6);
    assert.equal(row?.prefixes6, undefined);
    assert.deepEqual(row?.prefixes6_refused?.map((p) => `${p.prefix} ${p.learned} ${p.why}`), ['2001:db8:1:100::/56 false link "isp1" owns it (or a prefix overlapping it) first: no source rule']);
    assert.deepEqual(t.daemon.statusDoc().links.find((l) => l.name === 'isp1' && l.family === 6)?.prefixes6?.map((p) => p.prefix), ['2001:db8:1:100::/56']);
    await t.daemon.stop();
  });
});

describe('haip plan with lan6', () => {
  it('names what the RAs would say, and what is not advertised', async () => {
    const kernel = new FakeKernel()
      .addInterface('eth1', [{ address: '198.18.1.2', prefixlen: 24 }, { address: '2001:db8:1::2', prefixlen: 64 }])
      .addInterface('eth2', [{ address: '198.18.2.2', prefixlen: 24 }])
      .addInterface('lan0', [{ address: '2001:db8:1:100::1', prefixlen: 64 }, { address: '2001:db8:1:180::1', prefixlen: 60 }, { address: 'fd00:200::1', prefixlen: 64 }, { address: '2001:db8:1:101::1', prefixlen: 64, validS: 600, preferredS: 300 }]);
    const text = await planReport(parseConfigText(LINKS.replace('PREFIXES2', '') + 'lan6: { interface: lan0 }\n', 'h.yaml'), kernel);
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('# lan6:'));
    assert.deepEqual(lines.slice(at, at + 4), [
      '# lan6: router advertisements on lan0 (at once on a change, then every 300 s), as the links stand here:',
      '#   2001:db8:1:100::/64 of isp1: preferred (isp1\'s IPv6 is up); valid 5400 s, preferred 2700 s',
      '#   2001:db8:1:101::/64 of isp1: preferred (isp1\'s IPv6 is up); valid 600 s, preferred 300 s',
      '#   2001:db8:1:180::1 NOT advertised: /60: hosts number themselves (SLAAC) from a /64 only',
    ]);
    const gone = await planReport(parseConfigText(LINKS.replace('PREFIXES2', '') + 'lan6: { interface: lan9 }\n', 'h.yaml'), kernel);
    assert.match(gone, /#   lan9 does not exist: none are sent until it does/);
  });
});
