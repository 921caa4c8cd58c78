import t from 'tap';
import { RESERVED_PATHS } from '../../src/admin/reserved-paths.ts';
import { configJsonSchema } from '../../src/config/json-schema.ts';
import { configSchema, crossReferenceIssues, PEM_KEYS } from '../../src/config/schema.ts';

const token = { tokenUrl: 'https://idp.example.com/token', clientId: 'c', clientSecret: 's' };
const route = { target: 'https://api.example.com/odata', token: 'lake' };
const base = { tokens: { lake: token }, routes: { '/sales': route } };
const HASH = 'scrypt$16384$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5';

/** The messages of the schema and of the one cross-reference pass (credentials among them), with their paths; [] when valid. */
function issuesOf(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  const schema = result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  return [...schema, ...crossReferenceIssues(input).map((issue) => `${issue.path.join('.')}: ${issue.message}`)];
}

t.test('defaults are filled in', async (t) => {
  const config = configSchema.parse(base);
  t.same(config.listen, { host: 'localhost', port: 8080 });
  t.same(config.inbound, { anonymous: 'loopback', users: [], trustForwardedHeaders: false, allowedHosts: [] });
  t.same(config.tokens.lake, {
    ...token,
    authMethod: 'client_secret_post',
    azureWorkloadIdentity: false,
    certificateBoundTokens: false,
    params: {},
    allowInsecure: false,
    timeout: 30_000,
    defaultExpiresIn: 3_600_000,
    maxLifetime: 86_400_000,
    prefetch: false,
    refreshAhead: 0.8,
    backoff: { initial: 1_000, max: 60_000 },
  });
  t.same(
    config.routes['/sales'],
    { ...route, timeout: 600_000, maxConnections: 64, headers: {}, rewriteUrls: true, forwardedHeaders: true, allowInsecure: false },
    'timeout 600 s as OData.Feed; 64 connections; all forwarded headers',
  );
  t.equal(config.shutdownTimeout, 10_000, 'shutdownTimeout 10 s');
  t.equal(config.statusPage, 'loopback', '/_status for loopback callers only');
  const partial = configSchema.parse({ ...base, listen: { port: 9000 }, inbound: { anonymous: 'none' } });
  t.same(partial.listen, { host: 'localhost', port: 9000 }, 'a partial section gets the rest of its defaults');
  t.same(partial.inbound, { anonymous: 'none', users: [], trustForwardedHeaders: false, allowedHosts: [] });
});

t.test('forwardedHeaders: true, false or a list of the forwarded header names', async (t) => {
  const parsed = (forwardedHeaders: unknown) => configSchema.safeParse({ ...base, routes: { '/sales': { ...route, forwardedHeaders } } });
  t.equal(parsed(false).data?.routes['/sales']?.forwardedHeaders, false);
  t.same(parsed(['x-forwarded-host', 'forwarded']).data?.routes['/sales']?.forwardedHeaders, ['x-forwarded-host', 'forwarded']);
  t.same(parsed([]).data?.routes['/sales']?.forwardedHeaders, [], 'an empty list is the same as false');
  t.match(issuesOf({ ...base, routes: { '/sales': { ...route, forwardedHeaders: ['X-Forwarded-Host'] } } }), [
    'routes./sales.forwardedHeaders: expected true, false or a list of these names in lower case: x-forwarded-for, x-forwarded-proto, x-forwarded-host, x-forwarded-prefix, x-forwarded-path, forwarded',
  ]);
  t.notOk(parsed('yes').success, 'a string is neither');
  t.notOk(parsed(['x-api-key']).success, 'only the forwarded headers');
});

t.test('durations accept seconds or strings', async (t) => {
  const timeoutOf = (timeout: unknown) => {
    const result = configSchema.safeParse({ ...base, routes: { '/sales': { ...route, timeout } } });
    return result.success ? result.data.routes['/sales']?.timeout : undefined;
  };
  t.equal(timeoutOf(30), 30_000);
  t.equal(timeoutOf('2m'), 120_000);
  t.equal(timeoutOf('250ms'), 250);
  for (const bad of [0, -5, 'soon', '0s', true, 0.0001]) t.equal(timeoutOf(bad), undefined, `${JSON.stringify(bad)} refused`);
  t.match(issuesOf({ ...base, routes: { '/sales': { ...route, timeout: 'soon' } } }), ['routes./sales.timeout: "soon" is not a duration']);
});

t.test('unknown keys are rejected at every level', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ ...base, extra: 1 }, ''],
    [{ ...base, listen: { port: 1, hots: 'x' } }, 'listen'],
    [{ ...base, inbound: { anonymus: 'any' } }, 'inbound'],
    [{ ...base, inbound: { users: [{ name: 'u', password: 'p', role: 'admin' }] } }, 'inbound.users.0'],
    [{ ...base, tokens: { lake: { ...token, scopes: 'x' } } }, 'tokens.lake'],
    [{ ...base, routes: { '/sales': { ...route, taget: 'x' } } }, 'routes./sales'],
  ];
  for (const [input, path] of cases) {
    const result = configSchema.safeParse(input);
    t.notOk(result.success, `unknown key under "${path}"`);
    t.match(result.error?.issues, [{ code: 'unrecognized_keys', path: path ? path.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part)) : [] }]);
  }
});

t.test('token sources', async (t) => {
  const parse = (fields: Record<string, unknown>) => configSchema.safeParse({ ...base, tokens: { lake: { clientId: 'c', clientSecret: 's', ...fields } } });
  const accepted: Array<[Record<string, unknown>, string]> = [
    [{ tokenUrl: 'https://idp/t' }, 'tokenUrl'],
    [{ issuer: 'https://idp' }, 'issuer'],
    [{ tokenUrl: 'http://idp/t', allowInsecure: true }, 'http with allowInsecure'],
    [{ issuer: 'http://127.0.0.1:9000', allowInsecure: true }, 'http issuer with allowInsecure'],
    [{ tokenUrl: 'https://idp/t', authMethod: 'client_secret_basic', scope: 'a b', resource: 'r', audience: 'aud', params: { x: 'y' } }, 'all the optional fields'],
  ];
  for (const [fields, name] of accepted) t.ok(parse(fields).success, `accepted: ${name}`);
  const refused: Array<[Record<string, unknown>, RegExp, string]> = [
    [{}, /set exactly one of tokenUrl or issuer/, 'neither tokenUrl nor issuer'],
    [{ tokenUrl: 'https://idp/t', issuer: 'https://idp' }, /set exactly one of tokenUrl or issuer/, 'both'],
    [{ tokenUrl: 'http://idp/t' }, /^tokenUrl: an http:\/\/ IdP would carry the client secret in clear text/, 'http tokenUrl'],
    [{ issuer: 'http://idp' }, /^issuer: an http:\/\/ IdP/, 'http issuer'],
    [{ tokenUrl: 'HTTP://idp/t' }, /^tokenUrl: an http:\/\/ IdP/, 'upper-case HTTP is still http'],
    [{ tokenUrl: 'Http://idp/t', allowInsecure: false }, /^tokenUrl: an http:\/\/ IdP/, 'mixed-case Http, allowInsecure false'],
    [{ tokenUrl: 'ftp://idp/t' }, /^tokenUrl: expected an absolute http/, 'not http(s)'],
    [{ tokenUrl: '/token' }, /^tokenUrl: expected an absolute http/, 'relative'],
    [{ tokenUrl: 'https://idp/t', authMethod: 'private_key_jwt_typo' }, /^authMethod: /, 'unknown authMethod'],
    [{ tokenUrl: 'https://idp/t', clientSecret: '' }, /^clientSecret: /, 'empty secret'],
    [{ tokenUrl: 'https://idp/t', params: { n: 1 } }, /^params\.n: /, 'params are strings'],
  ];
  for (const [fields, message, name] of refused) {
    const result = parse(fields);
    t.notOk(result.success, `refused: ${name}`);
    t.match(result.error?.issues.map((issue) => `${issue.path.slice(2).join('.')}: ${issue.message}`).join('\n'), message, `${name}: message`);
  }
  t.match(
    configSchema.safeParse({ ...base, tokens: { 'bad name': token } }).error?.issues,
    [{ code: 'invalid_key', path: ['tokens', 'bad name'], issues: [{ message: 'token source names use letters, digits, _ . -' }] }],
    'token source names',
  );
  t.ok(configSchema.safeParse({ ...base, tokens: { 'lake.v2_x-1': token }, routes: { '/s': { ...route, token: 'lake.v2_x-1' } } }).success);
  const parsed = parse({ tokenUrl: 'https://idp/t', defaultExpiresIn: '90m' });
  t.equal(parsed.data?.tokens.lake?.defaultExpiresIn, 5_400_000);
});

t.test('token lifecycle settings per source', async (t) => {
  const parse = (fields: Record<string, unknown>) => configSchema.safeParse({ ...base, tokens: { lake: { ...token, ...fields } } });
  const parsed = parse({ refreshAhead: 0.5, backoff: { initial: '250ms', max: '2m' } }).data?.tokens.lake;
  t.same([parsed?.refreshAhead, parsed?.backoff], [0.5, { initial: 250, max: 120_000 }]);
  t.same(parse({ backoff: { max: 5 } }).data?.tokens.lake?.backoff, { initial: 1_000, max: 5_000 }, 'a partial backoff keeps the other default');
  t.ok(parse({ refreshAhead: 1 }).success, 'refreshAhead 1 turns background refresh off');
  for (const bad of [0, 1.5, -0.2, '80%']) t.notOk(parse({ refreshAhead: bad }).success, `refreshAhead ${JSON.stringify(bad)} refused`);
  t.match(issuesOf({ ...base, tokens: { lake: { ...token, backoff: { initial: '10s', max: '5s' } } } }), ['tokens.lake.backoff.max: backoff.max must be at least backoff.initial']);
  t.match(issuesOf({ ...base, tokens: { lake: { ...token, backoff: { inital: '1s' } } } }), [/unrecognized|Unrecognized/]);
});

t.test('client authentication: secrets for the secret methods, a readable key for private_key_jwt', async (t) => {
  const { generateKeyPairSync } = await import('node:crypto');
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const dsa = generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const jwt = { tokenUrl: 'https://idp/t', clientId: 'c', authMethod: 'private_key_jwt' };
  const issues = (fields: Record<string, unknown>) => issuesOf({ ...base, tokens: { lake: fields } });
  t.same(issues({ ...jwt, privateKey: pem, keyId: 'k1', assertionAudience: 'https://tenant.auth0.test/' }), [], 'private_key_jwt with a key');
  t.match(issues(jwt), ['tokens.lake.authMethod: private_key_jwt needs privateKey']);
  t.match(issues({ ...jwt, privateKey: pem, clientSecret: 's' }), ['tokens.lake.clientSecret: private_key_jwt signs with privateKey']);
  t.match(issues({ ...jwt, privateKey: 'MIIEvQIBADANBg-not-a-key' }), ['tokens.lake.privateKey: not a readable PEM private key']);
  t.notMatch(issues({ ...jwt, privateKey: 'MIIEvQIBADANBg-not-a-key' }).join(), 'MIIEvQ', 'the key is never repeated');
  t.match(issues({ ...jwt, privateKey: dsa }), ['tokens.lake.privateKey: unsupported private key type "dsa"']);
  t.match(issues({ ...jwt, privateKey: pem, certificate: 'nope' }), ['tokens.lake.certificate: not a readable PEM certificate']);
  t.match(issues({ tokenUrl: 'https://idp/t', clientId: 'c' }), ['tokens.lake.clientSecret: client_secret_post needs clientSecret']);
  t.match(issues({ ...token, privateKey: pem, keyId: 'k' }), ['tokens.lake.privateKey: privateKey is used only with authMethod: private_key_jwt', 'tokens.lake.keyId: keyId is used only']);
});

t.test('a route target with userinfo is refused rather than silently dropped', async (t) => {
  t.match(issuesOf({ ...base, routes: { '/sales': { ...route, target: 'https://user:pw@api.example.com/odata' } } }), ['routes./sales.target: a target cannot carry user:password@']);
  t.same(issuesOf({ ...base, routes: { '/sales': { ...route, target: 'https://api.example.com/odata/@me' } } }), [], 'an @ in the path is fine');
});

t.test('TLS material: readable, paired, and the certificate of its key', async (t) => {
  const { createTestCa, issueCertificate } = await import('../helpers/tls.ts');
  const ca = createTestCa();
  const server = issueCertificate(ca, 'proxy');
  const other = issueCertificate(ca, 'other');
  t.same(issuesOf({ ...base, listen: { tls: { cert: server.certPem, key: server.keyPem } } }), []);
  t.match(issuesOf({ ...base, listen: { tls: { cert: server.certPem, key: other.keyPem } } }), ['listen.tls.cert: this certificate does not belong to listen.tls.key']);
  t.match(issuesOf({ ...base, listen: { tls: { cert: 'x', key: server.keyPem } } }), ['listen.tls.cert: not a readable PEM certificate']);
  t.match(issuesOf({ ...base, listen: { tls: { cert: server.certPem } } }), ['listen.tls.key: ']);
  const withRoute = (fields: Record<string, unknown>) => issuesOf({ ...base, routes: { '/sales': { ...route, ...fields } } });
  t.same(withRoute({ ca: ca.certPem, clientCert: server.certPem, clientKey: server.keyPem }), []);
  t.match(withRoute({ ca: 'not a bundle' }), ['routes./sales.ca: no PEM certificate found']);
  t.match(withRoute({ clientCert: server.certPem }), ['routes./sales.clientKey: mutual TLS needs both clientCert and clientKey']);
  t.match(withRoute({ clientCert: server.certPem, clientKey: other.keyPem }), ['routes./sales.clientCert: this certificate does not belong to clientKey']);
  t.match(issuesOf({ ...base, tokens: { lake: { ...token, ca: 'nope' } } }), ['tokens.lake.ca: no PEM certificate found']);
});

t.test('users need exactly one of password and passwordHash', async (t) => {
  const parse = (user: Record<string, unknown>) => configSchema.safeParse({ ...base, inbound: { users: [{ name: 'u', ...user }] } });
  t.ok(parse({ password: 'p' }).success, 'password');
  t.ok(parse({ passwordHash: HASH }).success, 'passwordHash');
  t.match(issuesOf({ ...base, inbound: { users: [{ name: 'u' }] } }), ['inbound.users.0: set exactly one of password or passwordHash'], 'neither');
  t.match(issuesOf({ ...base, inbound: { users: [{ name: 'u', password: 'p', passwordHash: HASH }] } }), ['inbound.users.0: set exactly one of password or passwordHash'], 'both');
  t.match(issuesOf({ ...base, inbound: { users: [{ name: 'u', passwordHash: 'md5$abc' }] } }), [/^inbound\.users\.0\.passwordHash: expected a hash printed by `bearer-proxy hash-password`/]);
  t.notOk(parse({ password: '' }).success, 'an empty password');
  t.match(issuesOf({ ...base, inbound: { users: [{ name: 'a:b', password: 'p' }] } }), ['inbound.users.0.name: a Basic-auth user name cannot contain ":"']);
  t.notOk(configSchema.safeParse({ ...base, inbound: { anonymous: 'sometimes' } }).success, 'anonymous is loopback | any | none');
});

t.test('inbound.allowedHosts: bare host names, compared in lower case', async (t) => {
  const parsed = configSchema.parse({ ...base, inbound: { allowedHosts: ['Proxy.Corp.Example', 'gateway-01', 'host.docker.internal'] } });
  t.same(parsed.inbound.allowedHosts, ['proxy.corp.example', 'gateway-01', 'host.docker.internal']);
  for (const bad of ['http://proxy.example', 'proxy.example:8080', 'proxy.example/x', '*.example', '', '-x.example', 'a..b']) {
    t.match(issuesOf({ ...base, inbound: { allowedHosts: [bad] } }), [/^inbound\.allowedHosts\.0: a host name without scheme, port or path/], JSON.stringify(bad));
  }
});

t.test('listen', async (t) => {
  t.ok(configSchema.safeParse({ ...base, listen: { host: '0.0.0.0', port: 0 } }).success, 'port 0 picks a free port');
  for (const port of [-1, 65536, 80.5, '8080']) t.notOk(configSchema.safeParse({ ...base, listen: { port } }).success, `port ${JSON.stringify(port)}`);
  t.notOk(configSchema.safeParse({ ...base, listen: { host: '' } }).success, 'empty host');
});

t.test('route prefixes: whole segments, no dot segments, no reserved paths', async (t) => {
  const problem = (prefix: string) => {
    const issues = crossReferenceIssues({ ...base, routes: { [prefix]: route } });
    t.ok(
      issues.every((issue) => issue.at === 'key' && issue.path.join('|') === `routes|${prefix}`),
      `${prefix}: reported at the key`,
    );
    return issues[0]?.message;
  };
  for (const good of ['/sales', '/a/b', '/a/b/c', "/odata-v4/x_y.z~('q')", '/a%20b', '/healthzz', '/metrics-data', '/_statuses', '/api/healthz', '/...']) {
    t.equal(problem(good), undefined, `${good} is fine`);
  }
  for (const bad of ['sales', '/sales/', '/', '', '/a//b', '//a', '/a b', '/a?x', '/a#x', '/a/../b', '/a/./b', '/./a', '/..', '/a/..', '/a\\b']) {
    t.match(problem(bad), /^route prefix ".*" (must look like \/name|cannot contain "\." or "\.\." segments)/, `${JSON.stringify(bad)} is refused`);
  }
  t.equal(RESERVED_PATHS.length, 4);
  for (const reserved of [...RESERVED_PATHS, '/metrics/x', '/healthz/a/b', '/_status/routes']) {
    t.match(problem(reserved), /uses the reserved path \/(healthz|readyz|metrics|_status)$/, `${reserved} is reserved`);
  }
});

t.test('cross references', async (t) => {
  t.same(crossReferenceIssues({ ...base, routes: { '/a': { ...route, token: 'sea' } } }), [{ path: ['routes', '/a', 'token'], message: 'no token source named "sea" (defined: lake)' }]);
  t.same(
    crossReferenceIssues({ tokens: {}, routes: { '/a': { ...route, token: 'sea' } } }),
    [{ path: ['routes', '/a', 'token'], message: 'no token source named "sea"' }],
    'no "(defined: …)" when nothing is defined',
  );
  for (const inherited of ['constructor', 'toString', '__proto__']) {
    t.same(
      crossReferenceIssues({ ...base, routes: { '/a': { ...route, token: inherited } } }),
      [{ path: ['routes', '/a', 'token'], message: `no token source named "${inherited}" (defined: lake)` }],
      `"${inherited}" is no token source, though every object has it`,
    );
  }
  t.same(crossReferenceIssues({ ...base, routes: {} }), [{ path: ['routes'], message: 'define at least one route' }]);
  t.same(
    crossReferenceIssues({ ...base, inbound: { users: [{ name: 'u' }, { name: 'v' }, { name: 'u' }, { name: 'u' }] } }),
    [
      { path: ['inbound', 'users', 2, 'name'], message: 'user "u" is defined twice' },
      { path: ['inbound', 'users', 3, 'name'], message: 'user "u" is defined twice' },
    ],
    'duplicate users, each repeat reported',
  );
  t.same(crossReferenceIssues({ ...base, inbound: { users: [{ name: 'U' }, { name: 'u' }] } }), [], 'names are case-sensitive, as Basic compares them');
  t.same(crossReferenceIssues(base), [], 'a valid file has none');
  const noSecret = { ...base, tokens: { lake: { ...token, clientSecret: undefined } } };
  t.same(
    crossReferenceIssues(noSecret).map((issue) => issue.path),
    [['tokens', 'lake', 'clientSecret']],
    'client credentials are checked',
  );
  t.ok(configSchema.safeParse(noSecret).success, 'the schema alone leaves credentials to this one pass');
});

t.test('cross references run on raw input, even when other fields are wrong', async (t) => {
  const issues = crossReferenceIssues({
    tokens: { lake: { tokenUrl: 42 } },
    routes: { '/a': { target: 'https://x', token: 'sea' }, 'b/': 'not a route' },
    inbound: { users: [{ name: 'u' }, { name: 'u' }, 'junk'] },
  });
  t.same(
    issues.map((issue) => issue.path),
    [
      ['routes', '/a', 'token'],
      ['routes', 'b/'],
      ['tokens', 'lake', 'clientId'],
      ['tokens', 'lake', 'clientSecret'],
      ['inbound', 'users', 1, 'name'],
    ],
  );
  for (const nothing of [null, undefined, 42, 'text', [], { tokens: [], routes: [] }]) {
    t.same(crossReferenceIssues(nothing), [], `nothing to cross-check in ${JSON.stringify(nothing)}`);
  }
});

t.test('the JSON Schema describes the file as written', async (t) => {
  interface JsonSchema {
    $schema?: string;
    title?: string;
    type?: string;
    additionalProperties?: boolean | JsonSchema;
    required?: string[];
    properties?: Record<string, JsonSchema>;
  }
  const schema = configJsonSchema() as JsonSchema;
  t.match(schema.$schema, /json-schema\.org/);
  t.equal(schema.title, 'bearer-proxy configuration (proxy.yaml)');
  t.equal(schema.type, 'object');
  t.equal(schema.additionalProperties, false, 'unknown top-level keys are errors in editors too');
  t.same(Object.keys(schema.properties ?? {}).sort(), ['admin', 'inbound', 'listen', 'routes', 'shutdownTimeout', 'statusPage', 'tokens']);
  t.same([...(schema.required ?? [])].sort(), ['routes', 'tokens'], 'defaults make the rest optional');
  const routeSchema = schema.properties?.routes?.additionalProperties as JsonSchema;
  t.equal(routeSchema.additionalProperties, false);
  t.same([...(routeSchema.required ?? [])].sort(), ['target', 'token']);
  t.same(Object.keys(routeSchema.properties ?? {}).sort(), [
    'allowInsecure',
    'ca',
    'clientCert',
    'clientKey',
    'forwardedHeaders',
    'headers',
    'maxConnections',
    'rewriteUrls',
    'target',
    'timeout',
    'token',
  ]);
  const undescribed = Object.entries(routeSchema.properties ?? {})
    .filter(([, property]) => !(property as { description?: string }).description)
    .map(([name]) => name);
  t.same(undescribed, [], 'every route key has a description');
  t.match(JSON.stringify(routeSchema.properties?.forwardedHeaders), /x-forwarded-path/, 'forwardedHeaders lists the names an editor may offer');
  const tokenSchema = schema.properties?.tokens?.additionalProperties as JsonSchema;
  t.equal(tokenSchema.additionalProperties, false);
  t.ok(tokenSchema.properties?.clientSecret, 'token sources list their keys');
  t.match(JSON.stringify(schema.properties?.routes), /Longest whole-segment prefix wins/, 'descriptions are kept');
  t.doesNotThrow(() => JSON.stringify(schema), 'serialisable');
});

t.test('route targets and headers the proxy owns are refused', async (t) => {
  const route = (extra: Record<string, unknown>) => configSchema.safeParse({ ...base, routes: { '/s': { target: 'https://api/odata', token: 'lake', ...extra } } });
  t.notOk(route({ target: 'https://api/func?code=secret' }).success, 'a query on the target would be dropped silently');
  t.notOk(route({ target: 'https://api/x#frag' }).success);
  for (const name of ['Authorization', 'host', 'Proxy-Authorization', 'Connection', 'Transfer-Encoding', 'X-Forwarded-For', 'content-length']) {
    const result = route({ headers: { [name]: 'x' } });
    t.notOk(result.success, `${name} cannot be configured`);
    t.match(JSON.stringify(result.error?.issues), /set by the proxy itself/, 'the loader shows the inner message');
  }
  t.notOk(route({ headers: { 'bad name': 'x' } }).success);
  t.ok(route({ headers: { 'Ocp-Apim-Subscription-Key': 'k', 'OData-MaxVersion': '4.0' } }).success);
});

t.test('PEM_KEYS lists exactly the keys described as PEM text or a path to a PEM file', async (t) => {
  type Node = { description?: string; properties?: Record<string, Node>; additionalProperties?: Node | boolean; anyOf?: Node[] };
  const described: string[] = [];
  const walk = (node: Node | boolean | undefined, path: string[]): void => {
    if (typeof node !== 'object') return;
    if (node.description?.includes('PEM text or a path to a PEM file') && !node.properties) described.push(path.join('.'));
    for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, [...path, key]);
    walk(node.additionalProperties, [...path, '*']);
    for (const child of node.anyOf ?? []) walk(child, path);
  };
  walk(configJsonSchema(), []);
  t.same(described.sort(), PEM_KEYS.map((path) => path.join('.')).sort());
  t.equal(PEM_KEYS.length, 11);
});
