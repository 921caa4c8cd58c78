import t from 'tap';
import { configSchema } from '../../src/config/schema.ts';
import { knownKeysAt, suggestKey } from '../../src/config/suggest.ts';

t.test('typo hints', async (t) => {
  t.equal(suggestKey('scopes', ['scope', 'resource']), 'scope');
  t.equal(suggestKey('clientsecret', ['clientId', 'clientSecret']), 'clientSecret', 'case differences count as no distance');
  t.equal(suggestKey('tokenURL', ['tokenUrl', 'issuer']), 'tokenUrl');
  t.equal(suggestKey('zzz', ['scope', 'resource']), undefined, 'no hint when nothing is close');
  t.equal(suggestKey('a', []), undefined);
});

t.test('known keys follow the schema through records and arrays', async (t) => {
  t.same(knownKeysAt(configSchema, []), ['listen', 'inbound', 'tokens', 'routes']);
  t.ok(knownKeysAt(configSchema, ['tokens', 'anyName']).includes('clientSecret'));
  t.ok(knownKeysAt(configSchema, ['routes', '/x']).includes('rewriteUrls'));
  t.same(knownKeysAt(configSchema, ['inbound', 'users', 0]), ['name', 'password', 'passwordHash']);
  t.same(knownKeysAt(configSchema, ['listen', 'port']), [], 'a scalar has no keys');
});
