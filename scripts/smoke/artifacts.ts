/**
 * `npm run smoke` (after `npm run dist`): runs the artifacts in dist-artifacts/ the way their
 * users do, against a real IdP (oidc-provider) and an upstream that verifies the token:
 * the Linux single executable natively, the Windows zip under Wine. Ends with the line
 * "smoke: N passed, N failed", which .ci/run adds to the test totals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIdp } from '../../test/helpers/idp.ts';
import { startUpstream } from '../../test/helpers/upstream.ts';
import { artifactNames, artifactsDir, packageVersion } from '../dist/artifacts.ts';
import { readZip } from '../dist/zip.ts';
import { nativeRunner, pidWrapper, wineRunner, type Runner } from './runners.ts';

const version = packageVersion();
const names = artifactNames(version);
const results: Array<{ ok: boolean; name: string; detail: string }> = [];
const timings: string[] = [];

function record(ok: boolean, name: string, detail = ''): void {
  results.push({ ok, name, detail });
  console.log(`${ok ? 'ok' : 'not ok'} ${results.length} - ${name}${detail ? `: ${detail}` : ''}`);
}

async function check(name: string, run: () => Promise<string | void>): Promise<void> {
  try {
    record(true, name, (await run()) ?? '');
  } catch (error) {
    record(false, name, (error as Error).message);
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bearer-proxy-smoke-'));
  const linux = join(artifactsDir, names.linux);
  const zip = join(artifactsDir, names.windows);
  try {
    await check('SHA256SUMS matches both artifacts', async () => verifyChecksums([names.windows, names.linux]));
    await check('the zip holds the program, the service installer and its wrapper, the example config, its schema and the README', async () => {
      const inZip = readZip(readFileSync(zip)).map((entry) => entry.name.replace(`${names.windowsFolder}/`, ''));
      const expected = [
        'node.exe',
        'bearer-proxy.cjs',
        'bearer-proxy.cmd',
        'winsw.exe',
        'winsw.exe.config',
        'install-service.ps1',
        'proxy.yaml.example',
        'proxy.schema.json',
        'README.md',
        'LICENSE',
        'THIRD-PARTY-LICENSES.txt',
      ];
      const missing = expected.filter((name) => !inZip.includes(name));
      if (missing.length > 0) throw new Error(`missing: ${missing.join(', ')}`);
      return `${inZip.length} files in ${names.windowsFolder}/`;
    });

    await smokeTarget(nativeRunner(linux), work, { prettyOnTerminal: linux });
    const launcher = wineRunner(zip, names.windowsFolder, 'launcher');
    try {
      await check(`${launcher.name}: --version`, async () => expectVersion(launcher, work));
      await check(`${launcher.name}: passes the exit code on (2 for a bad command line)`, async () => {
        const log = join(work, `usage-${Date.now()}.log`);
        const code = await exitOf(launcher.start(['--no-such-option'], log), 60_000);
        if (code !== 2) throw new Error(`exit ${code}: ${readFileSync(log, 'utf8')}`);
        return 'exit 2';
      });
      await check(`${launcher.name}: demo --once`, async () => demoOnce(launcher, work));
    } finally {
      launcher.close();
    }
    const service = wineRunner(zip, names.windowsFolder, 'node.exe');
    try {
      await serveAndProxy(service, work);
      await serveAndProxy(service, work, 2);
    } finally {
      service.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  for (const line of timings) console.log(`# ${line}`);
  const failed = results.filter((result) => !result.ok).length;
  console.log(`smoke: ${results.length - failed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

async function smokeTarget(runner: Runner, work: string, options: { prettyOnTerminal?: string }): Promise<void> {
  await check(`${runner.name}: --version`, async () => expectVersion(runner, work));
  await serveAndProxy(runner, work);
  // Each worker is the executable again, started by node:cluster: its command line must survive that.
  await serveAndProxy(runner, work, 2);
  await check(`${runner.name}: demo --once`, async () => demoOnce(runner, work));
  if (options.prettyOnTerminal) {
    const executable = options.prettyOnTerminal;
    await check(`${runner.name}: serve logs readable lines on a terminal`, async () => prettyOnTerminal(executable, work));
  }
}

async function expectVersion(runner: Runner, work: string): Promise<string> {
  const log = join(work, `version-${Date.now()}.log`);
  const code = await exitOf(runner.start(['--version'], log), 60_000);
  const output = readFileSync(log, 'utf8').trim();
  if (code !== 0 || output !== version) throw new Error(`exit ${code}, printed ${JSON.stringify(output)}; expected ${version}`);
  return output;
}

async function demoOnce(runner: Runner, work: string): Promise<string> {
  const log = join(work, `demo-${Date.now()}.log`);
  const started = Date.now();
  // --port 0: CI may have something on 8080, and the demo's fallback would print to stderr.
  const code = await exitOf(runner.start(['demo', '--once', '--port', '0'], log), 90_000);
  const output = readFileSync(log, 'utf8');
  if (code !== 0 || !/followed every page/.test(output)) throw new Error(`exit ${code}:\n${output}`);
  timings.push(`${runner.name}: demo --once took ${Date.now() - started} ms`);
  return `exit 0 in ${Date.now() - started} ms`;
}

/** serve with a config of the kind users write: a token source at a real IdP and one route. */
async function serveAndProxy(runner: Runner, work: string, workers = 0): Promise<void> {
  const serveFlags = workers > 0 ? ['--workers', String(workers)] : [];
  const name = workers > 0 ? `${runner.name}, serve ${serveFlags.join(' ')}` : runner.name;
  const idp = await startIdp();
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience });
  const dir = mkdtempSync(join(work, 'serve-'));
  const configFile = join(dir, 'proxy.yaml');
  writeFileSync(
    configFile,
    [
      // localhost, as the Windows service listens: 127.0.0.1 and ::1 (Windows tries ::1 first).
      'listen: { host: localhost, port: 0 }',
      'tokens:',
      '  idp:',
      `    tokenUrl: ${idp.tokenUrl}`,
      `    clientId: ${idp.clients.post.clientId}`,
      '    clientSecret: ${file:client_secret}',
      '    scope: api:read',
      '    allowInsecure: true',
      'routes:',
      '  /api:',
      `    target: ${upstream.url}/v1`,
      '    token: idp',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'client_secret'), idp.clients.post.clientSecret);
  const log = join(dir, 'serve.log');
  const started = Date.now();
  const child = runner.start(['serve', '-c', runner.path(configFile), ...serveFlags], log);
  try {
    let base = '';
    await check(`${name}: serve answers /healthz`, async () => {
      base = await waitForListening(log, child, 60_000);
      await waitForHealthz(base, 30_000);
      const ms = Date.now() - started;
      timings.push(`${name}: serve start to first /healthz 200: ${ms} ms`);
      return `${ms} ms after start`;
    });
    await check(`${name}: listens on both loopback addresses, ::1 as well as 127.0.0.1`, async () => {
      const ipv6 = base.replace('127.0.0.1', '[::1]');
      await waitForHealthz(ipv6, 5_000);
      return `${ipv6}/healthz 200`;
    });
    await check(`${name}: proxies a request with the IdP's token injected`, async () => {
      if (!base) throw new Error('not listening');
      const response = await fetch(`${base}/api/things?$top=1`);
      const body = await response.text();
      if (response.status !== 200) throw new Error(`${response.status}: ${body}`);
      const seen = upstream.requests.at(-1);
      if (!seen?.claims) throw new Error('the upstream saw no verified token');
      if (seen.url !== '/v1/things?$top=1') throw new Error(`the upstream saw ${seen.url}`);
      if (!seen.authorization?.startsWith('Bearer ')) throw new Error('no Bearer authorization upstream');
      const subject = seen.claims.client_id ?? seen.claims.sub;
      return `upstream verified a token for ${typeof subject === 'string' ? subject : JSON.stringify(subject)}`;
    });
    await check(`${name}: logs JSON lines when stdout is a file, without the secret`, async () => {
      const text = readFileSync(log, 'utf8');
      const listening = text.split(/\r?\n/).find((line) => line.includes('bearer-proxy listening'));
      if (!listening) throw new Error(`no listening line in:\n${text}`);
      JSON.parse(listening);
      if (text.includes(idp.clients.post.clientSecret)) throw new Error('the client secret is in the log');
      if (workers > 0) {
        // The first worker answers while the others may still be starting (seconds under Wine): the primary says when all are up.
        const deadline = Date.now() + 60_000;
        while (!readFileSync(log, 'utf8').includes(`with ${workers} workers`)) {
          if (Date.now() > deadline) throw new Error(`the primary never reported ${workers} workers serving:\n${readFileSync(log, 'utf8')}`);
          await sleep(100);
        }
        const listeningWorkers = new Set([...readFileSync(log, 'utf8').matchAll(/"worker":(\d+),[^\n]*bearer-proxy listening/g)].map((match) => match[1]));
        if (listeningWorkers.size !== workers) throw new Error(`${listeningWorkers.size} workers listening, not ${workers}`);
        return `ok, ${workers} workers listening`;
      }
      return 'ok';
    });
  } finally {
    child.kill('SIGTERM');
    await exitOf(child, 15_000).catch(() => child.kill('SIGKILL'));
    await upstream.close();
    await idp.close();
  }
}

/** On a pty, pino-pretty runs in the process (a bundle cannot start pino's transport worker). */
async function prettyOnTerminal(executable: string, work: string): Promise<string> {
  const dir = mkdtempSync(join(work, 'tty-'));
  const configFile = join(dir, 'proxy.yaml');
  writeFileSync(
    configFile,
    'listen: { port: 0 }\ntokens:\n  t: { tokenUrl: http://127.0.0.1:9/token, clientId: a, clientSecret: b, allowInsecure: true }\nroutes:\n  /x: { target: http://127.0.0.1:9/x, token: t }\n',
  );
  const { script, pidFile } = pidWrapper(dir);
  const log = join(dir, 'tty.log');
  // util-linux `script` gives the program a pseudo-terminal and copies what it shows to the log.
  const child = spawn('script', ['-qfec', `'${script}' '${executable}' serve -c '${configFile}'`, log], { stdio: 'ignore' });
  try {
    const deadline = Date.now() + 30_000;
    while (!/bearer-proxy listening/.test(existsSync(log) ? readFileSync(log, 'utf8') : '')) {
      if (Date.now() > deadline) throw new Error(`no listening line: ${existsSync(log) ? readFileSync(log, 'utf8') : ''}`);
      await sleep(100);
    }
    const text = readFileSync(log, 'utf8');
    if (!/INFO/.test(text) || /"level":30/.test(text)) throw new Error(`not pretty output:\n${text}`);
    return 'INFO line, not JSON';
  } finally {
    if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGINT');
    await exitOf(child, 15_000).catch(() => child.kill('SIGKILL'));
  }
}

function verifyChecksums(files: string[]): string {
  const listed = new Map(
    readFileSync(join(artifactsDir, 'SHA256SUMS'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => [line.slice(66), line.slice(0, 64)] as const),
  );
  for (const file of files) {
    const actual = createHash('sha256')
      .update(readFileSync(join(artifactsDir, file)))
      .digest('hex');
    if (listed.get(file) !== actual) throw new Error(`${file}: ${actual}, SHA256SUMS says ${listed.get(file)}`);
  }
  return `${files.length} files`;
}

async function waitForListening(log: string, child: ChildProcess, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    const port = /bearer-proxy listening on http:\/\/(?:[\d.]+|localhost):(\d+)/.exec(text)?.[1];
    if (port) return `http://127.0.0.1:${port}`;
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}:\n${text}`);
    if (Date.now() > deadline) throw new Error(`not listening after ${timeoutMs} ms:\n${text}`);
    await sleep(50);
  }
}

async function waitForHealthz(base: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await fetch(`${base}/healthz`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`/healthz answered ${status} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

main().catch((error: unknown) => {
  console.error(error);
  console.log(`smoke: ${results.filter((result) => result.ok).length} passed, ${results.filter((result) => !result.ok).length + 1} failed`);
  process.exitCode = 1;
});
