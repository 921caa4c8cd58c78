import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProxyError } from '../errors.ts';

/**
 * Request bodies of known length up to this size are read into memory, so a request the
 * upstream refused for its token can be sent again (an OData $batch is such a POST).
 * Larger or chunked bodies stream through and are not replayed.
 */
export const REPLAY_BODY_LIMIT = 1024 * 1024;

/** All bodies held for replay at once, across requests: past it, bodies stream (not replayable). */
export const REPLAY_BUDGET_BYTES = 32 * 1024 * 1024;

/** A body being read for replay that sends nothing for this long is cut off (408). */
export const BODY_IDLE_TIMEOUT_MS = 30_000;

export type UpstreamBody = Buffer | IncomingMessage | null;

export interface ReadBody {
  /** null for no body, a Buffer when held for replay, else the request stream itself. */
  body: UpstreamBody;
  /** Gives the bytes held back to the budget; call once the exchange is over. */
  release: () => void;
}

/**
 * Reads request bodies for replay within a total budget, one per server. Without one,
 * 150 connections that each announced 1 MB and sent a little held 150 MB for Node's
 * 300 s request timeout. Now all held bodies together stay under totalBytes, one that stalls
 * for idleTimeoutMs is answered 408 and its connection closed, and a body that does not fit
 * streams through as any large one does: forwarded, only not replayable after a 401.
 */
/** A request without a body: nothing held, nothing to release (most requests, every OData GET). */
export const NO_BODY: ReadBody = { body: null, release: () => undefined };

/** Neither framing header: HTTP/1.1 says there is no body (RFC 9112 §6.3). */
export function hasNoBody(req: IncomingMessage): boolean {
  return req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
}

export class ReplayBuffers {
  #inUse = 0;

  constructor(
    readonly totalBytes = REPLAY_BUDGET_BYTES,
    readonly idleTimeoutMs = BODY_IDLE_TIMEOUT_MS,
  ) {}

  /** Bytes reserved by bodies being read or held now. */
  get inUse(): number {
    return this.#inUse;
  }

  async read(req: IncomingMessage, res: ServerResponse): Promise<ReadBody> {
    if (hasNoBody(req)) return NO_BODY;
    const stream = { body: req, release: () => undefined };
    if (req.headers['transfer-encoding'] !== undefined) return stream;
    const length = Number(req.headers['content-length'] ?? 0);
    if (length === 0) return NO_BODY;
    if (length > REPLAY_BODY_LIMIT || this.#inUse + length > this.totalBytes) return stream;
    this.#inUse += length;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#inUse -= length;
    };
    try {
      return { body: await this.#collect(req, res), release };
    } catch (error) {
      release();
      throw error;
    }
  }

  #collect(req: IncomingMessage, res: ServerResponse): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      };
      const onIdle = (): void => {
        done();
        req.pause();
        // The rest of the body will not be read: the connection cannot be reused, so it closes after the answer.
        res.once('finish', () => req.socket.destroy());
        reject(new ProxyError('REQUEST_TIMEOUT', `The request body stopped arriving (nothing for ${this.idleTimeoutMs / 1000}s).`, { headers: { connection: 'close' } }));
      };
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(onIdle, this.idleTimeoutMs);
      };
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        arm();
      };
      const onEnd = (): void => {
        done();
        resolve(Buffer.concat(chunks));
      };
      const onError = (error: Error): void => {
        done();
        reject(error);
      };
      const onClose = (): void => {
        done();
        reject(Object.assign(new Error('the client closed the connection mid-body'), { name: 'AbortError' }));
      };
      req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
      arm();
    });
  }
}
