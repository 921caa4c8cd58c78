import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';

export interface PublicOrigin {
  proto: 'http' | 'https';
  /** host[:port] as the client wrote it. */
  host: string;
}

/** A Host value that can go into a URL as it is: a name or IPv4 address, or a bracketed IPv6 address, and a port. */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * Where the client reached the proxy, for the links written back to it. X-Forwarded-Host
 * and X-Forwarded-Proto count only when the operator said a reverse proxy sets them:
 * otherwise any caller could make the proxy advertise URLs on a host of its choosing.
 */
export function publicOrigin(req: IncomingMessage, trustForwardedHeaders: boolean): PublicOrigin {
  const ownProto = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  if (trustForwardedHeaders) {
    const proto = firstListed(req.headers['x-forwarded-proto'])?.toLowerCase();
    const host = firstListed(req.headers['x-forwarded-host']);
    return {
      proto: proto === 'https' || proto === 'http' ? proto : ownProto,
      host: host && HOST.test(host) ? host : hostOf(req),
    };
  }
  return { proto: ownProto, host: hostOf(req) };
}

/** The Host header when it is a plain host[:port], or the address the request came in on. */
function hostOf(req: IncomingMessage): string {
  const host = req.headers.host;
  if (host && HOST.test(host)) return host;
  const { localAddress = '', localPort } = req.socket;
  return isIPv6(localAddress) ? `[${localAddress}]:${localPort}` : `${localAddress}:${localPort}`;
}

/** The first entry of a header that proxies append to (`a, b`), as set by the outermost proxy. */
function firstListed(value: string | string[] | undefined): string | undefined {
  const first = (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim();
  return first || undefined;
}
