import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, loadConfigFile, type LoadedConfig } from '../config/load.ts';
import { IDPS } from './flags.ts';
import { shellWord, type CliIo } from './io.ts';

/** -c/--config, else BEARER_PROXY_CONFIG (an empty one counts as unset, as LOG_LEVEL does), else ./proxy.yaml. */
export function configPath(io: CliIo, flag: string | undefined): string {
  return resolve(io.cwd, flag ?? (io.env.BEARER_PROXY_CONFIG || 'proxy.yaml'));
}

export function loadFromCli(io: CliIo, flag: string | undefined): LoadedConfig {
  const path = configPath(io, flag);
  // A first run has no file yet: say how to get one (the loader itself knows nothing of commands).
  if (!existsSync(path)) {
    const init = flag === undefined ? 'bearer-proxy init' : `bearer-proxy init -c ${shellWord(flag)}`;
    throw new ConfigError(path, [{ path: [], message: `cannot read the config file (file not found); to start one: ${init} (--idp ${IDPS.join(', ')})` }]);
  }
  return loadConfigFile(path, { env: io.env });
}
