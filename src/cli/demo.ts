import { randomBytes } from 'node:crypto';
import { configSchema } from '../config/schema.ts';
import { startDemoIssuer } from '../demo/issuer.ts';
import { startSampleODataService } from '../demo/odata-service.ts';
import { createLogger } from '../log/logger.ts';
import { createProxyServer, type ProxyServer } from '../proxy/server.ts';
import { logOutput, parsePort, type SignalSubscriber } from './serve.ts';
import { packageVersion, print, UsageError, type CliIo } from './io.ts';

export interface DemoOptions {
  port?: string;
  /** Run the self-check and exit instead of serving until interrupted. */
  once?: boolean;
}

const DEMO_CLIENT_ID = 'demo-client';
const DEMO_AUDIENCE = 'https://sample-odata.bearer-proxy.local';
const PREFERRED_PORT = 8080;

/**
 * The whole product on one machine, offline: a token issuer, an OData service that
 * refuses requests without its issuer's token, and the proxy between them. A self-check
 * proves the token was injected and the paging links lead back through the proxy.
 */
export async function demo(io: CliIo, options: DemoOptions, onSignal: SignalSubscriber): Promise<number> {
  const clientSecret = randomBytes(24).toString('base64url');
  const issuer = await startDemoIssuer({ clientId: DEMO_CLIENT_ID, clientSecret, audience: DEMO_AUDIENCE });
  const service = await startSampleODataService({ verifyAccessToken: (token) => issuer.verifyAccessToken(token) });
  const config = configSchema.parse({
    listen: { host: 'localhost', port: PREFERRED_PORT },
    tokens: { demo: { tokenUrl: issuer.tokenUrl, clientId: DEMO_CLIENT_ID, clientSecret, allowInsecure: true } },
    routes: { '/demo': { target: service.url, token: 'demo' } },
  });
  const logger = createLogger({ level: 'warn', ...logOutput(io, undefined) });
  const proxy = createProxyServer(config, { logger, version: packageVersion() });
  const shutdown = async (): Promise<void> => {
    await proxy.close();
    await service.close();
    await issuer.close();
  };

  try {
    const url = await listenPreferring(proxy, options.port === undefined ? PREFERRED_PORT : parsePort(options.port), options.port === undefined, io);
    const out = io.stdout;
    print(out, 'bearer-proxy demo: everything runs on this machine; nothing leaves it.');
    print(out);
    print(out, `  token issuer   ${issuer.tokenUrl}  (client_credentials, client "${DEMO_CLIENT_ID}")`);
    print(out, `  OData service  ${service.url}  (answers 401 without a token from that issuer)`);
    print(out, `  proxy          ${url}/demo  →  the OData service, token injected`);
    print(out);
    print(out, 'Self-check through the proxy:');
    const passed = await selfCheck(io, url, service.url, () => issuer.tokensIssued);
    if (!passed) return 1;
    if (options.once) return 0;

    print(out);
    print(out, 'Try it:');
    print(out, `  curl '${url}/demo/People?$top=3'`);
    print(out, `  Power BI Desktop: Get Data → OData feed → ${url}/demo/   (credentials: Anonymous)`);
    print(out, `  Power Query M:    = OData.Feed("${url}/demo/")`);
    print(out);
    print(out, 'Requests are logged below. Press Ctrl+C to stop.');
    logger.level = 'info';
    await new Promise<void>((resolve) => onSignal(() => resolve(), ['SIGINT', 'SIGTERM']));
    return 0;
  } finally {
    await shutdown();
  }
}

async function listenPreferring(proxy: ProxyServer, port: number, fallBack: boolean, io: CliIo): Promise<string> {
  try {
    return await proxy.listen(port, 'localhost');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    if (!fallBack) throw new UsageError(`port ${port} is already in use: pass another with --port`, 1);
    print(io.stderr, `port ${port} is in use; the demo takes a free port instead`);
    return proxy.listen(0, 'localhost');
  }
}

interface ODataPage {
  value?: Array<Record<string, unknown>>;
  '@odata.nextLink'?: string;
}

async function selfCheck(io: CliIo, proxyBase: string, serviceUrl: string, tokensIssued: () => number): Promise<boolean> {
  const out = io.stdout;
  const fail = (message: string): false => {
    print(out, `  ✗ ${message}`);
    return false;
  };

  const direct = await fetch(`${serviceUrl}/People`);
  await direct.arrayBuffer();
  if (direct.status !== 401) return fail(`the OData service answered ${direct.status} without a token; it should refuse`);
  print(out, `  ✓ GET ${serviceUrl}/People without the proxy → 401: the service needs a token`);

  let next: string | undefined = `${proxyBase}/demo/People`;
  let pages = 0;
  let rows = 0;
  while (next) {
    if (!next.startsWith(`${proxyBase}/demo/`)) return fail(`@odata.nextLink leaves the proxy: ${next}`);
    const response = await fetch(next);
    const body = (await response.json()) as ODataPage;
    if (response.status !== 200) return fail(`GET ${next} → ${response.status}: ${JSON.stringify(body)}`);
    pages++;
    rows += body.value?.length ?? 0;
    if (pages === 1) print(out, `  ✓ GET ${next} → 200, ${body.value?.length ?? 0} rows, the token was injected and verified by the service`);
    next = body['@odata.nextLink'];
    if (pages === 1 && next) print(out, `  ✓ @odata.nextLink → ${next}  (rewritten to point at the proxy)`);
    if (pages > 100) return fail('more than 100 pages: the nextLinks loop');
  }
  print(out, `  ✓ followed every page: ${rows} people in ${pages} pages, ${tokensIssued()} token request${tokensIssued() === 1 ? '' : 's'} at the issuer`);
  return true;
}
