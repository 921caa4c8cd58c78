import { isIP } from 'node:net';
import type { KeyPath } from './positions.ts';
import type { Config } from './schema.ts';

export interface TargetWarning {
  path: KeyPath;
  message: string;
}

/**
 * Route targets that work but deserve a word at load (and in `check`): plain http:// to a
 * host beyond this machine carries the bearer token in clear (an http IdP is refused for the
 * same reason unless allowInsecure; a route is only warned about, since internal OData
 * services over http are common, and `allowInsecure: true` on the route says it is meant);
 * and link-local or cloud metadata addresses, where a token is never wanted and an
 * instance's own credentials are served.
 */
export function targetWarnings(config: Config): TargetWarning[] {
  const warnings: TargetWarning[] = [];
  for (const [prefix, route] of Object.entries(config.routes)) {
    const url = new URL(route.target);
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const path = ['routes', prefix, 'target'];
    if (isMetadataOrLinkLocal(host)) {
      warnings.push({
        path,
        message: `${host} is a link-local or cloud metadata address: the proxy would send it a bearer token, and such an address serves the machine's own credentials; check that this target is meant`,
      });
    }
    if (url.protocol === 'http:' && !isLoopbackName(host) && !route.allowInsecure) {
      warnings.push({ path, message: `plain http:// to ${host}: the bearer token travels in clear text; use https://, or set allowInsecure: true on this route if the network is trusted` });
    }
  }
  return warnings;
}

function isLoopbackName(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const v4 = mappedIPv4(host);
  return v4 !== undefined ? v4.startsWith('127.') : host === '::1';
}

const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal']);

/** 169.254.0.0/16 and fe80::/10, and the cloud metadata endpoints outside them (AWS IPv6, Alibaba, Oracle names). */
function isMetadataOrLinkLocal(host: string): boolean {
  if (METADATA_NAMES.has(host.replace(/\.$/, ''))) return true;
  const v4 = mappedIPv4(host);
  if (v4 !== undefined) return v4.startsWith('169.254.') || v4 === '100.100.100.200';
  if (isIP(host) !== 6) return false;
  return /^fe[89ab][0-9a-f]?:/.test(host) || host === 'fd00:ec2::254';
}

/** The IPv4 address of a v4 literal or an IPv4-mapped IPv6 one (the URL parser writes ::ffff:a9fe:a9fe). */
function mappedIPv4(host: string): string | undefined {
  if (isIP(host) === 4) return host;
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const [high, low] = [Number.parseInt(mapped[1]!, 16), Number.parseInt(mapped[2]!, 16)];
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
  return dotted?.[1];
}
