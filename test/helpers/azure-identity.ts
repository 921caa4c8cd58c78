import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Test } from 'tap';
import { closeServer, listen } from './listen.ts';

/**
 * Managed identity endpoints as Azure documents them, on real sockets, issuing real signed
 * JWTs an upstream can verify (their keys at /jwks, which the real endpoints do not have:
 * Entra publishes them). What each one insists on is what the real one insists on:
 * - IMDS (api-version 2018-02-01): GET /metadata/identity/oauth2/token, `Metadata: true` or
 *   400, no X-Forwarded-For, user-assigned ids as client_id / object_id / msi_res_id;
 *   answers with every number as a string (expires_in, expires_on, not_before).
 * - App Service / Functions (2019-08-01): the secret X-IDENTITY-HEADER or 400; ids as
 *   client_id / principal_id / mi_res_id; answers expires_on only (epoch seconds as a string,
 *   or, as the older API did, a date string).
 * - Azure Arc (2019-11-01): `Metadata: true`, then 401 `WWW-Authenticate: Basic realm=<file>`
 *   with a fresh secret written to that .key file; the retry must send `Authorization: Basic <secret>`.
 */
export type IdentityPlatform = 'imds' | 'appService' | 'arc';

export interface IdentityRequest {
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  status: number;
}

/** A user-assigned identity the endpoint knows; its ids are what the token's claims show. */
export interface TestIdentity {
  clientId: string;
  objectId: string;
  resourceId: string;
}

export interface IdentityEndpoint {
  /** Base URL (scheme, host, port). */
  url: string;
  /** Where token requests go (IDENTITY_ENDPOINT, or managedIdentity.endpoint for IMDS). */
  tokenUrl: string;
  jwksUrl: string;
  issuer: string;
  systemIdentity: TestIdentity;
  userIdentity: TestIdentity;
  /** App Service's IDENTITY_HEADER. */
  identityHeader: string;
  /** Arc: each secret written to a challenge file, in order. */
  readonly arcSecrets: string[];
  readonly requests: IdentityRequest[];
  /** Answers the next token requests with these (status, headers, body) instead, in order. */
  scriptNext(...answers: Array<{ status: number; headers?: Record<string, string>; body?: unknown }>): void;
}

export interface IdentityEndpointOptions {
  /** App Service: expires_on as epoch seconds (default) or as a date string. */
  expiresOn?: 'epoch' | 'date';
  /** Default 3600. */
  lifetimeSeconds?: number;
  /** Arc: the directory the challenge files are written to. */
  arcKeyDirectory?: string;
}

const TOKEN_PATH = '/metadata/identity/oauth2/token';
const API_VERSIONS: Record<IdentityPlatform, string> = { imds: '2018-02-01', appService: '2019-08-01', arc: '2019-11-01' };

export async function startIdentityEndpoint(t: Test, platform: IdentityPlatform, options: IdentityEndpointOptions = {}): Promise<IdentityEndpoint> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = `mi-${randomBytes(4).toString('hex')}`;
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  const identity = (name: string): TestIdentity => ({
    clientId: randomUUID(),
    objectId: randomUUID(),
    resourceId: `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`,
  });
  const systemIdentity = identity('system');
  const userIdentity = identity('lake-reader');
  const identityHeader = randomBytes(24).toString('hex');
  const tenant = randomUUID();
  const issuer = `https://sts.windows.net/${tenant}/`;
  const requests: IdentityRequest[] = [];
  const arcSecrets: string[] = [];
  const scripted: Array<{ status: number; headers?: Record<string, string>; body?: unknown }> = [];
  const lifetime = options.lifetimeSeconds ?? 3600;
  const ids = platform === 'appService' ? { clientId: 'client_id', objectId: 'principal_id', resourceId: 'mi_res_id' } : { clientId: 'client_id', objectId: 'object_id', resourceId: 'msi_res_id' };

  const answer = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  // Each platform's error shape: IMDS {error, error_description}; App Service and Arc {statusCode, message}.
  const refuse = (res: ServerResponse, status: number, code: string, description: string, headers?: Record<string, string>) =>
    answer(res, status, platform === 'imds' ? { error: code, error_description: description } : { statusCode: status, message: description, correlationId: randomUUID() }, headers);

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record: IdentityRequest = { path: url.pathname, query: url.searchParams, headers: req.headers, status: 0 };
    res.on('finish', () => (record.status = res.statusCode));
    if (url.pathname === '/jwks') return answer(res, 200, jwks);
    requests.push(record);
    if (req.method !== 'GET' || url.pathname !== TOKEN_PATH) return refuse(res, 404, 'not_found', 'no such endpoint');
    if (platform === 'appService') {
      if (req.headers['x-identity-header'] !== identityHeader) return refuse(res, 400, 'invalid_request', 'X-IDENTITY-HEADER missing or wrong');
    } else {
      if (req.headers.metadata !== 'true') return refuse(res, 400, 'invalid_request', 'Required metadata header not specified');
      if (req.headers['x-forwarded-for'] !== undefined) return refuse(res, 400, 'invalid_request', 'Requests with X-Forwarded-For are not accepted');
    }
    if (url.searchParams.get('api-version') !== API_VERSIONS[platform]) return refuse(res, 400, 'invalid_request', `api-version ${API_VERSIONS[platform]} is required`);
    const resource = url.searchParams.get('resource');
    if (!resource) return refuse(res, 400, 'invalid_request', 'Required query variable resource is missing');
    if (platform === 'arc') {
      const authorization = req.headers.authorization;
      if (authorization === undefined || authorization !== `Basic ${arcSecrets.at(-1)}`) {
        const secret = randomBytes(32).toString('hex');
        const file = join(options.arcKeyDirectory ?? '/var/opt/azcmagent/tokens', `${randomUUID()}.key`);
        writeFileSync(file, secret, { mode: 0o600 });
        arcSecrets.push(secret);
        return refuse(res, 401, 'unauthorized', 'Unauthorized', { 'www-authenticate': `Basic realm=${file}` });
      }
    }
    const next = scripted.shift();
    if (next) return answer(res, next.status, next.body ?? { error: 'scripted', error_description: `HTTP ${next.status}` }, next.headers);
    const named = (Object.keys(ids) as Array<keyof typeof ids>).filter((key) => url.searchParams.has(ids[key]));
    const chosen = named.length === 0 ? systemIdentity : userIdentity;
    if (named.some((key) => url.searchParams.get(ids[key]) !== userIdentity[key])) return refuse(res, 400, 'invalid_request', 'Identity not found');
    void issue(resource, chosen).then((accessToken) => {
      const now = Math.floor(Date.now() / 1000);
      const expiresOn = now + lifetime;
      if (platform === 'appService') {
        const on = options.expiresOn === 'date' ? appServiceDate(expiresOn) : String(expiresOn);
        return answer(res, 200, { access_token: accessToken, expires_on: on, resource, token_type: 'Bearer', client_id: chosen.clientId });
      }
      answer(res, 200, {
        access_token: accessToken,
        refresh_token: '',
        expires_in: String(lifetime),
        expires_on: String(expiresOn),
        ext_expires_in: String(lifetime),
        not_before: String(now),
        resource,
        token_type: 'Bearer',
        client_id: chosen.clientId,
      });
    });
  });

  const issue = (resource: string, chosen: TestIdentity) =>
    new SignJWT({ appid: chosen.clientId, oid: chosen.objectId, xms_mirid: chosen.resourceId, idtyp: 'app' })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(resource)
      .setSubject(chosen.objectId)
      .setIssuedAt()
      .setExpirationTime(`${lifetime}s`)
      .sign(privateKey);

  const url = await listen(server);
  t.teardown(() => closeServer(server));
  return {
    url,
    tokenUrl: `${url}${TOKEN_PATH}`,
    jwksUrl: `${url}/jwks`,
    issuer,
    systemIdentity,
    userIdentity,
    identityHeader,
    arcSecrets,
    requests,
    scriptNext: (...answers) => void scripted.push(...answers),
  };
}

/** The 2017-09-01 App Service format: "MM/dd/yyyy hh:mm:ss AM +00:00" in UTC. */
function appServiceDate(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  const pad = (value: number) => String(value).padStart(2, '0');
  const hours = date.getUTCHours() % 12 || 12;
  return `${pad(date.getUTCMonth() + 1)}/${pad(date.getUTCDate())}/${date.getUTCFullYear()} ${pad(hours)}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} ${date.getUTCHours() < 12 ? 'AM' : 'PM'} +00:00`;
}
