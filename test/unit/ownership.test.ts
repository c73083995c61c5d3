// Addresses and prefixes have one owner: the first link to hold one keeps its source rule.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Claim, claimsOf, freshConflicts, owners, withoutConflictedSources } from '../../src/net/ownership';
import { NetState } from '../../src/model';

const c = (link: string, address: string, prefix?: string, family: 4 | 6 = 4): Claim => ({ link, family, address, ...(prefix ? { prefix } : {}) });
/** A delegated prefix (prefixes6) in the kernel's form. */
const d = (link: string, prefix: string): Claim => ({ link, family: 6, address: prefix.split('/')[0], prefix, delegated: true });

describe('ownership', () => {
  it('decides conflicts by first appearance, then config order', () => {
    const cases: { name: string; claims: Claim[]; seen: string[]; newcomers: string[] }[] = [
      { name: 'distinct addresses', claims: [c('isp1', '198.18.1.2', '198.18.1.0/24'), c('isp2', '198.18.2.2', '198.18.2.0/24')], seen: [], newcomers: [] },
      { name: 'two modems in one subnet, different addresses: no overlap of /32 rules', claims: [c('isp1', '192.168.1.10', '192.168.1.0/24'), c('isp2', '192.168.1.11', '192.168.1.0/24')], seen: [], newcomers: [] },
      { name: 'same address at once: config order', claims: [c('isp1', '198.18.2.2'), c('isp2', '198.18.2.2')], seen: [], newcomers: ['isp1:isp2'].map((x) => x.split(':')[1]) },
      { name: 'isp1\'s lease renumbers to isp2\'s address: isp2 had it first', claims: [c('isp1', '198.18.2.2'), c('isp2', '198.18.2.2')], seen: ['4|isp2|198.18.2.2'], newcomers: ['isp1'] },
      { name: 'IPv6: isp1\'s RA hands out isp2\'s prefix', claims: [c('isp1', '2001:db8:2::99', '2001:db8:2::/64', 6), c('isp2', '2001:db8:2::2', '2001:db8:2::/64', 6)], seen: ['6|isp2|2001:db8:2::2'], newcomers: ['isp1'] },
      { name: 'IPv6: a wider prefix holding the other\'s address', claims: [c('isp1', '2001:db8::9', '2001:db8::/32', 6), c('isp2', '2001:db8:2::2', '2001:db8:2::/64', 6)], seen: ['6|isp2|2001:db8:2::2'], newcomers: ['isp1'] },
      { name: 'families apart', claims: [c('isp1', '198.18.2.2'), c('isp2', '2001:db8:2::2', '2001:db8:2::/64', 6)], seen: [], newcomers: [] },
    ];
    for (const k of cases) {
      const r = owners(k.claims, k.seen);
      assert.deepEqual(r.conflicts.map((x) => x.link), k.newcomers, k.name);
    }
    const r = owners([c('isp1', '198.18.2.2'), c('isp2', '198.18.2.2')], ['4|isp2|198.18.2.2']);
    assert.equal(r.conflicts[0].text, "isp1 and isp2 both claim the address 198.18.2.2: it stays isp2's (first seen there), isp1 gets no source rule for 198.18.2.2");
    assert.deepEqual(r.seen, ['4|isp2|198.18.2.2', '4|isp1|198.18.2.2']);
    // The owner loses the address: the other link owns it from then on.
    assert.deepEqual(owners([c('isp1', '198.18.2.2')], r.seen).conflicts, []);
  });

  it('delegated prefixes (prefixes6): the config outranks what an upstream hands out', () => {
    const cases: { name: string; claims: Claim[]; seen: string[]; newcomers: string[] }[] = [
      { name: 'two links delegated the same prefix: config order', claims: [d('isp1', '2001:db8:2:100::/56'), d('isp2', '2001:db8:2:100::/56')], seen: [], newcomers: ['isp2'] },
      { name: 'the same prefix, isp2 up first: first seen', claims: [d('isp1', '2001:db8:2:100::/56'), d('isp2', '2001:db8:2:100::/56')], seen: ['6|isp2|2001:db8:2:100::/56'], newcomers: ['isp1'] },
      { name: 'one delegated prefix inside another', claims: [d('isp1', '2001:db8:2::/48'), d('isp2', '2001:db8:2:100::/56')], seen: [], newcomers: ['isp2'] },
      { name: 'disjoint delegated prefixes', claims: [d('isp1', '2001:db8:1:100::/56'), d('isp2', '2001:db8:2:100::/56')], seen: [], newcomers: [] },
      { name: 'isp1\'s RA numbers its WAN inside isp2\'s delegated prefix, even seen first', claims: [c('isp1', '2001:db8:2:100::99', '2001:db8:2:100::/64', 6), d('isp2', '2001:db8:2:100::/56')], seen: ['6|isp1|2001:db8:2:100::99'], newcomers: ['isp1'] },
      { name: 'a WAN prefix holding another link\'s delegated prefix', claims: [c('isp1', '2001:db8:2::9', '2001:db8:2::/48', 6), d('isp2', '2001:db8:2:100::/56')], seen: [], newcomers: ['isp1'] },
      { name: 'a link\'s own WAN inside its own delegated prefix (unnumbered WAN)', claims: [c('isp1', '2001:db8:1:100::1', undefined, 6), d('isp1', '2001:db8:1:100::/56')], seen: [], newcomers: [] },
      { name: 'the WAN prefix beside a delegated one', claims: [c('isp1', '2001:db8:1::2', '2001:db8:1::/64', 6), d('isp2', '2001:db8:2:100::/56')], seen: [], newcomers: [] },
    ];
    for (const k of cases) assert.deepEqual(owners(k.claims, k.seen).conflicts.map((x) => x.link), k.newcomers, k.name);
    const r = owners([c('isp1', '2001:db8:2:100::99', '2001:db8:2:100::/64', 6), d('isp2', '2001:db8:2:100::/56')], []);
    assert.equal(
      r.conflicts[0].text,
      "isp1 and isp2 both claim 2001:db8:2:100::99 and the delegated prefix 2001:db8:2:100::/56, which overlap: it stays isp2's (delegated to it in the config), isp1 gets no source rule for 2001:db8:2:100::/64",
    );
    // The loser's rules go, the owner's stay; a delegated loser loses only that prefix's rule.
    const state: NetState = {
      routes: [],
      rules: [
        { family: 6, priority: 10010, from: '2001:db8:2:100::/64', table: 101 },
        { family: 6, priority: 10020, from: '2001:db8:2::/64', table: 102 },
        { family: 6, priority: 10020, from: '2001:db8:2:100::/56', table: 102 },
      ],
    };
    const claims = [c('isp1', '2001:db8:2:100::99', '2001:db8:2:100::/64', 6), c('isp2', '2001:db8:2::2', '2001:db8:2::/64', 6), d('isp2', '2001:db8:2:100::/56')];
    const tableOf = (n: string) => (n === 'isp1' ? 101 : 102);
    assert.deepEqual(withoutConflictedSources(state, owners(claims, []).conflicts, tableOf, claims).rules, state.rules.slice(1));
    const twice = [d('isp1', '2001:db8:2:100::/56'), c('isp2', '2001:db8:2::2', '2001:db8:2::/64', 6), d('isp2', '2001:db8:2:100::/56')];
    assert.deepEqual(withoutConflictedSources(state, owners(twice, []).conflicts, tableOf, twice).rules, state.rules.slice(0, 2));
    // From the views, in the kernel's form, only for a usable link with a source (as desired writes them).
    const link = { name: 'isp2', prefixes6: ['2001:DB8:2:0100::/56'] };
    assert.deepEqual(claimsOf([{ family: 6, views: [{ link, source: '2001:db8:2::2', connected: '2001:db8:2::/64' }] }]), [c('isp2', '2001:db8:2::2', '2001:db8:2::/64', 6), d('isp2', '2001:db8:2:100::/56')]);
    assert.deepEqual(claimsOf([{ family: 6, views: [{ link, unusable: 'down' }] }]), []);
    assert.deepEqual(claimsOf([{ family: 4, views: [{ link, source: '198.18.2.2' }] }]), [c('isp2', '198.18.2.2')]);
  });

  it('drops only the newcomer\'s source rule; logs each conflict once while it lasts', () => {
    const state: NetState = {
      routes: [],
      rules: [
        { priority: 10005, oif: 'eth1', table: 101 },
        { priority: 10010, from: '198.18.2.2', table: 101 },
        { priority: 10020, from: '198.18.2.2', table: 102 },
        { family: 6, priority: 10010, from: '2001:db8:2::/64', table: 101 },
      ],
    };
    const claims = [c('isp1', '198.18.2.2'), c('isp2', '198.18.2.2'), c('isp1', '2001:db8:2::9', '2001:db8:2::/64', 6), c('isp2', '2001:db8:2::2', '2001:db8:2::/64', 6)];
    const { conflicts } = owners(claims, ['4|isp2|198.18.2.2', '6|isp2|2001:db8:2::2']);
    const out = withoutConflictedSources(state, conflicts, (n) => (n === 'isp1' ? 101 : 102), claims);
    assert.deepEqual(out.rules, [state.rules[0], state.rules[2]]);
    const first = freshConflicts(new Set(), conflicts);
    assert.equal(first.fresh.length, 2);
    assert.equal(freshConflicts(first.told, conflicts).fresh.length, 0);
    assert.deepEqual(claimsOf([{ family: 4, views: [{ link: { name: 'a' }, source: '198.18.1.2', connected: '198.18.1.0/24' }, { link: { name: 'b' }, source: '198.18.2.2', unusable: 'down' }] }]), [c('a', '198.18.1.2', '198.18.1.0/24')]);
  });
});
