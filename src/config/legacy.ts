// The original haip's command line (`haip -vv --wait=2 --route 1/TARGET/DEV[:GW][/SRC] ...`) mapped onto
// the same Config that haip.yaml builds, through the same schema, so both are checked alike.
import { Config } from '../model';
import { buildConfig, ConfigError, RawConfig } from './load';

/** Tables for --route links: 7201, 7202, ... (72 is haip's protocol number). */
export const LEGACY_TABLE_BASE = 7200;

export interface LegacyOptions {
  routes: string[];
  wait?: string;
  fail?: string;
  toggle?: string;
  logLevel?: Config['logLevel'];
  stateDir?: string;
}

export function legacyConfig(opts: LegacyOptions): Config {
  const problems: { where: string; path: string; message: string }[] = [];
  const parsed = opts.routes.map((spec, i) => {
    const m = /^([^/]*)\/([^/]*)\/([^/:]*)(?::([^/]*))?(?:\/([^/]*))?$/.exec(spec);
    if (!m) {
      problems.push({ where: `--route ${spec}`, path: `links[${i}]`, message: 'expected WEIGHT/TARGET/DEV[:GW][/SRC], e.g. 1/198.18.0.1/eth0' });
      return undefined;
    }
    const [, weight, target, dev, gateway, source] = m;
    if (!/^\d+(\.\d+)?$/.test(weight))
      problems.push({ where: `--route ${spec}`, path: `links[${i}].weight`, message: `weight "${weight}" must be a number` });
    return { weight: Number(weight), target, dev, gateway: gateway || undefined, source: source || undefined };
  });
  const num = (flag: string, v: string | undefined, path: string) => {
    if (v === undefined) return undefined;
    if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0) {
      problems.push({ where: flag, path, message: `"${v}" must be a positive number` });
      return undefined;
    }
    return Number(v);
  };
  const wait = num('--wait', opts.wait, 'probe.interval') ?? 1;
  const fail = num('--fail', opts.fail, 'probe.down') ?? 3;
  if (!opts.routes.length) problems.push({ where: 'command line', path: 'links', message: 'give at least one --route WEIGHT/TARGET/DEV' });
  if (problems.length) throw new ConfigError(problems);

  const routes = parsed as NonNullable<(typeof parsed)[number]>[];
  const devCount = new Map<string, number>();
  for (const r of routes) devCount.set(r.dev, (devCount.get(r.dev) ?? 0) + 1);
  const seen = new Map<string, number>();
  // A link on an interface of its own gets a table and a source rule, so its probes leave through it
  // and not through whichever link holds the default route. Links that share an interface (the seed's
  // demo: two addresses on eth0) cannot be told apart by source, and stay table-less as in the original.
  const raw: RawConfig = {
    log_level: opts.logLevel,
    probe: { interval: wait, timeout: Math.min(wait, 2), down: Math.round(fail), up: Math.round(fail) },
    links: routes.map((r) => {
      const n = (seen.get(r.dev) ?? 0) + 1;
      seen.set(r.dev, n);
      return {
        name: devCount.get(r.dev)! > 1 ? `${r.dev}-${n}` : r.dev,
        interface: r.dev,
        weight: r.weight,
        table: devCount.get(r.dev) === 1 ? LEGACY_TABLE_BASE + routes.indexOf(r) + 1 : undefined,
        gateway: r.gateway,
        source: r.source,
        probe: { targets: [r.target] },
      };
    }),
  };
  if (raw.log_level === undefined) delete raw.log_level;
  const config = buildConfig(raw, 'command line', (path) =>
    path[0] === 'links' && typeof path[1] === 'number' ? `--route ${opts.routes[path[1]]}` : 'command line',
  );
  // Numbers only: the command line names nothing in /etc/iproute2.
  return {
    ...config,
    // The original's `--route W/T/DEV` without a gateway meant `default dev DEV`; a learned gateway still wins.
    links: config.links.map((l) => (l.gateway ? l : { ...l, onLink: true })),
    toggle: opts.toggle,
    stateDir: opts.stateDir ?? config.stateDir,
    rtTablesFile: undefined,
    rtProtosFile: undefined,
  };
}
