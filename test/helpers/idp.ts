import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import Provider, { errors, type Adapter, type AdapterPayload, type ClientMetadata } from 'oidc-provider';
import { generateTestKey, selfSignedCertificate, type TestKey } from './keys.ts';
import { listenOn } from '../../src/http/lifecycle.ts';
import { closeServer, listen } from './listen.ts';
import { issueCertificate, type IssuedCertificate, type TestCa } from './tls.ts';

export interface IdpClient {
  clientId: string;
  clientSecret: string;
  authMethod: 'client_secret_post' | 'client_secret_basic';
}

export interface TokenRequestRecord {
  params: Record<string, string>;
  authorization?: string;
  /** The HTTP status the IdP answered with. */
  status: number;
  at: number;
}

/** A private_key_jwt client; the IdP knows the public half of each of its keys. */
export interface IdpKeyClient {
  clientId: string;
  keys: { rsa: TestKey; ec: TestKey; ed25519: TestKey };
}

/** A client_secret_jwt client: its secret is long enough for HS512 (RFC 7518 §3.2 wants the hash's size at least). */
export interface IdpSecretJwtClient {
  clientId: string;
  clientSecret: string;
}

/**
 * A private_key_jwt client whose key the "platform" holds (as Kubernetes or Entra's
 * federation holds the service-account issuer's key): `mint` writes a federated token the
 * IdP accepts as this client's assertion, as a platform would put it in a file.
 */
export interface IdpFederatedClient {
  clientId: string;
  mint(): Promise<string>;
}

/** An RFC 8705 client: its certificate (and key), issued by the IdP's CA or self-signed. */
export interface IdpMtlsClient {
  clientId: string;
  certificate: IssuedCertificate;
}

export interface IdpMtlsClients {
  /** tls_client_auth: a certificate from the CA, matched by subject DN. */
  pki: IdpMtlsClient;
  /** self_signed_tls_client_auth: a self-signed certificate registered in the client's jwks. */
  selfSigned: IdpMtlsClient;
  /** self_signed_tls_client_auth with tls_client_certificate_bound_access_tokens: tokens carry cnf.x5t#S256. */
  bound: IdpMtlsClient;
}

export interface TestIdp {
  issuer: string;
  tokenUrl: string;
  jwksUrl: string;
  audience: string;
  clients: { post: IdpClient; basic: IdpClient };
  keyClient: IdpKeyClient;
  secretJwtClient: IdpSecretJwtClient;
  federatedClient: IdpFederatedClient;
  /** Only with options.tls. */
  mtlsClients: IdpMtlsClients | undefined;
  /** Every request that reached the token endpoint, failed ones included, in order. */
  readonly tokenRequests: TokenRequestRecord[];
  /** Stops listening: the IdP is down, connections are refused. */
  stop(): Promise<void>;
  /** Listens again on the same port with the same keys and clients: the IdP is back. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface IdpOptions {
  /** Default 300. */
  accessTokenTtlSeconds?: number;
  /** Default 'https://api.test'. */
  audience?: string;
  /** The token endpoint's path (default /token), e.g. Entra's /TENANT/oauth2/v2.0/token. */
  tokenPath?: string;
  /** Serve HTTPS with a certificate from this CA, ask for client certificates and enable RFC 8705 (mtlsClients). */
  tls?: { ca: TestCa };
}

/** The only scope the IdP grants; anything else is refused with invalid_scope. */
export const IDP_SCOPE = 'api:read';

/**
 * A real OAuth2/OIDC server (oidc-provider) issuing client_credentials access tokens as
 * signed JWTs for one resource server, with one client per client-auth method.
 */
export async function startIdp(options: IdpOptions = {}): Promise<TestIdp> {
  const audience = options.audience ?? 'https://api.test';
  const ttl = options.accessTokenTtlSeconds ?? 300;
  // A fresh key per start keeps private key material out of the repository.
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: `test-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };
  // Long and unique per start, so a leaked secret is unmistakable when tests grep logs for it.
  const client = (name: string, authMethod: IdpClient['authMethod']): IdpClient => ({
    clientId: `proxy-${name}`,
    clientSecret: `${name}-secret-${randomBytes(32).toString('base64url')}`,
    authMethod,
  });
  const clients = { post: client('post', 'client_secret_post'), basic: client('basic', 'client_secret_basic') };
  const keyClient: IdpKeyClient = { clientId: 'proxy-jwt', keys: keyClientKeys() };
  const secretJwtClient: IdpSecretJwtClient = { clientId: 'proxy-secret-jwt', clientSecret: `jwt-secret-${randomBytes(64).toString('base64url')}` };
  const tokenPath = options.tokenPath ?? '/token';
  const tokenRequests: TokenRequestRecord[] = [];
  const clientBase = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: IDP_SCOPE };

  const server = options.tls ? mtlsServer(options.tls.ca) : createServer();
  const issuer = await listen(server);
  const tokenUrl = `${issuer}${tokenPath}`;
  const platformKey = keyClientKeys().ec;
  const federatedClient: IdpFederatedClient = {
    clientId: 'proxy-federated',
    // What a platform signs: iss/sub the client, aud the token endpoint, a fresh jti (oidc-provider refuses a replayed one).
    mint: () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: platformKey.kid })
        .setIssuer('proxy-federated')
        .setSubject('proxy-federated')
        .setAudience(tokenUrl)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(platformKey.privateKey),
  };
  const mtlsClients = options.tls ? mtlsClientCertificates(options.tls.ca) : undefined;
  const provider = new Provider(issuer, {
    clients: [
      ...Object.values(clients).map((entry) => ({
        ...clientBase,
        client_id: entry.clientId,
        client_secret: entry.clientSecret,
        token_endpoint_auth_method: entry.authMethod,
      })),
      {
        ...clientBase,
        client_id: keyClient.clientId,
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: Object.values(keyClient.keys).map((key) => key.publicJwk as never) },
      },
      { ...clientBase, client_id: secretJwtClient.clientId, client_secret: secretJwtClient.clientSecret, token_endpoint_auth_method: 'client_secret_jwt' },
      { ...clientBase, client_id: federatedClient.clientId, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [platformKey.publicJwk] } },
      ...(mtlsClients ? mtlsClientMetadata(mtlsClients).map((client) => ({ ...clientBase, ...client })) : []),
    ] as ClientMetadata[],
    routes: { token: tokenPath },
    clientAuthMethods: [
      'client_secret_basic',
      'client_secret_jwt',
      'client_secret_post',
      'private_key_jwt',
      'none',
      ...(options.tls ? (['tls_client_auth', 'self_signed_tls_client_auth'] as const) : []),
    ],
    // HS384/HS512 are off by default; client_secret_jwt clients may use any of the three.
    enabledJWA: { clientAuthSigningAlgValues: ['HS256', 'HS384', 'HS512', 'RS256', 'PS256', 'ES256', 'EdDSA'] },
    scopes: [IDP_SCOPE],
    jwks: { keys: [signingKey] },
    // Supplying any adapter silences the "development-only in-memory adapter" warning.
    adapter: memoryAdapter(),
    // Set explicitly only to silence the "default ttl.ClientCredentials" notice.
    ttl: { ClientCredentials: ttl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      ...(options.tls ? { mTLS: mtlsFeature() } : {}),
      resourceIndicators: {
        enabled: true,
        // Applies when the client sends no `resource`; it is also what makes tokens JWTs with an aud.
        defaultResource: () => audience,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== audience) throw new errors.InvalidTarget();
          // oidc-provider silently drops unknown scopes; real IdPs (Entra, Keycloak) refuse them.
          const scope = ctx.oidc.params?.scope;
          const requested = (typeof scope === 'string' ? scope : '').split(' ').filter(Boolean);
          const unknown = requested.filter((scope) => scope !== IDP_SCOPE);
          if (unknown.length > 0) throw new errors.InvalidScope('requested scope is not allowed', unknown.join(' '));
          return { scope: IDP_SCOPE, audience, accessTokenFormat: 'jwt', accessTokenTTL: ttl };
        },
      },
    },
  });
  // Reads the body oidc-provider parsed itself, after the fact, so its own parsing is untouched.
  provider.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      if (ctx.path === tokenPath) {
        const body = (ctx.oidc as unknown as { body?: Record<string, unknown> } | undefined)?.body ?? {};
        const params = Object.fromEntries(Object.entries(body).map(([key, value]) => [key, String(value)]));
        const authorization = ctx.get('authorization');
        tokenRequests.push({ params, ...(authorization ? { authorization } : {}), status: ctx.status, at: Date.now() });
      }
    }
  });
  const handle = provider.callback();
  server.on('request', (req, res) => void handle(req, res));

  return {
    issuer,
    tokenUrl,
    jwksUrl: `${issuer}/jwks`,
    audience,
    clients,
    keyClient,
    secretJwtClient,
    federatedClient,
    mtlsClients,
    tokenRequests,
    stop: () => closeServer(server),
    restart: () => listenOn(server, Number(new URL(issuer).port), '127.0.0.1').then(() => undefined),
    close: () => (server.listening ? closeServer(server) : Promise.resolve()),
  };
}

/** HTTPS that asks every client for a certificate but lets TLS pass without one: oidc-provider decides what a client needs. */
function mtlsServer(ca: TestCa) {
  const leaf = issueCertificate(ca, 'idp');
  return createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false });
}

function peerCertificate(ctx: { socket: unknown }): X509Certificate | undefined {
  const peer = (ctx.socket as TLSSocket).getPeerX509Certificate?.();
  return peer ?? undefined;
}

/** RFC 8705 in oidc-provider: the certificate comes from the TLS socket; the CA-issued one counts as verified only when Node verified it. */
function mtlsFeature() {
  return {
    enabled: true,
    certificateBoundAccessTokens: true,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: true,
    getCertificate: (ctx: { socket: unknown }) => peerCertificate(ctx)?.toString(),
    certificateAuthorized: (ctx: { socket: unknown }) => (ctx.socket as TLSSocket).authorized,
    certificateSubjectMatches: (ctx: { socket: unknown }, property: string, expected: string) => property === 'tls_client_auth_subject_dn' && peerCertificate(ctx)?.subject === expected,
  };
}

function mtlsClientCertificates(ca: TestCa): IdpMtlsClients {
  const selfSigned = (name: string): IssuedCertificate => {
    const key = generateTestKey('ec');
    return { certPem: selfSignedCertificate(key, name), keyPem: key.privateKeyPem };
  };
  return {
    pki: { clientId: 'proxy-mtls', certificate: issueCertificate(ca, 'proxy-mtls', 'client') },
    selfSigned: { clientId: 'proxy-self-signed', certificate: selfSigned('proxy-self-signed') },
    bound: { clientId: 'proxy-bound', certificate: selfSigned('proxy-bound') },
  };
}

function mtlsClientMetadata(clients: IdpMtlsClients): Array<ClientMetadata & { client_id: string }> {
  const registered = (certificate: IssuedCertificate) => {
    const x5c = new X509Certificate(certificate.certPem).raw.toString('base64');
    const jwk = new X509Certificate(certificate.certPem).publicKey.export({ format: 'jwk' });
    return { keys: [{ ...jwk, x5c: [x5c], use: 'sig' }] };
  };
  return [
    { client_id: clients.pki.clientId, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: `CN=${clients.pki.clientId}` },
    { client_id: clients.selfSigned.clientId, token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: registered(clients.selfSigned.certificate) },
    {
      client_id: clients.bound.clientId,
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      jwks: registered(clients.bound.certificate),
      tls_client_certificate_bound_access_tokens: true,
    },
  ];
}

let cachedKeys: IdpKeyClient['keys'] | undefined;
/** Generated once per test process: RSA key generation is slow enough to matter across dozens of IdPs. */
function keyClientKeys(): IdpKeyClient['keys'] {
  cachedKeys ??= { rsa: generateTestKey('rsa'), ec: generateTestKey('ec'), ed25519: generateTestKey('ed25519') };
  return cachedKeys;
}

/** Storage scoped to one provider, so parallel IdPs in one process never share state. */
function memoryAdapter(): (name: string) => Adapter {
  const store = new Map<string, AdapterPayload>();
  return (name) => {
    const key = (id: string) => `${name}:${id}`;
    const findBy = (field: 'userCode' | 'uid', value: string) => [...store.entries()].find(([stored, payload]) => stored.startsWith(`${name}:`) && payload[field] === value)?.[1];
    return {
      upsert: async (id, payload) => void store.set(key(id), payload),
      find: async (id) => store.get(key(id)),
      findByUserCode: async (userCode) => findBy('userCode', userCode),
      findByUid: async (uid) => findBy('uid', uid),
      consume: async (id) => {
        const payload = store.get(key(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      destroy: async (id) => void store.delete(key(id)),
      revokeByGrantId: async (grantId) => {
        for (const [stored, payload] of store) if (payload.grantId === grantId) store.delete(stored);
      },
    };
  };
}

/** The IdP's client_secret_post client as a config's token source (its URL is http, hence allowInsecure); `secret` to provoke invalid_client. */
export function postClientSource(idp: TestIdp, secret = idp.clients.post.clientSecret) {
  return { tokenUrl: idp.tokenUrl, clientId: idp.clients.post.clientId, clientSecret: secret, allowInsecure: true };
}

/** An access token fetched as a client does without the proxy (client_secret_post), for a test's requests straight to an upstream. */
export async function accessTokenFrom(idp: TestIdp): Promise<string> {
  const { clientId, clientSecret } = idp.clients.post;
  const answer = await fetch(idp.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }) });
  if (!answer.ok) throw new Error(`the IdP refused the token request: ${answer.status} ${await answer.text()}`);
  return ((await answer.json()) as { access_token: string }).access_token;
}
