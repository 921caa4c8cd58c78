import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { ProxyError } from '../errors.ts';
import { isLoopbackAddress } from './loopback.ts';

// Anonymous access trusts the socket's address, and a browser on this machine is on
// loopback too: any web page it opens could reach the proxy by DNS rebinding (a name of
// the attacker's that resolves to 127.0.0.1) or send it requests across sites. Requests
// let in without credentials therefore have to look like a local tool's, not a page's.

/** A rebinding page's requests carry the page's own host name; an IP literal cannot be rebound. */
export function refuseRebinding(req: IncomingMessage, allowedHosts: ReadonlySet<string>): void {
  const host = req.headers.host;
  if (host !== undefined && !isAllowedHost(hostName(host), allowedHosts, true)) {
    throw new ProxyError(
      'HOST_NOT_ALLOWED',
      `Requests without credentials must address the proxy as localhost, by IP address, or by a name listed in inbound.allowedHosts (this one used "${truncate(hostName(host))}").`,
    );
  }
}

/**
 * Refuses a request another site's page made, for every caller: a browser attaches Basic
 * credentials it has cached for the proxy to cross-site requests as well, so a page could
 * act with them (CSRF). Browsers mark where a request comes from; local tools (Power Query,
 * curl, the gateway) send none of these headers. Browsers without Fetch Metadata (older
 * ones) still send Referer on most requests: a foreign one counts as a foreign Origin.
 */
export function refuseCrossSite(req: IncomingMessage, allowedHosts: ReadonlySet<string>): void {
  const host = req.headers.host;
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') throw new ProxyError('CROSS_SITE_REQUEST');
  const origin = req.headers.origin;
  if (origin !== undefined && !isOwnOrigin(origin, host, allowedHosts)) throw new ProxyError('CROSS_SITE_REQUEST');
  const referer = req.headers.referer;
  if (site === undefined && origin === undefined && referer !== undefined && !isOwnOrigin(referer, host, allowedHosts)) throw new ProxyError('CROSS_SITE_REQUEST');
}

/** The page's origin (or the origin of its URL) is this proxy itself, or a local or listed name (never any IP: a page can live on one). */
function isOwnOrigin(origin: string, host: string | undefined, allowedHosts: ReadonlySet<string>): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file: pages) and anything unreadable
  }
  if (host !== undefined && url.host === host.toLowerCase()) return true;
  return isAllowedHost(hostName(url.host), allowedHosts, false);
}

function isAllowedHost(name: string, allowedHosts: ReadonlySet<string>, anyIp: boolean): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true; // RFC 6761: always loopback
  if (isIP(name) !== 0) return anyIp || isLoopbackAddress(name);
  return allowedHosts.has(name);
}

/** The host name of a Host header or URL host, lower-case, without port, brackets or trailing dot. */
function hostName(host: string): string {
  const lower = host.trim().toLowerCase();
  const bracketEnd = lower.indexOf(']');
  const name = lower.startsWith('[') ? lower.slice(1, bracketEnd < 0 ? undefined : bracketEnd) : lower.replace(/:\d*$/, '');
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
