import { systemClock } from '../clock.ts';
import { isProxyError } from '../errors.ts';
import { DEFAULT_MAX_CONNECTIONS } from '../http/connection-limit.ts';
import { createTransport } from '../http/transport.ts';
import { RouteTable } from '../routes/table.ts';
import { describeTokenSource } from '../tokens/describe.ts';
import { createTokenProvider } from '../tokens/factory.ts';
import { loadFromCli } from './config-file.ts';
import { print, type CliIo } from './io.ts';

/** Validates the file, prints what it would serve, and optionally proves each token source works. */
export async function check(io: CliIo, options: { config?: string; fetchTokens?: boolean }): Promise<number> {
  const { config, warnings, source } = loadFromCli(io, options.config);
  const out = io.stdout;
  print(out, `${source}: OK`);
  print(out);
  print(out, `listen   ${config.listen.host}:${config.listen.port}   anonymous: ${config.inbound.anonymous}   users: ${config.inbound.users.map((user) => user.name).join(', ') || '(none)'}`);
  print(out);
  print(out, 'routes (longest prefix first)');
  const routes = RouteTable.fromConfig(config.routes, config.tokens).routes;
  const width = Math.max(...routes.map((route) => route.prefix.length));
  for (const route of routes) {
    const certificate = route.certificateBoundTo ? `, presents ${route.certificateBoundTo}'s client certificate` : route.tls.cert ? ', client certificate' : '';
    const connections = route.maxConnections === DEFAULT_MAX_CONNECTIONS ? '' : `, ${route.maxConnections} connections at most`;
    print(
      out,
      `  ${route.prefix.padEnd(width)}  →  ${route.baseUrl}   token: ${route.tokenSource}, timeout ${route.timeoutMs / 1000}s${connections}${route.rewriteUrls ? '' : ', no URL rewriting'}${certificate}`,
    );
  }
  print(out);
  print(out, 'token sources');
  for (const [name, token] of Object.entries(config.tokens)) print(out, `  ${name}: ${describeTokenSource(token, io.env)}`);
  for (const warning of warnings) print(io.stderr, `warning: ${warning}`);
  if (!options.fetchTokens) return 0;

  print(out);
  print(out, 'fetching tokens');
  let failures = 0;
  // The transport serve would use: each source's CA, the outbound proxy, NODE_EXTRA_CA_CERTS.
  const transport = createTransport({ env: io.env });
  for (const [name, token] of Object.entries(config.tokens)) {
    try {
      const fetched = await createTokenProvider(name, token, { transport, clock: systemClock, env: io.env }).getToken();
      const seconds = Math.round((fetched.expiresAt - fetched.obtainedAt) / 1000);
      print(out, `  ✓ ${name}: ${fetched.tokenType} token, expires in ${seconds}s${fetched.scope ? `, scope ${fetched.scope}` : ''}`);
    } catch (error) {
      failures++;
      const message = isProxyError(error) ? `${error.code}: ${error.message}` : String(error);
      print(out, `  ✗ ${name}: ${message}`);
    }
  }
  await transport.close();
  return failures === 0 ? 0 : 1;
}
