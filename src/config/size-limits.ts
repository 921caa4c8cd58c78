import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isCollection, isPair, isScalar, isSeq, visit, type Document, type LineCounter } from 'yaml';
import { decodeText } from './encoding.ts';
import type { KeyPath } from './positions.ts';

/**
 * The largest config file that is read. A real config is a few KB; 1,000 routes and 1,000
 * token sources fit in 150 KB. Parsing is linear but not fast: this keeps a load (and a
 * reload, which runs on the thread that serves requests) well under a second.
 */
export const MAX_CONFIG_BYTES = 256 * 1024;

/** The largest file a config names (${file:}, a PEM path): a CA bundle can be a few hundred KB. */
export const MAX_REFERENCED_FILE_BYTES = 1024 * 1024;

/**
 * The most entries in one mapping or list (routes, tokens, users, headers, params). Config
 * loading is linear in the rest, so this bounds how long a load takes, and a reload runs
 * on the thread that serves requests.
 */
export const MAX_ENTRIES = 1000;

export interface SizeProblem {
  path: KeyPath;
  line: number;
  column: number;
  message: string;
}

/**
 * Reads a file as UTF-8, refusing one over the limit without reading it all (a device such
 * as /dev/zero never ends), and one in another encoding (EENCODING, with what it is).
 */
export function readBoundedFile(path: string, limit: number): string {
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.size > limit) throw tooLarge(path, limit);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, limit + 1 - total));
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      total += read;
      if (total > limit) throw tooLarge(path, limit);
      chunks.push(chunk.subarray(0, read));
    }
    return decodeText(Buffer.concat(chunks), path);
  } finally {
    closeSync(fd);
  }
}

function tooLarge(path: string, limit: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`${path} is larger than ${limit / 1024} KiB`), { code: 'EFBIG', limit });
}

export function textTooLarge(text: string, limit = MAX_CONFIG_BYTES): string | undefined {
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > limit ? `the config is ${Math.ceil(bytes / 1024)} KiB; at most ${limit / 1024} KiB is read (a real config is a few KB; put certificates in files: ca: ./bundle.pem)` : undefined;
}

/**
 * In one pass over the parsed document: mappings and lists with more than MAX_ENTRIES
 * entries, and duplicate keys. The YAML parser can find duplicates itself, but compares
 * each key with every key before it: a mapping of 50,000 keys took minutes.
 */
export function structureProblems(doc: Document, lines: LineCounter): SizeProblem[] {
  const problems: SizeProblem[] = [];
  const at = (offset: number | undefined) => {
    const { line, col } = lines.linePos(offset ?? 0);
    return { line, column: col };
  };
  visit(doc, {
    Map(_key, map, ancestors) {
      if (map.items.length > MAX_ENTRIES) problems.push({ path: keyPathOf(ancestors, map), ...at(map.range?.[0]), message: tooMany(map.items.length) });
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const identity = `${typeof pair.key.value}:${String(pair.key.value)}`;
        if (seen.has(identity)) problems.push({ path: [], ...at(pair.key.range?.[0]), message: 'YAML syntax: Map keys must be unique' });
        seen.add(identity);
        // Set on an object, this key replaces its prototype instead: a token source or header of that name would vanish, and check say OK.
        if (pair.key.value === '__proto__')
          problems.push({ path: [...keyPathOf(ancestors, map), '__proto__'], ...at(pair.key.range?.[0]), message: '"__proto__" cannot be a name here: choose another' });
      }
      // Past the limit, the entries are not looked into: the file is refused anyway.
      return map.items.length > MAX_ENTRIES ? visit.SKIP : undefined;
    },
    Seq(_key, seq, ancestors) {
      if (seq.items.length > MAX_ENTRIES) {
        problems.push({ path: keyPathOf(ancestors, seq), ...at(seq.range?.[0]), message: tooMany(seq.items.length) });
        return visit.SKIP;
      }
      return undefined;
    },
  });
  return problems;
}

function tooMany(count: number): string {
  return `${count} entries; at most ${MAX_ENTRIES} are allowed in one mapping or list (a config this large is slow to load, and a reload holds up requests meanwhile)`;
}

/** The key path of a node from visit's ancestors (document, collections and pairs, outermost first). */
function keyPathOf(ancestors: readonly unknown[], node: unknown): KeyPath {
  const path: Array<string | number> = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isPair(parent) && isScalar(parent.key)) path.push(String(parent.key.value));
    else if (isSeq(parent) && isCollection(child)) path.push(parent.items.indexOf(child));
  }
  return path;
}
