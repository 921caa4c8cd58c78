import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { UpstreamHandler } from './upstream.ts';

/** The rows every dialect below serves, in pages. */
export const PEOPLE = Array.from({ length: 23 }, (_, index) => ({ id: index + 1, name: `Person ${index + 1}` }));
const PAGE_SIZE = 5;

/**
 * An OData service in three dialects under one base URL, writing absolute URLs the way real
 * services do: v4 JSON (/v4), v2 verbose JSON (/v2) and an Atom feed (/atom), each paged
 * with absolute next links; gzip whenever the client accepts it. /v4 also serves $metadata,
 * $count, $batch and an OData error, so pass-through can be checked byte for byte.
 */
export const odataService: UpstreamHandler = (req, res, ctx) => {
  const url = new URL(req.url ?? '/', 'http://upstream.invalid');
  const base = ctx.baseUrl;
  const skip = Number(url.searchParams.get('$skiptoken') ?? 0);
  const pageSize = Number(/odata\.maxpagesize=(\d+)/.exec(String(req.headers.prefer ?? ''))?.[1] ?? PAGE_SIZE);
  const page = PEOPLE.slice(skip, skip + pageSize);
  const next = skip + pageSize < PEOPLE.length ? skip + pageSize : undefined;

  switch (url.pathname) {
    case '/v4/People': {
      const body = {
        '@odata.context': `${base}/v4/$metadata#People`,
        value: page.map((person) => ({
          '@odata.id': `${base}/v4/People(${person.id})`,
          '@odata.editLink': `${base}/v4/People(${person.id})`,
          'Friends@odata.navigationLink': `${base}/v4/People(${person.id})/Friends`,
          Id: person.id,
          Name: person.name,
        })),
        ...(next !== undefined ? { '@odata.nextLink': `${base}/v4/People?$skiptoken=${next}` } : {}),
      };
      const extra: Record<string, string> = { 'odata-version': '4.0' };
      if (req.headers.prefer) extra['preference-applied'] = `odata.maxpagesize=${pageSize}`;
      if (next !== undefined) extra.link = `<${base}/v4/People?$skiptoken=${next}>; rel="next"`;
      return send(req, res, 200, 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8', JSON.stringify(body), extra);
    }
    case '/v4/$metadata':
      return send(
        req,
        res,
        200,
        'application/xml',
        `<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="Demo" xmlns="http://docs.oasis-open.org/odata/ns/edm"><EntityType Name="Person"><Key><PropertyRef Name="Id"/></Key><Property Name="Id" Type="Edm.Int32" Nullable="false"/><Property Name="Name" Type="Edm.String"/></EntityType><EntityContainer Name="C"><EntitySet Name="People" EntityType="Demo.Person"/></EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`,
        { 'odata-version': '4.0' },
      );
    case '/v4/People/$count':
      return send(req, res, 200, 'text/plain;charset=utf-8', String(PEOPLE.length), { 'odata-version': '4.0' });
    case '/v4/$batch': {
      // Answers each part's request line, so the test sees the multipart body arrived intact.
      const boundary = /boundary=([^;]+)/.exec(String(req.headers['content-type']))?.[1] ?? 'none';
      const lines = ctx.body
        .toString('utf8')
        .split('\r\n')
        .filter((line) => /^(GET|POST|PATCH|DELETE) /.test(line));
      const parts = lines.map((line) => `--batchresponse_1\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n${line}\r\n`).join('');
      return send(req, res, 200, 'multipart/mixed; boundary=batchresponse_1', `${parts}--batchresponse_1--\r\n`, { 'odata-version': '4.0', 'x-request-boundary': boundary });
    }
    case '/v4/Broken':
      return send(
        req,
        res,
        400,
        'application/json;odata.metadata=minimal',
        JSON.stringify({ error: { code: 'BadRequest', message: "The query specified in the URI is not valid. Could not find a property named 'Nme'." } }),
        { 'odata-version': '4.0' },
      );
    case '/v2/People': {
      const results = page.map((person) => ({
        __metadata: { id: `${base}/v2/People(${person.id})`, uri: `${base}/v2/People(${person.id})`, type: 'Demo.Person' },
        Id: person.id,
        Name: person.name,
        Friends: { __deferred: { uri: `${base}/v2/People(${person.id})/Friends` } },
      }));
      const d = { results, ...(next !== undefined ? { __next: `${base}/v2/People?$skiptoken=${next}` } : {}) };
      return send(req, res, 200, 'application/json;charset=utf-8', JSON.stringify({ d }), { dataserviceversion: '2.0' });
    }
    case '/atom/People': {
      const entries = page
        .map(
          (person) =>
            `<entry><id>${base}/atom/People(${person.id})</id><title type="text">${person.name}</title><link rel="edit" href="People(${person.id})"/><content type="application/xml"><m:properties><d:Id>${person.id}</d:Id><d:Name>${person.name}</d:Name></m:properties></content></entry>`,
        )
        .join('');
      const nextLink = next !== undefined ? `<link rel="next" href="${base}/atom/People?$skiptoken=${next}"/>` : '';
      const feed = `<?xml version="1.0" encoding="utf-8"?><feed xml:base="${base}/atom/" xmlns="http://www.w3.org/2005/Atom" xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><id>${base}/atom/People</id>${entries}${nextLink}</feed>`;
      return send(req, res, 200, 'application/atom+xml;type=feed;charset=utf-8', feed, { dataserviceversion: '2.0' });
    }
    default:
      return send(req, res, 404, 'application/json', JSON.stringify({ error: { code: 'NotFound', message: `no ${url.pathname}` } }));
  }
};

function send(req: IncomingMessage, res: ServerResponse, status: number, contentType: string, text: string, extra: Record<string, string> = {}): void {
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gzip ? gzipSync(text) : Buffer.from(text, 'utf8');
  res.writeHead(status, { 'content-type': contentType, 'content-length': body.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}), ...extra });
  res.end(req.method === 'HEAD' ? undefined : body);
}
