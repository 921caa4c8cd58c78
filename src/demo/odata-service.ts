import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import { closeNow, listenOn } from '../http/lifecycle.ts';
import { METADATA_XML, samplePeople, sampleProducts } from './sample-data.ts';

export interface SampleODataOptions {
  host?: string;
  port?: number;
  verifyAccessToken(token: string): Promise<JWTPayload>;
  pageSize?: number;
}

export interface SampleODataService {
  /** The service root, e.g. http://127.0.0.1:PORT/odata */
  url: string;
  readonly requests: number;
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

class ODataError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * A small OData v4 service, as real ones behave: it demands a valid bearer token and its
 * server-driven paging links are absolute URLs on its own origin, which is exactly what
 * the proxy must rewrite for Power BI to stay on the proxy.
 */
export async function startSampleODataService(options: SampleODataOptions): Promise<SampleODataService> {
  const pageSize = options.pageSize ?? 10;
  const sets: Record<string, Array<Record<string, unknown>>> = {
    People: samplePeople() as unknown as Array<Record<string, unknown>>,
    Products: sampleProducts() as unknown as Array<Record<string, unknown>>,
  };
  let root = '';
  let requests = 0;

  const respond = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    requests++;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token) throw new ODataError(401, 'InvalidToken', 'A bearer token is required.', { 'www-authenticate': 'Bearer error="invalid_token"' });
    await options.verifyAccessToken(token).catch(() => {
      throw new ODataError(401, 'InvalidToken', 'The bearer token is not valid.', { 'www-authenticate': 'Bearer error="invalid_token"' });
    });
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new ODataError(405, 'MethodNotAllowed', `${req.method} is not supported by this read-only service.`, { allow: 'GET, HEAD' });

    const url = new URL(req.url ?? '/', 'http://service');
    const path = url.pathname.replace(/^\/odata/, '');
    if (path === '' || path === '/') {
      return send(res, req, 200, JSON_TYPE, JSON.stringify({ '@odata.context': `${root}/$metadata`, value: Object.keys(sets).map((name) => ({ name, kind: 'EntitySet', url: name })) }));
    }
    if (path === '/$metadata') return send(res, req, 200, 'application/xml', METADATA_XML);

    const match = /^\/(\w+)(?:\((\d+)\))?(\/\$count)?$/.exec(path);
    const rows = match ? sets[match[1]!] : undefined;
    if (!match || !rows) throw new ODataError(404, 'NotFound', `No resource at ${url.pathname}.`);
    const [, setName, key, count] = match;
    if (key !== undefined) {
      const row = rows.find((candidate) => candidate.Id === Number(key));
      if (!row) throw new ODataError(404, 'NotFound', `${setName}(${key}) does not exist.`);
      return send(res, req, 200, JSON_TYPE, JSON.stringify({ '@odata.context': `${root}/$metadata#${setName}/$entity`, ...row }));
    }
    if (count) return send(res, req, 200, 'text/plain;charset=utf-8', String(rows.length));
    return send(res, req, 200, JSON_TYPE, JSON.stringify(page(setName!, rows, url.searchParams)));
  };

  const page = (setName: string, rows: Array<Record<string, unknown>>, query: URLSearchParams): Record<string, unknown> => {
    const skip = nonNegative(query, '$skip') ?? 0;
    const top = nonNegative(query, '$top');
    const skipToken = nonNegative(query, '$skiptoken') ?? 0;
    const select = query.get('$select')?.split(',').map((name) => name.trim()).filter(Boolean);
    const unknown = select?.find((name) => !(name in (rows[0] ?? {})));
    if (unknown) throw new ODataError(400, 'BadRequest', `$select names an unknown property "${unknown}".`);

    const requested = rows.slice(skip, top === undefined ? undefined : skip + top);
    const slice = requested.slice(skipToken, skipToken + pageSize);
    const value = select ? slice.map((row) => Object.fromEntries(select.map((name) => [name, row[name]]))) : slice;
    const body: Record<string, unknown> = { '@odata.context': `${root}/$metadata#${setName}${select ? `(${select.join(',')})` : ''}` };
    if (query.get('$count') === 'true') body['@odata.count'] = requested.length;
    body.value = value;
    if (skipToken + pageSize < requested.length) {
      const next = new URLSearchParams(query);
      next.set('$skiptoken', String(skipToken + pageSize));
      body['@odata.nextLink'] = `${root}/${setName}?${next.toString().replaceAll('%24', '$').replaceAll('%2C', ',')}`;
    }
    return body;
  };

  const server = createServer((req, res) => {
    respond(req, res).catch((error: unknown) => {
      const failure = error instanceof ODataError ? error : new ODataError(500, 'InternalError', 'The sample service failed.');
      send(res, req, failure.status, JSON_TYPE, JSON.stringify({ error: { code: failure.code, message: failure.message } }), failure.headers);
    });
  });
  const origin = await listenOn(server, options.port ?? 0, options.host ?? '127.0.0.1');
  root = `${origin}/odata`;

  return {
    url: root,
    get requests() {
      return requests;
    },
    close: () => closeNow(server),
  };
}

function nonNegative(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null) return undefined;
  if (!/^\d{1,9}$/.test(text)) throw new ODataError(400, 'BadRequest', `${name} must be a non-negative integer, not "${text}".`);
  return Number(text);
}

function send(res: ServerResponse, req: IncomingMessage, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'odata-version': '4.0', ...headers });
  res.end(req.method === 'HEAD' ? undefined : body);
}
