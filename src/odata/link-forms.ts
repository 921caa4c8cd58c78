/**
 * The ways an upstream answer can spell "this route's upstream base", and what each
 * becomes. Upstreams write links in more than one way:
 * - the target URL itself, also with its default port written out (`https://host:443/…`);
 * - the proxy's own origin with the upstream's path, when the upstream builds links from
 *   the `X-Forwarded-Host`/`-Proto` the proxy sends (SAP CAP's V2 adapter, ASP.NET Core
 *   behind `UseForwardedHeaders`): `http://localhost:8080/odata/v2/sales/Orders(1)`;
 * - an absolute path (`/odata/v4/sales/Orders?$skiptoken=10`), in a JSON string or a
 *   double-quoted XML attribute such as `xml:base="/odata/v4/sales/"`.
 * Each comes plain and JSON-escaped (`https:\/\/host\/path`).
 */

export interface LinkForm {
  /** The text to find. */
  from: string;
  /** What replaces it: the proxy's base URL for the route, or `"` and the route prefix. */
  to: string;
  /**
   * Set when the replacement itself starts with `from` (the route's URL lies below the
   * upstream path, or the target is the upstream's root): `from` followed by this, as a
   * whole segment, already names the route and is left alone, so a link is never rewritten twice.
   */
  already?: string;
}

export interface RouteLinks {
  /** The target as configured, without a trailing slash: scheme://host[:port]/path. */
  upstreamBase: string;
  /** scheme://host[:port] as the client reached the proxy (the Host it wrote). */
  proxyOrigin: string;
  /** The route prefix: /name. */
  prefix: string;
}

/** Splits the proxy's base URL for a route (`http://host:port/prefix`) into origin and prefix, as written. */
export function routeLinks(upstreamBase: string, proxyBase: string): RouteLinks {
  const pathStart = proxyBase.indexOf('/', proxyBase.indexOf('//') + 2);
  return pathStart === -1 ? { upstreamBase, proxyOrigin: proxyBase, prefix: '' } : { upstreamBase, proxyOrigin: proxyBase.slice(0, pathStart), prefix: proxyBase.slice(pathStart) };
}

/** The path of the upstream base, '' for an upstream's root. */
export function basePathOf(upstreamBase: string): string {
  return upstreamBase.slice(new URL(upstreamBase).origin.length);
}

/**
 * Absolute URLs: the target's spellings and the proxy's origin with the target's path,
 * each mapped to the proxy's base. An origin on a loopback name is also spelled with the
 * other loopback names: servers on the same machine write whichever they like (CAP's V2
 * adapter turns http://127.0.0.1 into http://localhost).
 */
export function urlForms(links: RouteLinks): LinkForm[] {
  const proxyBase = links.proxyOrigin + links.prefix;
  const url = new URL(links.upstreamBase);
  const basePath = basePathOf(links.upstreamBase);
  const origins = [url.origin];
  if (url.port === '') origins.push(`${url.origin}:${url.protocol === 'https:' ? 443 : 80}`);
  origins.push(links.proxyOrigin);
  const bases = origins.flatMap(loopbackAliases).map((origin) => origin + basePath);
  return distinct(bases).flatMap((base) => withEscaped(form(base, proxyBase)));
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** scheme://host[:port], and when host is a loopback name, the same with each other one. */
function loopbackAliases(origin: string): string[] {
  const match = /^([a-z]+:\/\/)([^/:]+|\[[^\]]+\])(:\d+)?$/i.exec(origin);
  const host = match?.[2]?.toLowerCase();
  if (!match || host === undefined || !LOOPBACK_NAMES.includes(host)) return [origin];
  return [origin, ...LOOPBACK_NAMES.filter((name) => name !== host).map((name) => `${match[1]}${name}${match[3] ?? ''}`)];
}

/**
 * Absolute paths in bodies, as JSON strings and double-quoted XML attributes begin: only
 * when the target has a path of its own. For an upstream's root every `"/…` string would
 * match, `"/Date(…)/"` in OData V2 JSON among them, so there only headers are rewritten.
 */
export function pathForms(links: RouteLinks): LinkForm[] {
  const basePath = basePathOf(links.upstreamBase);
  if (basePath === '') return [];
  return withEscaped(form(`"${basePath}`, `"${links.prefix}`));
}

function form(from: string, to: string): LinkForm | undefined {
  if (from === to) return undefined;
  return to.startsWith(from) && to.charAt(from.length) === '/' ? { from, to, already: to.slice(from.length) } : { from, to };
}

function withEscaped(plain: LinkForm | undefined): LinkForm[] {
  if (!plain) return [];
  const escape = (text: string) => text.replaceAll('/', '\\/');
  const escaped: LinkForm = { from: escape(plain.from), to: escape(plain.to), ...(plain.already !== undefined ? { already: escape(plain.already) } : {}) };
  return [plain, escaped];
}

function distinct(values: string[]): string[] {
  return [...new Set(values)];
}
