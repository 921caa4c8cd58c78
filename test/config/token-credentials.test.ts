import { generateKeyPairSync } from 'node:crypto';
import t from 'tap';
import { configSchema, crossReferenceIssues } from '../../src/config/schema.ts';
import { effectiveAuthMethod } from '../../src/config/token-credentials.ts';
import { selfSignedCertificate, generateTestKey } from '../helpers/keys.ts';

// Which keys each kind of token source needs and refuses, through the one schema.

const route = { target: 'https://api.example.com/odata', token: 'lake' };
const parse = (source: Record<string, unknown>, routes: Record<string, unknown> = { '/sales': route }) => configSchema.safeParse({ tokens: { lake: source }, routes });
/** The schema's messages and the one cross-reference pass's (where credentials are checked), paths below the source. */
const issues = (source: Record<string, unknown>, routes: Record<string, unknown> = { '/sales': route }) => {
  const result = parse(source, routes);
  const label = (path: ReadonlyArray<PropertyKey>, message: string) => `${path.slice(2).join('.') || path.join('.')}: ${message}`;
  return [
    ...(result.success ? [] : result.error.issues.map((issue) => label(issue.path, issue.message))),
    ...crossReferenceIssues({ tokens: { lake: source }, routes }).map((issue) => label(issue.path, issue.message)),
  ];
};
const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const tokenUrl = 'https://idp.example.com/token';

t.test('managedIdentity: a resource, at most one identity id, and none of the OAuth client keys', async (t) => {
  const parsed = parse({ managedIdentity: { resource: 'https://storage.azure.com' } });
  t.ok(parsed.success, 'no tokenUrl, client or secret needed');
  t.equal(parsed.data?.tokens.lake?.authMethod, 'none', 'the proxy does no client authentication');
  t.same(
    issues({ managedIdentity: { resource: 'r', endpoint: 'http://127.0.0.1:40342/metadata/identity/oauth2/token' } }),
    [],
    'an http endpoint needs no allowInsecure: IMDS is plain http by design',
  );
  t.match(issues({ managedIdentity: {} }), ['managedIdentity.resource: Invalid input']);
  t.match(issues({ managedIdentity: { resource: 'r', clientId: 'a', objectId: 'b' } }), ['managedIdentity.objectId: set at most one of clientId, objectId or resourceId']);
  t.match(issues({ managedIdentity: { resource: 'r' }, tokenUrl, clientId: 'c', clientSecret: 's', resource: 'r' }), [
    'tokenUrl: tokenUrl is not used with managedIdentity',
    'clientId: clientId is not used with managedIdentity: a user-assigned identity is managedIdentity.clientId',
    'clientSecret: clientSecret is not used with managedIdentity: a managed identity has no secret',
    'resource: resource is not used with managedIdentity: write it as managedIdentity.resource',
  ]);
  t.match(issues({ managedIdentity: { resource: 'r', scopes: 'x' } }), [/unrecognized key.*scopes/i], 'strict like every object');
});

t.test('a client assertion file is private_key_jwt without a key; nothing else may come with it', async (t) => {
  const file = { tokenUrl, clientId: 'c', clientAssertionFile: '/var/run/secrets/azure/tokens/azure-identity-token' };
  t.equal(parse(file).data?.tokens.lake?.authMethod, 'private_key_jwt', 'the method follows the credential');
  t.same(issues({ ...file, authMethod: 'private_key_jwt' }), [], 'and may be written out');
  t.match(issues({ ...file, clientSecret: 's' }), ['clientAssertionFile: clientAssertionFile is sent as a JWT client assertion (private_key_jwt): remove clientSecret']);
  t.match(issues({ ...file, privateKey: ecKey }), ['privateKey: set privateKey (an assertion signed here) or clientAssertionFile']);
  t.match(issues({ ...file, keyId: 'k' }), ['keyId: keyId names the key of an assertion signed here']);
  t.match(issues({ ...file, authMethod: 'tls_client_auth' }), [
    'authMethod: tls_client_auth authenticates with a client certificate',
    'clientAssertionFile: tls_client_auth authenticates with tls.cert: remove clientAssertionFile',
  ]);
  t.equal(parse({ tokenUrl, clientId: 'c', privateKey: ecKey }).data?.tokens.lake?.authMethod, 'private_key_jwt', 'so does a privateKey alone');
  t.same(effectiveAuthMethod({ clientSecret: 's', privateKey: ecKey }), 'client_secret_post', 'both: the old default, and the privateKey is reported');
});

t.test('azureWorkloadIdentity: tokenUrl, clientId and the file may come from the environment (filled by the loader)', async (t) => {
  t.same(issues({ azureWorkloadIdentity: true, scope: 'api://lake/.default' }), []);
  t.match(issues({ azureWorkloadIdentity: true, clientSecret: 's' }), ['authMethod: azureWorkloadIdentity sends the federated token as a client assertion']);
  t.match(issues({ azureWorkloadIdentity: true, managedIdentity: { resource: 'r' } }), ['azureWorkloadIdentity: set managedIdentity or azureWorkloadIdentity, not both']);
});

t.test('mutual TLS: the tls methods need tls and no other credential; certificate-bound tokens need tls', async (t) => {
  const key = generateTestKey('ec');
  const tls = { cert: selfSignedCertificate(key), key: key.privateKeyPem };
  t.same(issues({ tokenUrl, clientId: 'c', authMethod: 'self_signed_tls_client_auth', tls, certificateBoundTokens: true }), []);
  t.match(issues({ tokenUrl, clientId: 'c', authMethod: 'tls_client_auth' }), ['authMethod: tls_client_auth authenticates with a client certificate: set tls: { cert, key }']);
  t.match(issues({ tokenUrl, clientId: 'c', authMethod: 'tls_client_auth', tls, clientSecret: 's' }), ['clientSecret: tls_client_auth authenticates with tls.cert: remove clientSecret']);
  t.match(issues({ tokenUrl, clientId: 'c', clientSecret: 's', certificateBoundTokens: true }), [
    'certificateBoundTokens: certificate-bound tokens (RFC 8705) are bound to the client certificate in tls',
  ]);
  t.same(issues({ tokenUrl, clientId: 'c', clientSecret: 's', tls }), [], 'a client certificate with a secret-authenticated client (an mTLS-only endpoint)');
  const other = generateTestKey('ec');
  t.match(issues({ tokenUrl, clientId: 'c', authMethod: 'tls_client_auth', tls: { ...tls, key: other.privateKeyPem } }), ['tls.cert: this certificate does not belong to tls.key']);
  t.match(issues({ tokenUrl, clientId: 'c', authMethod: 'tls_client_auth', tls: { cert: 'nope', key: key.privateKeyPem } }), ['tls.cert: not a readable PEM certificate']);
});

t.test('a route cannot bring its own certificate to a source whose tokens are bound to another', async (t) => {
  const key = generateTestKey('ec');
  const tls = { cert: selfSignedCertificate(key), key: key.privateKeyPem };
  const source = { tokenUrl, clientId: 'c', authMethod: 'self_signed_tls_client_auth', tls, certificateBoundTokens: true };
  const own = generateTestKey('ec');
  const routes = { '/sales': { ...route, clientCert: selfSignedCertificate(own), clientKey: own.privateKeyPem } };
  t.match(crossReferenceIssues({ tokens: { lake: source }, routes }), [
    { path: ['routes', '/sales', 'clientCert'], message: /token source "lake" has certificate-bound tokens: this route presents its tls.cert/ },
  ]);
  t.same(crossReferenceIssues({ tokens: { lake: source }, routes: { '/sales': route } }), [], 'without one, the route presents the source’s');
});

t.test('client_secret_jwt: HS256 unless assertionAlgorithm says HS384 or HS512', async (t) => {
  const secretJwt = { tokenUrl, clientId: 'c', clientSecret: 's', authMethod: 'client_secret_jwt' };
  t.equal(parse(secretJwt).data?.tokens.lake?.assertionAlgorithm, 'HS256');
  t.equal(parse({ ...secretJwt, assertionAlgorithm: 'HS512' }).data?.tokens.lake?.assertionAlgorithm, 'HS512');
  t.match(issues({ ...secretJwt, assertionAlgorithm: 'RS256' }), ['assertionAlgorithm: Invalid option']);
  t.match(issues({ tokenUrl, clientId: 'c', clientSecret: 's', assertionAlgorithm: 'HS512' }), ['assertionAlgorithm: assertionAlgorithm is used only with authMethod: client_secret_jwt']);
  t.match(issues({ ...secretJwt, clientSecret: undefined }), ['clientSecret: client_secret_jwt needs clientSecret']);
  t.equal(parse({ tokenUrl, clientId: 'c', clientSecret: 's' }).data?.tokens.lake?.assertionAlgorithm, undefined, 'only client_secret_jwt gets one');
});

t.test('jwtBearer: its own key, the client authenticated by a secret or not at all', async (t) => {
  const bearer = { tokenUrl, jwtBearer: { issuer: 'sa@project.iam.gserviceaccount.com', privateKey: ecKey } };
  const parsed = parse(bearer);
  t.equal(parsed.data?.tokens.lake?.authMethod, 'none', 'no clientId or secret needed');
  t.same(parsed.data?.tokens.lake?.jwtBearer?.claims, {}, 'claims default to none');
  t.equal(parse({ ...bearer, clientId: 'c', clientSecret: 's' }).data?.tokens.lake?.authMethod, 'client_secret_post');
  t.match(issues({ ...bearer, privateKey: ecKey }), ['privateKey: the jwt-bearer assertion is signed with jwtBearer.privateKey: move privateKey under jwtBearer']);
  t.match(issues({ ...bearer, authMethod: 'private_key_jwt' }), ['authMethod: with jwtBearer the client authenticates with clientSecret']);
  t.match(issues({ ...bearer, authMethod: 'client_secret_basic', clientId: 'c' }), ['clientSecret: client_secret_basic needs clientSecret']);
  t.match(issues({ ...bearer, jwtBearer: { issuer: 'x', privateKey: 'MIIEvQ-not-a-key' } }), ['jwtBearer.privateKey: not a readable PEM private key']);
  t.match(issues({ ...bearer, tokenUrl: 'http://idp.example.com/token' }), ['tokenUrl: an http:// IdP would carry'], 'the assertion is a credential too: no plain http without allowInsecure');
  t.match(issues({ jwtBearer: bearer.jwtBearer }), [': set exactly one of tokenUrl or issuer']);
});

t.test('raw input the schema refused elsewhere still gets its credential checks', async (t) => {
  const found = crossReferenceIssues({
    tokens: { lake: { managedIdentity: { resource: 'r' }, clientSecret: 's', timeout: 'soon' }, sea: { tokenUrl, clientAssertionFile: '/f', clientSecret: 's', clientId: 'c' } },
    routes: { '/a': { target: 'https://x', token: 'lake' } },
  });
  t.same(
    found.map((issue) => issue.path.join('.')),
    ['tokens.lake.clientSecret', 'tokens.sea.clientAssertionFile'],
  );
});
