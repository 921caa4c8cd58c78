import fc from 'fast-check';
import t from 'tap';
import { ConfigError, parseConfig, type LoadedConfig, type ParseOptions } from '../../src/config/load.ts';

/**
 * Fuzzing the config loader: whatever text it is given, parseConfig either returns a
 * config or throws a ConfigError whose problems carry a message and, when they have one,
 * a line and column inside the text. No other exception, no hang, and no secret that came
 * from the environment echoed back in a message.
 */

const SECRET_FILE_CONTENT = 'file-secret-Qm9vb3Rz-from-a-file\n';

/** A valid proxy.yaml using most sections, secrets only through references. */
const VALID = `listen:
  host: 127.0.0.1
  port: 8080
inbound:
  anonymous: loopback
  users:
    - name: powerbi
      password: \${PBI_PASSWORD}
  trustForwardedHeaders: false
tokens:
  lake:
    tokenUrl: https://login.example.com/\${TENANT_ID}/oauth2/v2.0/token
    clientId: \${CLIENT_ID}
    clientSecret: \${SECRET}
    scope: api://lake/.default
    timeout: 30s
    backoff:
      initial: 1s
      max: 60s
    params: { extra: value }
  other:
    issuer: https://idp.example.com/realms/x
    clientId: other
    clientSecret: \${file:secret.txt}
routes:
  /sales:
    target: https://api.example.com/odata/v4/sales
    token: lake
    timeout: 600s
    headers:
      X-Api-Key: "\${API_KEY}"
    rewriteUrls: true
  /sales/eu:
    target: http://eu.example.com:8443/odata
    token: other
statusPage: loopback
shutdownTimeout: 10
`;

const BASE_ENV = { PBI_PASSWORD: 'pbi-pass-word', TENANT_ID: 'tenant-1', CLIENT_ID: 'client-1', API_KEY: 'api-key-value' };

function readFile(path: string): string {
  if (path.endsWith('secret.txt')) return SECRET_FILE_CONTENT;
  throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' });
}

const options = (env: Record<string, string | undefined>): ParseOptions => ({ source: 'fuzz.yaml', env, baseDir: '/nonexistent', readFile });

/** Anything a parse may legitimately end with. */
type Outcome = { ok: LoadedConfig } | { error: ConfigError };

/** Runs parseConfig and checks the contract. */
function parseChecked(text: string, env: Record<string, string | undefined>): Outcome {
  const started = performance.now();
  let outcome: Outcome;
  try {
    outcome = { ok: parseConfig(text, options(env)) };
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      throw new Error(`parseConfig threw ${(error as Error)?.name ?? typeof error} instead of a ConfigError: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
    outcome = { error };
  }
  const elapsed = performance.now() - started;
  if (elapsed > 2_000) throw new Error(`parseConfig took ${Math.round(elapsed)} ms`);
  if ('error' in outcome) checkProblems(text, outcome.error);
  return outcome;
}

function checkProblems(text: string, error: ConfigError): void {
  // LineCounter counts "\n" only: a text of N newlines has N + 1 lines, the last possibly empty.
  const lines = text.split('\n');
  if (error.problems.length === 0) throw new Error('a ConfigError without problems');
  for (const problem of error.problems) {
    if (typeof problem.message !== 'string' || problem.message.trim() === '') throw new Error(`a problem without a message: ${JSON.stringify(problem)}`);
    if (!Array.isArray(problem.path)) throw new Error(`a problem without a key path: ${JSON.stringify(problem)}`);
    if (problem.line === undefined) continue;
    if (!Number.isInteger(problem.line) || problem.line < 1 || problem.line > lines.length) {
      throw new Error(`line ${problem.line} outside the text's ${lines.length} lines: ${JSON.stringify(problem)}`);
    }
    if (problem.column !== undefined) {
      const lineLength = lines[problem.line - 1]!.length;
      if (!Number.isInteger(problem.column) || problem.column < 1 || problem.column > lineLength + 1) {
        throw new Error(`column ${problem.column} outside line ${problem.line} (${lineLength} characters): ${JSON.stringify(problem)}`);
      }
    }
  }
}

// --- arbitraries -------------------------------------------------------------------------

const YAML_TOKENS = [
  ':',
  ': ',
  '- ',
  '\n',
  '  ',
  '    ',
  '\t',
  '"',
  "'",
  '&a ',
  '*a',
  '&b ',
  '*b',
  '!!str ',
  '!!int ',
  '!!binary ',
  '!!set ',
  '!custom ',
  '{',
  '}',
  '[',
  ']',
  ',',
  '#',
  '|',
  '>-',
  '? ',
  '${',
  '$${',
  '}',
  '${SECRET}',
  '${MISSING}',
  '${file:nope}',
  '%YAML 1.2\n',
  '---\n',
  '...\n',
  'tokens',
  'routes',
  'listen',
  'inbound',
  '/api',
  'target',
  'token',
  'port',
  '<<: ',
  '~',
  'null',
  'true',
  '1e400',
  '0x1F',
  '\r\n',
  '\r',
  '\0',
  '\uFEFF',
];

/** Text that looks a little like YAML: tokens of its syntax between random characters. */
const yamlish = fc.array(fc.oneof(fc.constantFrom(...YAML_TOKENS), fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ maxLength: 12 })), { maxLength: 60 }).map((parts) => parts.join(''));

const WRONG_VALUES = [
  '',
  '~',
  'null',
  '[]',
  '{}',
  '[1, 2]',
  '{ a: 1 }',
  'true',
  'no',
  '0',
  '-1',
  '1.5',
  '1e400',
  '-1e400',
  '.nan',
  '.inf',
  '99999999999999999999999999999',
  '0x7fffffffffffffff',
  '"string"',
  "'quoted'",
  '|\n  block',
  '>-\n  folded',
  '!!binary aGVsbG8=',
  '!!set { a }',
  '!!timestamp 2024-01-01',
  '!!int x',
  '*a',
  '&a value',
  '&a',
  '${MISSING_VAR}',
  '${}',
  '${1BAD}',
  '${file:does-not-exist}',
  '${SECRET',
  '$${SECRET}',
  '${SECRET}${SECRET}',
  'http://',
  'https://x?y=1#z',
  'ftp://x',
  '/no-scheme',
  '-',
  '- a\n- b',
  '"\\u0000"',
  '"\\x"',
  "'unterminated",
  '"unterminated',
  '@reserved',
  '`tick`',
  '%',
  '#comment',
  'a: b: c',
  'éèü 日本 😀',
  'x'.repeat(10_000),
];

const UNKNOWN_LINES = [
  'unknownTop: 1',
  '  unknownNested: x',
  '    tokenUrll: https://x',
  '    clientSecrett: s',
  '    targett: https://x',
  'Routes: {}',
  '  /bad prefix:',
  '  /healthz:',
  '  /:',
  '  /a/../b:',
  '  //x:',
  '  /x/:',
  '\tport: 1',
  ' \t key: value',
  'listen: &a { host: h }',
  'other: *a',
  'merged: { <<: *a }',
  '<<: { listen: 1 }',
  'a: &x [1, 2]',
  'b: [*x, *x, *x]',
  '? complex key\n: value',
  '? [a, b]\n: value',
  '- item',
  '---',
  '...',
  '%TAG ! tag:x,2000:',
  '# just a comment',
  '',
  '   ',
  'key: "${SECRET}"',
  'key: ${MISSING}',
  'tokens:',
  'routes:',
  'x: !!binary |\n  AAAA',
  'x: 1e999999',
];

type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'indent'; at: number; by: number; tab: boolean }
  | { kind: 'value'; at: number; value: string }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'chars'; at: number; offset: number; text: string }
  | { kind: 'swap'; at: number; with: number };

const position = fc.nat({ max: 10_000 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: position }),
  fc.record({ kind: fc.constant('duplicate' as const), at: position }),
  fc.record({ kind: fc.constant('indent' as const), at: position, by: fc.integer({ min: -4, max: 4 }), tab: fc.boolean() }),
  fc.record({ kind: fc.constant('value' as const), at: position, value: fc.oneof(fc.constantFrom(...WRONG_VALUES), fc.string({ maxLength: 20 })) }),
  fc.record({ kind: fc.constant('insert' as const), at: position, text: fc.oneof(fc.constantFrom(...UNKNOWN_LINES), yamlish) }),
  fc.record({ kind: fc.constant('chars' as const), at: position, offset: position, text: fc.oneof(fc.constantFrom(...YAML_TOKENS), fc.string({ unit: 'binary', maxLength: 4 })) }),
  fc.record({ kind: fc.constant('swap' as const), at: position, with: position }),
);

function mutate(text: string, mutations: readonly Mutation[]): string {
  const lines = text.split('\n');
  for (const m of mutations) {
    if (lines.length === 0) lines.push('');
    const i = m.at % lines.length;
    const line = lines[i]!;
    switch (m.kind) {
      case 'delete':
        lines.splice(i, 1);
        break;
      case 'duplicate':
        lines.splice(i, 0, line);
        break;
      case 'indent': {
        const indent = /^[ \t]*/.exec(line)![0];
        const body = line.slice(indent.length);
        const width = Math.max(0, indent.length + m.by);
        lines[i] = (m.tab ? '\t'.repeat(Math.ceil(width / 2)) : ' '.repeat(width)) + body;
        break;
      }
      case 'value': {
        const colon = line.indexOf(': ');
        lines[i] = colon < 0 ? `${line}: ${m.value}` : `${line.slice(0, colon + 2)}${m.value}`;
        break;
      }
      case 'insert':
        lines.splice(i, 0, m.text);
        break;
      case 'chars': {
        const offset = m.offset % (line.length + 1);
        lines[i] = line.slice(0, offset) + m.text + line.slice(offset);
        break;
      }
      case 'swap': {
        const j = m.with % lines.length;
        [lines[i], lines[j]] = [lines[j]!, line];
        break;
      }
    }
  }
  return lines.join('\n');
}

const mutatedConfig = fc.array(mutation, { minLength: 1, maxLength: 6 }).map((mutations) => mutate(VALID, mutations));

/** Env maps with variables missing, empty or odd. */
const envArb = fc.record(
  {
    SECRET: fc.constantFrom('s3cr3t-value-XYZ', '', 'a: b\n- c', '${SECRET}'),
    PBI_PASSWORD: fc.constantFrom('pbi-pass-word', ''),
    TENANT_ID: fc.constantFrom('tenant-1', 'ten ant/..', ''),
    CLIENT_ID: fc.constantFrom('client-1', ''),
    API_KEY: fc.constantFrom('api-key-value', 'line\nbreak'),
  },
  { requiredKeys: [] },
);

// --- properties -------------------------------------------------------------------------

t.test('the valid base file parses (so mutations start from a good config)', async (t) => {
  const outcome = parseChecked(VALID, { ...BASE_ENV, SECRET: 'x' });
  t.ok(outcome && 'ok' in outcome, 'VALID parses');
});

t.test('random YAML-ish text: a config or a ConfigError with lines inside the text', async (t) => {
  let errors = 0;
  fc.assert(
    fc.property(yamlish, envArb, (text, env) => {
      const outcome = parseChecked(text, env);
      if (outcome && 'error' in outcome) errors++;
    }),
    { numRuns: 400 },
  );
  t.ok(errors > 0, `${errors} inputs were refused with a ConfigError`);
});

t.test('arbitrary Unicode text, including control characters and lone surrogates', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
      parseChecked(text, BASE_ENV);
    }),
    { numRuns: 300 },
  );
  t.pass('no exception other than ConfigError');
});

t.test('mutations of a valid proxy.yaml: a config or a ConfigError with lines inside the text', async (t) => {
  let ok = 0;
  let refused = 0;
  fc.assert(
    fc.property(mutatedConfig, fc.oneof({ arbitrary: fc.constant({ SECRET: 's3cr3t-value-XYZ' }), weight: 3 }, { arbitrary: envArb, weight: 1 }), (text, env) => {
      const outcome = parseChecked(text, { ...BASE_ENV, ...env });
      if (outcome && 'ok' in outcome) ok++;
      else if (outcome) refused++;
    }),
    { numRuns: 500 },
  );
  t.ok(refused > 0, `${refused} mutated files refused, ${ok} accepted`);
});

t.test('the same mutations with CRLF line endings', async (t) => {
  fc.assert(
    fc.property(mutatedConfig, (text) => {
      parseChecked(text.replace(/\n/g, '\r\n'), BASE_ENV);
    }),
    { numRuns: 150 },
  );
  t.pass('no exception other than ConfigError');
});

/** Secret values: unmistakable (a fixed prefix and suffix) around characters YAML and messages treat specially. */
const secretValue = fc
  .string({ minLength: 8, maxLength: 24, unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=:@!$&*()[]{}"\' #%'.split('')) })
  .map((body) => `SeCrEt-${body}-9q`);

function assertNoSecret(text: string, env: Record<string, string>, secrets: string[]): void {
  const outcome = parseChecked(text, env);
  const problems = 'error' in outcome ? outcome.error.problems : [];
  const texts = ['error' in outcome ? outcome.error.message : '', ...problems.map((problem) => problem.message), ...('ok' in outcome ? outcome.ok.warnings : [])];
  for (const secret of secrets) {
    const forms = [secret, JSON.stringify(secret).slice(1, -1)];
    for (const message of texts) {
      const leaked = forms.find((form) => message.includes(form));
      if (leaked !== undefined) throw new Error(`the secret ${JSON.stringify(secret)} appears in: ${message}`);
    }
  }
}

/** Secrets placed where secrets belong (clientSecret, a password, a header value, a ${file:...}) never come back in a message, whatever else is broken. */
t.test('a secret from ${SECRET} or ${file:...} in a secret field never appears in a ConfigError message', async (t) => {
  const SECRET_SLOTS = [
    (text: string) => text, // clientSecret: ${SECRET} and ${file:secret.txt} as in VALID
    (text: string) => text.replace('password: ${PBI_PASSWORD}', 'password: ${SECRET}'),
    (text: string) => text.replace('"${API_KEY}"', '"${SECRET}"'),
    (text: string) => text.replace('clientSecret: ${file:secret.txt}', 'clientSecret: ${SECRET}'),
    (text: string) => text.replace('clientSecret: ${SECRET}', 'privateKey: ${SECRET}'),
    (text: string) => text.replace('clientSecret: ${SECRET}', 'clientSecret: ${SECRET}\n    authMethod: private_key_jwt'),
    (text: string) => text.replace('password: ${PBI_PASSWORD}', 'passwordHash: ${SECRET}'),
    (text: string) => text.replace('params: { extra: value }', 'params: { client_assertion: "${SECRET}" }'),
  ];
  fc.assert(
    fc.property(secretValue, fc.nat({ max: SECRET_SLOTS.length - 1 }), fc.array(mutation, { maxLength: 5 }), (secret, slot, mutations) => {
      const text = mutate(SECRET_SLOTS[slot]!(VALID), mutations);
      assertNoSecret(text, { ...BASE_ENV, SECRET: secret }, [secret, SECRET_FILE_CONTENT.trim()]);
    }),
    { numRuns: 400 },
  );
  t.pass('no secret in any message');
});

t.test('a ${SECRET} anywhere in the file is not echoed by any message', async (t) => {
  const FORMS = ['${SECRET}', '"${SECRET}"', 'x-${SECRET}-y', '[${SECRET}]', '{ k: "${SECRET}" }', '${SECRET}\n    - ${SECRET}'];
  fc.assert(
    fc.property(secretValue, position, fc.constantFrom(...FORMS), fc.array(mutation, { maxLength: 4 }), (secret, at, form, mutations) => {
      const text = mutate(mutate(VALID, [{ kind: 'value', at, value: form }]), mutations);
      assertNoSecret(text, { ...BASE_ENV, SECRET: secret }, [secret]);
    }),
    { numRuns: 400 },
  );
  t.pass('no secret in any message');
});

// --- bugs fuzzing found, kept as regression tests -----------------------------------------

const MINIMAL = `tokens:
  t:
    tokenUrl: https://idp.example.com/token
    clientId: c
    clientSecret: \${SECRET}
routes:
  /api:
    target: https://api.example.com/x
    token: t
`;

function thrownBy(text: string, env: Record<string, string> = { SECRET: 'sssecret-value' }): unknown {
  try {
    parseConfig(text, options(env));
    return undefined;
  } catch (error) {
    return error;
  }
}

t.test('found by fuzzing: an alias to an undefined anchor is a ConfigError', async (t) => {
  const text = `${MINIMAL}listen: *nope\n`;
  const error = thrownBy(text);
  t.type(error, ConfigError, `${JSON.stringify(text.slice(-14))} → ${String(error)}`);
});

t.test('found by fuzzing: an alias bomb is a ConfigError', async (t) => {
  const laughs = 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n';
  const error = thrownBy(laughs + MINIMAL);
  t.type(error, ConfigError, String(error));
});

t.test('found by fuzzing: a ${SECRET} value is not echoed by messages that quote the offending value', async (t) => {
  const secret = 'sssecret-value';
  const cases: Array<[string, string]> = [
    ['token: ${SECRET}', MINIMAL.replace('token: t', 'token: ${SECRET}')],
    ['route timeout: ${SECRET}', MINIMAL.replace('token: t', 'token: t\n    timeout: ${SECRET}')],
    ['shutdownTimeout: ${SECRET}', `${MINIMAL}shutdownTimeout: \${SECRET}\n`],
    ['two users named ${SECRET}', `${MINIMAL}inbound:\n  users:\n    - name: \${SECRET}\n      password: p\n    - name: \${SECRET}\n      password: q\n`],
  ];
  for (const [name, text] of cases) {
    const error = thrownBy(text, { SECRET: secret });
    t.ok(error instanceof ConfigError, `${name}: a ConfigError`);
    t.notMatch(error instanceof Error ? error.message : '', secret, `${name}: the secret is not in the message`);
  }
});

t.test('found by fuzzing: YAML syntax errors after a broken multi-line scalar are placed on their own line', async (t) => {
  // "g" is on line 6, column 3; "f" on line 5, column 1.
  const text = 'a:: \n}(\n  b: c\n  d: e\nf:\n  g: h\n';
  const error = thrownBy(text);
  t.type(error, ConfigError);
  const problems = error instanceof ConfigError ? error.problems : [];
  const where = (token: string) => problems.find((problem) => problem.message.endsWith(`YAML stream: "${token}"`));
  t.match(where('f'), { line: 5, column: 1 }, `"f" at 5:1, reported at ${where('f')?.line}:${where('f')?.column}`);
  t.match(where('g'), { line: 6, column: 3 }, `"g" at 6:3, reported at ${where('g')?.line}:${where('g')?.column}`);
});
