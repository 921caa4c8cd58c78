/**
 * Every route shares the proxy's one origin, so a cookie an upstream sets for "/" would
 * go back to every route's upstream: route A's session to route B's server. Each cookie
 * is scoped to its route instead, as nginx's proxy_cookie_path does: a Path under the
 * target's base path keeps its place under the route prefix, any other Path becomes the
 * prefix, and a Domain (the upstream's, which the client would refuse) is dropped.
 */
export function scopeSetCookie(value: string, prefix: string, basePath: string): string {
  const [pair = '', ...attributes] = value.split(';');
  const kept: string[] = [];
  let path: string | undefined;
  for (const attribute of attributes) {
    const name = attribute.split('=', 1)[0]!.trim().toLowerCase();
    if (name === 'path') path = attribute.slice(attribute.indexOf('=') + 1).trim();
    else if (name !== 'domain') kept.push(attribute.trim());
  }
  return [pair.trim(), `Path=${routePath(path, prefix, basePath)}`, ...kept].join('; ');
}

function routePath(path: string | undefined, prefix: string, basePath: string): string {
  if (path === undefined || !path.startsWith('/')) return prefix;
  if (basePath === '') return path === '/' ? prefix : prefix + path;
  if (path === basePath || path === `${basePath}/`) return prefix;
  return path.startsWith(`${basePath}/`) ? prefix + path.slice(basePath.length) : prefix;
}
