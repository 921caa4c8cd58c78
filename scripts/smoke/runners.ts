import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { readZip } from '../dist/zip.ts';

/** How to run one artifact: the same bearer-proxy commands, natively or under Wine. */
export interface Runner {
  name: string;
  /** Starts `bearer-proxy <args>` with stdout and stderr going to `logFile` (under Wine a pipe gives EBADF). */
  start(args: string[], logFile: string, env?: Record<string, string>): ChildProcess;
  /** A path on this machine, as the program sees it. */
  path(local: string): string;
  /** Ends whatever the runner started. */
  close(): void;
}

export function nativeRunner(executable: string): Runner {
  return {
    name: 'linux-x64 single executable',
    start: (args, logFile, env = {}) => spawnLogged(executable, args, logFile, env),
    path: (local) => local,
    close: () => {},
  };
}

/**
 * The Windows zip, unzipped into a fresh directory, run by Debian's wine64 in a Wine prefix
 * of its own (Windows 10, as the gateway's supported hosts are).
 */
export function wineRunner(zip: string, folder: string, how: 'launcher' | 'node.exe'): Runner & { unpacked: string } {
  const wine = findWine();
  const base = mkdtempSync(join(tmpdir(), 'bearer-proxy-wine-'));
  const prefix = join(base, 'prefix');
  const unpacked = join(base, 'unzipped');
  for (const entry of readZip(readFileSync(zip))) {
    const target = join(unpacked, entry.name);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, entry.data);
  }
  const app = join(unpacked, folder);
  const shim = fileURLToPath(new URL('./wine-keepalive.cjs', import.meta.url));
  const winePath = (local: string) => `Z:${local.replaceAll('/', '\\')}`;
  const env = { WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', NODE_OPTIONS: `--require=${winePath(shim)}` };
  execFileSync(wine.wine, ['winecfg', '-v', 'win10'], { env: { ...process.env, ...env }, stdio: 'ignore' });
  return {
    name: how === 'launcher' ? 'win-x64 zip under Wine (bearer-proxy.cmd)' : 'win-x64 zip under Wine (node.exe bearer-proxy.cjs, as the service runs it)',
    unpacked: app,
    start: (args, logFile, extra = {}) =>
      how === 'launcher'
        ? spawnLogged(wine.wine, ['cmd', '/c', winePath(join(app, 'bearer-proxy.cmd')), ...args], logFile, { ...env, ...extra })
        : spawnLogged(wine.wine, [join(app, 'node.exe'), winePath(join(app, 'bearer-proxy.cjs')), ...args], logFile, { ...env, ...extra }),
    path: winePath,
    close: () => {
      // Stops every Windows process of this prefix (node.exe outlives the wine64 process that cmd ran in).
      try {
        execFileSync(wine.wineserver, ['-k'], { env: { ...process.env, ...env }, stdio: 'ignore' });
      } catch {
        // no wineserver running: nothing left to stop
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

function spawnLogged(file: string, args: string[], logFile: string, env: Record<string, string>): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    return spawn(file, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  } finally {
    closeSync(fd);
  }
}

/** Debian's wine64 package installs its loader outside PATH unless the `wine` package is there too. */
function findWine(): { wine: string; wineserver: string } {
  for (const dir of ['/usr/lib/wine', '/usr/bin', '/usr/local/bin']) {
    if (existsSync(join(dir, 'wine64'))) return { wine: join(dir, 'wine64'), wineserver: existsSync(join(dir, 'wineserver64')) ? join(dir, 'wineserver64') : join(dir, 'wineserver') };
  }
  throw new Error('wine64 not found: apt-get install wine64 (the smoke test runs the Windows zip under it)');
}

/** A shell script that records its pid before it becomes the program, so a test can signal the program itself. */
export function pidWrapper(dir: string): { script: string; pidFile: string } {
  const script = join(dir, 'run-with-pid.sh');
  const pidFile = join(dir, 'pid');
  writeFileSync(script, `#!/bin/sh\necho $$ > '${pidFile}'\nexec "$@"\n`);
  chmodSync(script, 0o755);
  return { script, pidFile };
}
