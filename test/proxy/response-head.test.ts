import t from 'tap';
import { readResponseHead, valueAt, withoutHeaders } from '../../src/proxy/response-head.ts';

const raw = (flat: string[]) => flat.map((text) => Buffer.from(text, 'latin1'));

t.test('response headers, table-driven: one to one, in order and spelling, hop-by-hop gone', async (t) => {
  const cases: Array<{ name: string; upstream: string[]; expected: string[] }> = [
    {
      name: 'exactly as the upstream sent them',
      upstream: ['Content-Type', 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8', 'OData-Version', '4.0', 'Content-Length', '10', 'ETag', 'W/"1"'],
      expected: ['Content-Type', 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8', 'OData-Version', '4.0', 'Content-Length', '10', 'ETag', 'W/"1"'],
    },
    {
      name: 'repeated headers stay separate, never merged',
      upstream: ['Set-Cookie', 'a=1', 'Vary', 'Accept', 'Set-Cookie', 'b=2'],
      expected: ['Set-Cookie', 'a=1', 'Vary', 'Accept', 'Set-Cookie', 'b=2'],
    },
    {
      name: 'hop-by-hop headers are dropped, whatever their case',
      upstream: [
        'Connection',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'Proxy-Connection',
        'x',
        'TE',
        'trailers',
        'Trailer',
        'x-sum',
        'Transfer-Encoding',
        'chunked',
        'Upgrade',
        'h2c',
        'Proxy-Authenticate',
        'Basic',
        'Proxy-Authorization',
        'x',
        'HTTP2-Settings',
        'x',
        'content-type',
        'text/plain',
      ],
      expected: ['content-type', 'text/plain'],
    },
    {
      name: 'headers named in Connection are dropped, case-insensitively',
      upstream: ['Connection', 'Keep-Alive, X-Internal ,, x-other', 'X-INTERNAL', 'a', 'x-other', 'b', 'x-kept', 'c', 'connection', 'close, X-Third', 'x-third', 'd'],
      expected: ['x-kept', 'c'],
    },
    {
      name: 'a header named in a later Connection is dropped too',
      upstream: ['X-Early', 'a', 'Content-Type', 'text/plain', 'Connection', 'x-early'],
      expected: ['Content-Type', 'text/plain'],
    },
    {
      name: 'bytes beyond ASCII pass unchanged (latin1 in, latin1 out)',
      upstream: ['Content-Disposition', 'attachment; filename="\u00e4.csv"'],
      expected: ['Content-Disposition', 'attachment; filename="\u00e4.csv"'],
    },
    { name: 'nothing in, nothing out', upstream: [], expected: [] },
  ];
  for (const { name, upstream, expected } of cases) t.same(readResponseHead(200, raw(upstream)).list, expected, name);
  const reread = readResponseHead(200, raw(['X-Early', 'a', 'Content-Type', 'text/plain', 'Connection', 'x-early']));
  t.equal(reread.list[reread.contentType], 'text/plain', 'positions are of the list without the dropped header');
});

t.test('the values the relay reads are found in the same pass', async (t) => {
  const head = readResponseHead(
    201,
    raw([
      'Content-Type',
      'application/json',
      'Location',
      'https://up/x(1)',
      'Content-Length',
      '42',
      'Link',
      '<https://up/n>; rel="next"',
      'Set-Cookie',
      'a=1',
      'Content-Location',
      'https://up/x',
      'Set-Cookie',
      'b=2',
      'Vary',
      'Accept',
      'X-Request-Id',
      'abc',
    ]),
  );
  t.equal(head.statusCode, 201);
  t.same(
    [valueAt(head, head.contentType), valueAt(head, head.contentLength), valueAt(head, head.vary), valueAt(head, head.requestId), valueAt(head, head.contentEncoding)],
    ['application/json', '42', 'Accept', 'abc', undefined],
  );
  t.same(
    head.locations!.map((at) => head.list[at]),
    ['https://up/x(1)', 'https://up/x'],
  );
  t.same(
    head.links!.map((at) => head.list[at]),
    ['<https://up/n>; rel="next"'],
  );
  t.same(
    head.cookies!.map((at) => head.list[at]),
    ['a=1', 'b=2'],
  );
  t.same(
    withoutHeaders(head.list, [head.contentLength, head.contentType]).filter((_, index) => index % 2 === 0),
    ['Location', 'Link', 'Set-Cookie', 'Content-Location', 'Set-Cookie', 'Vary', 'X-Request-Id'],
  );
  const plain = readResponseHead(200, raw(['Content-Type', 'text/plain']));
  t.same([plain.locations, plain.links, plain.cookies], [undefined, undefined, undefined], 'nothing allocated for headers that are not there');
});
