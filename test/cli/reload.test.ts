import { Writable } from 'node:stream';
import t from 'tap';
import { reloadInto } from '../../src/cli/reload.ts';
import { ConfigError } from '../../src/config/load.ts';
import { configSchema } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startProxy } from '../helpers/proxy.ts';

const input = { tokens: { lake: { tokenUrl: 'https://idp.example/token', clientId: 'c', clientSecret: 's' } }, routes: { '/sales': { target: 'https://api.example/odata', token: 'lake' } } };

t.test("each reload's outcome is logged, counted and told to the proxy, whose /_status shows it", async (t) => {
  const proxy = await startProxy(input, { configFile: '/etc/bearer-proxy/proxy.yaml' });
  t.teardown(() => proxy.close());
  const lines: string[] = [];
  const logger = createLogger({ destination: new Writable({ write: (chunk: Buffer, _encoding, done) => done(void lines.push(chunk.toString())) }) });
  const status = async () => (await fetch(`${proxy.url}/_status`)).text();
  t.match(await status(), 'none since start');

  const broken = () => {
    throw new ConfigError('proxy.yaml', [{ path: ['routes'], line: 4, column: 1, message: 'define at least one route' }]);
  };
  t.equal(reloadInto(proxy.proxy, broken, logger, 'SIGHUP'), false);
  t.match(JSON.parse(lines.at(-1)!), { level: 50, reason: 'SIGHUP', problems: ['proxy.yaml:4:1 routes: define at least one route'] });
  let page = await status();
  t.match(page, '<span class="bad">failed</span> 0s ago (SIGHUP): 1 problem; the previous config keeps serving');
  t.match(page, '<li><code>proxy.yaml:4:1 routes: define at least one route</code></li>');

  const next = configSchema.parse({ ...input, routes: { '/hr': { target: 'https://hr.example/odata', token: 'lake' } } });
  t.equal(
    reloadInto(proxy.proxy, () => ({ config: next, warnings: [], source: 'proxy.yaml' }), logger, 'file changed'),
    true,
  );
  page = await status();
  t.match(page, '<span class="ok">applied</span> 0s ago (file changed)');
  t.notMatch(page, 'define at least one route', 'the old failure is gone once a reload succeeds');
  t.match(page, '<code>/etc/bearer-proxy/proxy.yaml</code>');
  t.match(page, '<td><code>/hr</code></td>', 'the new routes');
});
