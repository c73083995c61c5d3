// `haip status`: reads the running daemon's status.json and prints a table, or the JSON itself.
import { CliArgs, EX_NOT_RUNNING, EX_STALE } from './cli';
import { activeOf, readStatus, StatusDoc } from './status';
import { neutralise } from './sys/text';
import { VERSION } from './version';
import { policyLines, whichReport } from './policy/which';


const SPARKS = '▁▂▃▄▅▆▇█';

export function sparkline(values: (number | null)[]): string {
  const nums = values.filter((v): v is number => v !== null);
  if (!nums.length) return values.map(() => '·').join('');
  const lo = Math.min(...nums);
  const hi = Math.max(...nums);
  return values.map((v) => (v === null ? '×' : SPARKS[hi === lo ? 0 : Math.round(((v - lo) / (hi - lo)) * (SPARKS.length - 1))])).join('');
}

function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s ago`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m ago`;
}

export function renderStatus(doc: StatusDoc, now: number): string {
  // A dual-stack config shows one row per link and family, with a FAMILY column.
  const six = doc.active6 !== undefined;
  const rows = [['', 'LINK', ...(six ? ['FAMILY'] : []), 'INTERFACE', 'STATE', 'SINCE', 'RTT', 'LOSS(1m)', 'WEIGHT', 'RECENT RTT']];
  for (const l of doc.links) {
    rows.push([
      l.name === activeOf(doc, l.family ?? 4) ? '*' : '',
      l.name,
      ...(six ? [l.family === 6 ? 'IPv6' : 'IPv4'] : []),
      l.interface,
      l.state.toUpperCase(),
      ago(l.since, now),
      l.rtt_ms === null ? '-' : `${l.rtt_ms.toFixed(2)}ms`,
      l.loss === null ? '-' : `${Math.round(l.loss * 100)}%`,
      String(l.weight),
      sparkline(l.recent_rtt_ms ?? []),
    ]);
  }
  // status.json is only as trustworthy as whoever could write it: no escape code reaches the terminal.
  for (const r of rows) for (let i = 0; i < r.length; i++) r[i] = neutralise(r[i]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => [...r[i]].length)));
  const lines = rows.map((r) => r.map((c, i) => c + ' '.repeat(widths[i] - [...c].length)).join('  ').trimEnd());
  let head = doc.active ? `default route: ${neutralise(doc.active)} (since ${ago(doc.since, now)})` : 'default route: not chosen yet (no link up)';
  if (six) head += `\nIPv6 default route: ${doc.active6 ? `${neutralise(doc.active6)} (since ${ago(doc.since6 ?? doc.since, now)})` : 'not chosen yet (no link up for IPv6)'}`;
  const problems = (doc.problems ?? []).map((p) => `problem: ${neutralise(String(p))}\n`).join('');
  const held = doc.links.filter((l) => l.held).map((l) => `${neutralise(l.name)}${l.family === 6 ? ' (IPv6)' : ''} answers again but is ${neutralise(String(l.held))}\n`).join('');
  const refused = doc.links.filter((l) => l.route_refused).map((l) => `${neutralise(l.name)}${l.family === 6 ? ' (IPv6)' : ''} answers but the kernel refuses its default route: ${neutralise(String(l.route_refused))}\n`).join('');
  const policies = (doc.policies?.policies ?? []).flatMap((p) => policyLines(p, six)).map((l) => `${l}\n`).join('');
  const prefixes = doc.links
    .flatMap((l) => (Array.isArray(l.prefixes6) ? l.prefixes6 : []).map((p) => `${neutralise(l.name)} routes delegated prefix ${neutralise(String(p.prefix))} (${p.learned ? `learned from ${neutralise(String(p.from))}` : 'config'})\n`))
    .join('');
  const refused6 = doc.links
    .flatMap((l) => (Array.isArray(l.prefixes6_refused) ? l.prefixes6_refused : []).map((p) => `${neutralise(l.name)} does not route ${p.learned ? 'learned' : 'configured'} delegated prefix ${neutralise(String(p.prefix))}: ${neutralise(String(p.why))}\n`))
    .join('');
  const lan = doc.lan6 && typeof doc.lan6 === 'object' ? lan6Lines(doc.lan6, now) : '';
  return `${head}\n${problems}${lines.join('\n')}\n${held}${refused}${prefixes}${refused6}${lan}${policies}`;
}

/** haip's router advertisements on the LAN: one line per /64 as the last RA said it. */
function lan6Lines(lan: NonNullable<StatusDoc['lan6']>, now: number): string {
  const iface = neutralise(String(lan.interface));
  const when = typeof lan.sent === 'string' ? `last sent ${ago(lan.sent, now)}` : 'none sent yet';
  const head = `LAN ${iface}: router advertisements, ${when}${lan.error ? `; not sent: ${neutralise(String(lan.error))}` : ''}\n`;
  const life = (p: { valid_s?: unknown; preferred_s?: unknown }) => (typeof p.valid_s === 'number' && typeof p.preferred_s === 'number' ? `; valid ${p.valid_s} s, preferred ${p.preferred_s} s` : '');
  const rows = (Array.isArray(lan.prefixes) ? lan.prefixes : []).map((p) => `  ${neutralise(String(p.prefix))} of ${neutralise(String(p.link))}: ${neutralise(String(p.state))} (${neutralise(String(p.why))})${life(p)}\n`);
  return head + rows.join('');
}

/** Which haip wrote the document; after an upgrade without a restart, that this command is newer. */
export function versionLine(doc: StatusDoc, cli: string): string {
  const daemon = typeof doc.version === 'string' ? neutralise(doc.version) : undefined;
  const line = `haip ${daemon ?? '0.1.0 or older (status.json names no version)'}, pid ${Number(doc.pid)}`;
  return daemon === cli ? `${line}\n` : `${line}; this command is haip ${cli}: restart haip to run it (systemctl restart haip)\n`;
}

/** Why the document may no longer describe the daemon, or undefined while it is fresh. */
export function staleness(doc: StatusDoc, now: number): string | undefined {
  const errors = Array.isArray(doc.write_errors) ? doc.write_errors : [];
  if (errors.length) return `the daemon could not write: ${errors.map((e) => neutralise(String(e))).join('; ')}`;
  const age = now - Date.parse(doc.updated);
  const limit = typeof doc.stale_after_ms === 'number' ? doc.stale_after_ms : 10_000;
  if (!(age <= limit)) return `status.json was last written ${Number.isFinite(age) ? `${Math.round(age / 1000)} s ago` : 'at an unknown time'} (more than ${Math.round(limit / 1000)} s): this may not be the current state (state_dir full or read-only? a hung daemon?)`;
  return undefined;
}

/** status.json, or undefined after telling stderr that there is none. */
function readOrTell(stateDir: string): StatusDoc | undefined {
  try {
    return readStatus(stateDir);
  } catch {
    process.stderr.write(`haip: no status in ${stateDir}: is the daemon running? (systemctl status haip)\n`);
    return undefined;
  }
}

/** `haip which`: the flow's rule, policy and uplink from the running daemon's status.json. */
export function whichCommand(args: CliArgs, stateDir: string, out: NodeJS.WritableStream): number {
  const doc = readOrTell(stateDir);
  if (!doc) return EX_NOT_RUNNING;
  const r = whichReport(doc, args.flow ?? {});
  out.write(r.lines.join('\n') + '\n');
  const stale = staleness(doc, Date.now());
  if (stale) out.write(`STALE: ${stale}\n`);
  return r.ok ? (stale ? EX_STALE : 0) : 1;
}

export function statusReport(args: CliArgs, stateDir: string, out: NodeJS.WritableStream): number {
  const doc = readOrTell(stateDir);
  if (!doc) return EX_NOT_RUNNING;
  let running = true;
  try {
    process.kill(doc.pid, 0);
  } catch (err) {
    running = (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stale = running ? staleness(doc, Date.now()) : undefined;
  const code = !running ? EX_NOT_RUNNING : stale ? EX_STALE : 0;
  if (args.json) {
    out.write(JSON.stringify({ ...doc, running, stale: stale ?? null }, null, 2) + '\n');
    return code;
  }
  out.write(renderStatus(doc, Date.now()));
  out.write(versionLine(doc, VERSION));
  if (!running) out.write(`(haip is not running: pid ${doc.pid} is gone; this is its last status from ${neutralise(String(doc.updated))})\n`);
  if (stale) out.write(`STALE: ${stale}\n`);
  return code;
}
