import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchIssuer } from './issuer.ts';
import { freePort, waitForOk, type Child, type ProcessGroup } from './processes.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLI = join(REPO_ROOT, 'dist', 'cli.js');
const SECRET_ENV = 'BENCH_CLIENT_SECRET';

/**
 * Route prefixes of the generated config; /api and /plain, and the two big-page routes,
 * differ only in rewriteUrls; /lean is /plain with forwardedHeaders off as well.
 */
export const ROUTES = {
  api: '/api',
  plain: '/plain',
  lean: '/lean',
  rewriteOn: '/big-rw',
  rewriteOff: '/big-raw',
  stream: '/bin',
} as const;

/** The small page through a route (the comparators forward /api/small as it is, to the same file). */
export function smallPath(route: string = ROUTES.api): string {
  return `${route}/small`;
}

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

/** True when dist/cli.js is missing or older than a file in src/: a bench of a stale build measures the wrong code. */
export function buildIsStale(): boolean {
  if (!existsSync(CLI)) return true;
  const built = statSync(CLI).mtimeMs;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((entry) => (entry.isDirectory() ? newer(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs > built));
  return newer(join(REPO_ROOT, 'src')) || statSync(join(REPO_ROOT, 'package.json')).mtimeMs > built;
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

/** Whether a build's CLI knows `serve --workers N` (the multi-core mode of issue 19). */
export function supportsWorkers(cli: string): boolean {
  const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
  return /--workers\b/.test(`${help.stdout}${help.stderr}`);
}

/** The commit a CLI's tree is at (with a mark when its src/ has uncommitted edits), so a result can be traced to its code. */
export function revisionOf(cli: string): string {
  const dir = join(cli, '..');
  const git = (...args: string[]): string | undefined => {
    const result = spawnSync('git', args, { cwd: dir, encoding: 'utf8' });
    return result.status === 0 ? result.stdout.trim() : undefined;
  };
  const commit = git('rev-parse', '--short', 'HEAD');
  if (commit === undefined) return 'unknown revision';
  return git('status', '--porcelain', '--', ':/src')?.length ? `${commit}+dirty` : commit;
}

export interface ProxyConfig {
  dir: string;
  file: string;
  env: NodeJS.ProcessEnv;
  /** Set when it listens beyond loopback with anonymous access (needs --allow-anonymous-remote): that one address. */
  remoteHost?: string;
}

export interface ConfigOptions {
  /** Origin for /api and /plain (small answers): nginx when installed, else the Node upstream. */
  smallUpstream: string;
  /** Origin for the big page and the stream: always the Node upstream. */
  upstream: string;
  /** A listener beyond loopback for remote-caller scenarios: anonymous access, as --allow-anonymous-remote permits. */
  remoteHost?: string;
  name?: string;
}

/** Writes a proxy.yaml into `dir`; the secret goes through the environment as users are told to do. */
export async function writeProxyConfig(issuer: BenchIssuer, dir: string, options: ConfigOptions): Promise<ProxyConfig> {
  const route = (prefix: string, target: string, rewriteUrls?: boolean, forwardedHeaders?: boolean): string[] => [
    `  ${prefix}:`,
    `    target: ${target}`,
    '    token: bench',
    ...(rewriteUrls === undefined ? [] : [`    rewriteUrls: ${rewriteUrls}`]),
    ...(forwardedHeaders === undefined ? [] : [`    forwardedHeaders: ${forwardedHeaders}`]),
  ];
  const yaml = [
    ...(options.remoteHost ? ['listen:', `  host: ${options.remoteHost}`, 'inbound:', '  anonymous: any'] : []),
    'tokens:',
    '  bench:',
    `    tokenUrl: ${issuer.tokenUrl}`,
    `    clientId: ${issuer.clientId}`,
    `    clientSecret: \${${SECRET_ENV}}`,
    '    allowInsecure: true',
    'routes:',
    ...route(ROUTES.api, `${options.smallUpstream}/api`),
    ...route(ROUTES.plain, `${options.smallUpstream}/api`, false),
    ...route(ROUTES.lean, `${options.smallUpstream}/api`, false, false),
    ...route(ROUTES.rewriteOn, `${options.upstream}/odata`, true),
    ...route(ROUTES.rewriteOff, `${options.upstream}/odata`, false),
    ...route(ROUTES.stream, options.upstream),
    '',
  ].join('\n');
  const file = join(dir, `${options.name ?? 'proxy'}.yaml`);
  await writeFile(file, yaml);
  return { dir, file, env: { ...process.env, [SECRET_ENV]: issuer.clientSecret }, ...(options.remoteHost ? { remoteHost: options.remoteHost } : {}) };
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
  /** dist/cli.js of the build to run; this tree's by default. */
  cli?: string;
  /** taskset CPU list; unset: the runner's affinity. */
  cpus?: string;
  /** `serve --workers N`, for builds that have it. */
  workers?: number;
}

export async function startBearerProxy(group: ProcessGroup, config: ProxyConfig, options: StartProxyOptions): Promise<RunningProxy> {
  const port = await freePort();
  const started = performance.now();
  const args = [...(options.nodeArgs ?? []), options.cli ?? CLI, 'serve', '-c', config.file, '--port', String(port), '--log-level', options.logLevel];
  if (options.workers !== undefined) args.push('--workers', String(options.workers));
  if (config.remoteHost) args.push('--allow-anonymous-remote');
  const child = group.spawn('bearer-proxy', process.execPath, {
    args,
    env: config.env,
    cwd: config.dir,
    // One JSON access line per request: 'ignore' sends it to /dev/null, the cheapest sink the CLI can have.
    stdout: 'ignore',
    ...(options.cpus === undefined ? {} : { cpus: options.cpus }),
  });
  // localhost listens on 127.0.0.1 (and ::1); a remote config on its one address.
  const url = `http://${config.remoteHost ?? '127.0.0.1'}:${port}`;
  await waitForOk(`${url}/healthz`, child);
  return { child, url, startupMs: performance.now() - started };
}
