import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import t from 'tap';
import { contentCodingOf, decoderFor, encoderFor, negotiateCoding, type ContentCoding } from '../../src/proxy/compression.ts';

t.test('contentCodingOf: identity, a coding the proxy decodes, or undefined for one it leaves alone', async (t) => {
  const cases: Array<[string | undefined, ReturnType<typeof contentCodingOf>]> = [
    [undefined, 'identity'],
    ['', 'identity'],
    ['identity', 'identity'],
    [' GZIP ', 'gzip'],
    ['x-gzip', 'gzip'],
    ['deflate', 'deflate'],
    ['br', 'br'],
    ['zstd', undefined],
    ['gzip, br', undefined], // stacked codings: not decoded, passed through as they are
    ['constructor', undefined], // names on Object.prototype are not codings
    ['__proto__', undefined],
    ['toString', undefined],
  ];
  for (const [value, expected] of cases) t.equal(contentCodingOf(value), expected, JSON.stringify(value));
});

t.test('negotiateCoding: the upstream coding when the client takes it, else gzip, deflate, br; identity when it takes none', async (t) => {
  const cases: Array<[string | undefined, ContentCoding, ContentCoding | undefined]> = [
    [undefined, 'gzip', undefined],
    ['', 'br', undefined],
    ['gzip, deflate, br', 'br', 'br'],
    ['gzip, deflate', 'br', 'gzip'],
    ['deflate', 'gzip', 'deflate'],
    ['x-gzip', 'br', 'gzip'],
    ['br;q=0, gzip;q=0.5', 'br', 'gzip'],
    ['*', 'deflate', 'deflate'],
    ['*;q=0', 'gzip', undefined],
    ['gzip;q=0, *', 'gzip', 'deflate'],
    ['identity', 'gzip', undefined],
  ];
  for (const [accept, preferred, expected] of cases) t.equal(negotiateCoding(accept, preferred), expected, `${JSON.stringify(accept)} with upstream ${preferred}`);
});

t.test('encoderFor and decoderFor round-trip a body, and the encoded bytes are what zlib reads as that coding', async (t) => {
  const body = Buffer.from(JSON.stringify({ value: Array.from({ length: 500 }, (_, i) => ({ id: i, url: `https://api.example.com/odata/Orders(${i})` })) }));
  const readers: Record<ContentCoding, (bytes: Buffer) => Buffer> = { gzip: gunzipSync, deflate: inflateSync, br: brotliDecompressSync };
  for (const coding of ['gzip', 'deflate', 'br'] as const) {
    const encoded = await through(encoderFor(coding), body);
    t.ok(encoded.length < body.length / 4, `${coding}: compressed (${body.length} → ${encoded.length} bytes)`);
    t.same(readers[coding](encoded), body, `${coding}: zlib decodes it`);
    t.same(await through(decoderFor(coding), encoded), body, `${coding}: decoderFor decodes it`);
  }
});

async function through(stage: NodeJS.ReadWriteStream, input: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  await pipeline(Readable.from([input.subarray(0, 1000), input.subarray(1000)]), stage, sink);
  return Buffer.concat(chunks);
}
