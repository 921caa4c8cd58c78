import fc from 'fast-check';
import t from 'tap';
import { configSchema, crossReferenceIssues, type ConfigInput } from '../../src/config/schema.ts';
import { RouteTable } from '../../src/routes/table.ts';

/**
 * Fuzzing RouteTable.match with valid route prefixes and arbitrary request paths: it never
 * throws, and a match is the longest whole-segment prefix of the path, with prefix + rest
 * giving back the path.
 */

const TOKENS = { a: { tokenUrl: 'https://idp.example.com/token', clientId: 'c', clientSecret: 's' } };

function tableOf(prefixes: readonly string[]): RouteTable {
  const routes: ConfigInput['routes'] = Object.fromEntries(prefixes.map((prefix, index) => [prefix, { target: `https://up${index}.example.com/base/${index}`, token: 'a' }]));
  const input = { tokens: TOKENS, routes };
  // "Valid per the schema": the schema itself and the cross-reference checks that vet prefixes.
  const issues = crossReferenceIssues(input);
  if (issues.length > 0) throw new Error(`generated an invalid config: ${JSON.stringify(issues)}`);
  return RouteTable.fromConfig(configSchema.parse(input).routes);
}

/** A few short segments so that generated prefixes share and nest into each other often. */
const SEGMENTS = ['a', 'b', 'ab', 'a-b', 'a.b', '..a', 'a..', '...', '.x', 'sales', 'eu', 'v4', "o'k", '(1)', '$x', '%2F', '%2e', '~', '@', ':', 'A', 'x_y', '+'];
const segment = fc.oneof(
  { arbitrary: fc.constantFrom(...SEGMENTS), weight: 4 },
  { arbitrary: fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%-]{1,6}$/).filter((text) => text !== '.' && text !== '..'), weight: 1 },
);

const RESERVED = ['/healthz', '/readyz', '/metrics', '/_status'];
const prefix = fc
  .array(segment, { minLength: 1, maxLength: 4 })
  .map((segments) => `/${segments.join('/')}`)
  .filter((candidate) => !RESERVED.some((reserved) => candidate === reserved || candidate.startsWith(`${reserved}/`)));

const prefixes = fc.uniqueArray(prefix, { minLength: 1, maxLength: 8 });

const PATH_PIECES = ['/', '//', '/a', '/b', '/ab', 'a', '.', '..', '/..', '/./', '%2F', '%2f', '\\', '?', '#', '?x=/a', ';', ' ', '\0', 'é', '😀', '\uD800', '/x/'];

/** Paths near the prefixes (equal, one segment below, one character longer or shorter) or anything at all. */
function pathsNear(table: readonly string[]): fc.Arbitrary<string> {
  const base = fc.constantFrom(...table);
  return fc.oneof(
    base,
    fc.tuple(base, fc.array(fc.oneof(fc.constantFrom(...PATH_PIECES), segment), { maxLength: 4 })).map(([p, rest]) => p + rest.join('')),
    fc.tuple(base, fc.nat()).map(([p, cut]) => p.slice(0, cut % (p.length + 1))),
    fc.tuple(base, fc.string({ maxLength: 6 })).map(([p, extra]) => p + extra),
    fc.tuple(base, fc.string({ unit: 'binary', maxLength: 8 })).map(([p, extra]) => `${p}/${extra}`),
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.array(fc.oneof(fc.constantFrom(...PATH_PIECES), segment), { maxLength: 8 }).map((parts) => parts.join('')),
  );
}

const isSegmentPrefix = (candidate: string, path: string): boolean => path === candidate || path.startsWith(`${candidate}/`);

t.test('generated prefixes are valid routes', async (t) => {
  fc.assert(
    fc.property(prefixes, (list) => {
      const table = tableOf(list);
      return table.prefixes.length === list.length;
    }),
    { numRuns: 200 },
  );
  t.pass('every generated table is accepted by the schema');
});

t.test('match: never throws; the longest whole-segment prefix; prefix + rest === path', async (t) => {
  let matched = 0;
  let unmatched = 0;
  fc.assert(
    fc.property(
      prefixes.chain((list) => fc.tuple(fc.constant(list), fc.array(pathsNear(list), { minLength: 1, maxLength: 10 }))),
      ([list, paths]) => {
        const table = tableOf(list);
        for (const path of paths) {
          const match = table.match(path);
          const candidates = list.filter((candidate) => isSegmentPrefix(candidate, path));
          if (!match) {
            unmatched++;
            if (candidates.length > 0) throw new Error(`${JSON.stringify(path)} matched nothing, yet ${JSON.stringify(candidates)} are whole-segment prefixes of it`);
            continue;
          }
          matched++;
          const { prefix: got } = match.route;
          if (!list.includes(got)) throw new Error(`matched an unknown prefix ${JSON.stringify(got)}`);
          if (!isSegmentPrefix(got, path)) throw new Error(`${JSON.stringify(got)} is not a whole-segment prefix of ${JSON.stringify(path)}`);
          const longest = Math.max(...candidates.map((candidate) => candidate.length));
          if (got.length !== longest) throw new Error(`${JSON.stringify(path)} matched ${JSON.stringify(got)}, but ${JSON.stringify(candidates)} has a longer one`);
          if (got + match.rest !== path) throw new Error(`prefix ${JSON.stringify(got)} + rest ${JSON.stringify(match.rest)} !== ${JSON.stringify(path)}`);
          if (match.rest !== '' && !match.rest.startsWith('/')) throw new Error(`rest ${JSON.stringify(match.rest)} neither empty nor starting with "/"`);
        }
      },
    ),
    { numRuns: 400 },
  );
  t.ok(matched > 0 && unmatched > 0, `${matched} paths matched, ${unmatched} matched nothing`);
});

t.test('the order the routes are written in does not change any match', async (t) => {
  fc.assert(
    fc.property(
      prefixes.chain((list) => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }), fc.array(pathsNear(list), { maxLength: 10 }))),
      ([list, shuffled, paths]) => {
        const a = tableOf(list);
        const b = tableOf(shuffled);
        for (const path of paths) {
          const left = a.match(path);
          const right = b.match(path);
          if (left?.route.prefix !== right?.route.prefix || left?.rest !== right?.rest) {
            throw new Error(`${JSON.stringify(path)}: ${left?.route.prefix} vs ${right?.route.prefix} depending on order`);
          }
        }
      },
    ),
    { numRuns: 200 },
  );
  t.pass('order-independent');
});
