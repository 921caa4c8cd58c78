import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { RecentErrors } from '../admin/recent-errors.ts';
import type { Config } from '../config/schema.ts';
import type { ProxyError } from '../errors.ts';
import { closeNow, listenOn, type Server } from '../http/lifecycle.ts';
import type { Logger } from '../log/logger.ts';
import { answerClientError, refuseConnect } from './client-errors.ts';
import type { ListenerRole, RequestListener } from './handler.ts';

type ListenTls = Config['listen']['tls'];

/** The sockets the proxy serves on: the main listener (one server per address) and the optional admin listener. */
export interface Listeners {
  /** The main listener's servers, once listening: `localhost` is two, 127.0.0.1 and ::1. */
  readonly main: readonly Server[];
  readonly admin: Server | undefined;
  /** Resolves with the main listener's base URL. */
  listen(port: number, host: string): Promise<string>;
  /** Resolves with the admin listener's base URL (when configured). */
  listenAdmin(): Promise<string | undefined>;
  /** A renewed certificate takes effect for new connections; switching HTTPS on or off takes a restart. */
  applyTls(before: ListenTls, after: ListenTls): void;
  closeIdleConnections(role: ListenerRole): void;
  /** Stops accepting and closes keep-alive sockets as they go idle; after drainTimeoutMs, what is still open is closed. */
  close(drainTimeoutMs: number | undefined): Promise<void>;
}

/**
 * Windows resolves `localhost` to ::1 first, and Power BI users type `localhost`: a proxy
 * on 127.0.0.1 alone would make every such request wait for the IPv4 fallback, or fail.
 */
const LOCALHOST_ADDRESSES = ['127.0.0.1', '::1'];

export function createListeners(config: Config, onRequest: (role: ListenerRole) => RequestListener, logger: Logger, recentErrors: RecentErrors): Listeners {
  const tls = config.listen.tls;
  const refused = (refusal: ProxyError | undefined): void => {
    if (!refusal) return;
    recentErrors.record(refusal.code);
    logger.info({ error: { code: refusal.code, message: refusal.message } }, 'request refused before it was parsed');
  };
  const makeServer = (role: ListenerRole, withTls: ListenTls): Server => serverFor(onRequest(role), withTls, refused);
  let main: Server[] = [];
  // The admin listener serves only the reserved endpoints, on its own address (say, a port only the monitoring network reaches).
  const admin = config.admin ? makeServer('admin', undefined) : undefined;
  const all = () => [...main, ...(admin?.listening ? [admin] : [])];

  return {
    get main() {
      return main;
    },
    admin,
    async listen(port, host) {
      const addresses = host === 'localhost' ? LOCALHOST_ADDRESSES : [host];
      const servers = addresses.map(() => makeServer('main', tls));
      try {
        const url = await listenOn(servers[0]!, port, addresses[0]!);
        const boundPort = Number(new URL(url).port);
        for (let i = 1; i < servers.length; i++) await listenBesides(servers[i]!, boundPort, addresses[i]!, logger);
        main = servers.filter((server) => server.listening);
        return host === 'localhost' ? url.replace(addresses[0]!, 'localhost') : url;
      } catch (error) {
        await Promise.all(servers.filter((server) => server.listening).map(closeNow));
        throw error;
      }
    },
    async listenAdmin() {
      return admin && config.admin ? listenOn(admin, config.admin.port, config.admin.host) : undefined;
    },
    applyTls: (before, after) => applyTlsChange(main, before, after, logger),
    closeIdleConnections(role) {
      for (const server of role === 'admin' ? [admin] : main) server?.closeIdleConnections();
    },
    close: (drainTimeoutMs) => drain(all(), drainTimeoutMs, logger),
  };
}

function serverFor(onRequest: RequestListener, tls: ListenTls, refused: (refusal: ProxyError | undefined) => void): Server {
  const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest) : createServer(onRequest);
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => refused(answerClientError(error, socket)));
  server.on('connect', (_req: IncomingMessage, socket) => refused(refuseConnect(socket)));
  return server;
}

function applyTlsChange(main: readonly Server[], before: ListenTls, after: ListenTls, logger: Logger): void {
  if (after && main.every((server) => server instanceof HttpsServer)) {
    if (after.cert === before?.cert && after.key === before?.key) return;
    for (const server of main as HttpsServer[]) server.setSecureContext({ cert: after.cert, key: after.key });
    logger.info('listen.tls: new certificate in use for new connections');
  } else if (Boolean(after) !== Boolean(before)) {
    logger.warn('listen.tls was added or removed: switching between HTTP and HTTPS takes a restart');
  }
}

async function drain(listeners: readonly Server[], drainTimeoutMs: number | undefined, logger: Logger): Promise<void> {
  const forced =
    drainTimeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          logger.warn({ shutdownTimeoutMs: drainTimeoutMs }, 'shutdownTimeout passed: closing the connections still open');
          for (const listener of listeners) listener.closeAllConnections();
        }, drainTimeoutMs).unref();
  await Promise.all(
    listeners.map(
      (listener) =>
        new Promise<void>((resolve) => {
          listener.close(() => resolve());
          listener.closeIdleConnections();
        }),
    ),
  );
  clearTimeout(forced);
}

/** The second loopback address, on the first one's port; a machine without IPv6 keeps the IPv4 listener alone. */
async function listenBesides(server: Server, port: number, address: string, logger: Logger): Promise<void> {
  try {
    await listenOn(server, port, address);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EADDRNOTAVAIL' && code !== 'EAFNOSUPPORT') throw error;
    logger.info({ address, code }, `not listening on ${address}: this machine has no such address`);
  }
}
