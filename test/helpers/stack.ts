import type { Test } from 'tap';
import { postClientSource, startIdp } from './idp.ts';
import type { ProxyServerDeps } from '../../src/proxy/server.ts';
import { startProxy } from './proxy.ts';
import { startUpstream, type UpstreamOptions } from './upstream.ts';

export interface StackOptions {
  upstream?: UpstreamOptions;
  /** Extra keys for the one route, /api. */
  route?: Record<string, unknown>;
  inbound?: Record<string, unknown>;
  /** The route's target; defaults to the upstream's root. */
  target?: (upstreamUrl: string) => string;
  /** Overrides the client secret (to provoke invalid_client). */
  secret?: string;
  /** Proxy dependencies to replace, such as the clock. */
  deps?: Partial<ProxyServerDeps>;
  /** Other top-level config keys. */
  config?: Record<string, unknown>;
  /** Listen address (default 127.0.0.1). */
  host?: string;
}

/**
 * The whole chain on real sockets: an oidc-provider IdP, an upstream that verifies its
 * JWTs, and a proxy with one route /api → upstream using the IdP's post client.
 * Everything is closed when the test ends.
 */
export async function startStack(t: Test, options: StackOptions = {}) {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience, ...options.upstream });
  t.teardown(() => upstream.close());
  const proxy = await startProxy(
    {
      ...(options.inbound ? { inbound: options.inbound } : {}),
      tokens: { idp: postClientSource(idp, options.secret) },
      routes: { '/api': { target: options.target?.(upstream.url) ?? upstream.url, token: 'idp', ...options.route } },
      ...options.config,
    },
    options.deps,
    options.host,
  );
  t.teardown(() => proxy.close());
  return { idp, upstream, proxy };
}

/**
 * A real IdP and a proxy with one route, /api → target, for an upstream the test runs
 * itself (a raw socket server that answers as no HTTP library would). Closed when the test ends.
 */
export async function startProxyTo(t: Test, target: string, route: Record<string, unknown> = {}) {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const proxy = await startProxy({ tokens: { idp: postClientSource(idp) }, routes: { '/api': { target, token: 'idp', ...route } } });
  t.teardown(() => proxy.close());
  return { idp, proxy };
}
