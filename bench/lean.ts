/**
 * Comparators and the autocannon load generator run as plain JavaScript, not through the
 * tsx loader: on Node 20 the loader's hooks run in an extra thread with its own V8 heap,
 * which would add to a comparator's RSS and start-up and make it look worse than it is
 * next to bearer-proxy's compiled dist/. Each such file imports packages and node: modules
 * only, so one transpiled file is the whole program.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from './proxy.ts';

/** Inside node_modules so that the transpiled file resolves the repo's packages. */
const OUT_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'bearer-proxy-bench');

/** Transpiles bench/<name>.ts to a .mjs file and returns its path. */
export function leanScript(name: string): string {
  const source = readFileSync(join(REPO_ROOT, 'bench', `${name}.ts`), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    fileName: `${name}.ts`,
  });
  if (/^import\s(?!type\b)[^;]*from\s+'\.\.?\//m.test(outputText)) throw new Error(`bench/${name}.ts imports a relative module: it cannot run as one transpiled file`);
  mkdirSync(OUT_DIR, { recursive: true });
  const file = join(OUT_DIR, `${name}.mjs`);
  writeFileSync(file, outputText);
  return file;
}
