// What one entry of `probe.targets` asks for: a bare address is an ICMP echo, `tcp://`, `http://` and
// `dns://` are a TCP connect, an HTTP GET and a DNS query. Parsed once here, for the schema's messages
// and for the probers; addresses only (no DNS lookups in the probe path), IPv6 in brackets.
import { isIPv4, isIPv6 } from 'node:net';

export type ProbeTarget =
  | { kind: 'icmp'; address: string }
  | { kind: 'tcp'; address: string; port: number }
  | { kind: 'http'; address: string; port: number; path: string; host?: string }
  | { kind: 'dns'; address: string; port: number; name: string };

export type ProbeKind = ProbeTarget['kind'];

/** What a target must look like, for error messages and docs. */
export const TARGET_FORMS = 'an IPv4 or IPv6 address, tcp://ADDR:PORT, http://ADDR[:PORT]/PATH [host=NAME] or dns://ADDR[:PORT]/NAME';

const DEFAULT_PORT = { http: 80, dns: 53 } as const;
/** RFC 1035 names as resolvers take them: labels of letters, digits, '-' and '_', 253 characters in all. */
const DNS_NAME = /^(?=.{1,253}\.?$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$/;
/** What an HTTP path may hold unescaped (RFC 3986 pchar, '/', '?'): nothing that could break the request line. */
const HTTP_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/;

/** Parses one target; `{error}` says what is wrong with it in words a config author can act on. */
export function parseTarget(text: string): ProbeTarget | { error: string } {
  if (typeof text !== 'string') return { error: `must be ${TARGET_FORMS}` };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(text);
  if (!scheme) {
    const addr = address(text);
    return 'error' in addr ? { error: `${addr.error}; a target is ${TARGET_FORMS}` } : { kind: 'icmp', address: addr.address };
  }
  const kind = scheme[1].toLowerCase();
  const rest = scheme[2];
  if (!rest.startsWith('[') && (rest.split(/[/ ]/)[0].match(/:/g)?.length ?? 0) > 1)
    return { error: `"${text}": an IPv6 address goes in brackets: ${kind}://[ADDR]:PORT` };
  if (kind === 'tcp') {
    const m = /^(\[[^\]]*\]|[^:/]*)(?::([^/]*))?$/.exec(rest);
    if (!m) return { error: `"${text}": a TCP target is tcp://ADDR:PORT, nothing after the port` };
    const addr = address(m[1], true);
    if ('error' in addr) return { error: `"${text}": ${addr.error}` };
    if (m[2] === undefined) return { error: `"${text}": a TCP target needs a port: tcp://${m[1]}:PORT` };
    const port = portNumber(m[2]);
    if (port === undefined) return { error: `"${text}": port "${m[2]}" must be a number from 1 to 65535` };
    return { kind: 'tcp', address: addr.address, port };
  }
  if (kind === 'http' || kind === 'dns') {
    let url = rest;
    let host: string | undefined;
    if (kind === 'http') {
      const h = /^(\S*) +host=(\S*)$/.exec(rest);
      if (h) {
        url = h[1];
        host = h[2];
        if (!DNS_NAME.test(host) && !isIPv4(host)) return { error: `"${text}": host=${host} must be a host name such as www.example.com` };
      } else if (/\s/.test(rest)) return { error: `"${text}": only " host=NAME" may follow the URL, after one space` };
    }
    const m = /^(\[[^\]]*\]|[^:/]*)(?::([^/]*))?(\/.*)?$/s.exec(url);
    if (!m) return { error: `"${text}": not ${kind}://ADDR[:PORT]/...` };
    const addr = address(m[1], true);
    if ('error' in addr) return { error: `"${text}": ${addr.error}` };
    const port = m[2] === undefined ? DEFAULT_PORT[kind] : portNumber(m[2]);
    if (port === undefined) return { error: `"${text}": port "${m[2]}" must be a number from 1 to 65535` };
    const tail = m[3] ?? '';
    if (kind === 'http') {
      const path = tail || '/';
      if (!HTTP_PATH.test(path)) return { error: `"${text}": the path may hold only URL characters (letters, digits, -._~!$&'()*+,;=:@%/?), no spaces or '#'` };
      return host ? { kind, address: addr.address, port, path, host } : { kind, address: addr.address, port, path };
    }
    const name = tail.slice(1);
    if (!name) return { error: `"${text}": a DNS target names what to ask for: dns://${m[1]}/www.example.com` };
    if (!DNS_NAME.test(name)) return { error: `"${text}": "${name}" is not a DNS name (labels of letters, digits, - and _, at most 63 characters each)` };
    return { kind, address: addr.address, port, name };
  }
  return { error: `"${text}": unknown probe kind "${kind}://"; a target is ${TARGET_FORMS}` };
}

/** Parses a target the schema has already accepted. */
export function targetOf(text: string): ProbeTarget {
  const t = parseTarget(text);
  if ('error' in t) throw new Error(`bad probe target: ${t.error}`);
  return t;
}

/** A bare address (ICMP, either family) or the ADDR of a URL (IPv6 in brackets). */
function address(text: string, inUrl = false): { address: string } | { error: string } {
  const bracketed = /^\[(.*)\]$/.exec(text);
  const a = bracketed ? bracketed[1] : text;
  if (isIPv6(a) && !a.includes('%')) {
    if (inUrl && bracketed) return { address: a };
    if (inUrl) return { error: `an IPv6 address goes in brackets: [${a}]` };
    return bracketed ? { error: `a bare address goes without brackets: ${a}` } : { address: a };
  }
  if (bracketed) return { error: `[${a}] is not an IPv6 address` };
  if (isIPv4(a)) return { address: a };
  if (a === '') return { error: 'the address is missing' };
  if (/^[0-9.]+$/.test(a)) return { error: `${a} is not an IPv4 address` };
  if (DNS_NAME.test(a) && /^[A-Za-z0-9]/.test(a)) return { error: `${a} is not an IP address (host names are not looked up: write the address)` };
  return { error: `${JSON.stringify(a)} is not an IP address` };
}

function portNumber(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}
