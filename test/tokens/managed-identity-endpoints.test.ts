import t from 'tap';
import { chooseEndpoint, describeIdentity, IMDS_URL, tokenRequestUrl, type IdentityEndpoint, type ManagedIdentityConfig } from '../../src/tokens/managed-identity-endpoints.ts';

const SYSTEM: ManagedIdentityConfig = { resource: 'https://storage.azure.com/.default' };

function endpointOf(env: Record<string, string>, identity: ManagedIdentityConfig = SYSTEM): IdentityEndpoint {
  const choice = chooseEndpoint(identity, env);
  if (!('endpoint' in choice)) throw new Error(`unsupported: ${choice.unsupported}`);
  return choice.endpoint;
}

t.test('the platform is found from the environment as the Azure SDKs find it', async (t) => {
  t.match(endpointOf({}), { platform: 'IMDS', url: IMDS_URL, headers: { metadata: 'true' }, secrets: [] }, 'nothing set: a VM');
  t.match(
    endpointOf({ IDENTITY_ENDPOINT: 'http://127.0.0.1:41741/msi/token', IDENTITY_HEADER: 'app-service-secret' }),
    { platform: 'App Service', url: 'http://127.0.0.1:41741/msi/token', apiVersion: '2019-08-01', headers: { 'x-identity-header': 'app-service-secret' }, secrets: ['app-service-secret'] },
    'App Service, Functions, Container Apps: the header is a secret never to repeat',
  );
  t.match(endpointOf({ IDENTITY_ENDPOINT: 'http://localhost:40342/metadata/identity/oauth2/token', IMDS_ENDPOINT: 'http://localhost:40342' }), {
    platform: 'Azure Arc',
    apiVersion: '2019-11-01',
    userAssigned: undefined,
  });
  t.equal(
    endpointOf({ AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://10.0.0.9:2579//' }).url,
    'http://10.0.0.9:2579/metadata/identity/oauth2/token',
    'pod identity: an IMDS stand-in, trailing slashes dropped',
  );
  t.equal(
    endpointOf({ IDENTITY_ENDPOINT: 'http://x', IDENTITY_HEADER: 'h' }, { ...SYSTEM, endpoint: 'http://127.0.0.1:9999/token' }).url,
    'http://127.0.0.1:9999/token',
    'a configured endpoint wins, and speaks IMDS',
  );
  const fabric = chooseEndpoint(SYSTEM, { IDENTITY_ENDPOINT: 'https://x', IDENTITY_HEADER: 'h', IDENTITY_SERVER_THUMBPRINT: 'ab' });
  t.match(fabric, { platform: 'Service Fabric', unsupported: /not supported: use a client credential or workload identity/ });
});

t.test('the token request: api-version, the resource without /.default, and the user-assigned identity as each platform names it', async (t) => {
  const imds = endpointOf({});
  const appService = endpointOf({ IDENTITY_ENDPOINT: 'http://127.0.0.1:41741/msi/token', IDENTITY_HEADER: 'h' });
  const arc = endpointOf({ IDENTITY_ENDPOINT: 'http://localhost:40342/metadata/identity/oauth2/token', IMDS_ENDPOINT: 'http://localhost:40342' });
  const query = (endpoint: IdentityEndpoint, identity: ManagedIdentityConfig) => Object.fromEntries(tokenRequestUrl(endpoint, identity).searchParams);
  t.same(query(imds, SYSTEM), { 'api-version': '2018-02-01', resource: 'https://storage.azure.com' });
  t.same(query(imds, { resource: 'api://datalake', clientId: 'c1' }), { 'api-version': '2018-02-01', resource: 'api://datalake', client_id: 'c1' });
  t.same(query(imds, { resource: 'api://datalake', objectId: 'o1' }).object_id, 'o1');
  t.same(query(imds, { resource: 'api://datalake', resourceId: '/subscriptions/s/x' }).msi_res_id, '/subscriptions/s/x');
  t.same(
    query(appService, { resource: 'api://datalake', objectId: 'o1' }),
    { 'api-version': '2019-08-01', resource: 'api://datalake', principal_id: 'o1' },
    'App Service calls the object id principal_id',
  );
  t.same(query(appService, { resource: 'api://datalake', resourceId: '/subscriptions/s/x' }).mi_res_id, '/subscriptions/s/x');
  t.same(query(arc, { resource: 'api://datalake', clientId: 'c1' }), { 'api-version': '2019-11-01', resource: 'api://datalake' }, 'Arc has only the system-assigned identity: no id is sent');
  t.equal(tokenRequestUrl(imds, SYSTEM).origin + tokenRequestUrl(imds, SYSTEM).pathname, IMDS_URL, 'the endpoint path kept');
});

t.test('describeIdentity names the identity, never anything secret', async (t) => {
  t.equal(describeIdentity(SYSTEM), 'system-assigned');
  t.equal(describeIdentity({ ...SYSTEM, clientId: 'c1' }), 'user-assigned client id c1');
  t.equal(describeIdentity({ ...SYSTEM, objectId: 'o1' }), 'user-assigned object id o1');
  t.equal(describeIdentity({ ...SYSTEM, resourceId: '/subscriptions/s/x' }), 'user-assigned /subscriptions/s/x');
});
