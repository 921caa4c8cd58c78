import { createServer, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { fetch } from 'undici';
import { boundedFetch, formatBytes, IdpAnswerTooLargeError } from '../../src/tokens/bounded-fetch.ts';
import { closeServer, listen } from '../helpers/listen.ts';

const LIMIT = 64 * 1024;

/** An IdP that answers each path its own way; `closed` counts the answers whose reader went away before the end. */
async function idp(t: Test, answers: Record<string, (res: ServerResponse) => void>): Promise<{ url: string; closed: () => number }> {
  let closed = 0;
  const server = createServer((req, res) => {
    res.once('close', () => {
      if (!res.writableFinished) closed++;
    });
    answers[req.url ?? '']?.(res);
  });
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return { url, closed: () => closed };
}

/** The count once it is non-zero (the server hears of the cancel a moment later), or 0 after 5 s. */
async function settled(count: () => number): Promise<number> {
  for (let waited = 0; count() === 0 && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  return count();
}

const bounded = boundedFetch(fetch as unknown as typeof globalThis.fetch, LIMIT);

t.test('an answer within the limit reaches the caller whole: status, headers and body', async (t) => {
  const { url } = await idp(t, {
    '/token': (res) => res.writeHead(400, { 'content-type': 'application/json', 'x-ms-request-id': 'r1' }).end(JSON.stringify({ error: 'invalid_client' })),
    '/empty': (res) => res.writeHead(204).end(),
  });
  const answer = await bounded(`${url}/token`, { method: 'POST' });
  t.equal(answer.status, 400);
  t.equal(answer.headers.get('x-ms-request-id'), 'r1');
  t.same(await answer.json(), { error: 'invalid_client' });
  const empty = await bounded(`${url}/empty`);
  t.equal(empty.status, 204);
  t.equal(await empty.text(), '', 'a 204 has no body to build');
});

t.test('a declared length over the limit is refused before the body is read', async (t) => {
  const { url, closed } = await idp(t, {
    // Headers only, then nothing: a reader that waited for the body would hang.
    '/huge': (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 * 1024 * 1024) });
      res.write('{');
    },
  });
  await t.rejects(bounded(`${url}/huge`), IdpAnswerTooLargeError);
  t.equal(await settled(closed), 1, 'the connection was let go, not drained');
});

t.test('an answer without a length is cut off once it passes the limit, and one that inflates past it too', async (t) => {
  const { url, closed } = await idp(t, {
    '/endless': (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const more = () => {
        if (!res.destroyed) res.write(Buffer.alloc(16 * 1024, 0x20), () => setImmediate(more));
      };
      more();
    },
    '/bomb': (res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(LIMIT * 64, 0x20))),
  });
  const refusal = await bounded(`${url}/endless`).then(
    () => undefined,
    (error: unknown) => error,
  );
  t.type(refusal, IdpAnswerTooLargeError);
  t.equal((refusal as IdpAnswerTooLargeError).code, 'IDP_ANSWER_TOO_LARGE');
  t.match((refusal as Error).message, "the identity provider's answer exceeds 64 KiB");
  t.equal(await settled(closed), 1, 'the endless answer was stopped');
  await t.rejects(bounded(`${url}/bomb`), IdpAnswerTooLargeError, `a ${gzipSync(Buffer.alloc(LIMIT * 64, 0x20)).length}-byte gzip answer that decodes to 4 MiB`);
});

t.test('formatBytes names the limit the way a person would write it', async (t) => {
  t.equal(formatBytes(1024 * 1024), '1 MiB');
  t.equal(formatBytes(64 * 1024), '64 KiB');
  t.equal(formatBytes(1000), '1000 bytes');
});
