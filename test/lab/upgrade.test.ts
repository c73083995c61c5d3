// Upgrading from 0.1.0 against the real kernel: the `inet haip` table 0.1.0 left (no marker comment) is
// taken over on start, once, and the connection-keeping rules are this version's; a table of that name
// with anything else in it stays refused (hardening.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lab, sleep } from './lab';

/** Exactly what 0.1.0's stickyTable wrote for the lab's two links (default marks 0x1/0x2, mask 0xff). */
const TABLE_010 = `table inet haip {
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		ct mark & 0xff == 0x1 meta mark set meta mark & 0xffffff00 | 0x1 comment "isp1: restore"
		ct mark & 0xff == 0x2 meta mark set meta mark & 0xffffff00 | 0x2 comment "isp2: restore"
		ct state new iifname "eth1" ct mark set ct mark & 0xffffff00 | 0x1 meta mark set meta mark & 0xffffff00 | 0x1 comment "isp1: incoming"
		ct state new iifname "eth2" ct mark set ct mark & 0xffffff00 | 0x2 meta mark set meta mark & 0xffffff00 | 0x2 comment "isp2: incoming"
	}

	chain output {
		type route hook output priority mangle; policy accept;
		ct mark & 0xff == 0x1 meta mark set meta mark & 0xffffff00 | 0x1 comment "isp1: restore"
		ct mark & 0xff == 0x2 meta mark set meta mark & 0xffffff00 | 0x2 comment "isp2: restore"
	}

	chain postrouting {
		type filter hook postrouting priority mangle; policy accept;
		ct mark & 0xff == 0x0 oifname "eth1" ct mark set ct mark & 0xffffff00 | 0x1 comment "isp1: outgoing"
		ct mark & 0xff == 0x0 oifname "eth2" ct mark set ct mark & 0xffffff00 | 0x2 comment "isp2: outgoing"
	}
}
`;

test("upgrade from 0.1.0: haip with sticky takes over the unmarked inet haip table 0.1.0 left, and says so once", async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  lab.nft(lab.r, TABLE_010);
  assert.doesNotMatch(lab.exec(lab.r, 'nft', 'list', 'table', 'inet', 'haip'), /comment "haip: managed/);
  const cfg = lab.writeConfig(lab.configYaml(undefined, 'sticky: true\n'));
  const haip = lab.startHaip(['run', '-c', cfg, '-v']);
  await haip.waitFor(/notice: ready:/, 10_000);
  await haip.waitFor(/took over nftables table inet haip left by haip 0\.1\.0/, 5000);
  await sleep(2000); // the periodic nft check and a few probe rounds
  const table = lab.exec(lab.r, 'nft', 'list', 'table', 'inet', 'haip');
  assert.match(table, /comment "haip: managed by haip\(8\), replaced on start and reload"/, table);
  assert.match(table, /comment "isp1: outgoing"/);
  assert.equal(haip.lines.filter((l) => /took over nftables table/.test(l)).length, 1, 'logged once');
  assert.equal(haip.lines.filter((l) => /someone else's/.test(l)).length, 0, haip.lines.join('\n'));
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
});

test('a restart (what the package upgrade does with the running haip) removes no route or rule of haip\'s: the routing gap is 0 ms', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const cfg = lab.writeConfig(lab.configYaml(undefined, 'sticky: true\n'));
  const first = lab.startHaip(['run', '-c', cfg, '-v']);
  await first.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault('eth1', 5000);
  const monitor = lab.spawnIn(lab.r, ['ip', 'monitor', 'route', 'rule']);
  await sleep(300);
  // The monitor sees deletions: one of the test's own, in a table haip does not read.
  lab.ip(lab.r, 'route', 'add', 'blackhole', '198.51.100.0/24', 'table', '999');
  lab.ip(lab.r, 'route', 'del', 'blackhole', '198.51.100.0/24', 'table', '999');
  await monitor.waitFor(/^Deleted blackhole 198\.51\.100\.0\/24 table 999/, 2000);
  const t0 = Date.now();
  assert.equal(await first.stop(), 0);
  const second = lab.startHaip(['run', '-c', cfg, '-v']);
  await second.waitFor(/notice: ready:/, 10_000);
  const restartMs = Date.now() - t0;
  await sleep(1000);
  monitor.signal('SIGTERM');
  await monitor.exited;
  const deleted = monitor.lines.filter((l) => l.startsWith('Deleted') && !l.includes('table 999'));
  t.diagnostic(`restart took ${restartMs} ms; routes and rules deleted meanwhile: ${deleted.length}`);
  assert.deepEqual(deleted, [], 'nothing of haip\'s is taken away across the restart');
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  assert.match(lab.exec(lab.r, 'nft', 'list', 'table', 'inet', 'haip'), /comment "haip: managed by haip\(8\)/);
});
