import type { ServerResponse } from 'node:http';

export interface RespondOptions {
  method?: string | undefined;
  headers?: Record<string, string>;
}

/** A complete response with its length; for HEAD the headers only. */
export function sendText(res: ServerResponse, status: number, contentType: string, text: string, options: RespondOptions = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...options.headers });
  res.end(options.method === 'HEAD' ? undefined : text);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, options: RespondOptions = {}): void {
  sendText(res, status, 'application/json; charset=utf-8', JSON.stringify(body), options);
}
