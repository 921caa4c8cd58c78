import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProxyError } from '../errors.ts';
import { sendJson, sendText } from '../http/respond.ts';
import { sourcesWithoutToken, type ServingState } from '../proxy/serving-state.ts';
import type { ProxyMetrics } from './metrics.ts';
import type { ReservedPath } from './reserved-paths.ts';

/** What the admin endpoints read of the running proxy besides the serving state. */
export interface AdminServices {
  readonly metrics: ProxyMetrics;
  /** The /_status page for a state, rendered. */
  statusPage(state: ServingState): string;
}

export interface AdminRequest {
  req: IncomingMessage;
  res: ServerResponse;
  state: ServingState;
  loopback: boolean;
}

export interface AdminEndpoint {
  /** Answered before inbound authentication: probes and load balancers carry no credentials. */
  readonly beforeAuth: boolean;
  /** With an admin listener configured, served there only, and no longer on the main listener. */
  readonly movesToAdminListener: boolean;
  answer(request: AdminRequest, services: AdminServices): void | Promise<void>;
}

const NO_STORE = { 'cache-control': 'no-store' };

/** Every reserved path and how it is answered; the type demands one entry per reserved path. */
export const ADMIN_ENDPOINTS: { readonly [P in ReservedPath]: AdminEndpoint } = {
  '/healthz': {
    beforeAuth: true,
    movesToAdminListener: false,
    answer: ({ req, res }) => sendJson(res, 200, { status: 'ok' }, { method: req.method, headers: NO_STORE }),
  },
  '/readyz': {
    beforeAuth: true,
    movesToAdminListener: false,
    async answer({ req, res, state }) {
      const missing = await sourcesWithoutToken(state);
      const body = missing.length === 0 ? { status: 'ready' } : { status: 'waiting for tokens', tokenSources: missing };
      sendJson(res, missing.length === 0 ? 200 : 503, body, { method: req.method, headers: NO_STORE });
    },
  },
  // Metrics ask for the same credentials as the routes: a scraper off the host sends Basic.
  '/metrics': {
    beforeAuth: false,
    movesToAdminListener: true,
    async answer({ req, res }, { metrics }) {
      sendText(res, 200, metrics.registry.contentType, await metrics.registry.metrics(), { method: req.method, headers: NO_STORE });
    },
  },
  '/_status': {
    beforeAuth: false,
    movesToAdminListener: true,
    answer({ req, res, state, loopback }, services) {
      const access = state.config.statusPage;
      if (access === 'off') throw new ProxyError('NO_ROUTE', '/_status is switched off (statusPage: off).');
      if (access === 'loopback' && !loopback) throw new ProxyError('NO_ROUTE', '/_status is shown to loopback callers only (statusPage: loopback).');
      sendText(res, 200, 'text/html; charset=utf-8', services.statusPage(state), { method: req.method, headers: NO_STORE });
    },
  },
};

export function adminEndpoint(path: string): AdminEndpoint | undefined {
  return Object.hasOwn(ADMIN_ENDPOINTS, path) ? ADMIN_ENDPOINTS[path as ReservedPath] : undefined;
}
