import { request } from 'undici';

/** XML namespaces and vocabularies: names, not links to follow. */
const NAMES = /^https?:\/\/(?:www\.w3\.org|schemas\.microsoft\.com|docs\.oasis-open\.org|oasis-tcs\.github\.io|sap\.github\.io|cap\.cloud\.sap)\//;

/** Every absolute http(s) URL in a text, plain or JSON-escaped (`http:\/\/…`), namespaces aside. */
export function absoluteUrls(text: string): string[] {
  const found = text.match(/https?:(?:\/\/|\\\/\\\/)[^"'<>\s]+/g) ?? [];
  return found.map((url) => url.replaceAll('\\/', '/')).filter((url) => !NAMES.test(url));
}

/** The URLs of a text that do not lead to the route: every link must be the route's URL or below it. */
export function offRoute(text: string, routeUrl: string): string[] {
  const onRoute = (url: string) => url === routeUrl || (url.startsWith(routeUrl) && ['/', '?', '#'].includes(url.charAt(routeUrl.length)));
  return absoluteUrls(text).filter((url) => !onRoute(url));
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * A request to the proxy that names it as `localhost:<port>` (as a user types it) while
 * connecting to 127.0.0.1, whatever localhost resolves to here.
 */
export async function callProxy(proxyUrl: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const port = new URL(proxyUrl).port;
  const response = await request(`${proxyUrl}${path}`, {
    method: (init.method ?? 'GET') as 'GET',
    headers: { host: `localhost:${port}`, ...init.headers },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

/** The URL a link in an answer from the route leads to, resolved as a client would (relative links against the request). */
export function resolveLink(link: string, requestUrl: string): string {
  return new URL(link, requestUrl).href;
}
