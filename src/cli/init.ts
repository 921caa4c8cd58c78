import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configPath } from './config-file.ts';
import type { Idp } from './flags.ts';
import { print, shellWord, UsageError, type CliIo } from './io.ts';
import { starterConfig } from './starter-config.ts';

export interface InitOptions {
  config?: string;
  idp?: Idp;
  force?: boolean;
}

const SCHEMA_FILE = 'proxy.schema.json';

/** Writes a starter proxy.yaml; never over an existing file unless --force. */
export async function init(io: CliIo, options: InitOptions): Promise<number> {
  // The name is written into the file's comments, where a line break would start live YAML.
  if (options.config !== undefined && /[\r\n]/.test(options.config)) throw new UsageError('a config file name cannot contain a line break');
  const path = configPath(io, options.config);
  const idp = options.idp ?? 'generic';
  // The commands printed and written into the file name the file only when it is not the default one.
  const configArg = options.config === undefined ? '' : ` -c ${shellWord(options.config)}`;
  const schemaRef = schemaReference(dirname(path));
  const starter = starterConfig(idp, { schemaRef, configArg });
  try {
    writeFileSync(path, starter.text, { flag: options.force ? 'w' : 'wx', mode: 0o644 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${path} already exists; not overwriting it (pass --force to replace it, or -c to write another file)`, 1);
    if (code === 'ENOENT') throw new UsageError(`cannot write ${path}: the directory ${dirname(path)} does not exist`, 1);
    throw new UsageError(`cannot write ${path}: ${(error as Error).message}`, 1);
  }

  const out = io.stdout;
  print(out, `wrote ${path} (${starter.idpName})`);
  print(out);
  print(out, 'Next:');
  print(out, '  1. Fill in the lines marked "edit:" (the IdP\'s endpoint, the scope or audience, the API\'s URL).');
  print(out, `  2. Set ${starter.variables.join(', ')} in the environment (secrets never go in the file).`);
  print(out, `  3. bearer-proxy check${configArg} --fetch-tokens`);
  print(out, `  4. bearer-proxy${configArg}`);
  if (!existsSync(join(dirname(path), schemaRef))) {
    print(out);
    print(out, `Editors with the YAML language server check the file as you type once ${schemaRef} exists: bearer-proxy schema > ${shellWord(join(dirname(path), SCHEMA_FILE))}`);
  }
  return 0;
}

/**
 * What the file's `# yaml-language-server: $schema=` line points at. A proxy.schema.json
 * beside the config wins (the user made it, or keeps it in the repository with the config);
 * else the copy shipped with this package, as a path relative to the config file (the
 * language server reads relative paths on every platform); else ./proxy.schema.json all
 * the same, which `bearer-proxy schema > proxy.schema.json` creates.
 */
export function schemaReference(configDir: string, packageSchema = fileURLToPath(new URL(`../../${SCHEMA_FILE}`, import.meta.url))): string {
  if (existsSync(join(configDir, SCHEMA_FILE)) || !existsSync(packageSchema)) return `./${SCHEMA_FILE}`;
  const path = relative(configDir, packageSchema).split(sep).join('/');
  // On another Windows drive there is no relative path; the absolute one is all there is.
  return path.startsWith('.') || /^[A-Za-z]:/.test(path) || path.startsWith('/') ? path : `./${path}`;
}
