import type { TokenSourceConfig } from '../config/schema.ts';
import { chooseEndpoint, describeIdentity } from './managed-identity-endpoints.ts';

/**
 * One line about a token source for `check`: its kind, where it gets tokens, and what it
 * asks for. Names, URLs, ids and file paths only: never a secret, key or assertion.
 */
export function describeTokenSource(source: TokenSourceConfig, env: Readonly<Record<string, string | undefined>>): string {
  const asks = [source.scope && `scope ${source.scope}`, source.resource && `resource ${source.resource}`, source.audience && `audience ${source.audience}`];
  if (source.managedIdentity) {
    const identity = source.managedIdentity;
    const choice = chooseEndpoint(identity, env);
    const where = 'endpoint' in choice ? `managed identity (${choice.endpoint.platform}) at ${choice.endpoint.url}` : `managed identity (${choice.platform}): ${choice.unsupported}`;
    return join([where, describeIdentity(identity), `resource ${identity.resource}`]);
  }
  const endpoint = source.tokenUrl ?? `${source.issuer} (discovery)`;
  const client = source.clientId && `client ${source.clientId}`;
  const tls = [source.certificateBoundTokens && 'certificate-bound tokens', source.tls && !TLS_METHODS.includes(source.authMethod) && 'mutual TLS'];
  if (source.jwtBearer) {
    const bearer = source.jwtBearer;
    const auth = source.authMethod === 'none' ? [] : [client, source.authMethod];
    return join([`JWT bearer grant at ${endpoint}`, `issuer ${bearer.issuer}`, bearer.subject && `subject ${bearer.subject}`, bearer.keyId && `kid ${bearer.keyId}`, ...auth, ...tls, ...asks]);
  }
  const method =
    source.authMethod === 'client_secret_jwt'
      ? `client_secret_jwt ${source.assertionAlgorithm}`
      : source.clientAssertionFile
        ? `${source.authMethod} with the assertion in ${source.clientAssertionFile}`
        : source.authMethod;
  const line = join([endpoint, client, method, source.keyId && `kid ${source.keyId}`, source.certificate && 'with certificate thumbprint', ...tls, ...asks]);
  return source.azureWorkloadIdentity ? `Azure workload identity: ${line}` : line;
}

const TLS_METHODS: readonly string[] = ['tls_client_auth', 'self_signed_tls_client_auth'];

/** What kind of source this is, as check, token and /_status name it. */
export function describeOAuthSource(config: TokenSourceConfig): string {
  const bound = config.certificateBoundTokens ? ', certificate-bound' : '';
  if (config.jwtBearer) return `JWT bearer grant${config.authMethod === 'none' ? '' : ` (${config.authMethod})`}${bound}`;
  if (config.azureWorkloadIdentity) return `Azure workload identity (federated token file)${bound}`;
  const how = config.clientAssertionFile ? 'client assertion file' : config.authMethod === 'client_secret_jwt' ? `client_secret_jwt ${config.assertionAlgorithm}` : config.authMethod;
  return `client credentials (${how}${bound})`;
}

/** The kind of a source, as its TokenSource names it (for a worker's relayed source, which names none). */
export function sourceKind(source: TokenSourceConfig, env: Readonly<Record<string, string | undefined>>): string {
  if (!source.managedIdentity) return describeOAuthSource(source);
  const choice = chooseEndpoint(source.managedIdentity, env);
  return 'endpoint' in choice ? `managed identity (${choice.endpoint.platform})` : `managed identity (${choice.platform}, not supported)`;
}

function join(parts: Array<string | false | undefined>): string {
  return parts.filter(Boolean).join(', ');
}
