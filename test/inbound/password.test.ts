import t from 'tap';
import { hashPassword, parsePasswordHash, verifyPasswordHash } from '../../src/inbound/password.ts';

const FAST = { N: 1024, r: 8, p: 1 };

t.test('hash and verify round trip with the default cost', async (t) => {
  const hash = await hashPassword('correct horse');
  t.match(hash, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/, 'scrypt$N$r$p$salt$key, 16-byte salt, 32-byte key');
  t.ok(await verifyPasswordHash('correct horse', hash), 'the right password');
  t.notOk(await verifyPasswordHash('correct horse ', hash), 'a trailing space');
  t.notOk(await verifyPasswordHash('Correct horse', hash), 'another case');
  t.notOk(await verifyPasswordHash('', hash), 'empty');
  t.not(await hashPassword('correct horse'), hash, 'a new salt each time');
});

t.test('the cost is part of the hash', async (t) => {
  const hash = await hashPassword('pw', FAST);
  t.match(hash, /^scrypt\$1024\$8\$1\$/);
  t.match(parsePasswordHash(hash), { N: 1024, r: 8, p: 1 });
  t.equal(parsePasswordHash(hash)?.salt.length, 16);
  t.equal(parsePasswordHash(hash)?.key.length, 32);
  t.ok(await verifyPasswordHash('pw', hash));
  t.notOk(await verifyPasswordHash('pW', hash));
});

t.test('UTF-8 and colons are ordinary characters', async (t) => {
  for (const password of ['s3cret é', 'pa:ss:word', '日本語パスワード', '😀', ' ']) {
    const hash = await hashPassword(password, FAST);
    t.ok(await verifyPasswordHash(password, hash), `${password} verifies`);
    t.notOk(await verifyPasswordHash(`${password}x`, hash), `${password}x does not`);
  }
  const composed = await hashPassword('é', FAST);
  t.notOk(await verifyPasswordHash('e\u0301', composed), 'bytes count, not how the text looks: NFD é is another password');
});

t.test('a hash from another tool with a different key length still verifies', async (t) => {
  const { scryptSync } = await import('node:crypto');
  const salt = Buffer.from('0123456789abcdef');
  const key = scryptSync('other tool', salt, 64, { N: 2048, r: 4, p: 2 });
  const hash = `scrypt$2048$4$2$${salt.toString('base64')}$${key.toString('base64')}`;
  t.ok(await verifyPasswordHash('other tool', hash));
  t.notOk(await verifyPasswordHash('other tools', hash));
});

t.test('malformed hashes are refused, never thrown on', async (t) => {
  const salt = 'c2FsdHNhbHQ='; // 8 bytes
  const key = 'a2V5a2V5a2V5a2V5a2V5a2V5'; // 18 bytes
  const bad: Array<[string, string]> = [
    ['', 'empty'],
    ['scrypt', 'no fields'],
    [`bcrypt$1024$8$1$${salt}$${key}`, 'another algorithm'],
    [`SCRYPT$1024$8$1$${salt}$${key}`, 'the algorithm is case-sensitive'],
    [`scrypt$1024$8$1$${salt}`, 'too few fields'],
    [`scrypt$1024$8$1$${salt}$${key}$extra`, 'too many fields'],
    [`scrypt$1000$8$1$${salt}$${key}`, 'N not a power of two'],
    [`scrypt$1$8$1$${salt}$${key}`, 'N = 1'],
    [`scrypt$0$8$1$${salt}$${key}`, 'N = 0'],
    [`scrypt$-1024$8$1$${salt}$${key}`, 'N negative'],
    [`scrypt$x$8$1$${salt}$${key}`, 'N not a number'],
    [`scrypt$1024.5$8$1$${salt}$${key}`, 'N fractional'],
    [`scrypt$1024$0$1$${salt}$${key}`, 'r = 0'],
    [`scrypt$1024$8$0$${salt}$${key}`, 'p = 0'],
    [`scrypt$1024$8$1$c2FsdA==$${key}`, 'a 4-byte salt'],
    [`scrypt$1024$8$1$${salt}$a2V5a2V5`, 'a 6-byte key'],
    ['scrypt$16384$8$1$$', 'empty salt and key'],
  ];
  for (const [hash, name] of bad) {
    t.equal(parsePasswordHash(hash), undefined, `${name}: not parsed`);
    t.equal(await verifyPasswordHash('x', hash), false, `${name}: verify is false`);
  }
  t.ok(parsePasswordHash(`scrypt$1024$8$1$${salt}$${key}`), 'the same fields, well formed, parse');
});

t.test('hashes asking for absurd scrypt cost are refused, not thrown on at check time', async (t) => {
  const salt = Buffer.alloc(16, 1).toString('base64');
  const key = Buffer.alloc(32, 2).toString('base64');
  for (const params of ['4294967296$8$1', '2097152$8$1', '1048576$16$1', '16384$8$17']) {
    const hash = `scrypt$${params}$${salt}$${key}`;
    t.equal(parsePasswordHash(hash), undefined, params);
    t.equal(await verifyPasswordHash('x', hash), false, `${params}: false, no exception`);
  }
  t.ok(parsePasswordHash(`scrypt$1048576$1$1$${salt}$${key}`), 'the upper bound itself is fine');
});
