import { createServer } from 'node:http';
import t from 'tap';
import { ERRORS, errorBody, ProxyError, sendError } from '../src/errors.ts';
import { closeServer, listen } from './helpers/listen.ts';

t.test('every code has a status and a message', async (t) => {
  for (const [code, { status, message }] of Object.entries(ERRORS)) {
    t.ok(status >= 400 && status < 600, `${code} status`);
    t.ok(message.length > 10, `${code} message`);
  }
  t.equal(new ProxyError('UPSTREAM_TIMEOUT').status, 504);
  t.equal(new ProxyError('TOKEN_UNAVAILABLE').status, 503);
});

t.test('the OData-style body', async (t) => {
  const error = new ProxyError('NO_ROUTE', 'nothing at /x');
  t.same(JSON.parse(errorBody(error, { requestId: 'r1' })), { error: { code: 'NO_ROUTE', message: 'nothing at /x', requestId: 'r1' } });
  t.same(JSON.parse(errorBody(error, { requestId: 'r1', route: '/a' })).error.route, '/a');
});

t.test('sendError writes status, headers and body; a response under way is cut off', async (t) => {
  const server = createServer((req, res) => {
    if (req.url === '/late') {
      res.writeHead(200);
      res.write('partial');
    }
    sendError(res, new ProxyError('TOKEN_UNAVAILABLE', undefined, { headers: { 'retry-after': '5' } }), { requestId: 'r2', route: '/a' });
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  const response = await fetch(url);
  t.equal(response.status, 503);
  t.equal(response.headers.get('retry-after'), '5');
  t.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
  t.equal(response.headers.get('x-request-id'), 'r2');
  t.equal(((await response.json()) as { error: { code: string } }).error.code, 'TOKEN_UNAVAILABLE');
  await t.rejects(
    fetch(`${url}/late`).then((late) => late.text()),
    'the client sees a broken response, never a clean one with an error glued on',
  );
});
