/**
 * The paths the proxy answers itself. They cannot be route prefixes; admin/endpoints.ts
 * holds the handler of each, and its type makes sure there is one for every path here.
 */
export const RESERVED_PATHS = ['/healthz', '/readyz', '/metrics', '/_status'] as const;

export type ReservedPath = (typeof RESERVED_PATHS)[number];
