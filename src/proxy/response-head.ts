import { connectionListedNames, HOP_BY_HOP } from '../http/owned-headers.ts';

/**
 * An upstream response's headers as the client will get them: a flat [name, value, …]
 * list in the upstream's order and spelling (what `res.writeHead` takes), hop-by-hop
 * headers and those named in `Connection` gone, and the positions of the values the relay
 * reads or changes, found in the same single pass.
 */
export interface ResponseHead {
  readonly statusCode: number;
  readonly list: string[];
  /** Value positions in list, -1 when absent (the first occurrence for single-valued headers). */
  contentType: number;
  contentEncoding: number;
  contentLength: number;
  vary: number;
  requestId: number;
  /** Value positions of headers that carry URLs (Location, Content-Location, Link) or cookies; usually none. */
  locations: number[] | undefined;
  links: number[] | undefined;
  cookies: number[] | undefined;
}

/** Reads undici's raw headers (names and values as Buffers, latin1 on the wire, so latin1 keeps every byte). */
export function readResponseHead(statusCode: number, rawHeaders: readonly Buffer[]): ResponseHead {
  const read = readHead(statusCode, rawHeaders, undefined);
  // Names listed in Connection are hop-by-hop too, wherever they stand: read again without them (rare).
  return read.connectionListed ? readHead(statusCode, rawHeaders, read.connectionListed).head : read.head;
}

function readHead(statusCode: number, rawHeaders: readonly Buffer[], dropped: Set<string> | undefined): { head: ResponseHead; connectionListed: Set<string> | undefined } {
  const head: ResponseHead = { statusCode, list: [], contentType: -1, contentEncoding: -1, contentLength: -1, vary: -1, requestId: -1, locations: undefined, links: undefined, cookies: undefined };
  let connectionListed: Set<string> | undefined;
  const list = head.list;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toString('latin1');
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection' && !dropped) connectionListed = connectionListedNames(rawHeaders[i + 1]!.toString('latin1'), connectionListed);
      continue;
    }
    if (dropped?.has(lower)) continue;
    const at = list.length + 1;
    list.push(name, rawHeaders[i + 1]!.toString('latin1'));
    switch (lower) {
      case 'content-type':
        if (head.contentType < 0) head.contentType = at;
        break;
      case 'content-encoding':
        if (head.contentEncoding < 0) head.contentEncoding = at;
        break;
      case 'content-length':
        if (head.contentLength < 0) head.contentLength = at;
        break;
      case 'vary':
        if (head.vary < 0) head.vary = at;
        break;
      case 'x-request-id':
        if (head.requestId < 0) head.requestId = at;
        break;
      case 'location':
      case 'content-location':
        (head.locations ??= []).push(at);
        break;
      case 'link':
        (head.links ??= []).push(at);
        break;
      case 'set-cookie':
        (head.cookies ??= []).push(at);
        break;
    }
  }
  return { head, connectionListed };
}

/** The value at a position from readResponseHead, or undefined for -1. */
export function valueAt(head: ResponseHead, at: number): string | undefined {
  return at < 0 ? undefined : head.list[at];
}

/** The list without the headers at these value positions (for a body whose length or coding changes). */
export function withoutHeaders(list: readonly string[], positions: readonly number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) if (!positions.includes(i + 1)) out.push(list[i]!, list[i + 1]!);
  return out;
}
