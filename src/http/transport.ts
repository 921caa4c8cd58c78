import { readFileSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import type { Logger } from '../log/logger.ts';
import { DispatcherPool, hasOwnSettings, outboundProxyFromEnv, type IdpConnection, type TlsSettings, type UpstreamConnections } from './dispatchers.ts';

export type FetchFunction = typeof globalThis.fetch;

/**
 * How the proxy reaches the outside world: one keep-alive pool per TLS setting for
 * upstreams, and the fetch each IdP is called with. Built once from the environment
 * (outbound proxy, NODE_EXTRA_CA_CERTS) by whoever builds token providers or upstreams,
 * so `serve`, `check` and `token` reach an IdP the same way.
 */
export interface Transport {
  /** The connection pool for an upstream's TLS settings and connection bound, and the count of its requests. */
  connectionsFor: (tls: TlsSettings, maxConnections: number, origin: string) => UpstreamConnections;
  /**
   * The fetch for an IdP reached this way (its CA, a client certificate for mutual TLS, or
   * directly, bypassing the outbound proxy); undefined means the runtime's own fetch serves.
   */
  idpFetch(connection: IdpConnection): FetchFunction | undefined;
  close(): Promise<void>;
}

export interface TransportOptions {
  /** HTTP_PROXY/HTTPS_PROXY/NO_PROXY and NODE_EXTRA_CA_CERTS are read from here. */
  env: Record<string, string | undefined>;
  logger?: Logger | undefined;
  /** Replaces every IdP request's fetch (tests inject one). */
  fetch?: FetchFunction | undefined;
  /** Serves upstreams without TLS settings of their own (tests inject one). */
  dispatcher?: Dispatcher | undefined;
}

export function createTransport(options: TransportOptions): Transport {
  const outboundProxy = outboundProxyFromEnv(options.env);
  const { logger } = options;
  const pool = new DispatcherPool({
    outboundProxy,
    extraCa: readExtraCa(options.env, logger),
    injectedDefault: options.dispatcher,
    onConnectionsBusy: (upstream, maxConnections) =>
      logger?.warn({ upstream, maxConnections }, "every connection to the upstream is busy: requests wait for a free one (raise the route's maxConnections if the upstream can take more)"),
  });
  return {
    connectionsFor: (tls, maxConnections, origin) => pool.connectionsFor(tls, maxConnections, origin),
    // IdP requests go through undici's own fetch only when they need a CA, a client certificate,
    // the outbound proxy, or to be kept from it (the runtime's fetch may read proxy variables itself).
    idpFetch: (connection) => options.fetch ?? (hasOwnSettings(connection) || outboundProxy ? pool.fetchFor(connection) : undefined),
    close: () => pool.close(),
  };
}

/** Node reads NODE_EXTRA_CA_CERTS itself (and warns when it cannot); a configured `ca` must add it back. */
function readExtraCa(env: Record<string, string | undefined>, logger: Logger | undefined): string | undefined {
  const path = env.NODE_EXTRA_CA_CERTS;
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    logger?.warn({ path, code: (error as NodeJS.ErrnoException).code }, 'NODE_EXTRA_CA_CERTS cannot be read; routes with their own ca: will not trust it');
    return undefined;
  }
}
