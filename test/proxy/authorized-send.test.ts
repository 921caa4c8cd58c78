import { Readable } from 'node:stream';
import t from 'tap';
import { authorizedSend, rejectedToken } from '../../src/proxy/authorized-send.ts';
import { TokenProvider } from '../../src/tokens/provider.ts';
import type { AccessToken } from '../../src/tokens/token.ts';
import { REPLAY_BODY_LIMIT } from '../../src/proxy/request-body.ts';
import { startStack } from '../helpers/stack.ts';

async function errorOf(response: Response) {
  return ((await response.json()) as { error: { code: string; message: string; route?: string; requestId: string } }).error;
}

t.test('the upstream rejects a token once: the client sees 200 and the IdP one extra fetch', async (t) => {
  const { idp, upstream, proxy } = await startStack(t, { upstream: { rejectTokens: (_claims, attempt) => attempt === 1 } });
  const response = await fetch(`${proxy.url}/api/People`);
  t.equal(response.status, 200);
  await response.arrayBuffer();
  t.equal(idp.tokenRequests.length, 2, 'one fetch, then exactly one more after the 401');
  t.equal(upstream.requests.length, 2);
  t.not(upstream.requests[0]!.headers.authorization, upstream.requests[1]!.headers.authorization, 'the retry carried the new token');
  const access = proxy.logs.find((line) => line.msg === 'request');
  t.equal(access?.retriedWithNewToken, true);
});

t.test('the upstream rejects every token: 502 UPSTREAM_REJECTED_TOKEN, never its 401 or Bearer challenge', async (t) => {
  const { idp, upstream, proxy } = await startStack(t, { upstream: { rejectTokens: () => true } });
  const response = await fetch(`${proxy.url}/api/People`);
  t.equal(response.status, 502);
  t.equal(response.headers.get('www-authenticate'), null, 'no challenge that would start a sign-in in Power Query');
  const error = await errorOf(response);
  t.equal(error.code, 'UPSTREAM_REJECTED_TOKEN');
  t.match(error.message, /token revoked/, 'the upstream’s own description');
  t.equal(error.route, '/api');
  t.equal(upstream.requests.length, 2, 'retried once, no loop');
  t.equal(idp.tokenRequests.length, 2);

  const chunked = await fetch(`${proxy.url}/api/People`, { method: 'POST', body: Readable.toWeb(Readable.from(['x'])) as ReadableStream, duplex: 'half' });
  t.equal(chunked.status, 502, 'a streamed body of unknown length is not replayed');
  t.equal((await errorOf(chunked)).code, 'UPSTREAM_REJECTED_TOKEN');
  t.equal(upstream.requests.length, 3, 'sent once, not twice');
});

t.test('a small body such as an OData $batch is replayed after a 401, byte for byte', async (t) => {
  const { idp, upstream, proxy } = await startStack(t, { upstream: { rejectTokens: (_claims, attempt) => attempt === 1 } });
  const batch = '--batch_1\r\nContent-Type: application/http\r\n\r\nGET People HTTP/1.1\r\n\r\n--batch_1--\r\n';
  const response = await fetch(`${proxy.url}/api/$batch`, { method: 'POST', body: batch, headers: { 'content-type': 'multipart/mixed; boundary=batch_1' } });
  t.equal(response.status, 200);
  t.equal(((await response.json()) as { bodyLength: number }).bodyLength, Buffer.byteLength(batch));
  t.same(
    upstream.requests.map((request) => request.body.toString()),
    [batch, batch],
    'the same body both times',
  );
  t.equal(idp.tokenRequests.length, 2);
});

t.test('a body over the replay limit streams through and is not replayed', async (t) => {
  const { upstream, proxy } = await startStack(t, { upstream: { rejectTokens: () => true } });
  const large = Buffer.alloc(REPLAY_BODY_LIMIT + 1, 'a');
  const response = await fetch(`${proxy.url}/api/upload`, { method: 'POST', body: large });
  t.equal(response.status, 502);
  t.equal(upstream.requests.length, 1);
  t.equal(upstream.requests[0]!.body.length, REPLAY_BODY_LIMIT + 1, 'the whole body arrived once');
});

t.test('callers that keep getting 401s from the upstream cost one IdP fetch, not one each', async (t) => {
  // A wrong API key in a query, or a resource outside the token's scope: the upstream
  // answers 401 whatever the token, and any caller can make it do so.
  const { idp, upstream, proxy } = await startStack(t, { upstream: { rejectTokens: () => true } });
  const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${proxy.url}/api/fn?code=wrong`).then(async (response) => ({ status: response.status, error: await errorOf(response) }))));
  t.same([...new Set(answers.map((answer) => `${answer.status} ${answer.error.code}`))], ['502 UPSTREAM_REJECTED_TOKEN']);
  t.equal(idp.tokenRequests.length, 2, 'the first token, and one more after the first 401');
  t.ok(upstream.requests.length <= 40, 'each sent at most twice (those that held the dropped token retry with the new one)');
  const later = await errorOf(await fetch(`${proxy.url}/api/fn?code=wrong`));
  t.match(later.message, /a new token was fetched after another 401 moments ago/, 'the message says why no new token was tried');
});

/** The policy on its own: a real provider over a counting source, and attempts that answer what the test says. */
function policyRig(statuses: number[]) {
  let issued = 0;
  const now = 1_000_000;
  const provider = new TokenProvider({ name: 'lake', fetchToken: async () => ({ value: `t${++issued}`, tokenType: 'bearer', obtainedAt: now, expiresAt: now + 600_000 }) }, { now: () => now });
  const sentWith: string[] = [];
  const send = async (token: AccessToken) => {
    sentWith.push(token.value);
    return { statusCode: statuses.shift() ?? 200 };
  };
  return { provider, send, sentWith, issued: () => issued };
}

t.test('authorizedSend: a 200 is sent once with the cached token', async (t) => {
  const rig = policyRig([200]);
  const result = await authorizedSend(rig.provider, true, rig.send);
  t.same([result.attempt.statusCode, result.retried, result.renewed], [200, false, undefined]);
  t.same(rig.sentWith, ['t1']);
});

t.test('authorizedSend: a 401 drops the token and a replayable request goes again with a fresh one', async (t) => {
  const rig = policyRig([401, 200]);
  const result = await authorizedSend(rig.provider, true, rig.send);
  t.same([result.attempt.statusCode, result.retried], [200, true]);
  t.same(rig.sentWith, ['t1', 't2'], 'the second attempt carries the new token');
});

t.test('authorizedSend: a request with a streamed body is not replayed, but its token is still dropped', async (t) => {
  const rig = policyRig([401]);
  const result = await authorizedSend(rig.provider, false, rig.send);
  t.same([result.attempt.statusCode, result.retried, result.renewed], [401, false, true]);
  t.same(rig.sentWith, ['t1']);
  await authorizedSend(rig.provider, false, rig.send);
  t.equal(rig.issued(), 2, 'the next request fetched a new token');
});

t.test('authorizedSend: a second 401 soon after costs no fetch, and says so', async (t) => {
  const rig = policyRig([401, 401, 401]);
  const first = await authorizedSend(rig.provider, true, rig.send);
  t.same([first.retried, first.attempt.statusCode], [true, 401], 'refused twice, the second a fresh token');
  const second = await authorizedSend(rig.provider, true, rig.send);
  t.same([second.retried, second.renewed], [false, false], 'the fresh token is kept: one was dropped moments ago');
  t.equal(rig.issued(), 2);
  t.match(rejectedToken('lake', first, 'expired').message, /rejected the access token from "lake" twice, the second a freshly fetched one: expired/);
  t.match(rejectedToken('lake', second, undefined).message, /moments ago, so none is fetched now\)\.$/);
  t.equal(rejectedToken('lake', second, undefined).code, 'UPSTREAM_REJECTED_TOKEN');
});
