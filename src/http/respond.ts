import type { ServerResponse } from 'node:http';

/** A complete JSON response with its length; for HEAD the headers only. */
export function sendJson(res: ServerResponse, status: number, body: unknown, options: { method?: string | undefined; headers?: Record<string, string> } = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...options.headers });
  res.end(options.method === 'HEAD' ? undefined : text);
}
