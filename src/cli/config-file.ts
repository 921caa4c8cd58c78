import { resolve } from 'node:path';
import { loadConfigFile, type LoadedConfig } from '../config/load.ts';
import type { CliIo } from './io.ts';

/** -c/--config, else BEARER_PROXY_CONFIG, else ./proxy.yaml. */
export function configPath(io: CliIo, flag: string | undefined): string {
  return resolve(io.cwd, flag ?? io.env.BEARER_PROXY_CONFIG ?? 'proxy.yaml');
}

export function loadFromCli(io: CliIo, flag: string | undefined): LoadedConfig {
  return loadConfigFile(configPath(io, flag), { env: io.env });
}
