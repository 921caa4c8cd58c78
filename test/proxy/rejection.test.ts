import { createServer } from 'node:http';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { rejectionReason } from '../../src/proxy/rejection.ts';
import { closeServer, listen } from '../helpers/listen.ts';

/** A real 401 as an upstream sends it, read through undici as the proxy reads it. */
async function refusal(t: Test, headers: Record<string, string>, body: string) {
  const server = createServer((_req, res) => res.writeHead(401, headers).end(body));
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return rejectionReason(await request(url));
}

t.test('the upstream’s own words for a 401', async (t) => {
  t.equal(await refusal(t, { 'www-authenticate': 'Bearer error="invalid_token", error_description="The token expired"' }, ''), 'The token expired', 'from the challenge');
  t.equal(await refusal(t, { 'content-type': 'application/json' }, JSON.stringify({ error: { code: '401', message: 'Audience is wrong' } })), 'Audience is wrong', 'from an OData error body');
  t.equal(await refusal(t, {}, JSON.stringify({ error: 'invalid_token', error_description: 'Signature failed' })), 'Signature failed', 'from an OAuth error body');
  t.equal(await refusal(t, {}, 'Unauthorized'), undefined, 'plain text says nothing usable');
  t.equal((await refusal(t, {}, JSON.stringify({ message: 'x'.repeat(5000) })))!.length, 300, 'bounded');
  t.equal(await refusal(t, {}, `{"message":"${'y'.repeat(20_000)}"}`), undefined, 'a body past the read limit is not parsed');
});
