// bench: ICMP engines side by side, without the daemon (`node dist/bench/engines.js`, writes
// bench/engines.json): N uplinks x 2 targets at 1 s in a lab's router namespace, each engine run by a
// node driver that reads what it prints, as the daemon would. CPU of the driver and its children
// (schedstat), their memory (driver RSS, children's PSS), echoes answered.
//   ping:   one `ping -n -O -i 1 -I SRC -I DEV` per target (haip before the ICMP helper)
//   fping:  one `fping -l -p 1000 -S SRC -I DEV T1 T2` per link (loop mode, every target of the link)
//   helper: the ICMP helper (src/sys/icmpProber.ts), one perl child for every link
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, REPO, sleep } from '../test/lab/lab';
import { IcmpProber } from '../src/sys/icmpProber';
import { LineBuffer } from '../src/sys/text';
import { children, pssKb, statusKb, treeSeconds } from './cpu';
import { log, median } from './labDriver';

type Engine = 'ping' | 'fping' | 'helper';
const TARGETS = ['203.0.113.1', '203.0.113.2'];

/** The driver, in the router namespace: starts the engine for `n` uplinks, counts answers, prints them at SIGTERM. */
function drive(engine: Engine, n: number) {
  let answers = 0;
  const kids: ReturnType<typeof spawn>[] = [];
  const read = (argv: string[], answered: RegExp) => {
    const c = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'], env: { PATH: process.env.PATH, LC_ALL: 'C' } });
    const lines = new LineBuffer((l) => answered.test(l) && answers++);
    c.stdout!.on('data', (d) => lines.push(d));
    kids.push(c);
  };
  const links = Array.from({ length: n }, (_, k) => ({ dev: `eth${k + 1}`, src: `198.18.${k + 1}.2` }));
  let prober: IcmpProber | undefined;
  if (engine === 'ping') for (const l of links) for (const t of TARGETS) read(['ping', '-n', '-O', '-i', '1', '-W', '1', '-I', l.src, '-I', l.dev, t], / bytes from /);
  if (engine === 'fping') for (const l of links) read(['fping', '-l', '-p', '1000', '-t', '1000', '-S', l.src, '-I', l.dev, ...TARGETS], / bytes, /);
  if (engine === 'helper') {
    const p = (prober = new IcmpProber());
    const round = () => {
      for (const l of links) for (const t of TARGETS) void p.probe(t, l.src, 1000, { intervalMs: 1000, device: l.dev }).then((r) => r.alive && answers++);
    };
    round();
    setInterval(round, 1000);
  }
  process.stdout.write('started\n');
  process.on('SIGTERM', () => {
    process.stdout.write(`answers ${answers}\n`);
    prober?.close();
    for (const c of kids) c.kill('SIGTERM');
    setTimeout(() => process.exit(0), 100);
  });
}

export interface EngineFigures {
  engine: Engine;
  uplinks: number;
  cpu_percent_of_one_core: number[];
  memory_mb: number[];
  processes: number;
  answers_per_s: number[];
}

async function measure(engine: Engine, n: number, seconds: number): Promise<{ cpu: number; memory: number; processes: number; answersPerS: number }> {
  const lab = Lab.create({ uplinks: n });
  try {
    // What haip's tables and oif rules would give each link: its own default route.
    for (let i = 1; i <= n; i++) {
      lab.ip(lab.r, 'route', 'add', 'default', 'via', lab.gateway(i), 'dev', `eth${i}`, 'table', String(200 + i));
      lab.ip(lab.r, 'rule', 'add', 'oif', `eth${i}`, 'lookup', String(200 + i), 'priority', '100');
    }
    const d = lab.spawnIn(lab.r, [process.execPath, __filename, 'drive', engine, String(n)]);
    await d.waitFor(/^started/, 5000);
    await sleep(5000);
    const t0 = Date.now();
    const c0 = treeSeconds(d.pid);
    await sleep(seconds * 1000);
    const c1 = treeSeconds(d.pid);
    const wall = (Date.now() - t0) / 1000;
    const kids = children(d.pid);
    const memory = statusKb(d.pid, 'VmRSS') + kids.reduce((a, k) => a + pssKb(k), 0);
    d.child.kill('SIGTERM');
    const answers = Number(/answers (\d+)/.exec(await d.waitFor(/^answers/, 5000))![1]);
    return { cpu: Math.round(((c1 - c0) / wall) * 10000) / 100, memory: Math.round(memory / 102.4) / 10, processes: kids.length, answersPerS: Math.round((answers / (wall + 5)) * 10) / 10 };
  } finally {
    lab.destroy();
  }
}

async function main() {
  const seconds = Number(process.env.BENCH_ENGINES_S ?? 30);
  const runs = Number(process.env.BENCH_ENGINES_RUNS ?? 3);
  const counts = (process.env.BENCH_ENGINES_UPLINKS ?? '16').split(',').map(Number);
  const out: EngineFigures[] = [];
  const engines: Engine[] = ['ping', 'fping', 'helper'];
  for (const n of counts) {
    const rows = engines.map((engine): EngineFigures => ({ engine, uplinks: n, cpu_percent_of_one_core: [], memory_mb: [], processes: 0, answers_per_s: [] }));
    // Engines interleaved run by run, so a load that drifts meanwhile falls on all of them alike.
    for (let i = 0; i < runs; i++)
      for (const f of rows) {
        const m = await measure(f.engine, n, seconds);
        f.cpu_percent_of_one_core.push(m.cpu);
        f.memory_mb.push(m.memory);
        f.answers_per_s.push(m.answersPerS);
        f.processes = m.processes;
        log(`engines ${f.engine} ${n} x 2: CPU ${m.cpu} %, memory ${m.memory} MB, ${m.processes} children, ${m.answersPerS} answers/s`);
      }
    out.push(...rows);
  }
  const range = (xs: number[]) => `${median(xs)} [${Math.min(...xs)}-${Math.max(...xs)}]`;
  const table = [`ICMP engines, uplinks x 2 targets at 1 s, ${seconds} s each, median [range] of ${runs}; CPU of driver + children (% of one core), memory = driver RSS + children's PSS`]
    .concat(out.map((f) => `  ${f.engine.padEnd(7)} ${String(f.uplinks).padEnd(3)} CPU ${range(f.cpu_percent_of_one_core).padEnd(20)} memory ${range(f.memory_mb).padEnd(20)} MB  ${f.processes} children  answers/s ${median(f.answers_per_s)}`))
    .join('\n');
  writeFileSync(join(REPO, 'bench/engines.json'), JSON.stringify({ date: new Date().toISOString(), seconds, runs, engines: out, table }, null, 2) + '\n');
  process.stdout.write(table + '\n');
}

if (process.argv[2] === 'drive') drive(process.argv[3] as Engine, Number(process.argv[4]));
else
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
      process.exit(1);
    },
  );
