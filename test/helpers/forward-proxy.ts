import { createServer, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { closeServer, listen } from './listen.ts';

export interface ForwardProxy {
  url: string;
  /** host:port of every CONNECT tunnel asked for, in order. */
  readonly tunnels: string[];
  close(): Promise<void>;
}

/** A forward proxy as corporate networks have: CONNECT tunnels only, each recorded. */
export async function startForwardProxy(): Promise<ForwardProxy> {
  const tunnels: string[] = [];
  const server = createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: IncomingMessage, clientSocket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstreamSocket = connect(Number(port), host, () => {
      clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstreamSocket.write(head);
      upstreamSocket.pipe(clientSocket);
      clientSocket.pipe(upstreamSocket);
    });
    upstreamSocket.on('error', () => clientSocket.destroy());
    clientSocket.on('error', () => upstreamSocket.destroy());
  });
  const url = await listen(server);
  return { url, tunnels, close: () => closeServer(server) };
}
