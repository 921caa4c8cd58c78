import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { schemaReference } from '../../src/cli/init.ts';
import { IDPS } from '../../src/cli/flags.ts';
import { starterConfig } from '../../src/cli/starter-config.ts';
import { ConfigError, parseConfig } from '../../src/config/load.ts';

const options = { schemaRef: './proxy.schema.json', configArg: '' };

t.test("every IdP's starter file is valid once its variables are set", async (t) => {
  for (const idp of IDPS) {
    const starter = starterConfig(idp, options);
    t.ok(starter.variables.includes('API_CLIENT_ID') && starter.variables.includes('API_CLIENT_SECRET'), `${idp}: client id and secret from the environment`);
    const env = Object.fromEntries(starter.variables.map((name) => [name, `value-of-${name}`]));
    const { config, warnings } = parseConfig(starter.text, { env, source: `${idp}.yaml` });
    t.same(warnings, [], `${idp}: no plain-text secret warning`);
    t.equal(config.tokens.api?.clientSecret, 'value-of-API_CLIENT_SECRET', `${idp}: the secret comes from the environment`);
    t.ok(config.routes['/api'], `${idp}: one route`);
    t.equal(starter.text.split('\n')[0], '# yaml-language-server: $schema=./proxy.schema.json', `${idp}: the schema line comes first`);
  }
});

t.test("what each IdP needs (the README's IdP table)", async (t) => {
  const parsed = (idp: (typeof IDPS)[number]) => {
    const starter = starterConfig(idp, options);
    return parseConfig(starter.text, { env: Object.fromEntries(starter.variables.map((name) => [name, 'x'])) }).config.tokens.api!;
  };
  t.match(parsed('entra'), { tokenUrl: 'https://login.microsoftonline.com/x/oauth2/v2.0/token', scope: /\/\.default$/ });
  t.match(parsed('entra-v1'), { tokenUrl: 'https://login.microsoftonline.com/x/oauth2/token', resource: /^https:/, scope: undefined });
  t.match(parsed('okta'), { issuer: /^https:\/\/.*\.okta\.com\/oauth2\/default$/, scope: /\S/ });
  t.match(parsed('auth0'), { tokenUrl: /auth0\.com\/oauth\/token$/, audience: /^https:/, scope: undefined });
  t.match(parsed('keycloak'), { issuer: /\/realms\//, scope: undefined });
  t.match(parsed('generic'), { tokenUrl: /^https:/, authMethod: 'client_secret_post' });
});

t.test('without the variables, the only problems are the unset variables', async (t) => {
  for (const idp of IDPS) {
    const starter = starterConfig(idp, options);
    const error = t.throws(() => parseConfig(starter.text, { env: {} })) as ConfigError;
    t.type(error, ConfigError);
    t.same(
      error.problems.map((problem) => problem.message),
      starter.variables.map((name) => `environment variable ${name} is not set`),
      `${idp}: ${starter.variables.join(', ')}`,
    );
  }
});

t.test("the schema line points at proxy.schema.json beside the file, else at the package's copy", async (t) => {
  const dir = t.testdir({ beside: { 'proxy.schema.json': '{}' }, package: { 'proxy.schema.json': '{}' }, elsewhere: {} });
  const packaged = join(dir, 'package', 'proxy.schema.json');
  t.equal(schemaReference(join(dir, 'beside'), packaged), './proxy.schema.json', 'the one beside the config wins');
  t.equal(schemaReference(join(dir, 'elsewhere'), packaged), '../package/proxy.schema.json', 'relative to the config file');
  mkdirSync(join(dir, 'package', 'etc'));
  writeFileSync(join(dir, 'package', 'etc', 'x'), '');
  t.equal(schemaReference(join(dir, 'package', 'etc'), packaged), '../proxy.schema.json');
  t.equal(schemaReference(dir, packaged), './package/proxy.schema.json', 'always a path the language server reads as relative');
  t.equal(schemaReference(join(dir, 'elsewhere'), join(dir, 'missing.json')), './proxy.schema.json', 'none anywhere: where `bearer-proxy schema >` puts it');
});
