import { createServer } from 'node:http';
import t, { type Test } from 'tap';
import { Agent } from 'undici';
import { exchange } from '../../src/proxy/exchange.ts';
import { RejectionSink } from '../../src/proxy/rejection.ts';
import { closeServer, listen } from '../helpers/listen.ts';

/** A real 401 as an upstream sends it, taken in as the proxy takes it in. */
async function refusal(t: Test, headers: Record<string, string>, body: string) {
  const server = createServer((_req, res) => res.writeHead(401, headers).end(body));
  const url = new URL(await listen(server));
  const agent = new Agent();
  t.teardown(() => Promise.all([agent.close(), closeServer(server)]));
  const done = await exchange(agent, { origin: url.origin, path: '/', method: 'GET' }, (_status, rawHeaders, control) => new RejectionSink(rawHeaders, control)).done;
  return done.sink.reason();
}

t.test('the upstream’s own words for a 401', async (t) => {
  t.equal(await refusal(t, { 'www-authenticate': 'Bearer error="invalid_token", error_description="The token expired"' }, ''), 'The token expired', 'from the challenge');
  t.equal(await refusal(t, { 'content-type': 'application/json' }, JSON.stringify({ error: { code: '401', message: 'Audience is wrong' } })), 'Audience is wrong', 'from an OData error body');
  t.equal(await refusal(t, {}, JSON.stringify({ error: 'invalid_token', error_description: 'Signature failed' })), 'Signature failed', 'from an OAuth error body');
  t.equal(await refusal(t, {}, 'Unauthorized'), undefined, 'plain text says nothing usable');
  t.equal((await refusal(t, {}, JSON.stringify({ message: 'x'.repeat(5000) })))!.length, 300, 'bounded');
  t.equal(await refusal(t, {}, `{"message":"${'y'.repeat(20_000)}"}`), undefined, 'a body past the read limit is not parsed');
});
