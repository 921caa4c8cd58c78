import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nginxPath, startNginxUpstream } from './comparators.ts';
import { startBenchIssuer, type BenchIssuer } from './issuer.ts';
import { log, readReadyLine, type ProcessGroup } from './processes.ts';
import { build, buildIsStale, REPO_ROOT, writeProxyConfig, type ProxyConfig } from './proxy.ts';
import type { UpstreamReady } from './upstream.ts';

/** Long enough that all cold requests reach the proxy while its one token fetch is still out. */
const ISSUER_DELAY_MS = 300;

export interface PrepareOptions {
  /** 'auto': build when dist/ is older than src/; 'never': use dist/ as it is (another tree's build is measured). */
  build?: 'auto' | 'always' | 'never';
  /** nginx for small answers when installed ('auto'), or the Node upstream always. */
  smallUpstream?: 'auto' | 'nginx' | 'node';
}

/** What every scenario needs before a proxy starts: a build, the issuer, the upstreams, a work dir and a config. */
export interface Environment {
  group: ProcessGroup;
  issuer: BenchIssuer;
  upstream: UpstreamReady;
  /** Origin of the Node upstream (big page, stream, and small answers without nginx). */
  upstreamUrl: string;
  /** Origin serving /api/small to every system in the small-JSON scenarios. */
  smallUpstreamUrl: string;
  smallUpstreamKind: 'nginx' | 'node';
  /** Temp dir for configs and nginx; removed by close(). */
  dir: string;
  config: ProxyConfig;
  close(): Promise<void>;
}

export async function prepare(group: ProcessGroup, options: PrepareOptions = {}): Promise<Environment> {
  const mode = options.build ?? 'always';
  if (mode === 'always' || (mode === 'auto' && buildIsStale())) {
    log('building (npm run build)');
    await build();
  } else if (mode === 'auto') {
    log('dist/ is newer than src/: not rebuilding');
  }
  const dir = await mkdtemp(join(tmpdir(), 'bearer-proxy-bench-'));
  const issuer = await startBenchIssuer(ISSUER_DELAY_MS);
  const upstreamChild = group.spawn('upstream', process.execPath, {
    args: ['--import', 'tsx', join(REPO_ROOT, 'bench', 'upstream.ts')],
    cwd: REPO_ROOT,
    stdout: 'pipe',
  });
  // Generous: the upstream builds (and gzips) its 50+ MB page before it announces itself.
  const upstream = await readReadyLine<UpstreamReady>(upstreamChild, 90_000);
  const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
  log(
    `upstream on port ${upstream.port}; big page ${(upstream.bigPageBytes / 1e6).toFixed(1)} MB (${(upstream.bigPageGzipBytes / 1e6).toFixed(1)} MB gzipped) with ${upstream.bigPageUrls} absolute URLs`,
  );

  const nginx = nginxPath();
  const wantNginx = options.smallUpstream === 'nginx' || (options.smallUpstream !== 'node' && nginx !== undefined);
  if (wantNginx && !nginx) throw new Error('--upstream nginx: nginx is not installed (apt-get install -y nginx)');
  let smallUpstreamUrl = upstreamUrl;
  if (wantNginx) {
    smallUpstreamUrl = (await startNginxUpstream(group, nginx!, dir)).url;
    log(`nginx upstream for /api/small on ${smallUpstreamUrl}`);
  }
  const config = await writeProxyConfig(issuer, dir, { smallUpstream: smallUpstreamUrl, upstream: upstreamUrl });
  return {
    group,
    issuer,
    upstream,
    upstreamUrl,
    smallUpstreamUrl,
    smallUpstreamKind: wantNginx ? 'nginx' : 'node',
    dir,
    config,
    async close() {
      await group.stopAll();
      await issuer.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
