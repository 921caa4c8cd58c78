import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * Pipes a body to the client and settles when the client has all of it (resolves) or
 * either side broke off (rejects, after destroying both, so the upstream request is
 * aborted and the client sees a cut response rather than a clean end). This is
 * stream.pipeline for the one case the proxy needs on every request, without its
 * per-call AbortController and premature-close error objects.
 */
export function sendBody(source: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      source.destroy();
      res.destroy();
      reject(error);
    };
    source.once('error', fail);
    res.once('finish', () => {
      settled = true;
      resolve();
    });
    res.once('close', () => {
      if (!settled) fail(Object.assign(new Error('the client closed the connection before the body was sent'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    });
    source.pipe(res);
  });
}
