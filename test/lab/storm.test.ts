// Event storms against the real kernel: a carrier bouncing 50 times a second for a minute must cost the
// daemon little CPU, leave its memory flat and its log short; a gateway that vanishes and comes back
// (a router advertisement whose router lifetime flaps to 0) brings the link back through `up` good rounds.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Lab, sleep, within } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
const STORM_MS = Number(process.env.HAIP_STORM_MS ?? 60_000);
/** Bounces a second: one `link set down` and one `link set up` each. */
const BOUNCES = Number(process.env.HAIP_STORM_BOUNCES ?? 50);

/** Clock ticks of CPU a process and its descendants used: live ones from their stat, reaped ones as cutime/cstime. */
function cpuTicks(pid: number, all = processes()): number {
  const me = all.get(pid);
  if (!me) return 0;
  let ticks = me.ticks;
  for (const [child, p] of all) if (p.ppid === pid) ticks += cpuTicks(child, all);
  return ticks;
}

interface Proc {
  ppid: number;
  comm: string;
  /** utime + stime + cutime + cstime. */
  ticks: number;
  own: number;
  sys: number;
}

/** Where the ticks went: the daemon itself, its reaped children, each live descendant by name. */
function breakdown(pid: number, all = processes()): Record<string, number> {
  const me = all.get(pid);
  if (!me) return {};
  const out: Record<string, number> = { daemon: me.own, daemon_sys: me.sys, reaped: me.ticks - me.own };
  for (const [child, p] of all) if (p.ppid === pid) out[p.comm] = (out[p.comm] ?? 0) + cpuTicks(child, all);
  return out;
}

function processes(): Map<number, Proc> {
  const out = new Map<number, Proc>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The fields after the command name (which may hold spaces), from field 3 (state) on.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // ppid is field 4; utime, stime, cutime, cstime are fields 14-17.
      const own = Number(f[11]) + Number(f[12]);
      out.set(Number(name), { ppid: Number(f[1]), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), own, sys: Number(f[12]), ticks: own + Number(f[13]) + Number(f[14]) });
    } catch {
      // Gone between the listing and the read.
    }
  }
  return out;
}

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

/** Non-debug lines of plain-style output ("<iso time> <level>: ..."). */
const logged = (lines: string[]) => lines.filter((l) => /^\S+ (error|warning|notice|info):/.test(l));

test(`a carrier bouncing ${BOUNCES} times a second for ${STORM_MS / 1000} s: little CPU (aim 5 %, asserted < 10 %), bounded log lines, flat memory`, async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const cfg = lab.writeConfig(lab.configYaml(FAST));
  const haip = lab.startHaip(['run', '-c', cfg, ...(process.env.HAIP_STORM_DEBUG ? ['-vv'] : [])]);
  await haip.waitFor(/notice: ready:/, 10_000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  // Settle: the first seconds of a node process (JIT, first GCs) are not the storm's cost.
  await sleep(3000);
  // One `ip -batch` in isp1's namespace flips the far end of the router's eth1: no process per bounce.
  const flipper = lab.spawnIn(lab.isp(1), ['ip', '-batch', '-']);
  const hz = 100;
  const from = haip.lines.length;
  const rss0 = rssKb(haip.pid);
  const cpu0 = cpuTicks(haip.pid);
  const parts0 = breakdown(haip.pid);
  const t0 = Date.now();
  let down = false;
  let flips = 0;
  while (Date.now() - t0 < STORM_MS) {
    if (!BOUNCES) {
      await sleep(100);
      continue;
    }
    down = !down;
    flipper.send(`link set wan ${down ? 'down' : 'up'}`);
    flips++;
    // Half a bounce: down for 10 ms, up for 10 ms.
    await sleep(Math.max(0, t0 + (flips * 1000) / (2 * BOUNCES) - Date.now()));
  }
  if (down) flipper.send('link set wan up');
  const elapsed = Date.now() - t0;
  const cpu1 = cpuTicks(haip.pid);
  const parts1 = breakdown(haip.pid);
  const rss1 = rssKb(haip.pid);
  const stormLines = logged(haip.lines.slice(from));
  flipper.child.stdin?.end();
  const cpuPct = ((cpu1 - cpu0) / hz / (elapsed / 1000)) * 100;
  const figures = `bounces=${Math.floor(flips / 2)} in ${(elapsed / 1000).toFixed(1)} s, cpu=${cpuPct.toFixed(1)} % of a core, log_lines=${stormLines.length} (${(stormLines.length / (elapsed / 1000)).toFixed(1)}/s), rss_kb ${rss0} -> ${rss1}`;
  t.diagnostic(figures);
  console.log(`# figures: carrier-storm ${figures}`);
  console.log(`# cpu ticks by process: ${Object.keys(parts1).map((k) => `${k} ${parts1[k] - (parts0[k] ?? 0)}`).join(', ')}`);
  const kinds = new Map<string, number>();
  for (const l of stormLines) {
    const k = l.replace(/^\S+ /, '').replace(/\d+(\.\d+)?/g, 'N').slice(0, 90);
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  if (process.env.HAIP_STORM_DEBUG)
    for (const l of haip.lines.slice(from).filter((x) => / debug: /.test(x))) {
      const k = l.replace(/^\S+ /, '').replace(/\d+(\.\d+)?/g, 'N').slice(0, 60);
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    }
  for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`# ${n} x ${k}`);
  // After the storm the link comes back through its `up` good rounds (damping may hold the route back).
  const isp1 = () => (JSON.parse(lab.cli('status', '--json', '-c', cfg).stdout || '{"links":[]}') as { links: { name: string; state: string }[] }).links.find((l) => l.name === 'isp1')?.state;
  await within(30_000, 'isp1 up again after the storm', () => isp1() === 'up', Date.now(), 500);
  // The aim is 5 %: 4.6 % with a pass reading through one `ip -batch`; on the shared 2-core lab VM it measured 5-9 % before the
  // effective-route lookups came back (one ip -batch after each pass) and 10.4 % with them (docs/decisions.md,
  // "Event storms"). The guard rail (10 %, twice the aim: the VM is shared) catches a return of the old cost (105 %) or of a process per read.
  assert.ok(cpuPct < 10, `the daemon used ${cpuPct.toFixed(1)} % of a core`);
  assert.ok(stormLines.length <= (STORM_MS / 1000) * 1, `${stormLines.length} log lines in the storm:\n${stormLines.slice(0, 40).join('\n')}`);
  assert.ok(rss1 <= rss0 * 1.25 + 10_000, `RSS grew from ${rss0} kB to ${rss1} kB`);
});

test('an IPv6 gateway that vanishes (router lifetime 0) and comes back: the link returns through `up` good rounds', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  lab.enableIPv6([]);
  // What the kernel holds while isp1's router advertisements say it is a default router, and drops at lifetime 0.
  const ra = ['-6', 'route', 'default', 'via', 'fe80::1', 'dev', 'eth1', 'proto', 'ra', 'metric', '1024'];
  lab.ip(lab.r, ...ra.slice(0, 2), 'add', ...ra.slice(2));
  const cfg = lab.writeConfig(
    `probe: { targets: ["2001:db8:ff::1", "2001:db8:ff::2"], interval: 500ms, timeout: 500ms, down: 3, up: 3 }\ntables: { T1: 101, T2: 102 }\nlinks:\n` +
      `  - { name: isp1, interface: eth1, weight: 1, table: T1 }\n` +
      `  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway6: "fe80::2" }\n` +
      `${lab.pathsYaml()}\n`,
  );
  const haip = lab.startHaip(['run', '-c', cfg]);
  await haip.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault6('eth1', 5000);
  let mark = haip.lines.length;
  lab.ip(lab.r, ...ra.slice(0, 2), 'del', ...ra.slice(2));
  const gone = await haip.waitFor(/isp1: IPv6 .*gateway of eth1 unknown/, 5000, mark);
  assert.doesNotMatch(gone, /IPv6 IPv6/);
  await haip.waitFor(/link isp1 \(eth1\) IPv6: up -> down: gateway of eth1 unknown/, 5000, mark);
  await lab.waitForDefault6('eth2', 5000);
  mark = haip.lines.length;
  const t0 = Date.now();
  lab.ip(lab.r, ...ra.slice(0, 2), 'add', ...ra.slice(2));
  const back = await haip.waitFor(/link isp1 \(eth1\) IPv6: \w+ -> up/, 10_000, mark);
  const ms = Date.now() - t0;
  console.log(`# figures: gateway-back up_ms=${ms}: ${back}`);
  assert.match(back, /down -> up: 3 good probe rounds in a row/, 'not `unknown -> up` after one round');
  assert.ok(ms >= 1000, `back after ${ms} ms: sooner than 3 rounds of 500 ms`);
  const status = JSON.parse(lab.cli('status', '--json', '-c', cfg).stdout);
  const six = status.links.find((l: { name: string; family: number }) => l.name === 'isp1' && l.family === 6);
  assert.equal(six.state, 'up');
});
