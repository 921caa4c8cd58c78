import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { LineCounter, parseDocument } from 'yaml';
import { MAX_CONFIG_BYTES, MAX_ENTRIES, readBoundedFile, structureProblems, textTooLarge } from '../../src/config/size-limits.ts';

/** The error readBoundedFile throws, or a failure when it reads the file. */
function refusal(t: Test, path: string, limit: number): NodeJS.ErrnoException & { limit?: number } {
  try {
    readBoundedFile(path, limit);
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  t.fail(`${path} was read`);
  return new Error('read');
}

/** structureProblems as the loader runs it (duplicate keys left to it, not to the parser). */
function problemsOf(text: string) {
  const lines = new LineCounter();
  return structureProblems(parseDocument(text, { lineCounter: lines, uniqueKeys: false }), lines);
}

const mapping = (count: number, indent = '') => Array.from({ length: count }, (_, i) => `${indent}k${i}: ${i}`).join('\n');
const list = (count: number, indent = '') => Array.from({ length: count }, (_, i) => `${indent}- ${i}`).join('\n');

t.test('a file up to the limit is read whole, across many reads; one byte more is refused as EFBIG with its limit', async (t) => {
  const limit = 200 * 1024;
  // A multi-byte character across each 64 KiB read: the text is decoded once, whole.
  const text = 'a'.repeat(64 * 1024 - 1) + '\u00e9'.repeat(40 * 1024) + '\u65e5'.repeat((limit - 64 * 1024 + 1 - 80 * 1024) / 3);
  t.equal(Buffer.byteLength(text), limit, 'the file is exactly at the limit');
  const dir = t.testdir({ 'at.yaml': text, 'over.yaml': `${text}x`, 'bom.yaml': '\ufeffkey: value\n' });
  t.equal(readBoundedFile(join(dir, 'at.yaml'), limit), text);
  const over = refusal(t, join(dir, 'over.yaml'), limit);
  t.equal(over.code, 'EFBIG');
  t.equal(over.limit, limit, 'the limit travels with the error, for the message of the caller');
  t.equal(over.message, `${join(dir, 'over.yaml')} is larger than 200 KiB`);
  t.equal(readBoundedFile(join(dir, 'bom.yaml'), limit), 'key: value\n', "Windows PowerShell's UTF-8 byte-order mark is dropped");
});

t.test('a device that never ends is cut off at the limit; an empty one is empty text', async (t) => {
  const started = performance.now();
  const endless = refusal(t, '/dev/zero', MAX_CONFIG_BYTES);
  t.equal(endless.code, 'EFBIG', '/dev/zero: too large, not read forever');
  t.ok(performance.now() - started < 2000, 'and found at once');
  t.equal(readBoundedFile('/dev/null', MAX_CONFIG_BYTES), '');
});

t.test('a file that cannot be opened, or is no UTF-8 text, fails with the code its callers tell apart', async (t) => {
  const dir = t.testdir({ 'utf16.yaml': Buffer.from('\ufeffroutes: {}\n', 'utf16le'), 'nul.yaml': Buffer.from('a: 1\n\0\n'), sub: {} });
  t.equal(refusal(t, join(dir, 'missing.yaml'), 1024).code, 'ENOENT');
  t.equal(refusal(t, join(dir, 'sub'), 1024).code, 'EISDIR');
  const utf16 = refusal(t, join(dir, 'utf16.yaml'), 1024);
  t.equal(utf16.code, 'EENCODING');
  t.match(utf16.message, /^it is UTF-16 \(little-endian, with a byte-order mark\).*Set-Content -Encoding utf8 utf16\.yaml/, 'named by its base name in the fix');
  t.match(refusal(t, join(dir, 'nul.yaml'), 1024), { code: 'EENCODING', message: 'it holds NUL bytes, so it is not a text file' });
});

t.test('no file descriptor is left open, whether the read succeeds or is refused', async (t) => {
  // A reload runs for the life of the server: a descriptor lost per refused file would add up.
  const dir = t.testdir({ 'ok.yaml': 'a: 1\n', 'big.yaml': 'x'.repeat(2048), 'utf16.yaml': Buffer.from('\ufeffa: 1\n', 'utf16le') });
  const open = () => readdirSync('/proc/self/fd').length;
  const before = open();
  for (let i = 0; i < 50; i++) {
    readBoundedFile(join(dir, 'ok.yaml'), 1024);
    refusal(t, join(dir, 'big.yaml'), 1024);
    refusal(t, join(dir, 'utf16.yaml'), 1024);
    refusal(t, '/dev/zero', 1024);
  }
  t.equal(open(), before, '200 reads later, as many descriptors as before');
});

t.test('textTooLarge counts UTF-8 bytes, not characters, and says what to do', async (t) => {
  t.equal(textTooLarge('x'.repeat(MAX_CONFIG_BYTES)), undefined, 'at the limit');
  t.equal(textTooLarge(''), undefined);
  t.equal(
    textTooLarge('x'.repeat(MAX_CONFIG_BYTES + 1)),
    'the config is 257 KiB; at most 256 KiB is read (a real config is a few KB; put certificates in files: ca: ./bundle.pem)',
    'a byte over rounds up to the next KiB',
  );
  const accented = '\u00e9'.repeat(MAX_CONFIG_BYTES / 2 + 1);
  t.ok(accented.length < MAX_CONFIG_BYTES, 'fewer characters than the limit…');
  t.match(textTooLarge(accented), /^the config is 257 KiB;/, '…but more bytes');
  t.match(textTooLarge('x'.repeat(1025), 1024), /^the config is 2 KiB; at most 1 KiB is read/, 'another limit');
});

t.test('1000 entries in a mapping or list are fine; 1001 are refused at the collection, with its key path and line', async (t) => {
  t.same(problemsOf(`top:\n${mapping(MAX_ENTRIES, '  ')}\nlist:\n${list(MAX_ENTRIES, '  ')}\n`), []);
  const tooMany = (count: number) => `${count} entries; at most 1000 are allowed in one mapping or list (a config this large is slow to load, and a reload holds up requests meanwhile)`;
  t.same(problemsOf(`routes:\n${mapping(1001, '  ')}\n`), [{ path: ['routes'], line: 2, column: 3, message: tooMany(1001) }]);
  t.same(problemsOf(`a:\n  b:\n${list(1500, '    ')}\n`), [{ path: ['a', 'b'], line: 3, column: 5, message: tooMany(1500) }], 'a list');
  t.same(problemsOf(mapping(1001)), [{ path: [], line: 1, column: 1, message: tooMany(1001) }], 'the document itself');
  const deep = `inbound:\n  users:\n    - name: a\n    - name: b\n      headers:\n${mapping(1001, '        ')}\n`;
  t.match(problemsOf(deep), [{ path: ['inbound', 'users', 1, 'headers'], line: 6, column: 9 }], 'inside a list, by index');
  t.match(problemsOf(`m: [[1], [${Array.from({ length: 1001 }, (_, i) => i).join(', ')}]]\n`), [{ path: ['m', 1], line: 1 }], 'a flow list in a list');
});

t.test('"__proto__" as a key is refused where it stands: set on an object it replaces the prototype, and the entry would vanish', async (t) => {
  const refused = '"__proto__" cannot be a name here: choose another';
  t.same(problemsOf('tokens:\n  __proto__: { tokenUrl: x }\n'), [{ path: ['tokens', '__proto__'], line: 2, column: 3, message: refused }], 'a token source');
  t.same(problemsOf('routes:\n  /a: { headers: { "__proto__": v } }\n'), [{ path: ['routes', '/a', 'headers', '__proto__'], line: 2, column: 20, message: refused }], 'a route header, quoted');
  t.same(problemsOf('tokens:\n  proto: { tokenUrl: x }\n  constructor: {}\n'), [], 'other names an object has are plain keys');
});

t.test('past the limit a collection is not looked into: what it holds is not reported as well', async (t) => {
  const inner = Array.from({ length: 1001 }, (_, i) => `k${i}: 1`).join(', ');
  t.same(
    problemsOf(`outer:\n${mapping(1000, '  ')}\n  big: {${inner}}\n`).map((problem) => problem.path),
    [['outer']],
    'the mapping of 1001 inside is not named too',
  );
  t.same(
    problemsOf(`outer:\n${mapping(1000, '  ')}\nbig: {${inner}}\n`).map((problem) => problem.path),
    [['big']],
    'the same mapping beside a full one (of 1000) is found',
  );
});

t.test('a key written twice is a YAML syntax problem at the second one, in every mapping, for any key name', async (t) => {
  const message = 'YAML syntax: Map keys must be unique';
  t.same(problemsOf('a: 1\nb: 2\na: 3\n'), [{ path: [], line: 3, column: 1, message }]);
  t.same(problemsOf('routes:\n  /a: {}\n  /b: { token: x, token: y }\n'), [{ path: [], line: 3, column: 19, message }], 'in a nested flow mapping');
  t.same(problemsOf('a: 1\na: 2\na: 3\n').length, 2, 'each repeat');
  for (const name of ['constructor', 'hasOwnProperty', 'toString']) {
    t.same(problemsOf(`${name}: 1\n`), [], `${name} once is fine`);
    t.same(problemsOf(`${name}: 1\n${name}: 2\n`), [{ path: [], line: 2, column: 1, message }], `${name} twice is found`);
  }
  t.same(
    problemsOf('__proto__: 1\n__proto__: 2\n').map((problem) => problem.message),
    ['"__proto__" cannot be a name here: choose another', message, '"__proto__" cannot be a name here: choose another'],
    '__proto__ twice is found too',
  );
  t.same(problemsOf('"a": 1\na: 2\n'), [{ path: [], line: 2, column: 1, message }], 'a quoted key is the same key');
  t.same(problemsOf('a: { b: 1 }\nc: { b: 2 }\n'), [], 'the same key in two mappings is no repeat');
  // 1001 keys, two of them alike: both problems, though the mapping is not looked into further.
  t.same(
    problemsOf(`${mapping(1000)}\nk7: again\n`).map((problem) => problem.message),
    [message, `1001 entries; at most 1000 are allowed in one mapping or list (a config this large is slow to load, and a reload holds up requests meanwhile)`].sort(),
  );
});
