import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export type KeyPath = readonly (string | number)[];

export interface Position {
  line: number;
  column: number;
}

/**
 * Where a key path sits in the YAML source. With `at: 'key'` the position is the last
 * key itself (for an unknown key); otherwise its value. A path that does not exist in the
 * file (a missing required key) resolves to the deepest part that does.
 */
export function positionOf(doc: Document, lines: LineCounter, path: KeyPath, at: 'key' | 'value' = 'value'): Position | undefined {
  let node: unknown = doc.contents;
  let located: Node | undefined = isNode(node) ? node : undefined;
  for (const [index, segment] of path.entries()) {
    const isLast = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      if (isLast && at === 'key' && isNode(pair.key)) {
        located = pair.key;
        break;
      }
      node = pair.value;
      located = isNode(node) ? node : isNode(pair.key) ? pair.key : located;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (!isNode(node)) break;
      located = node;
    } else {
      break;
    }
  }
  const offset = located?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/** `routes["/sales"].target`, `inbound.users[0].name`: how a key path reads in a message. */
export function formatKeyPath(path: KeyPath): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) text += text ? `.${segment}` : segment;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text || '(top level)';
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value;
}
