import type { Idp } from './flags.ts';

/**
 * The starter proxy.yaml `bearer-proxy init` writes, one token block per IdP (what the
 * README's IdP table says each needs). Values the user must supply per deployment are
 * ${NAME} placeholders, so `check` lists exactly what is still unset; values that only
 * need editing are valid examples marked "edit:". No secret is ever written.
 */
export interface StarterConfig {
  idpName: string;
  text: string;
  /** The environment variables the file reads, in the order they appear. */
  variables: string[];
}

interface IdpTemplate {
  name: string;
  /** Lines under tokens.api, indented by the caller. */
  token: string[];
}

const SECRET_LINES = ['clientId: ${API_CLIENT_ID}', 'clientSecret: ${API_CLIENT_SECRET}     # or ${file:/run/secrets/api_client_secret}'];

const TEMPLATES: Record<Idp, IdpTemplate> = {
  entra: {
    name: 'Entra ID (Azure AD) v2',
    token: [
      'tokenUrl: https://login.microsoftonline.com/${TENANT_ID}/oauth2/v2.0/token',
      ...SECRET_LINES,
      '# client_credentials accepts only "/.default" scopes: the API\'s Application ID URI + /.default',
      "scope: api://00000000-0000-0000-0000-000000000000/.default   # edit: your API's Application ID URI",
      '# A certificate instead of a secret (no secret to leak): drop clientSecret and set',
      '# authMethod: private_key_jwt',
      '# privateKey: ${file:api-key.pem}           # path relative to this file',
      '# certificate: ${file:api-cert.pem}         # Entra ID finds the key by its thumbprint',
    ],
  },
  'entra-v1': {
    name: 'Azure AD v1',
    token: [
      'tokenUrl: https://login.microsoftonline.com/${TENANT_ID}/oauth2/token',
      ...SECRET_LINES,
      '# v1 takes a resource instead of a scope (and sends expires_in as a string; that is handled)',
      "resource: https://api.example.com          # edit: the API's App ID URI",
    ],
  },
  okta: {
    name: 'Okta',
    token: [
      '# A custom authorization server ("default" or your own): the org server issues no custom scopes to clients',
      'issuer: https://your-org.okta.com/oauth2/default   # edit: your Okta domain and authorization server',
      ...SECRET_LINES,
      'scope: api.read                            # edit: a custom scope of that authorization server',
    ],
  },
  auth0: {
    name: 'Auth0',
    token: [
      'tokenUrl: https://your-tenant.auth0.com/oauth/token   # edit: your Auth0 (or custom) domain',
      ...SECRET_LINES,
      "# Auth0 needs the API's identifier as audience; no scope is needed",
      "audience: https://api.example.com          # edit: the API's Identifier in Auth0",
    ],
  },
  keycloak: {
    name: 'Keycloak',
    token: [
      'issuer: https://keycloak.example.com/realms/your-realm   # edit: your Keycloak host and realm',
      ...SECRET_LINES,
      '# scope: api.read   only if the client has that optional scope: Keycloak answers invalid_scope otherwise',
    ],
  },
  generic: {
    name: 'an OAuth2 identity provider',
    token: [
      'tokenUrl: https://idp.example.com/oauth2/token   # edit: the token endpoint',
      '# issuer: https://idp.example.com        # instead of tokenUrl: find the endpoint by OIDC discovery',
      ...SECRET_LINES,
      '# scope: api.read                        # each of scope, resource and audience is sent only when set',
      '# audience: https://api.example.com',
      '# authMethod: client_secret_post         # (default) | client_secret_basic | private_key_jwt',
    ],
  },
};

export function starterConfig(idp: Idp, options: { schemaRef: string; configArg: string }): StarterConfig {
  const template = TEMPLATES[idp];
  const lines = [
    `# yaml-language-server: $schema=${options.schemaRef}`,
    `# bearer-proxy configuration for ${template.name}, written by \`bearer-proxy init --idp ${idp}\`.`,
    '#',
    '# Next:',
    '#   1. Fill in the lines marked "edit:".',
    '#   2. Set the environment variables named as ${NAME} below (secrets stay out of this file;',
    '#      ${file:PATH} reads one from a file instead).',
    `#   3. bearer-proxy check${options.configArg} --fetch-tokens   validates this file and fetches one token`,
    `#   4. bearer-proxy${options.configArg}                        serves on http://localhost:8080`,
    '# Every key is described in the README, "Configuration reference", and in the JSON Schema',
    '# (bearer-proxy schema).',
    '',
    'listen:',
    '  host: localhost          # 127.0.0.1 and ::1; 0.0.0.0 in a container, where callers then need inbound.users',
    '  port: 8080',
    '',
    'inbound:',
    '  anonymous: loopback      # who may call without credentials: loopback (default) | any | none',
    '  # users:                 # Basic-auth accounts, for callers on other hosts (a gateway elsewhere)',
    '  #   - name: powerbi',
    '  #     passwordHash: ${PBI_PASSWORD_HASH}   # from: bearer-proxy hash-password',
    '',
    'tokens:',
    '  api:                     # a token source; routes name it in token:',
    ...template.token.map((line) => `    ${line}`),
    '    # prefetch: true       # fetch at startup; /readyz answers 503 until the token is there',
    '',
    'routes:',
    '  /api:                    # http://localhost:8080/api/… is forwarded to target/…',
    "    target: https://api.example.com/odata/v4   # edit: the API's base URL",
    '    token: api',
    "    # timeout: 600s        # time to the response headers (OData.Feed's own default)",
    '    # headers: { Ocp-Apim-Subscription-Key: "${APIM_KEY}" }   # static headers sent upstream',
    '',
  ];
  const text = lines.join('\n');
  return { idpName: template.name, text, variables: variablesIn(lines) };
}

/** ${NAME} references outside comments: what the file needs from the environment. */
function variablesIn(lines: readonly string[]): string[] {
  const names = lines.flatMap((line) => [...line.replace(/#.*$/, '').matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((match) => match[1]!));
  return [...new Set(names)];
}
