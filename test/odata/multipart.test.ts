import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import fc from 'fast-check';
import t from 'tap';
import { multipartBoundary, multipartRewriter, rewriteMultipart, type MultipartOptions } from '../../src/odata/multipart.ts';
import { RewriteRules } from '../../src/odata/rewrite.ts';

const upstream = 'https://api.example.com/odata/v4/sales';
const proxy = 'http://localhost:8080/sales';
const rules = new RewriteRules(upstream, proxy);
const crlf = (lines: string[]) => lines.join('\r\n');

async function streamed(chunks: Buffer[], boundary: string, options: MultipartOptions = {}): Promise<Buffer> {
  return buffer(Readable.from(chunks).pipe(multipartRewriter(boundary, rules, options)));
}

/** A CAP-style V4 $batch answer: a GET, then a changeset with a create. */
const batch = crlf([
  '--batch_1',
  'content-type: application/http',
  'content-transfer-encoding: binary',
  '',
  'HTTP/1.1 200 OK',
  'odata-version: 4.0',
  'content-type: application/json; charset=utf-8',
  `content-length: ${`{"@odata.context":"${upstream}/$metadata#Orders","@odata.nextLink":"${upstream}/Orders?$skiptoken=2","value":[]}`.length}`,
  '',
  `{"@odata.context":"${upstream}/$metadata#Orders","@odata.nextLink":"${upstream}/Orders?$skiptoken=2","value":[]}`,
  '--batch_1',
  'content-type: multipart/mixed;boundary=changeset_1',
  '',
  '--changeset_1',
  'content-type: application/http',
  'content-transfer-encoding: binary',
  'content-id: 1',
  '',
  'HTTP/1.1 201 Created',
  `location: ${upstream}/Orders(200)`,
  'Content-Location: /odata/v4/sales/Orders(200)',
  `Link: <${upstream}/Orders(200)/items>; rel="related"`,
  'content-type: application/json; charset=utf-8',
  `content-length: ${`{"@odata.id":"${upstream}/Orders(200)","ID":200}`.length}`,
  '',
  `{"@odata.id":"${upstream}/Orders(200)","ID":200}`,
  '--changeset_1--',
  '--batch_1--',
  '',
]);
const batchExpected = crlf([
  '--batch_1',
  'content-type: application/http',
  'content-transfer-encoding: binary',
  '',
  'HTTP/1.1 200 OK',
  'odata-version: 4.0',
  'content-type: application/json; charset=utf-8',
  `content-length: ${`{"@odata.context":"${proxy}/$metadata#Orders","@odata.nextLink":"${proxy}/Orders?$skiptoken=2","value":[]}`.length}`,
  '',
  `{"@odata.context":"${proxy}/$metadata#Orders","@odata.nextLink":"${proxy}/Orders?$skiptoken=2","value":[]}`,
  '--batch_1',
  'content-type: multipart/mixed;boundary=changeset_1',
  '',
  '--changeset_1',
  'content-type: application/http',
  'content-transfer-encoding: binary',
  'content-id: 1',
  '',
  'HTTP/1.1 201 Created',
  `location: ${proxy}/Orders(200)`,
  'Content-Location: /sales/Orders(200)',
  `Link: <${proxy}/Orders(200)/items>; rel="related"`,
  'content-type: application/json; charset=utf-8',
  `content-length: ${`{"@odata.id":"${proxy}/Orders(200)","ID":200}`.length}`,
  '',
  `{"@odata.id":"${proxy}/Orders(200)","ID":200}`,
  '--changeset_1--',
  '--batch_1--',
  '',
]);

t.test('multipartBoundary', async (t) => {
  t.equal(multipartBoundary('multipart/mixed; boundary=batch_1'), 'batch_1');
  t.equal(multipartBoundary('multipart/mixed;boundary=batch_36522ad7-fc75-4b56-8c71-56071383e77b'), 'batch_36522ad7-fc75-4b56-8c71-56071383e77b');
  t.equal(multipartBoundary('Multipart/Mixed; charset=utf-8; Boundary="a b:c"'), 'a b:c', 'quoted, with spaces, any case');
  t.equal(multipartBoundary('multipart/mixed'), undefined, 'no boundary');
  t.equal(multipartBoundary('application/json; boundary=x'), undefined, 'not multipart');
  t.equal(multipartBoundary(undefined), undefined);
});

t.test('a $batch answer: URLs in every part rewritten, each Content-Length corrected, nested changesets too', async (t) => {
  const output = await rewriteMultipart(Buffer.from(batch, 'latin1'), 'batch_1', rules);
  t.equal(output.toString('latin1'), batchExpected);
  t.equal((await streamed([Buffer.from(batch, 'latin1')], 'batch_1')).toString('latin1'), batchExpected, 'streaming gives the same');
  const oneByte = Array.from(Buffer.from(batch, 'latin1'), (byte) => Buffer.from([byte]));
  t.equal((await streamed(oneByte, 'batch_1')).toString('latin1'), batchExpected, 'in one-byte chunks');
});

t.test('what is not understood passes byte for byte', async (t) => {
  const cases: Array<[string, string]> = [
    [`no boundary at all ${upstream}/x`, 'a body without its boundary'],
    [`preamble ${upstream}\r\n--b\r\ncontent-type: text/plain\r\n\r\n${upstream}/x\r\n--b--\r\nepilogue ${upstream}`, 'preamble, epilogue and a text/plain part'],
    [`--b\r\ncontent-type: application/octet-stream\r\n\r\n\u00ff\u0000${upstream}\r\n--b--`, 'a binary part'],
    [`--b\r\ncontent-type: application/http\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n\r\n${upstream}\r\n--b--`, 'a compressed embedded body'],
    [`--b garbage\r\ncontent-type: application/json\r\n\r\n"${upstream}"\r\n--b--`, 'a boundary line with more on it'],
    [`--b\r\ncontent-type: application/http\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json`, 'cut off inside the embedded headers'],
    ['--b\r\n' + 'x'.repeat(70_000), 'a header block longer than the limit'],
    ['', 'an empty body'],
  ];
  for (const [body, name] of cases) {
    const bytes = Buffer.from(body, 'latin1');
    t.same(await rewriteMultipart(bytes, 'b', rules), bytes, name);
  }
});

t.test('JSON parts, parts without headers, and bytes after the declared body', async (t) => {
  const body = `--b\r\nContent-Type: application/json\r\n\r\n"${upstream}/a"\r\n--b\r\n\r\n${upstream}\r\n--b\r\ncontent-type: application/http\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${upstream.length + 2}\r\n\r\n"${upstream}"\r\n\r\n--b--`;
  const expected = `--b\r\nContent-Type: application/json\r\n\r\n"${proxy}/a"\r\n--b\r\n\r\n${upstream}\r\n--b\r\ncontent-type: application/http\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${proxy.length + 2}\r\n\r\n"${proxy}"\r\n\r\n--b--`;
  t.equal((await rewriteMultipart(Buffer.from(body), 'b', rules)).toString('latin1'), expected);
});

t.test('a part longer than the limit streams, without the Content-Length it no longer has', async (t) => {
  const json = `{"value":[${Array.from({ length: 40 }, (_, id) => `"${upstream}/Orders(${id})"`).join(',')}]}`;
  const part = (length: string, text: string) => `--b\r\ncontent-type: application/http\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${length}\r\n${text}\r\n--b--\r\n`;
  const body = Buffer.from(part(`content-length: ${json.length}\r\n`, json));
  const rewritten = json.replaceAll(upstream, proxy);
  t.equal((await rewriteMultipart(body, 'b', rules, { partLimit: json.length })).toString(), part(`content-length: ${rewritten.length}\r\n`, rewritten), 'within the limit: held and corrected');
  t.equal((await rewriteMultipart(body, 'b', rules, { partLimit: 100 })).toString(), part('', rewritten), 'past it: rewritten as it streams, its Content-Length left out');
  const declared = Buffer.from(`--b\r\ncontent-type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}\r\n--b--`);
  t.equal(
    (await rewriteMultipart(declared, 'b', rules)).toString(),
    `--b\r\ncontent-type: application/json\r\nContent-Length: ${rewritten.length}\r\n\r\n${rewritten}\r\n--b--`,
    'a Content-Length in the part’s own headers',
  );
  t.equal((await rewriteMultipart(declared, 'b', rules, { partLimit: 100 })).toString(), `--b\r\ncontent-type: application/json\r\n\r\n${rewritten}\r\n--b--`, 'and past the limit');
});

// ---- property -------------------------------------------------------------------------

/** Body pieces with what each becomes when rewritten: links of every form, and text that must not change. */
const PIECES: Array<[string, string]> = [
  [`"${upstream}/Orders(1)"`, `"${proxy}/Orders(1)"`],
  [`"${upstream}"`, `"${proxy}"`],
  [`"http://localhost:8080/odata/v4/sales/Orders?$skiptoken=2"`, `"${proxy}/Orders?$skiptoken=2"`],
  [`"/odata/v4/sales/$metadata#Orders"`, `"/sales/$metadata#Orders"`],
  [`"${upstream.replaceAll('/', '\\/')}\\/x"`, `"${proxy.replaceAll('/', '\\/')}\\/x"`],
  [`"${upstream}force"`, `"${upstream}force"`],
  ['"Orders?%24skiptoken=10"', '"Orders?%24skiptoken=10"'],
  [',', ','],
  ['"Zoë 日本 😀"', '"Zoë 日本 😀"'],
  ['\r\n', '\r\n'],
  ['--changeset_9', '--changeset_9'],
];
const LOCATIONS: Array<[string, string]> = [
  [`${upstream}/Orders(7)`, `${proxy}/Orders(7)`],
  ['/odata/v4/sales/Orders(7)', '/sales/Orders(7)'],
  ['Orders(7)', 'Orders(7)'],
];

interface Leaf {
  kind: 'leaf';
  json: boolean;
  pieces: number[];
  location: number | undefined;
  embeddedLength: boolean;
  partLength: boolean;
  trailing: boolean;
}
interface Changeset {
  kind: 'changeset';
  boundary: string;
  parts: Leaf[];
  partLength: boolean;
}

const leaf: fc.Arbitrary<Leaf> = fc.record({
  kind: fc.constant('leaf' as const),
  json: fc.boolean(),
  pieces: fc.array(fc.nat({ max: PIECES.length - 1 }), { maxLength: 12 }),
  location: fc.option(fc.nat({ max: LOCATIONS.length - 1 }), { nil: undefined }),
  embeddedLength: fc.boolean(),
  partLength: fc.boolean(),
  trailing: fc.boolean(),
});
const changeset: fc.Arbitrary<Changeset> = fc.record({
  kind: fc.constant('changeset' as const),
  boundary: fc.constantFrom('changeset_1', 'cs-2'),
  parts: fc.array(leaf, { maxLength: 3 }),
  partLength: fc.boolean(),
});
const body = fc.record({ parts: fc.array(fc.oneof(leaf, changeset), { maxLength: 5 }), preamble: fc.boolean(), epilogue: fc.boolean() });

/**
 * The bytes of a $batch answer, as the upstream wrote it or as it must come out: links
 * rewritten in JSON parts, every declared length the new one, or left out when the part
 * is longer than the limit.
 */
function render(batchBody: { parts: Array<Leaf | Changeset>; preamble: boolean; epilogue: boolean }, rewritten: boolean, limit: number): string {
  const withPartLength = (headers: string[], content: string, declared: boolean) =>
    declared && (!rewritten || Buffer.byteLength(content, 'latin1') <= limit) ? [...headers, `Content-Length: ${Buffer.byteLength(content, 'latin1')}`] : headers;
  const leafContent = (part: Leaf) => {
    const text = part.pieces.map((index) => PIECES[index]![rewritten && part.json ? 1 : 0]).join('');
    const latin1 = Buffer.from(text, 'utf8').toString('latin1');
    const headers = ['HTTP/1.1 200 OK', `content-type: ${part.json ? 'application/json' : 'text/plain'}`];
    if (part.location !== undefined) headers.push(`Location: ${LOCATIONS[part.location]![rewritten ? 1 : 0]}`);
    // A rewritten JSON body longer than the limit streams, and its length is left out.
    if (part.embeddedLength && (!rewritten || !part.json || originalLength(part) <= limit)) headers.push(`content-length: ${latin1.length}`);
    return `${headers.join('\r\n')}\r\n\r\n${latin1}${part.trailing ? '\r\n' : ''}`;
  };
  const renderLeaf = (part: Leaf) => {
    const content = leafContent(part);
    return `${withPartLength(['Content-Type: application/http', 'Content-Transfer-Encoding: binary'], content, part.partLength).join('\r\n')}\r\n\r\n${content}`;
  };
  const renderChangeset = (part: Changeset) => {
    const content = `${part.parts.map((inner) => `--${part.boundary}\r\n${renderLeaf(inner)}\r\n`).join('')}--${part.boundary}--`;
    return `${withPartLength([`Content-Type: multipart/mixed; boundary=${part.boundary}`], content, part.partLength).join('\r\n')}\r\n\r\n${content}`;
  };
  const parts = batchBody.parts.map((part) => `--batch_1\r\n${part.kind === 'leaf' ? renderLeaf(part) : renderChangeset(part)}\r\n`).join('');
  return `${batchBody.preamble ? `preamble ${upstream}\r\n` : ''}${parts}--batch_1--${batchBody.epilogue ? `\r\nepilogue ${upstream}` : ''}`;
}

function originalLength(part: Leaf): number {
  return Buffer.byteLength(part.pieces.map((index) => PIECES[index]![0]).join(''), 'utf8');
}

/** An independent reading of the output: every declared Content-Length, part and embedded, against what follows it. */
function lengthsRight(text: string, boundary: string): boolean {
  const parts = `\r\n${text}`.split(`\r\n--${boundary}`).slice(1, -1);
  return parts.every((raw) => {
    const part = raw.replace(/^[ \t]*\r\n/, '');
    const split = part.startsWith('\r\n') ? 0 : part.indexOf('\r\n\r\n');
    const head = part.slice(0, split);
    const content = part.slice(split + (split === 0 ? 2 : 4));
    const declared = /^content-length: *(\d+)/im.exec(head)?.[1];
    if (declared !== undefined && Number(declared) !== content.length) return false;
    const nested = /boundary=([^\r\n;]+)/i.exec(head)?.[1];
    if (nested) return lengthsRight(content, nested);
    if (!/application\/http/i.test(head)) return true;
    const bodyAt = content.indexOf('\r\n\r\n') + 4;
    const embedded = /^content-length: *(\d+)/im.exec(content.slice(0, bodyAt))?.[1];
    // The declared body, then at most the one extra line break some servers add.
    return embedded === undefined || [0, 2].includes(content.length - bodyAt - Number(embedded));
  });
}

t.test('property: the same bytes however the body is split, the expected rewrite, every Content-Length right (fast-check)', async (t) => {
  const split = fc.record({ batch: body, limit: fc.constantFrom(40, 200, 1024 * 1024) }).chain(({ batch: batchBody, limit }) => {
    const bytes = Buffer.from(render(batchBody, false, limit), 'latin1');
    return fc.uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 10 }).map((cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
      return { batchBody, limit, bytes, chunks: points.slice(1).map((end, index) => bytes.subarray(points[index], end)) };
    });
  });
  await fc.assert(
    fc.asyncProperty(split, async ({ batchBody, limit, bytes, chunks }) => {
      const whole = await rewriteMultipart(bytes, 'batch_1', rules, { partLimit: limit });
      const pieces = await streamed(chunks, 'batch_1', { partLimit: limit });
      const text = whole.toString('latin1');
      return pieces.equals(whole) && text === render(batchBody, true, limit) && lengthsRight(text, 'batch_1');
    }),
    { numRuns: 800 },
  );
  t.pass('800 random $batch answers, limits and splits');
});
