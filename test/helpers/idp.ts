import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { closeServer, listen } from './listen.ts';

export interface IdpClient {
  clientId: string;
  clientSecret: string;
  authMethod: 'client_secret_post' | 'client_secret_basic';
}

export interface TokenRequestRecord {
  params: Record<string, string>;
  authorization?: string;
  status: number;
  at: number;
}

export interface TestIdp {
  issuer: string;
  tokenUrl: string;
  jwksUrl: string;
  audience: string;
  clients: { post: IdpClient; basic: IdpClient };
  /** Every request that reached the token endpoint, failed ones included, in order. */
  readonly tokenRequests: TokenRequestRecord[];
  close(): Promise<void>;
}

export interface IdpOptions {
  accessTokenTtlSeconds?: number;
  audience?: string;
}

export const IDP_SCOPE = 'api:read';

/**
 * A real OAuth2/OIDC server (oidc-provider) issuing client_credentials access tokens as
 * signed JWTs for one resource server, with one client per client-auth method.
 */
export async function startIdp(options: IdpOptions = {}): Promise<TestIdp> {
  const audience = options.audience ?? 'https://api.test';
  const ttl = options.accessTokenTtlSeconds ?? 300;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: `test-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };
  const client = (name: string, authMethod: IdpClient['authMethod']): IdpClient => ({
    clientId: `proxy-${name}`,
    clientSecret: `${name}-secret-${randomBytes(18).toString('base64url')}`,
    authMethod,
  });
  const clients = { post: client('post', 'client_secret_post'), basic: client('basic', 'client_secret_basic') };
  const tokenRequests: TokenRequestRecord[] = [];

  const server = createServer();
  const issuer = await listen(server);
  const provider = new Provider(issuer, {
    clients: Object.values(clients).map((entry) => ({
      client_id: entry.clientId,
      client_secret: entry.clientSecret,
      token_endpoint_auth_method: entry.authMethod,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: IDP_SCOPE,
    })),
    scopes: [IDP_SCOPE],
    jwks: { keys: [signingKey as never] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: IDP_SCOPE, audience, accessTokenFormat: 'jwt', accessTokenTTL: ttl }),
      },
    },
  });
  // Record after oidc-provider has parsed the body itself, so its own parsing is untouched.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/token') return;
    const body = (ctx.oidc as unknown as { body?: Record<string, string> } | undefined)?.body ?? {};
    const authorization = ctx.get('authorization');
    tokenRequests.push({ params: { ...body }, ...(authorization ? { authorization } : {}), status: ctx.status, at: Date.now() });
  });
  server.on('request', provider.callback());

  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    jwksUrl: `${issuer}/jwks`,
    audience,
    clients,
    tokenRequests,
    close: () => closeServer(server),
  };
}
