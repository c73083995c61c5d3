// `make bench`: haip measured in lab namespaces. Failover and failback times, switches under random
// loss, CPU and memory, time to ready; medians over repeated runs, printed beside the anchors (what
// other failover tools take with their defaults) and written to bench/results.json. Ends by itself.
import { REPO } from '../test/lab/lab';
import { CpuFigures, children, combineCpu, cpuRun } from './cpu';
import { FAILURES, FailoverFigures, failoverRuns } from './failover';
import { FlapFigures, flapRun } from './flap';
import { CPU_RUNS, CPU_S, DEFAULT, FAST, FLAP_S, LOSS_S, ONLY, Profile, RUNS, SEMI, describe, log, median, socketsOf, spawnOf } from './labDriver';
import { readyRuns } from './ready';
import { ManyFigures, SCALE_RUNS, SCALE_S, ScaleRow, manyUplinks, scaleRows } from './scale';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

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
  // The scaling curve (BENCH_ONLY=scale): the ICMP helper beside one ping per target, up to 32 uplinks.
  results.scale = [] as ScaleRow[];
  results.many = [] as ManyFigures[];
  if (ONLY.has('scale')) {
    log(`scaling: 2, 8, 16, 32 uplinks x 2 targets at 1 s, ${SCALE_RUNS} runs of ${SCALE_S} s per row, as shipped; 16 uplinks: failover and haip status`);
    results.scale = await scaleRows(SCALE_S, SCALE_RUNS, SEMI);
    results.many.push(await manyUplinks(DEFAULT, 16, SCALE_RUNS));
  }
  results.duration_s = Math.round((Date.now() - started) / 1000);
  // BENCH_ONLY: the parts not run this time are kept from the last bench/results.json, and say when they ran.
  try {
    const before = JSON.parse(readFileSync(join(REPO, 'bench/results.json'), 'utf8'));
    const parts: [string, boolean][] = [['ready_ms', ONLY.has('ready')], ['failover', ONLY.has('failover')], ['flap', ONLY.has('flap')], ['cpu', ONLY.has('cpu') || ONLY.has('probes')], ['scale', ONLY.has('scale')], ['many', ONLY.has('scale')]];
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

/** The table of a results.json (exported so a results.json patched by hand can be rendered again). */
export function render(r: any): string {
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
  out.push(`Scaling: uplinks x 2 ICMP targets at 1 s, as shipped, over ${r.scale?.[0]?.seconds ?? '?'} s from 10 s after ready; CPU of daemon + children (schedstat), median [range]; memory = daemon RSS + children's PSS`);
  out.push(`  ${pad('engine', 16)} ${pad('uplinks', 8)} ${pad('CPU %', 19)} ${pad('memory MB', 10)} ${pad('daemon RSS', 11)} children (PSS MB)`);
  for (const c of (r.scale ?? []) as ScaleRow[])
    out.push(`  ${pad(c.profile === 'default' ? 'ICMP helper' : 'ping per target', 16)} ${pad(String(c.uplinks), 8)} ${pad(c.cpu_percent_of_one_core.toFixed(2) + (c.cpu_runs && c.cpu_runs.length > 1 ? ` [${Math.min(...c.cpu_runs).toFixed(2)}-${Math.max(...c.cpu_runs).toFixed(2)}]` : ''), 19)} ${pad(String(c.memory_mb), 10)} ${pad(String(c.daemon_rss_mb_median), 11)} ${c.children} (${c.children_pss_mb})`);
  for (const m of (r.many ?? []) as ManyFigures[])
    out.push(`  ${m.uplinks} uplinks: isp1's silent loss moved the route in ${cell(m.failover_ms)}, other links changing state ${m.others_changed.join(', ')}; haip status ${cell(m.status_ms)}`);
  out.push('');
  out.push(`Time to ready (spawn to the "ready:" log line, logged as READY=1 is sent; bare router each time): ${fmtMs(median(r.ready_ms))} median [${fmtMs(Math.min(...r.ready_ms))}-${fmtMs(Math.max(...r.ready_ms))}]`);
  out.push('');
  out.push('Targets');
  const cpuOf = (p: string, n: number, o = '') => r.cpu.find((c: CpuFigures) => c.profile === p && c.uplinks === n && c.node_options === o);
  const rssMaxOf = (o: string, n: number) => Math.max(...r.cpu.filter((c: CpuFigures) => c.node_options === o && c.uplinks === n).map((c: CpuFigures) => c.daemon_rss_mb_max));
  const scaleOf = (n: number) => r.scale?.find((c: ScaleRow) => c.profile === 'default' && c.uplinks === n);
  const many16 = r.many?.find((m: ManyFigures) => m.uplinks === 16);
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
    [`16 x 2 at 1 s: CPU <= 2.0 %: ${scaleOf(16)?.cpu_percent_of_one_core}`, scaleOf(16)?.cpu_percent_of_one_core <= 2.0],
    [`16 x 2 at 1 s: memory <= 80 MB: ${scaleOf(16)?.memory_mb}`, scaleOf(16)?.memory_mb <= 80],
    [`2 x 2 at 1 s: CPU <= 1.0 % and memory <= 60 MB: ${scaleOf(2)?.cpu_percent_of_one_core}, ${scaleOf(2)?.memory_mb}`, scaleOf(2)?.cpu_percent_of_one_core <= 1.0 && scaleOf(2)?.memory_mb <= 60],
    [`16 uplinks: the active link's silent loss moves the route <= 3.2 s, no other link changes state: ${fmtMs(median(many16?.failover_ms?.filter((x: number | null) => x !== null) ?? []))}, ${many16?.others_changed?.join(', ')}`, (median(many16?.failover_ms?.filter((x: number | null) => x !== null) ?? []) ?? Infinity) <= 3200 && many16?.failover_ms?.every((x: number | null) => x !== null) && many16?.others_changed?.every((x: number) => x === 0)],
    [`16 uplinks: haip status <= 300 ms: ${fmtMs(median(many16?.status_ms ?? []))}`, (median(many16?.status_ms ?? []) ?? Infinity) <= 300],
    [`daemon RSS <= 60 MB as shipped (${SEMI}; max of 5 s samples, 2 x 2 rows): ${rssMaxOf(SEMI, 2)}`, rssMaxOf(SEMI, 2) <= 60],
  ];
  for (const [what, good] of checks) out.push(`  ${pad(ok(good), 7)} ${what}`);
  return out.join('\n');
}

if (require.main === module)
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
      process.exit(1);
    },
  );
