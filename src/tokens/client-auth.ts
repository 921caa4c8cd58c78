import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import * as oidc from 'openid-client';
import type { Clock } from '../clock.ts';
import type { TokenSourceConfig } from '../config/schema.ts';
import type { AuthMethod } from '../config/token-credentials.ts';
import { readAssertionFile } from './assertion-file.ts';
import { loadSigningKey } from './private-key.ts';

/** What the IdP was sent in one token request that it must never be quoted back: each assertion. */
export type SentCredentials = string[];

export interface ClientAuthDeps {
  /** The source's name, for messages. */
  source: string;
  clock: Clock;
  /** Each assertion made or read is added here, so the IdP's words can be scrubbed of it. */
  sent: SentCredentials;
}

type ClientAuthFactory = (config: TokenSourceConfig, deps: ClientAuthDeps) => Promise<oidc.ClientAuth>;

/**
 * One factory per client authentication method (openid-client's style: the method is a
 * function handed to the configuration, not a switch in the request code). The schema has
 * checked that each method's credentials are there.
 */
export const CLIENT_AUTHENTICATION: Readonly<Record<AuthMethod, ClientAuthFactory>> = {
  client_secret_post: async (config) => oidc.ClientSecretPost(config.clientSecret),
  client_secret_basic: async (config) => oidc.ClientSecretBasic(config.clientSecret),
  client_secret_jwt: async (config, deps) => clientSecretJwt(config, deps),
  private_key_jwt: async (config, deps) => (config.clientAssertionFile ? assertionFromFile(config.clientAssertionFile, deps) : await privateKeyJwt(config, deps)),
  // RFC 8705: the TLS connection authenticates the client (the fetch presents tls.cert); the body names it.
  tls_client_auth: async () => oidc.TlsClientAuth(),
  self_signed_tls_client_auth: async () => oidc.TlsClientAuth(),
  none: async (config) => clientIdOnly(config.clientId),
};

/** The lifetime of an assertion made here: long enough for one request, short enough to be useless to anyone who copies it. */
export const ASSERTION_LIFETIME_S = 60;

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** openid-client addresses assertions to the issuer; Entra ID, Okta and Keycloak expect the token endpoint (RFC 7523 allows either). */
function audienceOf(config: TokenSourceConfig, as: oidc.ServerMetadata): string {
  return config.assertionAudience ?? as.token_endpoint ?? as.issuer;
}

async function privateKeyJwt(config: TokenSourceConfig, deps: ClientAuthDeps): Promise<oidc.ClientAuth> {
  const { key, kid, alg, ...thumbprints } = await loadSigningKey(config.privateKey!, { keyId: config.keyId, certificate: config.certificate });
  // openid-client awaits what a ClientAuth returns, though its type says void: the assertion is signed asynchronously.
  // eslint-disable-next-line @typescript-eslint/no-misused-promises
  return async (as, client, body, headers) => {
    // eslint-disable-next-line @typescript-eslint/await-thenable
    await oidc.PrivateKeyJwt(kid ? { key, kid } : key, {
      [oidc.modifyAssertion]: (header, payload) => {
        Object.assign(header, thumbprints, { alg });
        payload.aud = audienceOf(config, as);
      },
    })(as, client, body, headers);
    const assertion = body.get('client_assertion');
    if (assertion) deps.sent.push(assertion);
  };
}

/** oauth4webapi's ClientSecretJwt signs HS256 only; IdPs that require HS384 or HS512 (RFC 7518 §3.2) get them from jose. */
function clientSecretJwt(config: TokenSourceConfig, deps: ClientAuthDeps): oidc.ClientAuth {
  const secret = new TextEncoder().encode(config.clientSecret);
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- awaited by openid-client (see privateKeyJwt)
  return async (as, client, body) => {
    const now = Math.floor(deps.clock.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: config.assertionAlgorithm ?? 'HS256', typ: 'JWT' })
      .setIssuer(client.client_id)
      .setSubject(client.client_id)
      .setAudience(audienceOf(config, as))
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + ASSERTION_LIFETIME_S)
      .sign(secret);
    deps.sent.push(assertion);
    body.set('client_id', client.client_id);
    body.set('client_assertion_type', ASSERTION_TYPE);
    body.set('client_assertion', assertion);
  };
}

/** Workload identity federation: the platform signed the assertion; it is read again for every request because the platform rotates it. */
function assertionFromFile(path: string, deps: ClientAuthDeps): oidc.ClientAuth {
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- awaited by openid-client (see privateKeyJwt)
  return async (_as, client, body) => {
    const assertion = await readAssertionFile(deps.source, path);
    deps.sent.push(assertion);
    body.set('client_id', client.client_id);
    body.set('client_assertion_type', ASSERTION_TYPE);
    body.set('client_assertion', assertion);
  };
}

/** A grant that needs no client authentication (jwtBearer): the client is named when configured, not otherwise. */
function clientIdOnly(clientId: string | undefined): oidc.ClientAuth {
  return (_as, _client, body) => {
    if (clientId) body.set('client_id', clientId);
  };
}
