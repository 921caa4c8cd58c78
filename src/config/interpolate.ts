import { isMap, isScalar, isSeq, type Document } from 'yaml';
import type { KeyPath } from './positions.ts';

export interface InterpolationContext {
  env: Readonly<Record<string, string | undefined>>;
  /** Reads a file named by ${file:PATH}; relative paths are resolved by the caller. */
  readFile(path: string): string;
}

export interface InterpolationProblem {
  path: KeyPath;
  message: string;
}

/**
 * Replaces ${NAME} (environment) and ${file:PATH} (file contents, trailing newline
 * dropped) in every string value of the document, in place, so positions stay with their
 * nodes. `$${` is a literal `${`. Returns the problems and the paths that were
 * interpolated (a secret that came from a reference is not a plain-text secret).
 */
export function interpolateDocument(doc: Document, context: InterpolationContext): { problems: InterpolationProblem[]; referenced: Set<string> } {
  const problems: InterpolationProblem[] = [];
  const referenced = new Set<string>();
  const visit = (node: unknown, path: KeyPath): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        visit(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...path, index]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      const { value, errors, references } = interpolateString(node.value, context);
      for (const message of errors) problems.push({ path, message });
      if (errors.length === 0) {
        node.value = value;
        // Only `$${` escapes or an unclosed `${`: still text written in the file.
        if (references > 0) referenced.add(JSON.stringify(path));
      }
    }
  };
  visit(doc.contents, []);
  return { problems, referenced };
}

export function interpolateString(text: string, context: InterpolationContext): { value: string; errors: string[]; references: number } {
  const errors: string[] = [];
  let references = 0;
  const value = text.replace(/\$?\$\{([^}]*)\}/g, (match, reference: string) => {
    if (match.startsWith('$$')) return match.slice(1);
    references++;
    if (reference.startsWith('file:')) {
      const file = reference.slice('file:'.length);
      const read = readReferencedFile(context, file);
      if ('reason' in read) {
        errors.push(`cannot read file "${file}" named by \${file:${file}} (${read.reason})`);
        return '';
      }
      return read.text;
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(reference)) {
      errors.push(`"\${${reference}}" is not a valid reference: use \${ENV_NAME} or \${file:/path/to/secret}`);
      return '';
    }
    const found = context.env[reference];
    if (found === undefined || found === '') {
      errors.push(`environment variable ${reference} is ${found === undefined ? 'not set' : 'empty'}`);
      return '';
    }
    return found;
  });
  return { value, errors, references };
}

/**
 * A file the config names, read as ${file:PATH} reads it: its text with one trailing
 * newline dropped, or the OS reason (ENOENT, EACCES…) it cannot be read. Never cached.
 */
export function readReferencedFile(context: Pick<InterpolationContext, 'readFile'>, path: string): { text: string } | { reason: string } {
  try {
    return { text: context.readFile(path).replace(/\r?\n$/, '') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EENCODING') return { reason: (error as Error).message };
    return { reason: code === 'EFBIG' ? `larger than ${(error as { limit: number }).limit / 1024} KiB` : (code ?? 'unreadable') };
  }
}
