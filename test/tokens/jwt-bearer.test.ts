import { decodeJwt, decodeProtectedHeader } from 'jose';
import t from 'tap';
import { configSchema, type TokenSourceConfig } from '../../src/config/schema.ts';
import { createClientCredentialsSource } from '../../src/tokens/client-credentials.ts';
import { GRANT_ASSERTION_LIFETIME_S, JWT_BEARER_GRANT } from '../../src/tokens/jwt-bearer.ts';
import { startJwtBearerIdp } from '../helpers/jwt-bearer-idp.ts';
import { generateTestKey } from '../helpers/keys.ts';

// The RFC 7523 JWT-bearer grant against a token endpoint that verifies the assertion (Google-style).

const clock = { now: () => Date.now() };
const ACCOUNT = 'reports@lake-project.iam.gserviceaccount.com';
const SCOPE = 'https://www.googleapis.com/auth/bigquery.readonly';

function sourceConfig(input: Record<string, unknown>): TokenSourceConfig {
  return configSchema.parse({ tokens: { g: { allowInsecure: true, ...input } }, routes: { '/r': { target: 'https://x.test', token: 'g' } } }).tokens.g!;
}

t.test('a signed assertion is the grant: iss, sub, aud, a short exp and a fresh jti; no client authentication', async (t) => {
  const rsa = generateTestKey('rsa');
  const ec = generateTestKey('ec');
  const idp = await startJwtBearerIdp(t, [
    { issuer: ACCOUNT, publicJwk: rsa.publicJwk },
    { issuer: 'ec-account', publicJwk: ec.publicJwk },
  ]);
  const config = sourceConfig({ tokenUrl: idp.tokenUrl, jwtBearer: { issuer: ACCOUNT, privateKey: rsa.privateKeyPem, keyId: rsa.kid, claims: { scope: SCOPE } } });
  t.equal(config.authMethod, 'none', 'without clientSecret the client does not authenticate');
  const source = createClientCredentialsSource('g', config, { clock });
  t.equal(source.kind, 'JWT bearer grant');
  const token = await source.fetchToken();
  t.match(decodeJwt(token.value), { sub: ACCOUNT, scope: SCOPE, aud: idp.audience }, 'the IdP issued a token with the assertion’s scope');
  const sent = idp.requests.at(-1)!.params;
  t.same(Object.keys(sent).sort(), ['assertion', 'grant_type'], 'grant_type and assertion only');
  t.equal(sent.grant_type, JWT_BEARER_GRANT);
  t.match(decodeProtectedHeader(sent.assertion!), { alg: 'RS256', kid: rsa.kid, typ: 'JWT' });
  const claims = decodeJwt(sent.assertion!);
  t.match(claims, { iss: ACCOUNT, sub: ACCOUNT, aud: idp.tokenUrl, scope: SCOPE, jti: String });
  t.equal(claims.exp! - claims.iat!, GRANT_ASSERTION_LIFETIME_S, 'exp two minutes after iat (Salesforce allows three)');

  await source.fetchToken();
  t.not(decodeJwt(idp.requests.at(-1)!.params.assertion!).jti, claims.jti, 'each request signs a new assertion');

  const salesforce = createClientCredentialsSource(
    'g',
    sourceConfig({ tokenUrl: idp.tokenUrl, scope: 'api', jwtBearer: { issuer: 'ec-account', subject: 'integration@corp.example', privateKey: ec.privateKeyPem } }),
    { clock },
  );
  t.match(decodeJwt((await salesforce.fetchToken()).value), { sub: 'integration@corp.example', scope: 'api' }, 'another subject, an EC key, the scope as a form field');
  t.match(decodeProtectedHeader(idp.requests.at(-1)!.params.assertion!), { alg: 'ES256' });
});

t.test('a client secret, when configured, authenticates the client besides the assertion', async (t) => {
  const key = generateTestKey('ec');
  const idp = await startJwtBearerIdp(t, [{ issuer: 'app', publicJwk: key.publicJwk }]);
  const config = sourceConfig({ tokenUrl: idp.tokenUrl, clientId: 'consumer-key', clientSecret: 'consumer-secret-123', jwtBearer: { issuer: 'app', privateKey: key.privateKeyPem } });
  t.equal(config.authMethod, 'client_secret_post');
  await createClientCredentialsSource('g', config, { clock }).fetchToken();
  t.match(idp.requests.at(-1)!.params, { client_id: 'consumer-key', client_secret: 'consumer-secret-123', grant_type: JWT_BEARER_GRANT });
});

t.test('a refused assertion is TOKEN_FETCH_FAILED with the IdP’s words, never the assertion', async (t) => {
  const known = generateTestKey('rsa');
  const stranger = generateTestKey('rsa');
  const idp = await startJwtBearerIdp(t, [{ issuer: ACCOUNT, publicJwk: known.publicJwk }]);
  const wrongKey = createClientCredentialsSource('g', sourceConfig({ tokenUrl: idp.tokenUrl, jwtBearer: { issuer: ACCOUNT, privateKey: stranger.privateKeyPem } }), { clock });
  const error = await wrongKey.fetchToken().then(
    () => new Error('expected a failure'),
    (caught: unknown) => caught as Error,
  );
  t.match(error, { code: 'TOKEN_FETCH_FAILED', message: /invalid_grant: signature verification failed/ });
  t.notMatch(error.message, idp.requests.at(-1)!.params.assertion!, 'the assertion is not repeated');
  const wrongAudience = createClientCredentialsSource(
    'g',
    sourceConfig({ tokenUrl: idp.tokenUrl, jwtBearer: { issuer: ACCOUNT, audience: 'https://login.salesforce.com', privateKey: known.privateKeyPem } }),
    { clock },
  );
  t.match(
    await wrongAudience.fetchToken().catch((caught: unknown) => caught),
    { code: 'TOKEN_FETCH_FAILED', message: /invalid_grant: unexpected "aud" claim value/ },
    'jwtBearer.audience is what is sent',
  );
});
