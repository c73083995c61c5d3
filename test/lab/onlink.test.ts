// Hosting-style uplinks against the real kernel: a /32 whose gateway sits outside it, reached on-link
// (Hetzner, OVH, GCE; netplan's on-link, networkd's GatewayOnLink, DHCP option 121's GW/32 + default).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Lab, sleep } from './lab';

const PROBE = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

/** isp1 hands the router a /32 (198.18.1.2/32) and keeps its gateway 198.18.1.1 in its own /24. */
function hostingLab(t: { after(fn: () => void): void }, proxyArp = false): Lab {
  const lab = Lab.create({ createUplinks: [2] });
  t.after(() => lab.destroy());
  lab.addUplink(1, false);
  lab.ip(lab.r, 'addr', 'add', '198.18.1.2/32', 'dev', 'eth1');
  if (proxyArp) lab.exec(lab.isp(1), 'sysctl', '-qw', 'net.ipv4.conf.wan.proxy_arp=1');
  return lab;
}

/** Samples main's default route every 20 ms until stopped; the number of samples without one. */
function watchDefault(lab: Lab) {
  let missing = 0;
  let samples = 0;
  let on = true;
  const done = (async () => {
    while (on) {
      samples++;
      if (!lab.defaultRoute()) missing++;
      await sleep(20);
    }
  })();
  return async () => {
    on = false;
    await done;
    return { missing, samples };
  };
}

async function failoverAndBack(lab: Lab) {
  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 6000);
  lab.healIsp(1);
  await lab.waitForDefault('eth1', 6000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  assert.match(lab.exec(lab.r, 'ip', 'route', 'get', '203.0.113.1', 'from', '198.18.1.2'), /via 198\.18\.1\.1 dev eth1/);
}

test('a /32 with a written gateway outside it: installed on-link, carries the route, fails over and back', async (t) => {
  const lab = hostingLab(t);
  const cfg = lab.writeConfig(lab.configYaml(PROBE));
  const plan = lab.cli('plan', '-c', cfg);
  assert.match(plan.stdout, /default via 198\.18\.1\.1 dev eth1 onlink proto 72 table 101/, plan.stdout + plan.stderr);
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  await haip.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault('eth1', 5000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  assert.match(lab.ip(lab.r, 'route', 'show', 'table', '101'), /default via 198\.18\.1\.1 dev eth1 proto 72 onlink/);
  await failoverAndBack(lab);
  assert.doesNotMatch(haip.output(), /invalid gateway/);
});

for (const [shape, foreign] of [
  ['a client\'s onlink route (networkd GatewayOnLink, netplan on-link)', [['route', 'add', 'default', 'via', '198.18.1.1', 'dev', 'eth1', 'onlink', 'proto', 'dhcp', 'metric', '600']]],
  ['DHCP option 121 as dhcpcd installs it (GW/32, then the default)', [
    ['route', 'add', '198.18.1.1', 'dev', 'eth1', 'scope', 'link', 'proto', 'dhcp', 'metric', '600'],
    ['route', 'add', 'default', 'via', '198.18.1.1', 'dev', 'eth1', 'proto', 'dhcp', 'metric', '600'],
  ]],
] as const)
  test(`a /32 whose gateway is learned from ${shape}`, async (t) => {
    const lab = hostingLab(t);
    for (const argv of foreign) lab.ip(lab.r, ...argv);
    const cfg = lab.writeConfig(lab.configYaml(PROBE).replace('gateway: 198.18.1.1 ', ''));
    assert.doesNotMatch(readFileSync(cfg, 'utf8'), /gateway: 198\.18\.1\.1/);
    const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
    await haip.waitFor(/notice: ready:/, 10_000);
    await lab.waitForDefault('eth1', 5000);
    assert.match(lab.ip(lab.r, 'route', 'show', 'table', '101'), /default via 198\.18\.1\.1 dev eth1 proto 72 onlink/);
    await failoverAndBack(lab);
  });

test('a proxy-ARP ISP router with a /32: the host has a default route the whole time, and status names the link', async (t) => {
  const lab = hostingLab(t, true);
  const cfg = lab.writeConfig(lab.configYaml(PROBE));
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  await haip.waitFor(/notice: ready:/, 10_000);
  const stop = watchDefault(lab);
  let seen = { missing: 0, samples: 0 };
  try {
    await lab.waitForDefault('eth1', 5000);
    await sleep(2000);
    await failoverAndBack(lab);
  } finally {
    seen = await stop();
  }
  const { missing, samples } = seen;
  console.log(`# figures: proxy-arp /32 samples=${samples} without_default=${missing}`);
  assert.equal(missing, 0, `${missing} of ${samples} samples had no default route`);
  const doc = JSON.parse(readFileSync(`${lab.dir}/state/status.json`, 'utf8'));
  assert.equal(doc.active, 'isp1');
  assert.match(lab.cli('status', '-c', cfg).stdout, /isp1/);
});
