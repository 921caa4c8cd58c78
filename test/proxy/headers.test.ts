import t from 'tap';
import { clientResponseHeaders, upstreamRequestHeaders, type UpstreamHeaderValues } from '../../src/proxy/headers.ts';

const values: UpstreamHeaderValues = {
  host: 'api.example.com',
  authorization: 'Bearer injected',
  forwardedFor: '127.0.0.1',
  forwardedProto: 'http',
  forwardedHost: 'localhost:8080',
  requestId: 'req-1',
  static: [],
};

function pairs(flat: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

t.test('request headers: what the client sent, minus what only the proxy may set', async (t) => {
  const raw = [
    'Host', 'localhost:8080',
    'Accept', 'application/json',
    'Authorization', 'Basic dXNlcjpwYXNz',
    'Proxy-Authorization', 'Basic eA==',
    'Connection', 'keep-alive, X-Hop',
    'X-Hop', 'dropped',
    'Keep-Alive', 'timeout=5',
    'TE', 'trailers',
    'Transfer-Encoding', 'chunked',
    'Upgrade', 'websocket',
    'Expect', '100-continue',
    'X-Forwarded-For', '10.0.0.1',
    'X-Forwarded-Host', 'evil',
    'X-Forwarded-Proto', 'https',
    'X-Request-Id', 'client-id',
    'Cookie', 'a=1',
    'Cookie', 'b=2',
    'OData-MaxVersion', '4.0',
  ];
  t.same(pairs(upstreamRequestHeaders(raw, values)), [
    ['Accept', 'application/json'],
    ['Cookie', 'a=1'],
    ['Cookie', 'b=2'],
    ['OData-MaxVersion', '4.0'],
    ['host', 'api.example.com'],
    ['x-forwarded-for', '127.0.0.1'],
    ['x-forwarded-proto', 'http'],
    ['x-forwarded-host', 'localhost:8080'],
    ['x-request-id', 'req-1'],
    ['authorization', 'Bearer injected'],
  ]);
});

t.test('route headers replace the client’s of the same name, case-insensitively', async (t) => {
  const headers = upstreamRequestHeaders(['OCP-APIM-Subscription-Key', 'client', 'Accept', '*/*'], { ...values, forwardedHost: undefined, static: [['ocp-apim-subscription-key', 'route']] });
  t.same(pairs(headers).filter(([name]) => name.toLowerCase() === 'ocp-apim-subscription-key'), [['ocp-apim-subscription-key', 'route']]);
  t.notOk(headers.includes('x-forwarded-host'), 'no X-Forwarded-Host without a Host');
});

t.test('response headers: one to one, minus hop-by-hop', async (t) => {
  const upstream = {
    'content-type': 'application/json;odata.metadata=minimal',
    'odata-version': '4.0',
    'set-cookie': ['a=1', 'b=2'],
    connection: 'keep-alive, x-internal',
    'x-internal': 'dropped',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    'proxy-authenticate': 'Basic',
    'content-length': '10',
  };
  t.same(clientResponseHeaders(upstream), {
    'content-type': 'application/json;odata.metadata=minimal',
    'odata-version': '4.0',
    'set-cookie': ['a=1', 'b=2'],
    'content-length': '10',
  });
});
