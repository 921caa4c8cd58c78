import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import t from 'tap';
import { configSchema, type TokenSourceConfig } from '../../src/config/schema.ts';
import { ProxyError } from '../../src/errors.ts';
import { createClientCredentialsSource } from '../../src/tokens/client-credentials.ts';
import { generateTestKey } from '../helpers/keys.ts';
import { closeServer, listen } from '../helpers/listen.ts';
import { startProxy } from '../helpers/proxy.ts';
import { startScriptedIdp, tokenAnswer } from '../helpers/scripted-idp.ts';

/*
 * Upstreams and IdPs quote what they were sent. Whatever of their words the proxy repeats
 * (the 502 UPSTREAM_REJECTED_TOKEN message, a TOKEN_FETCH_FAILED message, the access log,
 * /_status) carries no token, client secret or client assertion, in any encoding, and is bounded.
 */

/** How much of a peer's words SECURITY.md says is repeated ("which are cut to 300 characters"), read from it so a change to either side fails here. */
const PROMISED_QUOTE_LENGTH = Number(/cut\s+to\s+(\d+)\s+characters/.exec(readFileSync(new URL('../../SECURITY.md', import.meta.url), 'utf8'))?.[1]);

/** Opaque tokens with the characters that encodings change (+ / = ~), so each form is a different string. */
const TOKENS = ['first+opaque/token=value~1', 'second+opaque/token=value~2'];

/** Every form in which a quoted value could come back. */
function forms(value: string): string[] {
  return [value, encodeURIComponent(value), new URLSearchParams({ x: value }).toString().slice(2), JSON.stringify(value).slice(1, -1).replaceAll('/', '\\/'), Buffer.from(value).toString('base64')];
}

type Quote = (sent: string, first: string, res: ServerResponse) => void;

/** Ways an upstream's 401 has been seen to quote the token (or the one before it). */
const UPSTREAM_QUOTES: Array<[string, Quote]> = [
  ['OData error message: "Bearer <token> is not valid here"', (sent, _first, res) => refuse(res, { error: { code: 'InvalidToken', message: `Bearer ${sent} is not valid here` } })],
  ['WWW-Authenticate error_description="token <token> expired"', (sent, _first, res) => refuse(res, '', `Bearer error="invalid_token", error_description="token ${sent} expired"`)],
  ['OAuth error_description with the previous token too', (sent, first, res) => refuse(res, { error: 'invalid_token', error_description: `revoked: ${first}; and ${sent}` })],
  ['percent-encoded in a URL', (sent, _first, res) => refuse(res, { message: `see https://api.test/check?access_token=${encodeURIComponent(sent)}` })],
  ['form-encoded', (sent, _first, res) => refuse(res, { message: `body was access_token=${new URLSearchParams({ x: sent }).toString().slice(2)}` })],
  ['JSON-escaped slashes (PHP)', (sent, _first, res) => refuse(res, `{"message":"token ${JSON.stringify(sent).slice(1, -1).replaceAll('/', '\\/')} refused"}`)],
  ['Base64 of the token', (sent, _first, res) => refuse(res, { message: `digest input ${Buffer.from(sent).toString('base64')}` })],
  ['after a lower-case scheme and a colon', (sent, _first, res) => refuse(res, { message: `header was authorization: bearer:${sent}` })],
];

function refuse(res: ServerResponse, body: unknown, challenge = 'Bearer error="invalid_token"'): void {
  res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': challenge });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

t.test('an upstream quoting the token in its 401: the 502 and the access log carry none of it', async (t) => {
  let issued = 0;
  const idp = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { access_token: TOKENS[issued++ % 2], token_type: 'Bearer', expires_in: 3600 }));
  let quote: Quote = () => undefined;
  const seen: string[] = [];
  const upstream = createServer((req: IncomingMessage, res) => {
    const sent = (req.headers.authorization ?? '').slice('Bearer '.length);
    seen.push(sent);
    quote(sent, seen[0]!, res);
  });
  const upstreamUrl = await listen(upstream);
  t.teardown(() => closeServer(upstream));
  const proxy = await startProxy(
    {
      tokens: { s: { tokenUrl: idp.tokenUrl, clientId: 'c', clientSecret: 'client-secret-9d1', allowInsecure: true } },
      routes: { '/api': { target: upstreamUrl, token: 's' } },
    },
    {
      clock: {
        now: (() => {
          let now = Date.now();
          return () => (now += 60_000);
        })(),
      },
    },
  );
  t.teardown(() => proxy.close());
  for (const [name, script] of UPSTREAM_QUOTES) {
    quote = script;
    seen.length = 0;
    const response = await fetch(`${proxy.url}/api/x`);
    const body = await response.text();
    t.equal(response.status, 502, name);
    t.equal(JSON.parse(body).error.code, 'UPSTREAM_REJECTED_TOKEN');
    const leaked = [...new Set(seen)].flatMap(forms).filter((form) => body.includes(form) || proxy.logText().includes(form));
    t.same(leaked, [], `${name}: no form of the ${new Set(seen).size} tokens sent`);
    t.match(JSON.parse(body).error.message, /\[redacted\]/, `${name}: the rest of the reason is kept`);
  }
  quote = (_sent, _first, res) => refuse(res, { message: `an upstream's essay: ${'x'.repeat(7000)}` });
  const long = await fetch(`${proxy.url}/api/x`);
  const message = ((await long.json()) as { error: { message: string } }).error.message;
  // The message is a fixed sentence, then the upstream's words cut to exactly the promised length (the ellipsis included).
  const quoted = message.slice(message.indexOf("an upstream's essay: "));
  t.match(message.slice(0, -quoted.length), /^The upstream service rejected the access token from "s"[^:]*: $/, 'only the fixed sentence comes before the quote');
  t.equal(quoted.length, PROMISED_QUOTE_LENGTH, `a 7000-character reason is cut to the ${PROMISED_QUOTE_LENGTH} characters SECURITY.md promises`);
  t.match(quoted, /^an upstream's essay: x+…$/, 'visibly, with an ellipsis in the last of them');
  quote = (_sent, _first, res) => refuse(res, { message: 'Bearer someone-elses-token-8844 is not ours either' });
  t.notMatch(await (await fetch(`${proxy.url}/api/x`)).text(), /someone-elses-token-8844/, 'whatever follows "Bearer " goes, even a token the proxy never sent');
});

const SECRET = 'Secr3t+/with spaces&=ü~-long-enough';
/** A platform-signed token as a projected service-account file holds it (its signature is not checked here). */
const FEDERATED =
  ['{"alg":"RS256","kid":"k8s"}', '{"iss":"https://oidc.prod-aks.azure.com/x/","sub":"system:serviceaccount:bi:proxy","aud":"api://AzureADTokenExchange"}']
    .map((part) => Buffer.from(part).toString('base64url'))
    .join('.') + '.c2lnbmF0dXJl';

function source(input: Record<string, unknown>): TokenSourceConfig {
  return configSchema.parse({ tokens: { s: { clientId: 'client+id', allowInsecure: true, ...input } }, routes: { '/r': { target: 'https://x.test', token: 's' } } }).tokens.s!;
}

async function failure(promise: Promise<unknown>): Promise<ProxyError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProxyError) return error;
    throw error;
  }
  throw new Error('expected the token fetch to fail');
}

/** What the IdP was sent that counts as a credential: the secret, the Basic header's credentials, the assertion. */
function credentialsIn(body: URLSearchParams, authorization: string | undefined): string[] {
  const basic = authorization?.replace(/^Basic /, '');
  return [body.get('client_secret'), body.get('client_assertion'), body.get('assertion'), basic, basic && Buffer.from(basic, 'base64').toString()].filter((value): value is string => Boolean(value));
}

t.test('an IdP quoting the client secret, the Basic credentials or the assertion: the message carries none of it', async (t) => {
  const keyed = generateTestKey('ec');
  const methods: Array<[string, Record<string, unknown>]> = [
    ['client_secret_post', { clientSecret: SECRET }],
    ['client_secret_basic', { clientSecret: SECRET, authMethod: 'client_secret_basic' }],
    ['private_key_jwt', { authMethod: 'private_key_jwt', privateKey: keyed.privateKeyPem }],
    ['client_secret_jwt', { clientSecret: SECRET, authMethod: 'client_secret_jwt', assertionAlgorithm: 'HS512' }],
    ['a federated token file', { clientAssertionFile: `${t.testdir({ federated: `${FEDERATED}\n` })}/federated` }],
    ['the jwt-bearer grant', { jwtBearer: { issuer: 'sa@project.example', privateKey: keyed.privateKeyPem } }],
  ];
  const answers: Array<[string, (quoted: string, res: ServerResponse) => void]> = [
    ['error_description', (quoted, res) => tokenAnswer(res, { error: 'invalid_client', error_description: `credentials ${quoted} are wrong` }, 400)],
    ['the error code itself', (quoted, res) => tokenAnswer(res, { error: `invalid_client:${quoted}` }, 400)],
    [
      'a WWW-Authenticate challenge',
      (quoted, res) => {
        res.writeHead(401, { 'www-authenticate': `Basic realm="idp", error="invalid_client", error_description="got ${quoted.replace(/["\\]/g, '')}"`, 'content-type': 'application/json' });
        res.end('{"error":"invalid_client"}');
      },
    ],
    ['a 401 error body without a challenge', (quoted, res) => tokenAnswer(res, { error: 'invalid_client', error_description: quoted }, 401)],
  ];
  for (const [method, settings] of methods) {
    for (const [where, answer] of answers) {
      let sent: string[] = [];
      const idp = await startScriptedIdp(t, (req, res, body) => {
        sent = credentialsIn(body, req.headers.authorization);
        answer(sent.join(' | '), res);
      });
      const error = await failure(createClientCredentialsSource('s', source({ tokenUrl: idp.tokenUrl, ...settings }), { clock: { now: () => Date.now() } }).fetchToken());
      t.ok(sent.length > 0, `${method}: the IdP was sent credentials`);
      const leaked = sent.flatMap(forms).filter((form) => form.length >= 8 && error.message.includes(form));
      t.same(leaked, [], `${method}, quoted in ${where}: nothing of it in "${error.message.slice(0, 120)}…"`);
    }
  }
});

t.test('an IdP error_description of a megabyte makes a short message', async (t) => {
  const idp = await startScriptedIdp(t, (_req, res) => tokenAnswer(res, { error: 'invalid_client', error_description: 'd'.repeat(1_000_000) }, 400));
  const proxy = await startProxy({
    tokens: { s: { tokenUrl: idp.tokenUrl, clientId: 'c', clientSecret: SECRET, allowInsecure: true } },
    routes: { '/api': { target: 'http://127.0.0.1:9', token: 's' } },
  });
  t.teardown(() => proxy.close());
  const response = await fetch(`${proxy.url}/api/x`);
  const body = await response.text();
  t.equal(response.status, 502);
  t.ok(body.length < 1000, `the error body is ${body.length} bytes`);
  t.ok(proxy.logText().length < 10_000, 'and so are the log lines');
  // The description alone is cut to the promised length; nothing but the fixed sentence and the error code comes before it.
  const message = (JSON.parse(body) as { error: { message: string } }).error.message;
  const description = /^The identity provider refused the token request for "s" with invalid_client: (d+…)$/.exec(message)?.[1] ?? '';
  t.equal(description.length, PROMISED_QUOTE_LENGTH, `the description is cut to the ${PROMISED_QUOTE_LENGTH} characters SECURITY.md promises (in "${message.slice(0, 90)}…")`);
});
