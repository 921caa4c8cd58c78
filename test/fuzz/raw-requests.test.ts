import { connect } from 'node:net';
import fc from 'fast-check';
import t from 'tap';
import { startStack } from '../helpers/stack.ts';
import { recordUnhandled } from '../helpers/unhandled.ts';

/**
 * Fuzzing the running proxy with raw HTTP/1.1 requests (IdP, upstream and proxy on real
 * sockets): every request gets a complete response below 500, or the server's parser closes
 * the connection; nothing crashes, nothing is left unhandled, the proxy still serves
 * afterwards, and no request the proxy should refuse reaches the upstream.
 */

const BASE_PATH = '/base/v1';

interface Exchange {
  /** Bytes the client sent. */
  sent: Buffer;
  /** What came back, as latin1 so lengths are byte counts. */
  received: string;
  /** Socket error seen by the client (a reset after the server hung up on unread bytes). */
  error?: string;
  /** A complete answer came, then nothing more for a while, and the server kept the connection. */
  keptOpen: boolean;
  timedOut: boolean;
}

/**
 * Writes the bytes and reads until the server closes, never rejecting. Stops early (keptOpen)
 * when what arrived is complete and nothing follows for idleMs; gives up after timeoutMs.
 */
function exchange(url: string, sent: Buffer, isComplete: (received: string) => boolean = () => false, timeoutMs = 4_000, idleMs = 400): Promise<Exchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let timedOut = false;
    let keptOpen = false;
    let idle: NodeJS.Timeout | undefined;
    const socket = connect(Number(port), hostname, () => socket.write(sent));
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(idle);
      idle = setTimeout(() => {
        if (!isComplete(Buffer.concat(chunks).toString('latin1'))) return;
        keptOpen = true;
        socket.destroy();
      }, idleMs);
    });
    socket.on('error', (cause: NodeJS.ErrnoException) => {
      error = cause.code ?? cause.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(idle);
      resolve({ sent, received: Buffer.concat(chunks).toString('latin1'), timedOut, keptOpen, ...(error ? { error } : {}) });
    });
  });
}

interface Parsed {
  status: number;
  complete: boolean;
  reason?: string;
}

/**
 * Every response in the bytes (a header or body that broke a request line in two makes the
 * client pipeline a second request), 1xx interim ones skipped, each checked for completeness.
 */
function parseResponses(raw: string, headRequest: boolean): Parsed[] {
  const responses: Parsed[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) {
      responses.push({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(rest)?.[1] ?? 0), complete: false, reason: 'headers cut off' });
      break;
    }
    const head = rest.slice(0, end);
    const body = rest.slice(end + 4);
    const match = /^HTTP\/1\.[01] (\d{3})[^\r\n]*/.exec(head);
    if (!match) {
      responses.push({ status: 0, complete: false, reason: `not a status line: ${JSON.stringify(head.slice(0, 60))}` });
      break;
    }
    const status = Number(match[1]);
    if (status >= 100 && status < 200 && status !== 101) {
      rest = body;
      continue;
    }
    const headers = new Map<string, string>();
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = headers.get('content-length');
    const chunkedBody = /chunked/i.test(headers.get('transfer-encoding') ?? '');
    // Only the first response answers the HEAD; a pipelined second request is a GET here.
    if ((headRequest && responses.length === 0) || status === 204 || status === 304) {
      responses.push({ status, complete: true });
      rest = body;
    } else if (length !== undefined) {
      const size = Number(length);
      if (body.length < size) {
        responses.push({ status, complete: false, reason: `content-length ${length}, body ${body.length} bytes` });
        break;
      }
      responses.push({ status, complete: true });
      rest = body.slice(size);
    } else if (chunkedBody) {
      const last = /(^|\r\n)0(;[^\r\n]*)?\r\n([^\r\n]+\r\n)*\r\n/.exec(body);
      if (!last) {
        responses.push({ status, complete: false, reason: 'chunked body without its last chunk' });
        break;
      }
      responses.push({ status, complete: true });
      rest = body.slice(last.index + last[0].length);
    } else {
      responses.push({ status, complete: true }); // delimited by the close
      break;
    }
  }
  return responses;
}

// --- arbitraries ---------------------------------------------------------------------------

const METHODS = ['GET', 'GET', 'GET', 'GET', 'HEAD', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'QUERY', 'SEARCH', 'PURGE'];
const BAD_METHODS = ['get', 'FOO', 'G ET', 'GET\0', 'PRI', 'CONNECT', '', 'GET\t', 'ÉTÉ'];

/** Pieces of origin-form paths the HTTP parser accepts; the proxy must refuse some of them. */
const PATH_PIECES = [
  '/',
  '/x',
  '/Orders',
  "('a')",
  '/$metadata',
  '/..',
  '/.',
  '/%2e%2e',
  '/%2E%2e',
  '/.%2e',
  '/%252e%252e',
  '/%25252e',
  '/%2f',
  '/%5c',
  '\\',
  '\\..',
  '/%5c..',
  '/%00',
  '/%zz',
  '/%',
  '/%C3%A9',
  '/%FF',
  '/%C0%AE%C0%AE',
  '/%FF%2f%252%65%252%65',
  '?$top=1',
  '?a=../b',
  '?q=%2e%2e',
  '?',
  ';x',
  '//',
  '/a+b',
  '/~u',
  '/@x',
  '/:x',
];
const origin = fc.array(fc.constantFrom(...PATH_PIECES), { maxLength: 5 }).map((parts) => parts.join(''));

const goodTarget = fc.oneof(
  { arbitrary: origin.map((rest) => `/api${rest}`), weight: 8 },
  { arbitrary: origin.map((rest) => (rest.startsWith('/') ? rest : `/${rest}`)), weight: 1 },
  { arbitrary: fc.constantFrom('/', '/healthz', '/readyz', '/metrics', '/_status', '/apiary', '/api', '/api/'), weight: 1 },
);

const badTarget = (proxyHost: string) =>
  fc.oneof(
    fc.constantFrom(
      `http://${proxyHost}/api/x`,
      'http://evil.example/api/x',
      `HTTP://${proxyHost}/api/x`,
      'https://evil.example/api/x',
      '//evil.example/api/x',
      'evil.example:443',
      '*',
      '/api/x HTTP/1.1\r\nHost: evil',
      '/api/x\r\nX-Injected: 1',
      '/api/x\nX: y',
      '/api/x\0',
      '/api/a b',
      '/api/a\tb',
      '/api/é',
      '/api/😀',
      '/api/#frag',
      '/api/..#x',
    ),
    fc.string({ unit: 'binary', maxLength: 30 }),
  );

const VERSIONS = ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0'];
const BAD_VERSIONS = ['HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'http/1.1', 'HTTP/1.1 extra', '', 'HTTP/1.1\0', 'HTTP/11'];

const HEADER_NAMES = [
  'Accept',
  'Accept-Encoding',
  'User-Agent',
  'X-Custom',
  'Cookie',
  'Authorization',
  'Proxy-Authorization',
  'X-Forwarded-For',
  'X-Forwarded-Host',
  'X-Forwarded-Proto',
  'X-Request-Id',
  'Forwarded',
  'Connection',
  'Upgrade',
  'Expect',
  'TE',
  'Trailer',
  'Keep-Alive',
  'Host',
  'Content-Type',
  'Range',
  'If-None-Match',
  'Prefer',
  'OData-MaxVersion',
  'Content-Encoding',
];
const BAD_HEADER_NAMES = ['Bad Name', 'X:Y', 'X\0Y', 'X\r\nInjected', 'é', '', ' Leading', 'Trailing ', 'X-\u{1F600}', 'X\tTab', '(x)'];

const HEADER_VALUES = [
  'application/json',
  'gzip, deflate, br',
  '*/*',
  'application/xml',
  'Bearer not-ours',
  'Basic dXNlcjpwYXNz',
  'Basic !!!',
  '1.2.3.4',
  'evil.example',
  'https',
  'keep-alive',
  'close',
  'Upgrade',
  'websocket',
  'h2c',
  '100-continue',
  'nonsense',
  'trailers',
  ' padded ',
  'é-latin',
  '日本',
  '',
  'x-custom, accept',
  'odata.maxpagesize=2',
  'bytes=0-10',
  '"etag"',
  'gzip',
  'v'.repeat(1_000),
];
const BAD_HEADER_VALUES = [
  'a\r\nX-Injected: 1',
  'a\nX-Injected: 2',
  'a\rb',
  'a\r\n folded',
  'a\r\n\tfolded',
  'nul\0inside',
  '\0',
  '\x7f',
  '\x01',
  'a\r\n\r\nGET /api/pipelined HTTP/1.1',
  'v'.repeat(20_000),
  'v'.repeat(70_000),
];

const goodHeader = fc.tuple(
  fc.oneof({ arbitrary: fc.constantFrom(...HEADER_NAMES), weight: 6 }, { arbitrary: fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/), weight: 1 }),
  fc.oneof({ arbitrary: fc.constantFrom(...HEADER_VALUES), weight: 4 }, { arbitrary: fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,18}[\x21-\x7e])?$/), weight: 1 }),
);
const badHeader = fc.oneof(
  fc.tuple(fc.constantFrom(...BAD_HEADER_NAMES), fc.constantFrom(...HEADER_VALUES)),
  fc.tuple(fc.constantFrom(...HEADER_NAMES), fc.oneof(fc.constantFrom(...BAD_HEADER_VALUES), fc.string({ unit: 'binary', maxLength: 20 }))),
);

type Framing = { kind: 'none' } | { kind: 'length'; values: readonly string[] } | { kind: 'chunked'; te: readonly string[]; withLength?: string };

/**
 * A request hidden in a body: it must never reach the upstream as a request of its own. (A
 * header value with CRLFCRLF, by contrast, makes the client pipeline a real second request,
 * which the proxy rightly serves when a Host header follows: that one says "pipelined".)
 */
const SMUGGLED = 'GET /api/smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

const bodyText = fc.oneof(fc.constant(''), fc.constant('{"a":1}'), fc.constant(SMUGGLED), fc.constant(`0\r\n\r\n${SMUGGLED}`), fc.string({ maxLength: 40 }));

/** Framing the parser should accept: none, the right Content-Length, or plain chunked. */
const goodFraming = (body: string): fc.Arbitrary<Framing> =>
  fc.constantFrom<Framing>({ kind: 'none' }, { kind: 'length', values: [`${Buffer.byteLength(body)}`] }, { kind: 'chunked', te: ['chunked'] });

/** Framing that is wrong or ambiguous, yet complete whichever way a parser reads it. */
const badFraming = (body: string): fc.Arbitrary<Framing> => {
  const length = Buffer.byteLength(body);
  return fc.oneof(
    fc
      .constantFrom(
        [`${length}`, `${length}`],
        [`${length}`, `${length + 1}`],
        [`${length}, ${length}`],
        [`${length},${length + 1}`],
        [` ${length} `],
        [`+${length}`],
        [`-${length}`],
        [`0${length}`],
        [`${length}abc`],
        [`0x${length.toString(16)}`],
        [`${length}.0`],
        ['99999999999999999999999'],
        [`${length}\r\n folded`],
      )
      .map((values): Framing => ({ kind: 'length', values })),
    fc
      .record({
        te: fc.constantFrom(
          ['Chunked'],
          [' chunked'],
          ['chunked, chunked'],
          ['gzip, chunked'],
          ['chunked, gzip'],
          ['identity'],
          ['xchunked'],
          ['chunked', 'chunked'],
          ['chunked\r\n folded'],
          ['chunked;q=1'],
          ['\tchunked'],
          ['chunked\0'],
        ),
        withLength: fc.option(fc.constantFrom(`${length}`, '0', '3'), { nil: undefined }),
      })
      .map(({ te, withLength }): Framing => ({ kind: 'chunked', te, ...(withLength === undefined ? {} : { withLength }) })),
    fc.constantFrom(`${length}`, '0', '3').map((withLength): Framing => ({ kind: 'chunked', te: ['chunked'], withLength })),
  );
};

function chunked(body: string): string {
  const length = Buffer.byteLength(body);
  return `${length > 0 ? `${length.toString(16)}\r\n${body}\r\n` : ''}0\r\n\r\n`;
}

interface RawRequest {
  method: string;
  target: string;
  version: string;
  host: boolean;
  headers: Array<[string, string]>;
  body: string;
  framing: Framing;
}

function serialize(request: RawRequest, proxyHost: string): Buffer {
  const lines = [`${request.method} ${request.target} ${request.version}`.replace(/ $/, '')];
  if (request.host) lines.push(`Host: ${proxyHost}`);
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
  let payload = '';
  const { framing: f } = request;
  if (f.kind === 'length') {
    for (const value of f.values) lines.push(`Content-Length: ${value}`);
    payload = request.body;
  } else if (f.kind === 'chunked') {
    for (const value of f.te) lines.push(`Transfer-Encoding: ${value}`);
    if (f.withLength !== undefined) lines.push(`Content-Length: ${f.withLength}`);
    payload = chunked(request.body);
  }
  lines.push('Connection: close');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${payload}`, 'utf8');
}

type Flaw = 'method' | 'target' | 'version' | 'host' | 'header' | 'framing';

/** A well-formed request with zero, one or two flaws, so that each kind of flaw is met on its own. */
const rawRequest = (proxyHost: string): fc.Arbitrary<RawRequest> =>
  fc.tuple(bodyText, fc.uniqueArray(fc.constantFrom<Flaw>('method', 'target', 'version', 'host', 'header', 'framing'), { maxLength: 2 })).chain(([body, flaws]) =>
    fc.record({
      method: fc.constantFrom(...(flaws.includes('method') ? BAD_METHODS : METHODS)),
      target: flaws.includes('target') ? badTarget(proxyHost) : goodTarget,
      version: fc.constantFrom(...(flaws.includes('version') ? BAD_VERSIONS : VERSIONS)),
      host: fc.constant(!flaws.includes('host')),
      headers: fc
        .tuple(fc.array(goodHeader, { maxLength: 5 }), flaws.includes('header') ? fc.array(badHeader, { minLength: 1, maxLength: 2 }) : fc.constant([]))
        .chain(([good, bad]) => fc.shuffledSubarray([...good, ...bad], { minLength: good.length + bad.length }))
        .map((list) => list.map(([name, value]) => [name, value] as [string, string])),
      body: fc.constant(body),
      framing: flaws.includes('framing') ? badFraming(body) : goodFraming(body),
    }),
  );

// --- checks on what the upstream received ----------------------------------------------------

const decodeOnce = (text: string): string => text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/** Why the proxy should not have forwarded this request target, or undefined. */
function refusable(url: string): string | undefined {
  if (!url.startsWith('/')) return 'not origin-form';
  if (url.startsWith('//')) return 'scheme-relative';
  if (!url.startsWith(`${BASE_PATH}/`) && url !== BASE_PATH && !url.startsWith(`${BASE_PATH}?`)) return `outside the route's base path ${BASE_PATH}`;
  if (url.includes('smuggled')) return 'a request smuggled in a body';
  const path = url.split('?')[0]!;
  let current = path;
  for (let round = 0; round <= 3; round++) {
    if (current.includes('\0')) return 'a NUL byte';
    if (current.split(/[\\/]/).some((part) => part === '.' || part === '..')) return `a dot segment (${JSON.stringify(current)}) after ${round} decodings`;
    current = decodeOnce(current);
  }
  const resolved = new URL(url, 'http://upstream.example').pathname;
  if (resolved !== BASE_PATH && !resolved.startsWith(`${BASE_PATH}/`)) return `a URL parser resolves it outside ${BASE_PATH} (to ${resolved})`;
  return undefined;
}

// --- the test ----------------------------------------------------------------------------------

t.test('raw HTTP/1.1 requests: complete answers below 500, nothing refusable upstream, still serving', async (t) => {
  const unhandled = recordUnhandled(t);

  const { upstream, proxy } = await startStack(t, { target: (url) => `${url}${BASE_PATH}` });
  const proxyHost = new URL(proxy.url).host;

  const warm = await fetch(`${proxy.url}/api/warm-up`);
  t.equal(warm.status, 200, 'a normal request works before the fuzzing');
  await warm.arrayBuffer();

  const outcomes = { answered: 0, closedByParser: 0, pipelined: 0, byStatus: new Map<number, number>() };
  const failures: string[] = [];
  const before = upstream.requests.length;

  await fc
    .assert(
      fc.asyncProperty(rawRequest(proxyHost), async (request) => {
        const sent = serialize(request, proxyHost);
        const head = request.method === 'HEAD';
        const seen = upstream.requests.length;
        const result = await exchange(proxy.url, sent, (received) => parseResponses(received, head).every((response) => response.complete));
        if (sent.toString('latin1').split('\r\n\r\n').length > 2) outcomes.pipelined++;
        const describe = () => `${JSON.stringify(sent.toString('utf8').slice(0, 300))} → ${JSON.stringify(result.received.slice(0, 200))}${result.error ? ` (${result.error})` : ''}`;
        if (result.timedOut) throw new Error(`no answer and no close within the time limit: ${describe()}`);
        // Node keeps an HTTP/1.0 connection when the client also sent "Connection: keep-alive", whatever else it sent.
        const askedToKeep = request.headers.some(([name, value]) => name.toLowerCase() === 'connection' && /keep-alive/i.test(value));
        if (result.keptOpen && !askedToKeep) throw new Error(`the server kept the connection open despite "Connection: close": ${describe()}`);
        // Checked here too (and again on the whole list below) so that fast-check shrinks to the request that did it.
        const forwarded = upstream.requests.slice(seen).filter((entry) => refusable(entry.url) !== undefined);
        if (forwarded.length > 0) throw new Error(`the upstream received ${forwarded.map((entry) => `${entry.method} ${entry.url} (${refusable(entry.url)})`).join(', ')}: ${describe()}`);
        const responses = parseResponses(result.received, head);
        if (responses.length === 0) {
          // The server's parser hung up without a word (or after a reset): allowed for malformed input.
          outcomes.closedByParser++;
          return;
        }
        outcomes.answered++;
        for (const response of responses) {
          outcomes.byStatus.set(response.status, (outcomes.byStatus.get(response.status) ?? 0) + 1);
          if (!response.complete) throw new Error(`incomplete response (${response.reason}): ${describe()}`);
          if (response.status >= 500) throw new Error(`status ${response.status}: ${describe()}`);
        }
      }),
      // FUZZ_SEED and FUZZ_PATH (as printed on a failure) replay one run; FUZZ_RUNS runs longer.
      { numRuns: Number(process.env.FUZZ_RUNS ?? 400), ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED), path: process.env.FUZZ_PATH } : {}) },
    )
    .catch((error: Error) => failures.push(`${error.message}\n${error.cause instanceof Error ? error.cause.message : String(error.cause)}`));
  t.same(failures, [], 'every request answered completely below 500, or closed by the parser');

  t.comment(`answered ${outcomes.answered}, closed by the parser ${outcomes.closedByParser}; statuses ${JSON.stringify([...outcomes.byStatus].sort((a, b) => a[0] - b[0]))}`);

  const reached = upstream.requests.slice(before);
  t.comment(`${reached.length} requests reached the upstream, e.g. ${JSON.stringify(reached.slice(0, 8).map((request) => `${request.method} ${request.url}`))}`);
  const refused = reached.map((request) => ({ target: `${request.method} ${request.url}`, why: refusable(request.url) })).filter((entry) => entry.why !== undefined);
  t.same(refused, [], 'no request the proxy should have refused reached the upstream');
  t.ok(
    reached.every((request) => request.headers.host === new URL(upstream.url).host),
    'the upstream always saw its own Host, never the client’s',
  );
  const badValues = reached.flatMap((request) => request.rawHeaders.filter((value) => /[\r\n\0]/.test(value)));
  t.same(badValues, [], 'no header name or value with CR, LF or NUL reached the upstream');
  t.notOk(
    reached.some((request) => request.url.includes('smuggled') || request.rawHeaders.some((value) => value.includes('smuggled'))),
    'no request smuggled in a body reached the upstream',
  );
  // The upstream answers 200 to all it gets; a second request the client pipelined may lose its answer when Node's parser refuses the next one.
  t.ok(
    reached.length <= (outcomes.byStatus.get(200) ?? 0) + outcomes.pipelined,
    `no more upstream requests (${reached.length}) than 200 answers (${outcomes.byStatus.get(200) ?? 0}) plus runs that pipelined a second request (${outcomes.pipelined})`,
  );

  const after = await fetch(`${proxy.url}/api/x`);
  t.equal(after.status, 200, 'GET /api/x still answers 200 afterwards');
  await after.arrayBuffer();
  const health = await fetch(`${proxy.url}/healthz`);
  t.equal(health.status, 200, '/healthz still answers');
  await health.arrayBuffer();
  await new Promise((resolve) => setImmediate(resolve));
  t.same(unhandled.map(String), [], 'no unhandled rejection or uncaught exception');
});

t.test('found by fuzzing: "/api/..#x" is refused, since URL parsers would resolve it above the base path', async (t) => {
  const { upstream, proxy } = await startStack(t, { target: (url) => `${url}${BASE_PATH}` });
  const result = await exchange(proxy.url, Buffer.from(`GET /api/..#x HTTP/1.1\r\nHost: ${new URL(proxy.url).host}\r\nConnection: close\r\n\r\n`));
  const status = parseResponses(result.received, false)[0]?.status;
  const forwarded = upstream.requests.map((request) => request.url);
  t.equal(status, 400, `refused with 400 (got ${status}; upstream saw ${JSON.stringify(forwarded)})`);
  t.same(forwarded, [], 'nothing reached the upstream');
});
