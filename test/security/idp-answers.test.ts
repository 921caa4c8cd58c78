import { gzipSync } from 'node:zlib';
import t from 'tap';
import { configSchema, type TokenSourceConfig } from '../../src/config/schema.ts';
import { ProxyError } from '../../src/errors.ts';
import { IDP_ANSWER_LIMIT } from '../../src/tokens/bounded-fetch.ts';
import { createClientCredentialsSource } from '../../src/tokens/client-credentials.ts';
import { startProxy } from '../helpers/proxy.ts';
import { startScriptedIdp, streamHugeJson, tokenAnswer } from '../helpers/scripted-idp.ts';
import { startUpstream } from '../helpers/upstream.ts';

/*
 * An IdP answer is read through a size limit, token and discovery alike: one that is too
 * large is refused as TOKEN_FETCH_FAILED without the rest being read. Without the limit, a
 * 1 GiB answer was read whole (115 MB → 2.2 GB RSS, bench/hostile-peers.ts idp-memory).
 */

const clock = { now: () => Date.now() };

function source(input: Record<string, unknown>): TokenSourceConfig {
  return configSchema.parse({ tokens: { s: { clientId: 'c', clientSecret: 'secret-0451', allowInsecure: true, ...input } }, routes: { '/r': { target: 'https://x.test', token: 's' } } }).tokens.s!;
}

async function failure(promise: Promise<unknown>): Promise<ProxyError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProxyError) return error;
    throw error;
  }
  throw new Error('expected the token fetch to fail');
}

const LIMIT = /larger than 1 MiB; it was refused without reading the rest/;

t.test('every way of sending too much is refused at the limit, with a clear TOKEN_FETCH_FAILED', async (t) => {
  const over = IDP_ANSWER_LIMIT + 1;
  const cases: Array<[string, Parameters<typeof startScriptedIdp>[1]]> = [
    ['a chunked 64 MiB token answer (no Content-Length to warn of it)', (_req, res) => streamHugeJson(res, 64)],
    [
      'a Content-Length of 1 GiB (nothing of it needs reading)',
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 ** 3) });
        res.write('{"access_token":"');
      },
    ],
    [
      'one byte over the limit, with an honest Content-Length',
      (_req, res) => {
        const body = JSON.stringify({ access_token: 'a'.repeat(over), token_type: 'Bearer' });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
      },
    ],
    [
      'a small gzip answer that inflates to 32 MiB',
      (_req, res) => {
        const bomb = gzipSync(JSON.stringify({ access_token: 'a'.repeat(32 * 1024 * 1024), token_type: 'Bearer' }));
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(bomb.length) });
        res.end(bomb);
      },
    ],
    ['a 4 MiB OAuth error answer', (_req, res) => tokenAnswer(res, { error: 'invalid_client', error_description: 'x'.repeat(4 * 1024 * 1024) }, 400)],
    [
      'a 4 MiB server error page',
      (_req, res) => {
        res.writeHead(500, { 'content-type': 'text/html' });
        res.end('<p>'.padEnd(4 * 1024 * 1024, 'x'));
      },
    ],
  ];
  for (const [name, script] of cases) {
    const idp = await startScriptedIdp(t, script);
    const error = await failure(createClientCredentialsSource('s', source({ tokenUrl: idp.tokenUrl }), { clock }).fetchToken());
    t.equal(error.code, 'TOKEN_FETCH_FAILED', `${name}: TOKEN_FETCH_FAILED`);
    t.match(error.message, LIMIT, `${name}: says why`);
  }
});

t.test('a huge answer is cut off, not downloaded: the IdP sees the connection close mid-answer', async (t) => {
  const idp = await startScriptedIdp(t, (_req, res) => streamHugeJson(res, 256));
  const tokens = createClientCredentialsSource('s', source({ tokenUrl: idp.tokenUrl }), { clock });
  for (let attempt = 0; attempt < 3; attempt++) t.match((await failure(tokens.fetchToken())).message, LIMIT, `attempt ${attempt + 1} refused`);
  for (let i = 0; i < 100 && idp.cutOff < 3; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(idp.cutOff, 3, 'each retry stopped reading the 256 MiB answer early');
});

t.test('discovery documents are bounded too', async (t) => {
  const idp = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { access_token: 'never', token_type: 'Bearer' }), {
    discovery: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: 'x', token_endpoint: 'y', padding: 'p'.repeat(2 * 1024 * 1024) }));
    },
  });
  const error = await failure(createClientCredentialsSource('s', source({ issuer: idp.issuer }), { clock }).fetchToken());
  t.equal(error.code, 'TOKEN_FETCH_FAILED');
  t.match(error.message, LIMIT);
  t.equal(idp.tokenRequests.length, 0, 'the token endpoint was never asked');
});

t.test('answers below the limit are unaffected, compressed or not', async (t) => {
  const token = 'b'.repeat(200_000);
  for (const gzip of [false, true]) {
    const idp = await startScriptedIdp(t, (_req, res) => {
      const body = Buffer.from(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 60 }));
      res.writeHead(200, { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
      res.end(gzip ? gzipSync(body) : body);
    });
    const fetched = await createClientCredentialsSource('s', source({ tokenUrl: idp.tokenUrl }), { clock }).fetchToken();
    t.equal(fetched.value, token, `a 200 KB token${gzip ? ', gzip' : ''}`);
  }
});

t.test('through the proxy: a client gets a small 502 TOKEN_FETCH_FAILED, not a crash or a stall', async (t) => {
  const idp = await startScriptedIdp(t, (_req, res) => streamHugeJson(res, 128));
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const proxy = await startProxy({
    tokens: { s: { tokenUrl: idp.tokenUrl, clientId: 'c', clientSecret: 'secret-0451', allowInsecure: true } },
    routes: { '/api': { target: upstream.url, token: 's' } },
  });
  t.teardown(() => proxy.close());
  const response = await fetch(`${proxy.url}/api/x`);
  const body = await response.text();
  t.equal(response.status, 502);
  t.match(JSON.parse(body), { error: { code: 'TOKEN_FETCH_FAILED', message: LIMIT } });
  t.ok(body.length < 1000, `the error body is small (${body.length} bytes)`);
  t.equal(upstream.requests.length, 0);
});
