import type { ChildProcess } from 'node:child_process';
import t, { type Test } from 'tap';
import { collect, spawnCli, type CliResult } from '../helpers/cli.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { startScriptedIdp, tokenAnswer } from '../helpers/scripted-idp.ts';

/*
 * `serve` with `prefetch: true` sources against a hostile IdP, as a child process of the
 * built CLI: the startup fetch may be answered with absurd lifetimes or refused, and the
 * process must keep serving, say on /readyz which sources hold no token, cap what it
 * believes at maxLifetime, log without stack traces or secrets, and stop cleanly on SIGTERM.
 */

const SECRET = 'cli-prefetch-secret-5f3a9c';
const STACK_LINE = /^\s+at /m;

interface LogLine {
  msg?: string;
  level?: number;
  tokenSource?: string;
  result?: string;
  error?: string;
  url?: string;
}

interface Served {
  url: string;
  lines: () => LogLine[];
  /** Resolves once the log holds lines for which the predicate holds. */
  waitFor: (what: string, predicate: (lines: LogLine[]) => boolean, timeoutMs?: number) => Promise<void>;
  /** SIGTERM, then the exit code and output. */
  stop: () => Promise<CliResult>;
}

function yamlConfig(issuerTokenUrl: string, sources: Record<string, Record<string, string>>, routes: Record<string, string>): string {
  return [
    'listen: { port: 0 }',
    'tokens:',
    ...Object.entries(sources).flatMap(([name, extra]) => [
      `  ${name}:`,
      `    tokenUrl: "${issuerTokenUrl}"`,
      `    clientId: ${name}`,
      '    clientSecret: ${PREFETCH_SECRET}',
      '    allowInsecure: true',
      '    prefetch: true',
      ...Object.entries(extra).map(([key, value]) => `    ${key}: ${value}`),
    ]),
    'routes:',
    ...Object.entries(routes).map(([prefix, source]) => `  ${prefix}: { target: "http://127.0.0.1:9/never", token: ${source} }`),
    '',
  ].join('\n');
}

async function serve(t: Test, config: string): Promise<Served> {
  const dir = t.testdir({ 'proxy.yaml': config });
  const child: ChildProcess = spawnCli(['serve', '-c', `${dir}/proxy.yaml`, '--log-format', 'json'], { env: { PREFETCH_SECRET: SECRET } });
  const exited = collect(child);
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  let stopped = false;
  t.teardown(() => {
    if (!stopped) child.kill('SIGKILL');
  });
  const lines = (): LogLine[] =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  const waitFor = async (what: string, predicate: (lines: LogLine[]) => boolean, timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(lines())) {
      if (child.exitCode !== null) throw new Error(`serve exited (${child.exitCode}) before ${what}; stdout: ${stdout}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; stdout: ${stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await waitFor('listening line', (all) => all.some((line) => line.msg?.startsWith('bearer-proxy listening on') === true));
  const url = lines().find((line) => line.msg?.startsWith('bearer-proxy listening on'))!.url!;
  return {
    url,
    lines,
    waitFor,
    stop: () => {
      stopped = true;
      child.kill('SIGTERM');
      return exited;
    },
  };
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

function prefetchOutcomes(lines: LogLine[]): Map<string, string> {
  const outcomes = new Map<string, string>();
  for (const line of lines) {
    if (line.tokenSource && (line.msg === 'token prefetched' || line.msg?.startsWith('prefetch failed'))) outcomes.set(line.tokenSource, line.msg);
  }
  return outcomes;
}

t.test('absurd expires_in at startup: capped or refused, the process keeps serving', async (t) => {
  const tokens: string[] = [];
  // Each source is its own client; the IdP answers each with a different absurd lifetime.
  const lifetimes: Record<string, unknown> = { huge: 1e12, hugestring: '1e12', negative: -5, nan: 'NaN', word: 'forever' };
  const idp = await startScriptedIdp(t, (_req, res, body) => {
    const client = body.get('client_id') ?? '';
    const token = `tok-${client}-${Math.random().toString(36).slice(2)}`;
    tokens.push(token);
    tokenAnswer(res, { access_token: token, token_type: 'Bearer', expires_in: lifetimes[client] });
  });
  const served = await serve(
    t,
    yamlConfig(idp.tokenUrl, { huge: { maxLifetime: '10m' }, hugestring: {}, negative: {}, nan: {}, word: {} }, { '/a': 'huge', '/b': 'hugestring', '/c': 'negative', '/d': 'nan', '/e': 'word' }),
  );
  await served.waitFor('a prefetch outcome for every source', (lines) => prefetchOutcomes(lines).size === 5);
  const outcomes = prefetchOutcomes(served.lines());
  t.equal(outcomes.get('huge'), 'token prefetched', 'expires_in 1e12: a token is held');
  t.equal(outcomes.get('hugestring'), 'token prefetched', 'expires_in "1e12" (a string): a token is held');
  for (const name of ['negative', 'nan', 'word']) {
    t.match(outcomes.get(name), /^prefetch failed/, `expires_in ${JSON.stringify(lifetimes[name])}: refused, not believed`);
    const failure = served.lines().find((line) => line.msg === 'token fetch failed' && line.tokenSource === name);
    // A malformed answer may heal, as a 5xx may: README's error table says TOKEN_UNAVAILABLE, retried with backoff.
    t.equal(failure?.result, 'TOKEN_UNAVAILABLE', `${name}: the failure is logged with the documented code`);
  }
  t.ok(
    idp.tokenRequests.every((request) => request.body.get('client_secret') === SECRET),
    'the IdP was sent the secret from the environment',
  );

  t.equal((await get(`${served.url}/healthz`)).status, 200, '/healthz 200');
  const ready = await get(`${served.url}/readyz`);
  t.equal(ready.status, 503, '/readyz 503 while prefetch sources hold no token');
  const readyBody = JSON.parse(ready.text) as { status: string; tokenSources: string[] };
  t.same([...readyBody.tokenSources].sort(), ['nan', 'negative', 'word'], '/readyz names exactly the sources without a token');

  const metrics = await get(`${served.url}/metrics`);
  t.equal(metrics.status, 200, '/metrics answers');
  const samples = parsePrometheusText(metrics.text);
  const expiry = (source: string) => sampleValue(samples, 'bearer_proxy_token_expiry_seconds', { source });
  const huge = expiry('huge');
  t.ok(huge !== undefined && huge <= 600 && huge > 540, `1e12 s capped at maxLifetime 10m (${huge} s)`);
  const hugeString = expiry('hugestring');
  t.ok(hugeString !== undefined && hugeString <= 86_400 && hugeString > 86_340, `"1e12" capped at the default maxLifetime 24h (${hugeString} s)`);
  for (const name of ['negative', 'nan', 'word']) t.equal(expiry(name), undefined, `${name}: no expiry reported for a token never held`);

  const status = await get(`${served.url}/_status`);
  t.equal(status.status, 200, '/_status answers (an absurd expiry must not make it throw)');
  t.equal((await get(`${served.url}/healthz`)).status, 200, '/healthz still 200 after every probe');

  const result = await served.stop();
  t.equal(result.code, 0, 'SIGTERM exits 0');
  t.ok(
    result.stdout.split('\n').some((line) => line.includes('"msg":"stopped"')),
    'logs that it stopped',
  );
  const everything = result.stdout + result.stderr + status.text + metrics.text;
  t.notMatch(result.stdout + result.stderr, STACK_LINE, 'no stack trace in the output');
  t.notOk(everything.includes(SECRET), 'the client secret appears nowhere');
  t.same(
    tokens.filter((token) => everything.includes(token)),
    [],
    'no token appears in the output, /_status or /metrics',
  );
});

t.test('the IdP refuses with 401 invalid_client at startup: the process keeps serving and says why', async (t) => {
  let refusing = true;
  const idp = await startScriptedIdp(t, (_req, res, body) => {
    // Hostile: the refusal quotes the secret it was sent.
    if (refusing) return tokenAnswer(res, { error: 'invalid_client', error_description: `client secret ${body.get('client_secret')} is wrong` }, 401);
    tokenAnswer(res, { access_token: 'tok-after-recovery-8d1e', token_type: 'Bearer', expires_in: 3600 });
  });
  const served = await serve(t, yamlConfig(idp.tokenUrl, { refused: {} }, { '/r': 'refused' }));
  await served.waitFor('the prefetch outcome', (lines) => prefetchOutcomes(lines).has('refused'));
  t.match(prefetchOutcomes(served.lines()).get('refused'), /^prefetch failed/, 'prefetch failed is logged');
  const failure = served.lines().find((line) => line.msg === 'token fetch failed' && line.tokenSource === 'refused');
  t.ok(failure, 'a log line names the source');
  t.equal(failure?.result, 'TOKEN_FETCH_FAILED', 'with the documented code');
  t.match(failure?.error, /invalid_client/, "and the IdP's error code");
  t.ok(idp.tokenRequests.length >= 1 && idp.tokenRequests[0]!.body.get('client_secret') === SECRET, 'the secret really was sent (and quoted back)');

  t.equal((await get(`${served.url}/healthz`)).status, 200, '/healthz 200');
  const ready = await get(`${served.url}/readyz`);
  t.equal(ready.status, 503, '/readyz 503');
  t.same(JSON.parse(ready.text), { status: 'waiting for tokens', tokenSources: ['refused'] }, '/readyz names the source');
  const proxied = await get(`${served.url}/r/x`);
  t.equal(proxied.status, 502, 'a request through the route is answered 502');
  t.match(proxied.text, /"code":"TOKEN_FETCH_FAILED"/, 'with TOKEN_FETCH_FAILED');
  const metrics = await get(`${served.url}/metrics`);
  const fetches = sampleValue(parsePrometheusText(metrics.text), 'bearer_proxy_token_fetches_total', { source: 'refused', result: 'TOKEN_FETCH_FAILED' });
  t.ok(fetches !== undefined && fetches >= 1, `the failure is counted (${fetches})`);

  // Once the IdP accepts, a probe after the backoff (1 s, jittered) fetches the token: nothing needs a restart.
  refusing = false;
  const deadline = Date.now() + 5_000;
  let readyAgain = 503;
  while (readyAgain !== 200 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    readyAgain = (await get(`${served.url}/readyz`)).status;
  }
  t.equal(readyAgain, 200, '/readyz 200 once the IdP hands out a token');

  const result = await served.stop();
  t.equal(result.code, 0, 'SIGTERM exits 0');
  const output = result.stdout + result.stderr;
  t.notMatch(output, STACK_LINE, 'no stack trace in the output');
  t.notOk(output.includes(SECRET) || proxied.text.includes(SECRET) || metrics.text.includes(SECRET), 'the secret the IdP quoted back is scrubbed everywhere');
  t.notOk(output.includes('tok-after-recovery-8d1e'), 'the token is not logged');
});
