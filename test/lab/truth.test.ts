// One truth about the default route, against the real kernel: a switch the kernel refuses is never
// reported (log, hooks, STATUS=/status.json, `haip status`), and foreign default routes that would win
// over haip's (prepended, a same-metric duplicate, a lower metric) are undone within a second.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { HAIP_JS, Lab, sleep } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

function haipCli(lab: Lab, ...args: string[]) {
  return spawnSync('ip', ['netns', 'exec', lab.r, process.execPath, HAIP_JS, ...args], { encoding: 'utf8' });
}

/** Main's default routes as `dev proto metric`, in the kernel's order. */
function mainDefaults(lab: Lab): string[] {
  const routes = JSON.parse(lab.ip(lab.r, '-j', '-4', '-N', 'route', 'show', 'table', 'main', 'default') || '[]');
  return routes.map((r: { dev: string; gateway?: string; protocol?: string; metric?: number }) => `${r.dev}${r.gateway ? ` via ${r.gateway}` : ''} proto ${r.protocol ?? 'boot'} metric ${r.metric ?? 0}`);
}

const HAIP_ISP1 = 'eth1 via 198.18.1.1 proto 72 metric 0';

/** Polls until `check` holds; the elapsed ms, or throws with what was last seen. */
async function until(what: string, check: () => boolean, timeoutMs: number, seen: () => unknown): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (check()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms; last seen ${JSON.stringify(seen())}`);
    await sleep(10);
  }
}

test('a switch the kernel refuses ("Nexthop has invalid gateway") is never reported; once the kernel takes it, it is', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const hooks = `${lab.dir}/hooks.d`;
  const record = `${lab.dir}/hook-record`;
  mkdirSync(hooks, { recursive: true });
  chmodSync(lab.dir, 0o755);
  writeFileSync(`${hooks}/10-record`, `#!/bin/sh\necho "$HAIP_EVENT $HAIP_LINK" >> ${record}\n`);
  chmodSync(`${hooks}/10-record`, 0o755);
  const cfg = lab.writeConfig(lab.configYaml(FAST));
  const haip = lab.startHaip(['run', '-c', cfg]);
  await haip.waitFor(/ready:/, 10_000);
  assert.equal(lab.defaultDev(), 'eth1');
  // The kernel refuses `default via 198.18.2.1` in main once the gateway no longer resolves: a foreign
  // blackhole rule for it ahead of every table. (A blackhole route in isp2's table does not do it: the
  // nexthop check looks up at link scope, past universe-scope blackholes, and finds the connected
  // route.) isp2's own table is checked in that table first and keeps its routes, so isp2 stays up.
  lab.ip(lab.r, 'rule', 'add', 'priority', '9000', 'to', '198.18.2.1', 'blackhole');
  const from = haip.lines.length;
  lab.dropAtIsp(1);
  await haip.waitFor(/link isp1 \(eth1\): up -> down/, 5000, from);
  await sleep(3000);
  const during = haip.lines.slice(from).join('\n');
  assert.doesNotMatch(during, /switch: default route/, 'no switch is logged');
  assert.equal(lab.defaultDev(), 'eth1', 'the kernel still routes by isp1');
  const doc = JSON.parse(haipCli(lab, 'status', '-c', cfg, '--json').stdout);
  assert.equal(doc.active, 'isp1', 'status.json names the link the kernel routes by');
  const refused = await haip.waitFor(/switch to isp2 refused/, 5000, from);
  assert.match(refused, /Nexthop has invalid gateway.*the default route stays on isp1; will retry/);
  assert.match(doc.problems.join('\n'), /switch to isp2 refused/);
  const table = haipCli(lab, 'status', '-c', cfg).stdout;
  assert.match(table, /default route: isp1/);
  assert.match(table, /problem: switch to isp2 refused/);
  assert.match(table, /^\*\s+isp1\s/m);
  const hooked = existsSync(record) ? readFileSync(record, 'utf8') : '';
  assert.doesNotMatch(hooked, /switch isp2/, 'no switch hook ran');
  // The kernel can take it again: the retry moves the route, and only then is it told.
  lab.ip(lab.r, 'rule', 'del', 'priority', '9000', 'to', '198.18.2.1', 'blackhole');
  await lab.waitForDefault('eth2', 35_000);
  const line = await haip.waitFor(/switch: default route isp1 .* -> isp2/, 5000, from);
  assert.ok(line);
  await until('the switch hook', () => existsSync(record) && readFileSync(record, 'utf8').includes('switch isp2'), 5000, () => (existsSync(record) ? readFileSync(record, 'utf8') : ''));
  const after = JSON.parse(haipCli(lab, 'status', '-c', cfg, '--json').stdout);
  assert.equal(after.active, 'isp2');
  // The effective-route check keeps its last word (traffic went by isp1 while isp2 was haip's choice)
  // until the lookups asked after the switching pass judge again (LOOKUP_DELAY_MS and one pass): a
  // changing pass never clears a problem unseen, so `healthy` is never 1 on a guess.
  const problems = () => JSON.parse(haipCli(lab, 'status', '-c', cfg, '--json').stdout).problems as string[];
  await until('no problem once the lookups after the switch are judged', () => problems().length === 0, 2000, problems);
});

test('the best link\'s route refused from the start: isp2 carries the default route the whole time, and every report says why', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  // The same obstacle as above, before haip starts: main refuses `default via 198.18.1.1`, while isp1's
  // own table takes its routes and isp1 answers its probes.
  lab.ip(lab.r, 'rule', 'add', 'priority', '9000', 'to', '198.18.1.1', 'blackhole');
  const prom = `${lab.dir}/state/haip.prom`;
  const cfg = lab.writeConfig(lab.configYaml(FAST, `metrics_file: ${prom}\n`));
  const haip = lab.startHaip(['run', '-c', cfg]);
  await haip.waitFor(/ready:/, 10_000);
  await lab.waitForDefault('eth2', 3000);
  // From then on, for 6 s: always a default route, always on isp2.
  const seen = new Set<string>();
  for (const end = Date.now() + 6000; Date.now() < end; await sleep(20)) seen.add(lab.defaultRoute());
  assert.deepEqual([...seen], ['eth2 via 198.18.2.1'], 'the host is never without a default route, nor routed by the refused link');
  const refused = await haip.waitFor(/switch to isp1 refused/, 1000);
  assert.match(refused, /switch to isp1 refused: .*Nexthop has invalid gateway/);
  assert.match(await haip.waitFor(/switch: default route none -> isp2/, 1000), /the kernel refuses isp1's route/);
  const doc = JSON.parse(haipCli(lab, 'status', '-c', cfg, '--json').stdout);
  assert.equal(doc.active, 'isp2');
  const isp1 = doc.links.find((l: { name: string }) => l.name === 'isp1');
  assert.equal(isp1.state, 'up', 'isp1 answers its probes through its own table');
  assert.match(isp1.route_refused, /Nexthop has invalid gateway/);
  assert.match(doc.problems.join('\n'), /switch to isp1 refused: .*; isp2 carries the route meanwhile; retrying/);
  assert.match(haipCli(lab, 'status', '-c', cfg).stdout, /isp1 answers but the kernel refuses its default route/);
  assert.match(readFileSync(prom, 'utf8'), /^haip_link_route_refused\{link="isp1",interface="eth1",family="4"\} 1$/m);
  assert.doesNotMatch(haip.output(), /every link is down/);
  // The obstacle goes: a retry (at most 30 s apart) moves the route to isp1, and the refusal is over.
  lab.ip(lab.r, 'rule', 'del', 'priority', '9000', 'to', '198.18.1.1', 'blackhole');
  await lab.waitForDefault('eth1', 35_000);
  await haip.waitFor(/switch: default route isp2 .* -> isp1/, 5000);
  await sleep(1500);
  const after = JSON.parse(haipCli(lab, 'status', '-c', cfg, '--json').stdout);
  assert.equal(after.active, 'isp1');
  assert.deepEqual(after.problems, []);
  assert.equal(after.links.find((l: { name: string }) => l.name === 'isp1').route_refused, null);
  assert.match(readFileSync(prom, 'utf8'), /^haip_link_route_refused\{link="isp1",interface="eth1",family="4"\} 0$/m);
});

/** Starts haip on isp1 with dhclient's usual higher-metric default beside it. */
async function onIsp1(t: { after(fn: () => void): void }) {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  lab.ip(lab.r, 'route', 'add', 'default', 'via', '198.18.2.1', 'dev', 'eth2', 'proto', 'dhcp', 'metric', '100');
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST))]);
  await haip.waitFor(/ready:/, 10_000);
  await until('haip on isp1', () => mainDefaults(lab)[0] === HAIP_ISP1, 3000, () => mainDefaults(lab));
  return { lab, haip };
}

const EXPECTED = [HAIP_ISP1, 'eth2 via 198.18.2.1 proto 16 metric 100'];

async function undone(lab: Lab, haip: { lines: string[]; waitFor(re: RegExp, ms?: number, from?: number): Promise<string> }, foreign: string[]): Promise<number> {
  const from = haip.lines.length;
  const t0 = Date.now();
  lab.ip(lab.r, 'route', ...foreign);
  const ms = await until('the foreign default undone', () => JSON.stringify(mainDefaults(lab)) === JSON.stringify(EXPECTED), 1000, () => mainDefaults(lab));
  await haip.waitFor(/changed outside haip, putting back: a default route that would win over haip's/, 2000, from);
  void t0;
  return ms;
}

test('a prepended default route (`ip route prepend`) is removed within a second; the metric-100 one stays', async (t) => {
  const { lab, haip } = await onIsp1(t);
  const ms = await undone(lab, haip, ['prepend', 'default', 'via', '198.18.2.1', 'dev', 'eth2']);
  console.log(`# prepended default undone in ${ms} ms`);
});

test('a same-metric duplicate appended (busybox udhcpc `route add`) is removed within a second', async (t) => {
  const { lab, haip } = await onIsp1(t);
  const ms = await undone(lab, haip, ['append', 'default', 'via', '198.18.2.1', 'dev', 'eth2']);
  console.log(`# appended duplicate undone in ${ms} ms`);
});

test('a default at a lower metric than haip\'s (metric 10) is removed within a second; one at a higher metric stays', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST, 'main_metric: 50\n'))]);
  await haip.waitFor(/ready:/, 10_000);
  const ours = 'eth1 via 198.18.1.1 proto 72 metric 50';
  await until('haip on isp1 at metric 50', () => mainDefaults(lab)[0] === ours, 3000, () => mainDefaults(lab));
  const from = haip.lines.length;
  lab.ip(lab.r, 'route', 'add', 'default', 'via', '198.18.2.1', 'dev', 'eth2', 'metric', '10');
  lab.ip(lab.r, 'route', 'add', 'default', 'via', '198.18.2.1', 'dev', 'eth2', 'metric', '100');
  const ms = await until('the metric-10 default undone', () => JSON.stringify(mainDefaults(lab)) === JSON.stringify([ours, 'eth2 via 198.18.2.1 proto boot metric 100']), 1000, () => mainDefaults(lab));
  console.log(`# lower-metric default undone in ${ms} ms`);
  await haip.waitFor(/changed outside haip, putting back/, 2000, from);
});

test('after a prepend and a fail-back, main holds exactly one haip route, and the next failover really moves the traffic', async (t) => {
  const { lab, haip } = await onIsp1(t);
  lab.ip(lab.r, 'route', 'prepend', 'default', 'via', '198.18.1.1', 'dev', 'eth1', 'proto', 'static');
  await until('the prepend undone', () => JSON.stringify(mainDefaults(lab)) === JSON.stringify(EXPECTED), 1000, () => mainDefaults(lab));
  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 5000);
  lab.healIsp(1);
  await lab.waitForDefault('eth1', 6000);
  await sleep(500);
  const owned = mainDefaults(lab).filter((r) => r.includes('proto 72'));
  assert.deepEqual(owned, [HAIP_ISP1], 'one haip route in main');
  const from = haip.lines.length;
  lab.dropAtIsp(1);
  await haip.waitFor(/switch: default route isp1 .* -> isp2/, 5000, from);
  assert.equal(mainDefaults(lab)[0], 'eth2 via 198.18.2.1 proto 72 metric 0');
  const got = lab.exec(lab.r, 'ip', 'route', 'get', '203.0.113.1');
  assert.match(got, /dev eth2/, 'the kernel routes by isp2');
});

test('a hung `ip`: status shows it at once, the watchdog stops being fed after 20 s, nothing claims a switch; once ip answers, the switch happens', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const bin = `${lab.dir}/bin`;
  const flag = `${lab.dir}/ip-hangs`;
  mkdirSync(bin, { recursive: true });
  const realIp = spawnSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).stdout.trim();
  // Every `ip` haip runs hangs while the flag exists, but `ip monitor` and `ip netns exec` (the lab's own).
  writeFileSync(`${bin}/ip`, `#!/bin/sh\ncase "$1 $2" in "-4 monitor"|"netns exec") exec ${realIp} "$@";; esac\nif [ -e ${flag} ]; then exec sleep 1000; fi\nexec ${realIp} "$@"\n`);
  chmodSync(`${bin}/ip`, 0o755);
  const cfg = lab.writeConfig(lab.configYaml(FAST));
  const haip = lab.startHaip(['run', '-c', cfg], { PATH: `${bin}:${process.env.PATH}`, WATCHDOG_USEC: '2000000' });
  await haip.waitFor(/ready:/, 10_000);
  writeFileSync(flag, '');
  const from = haip.lines.length;
  const t0 = Date.now();
  lab.dropAtIsp(1);
  await haip.waitFor(/link isp1 \(eth1\): up -> down/, 5000, from);
  await until('the hang in status.json', () => (JSON.parse(readFileSync(`${lab.dir}/state/status.json`, 'utf8')).problems ?? []).some((p: string) => /ip/.test(p)), 10_000, () => readFileSync(`${lab.dir}/state/status.json`, 'utf8'));
  const shown = Date.now() - t0;
  const table = haipCli(lab, 'status', '-c', cfg).stdout;
  assert.match(table, /problem: (a reconcile pass has been waiting for ip|ip timed out)/);
  assert.match(table, /default route: isp1/);
  const stopped = await haip.waitFor(/not feeding the watchdog/, 40_000, from);
  const unfedAfter = Date.now() - t0;
  console.log(`# hung ip: in status after ${shown} ms; watchdog no longer fed after ${unfedAfter} ms: ${stopped.replace(/^\S+ /, '')}`);
  assert.ok(unfedAfter < 35_000, `${unfedAfter} ms`);
  assert.doesNotMatch(haip.lines.slice(from).join('\n'), /switch: default route/);
  rmSync(flag);
  await lab.waitForDefault('eth2', 40_000);
  await haip.waitFor(/switch: default route isp1 .* -> isp2/, 5000, from);
  await until('the problem cleared', () => (JSON.parse(readFileSync(`${lab.dir}/state/status.json`, 'utf8')).problems ?? []).length === 0, 5000, () => readFileSync(`${lab.dir}/state/status.json`, 'utf8'));
});
