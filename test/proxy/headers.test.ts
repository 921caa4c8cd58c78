import t from 'tap';
import { FORWARDED_HEADERS } from '../../src/http/owned-headers.ts';
import { forwardedElement, upstreamRequestHeaders, type UpstreamHeaderValues } from '../../src/proxy/headers.ts';

const values: UpstreamHeaderValues = {
  host: 'api.example.com',
  authorization: 'Bearer injected',
  forwardedFor: '127.0.0.1',
  forwardedProto: 'http',
  forwardedHost: 'localhost:8080',
  requestId: 'req-1',
  static: [],
  forwarded: { names: new Set(FORWARDED_HEADERS), prefix: undefined, path: '/sales/Orders' },
};

/** What the proxy itself sets, always last and always once. */
const PROXY_SET: Array<[string, string]> = [
  ['host', 'api.example.com'],
  ['x-forwarded-for', '127.0.0.1'],
  ['x-forwarded-proto', 'http'],
  ['x-forwarded-host', 'localhost:8080'],
  ['x-forwarded-path', '/sales/Orders'],
  ['forwarded', 'for=127.0.0.1;host="localhost:8080";proto=http'],
  ['x-request-id', 'req-1'],
  ['authorization', 'Bearer injected'],
];

function pairs(flat: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

t.test('request headers, table-driven', async (t) => {
  const cases: Array<{ name: string; raw: string[]; static?: Array<[string, string]>; passed: Array<[string, string]> }> = [
    {
      name: 'ordinary headers pass with their casing',
      raw: ['Accept', 'application/json', 'OData-MaxVersion', '4.0', 'prefer', 'odata.maxpagesize=100'],
      passed: [
        ['Accept', 'application/json'],
        ['OData-MaxVersion', '4.0'],
        ['prefer', 'odata.maxpagesize=100'],
      ],
    },
    {
      name: 'hop-by-hop headers are dropped, whatever their case',
      raw: [
        'Connection',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'proxy-connection',
        'keep-alive',
        'TE',
        'trailers',
        'Trailer',
        'X-Checksum',
        'Transfer-Encoding',
        'chunked',
        'Upgrade',
        'websocket',
        'HTTP2-Settings',
        'AAMAAABkAAQAAP__',
        'PROXY-AUTHENTICATE',
        'Basic',
        'Accept',
        '*/*',
      ],
      passed: [['Accept', '*/*']],
    },
    {
      name: 'headers named in Connection are dropped',
      raw: ['Connection', 'close, X-Hop ,x-other', 'X-Hop', 'a', 'X-OTHER', 'b', 'X-Kept', 'c'],
      passed: [['X-Kept', 'c']],
    },
    {
      name: 'several Connection headers add up, even listed after the header they name',
      raw: ['X-Late', 'a', 'Connection', 'x-one', 'X-One', 'b', 'connection', 'X-Late, , ', 'X-Kept', 'c'],
      passed: [['X-Kept', 'c']],
    },
    { name: 'Connection can drop an ordinary header', raw: ['Connection', 'Accept', 'Accept', '*/*', 'Accept-Language', 'de'], passed: [['Accept-Language', 'de']] },
    {
      name: 'what only the proxy may set is dropped and replaced',
      raw: [
        'Host',
        'localhost:8080',
        'Authorization',
        'Basic dXNlcjpwYXNz',
        'authorization',
        'Bearer smuggled',
        'Proxy-Authorization',
        'Basic eA==',
        'X-Forwarded-For',
        '10.0.0.1',
        'X-Forwarded-Host',
        'evil',
        'X-Forwarded-Proto',
        'https',
        'X-Request-Id',
        'client-id',
        'Expect',
        '100-continue',
      ],
      passed: [],
    },
    {
      name: 'claims upstreams trust about the client or the path are dropped',
      raw: [
        'Forwarded',
        'for=10.0.0.1',
        'X-Real-IP',
        '10.0.0.1',
        'X-Original-URL',
        '/admin',
        'X-Rewrite-URL',
        '/admin',
        'X-Forwarded-Prefix',
        '/x',
        'X-Forwarded-Path',
        '/x/Orders',
        'X-Forwarded-Port',
        '443',
        'True-Client-IP',
        '1.2.3.4',
        'Accept',
        '*/*',
      ],
      passed: [['Accept', '*/*']],
    },
    {
      name: 'repeated headers stay separate and in order',
      raw: ['Cookie', 'a=1', 'Accept', '*/*', 'Cookie', 'b=2', 'X-Multi', 'one', 'x-multi', 'two'],
      passed: [
        ['Cookie', 'a=1'],
        ['Accept', '*/*'],
        ['Cookie', 'b=2'],
        ['X-Multi', 'one'],
        ['x-multi', 'two'],
      ],
    },
    {
      name: 'static route headers replace the client’s of the same name, case-insensitively',
      raw: ['OCP-APIM-Subscription-Key', 'client', 'Accept', '*/*', 'ocp-apim-subscription-key', 'again', 'X-Tenant', 't1'],
      static: [
        ['ocp-apim-subscription-key', 'route'],
        ['x-tenant', 'route-tenant'],
      ],
      passed: [
        ['Accept', '*/*'],
        ['ocp-apim-subscription-key', 'route'],
        ['x-tenant', 'route-tenant'],
      ],
    },
    {
      name: 'static headers come after the client’s, in config order',
      raw: ['Accept', '*/*'],
      static: [
        ['x-b', '2'],
        ['x-a', '1'],
      ],
      passed: [
        ['Accept', '*/*'],
        ['x-b', '2'],
        ['x-a', '1'],
      ],
    },
    {
      name: 'values are passed as they are',
      raw: ['If-Match', 'W/"abc, def"', 'X-Empty', ''],
      passed: [
        ['If-Match', 'W/"abc, def"'],
        ['X-Empty', ''],
      ],
    },
    { name: 'no headers at all', raw: [], passed: [] },
  ];
  for (const { name, raw, static: staticHeaders = [], passed } of cases) {
    t.same(pairs(upstreamRequestHeaders(raw, { ...values, static: staticHeaders })), [...passed, ...PROXY_SET], name);
  }
});

t.test('the proxy-set headers', async (t) => {
  const headers = pairs(upstreamRequestHeaders(['Host', 'x'], { ...values, forwardedHost: undefined }));
  t.same(
    headers,
    PROXY_SET.filter(([name]) => name !== 'x-forwarded-host').map(([name, value]) => [name, name === 'forwarded' ? 'for=127.0.0.1;proto=http' : value]),
    'no X-Forwarded-Host (nor Forwarded host=) without a client Host',
  );
  const authorizations = pairs(upstreamRequestHeaders(['Authorization', 'Basic x', 'Proxy-Authorization', 'Basic y'], values)).filter(([name]) => /authorization/i.test(name));
  t.same(authorizations, [['authorization', 'Bearer injected']], 'exactly one Authorization, the injected one');
});

t.test('forwarded headers: which are sent, and what they say', async (t) => {
  const sent = (forwarded: Partial<UpstreamHeaderValues['forwarded']>, extra: Partial<UpstreamHeaderValues> = {}) =>
    pairs(
      upstreamRequestHeaders(['X-Forwarded-Prefix', '/evil', 'X-Forwarded-Path', '/evil', 'Forwarded', 'for=6.6.6.6;host=evil'], {
        ...values,
        ...extra,
        forwarded: { ...values.forwarded, ...forwarded },
      }),
    ).filter(([name]) => name.startsWith('x-forwarded') || name === 'forwarded');
  t.same(
    sent({}),
    PROXY_SET.filter(([name]) => name.startsWith('x-forwarded') || name === 'forwarded'),
    'all of them by default; the caller’s claims are gone',
  );
  t.same(
    sent({ prefix: '/team' }).find(([name]) => name === 'x-forwarded-prefix'),
    ['x-forwarded-prefix', '/team'],
    'X-Forwarded-Prefix when the route has one to say',
  );
  t.same(sent({ names: new Set() }), [], 'forwardedHeaders: false sends none');
  t.same(
    sent({ names: new Set(['x-forwarded-host', 'x-forwarded-proto']) }),
    [
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-host', 'localhost:8080'],
    ],
    'a list sends those, in the fixed order',
  );
  t.same(
    sent({}, { forwardedHost: undefined }).map(([name]) => name),
    ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-path', 'forwarded'],
    'no host to tell: no X-Forwarded-Host',
  );
  const withStatic = pairs(
    upstreamRequestHeaders([], {
      ...values,
      static: [
        ['x-forwarded-prefix', '/ops'],
        ['forwarded', 'for=gateway'],
      ],
      forwarded: { ...values.forwarded, prefix: '/team' },
    }),
  );
  t.same(
    withStatic.filter(([name]) => name === 'x-forwarded-prefix' || name === 'forwarded'),
    [
      ['x-forwarded-prefix', '/ops'],
      ['forwarded', 'for=gateway'],
    ],
    'a static header of the same name wins, once',
  );
});

t.test('forwardedElement (RFC 7239)', async (t) => {
  t.equal(forwardedElement('127.0.0.1', 'localhost:8080', 'http'), 'for=127.0.0.1;host="localhost:8080";proto=http', 'host:port is quoted (":" is not a token character)');
  t.equal(forwardedElement('::1', 'localhost', 'https'), 'for="[::1]";host=localhost;proto=https', 'IPv6 in brackets and quotes');
  t.equal(forwardedElement('::ffff:10.1.2.3', '[::1]:8080', 'http'), 'for="[::ffff:10.1.2.3]";host="[::1]:8080";proto=http');
  t.equal(forwardedElement('', undefined, 'http'), 'for=unknown;proto=http', 'no address, no host');
});

t.test('the client’s raw header list is not modified', async (t) => {
  const raw = ['Connection', 'X-Hop', 'X-Hop', 'a', 'Accept', '*/*'];
  upstreamRequestHeaders(raw, values);
  t.same(raw, ['Connection', 'X-Hop', 'X-Hop', 'a', 'Accept', '*/*']);
});
