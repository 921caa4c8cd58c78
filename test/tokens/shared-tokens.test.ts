import { EventEmitter } from 'node:events';
import t from 'tap';
import { ProxyError } from '../../src/errors.ts';
import { TokenProvider } from '../../src/tokens/provider.ts';
import { answerTokenRequests, sharedTokenSources, type Channel } from '../../src/tokens/shared-tokens.ts';
import type { AccessToken } from '../../src/tokens/token.ts';

/** Two ends of a link that, like process IPC, deliver a copy of each message on a later tick. */
function channelPair(): [Channel, Channel] {
  const a = new EventEmitter();
  const b = new EventEmitter();
  const end = (mine: EventEmitter, theirs: EventEmitter): Channel => ({
    send: (message) => setImmediate(() => theirs.emit('message', structuredClone(message))),
    on: (event, listener) => mine.on(event, listener),
  });
  return [end(a, b), end(b, a)];
}

function clockAt(start: number) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** The primary's real provider over an IdP the test counts, and N workers' providers over the relay. */
function host(workers: number, options: { fail?: () => ProxyError | undefined } = {}) {
  const clock = clockAt(1_000_000);
  let issued = 0;
  const primary = new TokenProvider(
    {
      name: 'lake',
      fetchToken: async () => {
        const failure = options.fail?.();
        if (failure) throw failure;
        const now = clock.now();
        return { value: `token-${++issued}`, tokenType: 'bearer', obtainedAt: now, expiresAt: now + 100_000 } satisfies AccessToken;
      },
    },
    clock,
  );
  const providers = Array.from({ length: workers }, () => {
    const [toPrimary, toWorker] = channelPair();
    answerTokenRequests(toWorker, (name) => (name === 'lake' ? primary : undefined));
    return new TokenProvider(sharedTokenSources(toPrimary)('lake'), clock, { honourRetryAfter: true });
  });
  return { clock, primary, workers: providers, issued: () => issued };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

t.test('many cold requests in several workers: one IdP fetch for the host', async (t) => {
  const { workers, issued } = host(4);
  const tokens = await Promise.all(workers.flatMap((provider) => Array.from({ length: 50 }, () => provider.getToken())));
  t.equal(issued(), 1);
  t.same(new Set(tokens.map((token) => token.value)), new Set(['token-1']), 'every worker got the same token');
});

t.test('renewal ahead of expiry: each worker gets the one new token, without waiting', async (t) => {
  const { clock, workers, issued } = host(3);
  await Promise.all(workers.map((provider) => provider.getToken()));
  clock.advance(80_000); // past refresh-ahead (80%), still valid
  const during = await Promise.all(workers.map((provider) => provider.getToken()));
  t.same(
    during.map((token) => token.value),
    ['token-1', 'token-1', 'token-1'],
    'the current token serves while renewal runs',
  );
  await settle();
  const after = await Promise.all(workers.map((provider) => provider.getToken()));
  t.same(
    after.map((token) => token.value),
    ['token-2', 'token-2', 'token-2'],
  );
  t.equal(issued(), 2, 'one renewal for the host, not one per worker');
});

t.test('a 401 in one worker drops the token at the primary once, within its rate limit', async (t) => {
  const { workers, primary, issued } = host(2);
  const [first, second] = workers;
  const token = await first!.getToken();
  await second!.getToken();
  t.ok(first!.invalidate(token));
  t.equal((await first!.getToken()).value, 'token-2', 'the refusing worker gets a new token');
  t.equal(primary.current()?.value, 'token-2');
  const stale = await second!.getToken();
  t.equal(stale.value, 'token-1', 'the other worker keeps its cached one until it, too, is refused');
  t.ok(second!.invalidate(stale));
  t.equal((await second!.getToken()).value, 'token-2', 'and then gets the new one, without another IdP fetch');
  t.equal(issued(), 2);
});

t.test('IdP failures reach the workers with the primary’s Retry-After; an unknown source is refused', async (t) => {
  let failing = true;
  const { workers, clock, issued } = host(2, { fail: () => (failing ? new ProxyError('TOKEN_FETCH_FAILED', 'invalid_client') : undefined) });
  const errors = await Promise.all(
    workers.map((provider) =>
      provider.getToken().then(
        () => undefined,
        (error: unknown) => error as ProxyError,
      ),
    ),
  );
  t.same(
    errors.map((error) => error?.code),
    ['TOKEN_FETCH_FAILED', 'TOKEN_FETCH_FAILED'],
  );
  t.ok(
    errors.every((error) => Number(error?.headers['retry-after']) >= 1),
    'with Retry-After',
  );
  t.equal(issued(), 0);
  failing = false;
  clock.advance(61_000);
  t.equal((await workers[0]!.getToken()).value, 'token-1', 'after the step, a worker recovers');

  const [toPrimary, toWorker] = channelPair();
  answerTokenRequests(toWorker, () => undefined);
  await t.rejects(sharedTokenSources(toPrimary)('gone').fetchToken(), { code: 'TOKEN_UNAVAILABLE', message: /No token source named "gone"/ });
});
