import type { KeyPath } from './positions.ts';

/**
 * The variables the AKS workload identity webhook (and azure-identity's
 * WorkloadIdentityCredential) uses, and the token source key each one fills.
 */
const FILLED = [
  { key: 'clientId', variable: 'AZURE_CLIENT_ID' },
  { key: 'clientAssertionFile', variable: 'AZURE_FEDERATED_TOKEN_FILE' },
] as const;

const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com/';

export interface WorkloadIdentityProblem {
  path: KeyPath;
  message: string;
}

/**
 * `azureWorkloadIdentity: true`: fills tokenUrl, clientId and clientAssertionFile from the
 * environment where the file leaves them out (what it says wins), in the raw input before
 * the schema reads it, so the schema checks the values and the rest of the program sees an
 * ordinary client-assertion source. A variable that is missing is a problem at the
 * azureWorkloadIdentity key, named as ${NAME} references are.
 */
export function applyWorkloadIdentityDefaults(raw: unknown, env: Readonly<Record<string, string | undefined>>): WorkloadIdentityProblem[] {
  const problems: WorkloadIdentityProblem[] = [];
  const tokens = isRecord(raw) && isRecord(raw.tokens) ? raw.tokens : {};
  for (const [name, source] of Object.entries(tokens)) {
    if (!isRecord(source) || source.azureWorkloadIdentity !== true) continue;
    const missing: string[] = [];
    const read = (variable: string): string | undefined => {
      const value = env[variable];
      if (value === undefined || value === '') missing.push(variable);
      return value || undefined;
    };
    if (source.tokenUrl === undefined && source.issuer === undefined) {
      const tenant = read('AZURE_TENANT_ID');
      const host = env.AZURE_AUTHORITY_HOST || DEFAULT_AUTHORITY_HOST;
      if (tenant) source.tokenUrl = `${host.replace(/\/*$/, '/')}${encodeURIComponent(tenant)}/oauth2/v2.0/token`;
    }
    for (const { key, variable } of FILLED) {
      if (source[key] !== undefined) continue;
      const value = read(variable);
      if (value) source[key] = value;
    }
    if (missing.length > 0) {
      problems.push({
        path: ['tokens', name, 'azureWorkloadIdentity'],
        message: `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set (the AKS workload identity webhook sets them in pods labelled azure.workload.identity/use: "true"); set them, or write the keys they fill`,
      });
    }
  }
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
