import type { ServerResponse } from 'node:http';
import { RESERVED_PATHS } from '../config/schema.ts';

export type ReservedPath = (typeof RESERVED_PATHS)[number];

export function reservedPath(path: string): ReservedPath | undefined {
  return (RESERVED_PATHS as readonly string[]).includes(path) ? (path as ReservedPath) : undefined;
}

/** Health endpoints answer without credentials: probes and load balancers carry none. */
export function isUnauthenticated(path: ReservedPath): boolean {
  return path === '/healthz' || path === '/readyz';
}

export function sendJson(res: ServerResponse, status: number, body: unknown, method = 'GET'): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(method === 'HEAD' ? undefined : text);
}
