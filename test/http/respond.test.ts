import { createServer } from 'node:http';
import t from 'tap';
import { sendJson, sendText } from '../../src/http/respond.ts';
import { closeServer, listen } from '../helpers/listen.ts';

t.test('complete responses with their byte length; HEAD gets the headers only', async (t) => {
  const server = createServer((req, res) => {
    if (req.url === '/json') sendJson(res, 201, { text: 'ünï' }, { method: req.method, headers: { 'cache-control': 'no-store' } });
    else sendText(res, 200, 'text/html; charset=utf-8', '<p>ü</p>', { method: req.method });
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  const json = await fetch(`${url}/json`);
  t.equal(json.status, 201);
  t.equal(json.headers.get('content-type'), 'application/json; charset=utf-8');
  t.equal(json.headers.get('cache-control'), 'no-store');
  t.equal(json.headers.get('content-length'), String(Buffer.byteLength('{"text":"ünï"}')), 'bytes, not characters');
  t.same(await json.json(), { text: 'ünï' });
  const head = await fetch(`${url}/html`, { method: 'HEAD' });
  t.equal(head.headers.get('content-length'), String(Buffer.byteLength('<p>ü</p>')));
  t.equal(await head.text(), '');
});
