/**
 * Everything the bench compares bearer-proxy with, each its own process: two minimal Node
 * forwarders (undici, http-proxy), nginx as a reverse proxy, and nginx as the upstream for
 * small answers. nginx joins when `nginx` is on PATH; it runs with a generated config in
 * a temp dir (no root, no system service).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { leanScript } from './lean.ts';
import { JSON_TYPE, smallBody } from './payloads.ts';
import { freePort, readReadyLine, waitForOk, type Child, type ProcessGroup } from './processes.ts';

export const UNDICI = 'undici forwarder';
export const HTTP_PROXY = 'http-proxy 1.18';
export const NGINX = 'nginx proxy';

/** A proxy under test other than bearer-proxy: where to send requests, and whose CPU and RSS to watch. */
export interface Comparator {
  name: string;
  child: Child;
  url: string;
}

/** Where a comparator forwards to, and the Authorization it adds (the bench issuer's, as long as bearer-proxy's). */
export interface ForwardTo {
  target: string;
  authorization: string;
}

/** Starts bench/<script>.ts (a minimal forwarder) on `cpus`. */
async function startForwarder(group: ProcessGroup, name: string, script: string, to: ForwardTo, cpus: string | undefined, nodeArgs: string[] = []): Promise<Comparator> {
  const child = group.spawn(name, process.execPath, {
    args: [...nodeArgs, leanScript(script)],
    env: { ...process.env, BENCH_TARGET: to.target, BENCH_AUTHORIZATION: to.authorization },
    stdout: 'pipe',
    ...(cpus === undefined ? {} : { cpus }),
  });
  const { port } = await readReadyLine<{ port: number }>(child);
  return { name, child, url: `http://127.0.0.1:${port}` };
}

/** nodeArgs: extra node flags, e.g. --cpu-prof for bench/profile.ts --system undici. */
export function startUndiciForwarder(group: ProcessGroup, to: ForwardTo, cpus: string | undefined, nodeArgs?: string[]): Promise<Comparator> {
  return startForwarder(group, UNDICI, 'undici-forwarder', to, cpus, nodeArgs);
}

export function startHttpProxy(group: ProcessGroup, to: ForwardTo, cpus: string | undefined): Promise<Comparator> {
  return startForwarder(group, HTTP_PROXY, 'http-proxy-forwarder', to, cpus);
}

export function nginxPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v nginx || ls /usr/sbin/nginx'], { encoding: 'utf8' });
  const path = found.stdout.trim().split('\n')[0];
  return found.status === 0 && path ? path : undefined;
}

/** One process (no master) so that its CPU and RSS are one process's, no access log, temp paths in the work dir. */
function nginxConfig(prefix: string, http: string): string {
  return `
daemon off;
master_process off;
worker_processes 1;
error_log stderr warn;
pid ${join(prefix, 'nginx.pid')};
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_timeout 60s;
  keepalive_requests 1000000;
  client_body_temp_path ${join(prefix, 'client_body')};
  proxy_temp_path ${join(prefix, 'proxy')};
  fastcgi_temp_path ${join(prefix, 'fastcgi')};
  uwsgi_temp_path ${join(prefix, 'uwsgi')};
  scgi_temp_path ${join(prefix, 'scgi')};
${http}
}
`;
}

async function startNginx(group: ProcessGroup, binary: string, name: string, prefix: string, http: string, port: number, cpus: string | undefined): Promise<Comparator> {
  await mkdir(prefix, { recursive: true });
  const file = join(prefix, 'nginx.conf');
  await writeFile(file, nginxConfig(prefix, http));
  const child = group.spawn(name, binary, { args: ['-p', prefix, '-e', 'stderr', '-c', file], cwd: prefix, ...(cpus === undefined ? {} : { cpus }) });
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(`${url}/__bench_health`, child);
  return { name, child, url };
}

/** nginx as a reverse proxy: keep-alive upstream pool, a static bearer header, no spooling of large bodies to disk. */
export async function startNginxProxy(group: ProcessGroup, binary: string, to: ForwardTo, workDir: string, cpus: string | undefined): Promise<Comparator> {
  const port = await freePort();
  const upstream = new URL(to.target);
  const http = `
  upstream bench_upstream { server ${upstream.host}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "${to.authorization}";
      proxy_max_temp_file_size 0;
    }
    location = /__bench_health { return 200 "ok"; }
  }`;
  return startNginx(group, binary, NGINX, join(workDir, `nginx-proxy-${port}`), http, port, cpus);
}

/**
 * nginx as the upstream for /api/small: it answers a static file for a fraction of a Node
 * server's CPU, so on a pinned run the upstream's CPU is not what limits the proxies. Like
 * the Node upstream, it refuses a request without a bearer token.
 */
export async function startNginxUpstream(group: ProcessGroup, binary: string, workDir: string): Promise<Comparator> {
  const port = await freePort();
  const prefix = join(workDir, 'nginx-upstream');
  await mkdir(join(prefix, 'www', 'api'), { recursive: true });
  await writeFile(join(prefix, 'www', 'api', 'small'), smallBody(`http://127.0.0.1:${port}`));
  const http = `
  types { }
  default_type "${JSON_TYPE}";
  server {
    listen 127.0.0.1:${port};
    root ${join(prefix, 'www')};
    location /api/ {
      if ($http_authorization !~ "^Bearer [^ ]+") { return 401; }
    }
    location = /__bench_health { return 200 "ok"; }
  }`;
  return startNginx(group, binary, 'nginx upstream', prefix, http, port, undefined);
}
