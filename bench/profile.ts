/**
 * CPU profile of the real CLI under load: `node --cpu-prof dist/cli.js serve`, one load
 * scenario, SIGTERM (the CLI exits 0 and V8 writes the profile), then the functions with
 * the most self time, mapped back to src/*.ts through the build's source maps when it has them.
 *
 *   npx tsx bench/profile.ts [--scenario small|rewrite|stream] [--system bearer-proxy|undici] [--duration 8] [--out prof.cpuprofile]
 *   npm run bench -- --profile [--scenario …]
 *
 * --system undici profiles the bare undici forwarder (bench/undici-forwarder.ts) the same
 * way, so the two profiles compare row by row in µs per request.
 */
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startUndiciForwarder } from './comparators.ts';
import { prepare, type Environment } from './environment.ts';
import { downloadRepeatedly, runLoad } from './load.ts';
import { log, ProcessGroup, stopChildrenOnExit, type Child } from './processes.ts';
import { REPO_ROOT, ROUTES, startBearerProxy } from './proxy.ts';

export type ProfileScenario = 'small' | 'rewrite' | 'stream';

/** bearer-proxy (the CLI), or the bare undici forwarder it is measured against, profiled the same way. */
export type ProfiledSystem = 'bearer-proxy' | 'undici';

export interface ProfileOptions {
  scenario: ProfileScenario;
  /** Which process is profiled; bearer-proxy unless said. */
  system?: ProfiledSystem;
  durationSec: number;
  logLevel: string;
  top?: number;
  /** Copy the raw .cpuprofile here (it opens in Chrome DevTools' Performance panel). */
  keep?: string;
}

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame; hitCount?: number; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  /** file:line, in src/ when a source map says so. */
  location: string;
  selfMs: number;
  share: number;
  /**
   * For Node-core and native frames (writev, Buffer conversions, errors): the nearest
   * caller in our code or a package, which is where the cost is actually decided.
   */
  calledFrom?: string;
}

export async function profile(group: ProcessGroup, options: ProfileOptions): Promise<void> {
  const system = options.system ?? 'bearer-proxy';
  if (system === 'undici' && options.scenario === 'rewrite') throw new Error('--system undici: the forwarder rewrites nothing; profile it with --scenario small or stream');
  const env = await prepare(group);
  const profileDir = await mkdtemp(join(tmpdir(), 'bearer-proxy-cpuprof-'));
  const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  try {
    const profiled = await startProfiled(group, env, options, system, nodeArgs);
    const { child } = profiled;
    log(`profiling ${system} (pid ${child.pid}) under "${options.scenario}" for ${options.durationSec} s`);
    let requests: number | undefined;
    switch (options.scenario) {
      case 'small':
        requests = (await runLoad({ url: profiled.url(ROUTES.api, '/small'), connections: 50, durationSec: options.durationSec })).requests;
        break;
      case 'rewrite':
        await downloadRepeatedly(profiled.url(ROUTES.rewriteOn, '/Big'), options.durationSec, 3);
        break;
      case 'stream':
        await downloadRepeatedly(profiled.url(ROUTES.stream, `/stream?bytes=${1024 ** 3}`), options.durationSec, 1);
        break;
    }
    const code = await group.stop(child, 15_000);
    if (code !== 0) throw new Error(`${system} exited with ${code} on SIGTERM, not 0. stderr:\n${child.stderrTail()}`);
    const file = (await readdir(profileDir)).find((name) => name.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile was written to ${profileDir}`);
    if (options.keep) await copyFile(join(profileDir, file), options.keep);
    const parsed = JSON.parse(await readFile(join(profileDir, file), 'utf8')) as CpuProfile;
    process.stdout.write(formatProfile(parsed, { ...options, system }, requests));
  } finally {
    await env.close();
    await rm(profileDir, { recursive: true, force: true });
  }
}

interface Profiled {
  child: Child;
  /** The URL of an upstream path as this system is asked for it (bearer-proxy: below its route prefix). */
  url: (route: string, path: string) => string;
}

async function startProfiled(group: ProcessGroup, env: Environment, options: ProfileOptions, system: ProfiledSystem, nodeArgs: string[]): Promise<Profiled> {
  if (system === 'bearer-proxy') {
    const proxy = await startBearerProxy(group, env.config, { logLevel: options.logLevel, nodeArgs });
    return { child: proxy.child, url: (route, path) => `${proxy.url}${route}${path}` };
  }
  // The forwarder has one origin and no prefixes: the small answers' for "small", the Node upstream's for the stream.
  const target = options.scenario === 'small' ? env.smallUpstreamUrl : env.upstreamUrl;
  const forwarder = await startUndiciForwarder(group, { target, authorization: env.issuer.authorization }, undefined, nodeArgs);
  const upstreamPaths: Record<string, string> = { [ROUTES.api]: '/api', [ROUTES.stream]: '' };
  return { child: forwarder.child, url: (route, path) => `${forwarder.url}${upstreamPaths[route] ?? ''}${path}` };
}

function formatProfile(profile: CpuProfile, options: ProfileOptions & { system: ProfiledSystem }, requests: number | undefined): string {
  const top = options.top ?? 15;
  const { functions, totalMs, byArea } = selfTimes(profile);
  const busyMs = totalMs - (byArea.get('idle') ?? 0);
  // µs per answered request, so that two systems' profiles compare row by row (start-up included).
  const perRequest = (ms: number): string => (requests ? `${((ms * 1000) / requests).toFixed(1).padStart(6)} µs/req` : '');
  const line = (f: HotFunction): string =>
    `${f.selfMs.toFixed(0).padStart(7)} ms ${(f.share * 100).toFixed(1).padStart(5)}% ${perRequest(f.selfMs)}  ${f.name.padEnd(28)} ${f.location}${f.calledFrom ? `  ← ${f.calledFrom}` : ''}`;
  // dist/ when the build has no source maps (the published build has none).
  const ours = functions.filter((f) => f.location.startsWith('src/') || f.location.startsWith('dist/'));
  return [
    `CPU profile of ${options.system}, scenario "${options.scenario}", ${options.durationSec} s, ${(totalMs / 1000).toFixed(1)} s sampled, ${(busyMs / 1000).toFixed(1)} s busy` +
      (requests ? `, ${requests} requests answered: ${perRequest(busyMs).trim()} busy` : ''),
    '',
    'Self time by area (share of busy time):',
    ...[...byArea]
      .filter(([area]) => area !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([area, ms]) => `  ${area.padEnd(28)} ${ms.toFixed(0).padStart(7)} ms ${((ms / busyMs) * 100).toFixed(1).padStart(5)}% ${perRequest(ms)}`),
    '',
    `Top ${top} functions by self time (share of busy time):`,
    ...functions.slice(0, top).map(line),
    ...(ours.length > 0 ? ['', `Top ${Math.min(top, ours.length)} of bearer-proxy's own:`, ...ours.slice(0, top).map(line)] : []),
    '',
  ].join('\n');
}

/**
 * Self time per function: each sample's interval (the delta to the next sample, as
 * DevTools counts it) goes to the node that was on top of the stack.
 */
export function selfTimes(profile: CpuProfile): { functions: HotFunction[]; totalMs: number; byArea: Map<string, number> } {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const perNode = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const micros = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    perNode.set(id, (perNode.get(id) ?? 0) + micros);
  }
  const mapper = new SourceMapper();
  const describe = (frame: CallFrame): string => `${frame.functionName || '(anonymous)'} ${mapper.locate(frame)}`;
  const nearestOwnCaller = (id: number): string | undefined => {
    for (let at = parents.get(id); at !== undefined; at = parents.get(at)) {
      const frame = nodes.get(at)!;
      if (frame.url.startsWith('file://')) return describe(frame);
    }
    return undefined;
  };
  const perFunction = new Map<string, { name: string; location: string; micros: number; callers: Map<string, number> }>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const [id, micros] of perNode) {
    const frame = nodes.get(id)!;
    total += micros;
    const area = areaOf(frame);
    byArea.set(area, (byArea.get(area) ?? 0) + micros / 1000);
    if (area === 'idle') continue;
    const location = mapper.locate(frame);
    const name = frame.functionName || '(anonymous)';
    const key = `${name}@${location}`;
    const entry = perFunction.get(key) ?? { name, location, micros: 0, callers: new Map<string, number>() };
    entry.micros += micros;
    if (!frame.url.startsWith('file://') && !name.startsWith('(')) {
      // Work started from a Node callback with no JS of ours or a package's on the stack still counts, so the share is honest.
      const caller = nearestOwnCaller(id) ?? '(Node-core callback)';
      entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + micros);
    }
    perFunction.set(key, entry);
  }
  const busy = total - (byArea.get('idle') ?? 0) * 1000;
  const functions = [...perFunction.values()]
    .map((f): HotFunction => {
      const callers = [...f.callers].sort((a, b) => b[1] - a[1]);
      const top = callers[0];
      return {
        name: f.name,
        location: f.location,
        selfMs: f.micros / 1000,
        share: f.micros / busy,
        ...(top ? { calledFrom: `${top[0]} (${Math.round((top[1] / f.micros) * 100)}%)` } : {}),
      };
    })
    .sort((a, b) => b.selfMs - a.selfMs);
  return { functions, totalMs: total / 1000, byArea };
}

function areaOf(frame: CallFrame): string {
  if (frame.functionName === '(idle)') return 'idle';
  if (frame.functionName === '(garbage collector)') return 'garbage collector';
  if (frame.functionName === '(program)') return 'V8/native (program)';
  if (frame.url === '') return 'native';
  if (frame.url.startsWith('node:')) return 'node core';
  // The bench's comparators run transpiled from there (bench/lean.ts): their own code, not a package.
  if (frame.url.includes('/node_modules/.cache/bearer-proxy-bench/')) return 'the forwarder (bench/)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url)?.[1];
  if (pkg) return `node_modules: ${pkg}`;
  if (frame.url.includes('/dist/')) return 'bearer-proxy (src/)';
  return 'other';
}

/** Maps dist/*.js positions to src/*.ts through the .js.map files tsc wrote next to them. */
class SourceMapper {
  readonly #maps = new Map<string, SourceMap | undefined>();

  locate(frame: CallFrame): string {
    const line = frame.lineNumber + 1;
    if (!frame.url.startsWith('file://')) return frame.url ? `${frame.url}:${line}` : '(native)';
    const path = fileURLToPath(frame.url);
    const map = this.#load(path);
    if (map && frame.lineNumber >= 0) {
      const entry = map.findEntry(frame.lineNumber, frame.columnNumber);
      if ('originalSource' in entry && entry.originalSource) {
        const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : join(path, '..', entry.originalSource);
        return `${relative(REPO_ROOT, source)}:${entry.originalLine + 1}`;
      }
    }
    return `${relative(REPO_ROOT, path)}:${line}`;
  }

  #load(path: string): SourceMap | undefined {
    if (!this.#maps.has(path)) {
      const mapFile = `${path}.map`;
      this.#maps.set(path, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]) : undefined);
    }
    return this.#maps.get(path);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { scenario: { type: 'string' }, system: { type: 'string' }, duration: { type: 'string' }, 'log-level': { type: 'string' }, top: { type: 'string' }, out: { type: 'string' } },
  });
  const scenario = (values.scenario ?? 'small') as ProfileScenario;
  if (!['small', 'rewrite', 'stream'].includes(scenario)) throw new Error(`--scenario must be small, rewrite or stream, not "${scenario}"`);
  const system = (values.system ?? 'bearer-proxy') as ProfiledSystem;
  if (!['bearer-proxy', 'undici'].includes(system)) throw new Error(`--system must be bearer-proxy or undici, not "${system}"`);
  const group = new ProcessGroup();
  stopChildrenOnExit(group);
  await profile(group, {
    scenario,
    system,
    durationSec: Number(values.duration ?? 8),
    logLevel: values['log-level'] ?? 'info',
    top: Number(values.top ?? 15),
    ...(values.out ? { keep: values.out } : {}),
  });
}

// Runnable on its own (npx tsx bench/profile.ts) and importable by run.ts.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`profile failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
