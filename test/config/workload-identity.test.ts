import t from 'tap';
import { ConfigError, formatProblem, parseConfig } from '../../src/config/load.ts';
import { applyWorkloadIdentityDefaults } from '../../src/config/workload-identity.ts';

// azureWorkloadIdentity: true takes what the AKS webhook puts in the pod's environment.

const WEBHOOK_ENV = {
  AZURE_CLIENT_ID: '1b2c3d4e-0000-4000-8000-00000000abcd',
  AZURE_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token',
  AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.com/',
};

const file = (extra = '') => `tokens:
  lake:
    azureWorkloadIdentity: true
    scope: api://datalake/.default
${extra}routes:
  /sales: { target: https://api.example.com/odata, token: lake }
`;

t.test('the webhook’s variables fill tokenUrl, clientId and the federated token file', async (t) => {
  const { config } = parseConfig(file(), { env: WEBHOOK_ENV });
  t.match(config.tokens.lake, {
    tokenUrl: `https://login.microsoftonline.com/${WEBHOOK_ENV.AZURE_TENANT_ID}/oauth2/v2.0/token`,
    clientId: WEBHOOK_ENV.AZURE_CLIENT_ID,
    clientAssertionFile: WEBHOOK_ENV.AZURE_FEDERATED_TOKEN_FILE,
    authMethod: 'private_key_jwt',
    scope: 'api://datalake/.default',
  });
  const sovereign = parseConfig(file(), { env: { ...WEBHOOK_ENV, AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.us' } }).config.tokens.lake!;
  t.equal(sovereign.tokenUrl, `https://login.microsoftonline.us/${WEBHOOK_ENV.AZURE_TENANT_ID}/oauth2/v2.0/token`, 'AZURE_AUTHORITY_HOST names the cloud, with or without its slash');
  const { AZURE_AUTHORITY_HOST: _unset, ...withoutHost } = WEBHOOK_ENV;
  t.match(parseConfig(file(), { env: withoutHost }).config.tokens.lake, { tokenUrl: /^https:\/\/login\.microsoftonline\.com\// }, 'the public cloud without it');
});

t.test('what the file says wins over the environment', async (t) => {
  const { config } = parseConfig(file('    clientId: from-the-file\n    tokenUrl: https://idp.example.com/token\n'), { env: WEBHOOK_ENV });
  t.match(config.tokens.lake, { clientId: 'from-the-file', tokenUrl: 'https://idp.example.com/token', clientAssertionFile: WEBHOOK_ENV.AZURE_FEDERATED_TOKEN_FILE });
});

t.test('missing variables are one problem at the key, naming each', async (t) => {
  let error: unknown;
  try {
    parseConfig(file(), { env: { AZURE_TENANT_ID: 't' }, source: 'proxy.yaml' });
  } catch (caught) {
    error = caught;
  }
  t.ok(error instanceof ConfigError);
  const lines = (error as ConfigError).problems.map((problem) => formatProblem('proxy.yaml', problem));
  t.same(lines.length, 1, 'nothing else is reported for the keys they would have filled');
  t.match(lines[0], /^proxy\.yaml:3:5 tokens\.lake\.azureWorkloadIdentity: AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE are not set \(the AKS workload identity webhook sets them/);
});

t.test('an http:// authority host is refused like any http:// IdP', async (t) => {
  t.throws(() => parseConfig(file(), { env: { ...WEBHOOK_ENV, AZURE_AUTHORITY_HOST: 'http://127.0.0.1:9/' } }), /tokens\.lake\.tokenUrl: an http:\/\/ IdP would carry/);
  t.ok(parseConfig(file('    allowInsecure: true\n'), { env: { ...WEBHOOK_ENV, AZURE_AUTHORITY_HOST: 'http://127.0.0.1:9/' } }), 'unless allowInsecure says it is a test');
});

t.test('sources without the flag, and input that is no config, are left alone', async (t) => {
  const raw = { tokens: { a: { tokenUrl: 'https://x/t' }, b: 'junk', c: { azureWorkloadIdentity: 'yes' } } };
  t.same(applyWorkloadIdentityDefaults(raw, WEBHOOK_ENV), []);
  t.same(raw, { tokens: { a: { tokenUrl: 'https://x/t' }, b: 'junk', c: { azureWorkloadIdentity: 'yes' } } });
  for (const nothing of [null, 42, [], { tokens: [] }]) t.same(applyWorkloadIdentityDefaults(nothing, WEBHOOK_ENV), []);
});
