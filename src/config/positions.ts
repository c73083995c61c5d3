// Where a value sits in the YAML text, so every message can point at its line and column.
import { isMap, isPair, isScalar, LineCounter, Document } from 'yaml';

export type Segment = string | number;

/** Finds where a path lives in a YAML document, so messages can point at it. */
export type Locator = (path: Segment[], key?: string) => string;

export function yamlLocator(file: string, doc: Document, lines: LineCounter): Locator {
  return (path, key) => {
    let offset = 0;
    let node: unknown = path.length ? doc.getIn(path, true) : doc.contents;
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      if (pair && isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
    } else if (node && typeof node === 'object' && 'range' in node && Array.isArray((node as any).range)) {
      offset = (node as any).range[0];
    } else {
      // The node is missing: point at its nearest ancestor.
      for (let i = path.length - 1; i >= 0; i--) {
        const parent: any = i ? doc.getIn(path.slice(0, i), true) : doc.contents;
        if (parent?.range) {
          offset = parent.range[0];
          break;
        }
      }
    }
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
}
