import t from 'tap';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { bodyRewriteFor, type WholeBody } from '../../src/odata/body.ts';
import { RewriteRules } from '../../src/odata/rewrite.ts';

const upstream = 'https://api.example.com/odata/v4/sales';
const proxy = 'http://localhost:8080/sales';
const rules = new RewriteRules(upstream, proxy);

/** A whole body as the client receives it: a text one is written as latin1. */
const asBytes = (body: WholeBody): Buffer => (typeof body === 'string' ? Buffer.from(body, 'latin1') : body);

t.test('each kind of body gets its rewriting, whole and streamed alike', async (t) => {
  const json = Buffer.from(`{"@odata.nextLink":"${upstream}/Orders?$skiptoken=2"}`);
  const part = (link: string) =>
    `--batch-json\r\ncontent-type: application/http\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${link.length + 2}\r\n\r\n"${link}"\r\n--batch-json--`;
  const cases: Array<[string | undefined, Buffer, string | undefined]> = [
    ['application/json;odata.metadata=minimal', json, json.toString().replace(upstream, proxy)],
    ['application/atom+xml', Buffer.from(`<feed xml:base="${upstream}/"/>`), `<feed xml:base="${proxy}/"/>`],
    ['multipart/mixed; boundary=batch-json', Buffer.from(part(`${upstream}/x`)), part(`${proxy}/x`)],
    ['text/plain', json, undefined],
    ['multipart/form-data; boundary=batch-json', json, undefined],
    [undefined, json, undefined],
  ];
  for (const [type, body, expected] of cases) {
    const rewrite = bodyRewriteFor(type, rules);
    if (expected === undefined) {
      t.equal(rewrite, undefined, `${type}: passes untouched`);
      continue;
    }
    t.equal(asBytes(await rewrite!.whole(body)).toString(), expected, `${type}: whole`);
    t.equal((await buffer(Readable.from([body.subarray(0, 7), body.subarray(7)]).pipe(rewrite!.stream()))).toString(), expected, `${type}: streamed`);
  }
  t.equal(bodyRewriteFor('multipart/mixed', rules), undefined, 'multipart without a boundary is left alone (not taken for text)');
  t.equal(bodyRewriteFor('multipart/related; boundary=x-json', rules), undefined, 'only multipart/mixed is parsed ($batch and its changesets)');
});
