import type { Server } from '../../src/http/lifecycle.ts';
import { networkInterfaces } from 'node:os';
import { closeNow, listenOn } from '../../src/http/lifecycle.ts';

/** Listens on 127.0.0.1 and a free port; resolves with the base URL. */
export function listen(server: Server): Promise<string> {
  return listenOn(server, 0, '127.0.0.1');
}

/** Stops the server without waiting for idle keep-alive sockets to time out. */
export const closeServer = closeNow;

/**
 * An IPv4 address of this machine that is not loopback, so a test can be a remote caller
 * on real sockets. Throws rather than skipping: every machine here has one (eth0).
 */
export function externalIPv4(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry && entry.family === 'IPv4' && !entry.internal)?.address;
  if (!address) throw new Error('no non-loopback IPv4 address on this machine: the remote-client tests need one');
  return address;
}
