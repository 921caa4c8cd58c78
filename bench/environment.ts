import { join } from 'node:path';
import { startBenchIssuer, type BenchIssuer } from './issuer.ts';
import { log, readReadyLine, type ProcessGroup } from './processes.ts';
import { build, REPO_ROOT, writeProxyConfig, type ProxyConfig } from './proxy.ts';
import type { UpstreamReady } from './upstream.ts';

/** Long enough that all cold requests reach the proxy while its one token fetch is still out. */
const ISSUER_DELAY_MS = 300;

/** What every scenario needs before a proxy starts: a fresh build, the issuer, the upstream and a config. */
export interface Environment {
  group: ProcessGroup;
  issuer: BenchIssuer;
  upstream: UpstreamReady;
  config: ProxyConfig;
}

export async function prepare(group: ProcessGroup): Promise<Environment> {
  log('building (npm run build)');
  await build();
  const issuer = await startBenchIssuer(ISSUER_DELAY_MS);
  const upstreamChild = group.spawn('upstream', process.execPath, {
    args: ['--import', 'tsx', join(REPO_ROOT, 'bench', 'upstream.ts')],
    cwd: REPO_ROOT,
    stdout: 'pipe',
  });
  // Generous: the upstream builds its 50+ MB page before it announces itself.
  const upstream = await readReadyLine<UpstreamReady>(upstreamChild, 60_000);
  log(`upstream on port ${upstream.port}; big page ${(upstream.bigPageBytes / 1e6).toFixed(1)} MB with ${upstream.bigPageUrls} absolute URLs`);
  const config = await writeProxyConfig(issuer, upstream.port);
  return { group, issuer, upstream, config };
}
