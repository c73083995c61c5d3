// An upstream that writes into the router's routing state (issue 21), against the real kernel and real
// daemons: DHCP option 121 split routes from dnsmasq taken by dhcpcd, and an RFC 4191 route from radvd
// accepted by the router's kernel. Neither may keep the router's traffic on a dead link, and the moved
// routes still serve that link's own source.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Dhcp } from './dhcp';
import { Lab, sleep, within } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

interface Fib {
  dst: string;
  dev?: string;
  table?: string;
  protocol?: string;
}

/** The route the router's kernel picks for `dst` (from `src`), as `ip route get fibmatch` tells it. */
function fib(lab: Lab, dst: string, src?: string): Fib | undefined {
  try {
    return JSON.parse(lab.ip(lab.r, '-j', '-N', 'route', 'get', 'fibmatch', dst, ...(src ? ['from', src] : [])))[0];
  } catch {
    return undefined;
  }
}

const SAMPLE = ['1.0.0.1', '97.0.0.1', '129.0.0.1', '203.0.113.1', '223.0.0.1'];

test('DHCP option 121 (0.0.0.0/1 + 128.0.0.0/1 via isp1) from dnsmasq to dhcpcd: moved into isp1\'s table; when isp1 dies every lookup goes by isp2, isp1\'s own source still by isp1', async (t) => {
  const lab = Lab.create({ createUplinks: [2] });
  const dhcp = new Dhcp(lab);
  t.after(async () => {
    await dhcp.stopAll();
    lab.destroy();
  });
  lab.addUplink(1, false);
  const cfg = lab.writeConfig(lab.configYaml(FAST).replace(', gateway: 198.18.1.1', ''));
  dhcp.server(1, 1, ['--dhcp-option=121,0.0.0.0/1,198.18.1.1,128.0.0.0/1,198.18.1.1,0.0.0.0/0,198.18.1.1']);
  const haip = lab.startHaip(['run', '-c', cfg, '-v']);
  await haip.waitFor(/ready:/, 10_000);
  dhcp.client('dhcpcd', 'eth1', ['classless_static_routes']);
  await lab.waitForDefault('eth1', 20_000);
  const line = await haip.waitFor(/moved "0\.0\.0\.0\/1 via 198\.18\.1\.1 dev eth1 .*proto 16/, 5000);
  assert.match(line, /installed by proto 16\) into table 101/);
  await within(3000, 'both halves in table 101, none in main', () => {
    const main = lab.ip(lab.r, '-4', 'route', 'show', 'table', 'main');
    const t101 = lab.ip(lab.r, '-4', 'route', 'show', 'table', '101');
    return !/\/1 /.test(main) && /^0\.0\.0\.0\/1 via 198\.18\.1\.1/m.test(t101) && /^128\.0\.0\.0\/1 via 198\.18\.1\.1/m.test(t101);
  });
  const src1 = /from (198\.18\.1\.\d+) lookup 101/.exec(lab.rules())![1];
  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 10_000);
  await sleep(1500);
  for (const dst of SAMPLE) {
    assert.equal(fib(lab, dst)?.dev, 'eth2', `the router's traffic to ${dst}: ${JSON.stringify(fib(lab, dst))}`);
    assert.equal(fib(lab, dst, '198.18.2.2')?.dev, 'eth2', `isp2's source to ${dst}`);
    const own = fib(lab, dst, src1);
    assert.equal(own?.dev, 'eth1', `isp1's own source to ${dst}`);
    if (dst !== '203.0.113.1') assert.equal(own?.table, '101');
  }
  assert.equal(haip.lines.filter((l) => l.includes('moved "')).length, 2, 'each route logged once');
  const doc = JSON.parse(lab.cli('status', '-c', cfg, '--json').stdout);
  assert.deepEqual(doc.problems, []);
  assert.equal(readFileSync(join(lab.dir, 'state', 'healthy'), 'utf8').trim(), '1');
  const plan = lab.cli('plan', '-c', cfg).stdout;
  assert.doesNotMatch(plan, /# problem:/, plan);
});
