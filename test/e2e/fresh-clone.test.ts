import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { collect, waitForLine } from '../helpers/cli.ts';
import { startIdp } from '../helpers/idp.ts';
import { startUpstream } from '../helpers/upstream.ts';

// The README's commands for a new user, typed verbatim (through bash, as a user's shell
// would) in a copy of the repository as a clone has it: no node_modules, no dist/.
// test/docs/commands.test.ts holds the docs to this list.
// npm install of the whole tree and a tsc build take 30-90 s on a loaded 2-core machine, so
// this file gets more than tap's default 30 s.
t.setTimeout(300_000);

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The files of a fresh clone: tracked ones, plus new ones not yet committed (not ignored ones). */
function cloneInto(dir: string): void {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(root, file))) continue; // deleted in the work tree, not yet committed
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(root, file), join(dir, file));
  }
}

/** Runs a README command line through bash in the clone, in a process group of its own, so Ctrl+C (SIGINT to the group) reaches npm's children as in a terminal. */
function shell(command: string, cwd: string, env: Record<string, string> = {}): ChildProcess {
  // prefer-offline: npm ci for this checkout filled npm's cache; the command line stays as written.
  return spawn('bash', ['-c', command], {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', ...env },
  });
}

function interrupt(child: ChildProcess): void {
  if (!child.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGINT');
  } catch {
    // the group is gone already
  }
}

t.test('a fresh clone: install, demo, build, check, serve, as the README says', async (t) => {
  const clone = t.testdir();
  cloneInto(clone);

  await t.test('npm install && npm run demo', async (t) => {
    const demo = shell('npm install && npm run demo', clone);
    t.teardown(() => interrupt(demo));
    const result = collect(demo);
    const line = await waitForLine(demo, /Press Ctrl\+C to stop/, 240_000).catch(async (error: Error) => {
      interrupt(demo);
      const { stdout, stderr } = await result;
      throw new Error(`${error.message}\n${stdout}\n${stderr}`);
    });
    t.ok(line, 'the demo serves and waits for Ctrl+C');
    const stopped = new Promise<NodeJS.Signals | null>((resolve) => demo.once('close', (_code, signal) => resolve(signal)));
    interrupt(demo);
    const { code, stdout, stderr } = await result;
    t.match(stdout, /followed every page/, 'its self-check passed');
    // As in a terminal: Ctrl+C ends the `a && b` line; bash reports it as interrupted (SIGINT or 130), not as a failure.
    const signal = await stopped;
    t.ok(code === 0 || code === 130 || signal === 'SIGINT', `Ctrl+C stops it (exit ${code}, signal ${signal})`);
    t.notMatch(stderr, /unexpected failure|Error:/, 'without an error');
  });

  await t.test('npm run build', async (t) => {
    const { code, stderr } = await collect(shell('npm run build', clone));
    t.equal(code, 0, stderr);
    t.ok(existsSync(join(clone, 'dist', 'cli.js')));
  });

  const idp = await startIdp();
  t.teardown(() => idp.close());
  const upstream = await startUpstream({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience });
  t.teardown(() => upstream.close());
  // The README's proxy.yaml, pointed at the test IdP and upstream; the secret from the environment.
  writeFileSync(
    join(clone, 'proxy.yaml'),
    `listen: { port: 0 }\ntokens:\n  lake:\n    tokenUrl: ${idp.tokenUrl}\n    clientId: ${idp.clients.post.clientId}\n    clientSecret: \${LAKE_CLIENT_SECRET}\n    scope: api:read\n    allowInsecure: true\nroutes:\n  /sales:\n    target: ${upstream.url}/odata/v4/sales\n    token: lake\n`,
  );
  const env = { LAKE_CLIENT_SECRET: idp.clients.post.clientSecret };

  await t.test('node dist/cli.js check --fetch-tokens', async (t) => {
    const { code, stdout, stderr } = await collect(shell('node dist/cli.js check --fetch-tokens', clone, env));
    t.equal(code, 0, stderr);
    t.match(stdout, /\/sales/, 'the route table');
    t.equal(idp.tokenRequests.filter((request) => request.status === 200).length, 1, 'one token fetched');
    t.notMatch(stdout + stderr, idp.clients.post.clientSecret, 'never the secret');
  });

  await t.test('node dist/cli.js', async (t) => {
    const serve = shell('node dist/cli.js', clone, env);
    t.teardown(() => interrupt(serve));
    const result = collect(serve);
    const line = await waitForLine(serve, /bearer-proxy listening/, 30_000);
    const base = /"url":"(http:\/\/[^"]+)"/.exec(line)?.[1];
    const response = await fetch(`${base}/sales/Orders`);
    await response.arrayBuffer();
    t.equal(response.status, 200, 'a request through the proxy');
    t.equal(upstream.requests.at(-1)?.url, '/odata/v4/sales/Orders');
    t.ok(upstream.requests.at(-1)?.claims, 'with a token the upstream verified');
    interrupt(serve);
    t.equal((await result).code, 0, 'Ctrl+C drains and exits 0');
  });
});
