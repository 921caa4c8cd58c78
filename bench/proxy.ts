import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchIssuer } from './issuer.ts';
import { freePort, waitForOk, type Child, type ProcessGroup } from './processes.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO_ROOT, 'dist', 'cli.js');
const SECRET_ENV = 'BENCH_CLIENT_SECRET';

/** Route prefixes of the generated config; /api and /plain, and the two big-page routes, differ only in rewriteUrls. */
export const ROUTES = {
  api: '/api',
  plain: '/plain',
  rewriteOn: '/big-rw',
  rewriteOff: '/big-raw',
  stream: '/bin',
} as const;

/** The real build, so the bench measures what `npx bearer-proxy` runs, not the tsx loader. */
export async function build(): Promise<void> {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(npm, ['run', 'build', '--silent'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`npm run build failed (exit ${code})`);
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing after the build`);
}

/** The commit the build came from, marked when src/ has uncommitted edits, so a result can be traced to its code. */
export function sourceRevision(): string {
  const git = (...args: string[]): string | undefined => {
    const result = spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' });
    return result.status === 0 ? result.stdout.trim() : undefined;
  };
  const commit = git('rev-parse', '--short', 'HEAD');
  if (commit === undefined) return 'unknown revision (not a git checkout)';
  return git('status', '--porcelain', '--', 'src')?.length ? `${commit} + uncommitted changes in src/` : commit;
}

export interface ProxyConfig {
  dir: string;
  file: string;
  env: NodeJS.ProcessEnv;
}

/** Writes proxy.yaml into a fresh temp dir; the secret goes through the environment as users are told to do. */
export async function writeProxyConfig(issuer: BenchIssuer, upstreamPort: number): Promise<ProxyConfig> {
  const dir = await mkdtemp(join(tmpdir(), 'bearer-proxy-bench-'));
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  const yaml = [
    'tokens:',
    '  bench:',
    `    tokenUrl: ${issuer.tokenUrl}`,
    `    clientId: ${issuer.clientId}`,
    `    clientSecret: \${${SECRET_ENV}}`,
    '    allowInsecure: true',
    'routes:',
    `  ${ROUTES.api}:`,
    `    target: ${upstream}/api`,
    '    token: bench',
    `  ${ROUTES.plain}:`,
    `    target: ${upstream}/api`,
    '    token: bench',
    '    rewriteUrls: false',
    `  ${ROUTES.rewriteOn}:`,
    `    target: ${upstream}/odata`,
    '    token: bench',
    '    rewriteUrls: true',
    `  ${ROUTES.rewriteOff}:`,
    `    target: ${upstream}/odata`,
    '    token: bench',
    '    rewriteUrls: false',
    `  ${ROUTES.stream}:`,
    `    target: ${upstream}`,
    '    token: bench',
    '',
  ].join('\n');
  const file = join(dir, 'proxy.yaml');
  await writeFile(file, yaml);
  return { dir, file, env: { ...process.env, [SECRET_ENV]: issuer.clientSecret } };
}

export interface RunningProxy {
  child: Child;
  url: string;
  /** Spawn until /healthz first answered 200. */
  startupMs: number;
}

export interface StartProxyOptions {
  logLevel: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
}

export async function startBearerProxy(group: ProcessGroup, config: ProxyConfig, options: StartProxyOptions): Promise<RunningProxy> {
  const port = await freePort();
  const started = performance.now();
  const child = group.spawn('bearer-proxy', process.execPath, {
    args: [...(options.nodeArgs ?? []), CLI, 'serve', '-c', config.file, '--port', String(port), '--log-level', options.logLevel],
    env: config.env,
    cwd: config.dir,
    // One JSON access line per request: 'ignore' sends it to /dev/null, the cheapest sink the CLI can have.
    stdout: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(`${url}/healthz`, child);
  return { child, url, startupMs: performance.now() - started };
}
