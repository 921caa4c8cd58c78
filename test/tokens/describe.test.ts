import t from 'tap';
import { configSchema, type TokenSourceConfig } from '../../src/config/schema.ts';
import { describeOAuthSource, describeTokenSource, sourceKind } from '../../src/tokens/describe.ts';
import { generateTestKey } from '../helpers/keys.ts';

const SECRET = 'client-secret-never-shown';
const KEY = generateTestKey('ec').privateKeyPem;
const APP_SERVICE = { IDENTITY_ENDPOINT: 'http://127.0.0.1:41741/msi/token', IDENTITY_HEADER: 'identity-header-never-shown' };

function source(input: Record<string, unknown>): TokenSourceConfig {
  const config = configSchema.parse({ tokens: { s: input }, routes: { '/r': { target: 'https://api.example.com', token: 's' } } });
  return config.tokens.s!;
}

t.test('describeTokenSource: kind, where and what, for each kind of source, never a secret or key', async (t) => {
  const cases: Array<[string, Record<string, unknown>, Record<string, string>, string]> = [
    [
      'client secret',
      { tokenUrl: 'https://login.example/token', clientId: 'app', clientSecret: SECRET, scope: 'api://x/.default' },
      {},
      'https://login.example/token, client app, client_secret_post, scope api://x/.default',
    ],
    [
      'discovery, basic',
      { issuer: 'https://login.example', clientId: 'app', clientSecret: SECRET, authMethod: 'client_secret_basic' },
      {},
      'https://login.example (discovery), client app, client_secret_basic',
    ],
    [
      'client_secret_jwt',
      { tokenUrl: 'https://login.example/token', clientId: 'app', clientSecret: SECRET, authMethod: 'client_secret_jwt' },
      {},
      'https://login.example/token, client app, client_secret_jwt HS256',
    ],
    [
      'private key',
      { tokenUrl: 'https://login.example/token', clientId: 'app', privateKey: KEY, keyId: 'k1', resource: 'https://api.example.com' },
      {},
      'https://login.example/token, client app, private_key_jwt, kid k1, resource https://api.example.com',
    ],
    [
      'assertion file',
      { tokenUrl: 'https://login.example/token', clientId: 'app', clientAssertionFile: '/var/run/secrets/token' },
      {},
      'https://login.example/token, client app, private_key_jwt with the assertion in /var/run/secrets/token',
    ],
    [
      'JWT bearer',
      { tokenUrl: 'https://oauth2.googleapis.com/token', jwtBearer: { issuer: 'sa@p.iam.gserviceaccount.com', privateKey: KEY, keyId: 'k2' } },
      {},
      'JWT bearer grant at https://oauth2.googleapis.com/token, issuer sa@p.iam.gserviceaccount.com, kid k2',
    ],
    [
      'managed identity on App Service',
      { managedIdentity: { resource: 'https://storage.azure.com', clientId: 'mi-1' } },
      APP_SERVICE,
      'managed identity (App Service) at http://127.0.0.1:41741/msi/token, user-assigned client id mi-1, resource https://storage.azure.com',
    ],
    [
      'managed identity on Service Fabric',
      { managedIdentity: { resource: 'https://storage.azure.com' } },
      { ...APP_SERVICE, IDENTITY_SERVER_THUMBPRINT: 'ab' },
      'managed identity (Service Fabric): Service Fabric managed identity (IDENTITY_SERVER_THUMBPRINT is set) is not supported: use a client credential or workload identity, system-assigned, resource https://storage.azure.com',
    ],
  ];
  for (const [name, input, env, expected] of cases) {
    const line = describeTokenSource(source(input), env);
    t.equal(line, expected, name);
    t.notMatch(line, /never-shown|PRIVATE KEY/, `${name}: nothing secret`);
  }
});

t.test('describeOAuthSource and sourceKind: the short kind that check, token and /_status show', async (t) => {
  t.equal(describeOAuthSource(source({ tokenUrl: 'https://login.example/token', clientId: 'app', clientSecret: SECRET })), 'client credentials (client_secret_post)');
  t.equal(describeOAuthSource(source({ tokenUrl: 'https://login.example/token', clientId: 'app', clientAssertionFile: '/f' })), 'client credentials (client assertion file)');
  t.equal(describeOAuthSource(source({ tokenUrl: 'https://login.example/token', jwtBearer: { issuer: 'sa', privateKey: KEY } })), 'JWT bearer grant');
  const identity = source({ managedIdentity: { resource: 'https://storage.azure.com' } });
  t.equal(sourceKind(identity, {}), 'managed identity (IMDS)');
  t.equal(sourceKind(identity, APP_SERVICE), 'managed identity (App Service)');
  t.equal(sourceKind(identity, { ...APP_SERVICE, IDENTITY_SERVER_THUMBPRINT: 'ab' }), 'managed identity (Service Fabric, not supported)');
});
