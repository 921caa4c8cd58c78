import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import { closeNow, listenOn } from '../http/lifecycle.ts';
import { sendText } from '../http/respond.ts';
import { METADATA_XML, samplePeople, sampleProducts, type Row } from './sample-data.ts';

export interface SampleODataOptions {
  host?: string;
  port?: number;
  verifyAccessToken(token: string): Promise<JWTPayload>;
  /** Server-driven page size; default 10. */
  pageSize?: number;
}

export interface SampleODataService {
  /** The service root, e.g. http://127.0.0.1:PORT/odata */
  url: string;
  readonly requests: number;
  close(): Promise<void>;
}

const ROOT_PATH = '/odata';
const JSON_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
const SUPPORTED_OPTIONS = new Set(['$top', '$skip', '$count', '$select', '$skiptoken', '$format']);
// Ignoring these would silently return the wrong rows to a client that folded a filter or sort into the URL.
const UNIMPLEMENTED_OPTIONS = new Set(['$filter', '$orderby', '$expand', '$search', '$apply', '$compute', '$levels', '$deltatoken']);
const INVALID_TOKEN = { 'www-authenticate': 'Bearer error="invalid_token"' };

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

interface ResourceQuery {
  top: number | undefined;
  skip: number;
  skipToken: number;
  count: boolean;
  select: string[] | undefined;
  /** The request's own query parts, verbatim, minus $skiptoken: what a nextLink carries forward. */
  carried: string[];
}

/**
 * A small OData v4 service, as real ones behave: it demands a valid bearer token and its
 * server-driven paging links are absolute URLs on its own origin, which is exactly what
 * the proxy must rewrite for Power BI to stay on the proxy.
 */
export async function startSampleODataService(options: SampleODataOptions): Promise<SampleODataService> {
  const pageSize = options.pageSize ?? 10;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a positive integer, not ${pageSize}`);
  const sets = new Map<string, readonly Row[]>([
    ['People', samplePeople()],
    ['Products', sampleProducts()],
  ]);
  let root = '';
  let requests = 0;

  const respond = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const token = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) throw new ODataError(401, 'InvalidToken', 'A bearer token is required.', INVALID_TOKEN);
    await options.verifyAccessToken(token).catch(() => {
      throw new ODataError(401, 'InvalidToken', 'The bearer token is not valid.', INVALID_TOKEN);
    });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new ODataError(405, 'MethodNotAllowed', `${req.method} is not supported by this read-only service.`, { allow: 'GET, HEAD' });
    }

    const target = req.url ?? '/';
    const queryStart = target.indexOf('?');
    const rawPath = queryStart < 0 ? target : target.slice(0, queryStart);
    const rawQuery = queryStart < 0 ? '' : target.slice(queryStart + 1);
    const path = decodePath(rawPath);
    if (path !== ROOT_PATH && !path.startsWith(`${ROOT_PATH}/`)) throw new ODataError(404, 'NotFound', `No resource at ${rawPath}; the service root is ${ROOT_PATH}/.`);
    const resource = path.slice(ROOT_PATH.length);

    if (resource === '' || resource === '/') {
      const value = [...sets.keys()].map((name) => ({ name, kind: 'EntitySet', url: name }));
      return send(req, res, 200, JSON_TYPE, JSON.stringify({ '@odata.context': `${root}/$metadata`, value }));
    }
    if (resource === '/$metadata') return send(req, res, 200, 'application/xml', METADATA_XML);

    const match = /^\/(\w+)(?:\((?:Id=)?(\d{1,9})\))?(\/\$count)?$/.exec(resource);
    const setName = match?.[1];
    const rows = setName === undefined ? undefined : sets.get(setName);
    if (!match || setName === undefined || !rows) throw new ODataError(404, 'NotFound', `No resource at ${rawPath}.`);
    const [, , key, count] = match;
    if (count !== undefined) {
      if (key !== undefined) throw new ODataError(404, 'NotFound', `No resource at ${rawPath}.`);
      return send(req, res, 200, 'text/plain;charset=utf-8', String(rows.length));
    }

    const query = parseQuery(rawQuery, Object.keys(rows[0] ?? {}));
    const project = (row: Row): Row => (query.select ? Object.fromEntries(query.select.map((name) => [name, row[name]!])) : row);
    const context = `${root}/$metadata#${setName}${query.select ? `(${query.select.join(',')})` : ''}`;
    if (key !== undefined) {
      const row = rows.find((candidate) => candidate.Id === Number(key));
      if (!row) throw new ODataError(404, 'NotFound', `${setName}(${key}) does not exist.`);
      return send(req, res, 200, JSON_TYPE, JSON.stringify({ '@odata.context': `${context}/$entity`, ...project(row) }));
    }

    const requested = rows.slice(query.skip, query.top === undefined ? undefined : query.skip + query.top);
    const page = requested.slice(query.skipToken, query.skipToken + pageSize);
    const body: Record<string, unknown> = { '@odata.context': context };
    // OData §11.2.6.5: the count ignores $top and $skip.
    if (query.count) body['@odata.count'] = rows.length;
    body.value = page.map(project);
    if (query.skipToken + pageSize < requested.length) {
      // Built from the service's own origin, never the Host header: real services do this, and the proxy must cope.
      body['@odata.nextLink'] = `${root}/${setName}?${[...query.carried, `$skiptoken=${query.skipToken + pageSize}`].join('&')}`;
    }
    return send(req, res, 200, JSON_TYPE, JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    requests++;
    respond(req, res).catch((error: unknown) => {
      const failure = error instanceof ODataError ? error : new ODataError(500, 'InternalError', 'The sample service failed.');
      if (res.headersSent) return void res.destroy();
      send(req, res, failure.status, JSON_TYPE, JSON.stringify({ error: { code: failure.code, message: failure.message } }), failure.headers);
    });
  });
  root = `${await listenOn(server, options.port ?? 0, options.host ?? '127.0.0.1')}${ROOT_PATH}`;

  return {
    url: root,
    get requests() {
      return requests;
    },
    close: () => closeNow(server),
  };
}

/**
 * Reads the system query options, refusing what it cannot honour. The raw parts are kept
 * so a nextLink repeats the client's query byte for byte instead of a re-encoding of it.
 */
function parseQuery(rawQuery: string, properties: readonly string[]): ResourceQuery {
  const values = new Map<string, string>();
  const carried: string[] = [];
  for (const raw of rawQuery.split('&')) {
    if (raw === '') continue;
    const [name = '', value = ''] = [...new URLSearchParams(raw)][0] ?? [];
    // Options without "$" are custom options, which a service may ignore.
    if (name.startsWith('$')) {
      const option = name.toLowerCase();
      if (UNIMPLEMENTED_OPTIONS.has(option)) throw new ODataError(501, 'NotImplemented', `${name} is not supported by this sample service.`);
      if (!SUPPORTED_OPTIONS.has(option)) throw new ODataError(400, 'BadRequest', `Unknown system query option ${name}.`);
      if (values.has(option)) throw new ODataError(400, 'BadRequest', `${name} is given more than once.`);
      values.set(option, value);
      if (option === '$skiptoken') continue;
    }
    carried.push(raw);
  }

  const format = values.get('$format');
  if (format !== undefined && format !== 'json' && !format.startsWith('application/json')) {
    throw new ODataError(406, 'NotAcceptable', `$format=${format} is not available; this service speaks JSON.`);
  }
  const count = values.get('$count');
  if (count !== undefined && count !== 'true' && count !== 'false') throw new ODataError(400, 'BadRequest', `$count must be true or false, not "${count}".`);
  let select: string[] | undefined;
  const selectText = values.get('$select');
  if (selectText !== undefined) {
    const names = selectText.split(',').map((name) => name.trim());
    const unknown = names.find((name) => name !== '*' && !properties.includes(name));
    if (unknown !== undefined) throw new ODataError(400, 'BadRequest', `$select names an unknown property "${unknown}".`);
    // "*" means every property, which is what no $select means too.
    select = names.includes('*') ? undefined : [...new Set(names)];
  }
  return {
    top: nonNegative(values, '$top'),
    skip: nonNegative(values, '$skip') ?? 0,
    skipToken: nonNegative(values, '$skiptoken') ?? 0,
    count: count === 'true',
    select,
    carried,
  };
}

function nonNegative(values: ReadonlyMap<string, string>, name: string): number | undefined {
  const text = values.get(name);
  if (text === undefined) return undefined;
  // Nine digits stay well inside a safe integer and reject absurd offsets without arithmetic surprises.
  if (!/^\d{1,9}$/.test(text)) throw new ODataError(400, 'BadRequest', `${name} must be a non-negative integer, not "${text}".`);
  return Number(text);
}

function decodePath(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    throw new ODataError(400, 'BadRequest', `The path ${rawPath} is not validly percent-encoded.`);
  }
}

function send(req: IncomingMessage, res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  sendText(res, status, contentType, body, { method: req.method, headers: { 'odata-version': '4.0', ...headers } });
}
