import { createServer, type IncomingMessage } from 'node:http';
import t, { type Test } from 'tap';
import { requestIdFor } from '../../src/proxy/request-id.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { rawRequest } from '../helpers/raw-http.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A real server that answers with the id requestIdFor chose for each request, as the client's raw bytes reached it. */
async function idServer(t: Test): Promise<(headerLines: string[]) => Promise<string>> {
  const server = createServer((req: IncomingMessage, res) => res.end(requestIdFor(req)));
  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return async (headerLines) => {
    const answer = await rawRequest(url, ['GET / HTTP/1.1', 'Host: localhost', ...headerLines, 'Connection: close', '', ''].join('\r\n'));
    return answer.body;
  };
}

t.test("a caller's sane X-Request-Id is kept, so logs line up across hops", async (t) => {
  const idOf = await idServer(t);
  for (const given of ['abc-123', 'trace:0af7651916cd43dd8448eb211c80319c', 'a.b_c-d:e', 'x'.repeat(128)]) {
    t.equal(await idOf([`X-Request-Id: ${given}`]), given, given.length > 40 ? `${given.length} characters` : given);
  }
});

t.test('anything else gets an id of its own, never the caller text', async (t) => {
  const idOf = await idServer(t);
  const refused: Array<[string, string[]]> = [
    ['none given', []],
    ['empty', ['X-Request-Id: ']],
    ['longer than 128', [`X-Request-Id: ${'x'.repeat(129)}`]],
    ['a space (log injection)', ['X-Request-Id: a b']],
    ['a quote', ['X-Request-Id: a"b']],
    ['a slash', ['X-Request-Id: ../etc']],
    ['non-ASCII', ['X-Request-Id: caf\u00e9']],
    // Node joins repeated unknown headers with ", ": the joined value is not a token.
    ['sent twice', ['X-Request-Id: one', 'X-Request-Id: two']],
  ];
  const made = new Set<string>();
  for (const [name, lines] of refused) {
    const id = await idOf(lines);
    t.match(id, UUID, `${name}: a random UUID`);
    made.add(id);
  }
  t.equal(made.size, refused.length, 'each request got a different one');
});
