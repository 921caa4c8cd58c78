import type { TokenSourceConfig } from '../config/schema.ts';

export type ManagedIdentityConfig = NonNullable<TokenSourceConfig['managedIdentity']>;

/**
 * Where and how one Azure platform hands out managed identity tokens. All of them answer a
 * GET with the resource in the query; they differ in the header that proves the caller is
 * on the machine (IMDS's Metadata: true, App Service's secret X-IDENTITY-HEADER, Arc's
 * challenge), the API version, and how a user-assigned identity is named.
 */
export interface IdentityEndpoint {
  platform: 'IMDS' | 'App Service' | 'Azure Arc';
  url: string;
  apiVersion: string;
  headers: Record<string, string>;
  /** The query parameter for each way of naming a user-assigned identity; undefined where there are none (Arc). */
  userAssigned: { clientId: string; objectId: string; resourceId: string } | undefined;
  /** Values sent that must never be repeated (App Service's IDENTITY_HEADER). */
  secrets: string[];
}

/** The endpoint, or why this platform cannot be used. */
export type EndpointChoice = { endpoint: IdentityEndpoint } | { unsupported: string; platform: string };

export const IMDS_TOKEN_PATH = '/metadata/identity/oauth2/token';
export const IMDS_URL = `http://169.254.169.254${IMDS_TOKEN_PATH}`;

const IMDS_IDS = { clientId: 'client_id', objectId: 'object_id', resourceId: 'msi_res_id' };

/**
 * The endpoint for this machine, found as the Azure SDKs find it (azure-identity's
 * ManagedIdentityCredential, MSAL): a configured endpoint speaks the IMDS protocol; else
 * IDENTITY_ENDPOINT with IDENTITY_HEADER is App Service, Functions or Container Apps
 * (Service Fabric adds IDENTITY_SERVER_THUMBPRINT, and is not supported); IDENTITY_ENDPOINT
 * with IMDS_ENDPOINT is an Azure Arc server; AZURE_POD_IDENTITY_AUTHORITY_HOST is an IMDS
 * stand-in (AAD pod identity); anything else is a VM's IMDS.
 */
export function chooseEndpoint(identity: ManagedIdentityConfig, env: Readonly<Record<string, string | undefined>>): EndpointChoice {
  const imds = (url: string): EndpointChoice => ({
    endpoint: { platform: 'IMDS', url, apiVersion: '2018-02-01', headers: { metadata: 'true' }, userAssigned: IMDS_IDS, secrets: [] },
  });
  if (identity.endpoint) return imds(identity.endpoint);
  const identityEndpoint = env.IDENTITY_ENDPOINT;
  if (identityEndpoint && env.IDENTITY_HEADER && env.IDENTITY_SERVER_THUMBPRINT) {
    return { platform: 'Service Fabric', unsupported: 'Service Fabric managed identity (IDENTITY_SERVER_THUMBPRINT is set) is not supported: use a client credential or workload identity' };
  }
  if (identityEndpoint && env.IDENTITY_HEADER) {
    return {
      endpoint: {
        platform: 'App Service',
        url: identityEndpoint,
        apiVersion: '2019-08-01',
        headers: { 'x-identity-header': env.IDENTITY_HEADER },
        userAssigned: { clientId: 'client_id', objectId: 'principal_id', resourceId: 'mi_res_id' },
        secrets: [env.IDENTITY_HEADER],
      },
    };
  }
  if (identityEndpoint && env.IMDS_ENDPOINT) {
    return { endpoint: { platform: 'Azure Arc', url: identityEndpoint, apiVersion: '2019-11-01', headers: { metadata: 'true' }, userAssigned: undefined, secrets: [] } };
  }
  const podIdentityHost = env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
  if (podIdentityHost) return imds(`${podIdentityHost.replace(/\/+$/, '')}${IMDS_TOKEN_PATH}`);
  return imds(IMDS_URL);
}

/** The request URL for a token for the resource, as the identity is named. */
export function tokenRequestUrl(endpoint: IdentityEndpoint, identity: ManagedIdentityConfig): URL {
  const url = new URL(endpoint.url);
  url.searchParams.set('api-version', endpoint.apiVersion);
  // The v2 scope form (api://x/.default) names the same resource; IMDS wants the resource itself.
  url.searchParams.set('resource', identity.resource.replace(/\/\.default$/, ''));
  for (const key of ['clientId', 'objectId', 'resourceId'] as const) {
    const value = identity[key];
    if (value !== undefined && endpoint.userAssigned) url.searchParams.set(endpoint.userAssigned[key], value);
  }
  return url;
}

/** What check and /_status say about the identity: the platform, the endpoint, which identity (ids are not secrets). */
export function describeIdentity(identity: ManagedIdentityConfig): string {
  if (identity.clientId) return `user-assigned client id ${identity.clientId}`;
  if (identity.objectId) return `user-assigned object id ${identity.objectId}`;
  if (identity.resourceId) return `user-assigned ${identity.resourceId}`;
  return 'system-assigned';
}
