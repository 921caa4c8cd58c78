import t from 'tap';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/config/load.ts';

const valid = (extra = '') => `tokens:
  lake:
    tokenUrl: https://idp.example.com/token
    clientId: app
    clientSecret: \${LAKE_SECRET}
routes:
  /sales:
    target: https://api.example.com/odata/
    token: lake
${extra}`;

function problemsOf(text: string, env: Record<string, string> = {}) {
  try {
    parseConfig(text, { env, source: 'proxy.yaml' });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

t.test('a valid file gets its defaults and interpolated secrets', async (t) => {
  const { config, warnings } = parseConfig(valid(), { env: { LAKE_SECRET: 's3' } });
  t.equal(config.tokens.lake?.clientSecret, 's3');
  t.same(config.listen, { host: '127.0.0.1', port: 8080 });
  t.equal(config.inbound.anonymous, 'loopback');
  t.equal(config.routes['/sales']?.timeout, 600_000, 'OData.Feed’s own 600 s');
  t.equal(config.routes['/sales']?.rewriteUrls, true);
  t.same(warnings, [], 'no plain-text secret, no warning');
});

t.test('every mistake is reported at once with line, column and key path', async (t) => {
  const text = `listen:
  port: 99999
inbound:
  anonymus: loopback
tokens:
  lake:
    tokenUrl: http://idp.example.com/token
    clientId: \${MISSING_ID}
    clientSecret: x
routes:
  /sales:
    target: not a url
    token: sea
    timeout: soon
  /healthz:
    target: https://api.example.com
    token: lake
`;
  const error = problemsOf(text);
  const lines = error.problems.map((problem) => `${problem.line} ${problem.message}`);
  t.equal(error.problems.length, 8, lines.join('\n'));
  t.match(error.message, /^proxy\.yaml: 8 problems/);
  t.match(error.message, /proxy\.yaml:2:9 listen\.port: /);
  t.match(error.message, /proxy\.yaml:4:3 inbound\.anonymus: unknown key "anonymus" \(did you mean "anonymous"\?\)/);
  t.match(error.message, /proxy\.yaml:7:15 tokens\.lake\.tokenUrl: an http:\/\/ IdP/);
  t.match(error.message, /proxy\.yaml:8:15 tokens\.lake\.clientId: environment variable MISSING_ID is not set/);
  t.match(error.message, /proxy\.yaml:12:13 routes\["\/sales"\]\.target: expected an absolute/);
  t.match(error.message, /proxy\.yaml:13:12 routes\["\/sales"\]\.token: no token source named "sea" \(defined: lake\)/);
  t.match(error.message, /proxy\.yaml:14:14 routes\["\/sales"\]\.timeout: "soon" is not a duration/);
  t.match(error.message, /proxy\.yaml:15:3 routes\["\/healthz"\]: route prefix "\/healthz" uses the reserved path/);
  t.same(
    error.problems.map((problem) => problem.line),
    [...error.problems.map((problem) => problem.line)].sort((a, b) => a! - b!),
    'in file order',
  );
});

t.test('missing required keys point at their parent', async (t) => {
  const error = problemsOf('tokens:\n  lake:\n    tokenUrl: https://idp/t\nroutes: {}\n');
  t.match(error.message, /proxy\.yaml:3:5 tokens\.lake\.clientId: required key is missing/);
  t.match(error.message, /tokens\.lake\.clientSecret: required key is missing/);
  t.match(error.message, /routes: define at least one route/);
});

t.test('YAML syntax errors and duplicate keys', async (t) => {
  t.match(problemsOf('routes:\n  /a: [unclosed\n').message, /proxy\.yaml:3:1 \(top level\): YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a \]$/m);
  t.match(problemsOf(valid('routes:\n  /b: {}\n')).message, /proxy\.yaml:10:1 \(top level\): YAML syntax: Map keys must be unique$/m);
});

t.test('an empty file says what is missing', async (t) => {
  const error = problemsOf('');
  t.match(error.message, /tokens: required key is missing/);
  t.match(error.message, /routes: required key is missing/);
});

t.test('plain-text secrets work but are warned about', async (t) => {
  const text = valid().replace('${LAKE_SECRET}', 'hunter2') + 'inbound:\n  users:\n    - name: pbi\n      password: pw\n    - name: other\n      password: ${PW}\n';
  const { config, warnings } = parseConfig(text, { env: { PW: 'x' }, source: 'p.yaml' });
  t.equal(config.tokens.lake?.clientSecret, 'hunter2');
  t.equal(warnings.length, 2);
  t.match(warnings[0], /^p\.yaml:5:19 tokens\.lake\.clientSecret: secret written in plain text/);
  t.match(warnings[1], /inbound\.users\[0\]\.password: secret written in plain text/);
  t.notMatch(warnings.join('\n'), /hunter2|\bpw\b/, 'the warning does not repeat the secret');
});

t.test('loadConfigFile reads ${file:} relative to the config file', async (t) => {
  const dir = t.testdir({
    'proxy.yaml': valid().replace('${LAKE_SECRET}', '${file:secrets/lake.txt}'),
    secrets: { 'lake.txt': 'from-a-file\n' },
  });
  const { config, source } = loadConfigFile(`${dir}/proxy.yaml`);
  t.equal(config.tokens.lake?.clientSecret, 'from-a-file', 'trailing newline dropped');
  t.equal(source, `${dir}/proxy.yaml`);
});

t.test('loadConfigFile on a missing file is a ConfigError, not a crash', async (t) => {
  t.throws(() => loadConfigFile('/nonexistent/proxy.yaml'), { name: 'ConfigError', message: /cannot read the config file \(file not found\)/ });
});
