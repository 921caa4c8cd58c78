import t from 'tap';
import { ProxyError } from '../../src/errors.ts';
import { TokenProvider } from '../../src/tokens/provider.ts';
import type { AccessToken, TokenSource } from '../../src/tokens/token.ts';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/**
 * A source whose fetches the test settles by hand, so it can hold many callers on one
 * fetch and decide how it ends. (The real openid-client source is tested against a real
 * IdP in client-credentials.test.ts; this file tests the provider's own logic.)
 */
function scriptedSource(clock: { now(): number }, lifetimeMs = 60_000) {
  const pending: Array<{ resolve: (token: AccessToken) => void; reject: (error: unknown) => void }> = [];
  let issued = 0;
  const source: TokenSource = {
    name: 'scripted',
    fetchToken: () => new Promise((resolve, reject) => pending.push({ resolve, reject })),
  };
  return {
    source,
    get pending() {
      return pending.length;
    },
    succeed() {
      const now = clock.now();
      pending.shift()!.resolve({ value: `token-${++issued}`, tokenType: 'bearer', obtainedAt: now, expiresAt: now + lifetimeMs });
    },
    fail(error: unknown) {
      pending.shift()!.reject(error);
    },
  };
}

t.test('concurrent cold callers share one fetch', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock);
  const provider = new TokenProvider(idp.source, clock);
  const waiting = Array.from({ length: 1000 }, () => provider.getToken());
  t.equal(idp.pending, 1, 'one fetch for a thousand callers');
  idp.succeed();
  const tokens = await Promise.all(waiting);
  t.ok(tokens.every((token) => token.value === 'token-1'));
  t.equal(provider.stats.fetches, 1);
  t.equal(provider.stats.waited, 1000);
});

t.test('a cached token is reused until the expiry skew, then refetched', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock, 600_000);
  const provider = new TokenProvider(idp.source, clock, { expirySkewMs: 30_000 });
  const first = provider.getToken();
  idp.succeed();
  t.equal((await first).value, 'token-1');

  clock.advance(600_000 - 30_001);
  t.equal((await provider.getToken()).value, 'token-1', 'still fresh just before the skew');
  t.equal(idp.pending, 0);
  t.same(provider.state(), { status: 'valid', expiresAt: 1_000_000 + 600_000, obtainedAt: 1_000_000 });

  clock.advance(2);
  t.equal(provider.state().status, 'expired');
  const second = provider.getToken();
  t.equal(idp.pending, 1, 'inside the skew a new token is fetched');
  idp.succeed();
  t.equal((await second).value, 'token-2');
  t.equal(provider.stats.cached, 1);
});

t.test('the skew is capped at a tenth of a short lifetime', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock, 10_000);
  const provider = new TokenProvider(idp.source, clock, { expirySkewMs: 30_000 });
  const first = provider.getToken();
  idp.succeed();
  await first;
  clock.advance(8_999);
  t.equal((await provider.getToken()).value, 'token-1', 'a 10 s token is used for 9 s, not refetched at once');
  t.equal(idp.pending, 0);
});

t.test('a failed fetch reaches every waiter, and the next call tries again', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock);
  const provider = new TokenProvider(idp.source, clock);
  const waiting = [provider.getToken(), provider.getToken()];
  idp.fail(new ProxyError('TOKEN_UNAVAILABLE'));
  for (const result of await Promise.allSettled(waiting)) {
    t.equal(result.status, 'rejected');
    t.equal((result as PromiseRejectedResult).reason.code, 'TOKEN_UNAVAILABLE');
  }
  t.equal(provider.stats.fetchFailures, 1);
  t.same(provider.state(), { status: 'empty' });

  const retry = provider.getToken();
  t.equal(idp.pending, 1, 'no fetch stays stuck in flight after a failure');
  idp.succeed();
  t.equal((await retry).value, 'token-1');
});

t.test('invalidate drops only the token it names', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock);
  const provider = new TokenProvider(idp.source, clock);
  const first = provider.getToken();
  idp.succeed();
  const rejected = await first;

  provider.invalidate(rejected);
  const second = provider.getToken();
  idp.succeed();
  const fresh = await second;
  t.equal(fresh.value, 'token-2');

  provider.invalidate(rejected);
  t.equal((await provider.getToken()).value, 'token-2', 'a stale invalidation does not drop the newer token');
  t.equal(idp.pending, 0);
});
