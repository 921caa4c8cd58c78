import { createServer, type ServerResponse } from 'node:http';
import t, { type Test } from 'tap';
import { ERRORS, errorBody, errorBodyXml, isProxyError, prefersXml, ProxyError, rawErrorResponse, sendError, type ErrorCode } from '../src/errors.ts';
import { closeServer, listen } from './helpers/listen.ts';

t.test('every code has its status from the design', async (t) => {
  const expected: Record<ErrorCode, number> = {
    AUTH_REQUIRED: 401,
    AUTH_INVALID: 401,
    AUTH_BUSY: 503,
    AUTH_THROTTLED: 429,
    NO_ROUTE: 404,
    BAD_REQUEST: 400,
    HOST_NOT_ALLOWED: 403,
    CROSS_SITE_REQUEST: 403,
    METHOD_NOT_ALLOWED: 405,
    REQUEST_TIMEOUT: 408,
    HEADERS_TOO_LARGE: 431,
    TOKEN_FETCH_FAILED: 502,
    TOKEN_UNAVAILABLE: 503,
    UPSTREAM_REJECTED_TOKEN: 502,
    UPSTREAM_UNREACHABLE: 502,
    UPSTREAM_TIMEOUT: 504,
    INTERNAL: 500,
  };
  t.same(Object.keys(ERRORS).sort(), Object.keys(expected).sort(), 'no code without a status, none missing');
  for (const [code, status] of Object.entries(expected) as Array<[ErrorCode, number]>) {
    t.equal(ERRORS[code].status, status, `${code} → ${status}`);
    t.ok(ERRORS[code].message.length > 10, `${code} has a default message`);
    const error = new ProxyError(code);
    t.equal(error.status, status, `new ProxyError('${code}').status`);
    t.equal(error.message, ERRORS[code].message, `${code}: the default message`);
  }
});

t.test('rawErrorResponse: a whole HTTP/1.1 response with the JSON body, closing the connection', async (t) => {
  const text = rawErrorResponse(new ProxyError('HEADERS_TOO_LARGE', 'Too big: ü'), 'req-1');
  const [head, body] = text.split('\r\n\r\n') as [string, string];
  const lines = head.split('\r\n');
  t.equal(lines[0], 'HTTP/1.1 431 Request Header Fields Too Large');
  t.ok(lines.includes(`Content-Length: ${Buffer.byteLength(body)}`), 'the length counts bytes, not characters');
  t.ok(lines.includes('Connection: close'));
  t.ok(lines.includes('X-Request-Id: req-1'));
  t.same(JSON.parse(body), { error: { code: 'HEADERS_TOO_LARGE', message: 'Too big: ü', requestId: 'req-1' } });
  const headOnly = rawErrorResponse(new ProxyError('BAD_REQUEST'), 'req-2', { headOnly: true });
  t.ok(headOnly.endsWith('Connection: close\r\n\r\n'), 'for HEAD: the same head, no body');
  t.match(headOnly, /Content-Length: [1-9]/, 'with the length a GET would get');
});

t.test('ProxyError', async (t) => {
  const cause = new Error('ECONNREFUSED');
  const error = new ProxyError('UPSTREAM_UNREACHABLE', 'cannot reach api.example.com', { cause, headers: { 'retry-after': '5' } });
  t.ok(error instanceof Error);
  t.equal(error.name, 'ProxyError');
  t.equal(error.code, 'UPSTREAM_UNREACHABLE');
  t.equal(error.message, 'cannot reach api.example.com');
  t.equal(error.cause, cause);
  t.same(error.headers, { 'retry-after': '5' });
  t.same(new ProxyError('NO_ROUTE').headers, {}, 'no headers by default');
  t.ok(isProxyError(error));
  t.notOk(isProxyError(new Error('x')));
  t.notOk(isProxyError({ code: 'NO_ROUTE', status: 404 }), 'a look-alike is not one');
});

t.test('errorBody: the OData-style shape', async (t) => {
  const error = new ProxyError('NO_ROUTE', 'nothing at /x');
  t.equal(errorBody(error, { requestId: 'r1' }), '{"error":{"code":"NO_ROUTE","message":"nothing at /x","requestId":"r1"}}', 'no route key without a route');
  t.equal(
    errorBody(new ProxyError('TOKEN_FETCH_FAILED', 'invalid_client'), { requestId: 'r2', route: '/sales' }),
    '{"error":{"code":"TOKEN_FETCH_FAILED","message":"invalid_client","route":"/sales","requestId":"r2"}}',
    'code, message, route, requestId in that order',
  );
  t.same(JSON.parse(errorBody(new ProxyError('BAD_REQUEST', 'quote " and \\ and \n'), { requestId: 'r3' })).error.message, 'quote " and \\ and \n', 'valid JSON whatever the message');
  t.notOk('route' in JSON.parse(errorBody(error, { requestId: 'r1', route: '' })).error, 'an empty route is left out');
});

t.test('errorBodyXml: the OData XML error shape, escaped', async (t) => {
  t.equal(
    errorBodyXml(new ProxyError('NO_ROUTE', 'no <route> & "nothing" \'here\''), { requestId: 'r1', route: '/a&b' }),
    '<?xml version="1.0" encoding="utf-8"?><error xmlns="http://docs.oasis-open.org/odata/ns/metadata"><code>NO_ROUTE</code>' +
      '<message>no &#60;route&#62; &#38; &#34;nothing&#34; &#39;here&#39;</message><target>/a&#38;b</target>' +
      '<innererror><requestId>r1</requestId></innererror></error>',
  );
  t.notMatch(errorBodyXml(new ProxyError('NO_ROUTE'), { requestId: 'r2' }), '<target>', 'no target without a route');
});

t.test('prefersXml: XML only when the client ranks it above JSON', async (t) => {
  const cases: Array<[string | undefined, boolean, string]> = [
    [undefined, false, 'no Accept'],
    ['*/*', false, 'anything'],
    [
      'application/json;odata.metadata=minimal;q=1.0,application/json;odata=fullmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7',
      false,
      'what Power Query sends',
    ],
    ['application/xml', true, '$metadata'],
    ['application/atom+xml,application/atomsvc+xml,application/xml', true, 'an Atom client'],
    ['application/xml;q=0.5, application/json;q=0.9', false, 'JSON weighted higher'],
    ['application/json;q=0.2, text/xml', true, 'XML weighted higher'],
    ['application/xml, */*;q=0.1', true, 'XML, then anything'],
    ['application/json;q=0, application/xml;q=0.1', true, 'JSON refused'],
  ];
  for (const [accept, expected, name] of cases) t.equal(prefersXml(accept), expected, name);
});

/** A server whose handler is given per request path. */
async function errorServer(t: Test, handlers: Record<string, (res: ServerResponse) => void>): Promise<string> {
  const server = createServer((req, res) => {
    const handler = handlers[req.url ?? ''];
    if (handler) handler(res);
    else res.writeHead(418).end();
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return url;
}

t.test('sendError writes status, headers and body', async (t) => {
  const url = await errorServer(t, {
    '/unavailable': (res) => sendError(res, new ProxyError('TOKEN_UNAVAILABLE', undefined, { headers: { 'retry-after': '5' } }), { requestId: 'r2', route: '/a' }),
    '/challenge': (res) => sendError(res, new ProxyError('AUTH_REQUIRED', undefined, { headers: { 'www-authenticate': 'Basic realm="bearer-proxy", charset="UTF-8"' } }), { requestId: 'r3' }),
    '/override': (res) => sendError(res, new ProxyError('NO_ROUTE', 'ünïcödé', { headers: { 'content-type': 'text/html', 'x-request-id': 'forged' } }), { requestId: 'r4' }),
    '/xml': (res) => sendError(res, new ProxyError('UPSTREAM_TIMEOUT', 'slow ünïcödé'), { requestId: 'r6', accept: 'application/xml' }),
  });

  const xml = await fetch(`${url}/xml`);
  t.equal(xml.status, 504);
  t.equal(xml.headers.get('content-type'), 'application/xml; charset=utf-8', 'XML for a client that asked for XML');
  const xmlText = Buffer.from(await xml.arrayBuffer());
  t.equal(xml.headers.get('content-length'), String(xmlText.length));
  t.match(xmlText.toString('utf8'), /<code>UPSTREAM_TIMEOUT<\/code><message>slow ünïcödé<\/message>/);

  const unavailable = await fetch(`${url}/unavailable`);
  t.equal(unavailable.status, 503);
  t.equal(unavailable.headers.get('retry-after'), '5', 'Retry-After from the error’s headers');
  t.equal(unavailable.headers.get('content-type'), 'application/json; charset=utf-8');
  t.equal(unavailable.headers.get('x-request-id'), 'r2');
  t.equal(unavailable.headers.get('cache-control'), 'no-store');
  const text = await unavailable.text();
  t.equal(unavailable.headers.get('content-length'), String(Buffer.byteLength(text)));
  t.same(JSON.parse(text), { error: { code: 'TOKEN_UNAVAILABLE', message: ERRORS.TOKEN_UNAVAILABLE.message, route: '/a', requestId: 'r2' } });

  const challenge = await fetch(`${url}/challenge`);
  t.equal(challenge.status, 401);
  t.equal(challenge.headers.get('www-authenticate'), 'Basic realm="bearer-proxy", charset="UTF-8"');
  t.same(await challenge.json(), { error: { code: 'AUTH_REQUIRED', message: ERRORS.AUTH_REQUIRED.message, requestId: 'r3' } });

  const override = await fetch(`${url}/override`);
  t.equal(override.headers.get('content-type'), 'application/json; charset=utf-8', 'the body’s type cannot be overridden');
  t.equal(override.headers.get('x-request-id'), 'r4', 'nor the request id');
  const body = Buffer.from(await override.arrayBuffer());
  t.equal(override.headers.get('content-length'), String(body.length), 'content-length counts bytes, not characters');
  t.equal(JSON.parse(body.toString('utf8')).error.message, 'ünïcödé');
});

t.test('sendError on a response already under way cuts it off', async (t) => {
  const url = await errorServer(t, {
    '/late': (res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      // Once the head and a first chunk are on the wire, the error can no longer be a response of its own.
      res.write('partial', () => sendError(res, new ProxyError('UPSTREAM_UNREACHABLE'), { requestId: 'r5' }));
    },
  });
  const response = await fetch(`${url}/late`);
  t.equal(response.status, 200, 'the status already sent stands');
  await t.rejects(response.text(), 'the client sees a broken response, never a clean one with an error glued on');
});
