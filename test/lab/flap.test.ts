// Route-flap damping against the real kernel: the preferred uplink fails every 5 s (5 s of silent loss,
// 5 s healthy) for 2 minutes. Without damping the route moves on every change (about 24 times); with
// the default damping the link is held back after its third failure and the route stays on the backup.
// Two labs run side by side, one with `damping: { penalty: 0 }`, one with the defaults.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lab, sleep } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
const FLAP_MS = Number(process.env.HAIP_FLAP_MS ?? 120_000);

async function flapping(damping: string, t: { after(fn: () => void): void }) {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST, damping))]);
  await haip.waitFor(/ready:/, 10_000);
  const from = haip.lines.length;
  const t0 = Date.now();
  let dropped = false;
  while (Date.now() - t0 < FLAP_MS) {
    if (dropped) lab.healIsp(1);
    else lab.dropAtIsp(1);
    dropped = !dropped;
    await sleep(5000);
  }
  lab.healIsp(1);
  const lines = haip.lines.slice(from);
  return { switches: lines.filter((l) => /switch: default route/.test(l)).length, held: lines.filter((l) => /answers again but is held back/.test(l)), lines };
}

test(`a link failing every 5 s for ${FLAP_MS / 1000} s: the route moves on every change without damping, a few times with it`, async (t) => {
  const [off, on] = await Promise.all([flapping('damping: { penalty: 0 }\n', t), flapping('', t)]);
  console.log(`# switches in ${FLAP_MS / 1000} s: without damping ${off.switches}, with the default damping ${on.switches}`);
  for (const h of on.held.slice(0, 3)) console.log(`# ${h}`);
  assert.ok(off.switches >= (FLAP_MS / 10_000) * 2 - 4, `without damping: ${off.switches} switches`);
  assert.ok(on.switches <= 8, `with damping: ${on.switches} switches\n${on.lines.filter((l) => /switch|held|trusted/.test(l)).join('\n')}`);
  assert.ok(on.held.length >= 1);
  assert.match(on.held[0], /isp1 answers again but is held back \d+ s: \d+ failures in 10 min/);
});
