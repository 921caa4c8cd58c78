import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import fc from 'fast-check';
import t from 'tap';
import { pathForms, routeLinks, urlForms, type LinkForm } from '../../src/odata/link-forms.ts';
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

t.test('a whole body, as text or bytes, comes out as the stream does, multi-byte UTF-8 intact', async (t) => {
  for (const [name, body, expected] of [
    ['JSON', json, jsonExpected],
    ['Atom', atom, atomExpected],
  ] as const) {
    const text = rules.rewriteText(body.toString('latin1'));
    t.equal(Buffer.from(text, 'latin1').toString('utf8'), expected, `${name}: rewriteText, written as latin1`);
    t.equal(rules.rewriteAll(body).toString('utf8'), expected, `${name}: rewriteAll`);
  }
  const untouched = Buffer.from('{"value":[{"Name":"Zoë","link":"https://elsewhere.example/x"}]}');
  t.equal(rules.rewriteAll(untouched), untouched, 'nothing to rewrite: the same bytes, not a copy');
  // The same length on both sides (127.0.0.1 ports of five digits): the count takes a second run, the text needs none.
  const sameLength = new RewriteRules('http://127.0.0.1:35201/api', 'http://127.0.0.1:36293/api');
  const links = '{"@odata.context":"http://127.0.0.1:35201/api/$metadata","@odata.nextLink":"http://127.0.0.1:35201/api/X?$skip=2"}';
  t.equal(sameLength.rewriteText(links), links.replaceAll('35201', '36293'), 'a replacement of the same length');
  t.equal(sameLength.scan(links, true).replacements, 2, 'and the streaming rewriter still counts it');
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
  t.equal(rules.holdBack, longest, 'the longest spelling');
  rewriter.write(Buffer.from('x'.repeat(100)));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(emitted.join('').length, 100 - longest, 'all but the longest spelling is passed on at once');
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
  t.same(
    rewritePairs(upstream, proxy),
    [
      [upstream, proxy],
      ['https:\\/\\/api.example.com\\/odata\\/v4', 'http:\\/\\/localhost:8080\\/sales'],
      ['https://api.example.com:443/odata/v4', proxy],
      ['https:\\/\\/api.example.com:443\\/odata\\/v4', 'http:\\/\\/localhost:8080\\/sales'],
      ['http://localhost:8080/odata/v4', proxy],
      ['http:\\/\\/localhost:8080\\/odata\\/v4', 'http:\\/\\/localhost:8080\\/sales'],
      ['http://127.0.0.1:8080/odata/v4', proxy],
      ['http:\\/\\/127.0.0.1:8080\\/odata\\/v4', 'http:\\/\\/localhost:8080\\/sales'],
      ['http://[::1]:8080/odata/v4', proxy],
      ['http:\\/\\/[::1]:8080\\/odata\\/v4', 'http:\\/\\/localhost:8080\\/sales'],
      ['"/odata/v4', '"/sales'],
      ['"\\/odata\\/v4', '"\\/sales'],
    ],
    'the target as configured and with its default port, the proxy origin (under each loopback name) with the target path, the quoted path; each plain and escaped',
  );
  const froms = (upstreamBase: string, proxyBase = proxy) => rewritePairs(upstreamBase, proxyBase).map(([from]) => from);
  t.same(
    froms('http://127.0.0.1:9000/svc').filter((from) => from.includes(':9000')),
    ['http://127.0.0.1:9000/svc', 'http:\\/\\/127.0.0.1:9000\\/svc', 'http://localhost:9000/svc', 'http:\\/\\/localhost:9000\\/svc', 'http://[::1]:9000/svc', 'http:\\/\\/[::1]:9000\\/svc'],
    'an explicit port has no default-port spelling; a loopback target is spelled with each loopback name (CAP writes localhost for 127.0.0.1)',
  );
  t.same(
    froms('https://api.example.com/svc', 'http://proxy.example:8080/s'),
    [
      'https://api.example.com/svc',
      'https:\\/\\/api.example.com\\/svc',
      'https://api.example.com:443/svc',
      'https:\\/\\/api.example.com:443\\/svc',
      'http://proxy.example:8080/svc',
      'http:\\/\\/proxy.example:8080\\/svc',
      '"/svc',
      '"\\/svc',
    ],
    'other names have no aliases',
  );
  t.equal(rewritePairs('http://h/svc', proxy)[2]![0], 'http://h:80/svc');
  t.same(
    froms('https://api.example.com').filter((from) => !from.includes('8080')),
    ['https://api.example.com', 'https:\\/\\/api.example.com', 'https://api.example.com:443', 'https:\\/\\/api.example.com:443'],
    'an upstream root: no quoted path (every "/… string would match)',
  );
  t.same(
    froms('https://api.example.com/sales', proxy).filter((from) => from.startsWith('http://localhost')),
    [],
    'a route whose prefix is the upstream path: the proxy origin with it is the proxy base already',
  );
  t.same(
    froms('https://api.example.com/sales', proxy).filter((from) => from.startsWith('"')),
    [],
    'and the quoted path is the prefix already',
  );
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
    ['http://localhost:8080/odata/v4/People(1)', `${proxy}/People(1)`, 'the proxy origin with the upstream path (built from X-Forwarded-Host)'],
    ['http://localhost:8080/odata/v4', proxy, 'the proxy origin with the upstream path, bare'],
    ['http://localhost:8080/odata/v4s/x', 'http://localhost:8080/odata/v4s/x', 'the proxy origin, not at a segment boundary'],
    ['http://localhost:8080/sales/People(1)', 'http://localhost:8080/sales/People(1)', 'already the proxy URL'],
    ['http://localhost:9999/odata/v4/x', 'http://localhost:9999/odata/v4/x', 'another port of this host'],
    ['/odata/v4/People(1)', '/sales/People(1)', 'an absolute path below the upstream path'],
    ['/odata/v4?$skiptoken=2', '/sales?$skiptoken=2', 'the upstream path with a query'],
    ['/odata/v4', '/sales', 'the upstream path itself'],
    ['/odata/v40/x', '/odata/v40/x', 'a path that only starts the same'],
    ['/elsewhere/x', '/elsewhere/x', 'an absolute path outside the upstream path'],
    ['//cdn.example/odata/v4/x', '//cdn.example/odata/v4/x', 'a network-path reference is another host'],
    ['People(1)', 'People(1)', 'relative (CAP V4 writes these): resolves against the proxy URL already'],
    ['/relative', '/relative', 'relative'],
    ['', '', 'empty'],
  ];
  for (const [value, expected, name] of cases) t.equal(rules.rewriteUrl(value), expected, name);
});

t.test('rewriteUrl where the route and the upstream path nest', async (t) => {
  const root = new RewriteRules('https://api.example.com', 'http://localhost:8080/api');
  const cases: Array<[RewriteRules, string, string, string]> = [
    [root, '/Orders(1)', '/api/Orders(1)', 'an upstream at its root: every absolute path moves below the prefix'],
    [root, '/', '/api/', 'the root itself'],
    [root, '/api/Orders(1)', '/api/Orders(1)', 'a path that names the route already (the upstream read X-Forwarded-Prefix) stays'],
    [root, '/apiary', '/api/apiary', 'a path that only starts like the prefix'],
    [root, 'http://localhost:8080/Orders', 'http://localhost:8080/api/Orders', 'the proxy origin with the upstream root'],
    [root, 'http://localhost:8080/api/Orders', 'http://localhost:8080/api/Orders', 'the proxy URL already'],
    [root, 'https://api.example.com/Orders', 'http://localhost:8080/api/Orders', 'the target'],
  ];
  const below = new RewriteRules('https://api.example.com/odata/v4', 'http://localhost:8080/odata/v4/sales');
  cases.push(
    [below, '/odata/v4/Orders', '/odata/v4/sales/Orders', 'a prefix below the upstream path: the upstream path moves'],
    [below, '/odata/v4/sales/Orders', '/odata/v4/sales/Orders', 'the prefix itself stays'],
    [below, 'http://localhost:8080/odata/v4/sales', 'http://localhost:8080/odata/v4/sales', 'the proxy URL stays'],
    [below, 'http://localhost:8080/odata/v4/Orders', 'http://localhost:8080/odata/v4/sales/Orders', 'the proxy origin with the upstream path moves'],
  );
  const above = new RewriteRules('https://api.example.com/sales/v4', 'http://localhost:8080/sales');
  cases.push(
    [above, '/sales/v4/Orders', '/sales/Orders', 'an upstream path below the prefix'],
    [above, 'http://localhost:8080/sales/v4/Orders', 'http://localhost:8080/sales/Orders', 'and as a URL on the proxy origin'],
    [above, '/sales/Orders', '/sales/Orders', 'a path outside the upstream path'],
  );
  const loopback = new RewriteRules('http://127.0.0.1:4004/odata/v2/sales', 'http://localhost:8080/salesv2');
  cases.push(
    [loopback, 'http://localhost:4004/odata/v2/sales/Orders(1)', 'http://localhost:8080/salesv2/Orders(1)', 'a loopback target under another loopback name (CAP’s V2 adapter writes localhost)'],
    [loopback, 'http://[::1]:4004/odata/v2/sales', 'http://localhost:8080/salesv2', 'and under ::1'],
    [loopback, 'http://127.0.0.1:8080/odata/v2/sales/Orders', 'http://localhost:8080/salesv2/Orders', 'the proxy origin under another loopback name'],
    [loopback, 'http://localhost:4005/odata/v2/sales', 'http://localhost:4005/odata/v2/sales', 'another port is another server'],
  );
  for (const [rules, value, expected, name] of cases) t.equal(rules.rewriteUrl(value), expected, name);
});

t.test('links built from X-Forwarded-Host, absolute paths and relative links in bodies', async (t) => {
  const v2 = `{"d":{"results":[{"__metadata":{"uri":"http://localhost:8080/odata/v4/Orders(1)"},"items":{"__deferred":{"uri":"http://localhost:8080/odata/v4/Orders(1)/items"}}}],"__next":"http://localhost:8080/odata/v4/Orders?$skiptoken=10"}}`;
  t.equal((await rewrite([Buffer.from(v2)])).output, v2.replaceAll('http://localhost:8080/odata/v4', proxy), 'the proxy origin with the upstream path (OData V2 JSON)');
  const escapedLink = `{"next":"${escaped('http://localhost:8080/odata/v4')}\\/Orders"}`;
  t.equal((await rewrite([Buffer.from(escapedLink)])).output, `{"next":"${escaped(proxy)}\\/Orders"}`, 'JSON-escaped');
  const atomFeed = `<feed xml:base="http://localhost:8080/odata/v4/"><id>http://localhost:8080/odata/v4/Orders</id><link href="Orders(1)"/></feed>`;
  t.equal((await rewrite([Buffer.from(atomFeed)])).output, atomFeed.replaceAll('http://localhost:8080/odata/v4', proxy), 'Atom: xml:base and ids');
  const paths = `{"@odata.context":"/odata/v4/$metadata#Orders","@odata.nextLink":"/odata/v4/Orders?$skiptoken=10","e":"\\/odata\\/v4\\/Orders(1)","x":"/odata/v40/x","y":"a /odata/v4/x","z":"/odata/v4"}`;
  t.equal(
    (await rewrite([Buffer.from(paths)])).output,
    `{"@odata.context":"/sales/$metadata#Orders","@odata.nextLink":"/sales/Orders?$skiptoken=10","e":"\\/sales\\/Orders(1)","x":"/odata/v40/x","y":"a /odata/v4/x","z":"/sales"}`,
    'absolute paths at the start of a JSON string, plain and escaped; not in the middle of one, not another segment',
  );
  const xmlBase = `<feed xml:base="/odata/v4/" xmlns="http://www.w3.org/2005/Atom"><link href='/odata/v4/Orders'/></feed>`;
  t.equal(
    (await rewrite([Buffer.from(xmlBase)])).output,
    `<feed xml:base="/sales/" xmlns="http://www.w3.org/2005/Atom"><link href='/odata/v4/Orders'/></feed>`,
    'double-quoted XML attributes (single-quoted ones are not)',
  );
  const relative = `{"@odata.context":"$metadata#Orders","@odata.nextLink":"Orders?%24skiptoken=10","value":[]}`;
  t.equal((await rewrite([Buffer.from(relative)])).output, relative, 'relative links (CAP V4) stay: they resolve against the proxy URL');
  t.equal(
    (await rewrite([Buffer.from('{"a":"http://localhost:8080/odata/v4force/x","b":"http://localhost:8080/sales/x"}')])).output,
    '{"a":"http://localhost:8080/odata/v4force/x","b":"http://localhost:8080/sales/x"}',
    'the boundary rule holds for the new forms; proxy URLs stay',
  );
});

t.test('bodies where the route and the upstream path nest: a link is never rewritten twice', async (t) => {
  const root = new RewriteRules('https://api.example.com', 'http://localhost:8080/api');
  const rootBody = '{"a":"http://localhost:8080/Orders","b":"http://localhost:8080/api/Orders","c":"http://localhost:8080/apiary","d":"/Date(1)/","e":"http://localhost:8080"}';
  t.equal(
    (await rewrite([Buffer.from(rootBody)], root)).output,
    '{"a":"http://localhost:8080/api/Orders","b":"http://localhost:8080/api/Orders","c":"http://localhost:8080/api/apiary","d":"/Date(1)/","e":"http://localhost:8080/api"}',
  );
  const below = new RewriteRules('https://api.example.com/odata/v4', 'http://localhost:8080/odata/v4/sales');
  const belowBody = '{"a":"/odata/v4/Orders","b":"/odata/v4/sales/Orders","c":"http://localhost:8080/odata/v4/sales?x","d":"https://api.example.com/odata/v4/Orders"}';
  t.equal(
    (await rewrite([Buffer.from(belowBody)], below)).output,
    '{"a":"/odata/v4/sales/Orders","b":"/odata/v4/sales/Orders","c":"http://localhost:8080/odata/v4/sales?x","d":"http://localhost:8080/odata/v4/sales/Orders"}',
  );
  const above = new RewriteRules('https://api.example.com/sales/v4', 'http://localhost:8080/sales');
  t.equal(
    (await rewrite([Buffer.from('{"a":"https://api.example.com/sales/v4/v4/x","b":"http://localhost:8080/sales/v4/x"}')], above)).output,
    '{"a":"http://localhost:8080/sales/v4/x","b":"http://localhost:8080/sales/x"}',
    'a spelling that starts with the proxy base runs first, so the target rewritten to it is not taken again',
  );
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

/**
 * What the rewriting means, written out position by position (no regular expressions, no
 * passes): at each character, the longest form that starts there and ends a link, unless
 * it already names the route, is replaced; everything else is copied.
 */
function oracle(text: string, forms: readonly LinkForm[]): string {
  const continues = (char: string | undefined) => char !== undefined && /[A-Za-z0-9\-._~%!$*+=:@(]/.test(char);
  const byLength = [...forms].sort((a, b) => b.from.length - a.from.length);
  let output = '';
  for (let i = 0; i < text.length;) {
    const form = byLength.find(({ from, already }) => {
      if (!text.startsWith(from, i) || continues(text[i + from.length])) return false;
      return already === undefined || !(text.startsWith(already, i + from.length) && !continues(text[i + from.length + already.length]));
    });
    if (form) {
      output += form.to;
      i += form.from.length;
    } else output += text[i++];
  }
  return output;
}

/** Routes as users configure them, including those where the prefix and the upstream path nest. */
const layouts: Array<[string, string, string]> = [
  ['a prefix that differs from the upstream path', upstream, proxy],
  ['an upstream at its root', 'https://api.example.com', 'http://localhost:8080/api'],
  ['a prefix below the upstream path', 'https://api.example.com/odata/v4', 'http://localhost:8080/odata/v4/sales'],
  ['an upstream path below the prefix', 'https://api.example.com/sales/v4', 'http://localhost:8080/sales'],
  ['a default port and a $ in the prefix', 'http://h.example/svc', 'http://127.0.0.1:8080/a$&b'],
  ['a loopback target and proxy', 'http://127.0.0.1:4004/odata/v2/sales', 'http://localhost:8080/salesv2'],
];

for (const [name, upstreamBase, proxyBase] of layouts) {
  t.test(`property (${name}): the output is the same however the body is split, and means what the oracle says (fast-check)`, async (t) => {
    const layoutRules = new RewriteRules(upstreamBase, proxyBase);
    const links = routeLinks(upstreamBase, proxyBase);
    const forms = [...urlForms(links), ...pathForms(links)];
    // Pieces that make the interesting cases likely: every spelling and what it becomes,
    // their beginnings, the text that says a link names the route already, characters
    // that continue or end a path segment, and multi-byte UTF-8.
    const texts = forms.flatMap(({ from, to, already }) => [from, to, from.slice(0, Math.ceil(from.length / 2)), ...(already ? [already, already.slice(0, 2)] : [])]);
    const piece = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...texts) },
      { weight: 2, arbitrary: fc.constantFrom('/', '\\/', '"', 's', '2', '?', '#', '<', '>', 'ü', '日本', '😀', ' ', '/v4', '/api', '/sales', '/odata') },
      { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
    );
    const body = fc.array(piece, { maxLength: 30 }).map((pieces) => Buffer.from(pieces.join(''), 'utf8'));
    const splitBody = body.chain((bytes) =>
      fc.uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 8 }).map((cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        return { bytes, chunks: points.slice(1).map((end, index) => bytes.subarray(points[index], end)) };
      }),
    );
    await fc.assert(
      fc.asyncProperty(splitBody, async ({ bytes, chunks }) => {
        const whole = await rewrite([bytes], layoutRules);
        const split = await rewrite(chunks, layoutRules);
        return split.bytes.equals(whole.bytes) && whole.bytes.equals(Buffer.from(oracle(bytes.toString('latin1'), forms), 'latin1'));
      }),
      { numRuns: 600 },
    );
    t.pass('600 random bodies and splits gave identical bytes, as the oracle says');
  });
}
