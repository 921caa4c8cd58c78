import type { ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { formatInstant, systemClock } from '../../src/clock.ts';
import { configSchema, type TokenSourceConfig } from '../../src/config/schema.ts';
import { ProxyError } from '../../src/errors.ts';
import { createClientCredentialsSource } from '../../src/tokens/client-credentials.ts';
import { createTransport } from '../../src/http/transport.ts';
import { createTokenSource } from '../../src/tokens/factory.ts';
import { RetryLaterError, type AccessToken } from '../../src/tokens/token.ts';
import { startScriptedIdp } from '../helpers/scripted-idp.ts';

/**
 * Fuzzing the token fetch with what a broken or hostile IdP may answer: statuses, content
 * types, bodies that are not JSON or JSON of the wrong shape, values of every type in every
 * field, keys an object already has, the client secret quoted back. A fetch gives a token
 * the proxy can send (visible ASCII, Bearer, a lifetime ahead) or a ProxyError with a token
 * code, a bounded message and no secret; never a TypeError from a field of the wrong type.
 */

const SECRET = 'fuzz-client-secret+/=~9f3a';

const TOKENS: unknown[] = [
  'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
  'opaque-token_1.2~3+4/5=',
  '',
  ' padded ',
  'a b',
  'a\r\nX-Injected: 1',
  'caf\u00e9',
  'x'.repeat(100_000),
  123,
  null,
  {},
  [],
  true,
  SECRET,
  '__proto__',
];
const TYPES: unknown[] = ['Bearer', 'Bearer', 'bearer', 'BEARER', ' Bearer ', 'mac', 'DPoP', 'N_A', '', 123, null, 'constructor', '__proto__', { type: 'Bearer' }];
const LIFETIMES: unknown[] = [3600, 3600, '3600', ' 60 ', 0, -1, 1, 3600.5, '1e3', 'abc', '', null, 1e308, Number.MAX_SAFE_INTEGER, 9e15, {}, [3600], true];
const EXPIRES_ON: unknown[] = [String(Math.floor(Date.now() / 1000) + 1800), Math.floor(Date.now() / 1000) + 1800, '12/1/2026 10:00:00 PM +00:00', 'soon', '-5', 0, null];
const DESCRIPTIONS: unknown[] = [
  'AADSTS7000215: Invalid client secret provided.',
  `the secret ${SECRET} is wrong`,
  `secret=${encodeURIComponent(SECRET)}`,
  'd'.repeat(50_000),
  42,
  null,
  { nested: SECRET },
  'line\r\nbreak',
  '\u0000\u001b[31mred',
];
const ERRORS: unknown[] = ['invalid_client', 'invalid_scope', 'unauthorized_client', 'temporarily_unavailable', '', 7, null, '__proto__', 'constructor'];

interface Answer {
  status: number;
  contentType: string | undefined;
  headers: Array<[string, string]>;
  body: string | Buffer;
}

type Flaw = 'access_token' | 'token_type' | 'expires_in' | 'expires_on' | 'scope' | 'error' | 'prototypeKey' | 'missing';

/** A good token answer with zero, one or two fields made wrong (of any type, missing, or a key every object has), so each flaw is met on its own. */
const tokenJson = fc.uniqueArray(fc.constantFrom<Flaw>('access_token', 'token_type', 'expires_in', 'expires_on', 'scope', 'error', 'prototypeKey', 'missing'), { maxLength: 2 }).chain((flaws) =>
  fc
    .record({
      access_token: flaws.includes('access_token') ? fc.constantFrom(...TOKENS) : fc.constant<unknown>(TOKENS[0]),
      token_type: flaws.includes('token_type') ? fc.constantFrom(...TYPES) : fc.constant<unknown>('Bearer'),
      expires_in: flaws.includes('expires_in') ? fc.constantFrom(...LIFETIMES) : fc.constant<unknown>(3600),
      expires_on: flaws.includes('expires_on') ? fc.constantFrom(...EXPIRES_ON) : fc.constant<unknown>(undefined),
      scope: flaws.includes('scope') ? fc.constantFrom<unknown>('api:read', '', 5, null, ['a', 'b']) : fc.constant<unknown>(undefined),
      error: flaws.includes('error') ? fc.constantFrom(...ERRORS) : fc.constant<unknown>(undefined),
      error_description: flaws.includes('error') ? fc.constantFrom(...DESCRIPTIONS) : fc.constant<unknown>(undefined),
      missing: flaws.includes('missing') ? fc.constantFrom('access_token', 'token_type', 'expires_in') : fc.constant(undefined),
      prototypeKey: flaws.includes('prototypeKey') ? fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty') : fc.constant(undefined),
    })
    .map(({ prototypeKey, missing, ...fields }) => {
      const present = Object.entries(fields).filter(([key, value]) => value !== undefined && key !== missing);
      // JSON.parse makes "__proto__" an own key, as an IdP's answer would: written by hand, not through an object.
      const members = present.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`);
      if (prototypeKey) members.push(`${JSON.stringify(prototypeKey)}:{"access_token":"polluted","token_type":"Bearer"}`);
      return `{${members.join(',')}}`;
    }),
);

const notJson = fc.constantFrom(
  '',
  'null',
  '[]',
  '"a string"',
  '123',
  '{"access_token":',
  'access_token=abc&token_type=bearer&expires_in=3600',
  '<html><body>Maintenance</body></html>',
  '\ufeff{"access_token":"bom","token_type":"Bearer","expires_in":3600}',
  '{"access_token":"one","access_token":"two","token_type":"Bearer","expires_in":3600}',
  '{"access_token":"x","token_type":"Bearer","expires_in":3600}garbage',
);

const answer: fc.Arbitrary<Answer> = fc
  .record({
    status: fc.oneof({ arbitrary: fc.constant(200), weight: 6 }, { arbitrary: fc.constantFrom(201, 204, 302, 400, 401, 403, 404, 429, 500, 502, 503), weight: 1 }),
    contentType: fc.oneof(
      { arbitrary: fc.constant<string | undefined>('application/json'), weight: 6 },
      {
        arbitrary: fc.constantFrom<string | undefined>(undefined, 'application/json; charset=utf-8', 'text/html', 'text/plain', 'application/x-www-form-urlencoded', 'application/jwt', ''),
        weight: 1,
      },
    ),
    headers: fc.array(
      fc.constantFrom<[string, string]>(
        ['Retry-After', '45'],
        ['Retry-After', 'Wed, 21 Oct 2037 07:28:00 GMT'],
        ['Retry-After', '-1'],
        ['Retry-After', '99999999999999999999'],
        ['Retry-After', 'soon'],
        ['Location', 'https://login.example/elsewhere'],
        ['Cache-Control', 'no-store'],
        ['WWW-Authenticate', `Basic realm="${SECRET}"`],
      ),
      { maxLength: 2 },
    ),
    body: fc.oneof({ arbitrary: tokenJson, weight: 8 }, { arbitrary: notJson, weight: 1 }),
    gzip: fc.constantFrom<'none' | 'honest' | 'lying'>('none', 'none', 'none', 'none', 'none', 'honest', 'lying'),
  })
  .map(({ gzip, ...rest }) => {
    if (gzip === 'none') return rest;
    const headers: Array<[string, string]> = [...rest.headers, ['Content-Encoding', 'gzip']];
    return { ...rest, headers, body: gzip === 'honest' ? gzipSync(rest.body) : rest.body };
  });

function reply(res: ServerResponse, a: Answer): void {
  const headers: Array<[string, string]> = [...a.headers];
  if (a.contentType !== undefined) headers.push(['Content-Type', a.contentType]);
  res.writeHead(a.status, headers.flat());
  res.end(a.status === 204 ? undefined : a.body);
}

function sourceConfig(source: Record<string, unknown>): TokenSourceConfig {
  return configSchema.parse({ tokens: { s: source }, routes: { '/r': { target: 'https://x.test', token: 's' } } }).tokens.s!;
}

/** One source, fetching from an endpoint that answers as the case says. */
type Fetcher = (tokenUrl: string, t: Test) => () => Promise<AccessToken>;

const SOURCES: Array<[string, Fetcher]> = [
  [
    'client credentials',
    (tokenUrl) => {
      const source = createClientCredentialsSource('s', sourceConfig({ tokenUrl, clientId: 'fuzz-client', clientSecret: SECRET, allowInsecure: true }), { clock: systemClock });
      return () => source.fetchToken();
    },
  ],
  [
    // App Service's endpoint answers with the same fields, its numbers as strings; the secret is its X-IDENTITY-HEADER.
    'managed identity',
    (tokenUrl, t) => {
      const env = { IDENTITY_ENDPOINT: tokenUrl, IDENTITY_HEADER: SECRET };
      const transport = createTransport({ env });
      t.teardown(() => transport.close());
      const source = createTokenSource('s', sourceConfig({ managedIdentity: { resource: 'https://storage.azure.com/' } }), { transport, clock: systemClock, env });
      return () => source.fetchToken();
    },
  ],
];

for (const [kind, fetcherFor] of SOURCES) {
  t.test(`${kind}: every answer gives a token the proxy can send, or a ProxyError with a token code, bounded, without the secret`, async (t) => {
    let current: Answer | undefined;
    const idp = await startScriptedIdp(t, (_req, res) => reply(res, current!));
    const fetchToken = fetcherFor(idp.tokenUrl, t);
    const outcomes = new Map<string, number>();
    const failures: string[] = [];

    await fc
      .assert(
        fc.asyncProperty(answer, async (a) => {
          current = a;
          const shown = () => JSON.stringify({ ...a, body: String(a.body).slice(0, 300) });
          let token: AccessToken | undefined;
          let failed: unknown;
          try {
            token = await fetchToken();
          } catch (error) {
            failed = error;
          }
          if (failed !== undefined) {
            if (!(failed instanceof ProxyError)) throw new Error(`not a ProxyError: ${failed instanceof Error ? failed.stack : JSON.stringify(failed)} for ${shown()}`);
            outcomes.set(failed.code, (outcomes.get(failed.code) ?? 0) + 1);
            if (failed.code !== 'TOKEN_FETCH_FAILED' && failed.code !== 'TOKEN_UNAVAILABLE') throw new Error(`code ${failed.code} for ${shown()}`);
            for (const form of [SECRET, encodeURIComponent(SECRET)]) if (failed.message.includes(form)) throw new Error(`the secret in "${failed.message}"`);
            if (failed.message.length > 1_000) throw new Error(`a message of ${failed.message.length} characters for ${shown()}`);
            if (failed instanceof RetryLaterError && !(Number.isFinite(failed.retryAfterMs) && failed.retryAfterMs >= 0)) throw new Error(`a wait of ${failed.retryAfterMs} ms for ${shown()}`);
            return;
          }
          if (!token) throw new Error(`no token and no error for ${shown()}`);
          outcomes.set('token', (outcomes.get('token') ?? 0) + 1);
          if (typeof token.value !== 'string' || !/^[\x21-\x7e]+$/.test(token.value))
            throw new Error(`a token a header cannot carry: ${JSON.stringify(String(token.value).slice(0, 80))} for ${shown()}`);
          if (token.value === 'polluted') throw new Error(`a token from a key every object has, for ${shown()}`);
          if (token.tokenType !== 'bearer') throw new Error(`token type ${token.tokenType} for ${shown()}`);
          if (!(Number.isFinite(token.expiresAt) && token.expiresAt > token.obtainedAt)) throw new Error(`expiresAt ${token.expiresAt} (obtained ${token.obtainedAt}) for ${shown()}`);
          if (formatInstant(token.expiresAt).startsWith('(')) throw new Error(`an expiry no Date can hold: ${token.expiresAt} for ${shown()}`);
          if (token.scope !== undefined && typeof token.scope !== 'string') throw new Error(`scope ${JSON.stringify(token.scope)} for ${shown()}`);
        }),
        // FUZZ_SEED and FUZZ_PATH (as printed on a failure) replay one run; FUZZ_RUNS runs longer.
        { numRuns: Number(process.env.FUZZ_RUNS ?? 300), ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED), path: process.env.FUZZ_PATH } : {}) },
      )
      .catch((error: Error) => failures.push(`${error.message}\n${error.cause instanceof Error ? error.cause.message : String(error.cause)}`));
    t.same(failures, [], 'every answer gave a usable token or a token error');
    t.comment(`outcomes: ${JSON.stringify([...outcomes])}`);
    // Both kinds must come up in a full run (a replay of one failing case, FUZZ_PATH, has only that one).
    if (!process.env.FUZZ_PATH) {
      t.ok((outcomes.get('token') ?? 0) >= 30, `some answers were usable tokens (${outcomes.get('token') ?? 0})`);
      t.ok((outcomes.get('TOKEN_FETCH_FAILED') ?? 0) + (outcomes.get('TOKEN_UNAVAILABLE') ?? 0) >= 30, 'and many were refused');
    }
  });
}
