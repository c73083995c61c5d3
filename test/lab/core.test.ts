// The core daemon against the real kernel: haip runs as a real process in a lab router namespace and
// real pings cross real veths; failures are real drops, unreachable routes and lost carriers.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { Lab, sleep } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

async function startLab(t: { after(fn: () => void): void }, extra = '') {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const cfg = lab.writeConfig(lab.configYaml(FAST, extra));
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  await haip.waitFor(/notice: ready:/, 10_000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  return { lab, haip, cfg };
}

test('silent loss on the preferred uplink: fails over within 3 s and back within 3 s of healing', async (t) => {
  const { lab, haip } = await startLab(t);
  let t0 = Date.now();
  lab.dropAtIsp(1);
  const failover = await lab.waitForDefault('eth2', 6000, t0);
  const line = await haip.waitFor(/switch: default route isp1 .* -> isp2 /);
  assert.match(line, /warning: switch: default route isp1 \(eth1 via 198\.18\.1\.1\) -> isp2 \(eth2 via 198\.18\.2\.1\): isp1 is down \((3 failed probe rounds|no answer from any target for [\d.]+ s)/);
  t0 = Date.now();
  lab.healIsp(1);
  const failback = await lab.waitForDefault('eth1', 6000, t0);
  await haip.waitFor(/notice: switch: default route isp2 .* -> isp1 .*up and preferred/);
  t.diagnostic(`silent loss: failover ${failover} ms, failback ${failback} ms (interval 500ms, timeout 500ms, down 3, up 3, 2 targets)`);
  console.log(`# figures: silent-loss failover_ms=${failover} failback_ms=${failback}`);
  assert.ok(failover <= 3000, `failover took ${failover} ms`);
  assert.ok(failback <= 3000, `failback took ${failback} ms`);
  // Source routing kept both uplinks reachable throughout.
  assert.match(lab.exec(lab.r, 'ip', 'route', 'get', '203.0.113.1', 'from', '198.18.2.2'), /dev eth2/);
});

test('an unreachable route at the ISP fails over, and recovery fails back', async (t) => {
  const { lab, haip } = await startLab(t);
  lab.unreachableAtIsp(1, true);
  await lab.waitForDefault('eth2', 6000);
  await haip.waitFor(/switch: .*isp1 .* -> isp2/);
  lab.unreachableAtIsp(1, false);
  await lab.waitForDefault('eth1', 6000);
});

test('far-end link down: the carrier loss moves the route at once, without waiting for probes', async (t) => {
  const { lab, haip } = await startLab(t);
  const t0 = Date.now();
  lab.farEnd(1, false);
  const ms = await lab.waitForDefault('eth2', 3000, t0);
  t.diagnostic(`carrier loss: default route moved in ${ms} ms`);
  console.log(`# figures: carrier-loss failover_ms=${ms}`);
  assert.ok(ms < 1000, `carrier loss took ${ms} ms`);
  await haip.waitFor(/isp1 \(eth1\): up -> down: eth1 has no carrier/);
  lab.farEnd(1, true);
  await lab.waitForDefault('eth1', 6000);
});

test('every link down: the default route stays, probing goes on, and the first link back takes over', async (t) => {
  const { lab, haip } = await startLab(t);
  lab.dropAtIsp(2);
  await haip.waitFor(/link isp2 \(eth2\): up -> down/, 6000);
  lab.dropAtIsp(1);
  await haip.waitFor(/link isp1 \(eth1\): up -> down/, 6000);
  await haip.waitFor(/error: every link is down; keeping the default route on isp1/);
  await sleep(1500);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1', 'the route must stay when every link is down');
  const mark = haip.lines.length;
  lab.healIsp(2);
  await lab.waitForDefault('eth2', 6000);
  await haip.waitFor(/switch: default route isp1 .* -> isp2 /, 1000, mark);
  lab.healIsp(1);
  await lab.waitForDefault('eth1', 6000);
});

test('the seed README demo: two fake addresses on one interface, drop one, switch, add it back, switch back', async (t) => {
  const lab = Lab.create({ uplinks: 1 });
  t.after(() => lab.destroy());
  lab.ip(lab.r, 'addr', 'add', '198.18.100.1/32', 'dev', 'eth1');
  lab.ip(lab.r, 'addr', 'add', '198.18.100.2/32', 'dev', 'eth1');
  // As written in the seed, with addresses from the benchmark range.
  const haip = lab.startHaip(['-vv', '--wait=2', '--route', '1/198.18.100.1/eth1', '--route', '2/198.18.100.2/eth1', '--state-dir', `${lab.dir}/state`]);
  await haip.waitFor(/switch: default route none -> eth1-1 /, 10_000);
  await haip.waitFor(/ready/, 5000);
  lab.ip(lab.r, 'addr', 'del', '198.18.100.1/32', 'dev', 'eth1');
  await haip.waitFor(/switch: default route eth1-1 \(eth1\) -> eth1-2 \(eth1\): eth1-1 is down/, 20_000);
  assert.equal(lab.defaultRoute(), 'eth1');
  lab.ip(lab.r, 'addr', 'add', '198.18.100.1/32', 'dev', 'eth1');
  await haip.waitFor(/switch: default route eth1-2 \(eth1\) -> eth1-1 \(eth1\): eth1-1 is up and preferred/, 20_000);
  // The original mode installs no tables or rules of its own, and names none on the host.
  assert.doesNotMatch(lab.rules(), /proto (72|haip)/);
  assert.ok(existsSync(`${lab.dir}/state/status.json`));
  assert.ok(!existsSync('/etc/iproute2/rt_protos.d/haip.conf'), 'the legacy mode must not write /etc/iproute2');
  assert.equal(await haip.stop(), 0);
});

test('a bad config is refused with FILE:LINE:COL and the field, exit 78, and nothing changes', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const rulesBefore = lab.rules();
  const cfg = lab.writeConfig(lab.configYaml(FAST).replace('gateway: 198.18.2.1', 'gateway: 198.18.2.300').replace('weight: 1,', 'wieght: 1,'));
  const haip = lab.startHaip(['run', '-c', cfg]);
  const code = await haip.exited;
  assert.equal(code, 78);
  const out = haip.output();
  assert.match(out, new RegExp(`${cfg.replace(/[.]/g, '\\.')}:\\d+:\\d+: links\\[1\\]\\.gateway: must be an IPv4 address`));
  assert.match(out, /:\d+:\d+: links\[0\]\.wieght: unknown field "wieght" \(did you mean "weight"\?\)/);
  assert.doesNotMatch(out, /\n\s+at /, 'no stack trace');
  assert.equal(lab.rules(), rulesBefore);
  assert.equal(lab.defaultRoute(), '');
});

test('SIGTERM: exits 0 within a second and leaves the default route in place', async (t) => {
  const { lab, haip } = await startLab(t);
  const t0 = Date.now();
  const code = await haip.stop();
  const ms = Date.now() - t0;
  assert.equal(code, 0);
  assert.ok(ms < 1000, `took ${ms} ms`);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
});

test('a failing ip command is logged with its argv and stderr and retried, never fatal', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  // Table 102's default route cannot be installed while eth2's gateway is off-link (so haip installs it
  // `onlink`) and is an address of the router itself, which the kernel refuses as a next hop.
  lab.ip(lab.r, 'addr', 'flush', 'dev', 'eth2');
  lab.ip(lab.r, 'addr', 'add', '198.18.2.2/32', 'dev', 'eth2');
  lab.ip(lab.r, 'addr', 'add', '198.18.2.1/32', 'dev', 'lo');
  const cfg = lab.writeConfig(lab.configYaml(FAST));
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  const err = await haip.waitFor(/error: .*ip -4 route replace default via 198\.18\.2\.1 dev eth2 onlink proto 72 table 102: exit 2: .*; will retry/, 10_000);
  assert.ok(err);
  await haip.waitFor(/notice: ready:/, 10_000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  lab.ip(lab.r, 'addr', 'del', '198.18.2.1/32', 'dev', 'lo');
  lab.ip(lab.r, 'addr', 'add', '198.18.2.2/24', 'dev', 'eth2');
  await sleep(2500);
  assert.match(lab.ip(lab.r, 'route', 'show', 'table', '102'), /default via 198\.18\.2\.1 dev eth2/);
  assert.equal(haip.child.exitCode, null, 'still running');
});

test('SIGHUP with a good file: new weights take effect at once, link states are kept, nothing is re-probed from scratch', async (t) => {
  const { lab, haip, cfg } = await startLab(t);
  const mark = haip.lines.length;
  lab.writeConfig(lab.configYaml(FAST).replace('weight: 1,', 'weight: 5,'));
  haip.signal('SIGHUP');
  await haip.waitFor(/notice: reloaded .*: 2 link\(s\); new or changed: isp1/, 3000, mark);
  await lab.waitForDefault('eth2', 2000);
  await haip.waitFor(/switch: default route isp1 .* -> isp2 .*/, 1000, mark);
  assert.ok(!haip.lines.slice(mark).some((l) => /-> unknown|unknown ->/.test(l)), 'no link went back to unknown');
  // A bad file now: refused, every error logged, and the running config (isp2 preferred) stays.
  lab.writeConfig('links:\n  - { name: isp1, interface: eth1, weigth: 1 }\n');
  const mark2 = haip.lines.length;
  haip.signal('SIGHUP');
  await haip.waitFor(/error: reload refused, keeping the running config: \d+ problem/, 3000, mark2);
  await haip.waitFor(new RegExp(`error: ${cfg.replace(/[.]/g, '\\.')}:2:\\d+: links\\[0\\]\\.weigth: unknown field`), 1000, mark2);
  await sleep(1000);
  assert.equal(lab.defaultRoute(), 'eth2 via 198.18.2.1');
  assert.equal(haip.child.exitCode, null);
});
