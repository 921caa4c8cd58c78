import { unwatchFile, watchFile } from 'node:fs';
import { ConfigError, formatProblem, type LoadedConfig } from '../config/load.ts';
import type { Logger } from '../log/logger.ts';
import type { ProxyServer } from '../proxy/server.ts';

/**
 * Calls onChange once a file has stopped changing for debounceMs. Polls the file's stat
 * rather than using inotify: editors that save by rename and Kubernetes ConfigMaps that
 * swap a symlink both replace the file, which an inotify watch on the old inode misses.
 */
export function watchConfigFile(path: string, onChange: () => void, options: { intervalMs?: number; debounceMs?: number } = {}): () => void {
  let timer: NodeJS.Timeout | undefined;
  const listener = (current: { mtimeMs: number; ino: number; size: number }, previous: { mtimeMs: number; ino: number; size: number }) => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, options.debounceMs ?? 300);
  };
  watchFile(path, { interval: options.intervalMs ?? 1_000, persistent: false }, listener);
  return () => {
    clearTimeout(timer);
    unwatchFile(path, listener);
  };
}

/**
 * Loads the file again and, when it is valid, swaps it in; when it is not, the running
 * config keeps serving and every problem is logged. Either way the outcome is logged and counted.
 */
export function reloadInto(proxy: ProxyServer, load: () => LoadedConfig, logger: Logger, reason: string): boolean {
  let loaded: LoadedConfig;
  try {
    loaded = load();
  } catch (error) {
    proxy.metrics.configReloaded('failed');
    const problems = error instanceof ConfigError ? error.problems.map((problem) => formatProblem(error.source, problem)) : [(error as Error).message];
    logger.error({ reason, problems }, `config reload failed (${problems.length} problem${problems.length === 1 ? '' : 's'}); the previous config keeps serving`);
    proxy.reloadAttempted({ reason, problems });
    return false;
  }
  const change = proxy.reload(loaded.config);
  for (const { key, configured, running } of change.needsRestart) {
    const what = key === 'listen' ? 'listen.host/port changed: that takes a restart; still listening where it was' : 'admin listener changed: that takes a restart; keeping the running one';
    logger.warn({ configured, running }, what);
  }
  proxy.metrics.configReloaded('ok');
  proxy.reloadAttempted({ reason, problems: [] });
  for (const warning of loaded.warnings) logger.warn(warning);
  logger.info({ reason, routes: proxy.routes.prefixes, keptTokenSources: change.keptSources, newTokenSources: change.newSources }, 'config reloaded');
  return true;
}
