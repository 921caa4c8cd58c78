/**
 * The systems a scenario compares, started once and reused while their upstream stays the
 * same. Each is one way to reach the upstream: directly, through a comparator, or through
 * a bearer-proxy build at a log level. Idle RSS is read once per start, after a settle.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { nginxPath, startHttpProxy, startNginxProxy, startUndiciForwarder, type Comparator } from './comparators.ts';
import type { Environment } from './environment.ts';
import type { Placement } from './pinning.ts';
import { processTree, totalRssMb } from './procfs.ts';
import { log, type Child } from './processes.ts';
import { ROUTES, smallPath, startBearerProxy, writeProxyConfig, type ProxyConfig, type StartProxyOptions } from './proxy.ts';

export type SystemKind = 'direct' | 'undici' | 'http-proxy' | 'nginx' | 'bearer-proxy';

export interface System {
  /** Unique within a run: 'direct', 'undici', 'http-proxy', 'nginx', 'info', 'warn', 'workers-1', 'workers-2', 'dist:<label>'. */
  key: string;
  kind: SystemKind;
  name: string;
  /** Origin requests go to. */
  url: string;
  /** Path prefix that maps to the upstream's root: bearer-proxy routes by prefix, the others forward paths as they are. */
  rootPrefix: string;
  /** Where the small-JSON load goes: smallPath() of the variant's route. */
  smallPath: string;
  child?: Child;
  /** RSS 1 s after the system answered, before any load. */
  idleMb?: number;
  /** The processes to measure: the system's own and any it forked (workers). Empty for a direct connection. */
  pids(): number[];
}

export interface BearerVariant {
  key: string;
  name: string;
  logLevel: string;
  cli?: string;
  workers?: number;
  /** The small-JSON route, ROUTES.api unless set: ROUTES.lean measures bearer-proxy with its optional work off. */
  smallRoute?: string;
  /** node flags before the CLI. */
  nodeArgs?: string[];
  /** taskset list; the placement's SUT CPU when unset. */
  cpus?: string;
}

const SETTLE_MS = 1000;

export class Lineup {
  readonly #env: Environment;
  readonly #placement: Placement;
  readonly #comparators = new Map<string, System>();
  readonly #bearers = new Map<string, System>();
  #remoteConfig: ProxyConfig | undefined;

  constructor(env: Environment, placement: Placement) {
    this.#env = env;
    this.#placement = placement;
  }

  direct(target: string): System {
    return { key: 'direct', kind: 'direct', name: 'direct (no proxy)', url: target, rootPrefix: '', smallPath: smallPath(), pids: () => [] };
  }

  /** A comparator forwarding to `target`; one forwarding elsewhere is stopped (the scenarios use one upstream at a time). */
  async comparator(kind: 'undici' | 'http-proxy' | 'nginx', target: string): Promise<System | undefined> {
    const cacheKey = `${kind} ${target}`;
    const cached = this.#comparators.get(cacheKey);
    if (cached) return cached;
    for (const [key, system] of this.#comparators) {
      if (system.key === kind) {
        await this.#env.group.stop(system.child!);
        this.#comparators.delete(key);
      }
    }
    const { group } = this.#env;
    const cpus = this.#placement.sut;
    const to = { target, authorization: this.#env.issuer.authorization };
    let started: Comparator;
    if (kind === 'undici') started = await startUndiciForwarder(group, to, cpus);
    else if (kind === 'http-proxy') started = await startHttpProxy(group, to, cpus);
    else {
      const nginx = nginxPath();
      if (!nginx) return undefined;
      started = await startNginxProxy(group, nginx, to, this.#env.dir, cpus);
    }
    const system = fromChild(kind, kind, started.name, started.url, '', started.child);
    this.#comparators.set(cacheKey, system);
    return system;
  }

  /** A bearer-proxy build at a log level (and worker count), started on the SUT CPU unless told otherwise. */
  async bearer(variant: BearerVariant): Promise<System> {
    const cached = this.#bearers.get(variant.key);
    if (cached) return cached;
    const running = await startBearerProxy(this.#env.group, this.#env.config, this.#startOptions(variant));
    const system = fromChild(variant.key, 'bearer-proxy', variant.name, running.url, ROUTES.stream, running.child, variant.smallRoute);
    this.#bearers.set(variant.key, system);
    return system;
  }

  /** A separate bearer-proxy listening on a non-loopback address with anonymous access, for remote-caller scenarios. */
  async remoteBearer(variant: BearerVariant, host: string): Promise<System> {
    this.#remoteConfig ??= await writeProxyConfig(this.#env.issuer, this.#env.dir, {
      smallUpstream: this.#env.smallUpstreamUrl,
      upstream: this.#env.upstreamUrl,
      remoteHost: host,
      name: 'remote',
    });
    const running = await startBearerProxy(this.#env.group, this.#remoteConfig, this.#startOptions(variant));
    return fromChild(variant.key, 'bearer-proxy', variant.name, running.url, ROUTES.stream, running.child);
  }

  async stop(system: System): Promise<void> {
    if (system.child) await this.#env.group.stop(system.child);
    this.#bearers.delete(system.key);
    for (const [key, value] of this.#comparators) if (value === system) this.#comparators.delete(key);
  }

  /** Reads idle RSS of every system not measured yet, after one shared settle: lazy loading and the first GC follow the listen. */
  async measureIdle(systems: readonly System[]): Promise<void> {
    const pending = systems.filter((system) => system.idleMb === undefined && system.child);
    if (pending.length === 0) return;
    await sleep(SETTLE_MS);
    for (const system of pending) {
      system.idleMb = totalRssMb(system.pids());
      log(`${system.name}: idle RSS ${system.idleMb?.toFixed(1)} MB`);
    }
  }

  #startOptions(variant: BearerVariant): StartProxyOptions {
    const cpus = variant.cpus ?? this.#placement.sut;
    return {
      logLevel: variant.logLevel,
      ...(variant.cli ? { cli: variant.cli } : {}),
      ...(variant.workers === undefined ? {} : { workers: variant.workers }),
      ...(variant.nodeArgs ? { nodeArgs: variant.nodeArgs } : {}),
      ...(cpus === undefined ? {} : { cpus }),
    };
  }
}

function fromChild(key: string, kind: SystemKind, name: string, url: string, rootPrefix: string, child: Child, smallRoute?: string): System {
  return { key, kind, name, url, rootPrefix, smallPath: smallPath(smallRoute), child, pids: () => processTree(child.pid) };
}
