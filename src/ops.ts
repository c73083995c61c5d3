// One-shot operations on the host: `haip plan` (what the config would do here, changing nothing) and
// `haip flush` (remove what haip owns, and nothing else).
import { explainTarget } from './sys/probeTarget';
import { Log } from './log';
import { Config, Family, familyLink, Route, routeToString } from './model';
import { learnPrefixes6, NOTHING_LEARNED } from './net/pd';
import { desiredFamilies, FamilyPlan, learnedGateway6, viewLink, viewLink6 } from './net/desired';
import { learnGateways } from './net/gateways';
import { commandToString } from './net/iproute';
import { reconcile, withoutForeignConflicts } from './net/plan';
import { applyCommands, observe, readScope } from './net/router';
import { removeNameFiles } from './net/names';
import { describeMove, laneFacts, moveShadows } from './net/shadows';
import { claimsOf, owners, withoutConflictedSources } from './net/ownership';
import { Runner } from './sys/runner';
import { haipTable, replaceScript, removeStickyTable, STICKY_TABLE } from './net/nft';
import { markedLinks } from './net/replies';
import { readRpFacts, restoreSysctls, rpFilterReport } from './net/rpfilter';
import { Sysctl } from './sys/sysctl';
import { decide } from './policy/assign';
import { describe } from './policy/engine';
import { hasPolicies, policyElements } from './policy/nft';
import { lan6Input, lan6PlanLines } from './core/lan6';
import { refusedPrefixes6 } from './net/refused6';

/** `haip check`'s one line: the file is valid, and what it configures. */
export function checkReport(config: Config): string {
  const n = config.links.length;
  if (!n) return `${config.source}: ok, no links: haip changes nothing on this host until links are added (see haip.yaml(5))`;
  const six = config.links.filter((l) => familyLink(l, 6)).map((l) => l.name);
  const head = `${config.source}: ok, ${n} link${n === 1 ? '' : 's'}: ${config.links.map((l) => l.name).join(', ')}${six.length ? `; IPv6 too on ${six.join(', ')}` : ''}`;
  const targets = [...new Set(config.links.flatMap((l) => l.probe.targets))];
  // Only the kinds whose answer can be faked are explained; bare addresses say nothing new.
  const explained = targets.filter((t) => t.includes('://')).map((t) => `  probe ${explainTarget(t)}`);
  return [head, ...explained].join('\n');
}

/** `haip check`'s lines on the sysctls haip depends on, as this host has them now (reading changes nothing). */
export function checkSysctls(config: Config, sysctl: Sysctl): string[] {
  let facts;
  try {
    facts = readRpFacts(sysctl, markedLinks(config));
  } catch (err) {
    facts = err as Error;
  }
  return rpFilterReport(config, facts);
}

export async function planReport(config: Config, ip: Runner): Promise<string> {
  const scope = readScope(config);
  const obs = await observe(ip, { ...scope, links: config.links });
  const learned = learnGateways(config.links, obs.interfaces, obs.deviceRoutes, new Map(), config.protocol, config.mainTable);
  const out: string[] = [`# haip plan for ${config.source}: nothing is changed by this command`, '#'];
  if (!config.links.length) out.push('# no links configured: haip installs nothing for them (see haip.yaml(5))');
  const plans: FamilyPlan[] = [];
  const keeps: Route[] = [];
  let refusedLearned = NOTHING_LEARNED.refused;
  for (const family of scope.families) {
    // Each family on its own, as the daemon runs it: the links with targets of that family.
    const links = config.links.flatMap((l) => familyLink(l, family) ?? []);
    const learned6 = family === 6 ? learnPrefixes6(links, obs.delegations6, obs.interfaces) : NOTHING_LEARNED;
    const views = links.map((l) =>
      family === 6
        ? viewLink6(l, obs.interfaces.get(l.interface), learnedGateway6(l, obs.net.routes, config), obs.interfaces.values(), learned6.byLink.get(l.name))
        : viewLink(l, obs.interfaces.get(l.interface), learned.get(l.name)),
    );
    if (config.links.length) out.push(`# ${family === 6 ? 'IPv6 ' : ''}links (assuming every usable link answers its probes):`);
    const usable = views.filter((v) => !v.unusable);
    const best = usable.reduce<(typeof usable)[number] | undefined>((b, v) => (!b || v.link.weight < b.link.weight ? v : b), undefined);
    for (const v of views) {
      const howLearned = v.learnedFrom ? (family === 4 ? ` (learned from ${v.learnedFrom})` : ' (learned)') : '';
      const via = v.gateway ? `, gateway ${v.gateway}${howLearned}` : family === 4 ? ', point-to-point' : '';
      const state = v.unusable ? `unusable: ${v.unusable}` : `usable, source ${v.source}${v.connected ? `, connected ${v.connected}` : ''}${via}`;
      const role = v === best ? 'would carry the default route (lowest weight among usable links)' : v.unusable ? 'cannot be chosen' : `standby (weight ${v.link.weight} > ${best?.link.weight})`;
      out.push(`#   ${v.link.name} (${v.link.interface}, weight ${v.link.weight}${v.link.table ? `, table ${v.link.table}` : ''}): ${state}; ${role}`);
      for (const p of v.prefixes6 ?? []) out.push(`#     delegated prefix ${p.prefix}${p.from ? `, learned from ${p.from}` : ''}`);
    }
    for (const r of learned6.refused) out.push(`#   ${r.link}: delegated prefix ${r.prefix} NOT routed: ${r.why}`);
    if (family === 6) refusedLearned = learned6.refused;
    const keep = obs.net.routes.find((r) => (r.family ?? 4) === family && r.table === config.mainTable && r.dst === 'default' && r.protocol === config.protocol);
    if (!best && keep) keeps.push(keep);
    plans.push({ family, views, active: best?.link.name ?? null, keep });
  }
  const lanes = plans.map((p) => laneFacts(p.family, p.active, p.views.map((view) => ({ view, state: 'up' }))));
  const shadows = moveShadows(config, obs.lookups, desiredFamilies(config, plans), lanes, [], obs.net.routes);
  const claims = claimsOf(plans);
  const own = owners(claims, []);
  const owned = withoutConflictedSources(shadows.desired, own.conflicts, (n) => config.links.find((l) => l.name === n)?.table, claims);
  const { desired, conflicts } = withoutForeignConflicts(owned, obs.net, config.protocol, config.mainTable);
  const commands = reconcile(desired, obs.net, config.protocol);
  out.push('#');
  for (const m of shadows.fresh) out.push(`# drift: ${describeMove(m)}`);
  for (const c of own.conflicts) out.push(`# conflict: ${c.text}`);
  for (const { ours, theirs } of conflicts) out.push(`# NOT installed: ${routeToString(ours)}: table ${theirs.table} already holds "${routeToString(theirs)}", which is not haip's`);
  if (!commands.length) out.push('# the kernel already matches the config: no commands');
  else out.push(`# ${commands.length} command(s), adds before deletes:`, ...commands.map(commandToString));
  for (const keep of keeps) out.push(`# no usable link${keep.family === 6 ? ' for IPv6' : ''}: the current default route stays (${routeToString(keep)})`);
  const table = haipTable(config);
  const what = [markedLinks(config).length ? 'replies by the arrival uplink' : '', config.sticky ? 'sticky connections' : '', hasPolicies(config) ? 'policies' : ''].filter(Boolean).join(', ');
  if (table) out.push('#', `# haip's nftables table ${STICKY_TABLE} (${what}), replaced atomically:`, `nft -f - <<'EOF'`, replaceScript(table).trimEnd(), 'EOF');
  if (hasPolicies(config)) {
    // The maps as the daemon fills them once every usable link answers its probes.
    const usable = (family: Family) => new Set(plans.find((p) => p.family === family)?.views.filter((v) => !v.unusable).map((v) => v.link.name));
    const decisions = new Map(scope.families.map((f) => [f, config.policies!.map((p) => decide(p, (l) => config.links.find((x) => x.name === l)?.share ?? 1, (l) => ({ state: usable(f).has(l) ? ('up' as const) : ('down' as const) })))]));
    out.push('#', '# policies: the maps, as haip fills them while every usable link answers (replaced on every change of health):');
    for (const [f, ds] of decisions) for (const d of ds) out.push(`#   ${d.policy}${f === 6 ? ' (IPv6)' : ''}: ${describe(config.policies!.find((p) => p.name === d.policy)!, d)}`);
    out.push(`nft -f - <<'EOF'`, policyElements(config, decisions, (l, f) => usable(f).has(l)).trimEnd(), 'EOF');
  }
  if (config.lan6) {
    // As the daemon would advertise while every usable link answers (an unusable one counts as down).
    const views = plans.find((p) => p.family === 6)?.views ?? [];
    const runtimes = views.map((view) => ({ config: view.link, view, health: { state: view.unusable ? ('down' as const) : ('up' as const) } }));
    out.push(...lan6PlanLines(config.lan6, lan6Input(config.lan6, obs, runtimes, refusedPrefixes6(refusedLearned, own.conflicts))));
  }
  return out.join('\n') + '\n';
}

/** Removes haip's rules, table routes and nftables table; the main default route is handed over as `proto static`. */
export async function flushOwned(config: Config, ip: Runner, log: Log, nft?: Runner, sysctl?: Sysctl): Promise<number> {
  // Both families whatever the config says now: an earlier config may have probed IPv6. A kernel
  // without IPv6 (ipv6.disable=1) refuses `ip -6`: then there is nothing of haip's in IPv6 to remove.
  const obs = await observe(ip, { ...readScope(config), families: [4, 6] }).catch(() => observe(ip, { ...readScope(config), families: [4] }));
  const commands = reconcile({ routes: [], rules: [] }, obs.net, config.protocol);
  const kept = obs.net.routes.filter((r) => r.table === config.mainTable && r.dst === 'default' && r.protocol === config.protocol);
  const handover = kept.map((keep) => ({ op: 'route-replace' as const, route: { ...keep, protocol: 4 } }));
  // Hand the default routes over first: deleting them would leave the host offline.
  const result = await applyCommands(ip, [...handover, ...commands.filter((c) => !(c.op === 'route-del' && kept.includes(c.route)))]);
  for (const c of result.applied) log.notice(`flush: ${commandToString(c)}`);
  for (const e of result.errors) log.error(`flush: ${e.message}`);
  for (const path of removeNameFiles(config)) log.warning(`flush: left ${path} alone: it is not haip's`);
  let nftErrors = 0;
  let nftRemoved = false;
  if (nft) {
    try {
      nftRemoved = await removeStickyTable(nft);
      if (nftRemoved) log.notice(`flush: nft delete table ${STICKY_TABLE}`);
    } catch (err) {
      // Without nft installed there is no table of haip's to remove.
      if (!/exit 127/.test((err as Error).message) || config.sticky) {
        log.error(`flush: ${(err as Error).message}`);
        nftErrors++;
      }
    }
  }
  let restored: string | undefined;
  if (sysctl) {
    try {
      restored = restoreSysctls(config.stateDir, sysctl);
      if (restored) log.notice(restored);
    } catch (err) {
      log.error(`flush: setting back what haip set in /proc/sys: ${(err as Error).message}`);
      nftErrors++;
    }
  }
  if (!result.applied.length && !result.errors.length && !nftRemoved && !nftErrors && !restored) log.notice('flush: nothing of haip\'s was installed');
  return result.errors.length || nftErrors ? 1 : 0;
}
