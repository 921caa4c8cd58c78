import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import t from 'tap';
import { parseConfig } from '../../src/config/load.ts';
import { hashPassword } from '../../src/inbound/password.ts';

// The configs users start from must load as written (what `bearer-proxy check` validates),
// with their ${ENV} and ${file:…} values stood in for: a typo in an example is a support call.
const EXAMPLES = ['proxy.yaml.example', 'deploy/windows/proxy.windows.yaml', 'deploy/proxy.compose.yaml'];

for (const file of EXAMPLES) {
  t.test(file, async (t) => {
    const hash = await hashPassword('test-password', { N: 2 ** 10, r: 8, p: 1 });
    const env = new Proxy({} as Record<string, string>, { get: (_, name) => `placeholder-${String(name).toLowerCase()}` });
    const { config, warnings } = parseConfig(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'), {
      source: file,
      env,
      readFile: (path) => (path.endsWith('_hash') ? hash : `secret-from-${basename(path)}`),
    });
    t.ok(Object.keys(config.routes).length > 0, 'has a route');
    t.same(warnings, [], 'no warnings (no secret written in plain text)');
  });
}
