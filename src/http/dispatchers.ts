import { rootCertificates } from 'node:tls';
import type { Dispatcher } from 'undici';
import Agent from 'undici/lib/dispatcher/agent.js';
import EnvHttpProxyAgent from 'undici/lib/dispatcher/env-http-proxy-agent.js';
import { ConnectionLimit, type OnConnectionsBusy } from './connection-limit.ts';

/** TLS settings of one upstream or IdP, PEM text as configured. */
export interface TlsSettings {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

/** How an IdP is reached: its TLS settings, and whether the outbound proxy is skipped. */
export interface IdpConnection extends TlsSettings {
  /**
   * Never through HTTP_PROXY/HTTPS_PROXY: for endpoints on this machine or its host (Azure
   * IMDS at 169.254.169.254, App Service's local identity endpoint), which a corporate proxy
   * cannot reach and which IMDS refuses when a proxy adds X-Forwarded-For.
   */
  direct?: boolean | undefined;
}

/** The corporate proxy to reach upstreams and IdPs through, as HTTP_PROXY/HTTPS_PROXY/NO_PROXY say. */
export interface OutboundProxy {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}

/** Reads the usual variables, upper or lower case (curl reads lower, many tools upper); undefined when none is set. */
export function outboundProxyFromEnv(env: Record<string, string | undefined>): OutboundProxy | undefined {
  const read = (name: string) => env[name.toLowerCase()] || env[name] || undefined;
  const proxy: OutboundProxy = {};
  const httpProxy = read('HTTP_PROXY');
  const httpsProxy = read('HTTPS_PROXY');
  const noProxy = read('NO_PROXY');
  if (httpProxy) proxy.httpProxy = httpProxy;
  if (httpsProxy) proxy.httpsProxy = httpsProxy;
  if (noProxy) proxy.noProxy = noProxy;
  return proxy.httpProxy || proxy.httpsProxy ? proxy : undefined;
}

export interface DispatcherPoolOptions {
  outboundProxy?: OutboundProxy | undefined;
  /** The NODE_EXTRA_CA_CERTS bundle: a configured `ca` replaces Node's trust store, so it is added back. */
  extraCa?: string | undefined;
  /** Used for settings without TLS options (tests inject one). */
  injectedDefault?: Dispatcher | undefined;
  onConnectionsBusy?: OnConnectionsBusy | undefined;
}

/** An upstream's connection pool, and the count of its requests against the pool's bound. */
export interface UpstreamConnections {
  dispatcher: Dispatcher;
  limit: ConnectionLimit;
}

/**
 * One keep-alive pool per distinct TLS setting and connection bound (most routes share the
 * default one), each going through the outbound proxy when one is configured. Pools live
 * as long as the server: a reload that changes a CA gets a new pool, and the old one idles
 * out; one that keeps them keeps the pools, their connections and their counts.
 */
export class DispatcherPool {
  readonly #pools = new Map<string, Dispatcher>();
  readonly #limits = new Map<string, ConnectionLimit>();

  constructor(private readonly options: DispatcherPoolOptions = {}) {}

  /** The pool for these TLS settings; without maxConnections (the IdPs') it opens as many connections as requests need. */
  get(tls: IdpConnection = {}, maxConnections?: number): Dispatcher {
    if (!hasOwnSettings(tls) && this.options.injectedDefault) return this.options.injectedDefault;
    const key = poolKey(tls, maxConnections);
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = this.#create(tls, maxConnections);
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** An upstream's pool with at most maxConnections connections to its origin, and their count, shared by the routes that share both. */
  connectionsFor(tls: TlsSettings, maxConnections: number, origin: string): UpstreamConnections {
    const key = `${poolKey(tls, maxConnections)} ${origin}`;
    let limit = this.#limits.get(key);
    if (!limit) {
      limit = new ConnectionLimit(origin, maxConnections, this.options.onConnectionsBusy);
      this.#limits.set(key, limit);
    }
    return { dispatcher: this.get(tls, maxConnections), limit };
  }

  /** A fetch for openid-client that uses the pool for these settings (CA, client certificate, outbound proxy). */
  fetchFor(tls: IdpConnection = {}): typeof globalThis.fetch {
    const dispatcher = this.get(tls);
    // undici's fetch loads with the first token request, like openid-client: serve never needs it before.
    return (async (input: string | URL, init?: RequestInit) => {
      const { fetch } = await import('undici');
      return fetch(input, { ...(init as object), dispatcher });
    }) as unknown as typeof globalThis.fetch;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()));
    this.#pools.clear();
  }

  #create(tls: IdpConnection, maxConnections: number | undefined): Dispatcher {
    const connect = {
      timeout: 30_000,
      // A configured CA is trusted besides the public roots and NODE_EXTRA_CA_CERTS, not instead of them.
      ...(tls.ca !== undefined ? { ca: [...rootCertificates, ...(this.options.extraCa ? [this.options.extraCa] : []), tls.ca] } : {}),
      ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
    };
    if (this.options.outboundProxy && tls.direct !== true) {
      // requestTls is the TLS to the target inside the proxy's tunnel.
      return new EnvHttpProxyAgent({ ...this.options.outboundProxy, connect, requestTls: connect, keepAliveTimeout: 30_000, connections: maxConnections ?? null });
    }
    // connections is per origin: undici queues the requests beyond it until a connection is free.
    return new Agent({ connect, keepAliveTimeout: 30_000, connections: maxConnections ?? null });
  }
}

/** A CA, a client certificate or a direct route of its own: it cannot share the default pool. */
export function hasOwnSettings(tls: IdpConnection): boolean {
  return tls.ca !== undefined || tls.cert !== undefined || tls.direct === true;
}

function poolKey(tls: IdpConnection, maxConnections: number | undefined): string {
  return JSON.stringify([maxConnections ?? null, ...(hasOwnSettings(tls) ? [tls.ca, tls.cert, tls.key, tls.direct === true] : [])]);
}
