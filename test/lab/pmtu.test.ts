// A path-MTU black hole against the real kernel: isp1's core hop carries only 1400 bytes and its
// "fragmentation needed" errors are filtered, so small pings pass and full-size packets vanish, the way
// PPPoE, tunnels and broken ISP cores make every web page hang.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lab } from './lab';

const PROBE = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3, size: 1472 }';

function blackHole(lab: Lab, on: boolean) {
  const mtu = on ? '1400' : '1500';
  lab.ip(lab.isp(1), 'link', 'set', 'core', 'mtu', mtu);
  lab.ip(lab.inet, 'link', 'set', 'isp1', 'mtu', mtu);
  if (on) lab.nft(lab.isp(1), 'table ip haiplabpmtu {\n chain out {\n type filter hook output priority 0; policy accept;\n icmp type destination-unreachable icmp code frag-needed drop\n }\n}\n');
  else lab.exec(lab.isp(1), 'nft', 'delete', 'table', 'ip', 'haiplabpmtu');
}

test('a path-MTU black hole (small pings pass, frag-needed filtered) takes the link down, says why, and heals', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const cfg = lab.writeConfig(lab.configYaml(PROBE));
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  await haip.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault('eth1', 5000);
  const t0 = Date.now();
  blackHole(lab, true);
  // Small echoes still pass: a default-size probe would keep the link up.
  assert.match(lab.exec(lab.r, 'ping', '-n', '-c', '1', '-W', '1', '-I', 'eth1', '203.0.113.1'), /1 received/);
  assert.doesNotMatch(spawnPing(lab), /1 received/);
  const ms = await lab.waitForDefault('eth2', 6000, t0);
  console.log(`# figures: pmtu black hole detected, route moved in ${ms} ms`);
  await haip.waitFor(/isp1 \(eth1\): up -> down: .*path MTU below 1500\?/, 5000);
  const doc = JSON.parse(lab.cli('status', '-c', cfg, '--json').stdout);
  const isp1 = (doc.links as { name: string; reason: string }[]).find((l) => l.name === 'isp1');
  assert.match(isp1?.reason ?? '', /path MTU below 1500\?/, JSON.stringify(doc.links));
  blackHole(lab, false);
  await lab.waitForDefault('eth1', 6000);
});

function spawnPing(lab: Lab): string {
  try {
    return lab.exec(lab.r, 'ping', '-n', '-c', '1', '-W', '1', '-s', '1472', '-M', 'do', '-I', 'eth1', '203.0.113.1');
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? '');
  }
}
