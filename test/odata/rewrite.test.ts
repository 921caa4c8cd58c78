import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import t from 'tap';
import { isRewritableContentType, rewritePairs, rewriteUrlValue, UrlRewriter } from '../../src/odata/rewrite.ts';

const upstream = 'https://api.example.com/odata/v4';
const proxy = 'http://localhost:8080/sales';

async function rewrite(chunks: Buffer[]): Promise<{ output: string; replacements: number }> {
  const rewriter = new UrlRewriter(rewritePairs(upstream, proxy));
  const output = await text(Readable.from(chunks).pipe(rewriter));
  return { output, replacements: rewriter.replacements };
}

const escapedUpstream = upstream.replaceAll('/', '\\/');
const body = Buffer.from(
  `{"@odata.context":"${upstream}/$metadata#People","value":[{"Name":"Zoë “quoted” 日本","link":"${upstream}/People(1)"}],` +
    `"escaped":"${escapedUpstream}\\/People","@odata.nextLink":"${upstream}/People?$skiptoken=2"}`,
  'utf8',
);
const expected = body.toString('utf8').replaceAll(upstream, proxy).replaceAll(upstream.replaceAll('/', '\\/'), proxy.replaceAll('/', '\\/'));

t.test('plain and JSON-escaped URLs are rewritten; other bytes pass unchanged', async (t) => {
  const { output, replacements } = await rewrite([body]);
  t.equal(output, expected);
  t.equal(replacements, 4);
  t.match(output, 'Zoë “quoted” 日本', 'multi-byte UTF-8 intact');
});

t.test('the same output however the body is split in two', async (t) => {
  let mismatches = 0;
  for (let split = 0; split <= body.length; split++) {
    const { output } = await rewrite([body.subarray(0, split), body.subarray(split)]);
    if (output !== expected) mismatches++;
  }
  t.equal(mismatches, 0, `all ${body.length + 1} split points`);
});

t.test('the same output in one-byte chunks', async (t) => {
  const chunks = Array.from(body, (byte) => Buffer.from([byte]));
  t.equal((await rewrite(chunks)).output, expected);
});

t.test('a held-back tail that is not a URL is flushed at the end', async (t) => {
  t.equal((await rewrite([Buffer.from('ends with https://api.example.com/od')])).output, 'ends with https://api.example.com/od');
  t.equal((await rewrite([])).output, '');
});

t.test('header values', async (t) => {
  t.equal(rewriteUrlValue(`${upstream}/People(1)`, upstream, proxy), `${proxy}/People(1)`);
  t.equal(rewriteUrlValue(upstream, upstream, proxy), proxy);
  t.equal(rewriteUrlValue(`${upstream}?x=1`, upstream, proxy), `${proxy}?x=1`);
  t.equal(rewriteUrlValue(`${upstream}v5/x`, upstream, proxy), `${upstream}v5/x`, 'not a path boundary');
  t.equal(rewriteUrlValue('https://elsewhere.example/x', upstream, proxy), 'https://elsewhere.example/x');
  t.equal(rewriteUrlValue('/relative', upstream, proxy), '/relative');
});

t.test('only JSON and XML bodies are rewritten', async (t) => {
  for (const type of ['application/json;odata.metadata=minimal;charset=utf-8', 'application/json', 'application/atom+xml;type=feed', 'application/xml', 'text/xml']) {
    t.ok(isRewritableContentType(type), type);
  }
  for (const type of ['text/plain', 'application/octet-stream', 'text/csv', 'image/png', undefined]) t.notOk(isRewritableContentType(type), String(type));
});
