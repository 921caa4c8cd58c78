import type { Server as HttpServer } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/** A plain or TLS HTTP server: the proxy serves either, the same way. */
export type Server = HttpServer | HttpsServer;

/** Starts listening and resolves with the base URL of the address actually bound (port 0 becomes a real port). */
export async function listenOn(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      // A later runtime error must not be routed into an already settled promise.
      server.off('error', reject);
      resolve();
    });
  });
  return baseUrlOf(server);
}

export function baseUrlOf(server: Server): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${server instanceof HttpsServer ? 'https' : 'http'}://${host}:${address.port}`;
}

/** Stops at once: open keep-alive and in-flight connections are closed too (test and demo servers). */
export function closeNow(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
