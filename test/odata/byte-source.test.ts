import t from 'tap';
import { DelimitedSource, LimitedSource, PrefixedSource, readExactly, readThrough, remaining, StreamSource, type ByteSource } from '../../src/odata/byte-source.ts';

/** A source that hands out `text` in the given chunk lengths (the last chunk takes what is left). */
function chunked(text: string, lengths: number[]): StreamSource {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const length of lengths) {
    chunks.push(bytes.subarray(at, at + length));
    at += length;
  }
  chunks.push(bytes.subarray(at));
  return new StreamSource(
    (async function* () {
      yield* chunks;
    })(),
  );
}

async function drain(source: ByteSource): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of remaining(source)) parts.push(chunk);
  return Buffer.concat(parts).toString();
}

t.test('DelimitedSource finds a delimiter cut across chunks at every position, and leaves what follows on its parent', async (t) => {
  const text = 'part one\r\n--batch\r\npart two';
  let checked = 0;
  for (let first = 0; first <= text.length; first++) {
    for (const second of [1, 2, 3, 7]) {
      const parent = chunked(text, [first, second, 1]);
      const part = new DelimitedSource(parent, Buffer.from('\r\n--batch'));
      const before = await drain(part);
      if (before !== 'part one' || !part.found || (await drain(parent)) !== '\r\npart two') {
        t.fail(`split at ${first}+${second}: read ${JSON.stringify(before)}, found ${part.found}`);
        return;
      }
      checked++;
    }
  }
  t.equal(checked, (text.length + 1) * 4, 'every split gave the part, the delimiter consumed, the rest on the parent');
});

t.test('DelimitedSource without its delimiter: every byte, found false; a delimiter at the very start: an empty part', async (t) => {
  const missing = new DelimitedSource(chunked('no boundary in here', [3, 5]), Buffer.from('--b'));
  t.equal(await drain(missing), 'no boundary in here');
  t.equal(missing.found, false);
  const parent = chunked('--brest', [1]);
  const empty = new DelimitedSource(parent, Buffer.from('--b'));
  t.equal(await drain(empty), '');
  t.equal(empty.found, true);
  t.equal(await drain(parent), 'rest');
});

t.test('readThrough: the marker within the limit is found and the rest put back; beyond it, or at the end, nothing is lost', async (t) => {
  const headers = chunked('Content-Type: a\r\n\r\nbody', [4, 4, 4]);
  const read = await readThrough(headers, Buffer.from('\r\n\r\n'), 64);
  t.same({ bytes: read.bytes.toString(), found: read.found }, { bytes: 'Content-Type: a\r\n\r\n', found: true });
  t.equal(await drain(headers), 'body');

  const long = `${'x'.repeat(100)}\r\n\r\nafter`;
  const tooFar = chunked(long, [10, 10, 10]);
  const unfound = await readThrough(tooFar, Buffer.from('\r\n\r\n'), 20);
  t.equal(unfound.found, false, 'a marker past the limit is not taken');
  t.equal(unfound.bytes.toString() + (await drain(tooFar)), long, 'what was read comes back with the rest still on the source');

  const ended = await readThrough(chunked('no marker', [2]), Buffer.from('\r\n'), 64);
  t.same({ bytes: ended.bytes.toString(), found: ended.found }, { bytes: 'no marker', found: false });
});

t.test('readExactly and LimitedSource take their length and leave the rest; fewer bytes at the end', async (t) => {
  const source = chunked('0123456789', [3, 3]);
  t.equal((await readExactly(source, 4)).toString(), '0123');
  t.equal((await readExactly(source, 0)).toString(), '');
  t.equal(await drain(source), '456789');
  t.equal((await readExactly(chunked('abc', [1]), 10)).toString(), 'abc', 'short at the end');

  const parent = chunked('HEADbody-and-more', [2, 10]);
  t.equal(await drain(new LimitedSource(parent, 8)), 'HEADbody');
  t.equal(await drain(parent), '-and-more');
});

t.test('PrefixedSource reads its prefix first; StreamSource skips empty chunks; unread bytes come next', async (t) => {
  const stream = new StreamSource(
    (async function* () {
      yield Buffer.alloc(0);
      yield Buffer.from('b');
      yield Buffer.alloc(0);
      yield Buffer.from('c');
    })(),
  );
  const prefixed = new PrefixedSource(Buffer.from('a'), stream);
  const first = await prefixed.read();
  t.equal(first?.toString(), 'a');
  prefixed.unread(Buffer.from('A'));
  prefixed.unread(Buffer.alloc(0));
  const seen: string[] = [];
  for (let chunk = await prefixed.read(); chunk !== null; chunk = await prefixed.read()) seen.push(chunk.toString());
  t.same(seen, ['A', 'b', 'c'], 'never an empty chunk, and null only at the end');
});
