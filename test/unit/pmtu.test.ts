// Path-MTU probes: probe.size goes to ping unfragmented, must fit the interface, and a link that goes
// down with it says the path MTU may be why.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { foldRound, foldSilence } from '../../src/health/fold';
import { LinkHealth } from '../../src/model';
import { tooBig, viewLink } from '../../src/net/desired';
import { sizeArgs } from '../../src/sys/prober';

const config = (size: string) =>
  parseConfigText(
    `probe: { targets: [203.0.113.1], down: 1${size} }
tables: { T1: 101 }
links:
  - { name: dsl, interface: ppp0, table: T1, gateway: 198.18.1.1 }
`,
    'pmtu.yaml',
  );
const up: LinkHealth = { state: 'up', streak: 0, since: 0, reason: 'first probe round answered' };
const lost = { ok: false, answered: 0, total: 1 } as Parameters<typeof foldRound>[1];

describe('probe.size', () => {
  it('is sent with don\'t-fragment, and absent means ping\'s default', () => {
    assert.deepEqual(sizeArgs(1472), ['-s', '1472', '-M', 'do']);
    assert.deepEqual(sizeArgs(undefined), []);
    assert.equal(config(', size: 1472').links[0].probe.size, 1472);
    assert.equal(config('').links[0].probe.size, undefined);
  });

  it('a size out of range is refused at FILE:LINE:COL', () => {
    assert.throws(() => config(', size: 8'), /pmtu\.yaml:1:\d+: probe\.size/);
    assert.throws(() => config(', size: 70000'), /pmtu\.yaml:1:\d+: probe\.size/);
  });

  it('must fit the interface MTU: 1472 fits 1500 over IPv4, not 1492 (PPPoE); IPv6 needs 20 bytes more', () => {
    const link = config(', size: 1472').links[0];
    const iface = (mtu: number) => ({ name: 'ppp0', up: true, mtu, addresses: [{ address: '198.18.1.2', prefixlen: 24 }] });
    assert.equal(tooBig(link, iface(1500), 4), undefined);
    assert.equal(tooBig(link, iface(1492), 4), 'probe.size 1472 needs an MTU of 1500 on ppp0, which has 1492: lower probe.size to 1464');
    assert.match(tooBig(link, iface(1500), 6)!, /needs an MTU of 1520/);
    assert.match(viewLink(link, iface(1492)).unusable!, /lower probe.size to 1464/);
    assert.equal(viewLink(link, iface(1500)).unusable, undefined);
  });

  it('a link probing full-size echoes that goes down says the path MTU may be why', () => {
    const big = config(', size: 1472').links[0];
    assert.match(foldRound(up, lost, big, [], undefined, 1).reason, /1 failed probe round in a row.*1472-byte echoes sent unfragmented: path MTU below 1500\?/);
    assert.doesNotMatch(foldRound(up, lost, config('').links[0], [], undefined, 1).reason, /MTU/);
    assert.match(foldSilence(up, big, { at: 5, forMs: 3000 } as Parameters<typeof foldSilence>[2])!.reason, /path MTU below 1500\?/);
    // Carrier loss is not the path's MTU.
    assert.doesNotMatch(foldRound(up, lost, big, [], 'eth1 has no carrier', 1).reason, /MTU/);
  });
});
