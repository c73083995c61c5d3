// bench: what traffic policies cost. Forwarding throughput (iperf3, LAN host -> internet through the
// router and an ISP) with no policies, one traffic rule and 100 rules of mixed shapes; and the time a LAN
// host's new connections take to get answers again after the primary dies silently, with and without
// policies. One daemon, reloaded between configs (SIGHUP), configs taken in turn each round so a busy
// machine slows all of them alike. Writes bench/policy.json; `make bench` runs it after bench/run.ts.
import { Haip, Lab, REPO, SERVER, sleep } from '../test/lab/lab';
import { log, median } from './labDriver';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const IPERF_S = Number(process.env.BENCH_IPERF_S ?? 4);
const PROBE = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
const HOSTS = Array.from({ length: 8 }, (_, i) => `198.18.200.${10 + i}`);

const SPREAD = `policies:
  - { name: spread, balance: [isp1, isp2] }
  - { name: voip, prefer: [isp2, isp1] }
`;
/** The configs compared: the extra YAML each adds to the lab's two links. */
export const CONFIGS: Record<string, string> = {
  'no policies': '',
  '1 traffic rule': `${SPREAD}traffic:\n  - { from: 198.18.200.0/24, policy: spread }\n`,
  // Three shapes (source prefix, udp port, tcp port range), so three map lookups before the match.
  '100 traffic rules': `${SPREAD}traffic:\n${[
    ...Array.from({ length: 40 }, (_, i) => `  - { from: 10.${i}.0.0/16, policy: spread }`),
    ...Array.from({ length: 40 }, (_, i) => `  - { proto: udp, dport: ${20000 + i}, policy: voip }`),
    ...Array.from({ length: 19 }, (_, i) => `  - { proto: tcp, dport: ${30000 + 10 * i}-${30000 + 10 * i + 5}, policy: voip }`),
    '  - { from: 198.18.200.0/24, policy: spread }',
  ].join('\n')}\n`,
};

function config(lab: Lab, extra: string): string {
  return lab.writeConfig(lab.configYaml(PROBE, `damping: { penalty: 0 }\n${extra}`));
}

async function reload(lab: Lab, haip: Haip, extra: string) {
  config(lab, extra);
  const from = haip.lines.length;
  haip.signal('SIGHUP');
  await haip.waitFor(/reloaded /, 10_000, from);
  // The policy maps follow the pass after the reload; the default route must be on isp1 again.
  await lab.waitForDefault('eth1', 15_000);
  await sleep(1000);
}

/** Mbit/s received by the server over IPERF_S seconds (the first second left out), or null. */
function iperf(lab: Lab, from: string): number | null {
  const r = spawnSync('ip', ['netns', 'exec', lab.lan, 'iperf3', '-c', SERVER, '-B', from, '-t', String(IPERF_S), '-O', '1', '-J'], { encoding: 'utf8', timeout: (IPERF_S + 15) * 1000 });
  try {
    return JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e6;
  } catch {
    log(`iperf3 from ${from}: ${(r.stderr || r.stdout).split('\n')[0]}`);
    return null;
  }
}

/** The uplink a LAN host's new connection left by, as the router's conntrack shows (its masqueraded source). */
function uplinkOf(lab: Lab, host: string): string | undefined {
  spawnSync('ip', ['netns', 'exec', lab.lan, 'ping', '-n', '-q', '-c1', '-W1', '-I', host, SERVER]);
  const ct = lab.exec(lab.r, 'conntrack', '-L', '-f', 'ipv4', '-p', 'icmp', '-s', host);
  const masq = /src=\S+ dst=(\S+) type=0/.exec(ct)?.[1];
  return masq === '198.18.1.2' ? 'isp1' : masq === '198.18.2.2' ? 'isp2' : undefined;
}

/** From the primary's silent loss until a new connection of `host` is answered again (ms). */
async function recovery(lab: Lab, host: string): Promise<number | null> {
  const loop = lab.spawnIn(lab.lan, ['sh', '-c', `while :; do t=$(date +%s%N); ping -n -q -c1 -W0.2 -I ${host} ${SERVER} >/dev/null 2>&1 && echo ok $t; sleep 0.02; done`]);
  try {
    await loop.waitFor(/^ok /, 5000);
    // From when the drop is in place: `nft` in the ISP's namespace may take a while to return on a busy machine.
    lab.dropAtIsp(1);
    const t0 = Date.now();
    const from = loop.lines.length;
    // The time each answered ping was sent: the first sent after the loss began and answered is the recovery.
    for (;;) {
      const at = loop.lines.slice(from).map((l) => /^ok (\d+)/.exec(l)).find((m) => m && Number(BigInt(m[1]) / 1_000_000n) > t0);
      if (at) return Number(BigInt(at[1]) / 1_000_000n) - t0;
      if (Date.now() - t0 > 15_000) return null;
      await sleep(20);
    }
  } finally {
    loop.signal('SIGKILL');
    lab.healIsp(1);
    await lab.waitForDefault('eth1', 15_000).catch(() => undefined);
    await sleep(2000);
  }
}

async function main() {
  const started = Date.now();
  const lab = Lab.create({ lan: true });
  const names = Object.keys(CONFIGS);
  const mbit: Record<string, (number | null)[]> = Object.fromEntries(names.map((n) => [n, []]));
  const back: Record<string, (number | null)[]> = Object.fromEntries(names.map((n) => [n, []]));
  try {
    for (const h of HOSTS) lab.ip(lab.lan, 'addr', 'add', `${h}/24`, 'dev', 'eth0');
    const server = lab.spawnIn(lab.inet, ['iperf3', '-s', '-B', SERVER]);
    const haip = lab.startHaip(['run', '-c', config(lab, '')]);
    await haip.waitFor(/notice: ready:/, 15_000);
    for (let run = 0; run < RUNS; run++) {
      // A different order each round: drift on a shared machine falls on every config alike.
      const order = names.map((_, i) => names[(i + run) % names.length]);
      for (const name of order) {
        await reload(lab, haip, CONFIGS[name]);
        mbit[name].push(iperf(lab, HOSTS[0]));
        // A host that leaves by isp1: the one whose traffic the failure moves.
        const host = HOSTS.find((h) => uplinkOf(lab, h) === 'isp1');
        back[name].push(host ? await recovery(lab, host) : null);
        log(`run ${run + 1}/${RUNS} ${name}: ${mbit[name].at(-1)?.toFixed(0)} Mbit/s, new connections answered again ${back[name].at(-1)} ms after isp1's silent loss`);
      }
    }
    await haip.stop();
    server.signal('SIGKILL');
  } finally {
    lab.destroy();
  }
  const range = (xs: (number | null)[], digits = 0) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length ? `${median(v)!.toFixed(digits)} [${Math.min(...v).toFixed(digits)}-${Math.max(...v).toFixed(digits)}]` : 'n/a';
  };
  const base = median(mbit['no policies'].filter((x): x is number => x !== null));
  const lines = [
    `haip bench-policy ${new Date().toISOString()}: ${cpus().length} x ${cpus()[0]?.model}; medians [min-max] of ${RUNS} rounds`,
    `  ${'config'.padEnd(20)} ${'Mbit/s (iperf3)'.padEnd(22)} ${'vs none'.padEnd(8)} answered again after isp1's silent loss (ms)`,
    ...names.map((n) => {
      const m = median(mbit[n].filter((x): x is number => x !== null));
      const ratio = m !== null && base ? `${(((m - base) / base) * 100).toFixed(1)} %` : 'n/a';
      return `  ${n.padEnd(20)} ${range(mbit[n]).padEnd(22)} ${ratio.padEnd(8)} ${range(back[n])}`;
    }),
  ];
  const table = lines.join('\n');
  writeFileSync(join(REPO, 'bench/policy.json'), JSON.stringify({ date: new Date().toISOString(), runs: RUNS, iperf_s: IPERF_S, mbit, recovery_ms: back, duration_s: Math.round((Date.now() - started) / 1000), table }, null, 2) + '\n');
  process.stdout.write(`${table}\n\nwritten to bench/policy.json\n`);
}

if (require.main === module)
  void main().catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  });
