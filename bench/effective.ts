// The effective-route check's cost with a big main table: 1M routes in the lab router's main table
// (blackhole /32s inside 198.19.0.0/16 at 16 metrics each: the router never sends there). Measures one
// pass's lookups (`ip -batch` of `route get fibmatch`, as haip runs them: samples and targets, without
// and with each link's source) with and without the routes, and haip's failover with them (silent loss
// on isp1 to the default route on eth2; and the pass from the "down" line to the switch line).
// Run under the lab lock:  flock /tmp/haip-lab.lock node dist/bench/effective.js   (EFFECTIVE_ROUTES=n)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../src/config/load';
import { lookupsFor } from '../src/net/effective';
import { readLookups } from '../src/net/effectiveRead';
import { ProcessRunner, Runner } from '../src/sys/runner';
import { Lab } from '../test/lab/lab';

const ROUTES = Number(process.env.EFFECTIVE_ROUTES ?? 1_000_000);
const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function lookupMs(ip: Runner, n = 21): Promise<{ ms: number; lookups: number; answered: number }> {
  const config = parseConfigText(`probe: ${FAST}\nlinks:\n  - { name: isp1, interface: eth1, weight: 1, table: 101, gateway: 198.18.1.1 }\n  - { name: isp2, interface: eth2, weight: 2, table: 102, gateway: 198.18.2.1 }\n`, 'bench');
  const q = lookupsFor(4, config.links.map((link, i) => ({ link, family: 4 as const, source: `198.18.${i + 1}.2`, usable: true })));
  const times: number[] = [];
  let answered = 0;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    answered = (await readLookups(ip, q)).filter((x) => x.route).length;
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: Math.round(median(times) * 10) / 10, lookups: q.length, answered };
}

async function main() {
  const lab = Lab.create();
  try {
    const ns = new ProcessRunner('ip');
    const ip: Runner = { run: (argv, input) => ns.run(['-n', lab.r, ...argv], input) };
    const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST)), '-v']);
    await haip.waitFor(/ready:/, 90_000);
    const before = await lookupMs(ip);
    const lines: string[] = [];
    for (let i = 0; i < ROUTES; i++) lines.push(`route add blackhole 198.19.${(i >> 8) & 255}.${i & 255}/32 metric ${Math.floor(i / 65536) + 1}`);
    writeFileSync(join(lab.dir, 'main.batch'), lines.join('\n') + '\n');
    const l0 = Date.now();
    lab.ip(lab.r, '-batch', join(lab.dir, 'main.batch'));
    const loadMs = Date.now() - l0;
    await new Promise((r) => setTimeout(r, 5000)); // the route events of the load settle
    const after = await lookupMs(ip);
    const f0 = Date.now();
    lab.dropAtIsp(1);
    const failoverMs = await lab.waitForDefault('eth2', 60_000, f0);
    const at = async (re: RegExp) => Date.parse((await haip.waitFor(re, 10_000)).split(' ')[0]);
    const passMs = (await at(/switch: default route isp1/)) - (await at(/link isp1 \(eth1\): up -> down/));
    haip.signal('SIGTERM');
    await haip.exited;
    const out = `effective-route check: ${before.lookups} lookups per IPv4 pass (${before.answered} answered) in one ip -batch: median ${before.ms} ms with an empty main, ${after.ms} ms with ${ROUTES} routes in main (loaded in ${loadMs} ms); failover with them ${failoverMs} ms (3 rounds of 500 ms), down line to switch line ${passMs} ms`;
    console.log(`# figures: ${out}`);
  } finally {
    lab.destroy();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
