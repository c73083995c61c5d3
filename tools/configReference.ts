// docs/configuration.md, generated from the JSON Schema so the reference and the validator cannot drift
// apart (`make docs` writes it; a unit test fails when the committed file is stale).
import { configSchema } from '../src/config/schema';

type Node = { [k: string]: any };

function typeOf(s: Node): string {
  if (s.expects) return s.expects;
  if (s.enum) return `one of ${s.enum.map((v: string) => `\`${v}\``).join(', ')}`;
  if (s.type === 'array') return `list of ${typeOf(s.items ?? {})}`;
  if (s.type === 'object') return s.additionalProperties && typeof s.additionalProperties === 'object' ? `map of name to ${typeOf(s.additionalProperties)}` : 'mapping';
  if (s.type === 'integer') {
    const range = s.minimum !== undefined && s.maximum !== undefined ? ` ${s.minimum}-${s.maximum}` : s.minimum !== undefined ? ` >= ${s.minimum}` : '';
    return `integer${range}`;
  }
  if (s.type === 'string' && s.pattern === '^/') return 'absolute path';
  return s.type ?? 'value';
}

function rows(props: Node, required: string[], prefix: string): string[] {
  const out: string[] = [];
  for (const [key, s] of Object.entries<Node>(props)) {
    const name = `${prefix}${key}`;
    const req = required.includes(key) ? ' (required)' : '';
    out.push(`| \`${name}\`${req} | ${typeOf(s)} | ${(s.description ?? '').replace(/\|/g, '\\|')} |`);
    const inner = s.type === 'array' ? s.items : s;
    if (inner?.type === 'object' && inner.properties && key !== 'probe') out.push(...rows(inner.properties, inner.required ?? [], `${name}${s.type === 'array' ? '[].' : '.'}`));
  }
  return out;
}

export function configReference(): string {
  const s = configSchema as Node;
  const head = ['| key | value | meaning |', '| --- | --- | --- |'];
  return [
    '# haip.yaml reference',
    '',
    '<!-- Generated from src/config/schema.ts by `make docs`; edit the schema, not this file. -->',
    '',
    'Unknown keys are errors. Durations are `500ms`, `2s`, `1m` or a number of seconds. Every problem in',
    'a file is reported at once as `FILE:LINE:COL: field.path: message`, and nothing is applied.',
    '',
    '## Top level',
    '',
    ...head,
    ...rows(s.properties, s.required ?? [], ''),
    '',
    '## probe',
    '',
    'At the top level: the defaults for every link. Inside a link: overrides of any of them.',
    '',
    ...head,
    ...rows(s.properties.probe.properties, [], 'probe.'),
    '',
  ].join('\n');
}
