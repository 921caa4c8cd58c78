import { isAbsolute } from 'node:path';
import { isMap, isScalar, type Document, type Scalar } from 'yaml';
import { readReferencedFile, type InterpolationContext, type InterpolationProblem } from './interpolate.ts';
import type { KeyPath } from './positions.ts';
import { PEM_KEYS } from './schema.ts';

export interface PemFileContext extends Pick<InterpolationContext, 'readFile'> {
  /** Where relative paths start (readFile resolves them); named in messages only. */
  baseDir: string;
  /** Keys whose ${…} reference failed: their value is no path, and is reported already. */
  skip: ReadonlySet<string>;
}

/**
 * A PEM key (PEM_KEYS) whose value has no "-----BEGIN" names a PEM file: the file's text
 * replaces the path in the document, in place as ${file:} does, so the schema checks it
 * as PEM and the rest of the program sees PEM text only. Runs after interpolation, so
 * ${CERT_PATH} may name the file. Files are read on every load (a reload picks up a
 * renewed certificate). Keys read from a file join `referenced`: no plain-text secret.
 * Messages name the path as written, never the file's text.
 */
export function readPemFiles(doc: Document, context: PemFileContext, referenced: Set<string>): InterpolationProblem[] {
  const problems: InterpolationProblem[] = [];
  for (const { path, node } of PEM_KEYS.flatMap((pattern) => scalarsAt(doc.contents, pattern, []))) {
    const value = node.value;
    if (typeof value !== 'string' || value === '' || value.includes('-----BEGIN') || context.skip.has(JSON.stringify(path))) continue;
    // A line break is no path but PEM text that lost its BEGIN line: the schema says so.
    if (/[\r\n]/.test(value)) continue;
    const read = readReferencedFile(context, value);
    if ('reason' in read) {
      problems.push({ path, message: unreadableMessage(value, read.reason, context.baseDir) });
    } else if (read.text.trim() === '') {
      // Say so, rather than "too small": a renewal may be caught halfway through writing the file.
      problems.push({ path, message: `PEM file "${value}" is empty` });
    } else {
      node.value = read.text;
      referenced.add(JSON.stringify(path));
    }
  }
  return problems;
}

function unreadableMessage(value: string, reason: string, baseDir: string): string {
  // Key material pasted without its BEGIN line (base64, base64url, a JWK's JSON) is no path: never repeat it.
  if (!readsAsPath(value)) return `not PEM text (no -----BEGIN line) and not a readable file path either (${reason})`;
  const where = isAbsolute(value) ? '' : ` relative to ${baseDir}`;
  return `cannot read PEM file "${value}"${where} (${reason}); a value without -----BEGIN is read as a file path`;
}

/**
 * A value that may be quoted back as the path it was meant to be. JSON (a JWK) has braces
 * and quotes no path needs; 40 or more characters of the base64 or base64url alphabets
 * with no dot or backslash are key bytes, as a file name has an extension or a directory.
 */
function readsAsPath(value: string): boolean {
  return value.length <= 1024 && !/[{}"]/.test(value) && !/^[A-Za-z0-9+/=_-]{40,}$/.test(value);
}

/** The scalar values at a key path in the document; `*` stands for every key of a map. */
function scalarsAt(node: unknown, pattern: KeyPath, path: KeyPath): Array<{ path: KeyPath; node: Scalar }> {
  if (pattern.length === 0) return isScalar(node) ? [{ path, node }] : [];
  if (!isMap(node)) return [];
  const [segment, ...rest] = pattern;
  return node.items.flatMap((pair) => {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    return segment === '*' || key === segment ? scalarsAt(pair.value, rest, [...path, key]) : [];
  });
}
