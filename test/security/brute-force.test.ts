import { request, type IncomingMessage } from 'node:http';
import t from 'tap';
import { isProxyError } from '../../src/errors.ts';
import { createAuthenticator, HASH_CHECKS_AT_ONCE, HASH_CHECKS_WAITING } from '../../src/inbound/auth.ts';
import { hashPassword } from '../../src/inbound/password.ts';
import { externalIPv4 } from '../helpers/listen.ts';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts';
import { startStack } from '../helpers/stack.ts';

/*
 * Basic auth against guessing. Before: 16 keep-alive connections from another host made
 * about 3,400 wrong guesses per second against a plain password, every one a plain 401
 * (bench/hostile-peers.ts guesses). Now plain passwords are scrypt-hashed at load, and
 * failures are throttled per client address and per user name: growing waits, then 429
 * AUTH_THROTTLED with Retry-After, counted in /metrics, without locking out the owner.
 */

const PASSWORD = 'right-password-3391';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A GET from a chosen local address (127.0.0.0/8 is all loopback on Linux: each is a different client address). */
function get(url: string, authorization: string, localAddress?: string): Promise<{ status: number; retryAfter: string | undefined; code: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization, connection: 'close' }, ...(localAddress ? { localAddress } : {}) }, (res: IncomingMessage) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        const code = res.statusCode === 200 ? undefined : (JSON.parse(body) as { error: { code: string } }).error.code;
        resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], code });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function metricsOf(url: string) {
  return parsePrometheusText(await (await fetch(`${url}/metrics`, { headers: { authorization: basic('gateway', PASSWORD) } })).text());
}

t.test('a remote guesser is slowed, then refused with 429; the owner on another address is not', async (t) => {
  const waits: number[] = [];
  const { proxy, upstream } = await startStack(t, {
    host: '0.0.0.0',
    inbound: { anonymous: 'none', users: [{ name: 'gateway', password: PASSWORD }] },
    deps: { throttle: { sleep: async (ms) => void waits.push(ms) } },
  });
  const { port } = new URL(proxy.url);
  const remote = `http://${externalIPv4()}:${port}`;
  const local = `http://127.0.0.1:${port}`;
  t.equal((await get(`${local}/api/x`, basic('gateway', PASSWORD))).status, 200, 'the owner logs in');

  const answers = [];
  for (let i = 0; i < 14; i++) answers.push(await get(`${remote}/api/x`, basic(i % 2 ? 'gateway' : `guess-${i}`, `wrong-${i}`)));
  t.same(
    answers.slice(0, 10).map((answer) => answer.code),
    Array(10).fill('AUTH_INVALID'),
    'ten wrong guesses are checked',
  );
  t.same(waits, [250, 500, 1000, 2000, 4000], 'the sixth to tenth each waited twice as long as the one before');
  t.same(
    answers.slice(10).map((answer) => [answer.status, answer.code]),
    Array(4).fill([429, 'AUTH_THROTTLED']),
    'then they are refused',
  );
  t.equal(answers[10]!.retryAfter, '60', 'with Retry-After');
  t.equal((await get(`${remote}/api/x`, basic('gateway', PASSWORD))).status, 429, 'even the right password, from the blocked address');

  t.equal((await get(`${local}/api/x`, basic('gateway', PASSWORD))).status, 200, 'the owner on another address is served');
  t.equal(upstream.requests.length, 2, 'nothing the guesser sent was forwarded');

  const metrics = await metricsOf(local);
  t.equal(sampleValue(metrics, 'bearer_proxy_auth_failures_total', { code: 'AUTH_THROTTLED' }), 5, 'refusals are counted');
  t.equal(sampleValue(metrics, 'bearer_proxy_auth_throttled_total', { by: 'address', action: 'delayed' }), 5, 'and the waits');
  t.equal(sampleValue(metrics, 'bearer_proxy_auth_throttled_total', { by: 'address', action: 'refused' }), 5);
  const logged = proxy.logs.filter((line) => (line.error as { code?: string } | undefined)?.code === 'AUTH_THROTTLED');
  t.equal(logged.length, 5, 'and logged');
  t.match(logged[0]?.error, { attemptedUser: 'guess-10' }, 'with the name tried');
});

t.test('a name guessed from many addresses is refused by name; its owner keeps working, across a reload too', async (t) => {
  const { proxy } = await startStack(t, {
    inbound: { anonymous: 'none', users: [{ name: 'gateway', password: PASSWORD }] },
    deps: { throttle: { sleep: async () => undefined } },
  });
  const { port } = new URL(proxy.url);
  const at = (address: string) => `http://${address}:${port}/api/x`;
  t.equal((await get(at('127.0.0.1'), basic('gateway', PASSWORD), '127.0.0.1')).status, 200, 'the owner logs in from 127.0.0.1');
  // Thirty addresses, four guesses each: none reaches its own address limit.
  const codes = new Map<string, number>();
  for (let host = 2; host < 32; host++) {
    for (let i = 0; i < 4; i++) {
      const { code = 'OK' } = await get(at('127.0.0.1'), basic('gateway', `wrong-${host}-${i}`), `127.0.0.${host}`);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
  }
  t.equal(codes.get('AUTH_INVALID'), 20, 'twenty guesses at the name were checked');
  t.equal(codes.get('AUTH_THROTTLED'), 100, 'the other hundred were refused');
  // A reload builds a new authenticator (its cache of verified credentials starts empty); the throttle stays.
  proxy.proxy.reload(proxy.proxy.config);
  t.equal((await get(at('127.0.0.1'), basic('gateway', PASSWORD), '127.0.0.1')).status, 200, 'the owner, from the address it logged in from, is served');
  t.equal((await get(at('127.0.0.1'), basic('gateway', PASSWORD), '127.0.0.200')).status, 429, 'a first login from an unseen address waits out the name’s block');
});

t.test('a plain password costs a guesser what a hashed one does: every check runs scrypt through the same queue', async (t) => {
  const passwordHash = await hashPassword('hashed-password', { N: 1024, r: 8, p: 1 });
  const authenticator = createAuthenticator(
    {
      anonymous: 'none',
      users: [
        { name: 'plain', password: PASSWORD },
        { name: 'hashed', passwordHash },
      ],
    },
    { throttle: null, plainPasswordCost: { N: 1024, r: 8, p: 1 } },
  );
  const codesFor = async (user: string) => {
    const request = (i: number) => ({ headers: { authorization: basic(user, `wrong-${i}`) }, socket: { remoteAddress: '10.0.0.9' } }) as unknown as IncomingMessage;
    const outcomes = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => Promise.resolve(authenticator.authenticate(request(i)))));
    return outcomes.map((outcome) => (outcome.status === 'rejected' && isProxyError(outcome.reason) ? outcome.reason.code : 'admitted'));
  };
  const expected = [...Array(HASH_CHECKS_AT_ONCE + HASH_CHECKS_WAITING).fill('AUTH_INVALID'), ...Array(60 - HASH_CHECKS_AT_ONCE - HASH_CHECKS_WAITING).fill('AUTH_BUSY')];
  for (const user of ['plain', 'hashed', 'unknown-name'])
    t.same((await codesFor(user)).sort(), expected.sort(), `${user}: ${HASH_CHECKS_AT_ONCE + HASH_CHECKS_WAITING} checks ran or waited, the burst's rest got AUTH_BUSY`);
  t.same(
    await authenticator.authenticate({ headers: { authorization: basic('plain', PASSWORD) }, socket: { remoteAddress: '10.0.0.9' } } as unknown as IncomingMessage),
    { user: 'plain' },
    'the plain password still works',
  );
});
