// Counts how often haip replaces its metrics file in a lab run (inotify, through fs.watch), with one
// failover half-way, and extrapolates to an hour: the flash-wear figure in docs/decisions.md.
//   node dist/test/lab/metricsWrites.js [SECONDS] [HAIP_MAIN_JS]
// The second argument runs another build (the code before a change) for the comparison.
import { mkdirSync, watch } from 'node:fs';
import { HAIP_JS, Lab, sleep } from './lab';

async function main() {
  const seconds = Number(process.argv[2] ?? 120);
  const haipJs = process.argv[3] ?? HAIP_JS;
  const lab = Lab.create();
  try {
    const dir = `${lab.dir}/metrics`;
    mkdirSync(dir, { recursive: true });
    const cfg = lab.writeConfig(lab.configYaml('{ targets: [203.0.113.1, 203.0.113.2], interval: 1s, timeout: 1s, down: 3, up: 3 }', `metrics_file: ${dir}/haip.prom\n`));
    const haip = lab.spawnIn(lab.r, [process.execPath, haipJs, 'run', '-c', cfg]);
    await haip.waitFor(/ready:/, 10_000);
    let writes = 0;
    const watcher = watch(dir, (_event, name) => {
      if (name === 'haip.prom') writes++;
    });
    const start = Date.now();
    await sleep((seconds * 1000) / 2);
    lab.dropAtIsp(1);
    await sleep((seconds * 1000) / 2);
    const elapsed = (Date.now() - start) / 1000;
    watcher.close();
    await haip.stop();
    process.stdout.write(`${haipJs}: ${writes} writes of haip.prom in ${elapsed.toFixed(1)} s (one failover): ${Math.round((writes * 3600) / elapsed)} per hour\n`);
  } finally {
    lab.destroy();
  }
}

void main();
