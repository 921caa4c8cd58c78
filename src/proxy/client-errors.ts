import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { ProxyError, rawErrorResponse, type ErrorCode } from '../errors.ts';

/** Node's parser error codes that have an answer of their own; every other one is a 400. */
const PARSER_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  HPE_HEADER_OVERFLOW: { code: 'HEADERS_TOO_LARGE', message: 'The request headers are larger than the proxy accepts (16 KiB in all).' },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'REQUEST_TIMEOUT', message: 'The request did not arrive in time.' },
};

/**
 * A request Node's HTTP parser refused (a malformed request line or header, smuggling
 * attempts, oversized headers) gets the same JSON error as any other, instead of Node's
 * bare status line. Returns what was answered, for the log, or undefined when the socket
 * could take no answer.
 */
export function answerClientError(error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex & { _httpMessage?: { headersSent?: boolean } | null }): ProxyError | undefined {
  // Gone, or in the middle of a response to an earlier request on this connection (whose
  // bytes an answer would corrupt): just close. The same test Node's own handler makes.
  if (error.code === 'ECONNRESET' || !socket.writable || socket._httpMessage?.headersSent) {
    socket.destroy();
    return undefined;
  }
  const known = error.code ? PARSER_ERRORS[error.code] : undefined;
  const refusal = known ? new ProxyError(known.code, known.message) : new ProxyError('BAD_REQUEST', `The request is not valid HTTP/1.1 (${error.code ?? 'parse error'}).`);
  // A HEAD request's answer has no body, even a refusal: the client would read it as the next response.
  const headOnly = error.rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
  socket.end(rawErrorResponse(refusal, randomUUID(), { headOnly }));
  return refusal;
}

/** A forward proxy's CONNECT tunnel is never offered: answer and hang up without touching an upstream. */
export function refuseConnect(socket: Duplex): ProxyError {
  const refusal = new ProxyError('BAD_REQUEST', 'CONNECT is not accepted: this is a reverse proxy, not a forward proxy.');
  socket.end(rawErrorResponse(refusal, randomUUID()));
  return refusal;
}
