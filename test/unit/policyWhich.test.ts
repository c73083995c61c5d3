// `haip which` and `haip status` for policies, from a status document: the kernel's jhash (values read
// back from a real kernel's conntrack marks), the rule, the policy and the uplink with its reason.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs } from '../../src/cli';
import { parseConfigText } from '../../src/config/load';
import { PolicyEngine } from '../../src/policy/engine';
import { jhashMod } from '../../src/policy/jhash';
import { hashKey, policyLines, whichReport } from '../../src/policy/which';
import { StatusDoc } from '../../src/status';
import { memoryLog } from './fakes';
import { POLICY_YAML as YAML } from './fixtures';

describe('jhash as the kernel computes it', () => {
  it('by source: `ct mark set jhash ip daddr mod 64 seed 0x68616970` on kernel 6.18 gave these', () => {
    const got = [1, 2, 3, 77, 200].map((a) => jhashMod(Uint8Array.from([198, 51, 100, a]), 64, 0x68616970));
    assert.deepEqual(got, [54, 33, 2, 48, 51]);
  });
  it('by connection: the 5-tuple in zero-padded registers, as the kernel gave', () => {
    const flow = (sport: number, dport: number) => hashKey({ from: '198.18.0.5', to: '198.51.100.9', proto: 'udp', sport, dport }, 'connection')!;
    assert.deepEqual([flow(40000, 443), flow(40001, 53), flow(5060, 5061)].map((k) => jhashMod(k, 64, 0x68616970)), [30, 13, 60]);
  });
});


async function doc(states: Record<string, 'up' | 'down'>): Promise<StatusDoc> {
  const c = parseConfigText(YAML, 'haip.yaml');
  const engine = new PolicyEngine({ log: memoryLog(), now: () => 0 });
  await engine.afterPass(c, (l) => ({ state: states[l] ?? 'down' }));
  return { active: 'dsl', since: '', pid: 1, updated: new Date().toISOString(), switches: 0, links: [], policies: engine.status(c) };
}

describe('haip which', () => {
  it('a prefer policy: the rule, the policy, the link and why', async () => {
    const r = whichReport(await doc({ dsl: 'up', cable: 'down' }), { from: '192.168.1.10', to: '203.0.113.5', proto: 'udp', dport: 5060 });
    assert.deepEqual(r.lines.slice(1, 4), [
      'rule: traffic[0] { proto: udp, dport: 5060-5061, policy: voip } (first match)',
      'policy: voip: prefer [cable, dsl], last resort default',
      'uplink: dsl (mark 0xfb, table 101): cable not usable; usable now: dsl',
    ]);
  });
  it('a balance policy: the bucket, its home, and where it is while its home is down', async () => {
    const host = '192.168.1.10';
    const bucket = jhashMod(Uint8Array.from([192, 168, 1, 10]), 64, 0x68616970);
    const up = whichReport(await doc({ dsl: 'up', cable: 'up' }), { from: host, to: '203.0.113.5', proto: 'tcp', dport: 443 });
    const home = bucket % 2 === 0 ? 'dsl' : 'cable';
    assert.match(up.lines[3], new RegExp(`^uplink: ${home} .*bucket ${bucket}, whose home is ${home}; usable now: dsl, cable$`));
    const other = home === 'dsl' ? 'cable' : 'dsl';
    const moved = whichReport(await doc({ [home]: 'down', [other]: 'up' }), { from: host, to: '203.0.113.5', proto: 'tcp', dport: 443 });
    assert.match(moved.lines[3], new RegExp(`^uplink: ${other} .*${home} is not usable, so the bucket is on ${other} until ${home} returns`));
  });
  it('a refusing policy with no usable link says so; no rule and no default_policy: main', async () => {
    const d = await doc({ dsl: 'down', cable: 'up' });
    assert.equal(whichReport(d, { from: '192.168.1.70', proto: 'tcp', dport: 443 }).lines[3], 'uplink: none: refused (last_resort: unreachable); no link of the policy is usable now');
    assert.deepEqual(whichReport(d, { from: '10.0.0.1' }).lines.slice(1), ['rule: none of the 3 traffic rules matches', 'uplink: the main default route (dsl)']);
  });
  it('haip status lines per policy', async () => {
    const d = await doc({ dsl: 'up', cable: 'up' });
    assert.deepEqual(policyLines(d.policies!.policies[0], false), ['policy spread (balance by source, last resort default): buckets dsl 32, cable 32; usable: dsl, cable', '  connections: dsl -, cable -']);
  });
  it('the command line', () => {
    assert.deepEqual(parseArgs(['which', '--from', '192.168.1.10', '--to', '203.0.113.5', '--proto', 'tcp', '--dport', '443']).flow, { from: '192.168.1.10', to: '203.0.113.5', proto: 'tcp', dport: 443 });
    assert.throws(() => parseArgs(['which', '--dport', '70000']), /--dport is a number from 1 to 65535/);
    assert.throws(() => parseArgs(['which', '--from', 'host']), /--from needs an IPv4 or IPv6 address/);
  });
});
