// `make bench`: haip measured in lab namespaces. Failover and failback times, switches under random
// loss, CPU and memory, time to ready; medians over repeated runs, printed beside the anchors (what
// other failover tools take with their defaults) and written to bench/results.json. Ends by itself.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { sampling } from '../src/sys/pingStream';
import { Haip, Lab, REPO, sleep } from '../test/lab/lab';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const FLAP_S = Number(process.env.BENCH_FLAP_S ?? 180);
const CPU_S = Number(process.env.BENCH_CPU_S ?? 60);
const CPU_RUNS = Number(process.env.BENCH_CPU_RUNS ?? 3);
/** `make bench-loss`: how long each profile runs under 30 % random loss (BENCH_ONLY=loss). */
const LOSS_S = Number(process.env.BENCH_LOSS_S ?? 1800);
/** BENCH_ONLY=ready,failover,flap,cpu,probes runs only those parts (for a quick look; `make bench` runs all). */
const ONLY = new Set((process.env.BENCH_ONLY ?? 'ready,failover,flap,cpu,probes').split(','));
const TARGETS = '[203.0.113.1, 203.0.113.2]';
/** The node options the packaged launcher runs the daemon with, read from it (test/unit/docs.test.ts checks bin/haip has the same). */
const SEMI = (() => {
  const m = /exec \/usr\/bin\/node (.*?) \/usr\/lib\/haip\//.exec(readFileSync(join(REPO, 'debian/haip.sbin'), 'utf8'));
  if (!m) throw new Error('debian/haip.sbin: no `exec /usr/bin/node OPTIONS /usr/lib/haip/...` line to take the node options from');
  return m[1];
})();

interface Profile {
  name: string;
  intervalMs: number;
  timeoutMs: number;
  down: number;
  up: number;
  method?: 'stream' | 'spawn';
  /** Probe targets other than the two ICMP ones (tcp://, http://: probeServers answers them). */
  targets?: string[];
}
const DEFAULT: Profile = { name: 'default', intervalMs: 1000, timeoutMs: 1000, down: 3, up: 3 };
const FAST: Profile = { name: 'fast', intervalMs: 200, timeoutMs: 300, down: 3, up: 3 };
const spawnOf = (p: Profile): Profile => ({ ...p, name: `${p.name}/spawn`, method: 'spawn' });
/** The same pace with a TCP connect and an HTTP GET per link instead of two pings. */
const socketsOf = (p: Profile): Profile => ({ ...p, name: `${p.name}/tcp+http`, targets: ['tcp://203.0.113.1:7000', 'http://203.0.113.1:8080/ok'] });

function probeYaml(p: Profile): string {
  return `{ targets: ${p.targets ? JSON.stringify(p.targets) : TARGETS}, interval: ${p.intervalMs}ms, timeout: ${p.timeoutMs}ms, down: ${p.down}, up: ${p.up}${p.method ? `, method: ${p.method}` : ''} }`;
}

function describe(p: Profile): string {
  return `interval ${p.intervalMs}ms, timeout ${p.timeoutMs}ms, down ${p.down}, up ${p.up}, 2 targets${p.targets ? ` (${p.targets.join(', ')})` : ''}, quorum 1, ${p.targets ? 'one perl helper' : (p.method ?? 'auto (stream)')}`;
}

export function median(xs: number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

// ---- a daemon in a lab -----------------------------------------------------------------------------

async function startDaemon(lab: Lab, p: Profile, nodeOptions = process.env.BENCH_NODE_OPTIONS): Promise<{ haip: Haip; cfg: string; readyMs: number }> {
  // Damping off: the failover loop fails the same link again and again, and the default damping would
  // hold it back on purpose; the bench measures detection, and flap resistance without that help.
  const cfg = lab.writeConfig(lab.configYaml(probeYaml(p), 'damping: { penalty: 0 }\n'));
  const t0 = Date.now();
  const haip = lab.startHaip(['run', '-c', cfg, '-v'], nodeOptions ? { NODE_OPTIONS: nodeOptions } : {});
  await haip.waitFor(/notice: ready:/, 15_000);
  return { haip, cfg, readyMs: Date.now() - t0 };
}

// ---- failover and failback -------------------------------------------------------------------------

type Failure = 'silent loss' | 'unreachable' | 'far-end carrier loss' | 'interface removal';
const FAILURES: Failure[] = ['silent loss', 'unreachable', 'far-end carrier loss', 'interface removal'];

function breakIt(lab: Lab, f: Failure) {
  if (f === 'silent loss') lab.dropAtIsp(1);
  else if (f === 'unreachable') lab.unreachableAtIsp(1, true);
  else if (f === 'far-end carrier loss') lab.farEnd(1, false);
  else lab.ip(lab.r, 'link', 'del', 'eth1');
}

function healIt(lab: Lab, f: Failure) {
  if (f === 'silent loss') lab.healIsp(1);
  else if (f === 'unreachable') lab.unreachableAtIsp(1, false);
  else if (f === 'far-end carrier loss') lab.farEnd(1, true);
  else lab.addUplink(1);
}

interface FailoverFigures {
  profile: string;
  settings: string;
  failures: Record<string, { failover_ms: (number | null)[]; failback_ms: (number | null)[] }>;
}

async function failoverRuns(p: Profile, failures: Failure[], runs: number): Promise<FailoverFigures> {
  const lab = Lab.create();
  const out: FailoverFigures = { profile: p.name, settings: describe(p), failures: {} };
  try {
    const { haip } = await startDaemon(lab, p);
    await lab.waitForDefault('eth1', 5000);
    const limit = 10 * (p.down * Math.max(p.intervalMs, p.timeoutMs) + p.timeoutMs) + 5000;
    for (let run = 0; run < runs; run++) {
      for (const f of failures) {
        const figs = (out.failures[f] ??= { failover_ms: [], failback_ms: [] });
        // A random phase against the probe rounds, as a real failure has.
        await sleep(500 + Math.random() * Math.max(p.intervalMs, p.timeoutMs));
        let t0 = Date.now();
        breakIt(lab, f);
        let ms: number | null = null;
        try {
          ms = await lab.waitForDefault('eth2', limit, t0);
        } catch (err) {
          log(`${p.name} ${f}: ${(err as Error).message.split('\n')[0]}`);
        }
        figs.failover_ms.push(ms);
        // Let the failed link settle as down before healing it.
        await sleep(300 + Math.random() * Math.max(p.intervalMs, p.timeoutMs));
        t0 = Date.now();
        healIt(lab, f);
        ms = null;
        try {
          ms = await lab.waitForDefault('eth1', limit, t0);
        } catch (err) {
          log(`${p.name} ${f} (failback): ${(err as Error).message.split('\n')[0]}`);
          healIt(lab, f);
          await lab.waitForDefault('eth1', limit).catch(() => undefined);
        }
        figs.failback_ms.push(ms);
        log(`${p.name} run ${run + 1}/${runs} ${f}: failover ${figs.failover_ms.at(-1)} ms, failback ${ms} ms`);
      }
    }
    await haip.stop();
  } finally {
    lab.destroy();
  }
  return out;
}

// ---- switches under random loss --------------------------------------------------------------------

interface FlapFigures {
  profile: string;
  loss_percent: number;
  seconds: number;
  switches: number;
  isp1_down: number;
  per_hour: number;
  model_per_hour: number;
}

/**
 * Expected switches per hour from independent loss. Rounds: a round fails when every echo of every target
 * is lost, and `down` failed rounds after a good one take the link down. Silence (streamed pings only): after
 * any answer, every echo of every target that could answer within `down x interval` is lost (about
 * window / gap - 1 per target from the booster, plus window / quiet gap from the quiet ping, both running
 * under random loss). Either takes the link down; it comes back, so two switches each.
 */
export function modelPerHour(p: Profile, lossPercent: number, targets = 2): number {
  const echoLost = 1 - (1 - lossPercent / 100) ** 2; // each way
  const streamed = p.method !== 'spawn';
  const { samples, gapMs, quietGapMs } = streamed ? sampling(p.intervalMs) : { samples: 1, gapMs: p.intervalMs, quietGapMs: p.intervalMs };
  const roundFails = echoLost ** (targets * samples);
  const rounds = (3_600_000 / p.intervalMs) * (1 - roundFails) * roundFails ** p.down;
  if (!streamed) return 2 * rounds;
  // Under random loss a miss comes far more often than the booster's hold runs out: the booster and the
  // quiet ping both run, and every echo of both must be lost for the window.
  const window = p.down * p.intervalMs;
  const quiet = quietGapMs > gapMs ? 1 : 0;
  const perTarget = Math.max(1, Math.floor(window / gapMs) + quiet * Math.floor(window / quietGapMs) - 1);
  const answersPerHour = targets * (3_600_000 / gapMs + (quiet * 3_600_000) / quietGapMs) * (1 - echoLost);
  return 2 * (rounds + answersPerHour * echoLost ** (targets * perTarget));
}

async function flapRun(p: Profile, lossPercent: number, seconds: number): Promise<FlapFigures> {
  const lab = Lab.create();
  try {
    const { haip } = await startDaemon(lab, p);
    await lab.waitForDefault('eth1', 5000);
    const mark = haip.lines.length;
    lab.lossAtIsp(1, lossPercent);
    await sleep(seconds * 1000);
    const lines = haip.lines.slice(mark);
    await haip.stop();
    const switches = lines.filter((l) => /switch: default route /.test(l)).length;
    const down = lines.filter((l) => /link isp1 \(eth1\): up -> down/.test(l)).length;
    return {
      profile: p.name,
      loss_percent: lossPercent,
      seconds,
      switches,
      isp1_down: down,
      per_hour: Math.round((switches * 3600) / seconds),
      model_per_hour: modelPerHour(p, lossPercent),
    };
  } finally {
    lab.destroy();
  }
}

// ---- CPU and memory --------------------------------------------------------------------------------

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const k of kids ? kids.split(/\s+/).map(Number) : []) out.push(k, ...children(k));
    }
  } catch {}
  return out;
}

function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Nanoseconds on a CPU, every thread of `pid` (/proc/PID/task/TID/schedstat): exact, not sampled at ticks. */
function runNs(pid: number): number {
  let ns = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]) || 0;
  } catch {}
  return ns;
}

/** cutime+cstime of `pid` in ticks: its reaped children (fields 16-17 of /proc/PID/stat). */
function reapedTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

/** CPU seconds of the daemon and everything under it: live descendants exactly, reaped ones through cutime. */
function treeSeconds(pid: number): number {
  const live = runNs(pid) + children(pid).reduce((a, c) => a + runNs(c), 0);
  return live / 1e9 + reapedTicks(pid) / CLK_TCK;
}

interface CpuFigures {
  profile: string;
  node_options: string;
  uplinks: number;
  targets: number;
  seconds: number;
  cpu_percent_of_one_core: number;
  daemon_rss_mb_median: number;
  daemon_rss_mb_max: number;
  daemon_hwm_mb: number;
  children_rss_mb: number;
  children: number;
  /** Every run's CPU when the row is a median. */
  cpu_runs?: number[];
}

/** Several runs of one row: the median CPU with its range, the largest RSS. */
function combineCpu(rs: CpuFigures[]): CpuFigures {
  const cpus = rs.map((r) => r.cpu_percent_of_one_core);
  const mid = rs.find((r) => r.cpu_percent_of_one_core === median(cpus)) ?? rs[0];
  return {
    ...mid,
    cpu_percent_of_one_core: median(cpus) ?? 0,
    cpu_runs: cpus,
    daemon_rss_mb_median: median(rs.map((r) => r.daemon_rss_mb_median)) ?? 0,
    daemon_rss_mb_max: Math.max(...rs.map((r) => r.daemon_rss_mb_max)),
    daemon_hwm_mb: Math.max(...rs.map((r) => r.daemon_hwm_mb)),
  };
}

async function cpuRun(p: Profile, uplinks: number, seconds: number, nodeOptions = ''): Promise<CpuFigures> {
  const lab = Lab.create({ uplinks });
  try {
    if (p.targets) await lab.spawnNode(lab.inet, 'probeServers', ['203.0.113.1', '7000', '8080']).waitFor(/^listening/, 5000);
    const { haip } = await startDaemon(lab, p, nodeOptions);
    // Past start-up: V8's memory reducer gives back the start-up heap about 8 s in (VmHWM keeps that peak).
    await sleep(10_000);
    const pid = haip.pid;
    const t0 = Date.now();
    const c0 = treeSeconds(pid);
    const rss: number[] = [];
    let kidsRss = 0;
    let kids = 0;
    while (Date.now() - t0 < seconds * 1000) {
      await sleep(Math.min(5000, seconds * 1000 - (Date.now() - t0)));
      rss.push(statusKb(pid, 'VmRSS'));
      const ks = children(pid);
      kids = ks.length;
      kidsRss = ks.reduce((a, k) => a + statusKb(k, 'VmRSS'), 0);
    }
    const c1 = treeSeconds(pid);
    const wall = (Date.now() - t0) / 1000;
    const hwm = statusKb(pid, 'VmHWM');
    await haip.stop();
    const mb = (kb: number) => Math.round(kb / 102.4) / 10;
    return {
      profile: p.name,
      node_options: nodeOptions,
      uplinks,
      targets: 2,
      seconds: Math.round(wall),
      cpu_percent_of_one_core: Math.round(((c1 - c0) / wall) * 10000) / 100,
      daemon_rss_mb_median: mb(median(rss) ?? 0),
      daemon_rss_mb_max: mb(Math.max(...rss)),
      daemon_hwm_mb: mb(hwm),
      children_rss_mb: mb(kidsRss),
      children: kids,
    };
  } finally {
    lab.destroy();
  }
}

// ---- time to ready ---------------------------------------------------------------------------------

async function readyRuns(p: Profile, runs: number): Promise<number[]> {
  const lab = Lab.create();
  const out: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const { haip, cfg, readyMs } = await startDaemon(lab, p);
      out.push(readyMs);
      await haip.stop();
      // Start each run from a bare router, as at boot.
      await lab.startHaip(['flush', '-c', cfg]).exited;
    }
  } finally {
    lab.destroy();
  }
  return out;
}

// ---- the table -------------------------------------------------------------------------------------

const ANCHORS: [string, string, number][] = [
  ['original haip (defaults; Debian defaults 66-98 s)', '26-38 s', 32_000],
  ['mwan3 (defaults)', '~120 s', 120_000],
  ["pfSense dpinger (defaults)", '~15 s', 15_000],
  ['keepalived VRRP (advert 1 s x 3 + skew)', '3.6 s', 3600],
  ['BFD (300 ms x 3)', '0.9 s', 900],
];

const fmtMs = (x: number | null) => (x === null ? 'n/a' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);
const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const ok = (good: boolean) => (good ? 'ok' : 'MISSED');

async function main() {
  const started = Date.now();
  const results: any = {
    date: new Date().toISOString(),
    host: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim() },
    runs: RUNS,
    profiles: Object.fromEntries([DEFAULT, FAST, spawnOf(DEFAULT), spawnOf(FAST), socketsOf(DEFAULT), socketsOf(FAST)].map((p) => [p.name, describe(p)])),
  };

  // `make bench-loss` (BENCH_ONLY=loss): the long random-loss run alone, into bench/loss.json.
  if (ONLY.has('loss')) {
    log(`30 % random loss each way on the primary for ${LOSS_S} s, default and fast profiles side by side`);
    const runs = await Promise.all([flapRun(DEFAULT, 30, LOSS_S), flapRun(FAST, 30, LOSS_S)]);
    const lines = [`haip bench-loss ${results.date}: ${results.host.cpus} x ${results.host.cpu}, node ${results.host.node}; 30 % loss each way (nft numgen random) on isp1, damping off`];
    lines.push(`  ${pad('profile', 10)} ${pad('measured', 10)} ${pad('switches', 9)} ${pad('isp1 down', 10)} model per hour`);
    for (const f of runs) lines.push(`  ${pad(f.profile, 10)} ${pad(f.seconds + ' s', 10)} ${pad(String(f.switches), 9)} ${pad(String(f.isp1_down), 10)} ${f.model_per_hour.toExponential(1)}`);
    const table = lines.join('\n');
    writeFileSync(join(REPO, 'bench/loss.json'), JSON.stringify({ date: results.date, host: results.host, profiles: { default: describe(DEFAULT), fast: describe(FAST) }, runs, duration_s: Math.round((Date.now() - started) / 1000), table }, null, 2) + '\n');
    process.stdout.write(table + '\n\nwritten to bench/loss.json\n');
    return;
  }

  log(`time to ready, ${RUNS} starts`);
  results.ready_ms = ONLY.has('ready') ? await readyRuns(DEFAULT, RUNS) : [];

  log(`failover and failback, ${RUNS} runs of each failure per profile`);
  results.failover = [] as FailoverFigures[];
  if (ONLY.has('failover')) {
  results.failover.push(await failoverRuns(DEFAULT, FAILURES, RUNS));
  results.failover.push(await failoverRuns(FAST, FAILURES, RUNS));
  // What one ping per probe gives at the same settings (silent loss only: the events do not probe).
  results.failover.push(await failoverRuns(spawnOf(DEFAULT), ['silent loss'], RUNS));
  results.failover.push(await failoverRuns(spawnOf(FAST), ['silent loss'], RUNS));
  }

  log(`random loss on the primary, ${FLAP_S} s per level, all levels at once`);
  const flapJobs: Promise<FlapFigures>[] = [];
  if (ONLY.has('flap')) for (const p of [DEFAULT, FAST, spawnOf(DEFAULT)]) for (const loss of [10, 20, 30]) flapJobs.push(flapRun(p, loss, FLAP_S));
  results.flap = await Promise.all(flapJobs);

  // One daemon at a time (timings never overlap), as shipped (debian/haip.sbin runs node with SEMI's options);
  // the 2 x 2 rows CPU_RUNS times for a median and a range.
  log(`CPU and memory, ${CPU_S} s each, one daemon at a time`);
  results.cpu = [] as CpuFigures[];
  const cpuRows = async (p: Profile, uplinks: number, nodeOptions: string, runs: number) => {
    const rs: CpuFigures[] = [];
    for (let i = 0; i < runs; i++) rs.push(await cpuRun(p, uplinks, CPU_S, nodeOptions));
    results.cpu.push(combineCpu(rs));
  };
  if (ONLY.has('cpu')) {
    await cpuRows(DEFAULT, 2, SEMI, CPU_RUNS);
    await cpuRows(FAST, 2, SEMI, CPU_RUNS);
    await cpuRows(DEFAULT, 8, SEMI, 1);
    await cpuRows(FAST, 8, SEMI, 1);
    // What plain node (no V8 flag) holds in memory.
    await cpuRows(DEFAULT, 2, '', 1);
    await cpuRows(FAST, 2, '', 1);
  }
  // TCP and HTTP probes through the perl helper beside pings at the same pace (BENCH_ONLY=probes: only these).
  if (ONLY.has('probes')) {
    await cpuRows(socketsOf(DEFAULT), 2, SEMI, 1);
    await cpuRows(socketsOf(FAST), 2, SEMI, 1);
  }
  results.duration_s = Math.round((Date.now() - started) / 1000);
  // BENCH_ONLY: the parts not run this time are kept from the last bench/results.json, and say when they ran.
  try {
    const before = JSON.parse(readFileSync(join(REPO, 'bench/results.json'), 'utf8'));
    const parts: [string, boolean][] = [['ready_ms', ONLY.has('ready')], ['failover', ONLY.has('failover')], ['flap', ONLY.has('flap')], ['cpu', ONLY.has('cpu') || ONLY.has('probes')]];
    for (const [part, ran] of parts)
      if (!ran && before[part]?.length) {
        results[part] = before[part];
        results.carried_over = { ...(results.carried_over ?? {}), [part]: before.carried_over?.[part] ?? before.date };
      }
  } catch {}

  const table = render(results);
  results.table = table;
  writeFileSync(join(REPO, 'bench/results.json'), JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(table + '\n');
  process.stdout.write(`\nwritten to bench/results.json (${results.duration_s} s)\n`);
}

function render(r: any): string {
  const out: string[] = [];
  const fo = (profile: string, f: string) => r.failover.find((x: FailoverFigures) => x.profile === profile)?.failures[f];
  out.push(`haip bench ${r.date}: ${r.host.cpus} x ${r.host.cpu}, node ${r.host.node}, kernel ${r.host.kernel}; medians of ${r.runs} runs`);
  for (const [part, when] of Object.entries(r.carried_over ?? {})) out.push(`  (${part}: kept from the run of ${when})`);
  out.push('profiles (damping off in every bench daemon: detection alone):');
  for (const [k, v] of Object.entries(r.profiles)) out.push(`  ${pad(k, 14)} ${v}`);
  out.push('');
  out.push('Failover: default route off a failed primary (ms, median [min-max])');
  out.push(`  ${pad('failure', 22)} ${pad('default', 22)} ${pad('fast', 22)} ${pad('default/spawn', 22)} fast/spawn`);
  const cell = (xs?: (number | null)[]) => {
    if (!xs) return '-';
    const v = xs.filter((x): x is number => x !== null);
    const miss = xs.length - v.length;
    return v.length ? `${fmtMs(median(v))} [${fmtMs(Math.min(...v))}-${fmtMs(Math.max(...v))}]${miss ? ` ${miss} n/a` : ''}` : 'n/a';
  };
  for (const f of FAILURES)
    out.push(`  ${pad(f, 22)} ${[DEFAULT, FAST, spawnOf(DEFAULT), spawnOf(FAST)].map((p, i) => (i < 3 ? pad(cell(fo(p.name, f)?.failover_ms), 22) : cell(fo(p.name, f)?.failover_ms))).join(' ')}`);
  out.push('Failback: default route back on the healed primary (ms, median [min-max])');
  for (const f of FAILURES) out.push(`  ${pad(f, 22)} ${pad(cell(fo('default', f)?.failback_ms), 22)} ${pad(cell(fo('fast', f)?.failback_ms), 22)}`);
  out.push('');
  out.push('Anchors: detection of a dead uplink with each tool\'s defaults, beside haip');
  const silentDefault = median((fo('default', 'silent loss')?.failover_ms ?? []).filter((x: number | null) => x !== null));
  const silentFast = median((fo('fast', 'silent loss')?.failover_ms ?? []).filter((x: number | null) => x !== null));
  const carrier = median((fo('fast', 'far-end carrier loss')?.failover_ms ?? []).concat(fo('default', 'far-end carrier loss')?.failover_ms ?? []).filter((x: number | null) => x !== null));
  const removal = median((fo('fast', 'interface removal')?.failover_ms ?? []).concat(fo('default', 'interface removal')?.failover_ms ?? []).filter((x: number | null) => x !== null));
  const rows: [string, string, number][] = [
    ...ANCHORS,
    ['haip default profile, silent loss (measured)', fmtMs(silentDefault), silentDefault ?? Infinity],
    ['haip fast profile, silent loss (measured)', fmtMs(silentFast), silentFast ?? Infinity],
    ['haip carrier loss, events (measured)', fmtMs(carrier), carrier ?? Infinity],
    ['haip interface removal, events (measured)', fmtMs(removal), removal ?? Infinity],
  ];
  for (const [name, fig] of rows.sort((a, b) => a[2] - b[2])) out.push(`  ${pad(fig, 10)} ${name}`);
  out.push('');
  out.push('Switches under random loss on the primary (nft numgen random, each way), measured over the stated time');
  out.push(`  ${pad('profile', 14)} ${pad('loss', 5)} ${pad('measured', 10)} ${pad('switches', 9)} ${pad('per hour', 9)} model per hour`);
  for (const f of r.flap as FlapFigures[])
    out.push(`  ${pad(f.profile, 14)} ${pad(f.loss_percent + '%', 5)} ${pad(f.seconds + ' s', 10)} ${pad(String(f.switches), 9)} ${pad(String(f.per_hour), 9)} ${f.model_per_hour < 0.01 ? f.model_per_hour.toExponential(1) : f.model_per_hour.toFixed(2)}`);
  out.push('');
  out.push(`CPU (daemon + children: schedstat of every live thread, cutime+cstime of reaped children; % of one core, one daemon at a time, median [range] where several runs) and daemon memory, over ${r.cpu[0]?.seconds ?? '?'} s from 10 s after ready; VmHWM is the start-up peak`);
  out.push(`  ${pad('profile', 17)} ${pad('node options', 26)} ${pad('links x targets', 16)} ${pad('CPU %', 19)} ${pad('RSS MB med/max', 15)} ${pad('VmHWM MB', 9)} children (RSS MB)`);
  for (const c of r.cpu as CpuFigures[])
    out.push(`  ${pad(c.profile, 17)} ${pad(c.node_options || '-', 26)} ${pad(`${c.uplinks} x ${c.targets}`, 16)} ${pad(c.cpu_percent_of_one_core.toFixed(2) + (c.cpu_runs && c.cpu_runs.length > 1 ? ` [${Math.min(...c.cpu_runs).toFixed(2)}-${Math.max(...c.cpu_runs).toFixed(2)}]` : ''), 19)} ${pad(`${c.daemon_rss_mb_median}/${c.daemon_rss_mb_max}`, 15)} ${pad(String(c.daemon_hwm_mb), 9)} ${c.children} (${c.children_rss_mb})`);
  out.push('');
  out.push(`Time to ready (spawn to the "ready:" log line, logged as READY=1 is sent; bare router each time): ${fmtMs(median(r.ready_ms))} median [${fmtMs(Math.min(...r.ready_ms))}-${fmtMs(Math.max(...r.ready_ms))}]`);
  out.push('');
  out.push('Targets');
  const cpuOf = (p: string, n: number, o = '') => r.cpu.find((c: CpuFigures) => c.profile === p && c.uplinks === n && c.node_options === o);
  const rssMaxOf = (o: string, n: number) => Math.max(...r.cpu.filter((c: CpuFigures) => c.node_options === o && c.uplinks === n).map((c: CpuFigures) => c.daemon_rss_mb_max));
  const flapOf = (p: string, l: number) => r.flap.find((f: FlapFigures) => f.profile === p && f.loss_percent === l);
  const checks: [string, boolean][] = [
    [`default profile silent loss <= 3.2 s (VRRP 3.6 s): ${fmtMs(silentDefault)}`, silentDefault !== null && silentDefault <= 3200],
    [`fast profile silent loss <= 0.7 s (BFD 0.9 s): ${fmtMs(silentFast)}`, silentFast !== null && silentFast <= 700],
    [`carrier loss < 300 ms: ${fmtMs(carrier)}`, carrier !== null && carrier < 300],
    [`interface removal < 300 ms: ${fmtMs(removal)}`, removal !== null && removal < 300],
    [`0 switches at 10 % loss, default profile: ${flapOf('default', 10)?.switches}`, flapOf('default', 10)?.switches === 0],
    [`0 switches at 20 % loss, default profile: ${flapOf('default', 20)?.switches}`, flapOf('default', 20)?.switches === 0],
    [`0 switches at 30 % loss, default and fast profiles: ${flapOf('default', 30)?.switches}, ${flapOf('fast', 30)?.switches}`, flapOf('default', 30)?.switches === 0 && flapOf('fast', 30)?.switches === 0],
    [`CPU <= 1.0 % at 2 x 2, 1 s (as shipped, median): ${cpuOf('default', 2, SEMI)?.cpu_percent_of_one_core}`, cpuOf('default', 2, SEMI)?.cpu_percent_of_one_core <= 1.0],
    [`CPU <= 2 % at 2 x 2, fast (as shipped, median): ${cpuOf('fast', 2, SEMI)?.cpu_percent_of_one_core}`, cpuOf('fast', 2, SEMI)?.cpu_percent_of_one_core <= 2.0],
    [`CPU <= 1.0 % at 2 x 2, 1 s, tcp+http: ${cpuOf('default/tcp+http', 2, SEMI)?.cpu_percent_of_one_core}`, cpuOf('default/tcp+http', 2, SEMI)?.cpu_percent_of_one_core <= 1.0],
    [`CPU <= 2 % at 2 x 2, fast, tcp+http: ${cpuOf('fast/tcp+http', 2, SEMI)?.cpu_percent_of_one_core}`, cpuOf('fast/tcp+http', 2, SEMI)?.cpu_percent_of_one_core <= 2.0],
    [`daemon RSS <= 60 MB as shipped (${SEMI}; max of 5 s samples, 2 x 2 rows): ${rssMaxOf(SEMI, 2)}`, rssMaxOf(SEMI, 2) <= 60],
  ];
  for (const [what, good] of checks) out.push(`  ${pad(ok(good), 7)} ${what}`);
  return out.join('\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
