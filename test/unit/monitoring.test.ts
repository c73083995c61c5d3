// The shipped alerting rules and Grafana dashboard (examples/, installed to /usr/share/haip/) use only
// metric names, labels and states haip really writes, so renaming a metric in src/metrics.ts fails
// here; promtool checks the rules file when it is installed (scripts/deps.sh --unit installs it).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { renderMetrics, stoppedMetrics } from '../../src/metrics';
import { LinkStatus } from '../../src/status';
import { statusDoc } from './fixtures';

const repo = join(__dirname, '..', '..', '..');
const RULES = join(repo, 'examples', 'haip-alerts.rules.yml');
const DASHBOARD = join(repo, 'examples', 'haip-dashboard.json');

const row = (name: string, family: 4 | 6, state: LinkStatus['state']): LinkStatus => ({
  name, family, interface: 'eth1', state, since: '2026-01-01T00:00:00.000Z', reason: '', rtt_ms: 10, loss: 0, weight: 1,
  table: 101, source: null, gateway: null, targets: [], recent_rtt_ms: [], rounds: 3, route_refused: null,
});

/** Every series haip writes, running (dual stack, every field present) and stopped: name -> label names. */
function written(): Map<string, Set<string>> {
  const lan6 = { interface: 'lan0', deprecate: true, prefixes: [{ prefix: '2001:db8:1:100::/64', link: 'dsl', state: 'preferred' as const, why: '' }], sent: '2026-01-01T00:00:00.000Z', error: null };
  const text = renderMetrics(statusDoc({ active6: 'dsl', switches6: 1, links: [row('dsl', 4, 'up'), row('dsl', 6, 'degraded')], lan6 })) + stoppedMetrics();
  const out = new Map<string, Set<string>>();
  for (const m of text.matchAll(/^(haip_\w+)(?:\{([^}]*)\})? /gm)) {
    const labels = out.get(m[1]) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/(\w+)="/g)) labels.add(l[1]);
    out.set(m[1], labels);
  }
  return out;
}

/** Every PromQL expression and label template in both files. */
function expressions(): { where: string; expr: string }[] {
  const rules = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string; expr: string; annotations: Record<string, string> }[] }[] };
  const out = rules.groups.flatMap((g) => g.rules.flatMap((r) => [{ where: r.alert, expr: r.expr }, ...Object.values(r.annotations).map((a) => ({ where: `${r.alert} annotation`, expr: a }))]));
  const walk = (v: unknown, where: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) {
      if ((k === 'expr' || k === 'legendFormat' || k === 'definition') && typeof x === 'string') out.push({ where: `${where}.${k}`, expr: x });
      else walk(x, `${where}.${k}`);
    }
  };
  walk(JSON.parse(readFileSync(DASHBOARD, 'utf8')), 'dashboard');
  return out;
}

test('the rules and the dashboard name only metrics haip writes', () => {
  const names = written();
  assert.ok(names.has('haip_link_state') && names.has('haip_running'), [...names.keys()].join(' '));
  const used = new Set<string>();
  for (const { where, expr } of expressions())
    for (const m of expr.matchAll(/\bhaip_[a-z_]+\b/g)) {
      assert.ok(names.has(m[0]), `${where}: ${m[0]} is not a metric haip writes (${[...names.keys()].join(', ')})`);
      used.add(m[0]);
    }
  for (const name of ['haip_running', 'haip_link_state', 'haip_link_active', 'haip_link_rtt_seconds', 'haip_link_loss_ratio', 'haip_switches_total']) assert.ok(used.has(name), `${name} is used`);
});

test('the labels and states they use are the ones haip writes', () => {
  const names = written();
  // instance and job come from Prometheus, file from node_exporter's textfile collector.
  const labels = new Set(['instance', 'job', 'file', ...[...names.values()].flatMap((s) => [...s])]);
  const states = new Set([...renderMetrics(statusDoc({ links: [row('dsl', 4, 'up')] })).matchAll(/state="(\w+)"/g)].map((m) => m[1]));
  for (const { where, expr } of expressions()) {
    for (const m of expr.matchAll(/\{\{\s*(?:\$labels\.)?(\w+)\s*\}\}|\b(?:by|on) \(([\w, ]+)\)|[{,]\s*(\w+)\s*=~?"/g))
      for (const l of (m[1] ?? m[2] ?? m[3]).split(/,\s*/)) assert.ok(labels.has(l), `${where}: label ${l} is not one haip's series carry`);
    for (const m of expr.matchAll(/state="(\w+)"/g)) assert.ok(states.has(m[1]), `${where}: state ${m[1]}`);
  }
});

test('the rules cover what an admin is paged for', () => {
  const rules = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string }[] }[] };
  const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
  for (const a of ['HaipDown', 'HaipMetricsStale', 'HaipLinkDown', 'HaipRunningOnLastLink', 'HaipFlapping', 'HaipLinkDegraded']) assert.ok(alerts.includes(a), a);
});

let promtool = true;
try {
  execFileSync('promtool', ['--version'], { stdio: 'ignore' });
} catch {
  promtool = false;
}
test('promtool check rules accepts the rules file', { skip: promtool ? false : 'promtool is not installed (scripts/deps.sh --unit installs prometheus)' }, () => {
  const out = execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
  assert.match(out, /SUCCESS: \d+ rules found/);
});
