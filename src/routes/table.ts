import type { Config, RouteConfig, TokenSourceConfig } from '../config/schema.ts';
import type { TlsSettings } from '../http/dispatchers.ts';
import { FORWARDED_HEADERS, type ForwardedHeader } from '../http/owned-headers.ts';

export interface Route {
  prefix: string;
  target: URL;
  /** scheme://host:port of the target, the key of its connection pool. */
  origin: string;
  /** The target's path without a trailing slash; the rest of the request path follows it. */
  basePath: string;
  /** The target as a base URL without a trailing slash, as upstream links spell it. */
  baseUrl: string;
  tokenSource: string;
  timeoutMs: number;
  /** The most connections the route's pool opens to the upstream; requests beyond wait for one. */
  maxConnections: number;
  /** Static headers, lower-cased names, in config order. */
  headers: ReadonlyArray<readonly [string, string]>;
  rewriteUrls: boolean;
  /** The forwarded headers sent upstream (forwardedHeaders: true is all of them). */
  forwardedHeaders: ReadonlySet<ForwardedHeader>;
  /** X-Forwarded-Prefix: what the proxy takes off the path, when the prefix is this followed by the target's path. */
  forwardedPrefix: string | undefined;
  /** CA and client certificate for the upstream connection. */
  tls: TlsSettings;
  /** The token source whose client certificate the route presents, because its tokens are bound to it. */
  certificateBoundTo: string | undefined;
}

export interface RouteMatch<R extends Route = Route> {
  route: R;
  /** What follows the prefix in the request path: "" or starting with "/". */
  rest: string;
}

/**
 * Routes sorted once, longest prefix first, so the first whole-segment match is the best
 * one. The proxy keeps its per-route upstream objects here (R), so one lookup finds all
 * a request needs.
 */
export class RouteTable<R extends Route = Route> {
  readonly routes: readonly R[];

  constructor(routes: Iterable<R>) {
    this.routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  static fromConfig(routes: Config['routes'], tokens: Config['tokens'] = {}): RouteTable {
    return new RouteTable(routesFromConfig(routes, tokens));
  }

  match(path: string): RouteMatch<R> | undefined {
    for (const route of this.routes) {
      if (!path.startsWith(route.prefix)) continue;
      const next = path.charCodeAt(route.prefix.length);
      // NaN: the path is exactly the prefix; 47 is "/": a whole segment matched.
      if (Number.isNaN(next) || next === 47) return { route, rest: path.slice(route.prefix.length) };
    }
    return undefined;
  }

  get prefixes(): string[] {
    return this.routes.map((route) => route.prefix).sort();
  }
}

/** With the token sources, a route whose source has certificate-bound tokens presents that source's client certificate. */
export function routesFromConfig(routes: Config['routes'], tokens: Config['tokens'] = {}): Route[] {
  return Object.entries(routes).map(([prefix, config]) => toRoute(prefix, config, tokens[config.token]));
}

function toRoute(prefix: string, config: RouteConfig, source: TokenSourceConfig | undefined): Route {
  const target = new URL(config.target);
  const basePath = target.pathname.replace(/\/+$/, '');
  return {
    prefix,
    target,
    origin: target.origin,
    basePath,
    baseUrl: `${target.origin}${basePath}`,
    tokenSource: config.token,
    timeoutMs: config.timeout,
    maxConnections: config.maxConnections,
    headers: Object.entries(config.headers).map(([name, value]) => [name.toLowerCase(), value] as const),
    rewriteUrls: config.rewriteUrls,
    forwardedHeaders: new Set(config.forwardedHeaders === true ? FORWARDED_HEADERS : config.forwardedHeaders === false ? [] : config.forwardedHeaders),
    forwardedPrefix: strippedPrefix(prefix, basePath),
    tls: { ca: config.ca, ...clientCertificate(config, source) },
    certificateBoundTo: source?.certificateBoundTokens ? config.token : undefined,
  };
}

/**
 * RFC 8705 §3: a certificate-bound token is good only over a connection made with the
 * certificate it is bound to, so the route presents its source's tls.cert (the schema
 * refuses a route with a certificate of its own there). Otherwise, the route's own, if any.
 */
function clientCertificate(config: RouteConfig, source: TokenSourceConfig | undefined): { cert?: string | undefined; key?: string | undefined } {
  if (source?.certificateBoundTokens && source.tls) return { cert: source.tls.cert, key: source.tls.key };
  return { cert: config.clientCert, key: config.clientKey };
}

/**
 * X-Forwarded-Prefix says "the client's path is this followed by the path you see"
 * (ASP.NET Core, Spring and Traefik read it so). That holds only when the route prefix
 * ends with the target's path, `/team/odata` → `…/odata`, or the target is a root,
 * `/api` → `https://host/`. Otherwise the proxy replaces the prefix instead of taking it
 * off, no value would be true, and the header is not sent: an upstream would put it in
 * front of its own path (`/sales/odata/v4/sales/…`), a link the proxy cannot route.
 */
function strippedPrefix(prefix: string, basePath: string): string | undefined {
  if (!prefix.endsWith(basePath)) return undefined;
  const stripped = prefix.slice(0, prefix.length - basePath.length);
  return stripped === '' ? undefined : stripped;
}
