import type { IncomingMessage } from 'node:http';
import t from 'tap';
import { isProxyError } from '../../src/errors.ts';
import { refuseEchoingMethods } from '../../src/proxy/methods.ts';

function outcome(method: string, headers: Record<string, string> = {}): string {
  try {
    refuseEchoingMethods({ method, headers } as unknown as IncomingMessage);
    return 'forwarded';
  } catch (error) {
    return isProxyError(error) ? `${error.status} ${error.code} allow=${error.headers.allow}` : 'crashed';
  }
}

t.test('TRACE and TRACK are refused with 405 and an Allow header', async (t) => {
  for (const method of ['TRACE', 'TRACK']) t.match(outcome(method), /^405 METHOD_NOT_ALLOWED allow=GET, HEAD, POST/, method);
});

t.test('the same methods asked for through an override header are refused too', async (t) => {
  for (const name of ['x-http-method', 'x-http-method-override', 'x-method-override']) {
    t.match(outcome('POST', { [name]: 'TRACE' }), /^405/, `${name}: TRACE`);
    t.match(outcome('POST', { [name]: ' track ' }), /^405/, `${name}: track, any case and spacing`);
  }
});

t.test('everything else passes, OData v2 method tunnelling included', async (t) => {
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'MERGE', 'PROPFIND']) t.equal(outcome(method), 'forwarded', method);
  t.equal(outcome('POST', { 'x-http-method': 'MERGE' }), 'forwarded', 'X-HTTP-Method: MERGE');
  t.equal(outcome('POST', { 'x-http-method-override': 'PATCH' }), 'forwarded');
  t.equal(outcome('POST', { 'x-http-method': 'TRACEROUTE' }), 'forwarded', 'only the whole word');
});
