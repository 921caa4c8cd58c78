import t from 'tap';
import { z } from 'zod';
import { configSchema } from '../../src/config/schema.ts';
import { knownKeysAt, suggestKey } from '../../src/config/suggest.ts';
import type { KeyPath } from '../../src/config/positions.ts';

t.test('suggestKey: the closest key when it is close enough to be a typo', async (t) => {
  const cases: Array<[string, string[], string | undefined, string]> = [
    ['scopes', ['scope', 'resource'], 'scope', 'one letter too many'],
    ['clientsecret', ['clientId', 'clientSecret'], 'clientSecret', 'case differences cost nothing'],
    ['tokenURL', ['tokenUrl', 'issuer'], 'tokenUrl', 'case again'],
    ['anonymus', ['anonymous', 'users'], 'anonymous', 'a missing letter'],
    ['taget', ['target', 'token', 'timeout'], 'target', 'the nearest of several'],
    ['rewriteUrl', ['rewriteUrls', 'headers'], 'rewriteUrls', ''],
    ['tiemout', ['target', 'timeout'], 'timeout', 'a transposition costs two'],
    ['passwordhsh', ['password', 'passwordHash'], 'passwordHash', 'longer keys tolerate more'],
    ['zzz', ['scope', 'resource'], undefined, 'nothing close'],
    ['authentication', ['authMethod', 'audience'], undefined, 'same start, too different'],
    ['a', [], undefined, 'no candidates'],
  ];
  for (const [unknown, known, expected, name] of cases) t.equal(suggestKey(unknown, known), expected, `${unknown} → ${expected} ${name}`.trim());
});

t.test('suggestKey: the tolerance is max(2, a third of the typed key)', async (t) => {
  t.equal(suggestKey('ab', ['xy']), 'xy', 'short keys: two edits are still a typo');
  t.equal(suggestKey('abc', ['xyz']), undefined, 'three edits on a short key are not');
  t.equal(suggestKey('abcdefghi', ['abcxyzghi']), 'abcxyzghi', 'nine letters: three edits allowed');
  t.equal(suggestKey('abcdefghi', ['abwxyzghi']), undefined, 'four are not');
  t.equal(suggestKey('hosts', ['host', 'posts']), 'host', 'ties go to the first candidate');
});

t.test('knownKeysAt on the real config schema', async (t) => {
  const tokenKeys = [
    'tokenUrl',
    'issuer',
    'clientId',
    'clientSecret',
    'privateKey',
    'keyId',
    'certificate',
    'clientAssertionFile',
    'azureWorkloadIdentity',
    'assertionAudience',
    'assertionAlgorithm',
    'tls',
    'certificateBoundTokens',
    'managedIdentity',
    'jwtBearer',
    'scope',
    'resource',
    'audience',
    'authMethod',
    'params',
    'allowInsecure',
    'ca',
    'timeout',
    'defaultExpiresIn',
    'maxLifetime',
    'prefetch',
    'refreshAhead',
    'backoff',
  ];
  const cases: Array<[KeyPath, string[], string]> = [
    [[], ['listen', 'inbound', 'tokens', 'routes', 'admin', 'statusPage', 'shutdownTimeout'], 'the top level'],
    [['listen'], ['host', 'port', 'tls'], 'through a default'],
    [['inbound'], ['anonymous', 'users', 'trustForwardedHeaders', 'allowedHosts'], ''],
    [['inbound', 'users', 0], ['name', 'password', 'passwordHash'], 'through an array and a refinement'],
    [['inbound', 'users', 5], ['name', 'password', 'passwordHash'], 'any index'],
    [['tokens', 'anyName'], tokenKeys, 'through a record and a superRefine'],
    [
      ['routes', '/x'],
      ['target', 'token', 'timeout', 'maxConnections', 'headers', 'rewriteUrls', 'forwardedHeaders', 'ca', 'clientCert', 'clientKey', 'allowInsecure'],
      'a route (through a superRefine)',
    ],
    [['tokens'], [], 'a record has no fixed keys'],
    [['tokens', 'a', 'params'], [], 'a record of strings'],
    [['routes', '/x', 'headers'], [], ''],
    [['listen', 'port'], [], 'a scalar has no keys'],
    [['routes', '/x', 'timeout'], [], 'a duration (a pipe) has no keys'],
    [['listen', 'port', 'deeper'], [], 'below a scalar'],
    [['nonexistent'], [], 'an unknown key'],
    [['nonexistent', 'deeper'], [], ''],
  ];
  for (const [path, expected, name] of cases) t.same(knownKeysAt(configSchema, path), expected, `${JSON.stringify(path)} ${name}`.trim());
});

t.test('knownKeysAt steps through optional, nullable and piped wrappers', async (t) => {
  const schema = z.object({
    a: z.object({ inner: z.string() }).optional(),
    b: z.object({ x: z.number() }).nullable().default(null),
    c: z.object({ y: z.number() }).transform((value) => value.y),
  });
  t.same(knownKeysAt(schema, ['a']), ['inner']);
  t.same(knownKeysAt(schema, ['b']), ['x']);
  t.same(knownKeysAt(schema, ['c']), ['y']);
});
