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
  return pathStart === -1
    ? { upstreamBase, proxyOrigin: proxyBase, prefix: '' }
    : { upstreamBase, proxyOrigin: proxyBase.slice(0, pathStart), prefix: proxyBase.slice(pathStart) };
}

/** The path of the upstream base, '' for an upstream's root. */
export function basePathOf(upstreamBase: string): string {
  return upstreamBase.slice(new URL(upstreamBase).origin.length);
}

/** Absolute URLs: the target's spellings and the proxy's origin with the target's path, each mapped to the proxy's base. */
export function urlForms(links: RouteLinks): LinkForm[] {
  const proxyBase = links.proxyOrigin + links.prefix;
  const url = new URL(links.upstreamBase);
  const basePath = basePathOf(links.upstreamBase);
  const bases = [links.upstreamBase];
  if (url.port === '') bases.push(`${url.protocol}//${url.host}:${url.protocol === 'https:' ? 443 : 80}${basePath}`);
  bases.push(links.proxyOrigin + basePath);
  return distinct(bases).flatMap((base) => withEscaped(form(base, proxyBase)));
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
