import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './proxy.ts';
import { freePort, readReadyLine, waitForOk, type Child, type ProcessGroup } from './processes.ts';

export const HTTP_PROXY = 'http-proxy 1.18';

/** A proxy under test other than bearer-proxy: where to send requests, and whose RSS to watch. */
export interface Comparator {
  name: string;
  child: Child;
  url: string;
}

export async function startHttpProxy(group: ProcessGroup, upstreamPort: number): Promise<Comparator> {
  const child = group.spawn('http-proxy', process.execPath, {
    args: ['--import', 'tsx', join(REPO_ROOT, 'bench', 'http-proxy-forwarder.ts')],
    cwd: REPO_ROOT,
    env: { ...process.env, BENCH_TARGET: `http://127.0.0.1:${upstreamPort}` },
    stdout: 'pipe',
  });
  const { port } = await readReadyLine<{ port: number }>(child);
  return { name: HTTP_PROXY, child, url: `http://127.0.0.1:${port}` };
}

export function nginxPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : undefined;
}

/**
 * nginx as a reference point for what the machine can do. One process (no master) so its
 * RSS is one number, no access log (bearer-proxy's goes to /dev/null, which is close),
 * keep-alive to the upstream, and no spooling of large bodies to disk.
 */
export async function startNginx(group: ProcessGroup, binary: string, upstreamPort: number, workDir: string): Promise<Comparator> {
  const port = await freePort();
  const prefix = join(workDir, 'nginx');
  await mkdir(join(prefix, 'logs'), { recursive: true });
  const conf = `
daemon off;
master_process off;
worker_processes 1;
error_log stderr warn;
pid ${join(prefix, 'nginx.pid')};
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(prefix, 'client_body')};
  proxy_temp_path ${join(prefix, 'proxy')};
  fastcgi_temp_path ${join(prefix, 'fastcgi')};
  uwsgi_temp_path ${join(prefix, 'uwsgi')};
  scgi_temp_path ${join(prefix, 'scgi')};
  upstream bench_upstream { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer static-bench-token";
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_max_temp_file_size 0;
    }
    location = /__bench_health { return 200 "ok"; }
  }
}
`;
  const file = join(prefix, 'nginx.conf');
  await writeFile(file, conf);
  const child = group.spawn('nginx', binary, { args: ['-p', prefix, '-e', 'stderr', '-c', file], cwd: prefix });
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(`${url}/__bench_health`, child);
  return { name: 'nginx', child, url };
}
