import t from 'tap';
import { hashPassword, parsePasswordHash, verifyPasswordHash } from '../../src/inbound/password.ts';

t.test('hash and verify', async (t) => {
  const hash = await hashPassword('correct horse');
  t.match(hash, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  t.ok(await verifyPasswordHash('correct horse', hash));
  t.notOk(await verifyPasswordHash('correct horse ', hash));
  t.not(await hashPassword('correct horse'), hash, 'a new salt each time');
});

t.test('malformed hashes are refused, never thrown on', async (t) => {
  for (const bad of ['', 'scrypt', 'bcrypt$1$2$3$4$5', 'scrypt$1000$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5', 'scrypt$x$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5', 'scrypt$16384$8$1$$']) {
    t.equal(parsePasswordHash(bad), undefined, bad);
    t.notOk(await verifyPasswordHash('x', bad));
  }
});
