import t from 'tap';
import { rawRequest } from '../helpers/raw-http.ts';
import { startStack } from '../helpers/stack.ts';

/*
 * TRACE smuggled through a method override header, in every shape a framework might read
 * it: the first or last element of a list, one of several headers, quoted, with
 * parameters, under an underscore spelling. Each is refused before any upstream is asked.
 * Before: `X-HTTP-Method-Override: TRACE, GET` and two headers passed.
 */

const NAMES = ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override', 'x-http-method-override', 'X_HTTP_Method_Override', 'X_HTTP_METHOD', 'x_method_override'];

/** Header lines that carry TRACE or TRACK through one override header name. */
function smuggled(name: string): Array<[string, string[]]> {
  return [
    ['a list, TRACE first', [`${name}: TRACE, GET`]],
    ['a list, TRACE last', [`${name}: GET, TRACE`]],
    ['a list without spaces', [`${name}: GET,TRACK`]],
    ['two headers, TRACE second', [`${name}: GET`, `${name}: TRACE`]],
    ['two headers, TRACE first', [`${name}: TRACE`, `${name}: POST`]],
    ['three headers', [`${name}: GET`, `${name}: PATCH`, `${name}: track`]],
    ['quoted', [`${name}: "TRACE"`]],
    ['with a parameter', [`${name}: TRACE;q=1`]],
    ['with a tab', [`${name}:\tTRACE\t`]],
  ];
}

t.test('TRACE and TRACK in any element of any override header are refused with 405', async (t) => {
  const { upstream, proxy } = await startStack(t);
  const host = new URL(proxy.url).host;
  const send = (lines: string[]) => rawRequest(proxy.url, `POST /api/x HTTP/1.1\r\nHost: ${host}\r\n${lines.join('\r\n')}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
  for (const name of NAMES) {
    for (const [shape, lines] of smuggled(name)) t.equal((await send(lines)).status, 405, `${name}: ${shape}`);
  }
  // Another override header beside the smuggling one: every header is looked at.
  t.equal((await send(['X-HTTP-Method: MERGE', 'X-HTTP-Method-Override: TRACE'])).status, 405, 'two different override names');
  t.same(upstream.requests, [], 'none reached the upstream');
  for (const value of ['MERGE', 'PATCH', 'DELETE, PATCH', 'TRACEROUTE']) t.equal((await send([`X-HTTP-Method: ${value}`])).status, 200, `X-HTTP-Method: ${value} passes`);
  t.equal(upstream.requests.length, 4);
});
