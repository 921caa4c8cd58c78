import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { generateTestKey, type TestKey } from './keys.ts';
import { listenOn } from '../../src/http/lifecycle.ts';
import { closeServer, listen } from './listen.ts';

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

export interface TestIdp {
  issuer: string;
  tokenUrl: string;
  jwksUrl: string;
  audience: string;
  clients: { post: IdpClient; basic: IdpClient };
  keyClient: IdpKeyClient;
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
  const tokenRequests: TokenRequestRecord[] = [];
  const clientBase = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: IDP_SCOPE };

  const server = createServer();
  const issuer = await listen(server);
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
    ],
    scopes: [IDP_SCOPE],
    jwks: { keys: [signingKey as never] },
    // Supplying any adapter silences the "development-only in-memory adapter" warning.
    adapter: memoryAdapter(),
    // Set explicitly only to silence the "default ttl.ClientCredentials" notice.
    ttl: { ClientCredentials: ttl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Applies when the client sends no `resource`; it is also what makes tokens JWTs with an aud.
        defaultResource: () => audience,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== audience) throw new errors.InvalidTarget();
          // oidc-provider silently drops unknown scopes; real IdPs (Entra, Keycloak) refuse them.
          const requested = String(ctx.oidc.params?.scope ?? '').split(' ').filter(Boolean);
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
      if (ctx.path === '/token') {
        const body = (ctx.oidc as unknown as { body?: Record<string, unknown> } | undefined)?.body ?? {};
        const params = Object.fromEntries(Object.entries(body).map(([key, value]) => [key, String(value)]));
        const authorization = ctx.get('authorization');
        tokenRequests.push({ params, ...(authorization ? { authorization } : {}), status: ctx.status, at: Date.now() });
      }
    }
  });
  server.on('request', provider.callback());

  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    jwksUrl: `${issuer}/jwks`,
    audience,
    clients,
    keyClient,
    tokenRequests,
    stop: () => closeServer(server),
    restart: () => listenOn(server, Number(new URL(issuer).port), '127.0.0.1').then(() => undefined),
    close: () => (server.listening ? closeServer(server) : Promise.resolve()),
  };
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
    const findBy = (field: 'userCode' | 'uid', value: string) =>
      [...store.entries()].find(([stored, payload]) => stored.startsWith(`${name}:`) && payload[field] === value)?.[1];
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
