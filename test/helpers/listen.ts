import type { Server } from 'node:http';
import { closeNow, listenOn } from '../../src/http/lifecycle.ts';

/** Listens on 127.0.0.1 and a free port; resolves with the base URL. */
export function listen(server: Server): Promise<string> {
  return listenOn(server, 0, '127.0.0.1');
}

/** Stops the server without waiting for idle keep-alive sockets to time out. */
export const closeServer = closeNow;
