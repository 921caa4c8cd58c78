import { privateKeyProblem } from '../tokens/private-key.ts';
import { belongsToOtherKey, certificateProblem } from './pem.ts';

/**
 * How a token source proves who it is, checked as one concern: which keys each kind of
 * source and each client authentication method needs, which it must not have (a secret
 * that would be sent nowhere, or somewhere it should not go), and that keys and
 * certificates can be read. Runs on input the schema accepted and, when the schema refused
 * something else, on the raw input, so every problem is reported in one run.
 */

export const AUTH_METHODS = ['client_secret_post', 'client_secret_basic', 'client_secret_jwt', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** client_secret_jwt signs with the secret itself (RFC 7518 §3.2). */
export const SECRET_JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;

export interface CredentialIssue {
  path: string[];
  message: string;
}

/** A token source as written, read loosely: the checks also run on input the schema refused. */
type Source = Record<string, unknown>;

const SECRET_METHODS: readonly string[] = ['client_secret_post', 'client_secret_basic', 'client_secret_jwt'];
const TLS_METHODS: readonly string[] = ['tls_client_auth', 'self_signed_tls_client_auth'];

/**
 * The method a source authenticates with: authMethod when written; otherwise what its
 * credential implies: a JWT assertion (privateKey, clientAssertionFile, Azure workload
 * identity) is private_key_jwt, nothing at all (managed identity, a jwtBearer grant without
 * clientSecret) is none, anything else client_secret_post as before. Undefined for an
 * authMethod the schema refuses.
 */
export function effectiveAuthMethod(source: Source): AuthMethod | undefined {
  if (source.authMethod !== undefined) return AUTH_METHODS.find((method) => method === source.authMethod);
  if (source.managedIdentity !== undefined) return 'none';
  if (source.clientSecret !== undefined) return 'client_secret_post';
  if (source.jwtBearer !== undefined) return 'none';
  return hasAssertion(source) ? 'private_key_jwt' : 'client_secret_post';
}

export function credentialIssues(source: Source): CredentialIssue[] {
  if (source.managedIdentity !== undefined) return managedIdentityIssues(source);
  const method = effectiveAuthMethod(source);
  if (method === undefined) return []; // the schema reports the bad value
  const issues: CredentialIssue[] = [];
  const push = (path: string, message: string) => issues.push({ path: [path], message });
  const present = (key: string) => source[key] !== undefined;
  if (source.certificateBoundTokens === true && !present('tls')) {
    push('certificateBoundTokens', 'certificate-bound tokens (RFC 8705) are bound to the client certificate in tls: { cert, key }: set it');
  }
  if (isRecord(source.tls)) issues.push(...tlsIssues(source.tls));
  if (source.jwtBearer !== undefined) return [...issues, ...jwtBearerIssues(source, method)];

  if (!present('clientId') && source.azureWorkloadIdentity !== true) push('clientId', 'required key is missing (expected text)');
  if (source.azureWorkloadIdentity === true && method !== 'private_key_jwt') {
    push('authMethod', 'azureWorkloadIdentity sends the federated token as a client assertion (private_key_jwt): remove authMethod');
  }
  if (method !== 'client_secret_jwt' && present('assertionAlgorithm'))
    push('assertionAlgorithm', 'assertionAlgorithm is used only with authMethod: client_secret_jwt (private_key_jwt takes it from the key)');
  if (method !== 'client_secret_jwt' && method !== 'private_key_jwt' && present('assertionAudience')) {
    push('assertionAudience', 'assertionAudience is used only with authMethod: private_key_jwt or client_secret_jwt');
  }
  if (method === 'none') {
    push('authMethod', 'the client_credentials grant needs client authentication; authMethod: none is for a jwtBearer grant without a client secret');
    return issues;
  }
  if (SECRET_METHODS.includes(method)) {
    if (!present('clientSecret')) push('clientSecret', `${method} needs clientSecret (or set authMethod: private_key_jwt with privateKey or clientAssertionFile)`);
    for (const key of ['privateKey', 'keyId', 'certificate'] as const) if (present(key)) push(key, `${key} is used only with authMethod: private_key_jwt`);
    if (present('clientAssertionFile')) push('clientAssertionFile', 'clientAssertionFile is sent as a JWT client assertion (private_key_jwt): remove clientSecret and authMethod');
    return issues;
  }
  if (TLS_METHODS.includes(method)) {
    if (!present('tls')) push('authMethod', `${method} authenticates with a client certificate: set tls: { cert, key }`);
    for (const key of ['clientSecret', 'privateKey', 'keyId', 'certificate', 'clientAssertionFile'] as const) {
      if (present(key)) push(key, `${method} authenticates with tls.cert: remove ${key} so it is not sent anywhere`);
    }
    return issues;
  }
  // private_key_jwt: signed here with privateKey, or by the platform (a federated token in a file).
  if (present('clientSecret')) push('clientSecret', 'private_key_jwt signs with privateKey: remove clientSecret so it is not sent anywhere');
  const fromFile = present('clientAssertionFile') || source.azureWorkloadIdentity === true;
  if (!present('privateKey') && !fromFile) {
    push('authMethod', 'private_key_jwt needs privateKey (a PEM private key: PEM text or a path to a PEM file) or clientAssertionFile (a JWT the platform writes)');
  } else if (present('privateKey') && fromFile) {
    push('privateKey', 'set privateKey (an assertion signed here) or clientAssertionFile/azureWorkloadIdentity (one the platform signed), not both');
  } else if (typeof source.privateKey === 'string') {
    const problem = privateKeyProblem(source.privateKey);
    if (problem) push('privateKey', problem);
  }
  if (fromFile)
    for (const key of ['keyId', 'certificate'] as const) if (present(key)) push(key, `${key} names the key of an assertion signed here (privateKey); a clientAssertionFile is signed by the platform`);
  if (typeof source.certificate === 'string') {
    const problem = certificateProblem(source.certificate);
    if (problem) push('certificate', problem);
    else if (typeof source.privateKey === 'string' && belongsToOtherKey(source.certificate, source.privateKey)) push('certificate', 'this certificate does not belong to privateKey');
  }
  return issues;
}

function hasAssertion(source: Source): boolean {
  return source.privateKey !== undefined || source.clientAssertionFile !== undefined || source.azureWorkloadIdentity === true;
}

/** Keys that mean something only to an OAuth client; a managed identity has none of them. */
const NOT_FOR_MANAGED_IDENTITY: Record<string, string> = {
  tokenUrl: 'the endpoint is found from the environment (managedIdentity.endpoint overrides it)',
  issuer: 'the endpoint is found from the environment (managedIdentity.endpoint overrides it)',
  clientId: 'a user-assigned identity is managedIdentity.clientId',
  clientSecret: 'a managed identity has no secret',
  privateKey: 'a managed identity has no key',
  keyId: 'a managed identity has no key',
  certificate: 'a managed identity has no key',
  assertionAudience: 'a managed identity sends no assertion',
  assertionAlgorithm: 'a managed identity sends no assertion',
  clientAssertionFile: 'a managed identity sends no assertion',
  authMethod: 'a managed identity does no client authentication',
  tls: 'a managed identity presents no client certificate',
  jwtBearer: 'a managed identity sends no assertion',
  scope: 'the token is for managedIdentity.resource',
  resource: 'write it as managedIdentity.resource',
  audience: 'the token is for managedIdentity.resource',
};

function managedIdentityIssues(source: Source): CredentialIssue[] {
  const issues = Object.entries(NOT_FOR_MANAGED_IDENTITY)
    .filter(([key]) => source[key] !== undefined)
    .map(([key, why]) => ({ path: [key], message: `${key} is not used with managedIdentity: ${why}` }));
  if (source.azureWorkloadIdentity === true) issues.push({ path: ['azureWorkloadIdentity'], message: 'set managedIdentity or azureWorkloadIdentity, not both' });
  if (source.certificateBoundTokens === true) issues.push({ path: ['certificateBoundTokens'], message: 'managed identity tokens are not certificate-bound' });
  if (isRecord(source.params) && Object.keys(source.params).length > 0) issues.push({ path: ['params'], message: 'params are not sent to a managed identity endpoint' });
  return issues;
}

/** RFC 7523 §2.1: the assertion is the grant; the client authenticates with a secret or not at all. */
function jwtBearerIssues(source: Source, method: AuthMethod): CredentialIssue[] {
  const issues: CredentialIssue[] = [];
  const push = (path: string[], message: string) => issues.push({ path, message });
  for (const key of ['privateKey', 'keyId', 'certificate'] as const) {
    if (source[key] !== undefined) push([key], `the jwt-bearer assertion is signed with jwtBearer.privateKey: move ${key} under jwtBearer`);
  }
  if (source.clientAssertionFile !== undefined) push(['clientAssertionFile'], 'clientAssertionFile is a client assertion for client_credentials; jwtBearer signs its own');
  if (source.azureWorkloadIdentity === true) push(['azureWorkloadIdentity'], 'set jwtBearer or azureWorkloadIdentity, not both');
  if (!['none', 'client_secret_post', 'client_secret_basic'].includes(method)) {
    push(['authMethod'], 'with jwtBearer the client authenticates with clientSecret (client_secret_post or client_secret_basic) or not at all (none)');
  } else if (method === 'none' && source.clientSecret !== undefined) {
    push(['clientSecret'], 'authMethod: none sends no client secret: remove clientSecret, or set authMethod: client_secret_post');
  } else if (method !== 'none' && source.clientSecret === undefined) {
    push(['clientSecret'], `${method} needs clientSecret (or leave authMethod out: the assertion alone authenticates)`);
  }
  if (method !== 'none' && source.clientId === undefined) push(['clientId'], `${method} needs clientId`);
  const bearer = isRecord(source.jwtBearer) ? source.jwtBearer : {};
  if (typeof bearer.privateKey === 'string') {
    const problem = privateKeyProblem(bearer.privateKey);
    if (problem) push(['jwtBearer', 'privateKey'], problem);
  }
  return issues;
}

function tlsIssues(tls: Record<string, unknown>): CredentialIssue[] {
  if (typeof tls.cert !== 'string' || typeof tls.key !== 'string') return [];
  return belongsToOtherKey(tls.cert, tls.key) ? [{ path: ['tls', 'cert'], message: 'this certificate does not belong to tls.key' }] : [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
