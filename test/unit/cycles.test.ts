// No import cycles in src/: a cycle means two modules each need the other, so neither has one job, and
// module load order starts to matter. Type-only imports count too: they tie the modules' meaning.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(__dirname, '../../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Each file's relative imports (`from './x'`, `import './x'`), as files. */
export function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const targets = [...text.matchAll(/(?:from|import)\s+'(\.{1,2}\/[^']+)'/g)].map((m) => {
      const base = resolve(dirname(f), m[1]);
      return files.find((c) => c === `${base}.ts` || c === join(base, 'index.ts')) ?? `${base}.ts`;
    });
    graph.set(f, [...new Set(targets)]);
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as the files around it. */
export function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const walk = (f: string, path: string[]) => {
    const at = path.indexOf(f);
    if (at >= 0) return void found.push([...path.slice(at), f]);
    if (done.has(f)) return;
    for (const t of graph.get(f) ?? []) walk(t, [...path, f]);
    done.add(f);
  };
  for (const f of graph.keys()) walk(f, []);
  return found;
}

test('the cycle finder finds a cycle of two and one of three', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['a']],
    ['c', ['d']],
    ['d', ['e']],
    ['e', ['c']],
    ['f', ['a']],
  ]);
  assert.deepEqual(cycles(g).map((c) => c.join('>')), ['a>b>a', 'c>d>e>c']);
});

test('src/ has no import cycles', () => {
  const files = sources(ROOT);
  assert.ok(files.length > 30, `found the sources in ${ROOT}`);
  const found = cycles(importGraph(files)).map((c) => c.map((f) => relative(ROOT, f)).join(' -> '));
  assert.deepEqual(found, []);
});
