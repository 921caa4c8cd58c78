import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 and a free port; resolves with the base URL. */
export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => reject(error);
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      // A later runtime error must not be routed into an already settled promise.
      server.off('error', fail);
      resolve();
    });
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Stops the server without waiting for idle keep-alive sockets to time out. */
export async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    // close() reports ERR_SERVER_NOT_RUNNING on a second call; a double close is not a test failure.
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
