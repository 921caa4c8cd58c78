import { readFileSync } from 'node:fs';
import t from 'tap';
import { configJsonSchema, SCHEMA_ID } from '../../src/config/json-schema.ts';
import { configSchema } from '../../src/config/schema.ts';
import { committedSchemaValidator } from '../helpers/ajv.ts';

type Node = { [key: string]: unknown };
const committed = readFileSync(new URL('../../proxy.schema.json', import.meta.url), 'utf8');
const validate = committedSchemaValidator();
const base = { tokens: { lake: { tokenUrl: 'https://idp.example.com/token', clientId: 'c', clientSecret: '${S}' } }, routes: { '/sales': { target: 'https://api.example.com/odata', token: 'lake' } } };

t.test('the committed proxy.schema.json is the generated one (npm run schema writes it)', async (t) => {
  t.equal(committed, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  const schema = JSON.parse(committed) as Node;
  t.equal(schema.$id, SCHEMA_ID);
  t.match(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  t.match(schema.description, /\S/);
});

t.test('every property an editor can offer has a description', async (t) => {
  const undescribed: string[] = [];
  let properties = 0;
  const walk = (node: unknown, path: string): void => {
    if (typeof node !== 'object' || node === null) return;
    const schema = node as Node;
    for (const [name, child] of Object.entries((schema.properties as Record<string, Node> | undefined) ?? {})) {
      properties++;
      if (typeof child.description !== 'string' || child.description.trim() === '') undescribed.push(`${path}.${name}`);
      walk(child, `${path}.${name}`);
    }
    walk(schema.additionalProperties, `${path}.*`);
    walk(schema.items, `${path}[]`);
    for (const child of (schema.anyOf as unknown[] | undefined) ?? []) walk(child, path);
  };
  walk(JSON.parse(committed), '');
  t.same(undescribed, [], 'add .describe() in src/config/schema.ts');
  t.ok(properties > 50, `${properties} properties walked`);
});

t.test('${…} references validate where the loader accepts them, and other strings are still checked', async (t) => {
  const withToken = (extra: Record<string, unknown>) => ({ ...base, tokens: { lake: { ...base.tokens.lake, ...extra } } });
  t.same(validate(withToken({ tokenUrl: 'https://login.microsoftonline.com/${TENANT_ID}/oauth2/v2.0/token' })), [], 'a tenant in the token URL');
  t.same(validate(withToken({ tokenUrl: '${TOKEN_URL}' })), [], 'the whole URL from the environment');
  t.same(validate(withToken({ issuer: 'https://${OKTA_ORG}.okta.com/oauth2/default', tokenUrl: undefined })), []);
  t.same(validate({ ...base, routes: { '/sales': { target: '${SALES_URL}', token: 'lake', timeout: '${SALES_TIMEOUT}' } } }), []);
  t.same(validate({ ...base, inbound: { allowedHosts: ['${PROXY_HOST}', 'proxy.corp.example'], users: [{ name: '${PBI_USER}', password: '${PBI_PASSWORD}' }] } }), []);
  t.same(validate(withToken({ timeout: '30s', backoff: { initial: '500ms', max: 60 } })), [], 'durations as strings or seconds');

  t.match(validate(withToken({ tokenUrl: 'ftp://idp.example.com/token' })), [/tokenUrl must match pattern/], 'not http(s)');
  t.match(validate(withToken({ tokenUrl: 'idp.example.com/token' })), [/tokenUrl must match pattern/], 'no scheme');
  t.match(validate(withToken({ timeout: '30 seconds' })), [/timeout/], 'not a duration');
  t.match(validate({ ...base, inbound: { allowedHosts: ['https://proxy.corp.example'] } }), [/allowedHosts\/0 must match pattern/]);
  t.match(validate({ ...base, tokens: { 'bad name!': base.tokens.lake } }), [/property name must be valid|must match pattern/], 'key patterns are not loosened: keys are never interpolated');
});

t.test("a typo'd key fails, in editors as in the loader", async (t) => {
  t.same(validate(base), []);
  const typo = { ...base, tokens: { lake: { ...base.tokens.lake, scopes: 'api://x/.default' } } };
  t.same(validate(typo), ['/tokens/lake must NOT have additional properties (scopes)']);
  t.notOk(configSchema.safeParse(typo).success);
  t.same(validate({ ...base, route: {} }), ['/ must NOT have additional properties (route)']);
  t.match(validate({ routes: base.routes }), [/must have required property 'tokens'/]);
});

t.test('the schema and the loader agree on what they both can judge', async (t) => {
  const cases: unknown[] = [
    base,
    { ...base, listen: { port: 70000 } },
    { ...base, listen: { port: 'eighty' } },
    { ...base, inbound: { anonymous: 'everyone' } },
    { ...base, statusPage: 'public' },
    { ...base, shutdownTimeout: -1 },
    { ...base, shutdownTimeout: '10m' },
    { ...base, admin: { port: 9090 } },
    { ...base, admin: { host: '0.0.0.0' } },
    { ...base, routes: { '/sales': { ...base.routes['/sales'], rewriteUrls: 'yes' } } },
    { ...base, routes: { '/sales': { ...base.routes['/sales'], forwardedHeaders: ['x-forwarded-host'] } } },
    { ...base, routes: { '/sales': { ...base.routes['/sales'], forwardedHeaders: ['X-Forwarded-Host'] } } },
    { ...base, routes: { '/sales': { ...base.routes['/sales'], headers: { 'x-api-key': 'k' } } } },
    { ...base, tokens: { lake: { ...base.tokens.lake, refreshAhead: 1.5 } } },
    { ...base, tokens: { lake: { ...base.tokens.lake, authMethod: 'client_secret_jwt' } } },
    { ...base, tokens: { lake: { ...base.tokens.lake, params: { resource: 'x' } } } },
  ];
  for (const input of cases) t.equal(validate(input).length === 0, configSchema.safeParse(input).success, JSON.stringify(input).slice(0, 120));
});
