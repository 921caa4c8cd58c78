import { z } from 'zod';
import { RESERVED_PATHS } from '../admin/reserved-paths.ts';
import { DEFAULT_MAX_CONNECTIONS, MAX_CONNECTIONS_CEILING } from '../http/connection-limit.ts';
import { FORWARDED_HEADERS, isProxyOwnedHeader } from '../http/owned-headers.ts';
import { parsePasswordHash } from '../inbound/password.ts';
import { DEFAULT_MAX_LIFETIME_MS } from '../tokens/lifetime.ts';
import { DEFAULT_BACKOFF_MS, DEFAULT_REFRESH_AHEAD } from '../tokens/defaults.ts';
import { belongsToOtherKey, caBundleProblem, certificateProblem, tlsKeyProblem } from './pem.ts';
import { parseDuration } from './duration.ts';
import type { KeyPath } from './positions.ts';
import { AUTH_METHODS, credentialIssues, effectiveAuthMethod, SECRET_JWT_ALGORITHMS, type AuthMethod } from './token-credentials.ts';

/**
 * The one definition of proxy.yaml: TypeScript types, validation, defaults and the
 * JSON Schema printed by `bearer-proxy schema` all come from here.
 */

/**
 * The keys that hold PEM material (`*`: every token source or route). In the file each is
 * PEM text or a path to a PEM file; the loader reads the files before this schema runs,
 * so the schema, and everything after it, sees PEM text only.
 */
export const PEM_KEYS: readonly KeyPath[] = [
  ['listen', 'tls', 'cert'],
  ['listen', 'tls', 'key'],
  ['tokens', '*', 'privateKey'],
  ['tokens', '*', 'certificate'],
  ['tokens', '*', 'ca'],
  ['tokens', '*', 'tls', 'cert'],
  ['tokens', '*', 'tls', 'key'],
  ['tokens', '*', 'jwtBearer', 'privateKey'],
  ['routes', '*', 'ca'],
  ['routes', '*', 'clientCert'],
  ['routes', '*', 'clientKey'],
];

const PEM_OR_PATH = 'PEM text or a path to a PEM file (relative to the config file)';

/** What parseDuration reads, for the JSON Schema. */
const DURATION_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h)?\\s*$';

const duration = (fallbackMs: number) =>
  z
    // The pattern is for editors (JSON Schema only); the transform below is what decides.
    .union([z.number().positive(), z.string().meta({ pattern: DURATION_PATTERN })], {
      error: 'expected a duration: seconds as a number, or a string such as 500ms, 30s, 10m, 1h',
    })
    .default(fallbackMs / 1000)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `"${value}" is not a duration: use a number of seconds or a string such as 500ms, 30s, 10m, 1h`,
        });
        return z.NEVER;
      }
      return ms;
    });

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an absolute http:// or https:// URL' });

/** user:password@ in a URL, however written (the WHATWG parser also reads `https:\\u:p@host`). */
function hasUserinfo(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '' || /^[a-z]+:[\\/]*[^\\/?#]*@/i.test(url);
  } catch {
    return false; // not a URL at all: httpUrl reports that
  }
}

const pemRefinement = (problemOf: (pem: string) => string | undefined) => (pem: string, ctx: z.RefinementCtx) => {
  const problem = problemOf(pem);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
};
const caBundle = z.string().min(1).superRefine(pemRefinement(caBundleProblem));
const certificatePem = z.string().min(1).superRefine(pemRefinement(certificateProblem));
const keyPem = z.string().min(1).superRefine(pemRefinement(tlsKeyProblem));

const tlsListenSchema = z
  .strictObject({
    cert: certificatePem.describe(`Certificate (chain) to serve: ${PEM_OR_PATH}.`),
    key: keyPem.describe(`Private key of the certificate: ${PEM_OR_PATH}.`),
  })
  .superRefine((tls, ctx) => {
    if (belongsToOtherKey(tls.cert, tls.key)) {
      ctx.addIssue({ code: 'custom', path: ['cert'], message: 'this certificate does not belong to listen.tls.key' });
    }
  });

const listenSchema = z.strictObject({
  host: z.string().min(1).default('localhost').describe('Address to listen on. localhost (the default) listens on both 127.0.0.1 and ::1, as Windows tries ::1 first; 0.0.0.0 in a container.'),
  port: z.number().int().min(0).max(65535).default(8080).describe('TCP port; 0 picks a free one.'),
  tls: tlsListenSchema.optional().describe('Serve HTTPS with this certificate and key (re-read on reload).'),
});

const userSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .regex(/^[^:]*$/, 'a Basic-auth user name cannot contain ":"')
      .describe("User name the caller sends with Basic authentication (Power BI: the Basic credential's user name)."),
    password: z.string().min(1).optional().describe('Plain password, normally ${ENV} or ${file:PATH}.'),
    passwordHash: z
      .string()
      .refine((hash) => parsePasswordHash(hash) !== undefined, 'expected a hash printed by `bearer-proxy hash-password` (scrypt$N$r$p$salt$key)')
      .optional()
      .describe('scrypt hash of the password, printed by `bearer-proxy hash-password`; instead of password.'),
  })
  .refine((user) => (user.password === undefined) !== (user.passwordHash === undefined), {
    message: 'set exactly one of password or passwordHash',
  });

const inboundSchema = z.strictObject({
  anonymous: z.enum(['loopback', 'any', 'none']).default('loopback').describe('Who may call without Basic credentials: loopback callers (default), anyone, or nobody.'),
  users: z.array(userSchema).default([]).describe('Basic-auth accounts (for the on-premises data gateway).'),
  trustForwardedHeaders: z.boolean().default(false).describe('Build links back to the proxy from X-Forwarded-Host/-Proto (only behind a reverse proxy that sets them).'),
  allowedHosts: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, 'a host name without scheme, port or path, such as proxy.corp.example')
        .transform((name) => name.toLowerCase()),
    )
    .default([])
    .describe('Host names besides localhost and IP addresses by which callers without credentials may address the proxy (a guard against DNS rebinding).'),
});

export { AUTH_METHODS } from './token-credentials.ts';

const backoffSchema = z.strictObject({
  initial: duration(1_000).describe('Wait after the first failed token fetch; doubles after each further failure.'),
  max: duration(60_000).describe('Longest wait between failed token fetches.'),
});

const managedIdentitySchema = z
  .strictObject({
    resource: z
      .string()
      .min(1)
      .describe('The API the token is for: its App ID URI or application id, such as https://storage.azure.com or api://datalake. A trailing /.default (the v2 scope form) is dropped.'),
    clientId: z.string().min(1).optional().describe('A user-assigned identity, by its client id. Unset (and no objectId/resourceId): the system-assigned identity.'),
    objectId: z.string().min(1).optional().describe('A user-assigned identity, by its object (principal) id.'),
    resourceId: z.string().min(1).optional().describe('A user-assigned identity, by its Azure resource id (/subscriptions/…/userAssignedIdentities/NAME).'),
    endpoint: httpUrl
      .refine((url) => !hasUserinfo(url), 'an endpoint cannot carry user:password@')
      .optional()
      .describe(
        'An IMDS-compatible endpoint to ask instead of the one found from the environment (tests, IMDS proxies). Unset: IDENTITY_ENDPOINT with IDENTITY_HEADER (App Service, Functions, Container Apps), ' +
          'IDENTITY_ENDPOINT with IMDS_ENDPOINT (Azure Arc), AZURE_POD_IDENTITY_AUTHORITY_HOST, else IMDS at http://169.254.169.254 (plain http by design: it never leaves the host).',
      ),
    arcKeyDirectory: z
      .string()
      .min(1)
      .optional()
      .describe('Azure Arc: the only directory whose challenge key files are read. Default: /var/opt/azcmagent/tokens, or %ProgramData%\\AzureConnectedMachineAgent\\Tokens on Windows.'),
  })
  .superRefine((identity, ctx) => {
    const named = (['clientId', 'objectId', 'resourceId'] as const).filter((key) => identity[key] !== undefined);
    if (named.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [named[1]!],
        message: `set at most one of clientId, objectId or resourceId (they name one user-assigned identity three ways): ${named.join(' and ')} are set`,
      });
    }
  });

const tokenTlsSchema = z.strictObject({
  cert: certificatePem.describe(`Client certificate presented to the token endpoint (and, with certificateBoundTokens, to upstreams): ${PEM_OR_PATH}.`),
  key: keyPem.describe(`Private key of tls.cert: ${PEM_OR_PATH}.`),
});

const jwtBearerSchema = z.strictObject({
  issuer: z.string().min(1).describe('iss of the assertion: who signs it (a Google service account’s client_email, a Salesforce connected app’s consumer key).'),
  subject: z.string().min(1).optional().describe('sub: whom the token acts for (a Salesforce user name; a Workspace user for Google domain-wide delegation). Default: the issuer.'),
  audience: z.string().min(1).optional().describe('aud of the assertion. Default: the token endpoint URL (Google); Salesforce wants https://login.salesforce.com.'),
  privateKey: z.string().min(1).describe(`Key that signs the assertion (RSA, EC or Ed25519; the algorithm follows the key): ${PEM_OR_PATH}.`),
  keyId: z.string().min(1).optional().describe('kid header (Google: the private_key_id of the service account key).'),
  claims: z.record(z.string(), z.string()).default({}).describe('Further claims of the assertion, such as { scope: … } for Google, which reads the scope from it.'),
});

const tokenSourceSchema = z
  .strictObject({
    tokenUrl: httpUrl
      .refine((url) => !hasUserinfo(url), 'a token URL cannot carry user:password@ (it would be printed by check and sent in clear to any proxy): use clientId/clientSecret')
      .optional()
      .describe('The IdP token endpoint. Set this or issuer (not with managedIdentity; azureWorkloadIdentity has a default).'),
    issuer: httpUrl
      .refine((url) => !hasUserinfo(url), 'an issuer URL cannot carry user:password@ (it would be printed by check and sent in clear to any proxy): use clientId/clientSecret')
      .optional()
      .describe('The IdP issuer; its token endpoint is found by OIDC discovery.'),
    clientId: z.string().min(1).optional().describe('The client id at the IdP (not with managedIdentity; optional with jwtBearer; azureWorkloadIdentity has a default).'),
    clientSecret: z.string().min(1).optional().describe('For client_secret_post/basic/jwt. Normally ${ENV} or ${file:PATH}, never written in plain text.'),
    privateKey: z.string().min(1).optional().describe(`For private_key_jwt: private key (RSA, EC or Ed25519), ${PEM_OR_PATH}.`),
    keyId: z.string().min(1).optional().describe('For private_key_jwt: the kid the IdP knows the key by.'),
    certificate: z.string().min(1).optional().describe(`For private_key_jwt: certificate of the key, ${PEM_OR_PATH}; its thumbprint is sent as x5t/x5t#S256 (Entra ID).`),
    clientAssertionFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'For private_key_jwt without a key: a file holding a JWT the platform signed and rotates (AKS workload identity, a projected Kubernetes service-account token, a GitHub OIDC token), ' +
          're-read for every token request and sent as the client assertion.',
      ),
    azureWorkloadIdentity: z
      .boolean()
      .default(false)
      .describe(
        'AKS workload identity: tokenUrl, clientId and clientAssertionFile default to AZURE_AUTHORITY_HOST/AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE, which the webhook sets.',
      ),
    assertionAudience: z.string().min(1).optional().describe('For private_key_jwt and client_secret_jwt: aud of the client assertion. Default: the token endpoint URL (Auth0 wants https://TENANT/).'),
    assertionAlgorithm: z.enum(SECRET_JWT_ALGORITHMS).optional().describe('For client_secret_jwt: HS256 (default), HS384 or HS512.'),
    tls: tokenTlsSchema.optional().describe('Mutual TLS to the token endpoint (RFC 8705): the client certificate for tls_client_auth or self_signed_tls_client_auth, or for certificate-bound tokens.'),
    certificateBoundTokens: z
      .boolean()
      .default(false)
      .describe('The IdP binds tokens to tls.cert (RFC 8705 §3): every route using this source presents that certificate to its upstream, which checks the binding.'),
    managedIdentity: managedIdentitySchema
      .optional()
      .describe('Azure managed identity: tokens come from the Azure platform (IMDS on a VM, the identity endpoint of App Service, Functions, Container Apps or Arc); no tokenUrl, client or secret.'),
    jwtBearer: jwtBearerSchema
      .optional()
      .describe(
        'The JWT-bearer grant (RFC 7523) instead of client_credentials: the token request carries an assertion signed with jwtBearer.privateKey (Google service accounts, Salesforce JWT flow).',
      ),
    scope: z.string().min(1).optional().describe('Sent only when set (Keycloak refuses unexpected scopes).'),
    resource: z.string().min(1).optional().describe('Sent only when set (Azure AD v1).'),
    audience: z.string().min(1).optional().describe('Sent only when set (Auth0).'),
    authMethod: z
      .enum(AUTH_METHODS)
      .optional()
      .describe(
        'How the client authenticates: client_secret_post (the default with clientSecret), client_secret_basic, client_secret_jwt, private_key_jwt (the default with privateKey or clientAssertionFile), ' +
          'tls_client_auth or self_signed_tls_client_auth (with tls), none (jwtBearer without clientSecret).',
      ),
    params: z.record(z.string(), z.string()).default({}).describe('Extra form fields for the token request.'),
    allowInsecure: z.boolean().default(false).describe('Allow an http:// IdP (tests and demos only).'),
    ca: caBundle.optional().describe(`CA certificate(s) to trust for the IdP, besides the system ones and NODE_EXTRA_CA_CERTS: ${PEM_OR_PATH}.`),
    timeout: duration(30_000).describe('How long one request to the IdP may take before it counts as failed.'),
    defaultExpiresIn: duration(3600_000).describe('Token lifetime to assume when the IdP sends no expires_in.'),
    maxLifetime: duration(DEFAULT_MAX_LIFETIME_MS).describe('Longest token lifetime believed, whatever expires_in or defaultExpiresIn say (default 24h).'),
    prefetch: z.boolean().default(false).describe('Fetch the token at startup; /readyz answers 503 until this source holds one.'),
    refreshAhead: z.number().gt(0).max(1).default(DEFAULT_REFRESH_AHEAD).describe('Renew in the background once this fraction of a token’s lifetime has passed (1 turns it off).'),
    backoff: backoffSchema.default({ ...DEFAULT_BACKOFF_MS }).describe('Waits between failed token fetches (capped doubling with jitter).'),
  })
  .superRefine((source, ctx) => {
    const endpoints = (source.tokenUrl === undefined ? 0 : 1) + (source.issuer === undefined ? 0 : 1);
    if (source.managedIdentity === undefined && (endpoints === 2 || (endpoints === 0 && !source.azureWorkloadIdentity))) {
      ctx.addIssue({ code: 'custom', message: 'set exactly one of tokenUrl or issuer' });
    }
    if (source.backoff.max < source.backoff.initial) {
      ctx.addIssue({ code: 'custom', path: ['backoff', 'max'], message: 'backoff.max must be at least backoff.initial' });
    }
    for (const key of ['tokenUrl', 'issuer'] as const) {
      const url = source[key];
      if (url !== undefined && /^http:/i.test(url) && !source.allowInsecure) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'an http:// IdP would carry the client secret in clear text: use https://, or set allowInsecure: true for tests and demos',
        });
      }
    }
  })
  // The method a source authenticates with is written down once here, so nothing after the schema guesses it.
  .transform((source) => {
    const authMethod: AuthMethod = effectiveAuthMethod(source) ?? 'client_secret_post';
    return { ...source, authMethod, ...(authMethod === 'client_secret_jwt' ? { assertionAlgorithm: source.assertionAlgorithm ?? 'HS256' } : {}) };
  });

const routeSchema = z
  .strictObject({
    target: httpUrl
      .refine((url) => !/[?#]/.test(url), 'a target cannot carry a query or fragment: the request’s own query is appended as sent (put keys in headers:)')
      .refine((url) => !hasUserinfo(url), 'a target cannot carry user:password@: it would be silently dropped (the upstream gets the bearer token; put other keys in headers:)')
      .describe('Upstream base URL; the rest of the request path and its query are appended.'),
    token: z.string().min(1).describe('Name of the token source under tokens:.'),
    timeout: duration(600_000).describe('Time to upstream response headers (default 600s, as OData.Feed).'),
    maxConnections: z
      .number()
      .int()
      .min(1)
      .max(MAX_CONNECTIONS_CEILING)
      .default(DEFAULT_MAX_CONNECTIONS)
      .describe(
        `Connections to the upstream at most (default ${DEFAULT_MAX_CONNECTIONS}); further requests wait for a free one, and one that waits longer than the route timeout gets 504 UPSTREAM_TIMEOUT without being sent. ` +
          'Routes to the same upstream host with the same TLS settings and maxConnections share their connections.',
      ),
    headers: z
      .record(
        z
          .string()
          .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid HTTP header name')
          .refine((name) => !isProxyOwnedHeader(name), 'this header is set by the proxy itself (Authorization carries the injected token) and cannot be configured'),
        z.string(),
      )
      .default({})
      .describe('Static headers added to every upstream request.'),
    rewriteUrls: z
      .boolean()
      .default(true)
      .describe('Rewrite upstream links to the proxy URL for the route: in JSON/XML bodies, multipart $batch answers and Location, Content-Location, Link headers.'),
    forwardedHeaders: z
      .union([z.boolean(), z.array(z.enum(FORWARDED_HEADERS))], { error: `expected true, false or a list of these names in lower case: ${FORWARDED_HEADERS.join(', ')}` })
      .default(true)
      .describe(
        'Headers that tell the upstream where the client reached the proxy, so it builds links back through it: true (default) sends X-Forwarded-For, -Proto, -Host, -Path, ' +
          'X-Forwarded-Prefix (only where the route prefix ends with the target path) and Forwarded; false sends none (the upstream builds links from its own host, which are rewritten); or a list of those names in lower case.',
      ),
    ca: caBundle.optional().describe(`CA certificate(s) to trust for this upstream, besides the system ones and NODE_EXTRA_CA_CERTS: ${PEM_OR_PATH}.`),
    clientCert: certificatePem.optional().describe(`Client certificate for upstream mutual TLS (with clientKey): ${PEM_OR_PATH}.`),
    clientKey: keyPem.optional().describe(`Private key of clientCert: ${PEM_OR_PATH}.`),
    allowInsecure: z.boolean().default(false).describe('Plain http:// to a host beyond this machine is meant (the token travels in clear): silences the warning at load.'),
  })
  .superRefine((route, ctx) => {
    if ((route.clientCert === undefined) !== (route.clientKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: [route.clientCert === undefined ? 'clientCert' : 'clientKey'], message: 'mutual TLS needs both clientCert and clientKey' });
    } else if (route.clientCert !== undefined && belongsToOtherKey(route.clientCert, route.clientKey!)) {
      ctx.addIssue({ code: 'custom', path: ['clientCert'], message: 'this certificate does not belong to clientKey' });
    }
  });

export const configSchema = z.strictObject({
  listen: listenSchema.default({ host: 'localhost', port: 8080 }).describe('Where the proxy listens (--host and --port override).'),
  inbound: inboundSchema
    .default({ anonymous: 'loopback', users: [], trustForwardedHeaders: false, allowedHosts: [] })
    .describe('Who may call the proxy: anonymous loopback callers by default, Basic-auth users for everyone else.'),
  tokens: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'token source names use letters, digits, _ . -'), tokenSourceSchema)
    .describe('Named token sources (OAuth2 client_credentials clients); each route names one. One token per source is fetched, cached and shared.'),
  routes: z.record(z.string(), routeSchema).describe('Path prefix (/name) → upstream. Longest whole-segment prefix wins.'),
  admin: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1').describe('Address of the admin listener (default 127.0.0.1).'),
      port: z.number().int().min(0).max(65535).describe('0 picks a free one.'),
    })
    .optional()
    .describe('A second listener for /healthz, /readyz, /metrics and /_status only; /metrics and /_status then leave the main listener.'),
  statusPage: z.enum(['loopback', 'authenticated', 'off']).default('loopback').describe('Who may open /_status: loopback callers only (default), anyone the inbound rules let in, or nobody.'),
  shutdownTimeout: duration(10_000).describe('On SIGTERM/SIGINT, how long requests in flight may take to finish before their connections are closed.'),
});

export interface CrossReferenceIssue {
  path: (string | number)[];
  message: string;
  at?: 'key' | 'value';
}

/**
 * Checks that relate one part of the file to another, and each token source's
 * credentials. Zod skips object-level refinements once any field has an issue, so these
 * run on the raw input, once, on every load: a bad token reference or a missing
 * clientSecret is reported in the same run as a typo elsewhere. The schema itself does
 * not make them, so nothing is checked (or a private key parsed) twice.
 */
export function crossReferenceIssues(input: unknown): CrossReferenceIssue[] {
  const issues: CrossReferenceIssue[] = [];
  const root = isRecord(input) ? input : {};
  const tokens = isRecord(root.tokens) ? root.tokens : {};
  const routes = isRecord(root.routes) ? root.routes : undefined;
  if (routes && Object.keys(routes).length === 0) issues.push({ path: ['routes'], message: 'define at least one route' });
  for (const [prefix, route] of Object.entries(routes ?? {})) {
    const prefixProblem = routePrefixProblem(prefix);
    if (prefixProblem) issues.push({ path: ['routes', prefix], message: prefixProblem, at: 'key' });
    const token = isRecord(route) ? route.token : undefined;
    // Own keys only: `in` would take toString or constructor for a defined source.
    if (typeof token === 'string' && !Object.hasOwn(tokens, token)) {
      const known = Object.keys(tokens);
      issues.push({
        path: ['routes', prefix, 'token'],
        message: `no token source named "${token}"${known.length ? ` (defined: ${known.join(', ')})` : ''}`,
      });
    }
    const source = typeof token === 'string' ? tokens[token] : undefined;
    if (isRecord(route) && route.clientCert !== undefined && isRecord(source) && source.certificateBoundTokens === true) {
      issues.push({
        path: ['routes', prefix, 'clientCert'],
        message: `token source "${String(token)}" has certificate-bound tokens: this route presents its tls.cert to the upstream, which checks the binding; remove clientCert and clientKey`,
      });
    }
  }
  for (const [name, source] of Object.entries(tokens)) {
    if (!isRecord(source)) continue;
    for (const issue of credentialIssues(source)) issues.push({ path: ['tokens', name, ...issue.path], message: issue.message });
  }
  const inbound = isRecord(root.inbound) ? root.inbound : {};
  const names = new Set<unknown>();
  (Array.isArray(inbound.users) ? inbound.users : []).forEach((user: unknown, index) => {
    const name = isRecord(user) ? user.name : undefined;
    if (typeof name === 'string' && names.has(name)) {
      issues.push({ path: ['inbound', 'users', index, 'name'], message: `user "${name}" is defined twice` });
    }
    names.add(name);
  });
  return issues;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type TokenSourceConfig = Config['tokens'][string];
export type RouteConfig = Config['routes'][string];
export type InboundConfig = Config['inbound'];
export type UserConfig = InboundConfig['users'][number];

function routePrefixProblem(prefix: string): string | undefined {
  if (!/^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/.test(prefix)) {
    return `route prefix "${prefix}" must look like /name or /name/sub: start with "/", no trailing "/", no empty segments, query or spaces`;
  }
  if (prefix.split('/').some((segment) => segment === '.' || segment === '..')) {
    return `route prefix "${prefix}" cannot contain "." or ".." segments`;
  }
  const reserved = RESERVED_PATHS.find((path) => prefix === path || prefix.startsWith(`${path}/`));
  if (reserved) return `route prefix "${prefix}" uses the reserved path ${reserved}`;
  return undefined;
}
