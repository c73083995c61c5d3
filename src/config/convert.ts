// From a validated RawConfig to the Config the daemon runs: defaults, durations in ms, table names
// resolved to numbers.
import { Config, familyOf, LinkConfig, MAIN_TABLE, ProbeSettings, RuleConfig } from '../model';
import { DAMPING_DEFAULTS } from '../health/damping';
import { RawConfig, RawProbe } from './raw';
import { toPolicies } from './policyConvert';

export const DEFAULTS = {
  interval: 1000,
  timeout: 1000,
  qualityWindow: 60_000,
  quorum: 1,
  down: 3,
  up: 3,
  stateDir: '/run/haip',
  hooksDir: '/etc/haip/hooks.d',
  hookTimeoutMs: 10_000,
  metricsIntervalMs: 15_000,
  protocol: 72,
  rulePriorityBase: 10000,
  markMask: 0xff,
  rtTablesFile: '/etc/iproute2/rt_tables.d/haip.conf',
  rtProtosFile: '/etc/iproute2/rt_protos.d/haip.conf',
  /** lan6's router lifetime: radvd's (3 x MaxRtrAdvInterval) and dnsmasq's default. */
  routerLifetimeS: 1800,
};

export const RESERVED_TABLES: Record<string, number> = { main: MAIN_TABLE, default: 253, local: 255 };

export function parseDuration(v: number | string): number {
  if (typeof v === 'number') return Math.round(v * 1000);
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)$/.exec(v);
  if (!m) throw new Error(`not a duration: ${v}`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}

export function resolveTable(ref: string | number, tables: Record<string, number>): number | undefined {
  if (typeof ref === 'number') return ref;
  // Own keys only: "toString" or "__proto__" must not resolve through Object.prototype.
  if (Object.hasOwn(tables, ref)) return tables[ref];
  return Object.hasOwn(RESERVED_TABLES, ref) ? RESERVED_TABLES[ref] : undefined;
}

function probeSettings(own: RawProbe | undefined, base: RawProbe | undefined): ProbeSettings {
  const pick = <K extends keyof RawProbe>(k: K) => own?.[k] ?? base?.[k];
  return {
    targets: pick('targets') as string[],
    intervalMs: parseDuration(pick('interval') ?? DEFAULTS.interval / 1000),
    timeoutMs: parseDuration(pick('timeout') ?? DEFAULTS.timeout / 1000),
    quorum: (pick('quorum') as number) ?? DEFAULTS.quorum,
    down: (pick('down') as number) ?? DEFAULTS.down,
    up: (pick('up') as number) ?? DEFAULTS.up,
    ...(pick('method') ? { method: pick('method') as ProbeSettings['method'] } : {}),
    ...(pick('size') !== undefined ? { size: pick('size') as number } : {}),
    ...(pick('max_loss') !== undefined ? { maxLossPct: parseFloat(pick('max_loss') as string) } : {}),
    ...(pick('max_rtt') !== undefined ? { maxRttMs: parseDuration(pick('max_rtt')!) } : {}),
    qualityWindowMs: parseDuration(pick('quality_window') ?? DEFAULTS.qualityWindow / 1000),
  };
}

export function toConfig(raw: RawConfig, source: string): Config {
  const tables = raw.tables ?? {};
  const links: LinkConfig[] = raw.links.map((l, i) => ({
    name: l.name,
    interface: l.interface,
    weight: l.weight ?? i + 1,
    table: l.table === undefined ? undefined : resolveTable(l.table, tables),
    gateway: l.gateway,
    source: l.source,
    ...(l.gateway6 !== undefined ? { gateway6: l.gateway6 } : {}),
    ...(l.source6 !== undefined ? { source6: l.source6 } : {}),
    ...(l.prefixes6 !== undefined ? { prefixes6: l.prefixes6 } : {}),
    // Only when given: linkMark() supplies the default (position + 1).
    ...(l.mark !== undefined ? { mark: l.mark } : {}),
    ...(l.share !== undefined ? { share: l.share } : {}),
    probe: probeSettings(l.probe, raw.probe),
  }));
  const rules: RuleConfig[] = (raw.rules ?? []).map((r) => ({
    // The family follows the addresses (checks refuse a mixed pair); a rule with neither is IPv4, as before.
    ...([r.from, r.to].some((a) => a !== undefined && familyOf(a) === 6) ? { family: 6 as const } : {}),
    priority: r.priority,
    table: resolveTable(r.table, tables)!,
    from: r.from,
    to: r.to,
    fwmark: r.fwmark,
    mask: r.mask,
    iif: r.iif,
  }));
  return {
    source,
    logLevel: raw.log_level ?? 'info',
    tables,
    links,
    rules,
    sticky: raw.sticky ?? false,
    ...(raw.mark_mask !== undefined ? { markMask: raw.mark_mask } : {}),
    stateDir: raw.state_dir ?? DEFAULTS.stateDir,
    hooksDir: raw.hooks_dir ?? DEFAULTS.hooksDir,
    metricsFile: raw.metrics_file,
    hookTimeoutMs: raw.hook_timeout === undefined ? DEFAULTS.hookTimeoutMs : parseDuration(raw.hook_timeout),
    metricsIntervalMs: raw.metrics_interval === undefined ? DEFAULTS.metricsIntervalMs : parseDuration(raw.metrics_interval),
    damping: {
      penalty: raw.damping?.penalty ?? DAMPING_DEFAULTS.penalty,
      halfLifeMs: raw.damping?.half_life === undefined ? DAMPING_DEFAULTS.halfLifeMs : parseDuration(raw.damping.half_life),
      reuse: raw.damping?.reuse ?? DAMPING_DEFAULTS.reuse,
      maxHoldMs: raw.damping?.max_hold === undefined ? DAMPING_DEFAULTS.maxHoldMs : parseDuration(raw.damping.max_hold),
    },
    toggle: raw.toggle,
    protocol: raw.protocol ?? DEFAULTS.protocol,
    rulePriorityBase: raw.rule_priority ?? DEFAULTS.rulePriorityBase,
    mainTable: raw.main_table === undefined ? MAIN_TABLE : resolveTable(raw.main_table, tables)!,
    ...(raw.main_metric ? { mainMetric: raw.main_metric } : {}),
    ...(raw.shadow_prefix ? { shadowPrefix: { ...(raw.shadow_prefix.ipv4 ? { 4: raw.shadow_prefix.ipv4 } : {}), ...(raw.shadow_prefix.ipv6 ? { 6: raw.shadow_prefix.ipv6 } : {}) } } : {}),
    rtTablesFile: raw.rt_tables_file ?? DEFAULTS.rtTablesFile,
    rtProtosFile: raw.rt_protos_file ?? DEFAULTS.rtProtosFile,
    ...toPolicies(raw),
    ...(raw.lan6 ? { lan6: { interface: raw.lan6.interface, deprecate: raw.lan6.deprecate ?? true, routerLifetimeS: raw.lan6.router_lifetime ?? DEFAULTS.routerLifetimeS } } : {}),
  };
}
