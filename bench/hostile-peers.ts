/**
 * Figures for issue 18 (hostile and broken peers), before and after its fixes:
 *
 *   npx tsx bench/hostile-peers.ts idp-memory [--src DIR] [--mib 1024]
 *     peak RSS of a process whose token fetch meets an IdP answering 200 application/json
 *     with a body of that size (chunked, so no Content-Length warns of it)
 *   npx tsx bench/hostile-peers.ts guesses [--src DIR] [--seconds 5] [--connections 16]
 *     wrong Basic-auth guesses per second that 16 keep-alive connections from a
 *     non-loopback address get answered, and how many of them were actually checked (401)
 *   npx tsx bench/hostile-peers.ts timing [--src DIR]
 *     median time to refuse a wrong password for a plain-password user, a hashed one and an
 *     unknown name, with both kinds of account configured (throttling set out of the way)
 *   npx tsx bench/hostile-peers.ts config-load [--src DIR] [--routes 20000]
 *     time to load (and reload into a running proxy) a config with that many routes
 *
 * --src points at another checkout's src/ (say, `git archive <commit> src | tar -x -C /tmp/base`),
 * so the same measurement runs against the code before a fix.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    src: { type: 'string', default: resolve(import.meta.dirname, '../src') },
    mib: { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16' },
    routes: { type: 'string', default: '20000' },
    child: { type: 'string' },
  },
});
const src = resolve(values.src);
const load = <T>(path: string): Promise<T> => import(pathToFileURL(`${src}/${path}`).href) as Promise<T>;

async function idpMemory(): Promise<void> {
  const mib = Number(values.mib);
  const chunk = Buffer.alloc(1024 * 1024, 'a');
  const idp = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"token_type":"Bearer","expires_in":3600,"access_token":"');
    let sent = 0;
    const more = (): void => {
      while (sent < mib) {
        sent++;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end('"}');
    };
    res.on('close', () => (sent = mib + 1));
    more();
  });
  await new Promise<void>((done) => idp.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(idp.address() as { port: number }).port}/token`;
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', 'idp-memory', '--src', src, url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (data: Buffer) => (out += data.toString()));
  await new Promise((done) => child.on('close', done));
  idp.close();
  idp.closeAllConnections();
  console.log(`idp-memory (${mib} MiB answer, src ${src}): ${out.trim()}`);
}

async function idpMemoryChild(url: string): Promise<void> {
  const { createClientCredentialsSource } = await load<typeof import('../src/tokens/client-credentials.ts')>('tokens/client-credentials.ts');
  const { configSchema } = await load<typeof import('../src/config/schema.ts')>('config/schema.ts');
  const config = configSchema.parse({
    tokens: { s: { tokenUrl: url, clientId: 'c', clientSecret: 'secret', allowInsecure: true, timeout: '600s' } },
    routes: { '/r': { target: 'https://x.test', token: 's' } },
  }).tokens.s!;
  const baseline = process.memoryUsage().rss;
  const started = performance.now();
  let outcome: string;
  try {
    await createClientCredentialsSource('s', config, { clock: { now: () => Date.now() } }).fetchToken();
    outcome = 'a token (!)';
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    outcome = `${code}: ${message.slice(0, 160)}`;
  }
  const peakMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ baselineRssMb: Math.round(baseline / 2 ** 20), peakRssMb: Math.round(peakMb), seconds: Math.round((performance.now() - started) / 100) / 10, outcome }));
}

async function guesses(): Promise<void> {
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const { createProxyServer } = await load<typeof import('../src/proxy/server.ts')>('proxy/server.ts');
  const { configSchema } = await load<typeof import('../src/config/schema.ts')>('config/schema.ts');
  const { createLogger } = await load<typeof import('../src/log/logger.ts')>('log/logger.ts');
  const address = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry?.family === 'IPv4' && !entry.internal)?.address;
  if (!address) throw new Error('needs a non-loopback IPv4 address');
  const config = configSchema.parse({
    inbound: { users: [{ name: 'gateway', password: 'the-right-password-4412' }] },
    tokens: { s: { tokenUrl: 'http://127.0.0.1:9/token', clientId: 'c', clientSecret: 'secret', allowInsecure: true } },
    routes: { '/api': { target: 'http://127.0.0.1:9', token: 's' } },
  });
  const proxy = createProxyServer(config, { logger: createLogger({ level: 'silent' }) });
  const base = (await proxy.listen(0, '0.0.0.0')).replace('0.0.0.0', address);
  const agent = new Agent({ connections, pipelining: 1 });
  const statuses = new Map<number, number>();
  const until = performance.now() + seconds * 1000;
  let guess = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const authorization = `Basic ${Buffer.from(`gateway:wrong-${guess++}`).toString('base64')}`;
        const response = await request(`${base}/api/x`, { dispatcher: agent, headers: { authorization } });
        await response.body.dump();
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      }
    }),
  );
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  const checked = statuses.get(401) ?? 0;
  console.log(
    `guesses (${connections} keep-alive connections from ${address}, ${seconds}s, src ${src}): ${Math.round(total / seconds)} answers/s, ` +
      `${Math.round((checked / seconds) * 10) / 10} wrong guesses checked/s (401); by status ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
  await agent.close();
  await proxy.close(0);
}

async function timing(): Promise<void> {
  const { createProxyServer } = await load<typeof import('../src/proxy/server.ts')>('proxy/server.ts');
  const { configSchema } = await load<typeof import('../src/config/schema.ts')>('config/schema.ts');
  const { createLogger } = await load<typeof import('../src/log/logger.ts')>('log/logger.ts');
  const { hashPassword } = await load<typeof import('../src/inbound/password.ts')>('inbound/password.ts');
  const config = configSchema.parse({
    inbound: {
      anonymous: 'none',
      users: [
        { name: 'plain', password: 'plain-password-1' },
        { name: 'hashed', passwordHash: await hashPassword('hashed-password-1') },
      ],
    },
    tokens: { s: { tokenUrl: 'http://127.0.0.1:9/token', clientId: 'c', clientSecret: 'secret', allowInsecure: true } },
    routes: { '/api': { target: 'http://127.0.0.1:9', token: 's' } },
  });
  const never = { freeFailures: 1e9, blockAfter: 1e9 };
  const proxy = createProxyServer(config, { logger: createLogger({ level: 'silent' }), throttle: { address: never, user: never } });
  const base = await proxy.listen(0, '127.0.0.1');
  const results: string[] = [];
  for (const user of ['plain', 'hashed', 'nobody']) {
    const times: number[] = [];
    for (let i = 0; i < 15; i++) {
      const started = performance.now();
      const response = await request(`${base}/api/x`, { headers: { authorization: `Basic ${Buffer.from(`${user}:wrong-${i}`).toString('base64')}` } });
      await response.body.dump();
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    results.push(`${user} ${times[7]!.toFixed(1)} ms`);
  }
  console.log(`timing (median of 15 wrong passwords, src ${src}): ${results.join(', ')}`);
  await proxy.close(0);
}

async function configLoad(): Promise<void> {
  const count = Number(values.routes);
  const { parseConfig } = await load<typeof import('../src/config/load.ts')>('config/load.ts');
  const { createProxyServer } = await load<typeof import('../src/proxy/server.ts')>('proxy/server.ts');
  const { createLogger } = await load<typeof import('../src/log/logger.ts')>('log/logger.ts');
  const configText = (routes: number, tokens: number) => {
    const lines = ['tokens:'];
    for (let i = 0; i < tokens; i++) lines.push(`  s${i}: { tokenUrl: "https://idp.test/token", clientId: c, clientSecret: "\${SECRET}" }`);
    lines.push('routes:');
    for (let i = 0; i < routes; i++) lines.push(`  /r${i}: { target: "https://api.test/r${i}", token: s${i % tokens} }`);
    return lines.join('\n');
  };
  const time = (text: string) => {
    const started = performance.now();
    let outcome = 'loaded';
    let config;
    try {
      config = parseConfig(text, { env: { SECRET: 'x' } }).config;
    } catch (error) {
      outcome = (error as Error).message.split('\n').slice(0, 2).join(' ').slice(0, 200);
    }
    return { ms: Math.round(performance.now() - started), outcome, config };
  };
  const huge = configText(count, 1);
  const hugeResult = time(huge);
  console.log(`config-load (${count} routes, ${Math.round(huge.length / 1024)} KiB, src ${src}): ${hugeResult.ms} ms, ${hugeResult.outcome}`);
  // The largest config the limits accept: 1000 routes and 1000 token sources, loaded and then swapped into a running proxy.
  const largest = time(configText(1000, 1000));
  if (!largest.config) return void console.log(`largest accepted config: ${largest.outcome}`);
  const proxy = createProxyServer(largest.config, { logger: createLogger({ level: 'silent' }) });
  const started = performance.now();
  const again = time(configText(1000, 1000));
  proxy.reload(again.config!);
  console.log(`largest accepted config (1000 routes, 1000 token sources): load ${largest.ms} ms; reload into a running proxy (load + swap) ${Math.round(performance.now() - started)} ms`);
  await proxy.close(0);
}

if (values.child === 'idp-memory') await idpMemoryChild(positionals[0]!);
else if (positionals[0] === 'idp-memory') await idpMemory();
else if (positionals[0] === 'guesses') await guesses();
else if (positionals[0] === 'timing') await timing();
else if (positionals[0] === 'config-load') await configLoad();
else throw new Error('usage: hostile-peers.ts idp-memory|guesses|timing|config-load [--src DIR]');
