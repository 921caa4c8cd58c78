import t from 'tap';
import { configJsonSchema, configSchema, crossReferenceIssues } from '../../src/config/schema.ts';

const base = {
  tokens: { lake: { tokenUrl: 'https://idp/t', clientId: 'c', clientSecret: 's' } },
  routes: { '/sales': { target: 'https://api/odata', token: 'lake' } },
};

t.test('route prefixes: whole segments, no reserved paths', async (t) => {
  const problem = (prefix: string) => crossReferenceIssues({ ...base, routes: { [prefix]: { target: 'https://x', token: 'lake' } } })[0]?.message;
  for (const good of ['/sales', '/a/b', "/odata-v4/x_y.z~('q')", '/healthzz', '/metrics-data']) t.equal(problem(good), undefined, `${good} is fine`);
  for (const bad of ['sales', '/sales/', '/', '/a//b', '/a b', '/a?x', '/a/../b', '/./a']) t.ok(problem(bad), `${bad} is refused`);
  for (const reserved of ['/healthz', '/readyz', '/metrics', '/_status', '/metrics/x']) t.match(problem(reserved), /reserved path/, `${reserved} is reserved`);
});

t.test('cross references run even when other fields are wrong', async (t) => {
  const issues = crossReferenceIssues({
    tokens: { lake: { tokenUrl: 42 } },
    routes: { '/a': { target: 'https://x', token: 'sea' } },
    inbound: { users: [{ name: 'u' }, { name: 'u' }] },
  });
  t.same(
    issues.map((issue) => issue.path),
    [
      ['routes', '/a', 'token'],
      ['inbound', 'users', 1, 'name'],
    ],
  );
  t.same(crossReferenceIssues(null), [], 'nothing to cross-check in nothing');
});

t.test('token sources', async (t) => {
  const parse = (token: Record<string, unknown>) => configSchema.safeParse({ ...base, tokens: { lake: { clientId: 'c', clientSecret: 's', ...token } } });
  t.ok(parse({ tokenUrl: 'https://idp/t' }).success);
  t.ok(parse({ issuer: 'https://idp' }).success);
  t.notOk(parse({}).success, 'neither tokenUrl nor issuer');
  t.notOk(parse({ tokenUrl: 'https://idp/t', issuer: 'https://idp' }).success, 'both');
  t.notOk(parse({ tokenUrl: 'http://idp/t' }).success, 'http IdP without allowInsecure');
  t.ok(parse({ tokenUrl: 'http://idp/t', allowInsecure: true }).success);
  t.notOk(parse({ tokenUrl: 'ftp://idp/t' }).success);
  t.notOk(parse({ tokenUrl: 'https://idp/t', authMethod: 'private_key_jwt_typo' }).success);
  const parsed = parse({ tokenUrl: 'https://idp/t', defaultExpiresIn: '90m' });
  t.equal(parsed.data?.tokens.lake?.defaultExpiresIn, 5_400_000);
  t.equal(parsed.data?.tokens.lake?.authMethod, 'client_secret_post');
});

t.test('users need exactly one of password and passwordHash', async (t) => {
  const parse = (user: Record<string, unknown>) => configSchema.safeParse({ ...base, inbound: { users: [{ name: 'u', ...user }] } });
  t.ok(parse({ password: 'p' }).success);
  t.ok(parse({ passwordHash: 'scrypt$16384$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5' }).success);
  t.notOk(parse({}).success);
  t.notOk(parse({ password: 'p', passwordHash: 'scrypt$16384$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5' }).success);
  t.notOk(parse({ passwordHash: 'md5$abc' }).success);
  t.notOk(configSchema.safeParse({ ...base, inbound: { users: [{ name: 'a:b', password: 'p' }] } }).success, 'a colon cannot be in a Basic user name');
});

t.test('the JSON Schema describes the file as written', async (t) => {
  const schema = configJsonSchema() as { additionalProperties: boolean; required: string[]; properties: Record<string, { additionalProperties?: unknown }> };
  t.equal(schema.additionalProperties, false);
  t.same(schema.required.sort(), ['routes', 'tokens']);
  t.match(schema.properties.routes?.additionalProperties, { additionalProperties: false, required: ['target', 'token'] });
});
