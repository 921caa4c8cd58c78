import t from 'tap';
import { stringify } from 'yaml';
import { configJsonSchema } from '../../src/config/json-schema.ts';
import { ConfigError, parseConfig } from '../../src/config/load.ts';

// Every key of the schema, given each kind of wrong value: whatever the loader says must be
// in the project's words, never zod's ("Invalid input: expected number, received string").

type Node = { [key: string]: unknown };
const ZOD_WORDING = /Invalid (input|option|string|key|element)|Too (small|big)|received \w+|expected (string|number|int|boolean|array|object|record|map)\b|[<>]=?\d/;
const WRONG_VALUES: unknown[] = [1, -1, 1.5, 70_000, 'x', '', true, [], [1], {}, { a: 1 }, null];

const base = () =>
  ({ tokens: { lake: { tokenUrl: 'https://idp.example.com/token', clientId: 'c', clientSecret: 's' } }, routes: { '/sales': { target: 'https://api.example.com/odata', token: 'lake' } } }) as Record<
    string,
    unknown
  >;

/** Every key path the JSON Schema names, with records and lists stepped into by an example key. */
function keyPaths(node: Node, path: Array<string | number>, out: Array<Array<string | number>>): Array<Array<string | number>> {
  for (const [key, child] of Object.entries((node.properties as Record<string, Node> | undefined) ?? {})) {
    out.push([...path, key]);
    keyPaths(child, [...path, key], out);
  }
  const record = node.additionalProperties;
  if (typeof record === 'object' && record !== null) keyPaths(record as Node, [...path, path.at(-1) === 'tokens' ? 'lake' : path.at(-1) === 'routes' ? '/sales' : 'x-extra'], out);
  if (typeof node.items === 'object' && node.items !== null) keyPaths(node.items as Node, [...path, 0], out);
  for (const child of (node.anyOf as Node[] | undefined) ?? []) keyPaths(child, path, out);
  return out;
}

/** The base config with value at path (parents created, a user given a name and password). */
function withValue(path: Array<string | number>, value: unknown): Record<string, unknown> {
  const config = base();
  let node = config as Record<string | number, unknown>;
  path.slice(0, -1).forEach((segment, index) => {
    const next = path[index + 1];
    if (typeof node[segment] !== 'object' || node[segment] === null) node[segment] = typeof next === 'number' ? [] : {};
    node = node[segment] as Record<string | number, unknown>;
    if (typeof segment === 'number') Object.assign(node, { name: 'u', password: 'p', ...node });
  });
  node[path.at(-1)!] = value;
  return config;
}

t.test('no message zod wrote itself reaches the user', async (t) => {
  const paths = [...new Map(keyPaths(configJsonSchema() as Node, [], []).map((path) => [JSON.stringify(path), path])).values()];
  const messages = new Map<string, string>();
  for (const path of paths) {
    for (const value of WRONG_VALUES) {
      try {
        parseConfig(stringify(withValue(path, value)), { env: {}, readFile: () => 'not a pem' });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const problem of error.problems) if (!messages.has(problem.message)) messages.set(problem.message, `${path.join('.')}: ${JSON.stringify(value)}`);
      }
    }
  }
  t.ok(paths.length > 50, `${paths.length} keys`);
  t.ok(messages.size > 50, `${messages.size} distinct messages`);
  const raw = [...messages].filter(([message]) => ZOD_WORDING.test(message)).map(([message, where]) => `${where} → ${message}`);
  t.same(raw, [], 'map them in src/config/issue-messages.ts');
});

t.test('the wrong kind of value is named as YAML writes it, once', async (t) => {
  const problems = (text: string) => {
    try {
      parseConfig(`${text}\ntokens: { lake: { tokenUrl: "https://i/t", clientId: c, clientSecret: s } }\nroutes: { /s: { target: "https://a", token: lake } }\n`, { env: {} });
    } catch (error) {
      return (error as ConfigError).problems.map((problem) => `${problem.path.join('.')}: ${problem.message}`);
    }
    return [];
  };
  t.same(problems('listen: { port: "eighty" }'), ['listen.port: expected a number, not the text "eighty"']);
  t.same(problems('listen: { port: 80.5 }'), ['listen.port: expected a whole number, not 80.5']);
  t.same(problems('listen: { port: 70000 }'), ['listen.port: must be 65535 or less']);
  t.same(problems('listen: { host: [] }'), ['listen.host: expected text, not a list'], 'not also "too small"');
  t.same(problems('listen: { host: "" }'), ['listen.host: must not be empty']);
  t.same(problems('listen:\n  host:'), ['listen.host: has no value (expected text)'], 'an empty value is not a missing key');
  t.same(problems('inbound: { anonymous: everyone }'), ['inbound.anonymous: expected one of loopback, any, none, not the text "everyone"']);
  t.same(problems('inbound: { users: { name: u } }'), ['inbound.users: expected a list (- item lines, or [a, b]), not a mapping']);
  t.same(problems('inbound: { trustForwardedHeaders: "yes" }'), ['inbound.trustForwardedHeaders: expected true or false, not the text "yes"']);
  t.same(problems('listen: 8080'), ['listen: expected a mapping (key: value lines), not the number 8080']);
});

t.test('a number where text belongs is not repeated: it is most often a secret written without quotes', async (t) => {
  const problemsIn = (text: string): string[] => {
    try {
      parseConfig(text, { env: {} });
    } catch (error) {
      return (error as ConfigError).problems.map((problem) => `${problem.path.join('.')}: ${problem.message}`);
    }
    return [];
  };
  const route = 'routes: { /s: { target: "https://a", token: lake } }\n';
  const secret = problemsIn(`tokens: { lake: { tokenUrl: "https://i/t", clientId: c, clientSecret: 80443217766151 } }\n${route}`);
  t.same(secret, ['tokens.lake.clientSecret: expected text, not a number (write it in quotes)']);
  const password = problemsIn(`inbound: { users: [{ name: gateway, password: 987654321012 }] }\ntokens: { lake: { tokenUrl: "https://i/t", clientId: c, clientSecret: s } }\n${route}`);
  t.match(password, [/^inbound\.users\.0\.password: /]);
  t.notMatch(password.join('\n'), '987654321012', 'nor a numeric password');
});
