import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import fc from 'fast-check';
import t from 'tap';
import { isRewritableContentType, rewritePairs, RewriteRules, UrlRewriter } from '../../src/odata/rewrite.ts';

const upstream = 'https://api.example.com/odata/v4';
const proxy = 'http://localhost:8080/sales';
const escaped = (url: string) => url.replaceAll('/', '\\/');

const rules = new RewriteRules(upstream, proxy);

async function rewrite(chunks: Buffer[], withRules = rules): Promise<{ output: string; bytes: Buffer; replacements: number }> {
  const rewriter = new UrlRewriter(withRules);
  const bytes = await buffer(Readable.from(chunks).pipe(rewriter));
  return { output: bytes.toString('utf8'), bytes, replacements: rewriter.replacements };
}

const json = Buffer.from(
  `{"@odata.context":"${upstream}/$metadata#People","value":[{"Name":"Zoë “quoted” 日本${upstream}/People(1)😀","link":"${upstream}/People(1)"}],` +
    `"escaped":"${escaped(upstream)}\\/People","@odata.nextLink":"${upstream}/People?$skiptoken=2"}`,
  'utf8',
);
const jsonExpected = json.toString('utf8').replaceAll(upstream, proxy).replaceAll(escaped(upstream), escaped(proxy));

const atom = Buffer.from(
  `<?xml version="1.0" encoding="utf-8"?><feed xml:base="${upstream}/" xmlns="http://www.w3.org/2005/Atom">` +
    `<id>${upstream}/People</id><title>Präsentation</title><link rel="next" href="${upstream}/People?$skiptoken=2"/></feed>`,
  'utf8',
);
const atomExpected = atom.toString('utf8').replaceAll(upstream, proxy);

t.test('plain and JSON-escaped URLs are rewritten; other bytes pass unchanged', async (t) => {
  const { output, replacements } = await rewrite([json]);
  t.equal(output, jsonExpected);
  t.equal(replacements, 5);
  t.match(output, `"Zoë “quoted” 日本${proxy}/People(1)😀"`, 'multi-byte UTF-8 right next to a URL is intact');
  t.notMatch(output, 'api.example.com', 'no upstream URL left');
  t.match(output, `"escaped":"${escaped(proxy)}\\/People"`, 'the escaped form stays escaped');
});

t.test('OData v3 JSON (odata.metadata, odata.nextLink, odata.editLink)', async (t) => {
  const v3 = `{"odata.metadata":"${upstream}/$metadata#People","value":[{"odata.editLink":"${upstream}/People(1)","odata.readLink":"${upstream}/People(1)"}],"odata.nextLink":"${upstream}/People?$skip=1"}`;
  const { output, replacements } = await rewrite([Buffer.from(v3)]);
  t.equal(output, v3.replaceAll(upstream, proxy));
  t.equal(replacements, 4);
});

t.test('Atom/XML bodies', async (t) => {
  const { output, replacements } = await rewrite([atom]);
  t.equal(output, atomExpected);
  t.equal(replacements, 3);
});

for (const [name, body, expected, count] of [
  ['JSON', json, jsonExpected, 5],
  ['Atom', atom, atomExpected, 3],
] as const) {
  t.test(`${name}: the same output and count at every split position`, async (t) => {
    const mismatches: number[] = [];
    for (let split = 0; split <= body.length; split++) {
      const { output, replacements } = await rewrite([body.subarray(0, split), body.subarray(split)]);
      if (output !== expected || replacements !== count) mismatches.push(split);
    }
    t.same(mismatches, [], `all ${body.length + 1} split points`);
  });
}

t.test('the same output in one-byte chunks and in three pieces around a URL', async (t) => {
  const chunks = Array.from(json, (byte) => Buffer.from([byte]));
  t.same(await rewrite(chunks).then(({ output, replacements }) => ({ output, replacements })), { output: jsonExpected, replacements: 5 });
  const at = json.indexOf(upstream);
  let mismatches = 0;
  for (let first = at; first <= at + upstream.length; first++) {
    for (let second = first; second <= at + upstream.length + 2; second++) {
      const { output } = await rewrite([json.subarray(0, first), json.subarray(first, second), json.subarray(second)]);
      if (output !== jsonExpected) mismatches++;
    }
  }
  t.equal(mismatches, 0, 'a URL cut in three');
});

t.test('bytes that are not valid UTF-8 pass through untouched', async (t) => {
  const body = Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(`${upstream}/x`), Buffer.from([0x80, 0x00, 0xe6, 0x97])]);
  const expected = Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(`${proxy}/x`), Buffer.from([0x80, 0x00, 0xe6, 0x97])]);
  t.same((await rewrite([body.subarray(0, 2), body.subarray(2, 20), body.subarray(20)])).bytes, expected);
});

t.test('flush emits the held-back tail', async (t) => {
  const cases: Array<[string, string]> = [
    ['ends with https://api.example.com/od', 'ends with https://api.example.com/od'],
    ['short', 'short'],
    [`ends with the URL ${upstream}`, `ends with the URL ${proxy}`],
    [`ends with the escaped URL ${escaped(upstream)}`, `ends with the escaped URL ${escaped(proxy)}`],
    ['', ''],
  ];
  for (const [input, expected] of cases) {
    t.equal((await rewrite([Buffer.from(input)])).output, expected, JSON.stringify(input));
  }
  t.equal((await rewrite([])).output, '', 'an empty body stays empty');
});

t.test('the tail is held back only as long as needed', async (t) => {
  const rewriter = new UrlRewriter(rules);
  const emitted: string[] = [];
  rewriter.on('data', (chunk: Buffer) => emitted.push(chunk.toString('latin1')));
  const longest = escaped('https://api.example.com:443/odata/v4').length;
  rewriter.write(Buffer.from('x'.repeat(100)));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(emitted.join('').length, 100 - (longest - 1), 'all but the longest pattern minus one byte is passed on at once');
  rewriter.end();
  await new Promise((resolve) => rewriter.on('end', resolve));
  t.equal(emitted.join(''), 'x'.repeat(100));
});

t.test('a URL that only starts like the base is another resource and is left alone', async (t) => {
  const body = `{"a":"${upstream}/x","b":"${upstream}2/x","c":"${upstream}-old","d":"${upstream}.svc","e":"${escaped(upstream)}s","f":"${upstream}","g":"<${upstream}>","h":"${upstream}?$top=1","i":"${upstream}#x"}`;
  const expected = `{"a":"${proxy}/x","b":"${upstream}2/x","c":"${upstream}-old","d":"${upstream}.svc","e":"${escaped(upstream)}s","f":"${proxy}","g":"<${proxy}>","h":"${proxy}?$top=1","i":"${proxy}#x"}`;
  const whole = await rewrite([Buffer.from(body)]);
  t.equal(whole.output, expected);
  t.equal(whole.replacements, 5);
  const bytes = Buffer.from(body);
  const wrong: number[] = [];
  for (let split = 0; split <= bytes.length; split++) {
    if ((await rewrite([bytes.subarray(0, split), bytes.subarray(split)])).output !== expected) wrong.push(split);
  }
  t.same(wrong, [], 'the boundary is judged the same wherever the body is split');
  t.equal((await rewrite([Buffer.from(`x ${upstream}`)])).output, `x ${proxy}`, 'a URL that ends the body');
});

t.test('a proxy URL with $ in it (a route prefix may have one) is written literally', async (t) => {
  const dollar = 'http://localhost:8080/a$&b$1';
  const { output, replacements } = await rewrite([Buffer.from(`"${upstream}/x" "${upstream}"`)], new RewriteRules(upstream, dollar));
  t.equal(output, `"${dollar}/x" "${dollar}"`);
  t.equal(replacements, 2);
});

t.test('rewriteLinkHeader', async (t) => {
  t.equal(
    rules.rewriteLinkHeader(`<${upstream}/People?$skiptoken=2>; rel="next", <https://other.example/x>; rel="help", <${upstream}2/y>; rel="z"`),
    `<${proxy}/People?$skiptoken=2>; rel="next", <https://other.example/x>; rel="help", <${upstream}2/y>; rel="z"`,
  );
  t.equal(rules.rewriteLinkHeader('no links here'), 'no links here');
});

t.test('rewritePairs', async (t) => {
  t.same(rewritePairs(upstream, proxy), [
    [upstream, proxy],
    ['https:\\/\\/api.example.com\\/odata\\/v4', 'http:\\/\\/localhost:8080\\/sales'],
    ['https://api.example.com:443/odata/v4', proxy],
    ['https:\\/\\/api.example.com:443\\/odata\\/v4', 'http:\\/\\/localhost:8080\\/sales'],
  ], 'plain and escaped, as configured and with the default port written out');
  t.same(rewritePairs('http://127.0.0.1:9000/svc', proxy).map(([from]) => from), ['http://127.0.0.1:9000/svc', 'http:\\/\\/127.0.0.1:9000\\/svc'], 'an explicit port has one spelling');
  t.equal(rewritePairs('http://h/svc', proxy)[2]![0], 'http://h:80/svc');
});

t.test('rewriteUrl (Location, Content-Location)', async (t) => {
  const cases: Array<[string, string, string]> = [
    [`${upstream}/People(1)`, `${proxy}/People(1)`, 'a path below the base'],
    [upstream, proxy, 'the base itself'],
    [`${upstream}/`, `${proxy}/`, 'the base with a slash'],
    [`${upstream}?x=1&$skiptoken=2`, `${proxy}?x=1&$skiptoken=2`, 'a query on the base'],
    [`${upstream}/People?$filter=Name%20eq%20'A'`, `${proxy}/People?$filter=Name%20eq%20'A'`, 'a path and a query'],
    [`${upstream}#frag`, `${proxy}#frag`, 'a fragment'],
    [`${upstream}v5/x`, `${upstream}v5/x`, 'not a path boundary'],
    ['https://api.example.com.evil.example/odata/v4/x', 'https://api.example.com.evil.example/odata/v4/x', 'a host that only starts the same'],
    ['https://api.example.com:8443/odata/v4/x', 'https://api.example.com:8443/odata/v4/x', 'another port'],
    ['https://api.example.com:443/odata/v4/x', `${proxy}/x`, 'the default port written out'],
    ['http://api.example.com/odata/v4/x', 'http://api.example.com/odata/v4/x', 'another scheme'],
    ['https://elsewhere.example/x', 'https://elsewhere.example/x', 'another host'],
    ['https://api.example.com/other', 'https://api.example.com/other', 'same host, outside the base'],
    ['/relative', '/relative', 'relative'],
    ['', '', 'empty'],
  ];
  for (const [value, expected, name] of cases) t.equal(rules.rewriteUrl(value), expected, name);
});

t.test('only JSON and XML bodies are rewritten', async (t) => {
  const rewritable = [
    'application/json;odata.metadata=minimal',
    'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8',
    'application/json',
    'application/JSON; charset=utf-8',
    'application/atom+xml',
    'application/atom+xml;type=feed;charset=utf-8',
    'application/xml',
    'text/xml',
    'application/atomsvc+xml',
    'application/problem+json',
  ];
  for (const type of rewritable) t.ok(isRewritableContentType(type), type);
  const untouched = ['text/plain', 'text/html', 'application/octet-stream', 'text/csv', 'image/png', 'multipart/mixed; boundary=batch_1', 'application/jsonl-not', '', undefined];
  for (const type of untouched) t.notOk(isRewritableContentType(type), String(type));
});

t.test('property: the output is the same however the body is split into chunks (fast-check)', async (t) => {
  const pairs = rewritePairs(upstream, proxy);
  // Pieces that make the interesting cases likely: whole URLs in both spellings, their
  // prefixes, characters that continue or end a path segment, and multi-byte UTF-8.
  const piece = fc.oneof(
    fc.constantFrom(upstream, escaped(upstream), 'https://api.example.com:443/odata/v4', upstream.slice(0, 20), escaped(upstream).slice(0, 25), '/', '\\/', '"', 's', '2', '?', '<', '>', 'ü', '日本', '😀', ' '),
    fc.string({ maxLength: 8 }),
  );
  const body = fc.array(piece, { maxLength: 30 }).map((pieces) => Buffer.from(pieces.join(''), 'utf8'));
  const splitBody = body.chain((bytes) =>
    fc.uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 8 }).map((cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
      return { bytes, chunks: points.slice(1).map((end, index) => bytes.subarray(points[index], end)) };
    }),
  );
  const oracle = (text: string) =>
    text.replace(new RegExp(`(?:${pairs.map(([from]) => from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?![A-Za-z0-9\\-._~%!$*+=:@(])`, 'g'), (found) => pairs.find(([from]) => from === found)![1]);
  await fc.assert(
    fc.asyncProperty(splitBody, async ({ bytes, chunks }) => {
      const whole = await rewrite([bytes]);
      const split = await rewrite(chunks);
      return split.bytes.equals(whole.bytes) && whole.bytes.equals(Buffer.from(oracle(bytes.toString('latin1')), 'latin1'));
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 random bodies and splits gave identical bytes');
});
