import { decodeJwt, decodeProtectedHeader } from 'jose';
import { formatInstant, systemClock } from '../clock.ts';
import { createTransport } from '../http/transport.ts';
import { createTokenProvider } from '../tokens/factory.ts';
import { loadFromCli } from './config-file.ts';
import { print, UsageError, type CliIo } from './io.ts';

/** Claims that say who the token is for and what it allows; printed first and by name. */
const HEADLINE_CLAIMS = ['iss', 'sub', 'aud', 'azp', 'client_id', 'appid', 'scope', 'scp', 'roles'];

export async function token(io: CliIo, options: { config?: string; source?: string; raw?: boolean }): Promise<number> {
  const { config } = loadFromCli(io, options.config);
  const names = Object.keys(config.tokens);
  if (!options.source) throw new UsageError(`name a token source: bearer-proxy token <source>  (defined: ${names.join(', ')})`);
  // Own keys only: constructor or toString would find Object's, and fail later with a TypeError.
  const sourceConfig = Object.hasOwn(config.tokens, options.source) ? config.tokens[options.source] : undefined;
  if (!sourceConfig) throw new UsageError(`no token source named "${options.source}" (defined: ${names.join(', ')})`);

  // The transport serve would use: the source's CA, the outbound proxy, NODE_EXTRA_CA_CERTS.
  const transport = createTransport({ env: io.env });
  const provider = createTokenProvider(options.source, sourceConfig, { transport, clock: systemClock, env: io.env });
  const fetched = await provider.getToken().finally(() => transport.close());
  if (options.raw) {
    print(io.stdout, fetched.value);
    return 0;
  }
  const out = io.stdout;
  print(out, `token source  ${options.source}${provider.source.kind ? ` (${provider.source.kind})` : ''}`);
  print(out, `token type    ${fetched.tokenType}`);
  print(out, `expires       ${formatInstant(fetched.expiresAt)} (in ${Math.round((fetched.expiresAt - fetched.obtainedAt) / 1000)}s)`);
  if (fetched.scope) print(out, `scope         ${fetched.scope}`);
  try {
    const header = decodeProtectedHeader(fetched.value);
    const claims = decodeJwt(fetched.value);
    print(out, `format        JWT (${header.alg}${header.kid ? `, kid ${header.kid}` : ''})`);
    const ordered = [...HEADLINE_CLAIMS.filter((name) => name in claims), ...Object.keys(claims).filter((name) => !HEADLINE_CLAIMS.includes(name))];
    print(out, 'claims');
    for (const name of ordered) print(out, `  ${name.padEnd(10)} ${formatClaim(name, claims[name])}`);
  } catch {
    print(out, 'format        opaque (not a JWT): no claims to show');
  }
  print(out, '(the token itself is printed only with --raw)');
  return 0;
}

function formatClaim(name: string, value: unknown): string {
  if ((name === 'exp' || name === 'iat' || name === 'nbf') && typeof value === 'number') return `${value} (${formatInstant(value * 1000)})`;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
