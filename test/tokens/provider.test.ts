import t from 'tap';
import { ProxyError } from '../../src/errors.ts';
import { TokenProvider, type TokenDemand } from '../../src/tokens/provider.ts';
import { RetryLaterError, type AccessToken, type TokenSource } from '../../src/tokens/token.ts';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** Counts how getToken calls were answered, through the provider's onDemand seam. */
function demands() {
  const counts: Record<TokenDemand, number> = { cached: 0, refreshedAhead: 0, waited: 0, failedFast: 0 };
  return { counts, onDemand: (outcome: TokenDemand) => void counts[outcome]++ };
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
  const seen = demands();
  const provider = new TokenProvider(idp.source, clock, { onDemand: seen.onDemand });
  const waiting = Array.from({ length: 1000 }, () => provider.getToken());
  t.equal(idp.pending, 1, 'one fetch for a thousand callers');
  idp.succeed();
  const tokens = await Promise.all(waiting);
  t.ok(tokens.every((token) => token.value === 'token-1'));
  t.equal(provider.stats.fetches, 1);
  t.equal(seen.counts.waited, 1000);
});

t.test('a cached token is reused until the expiry skew, then refetched', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock, 600_000);
  // refreshAhead: 1 switches the background refresh off, to see expiry on its own.
  const seen = demands();
  const provider = new TokenProvider(idp.source, clock, { onDemand: seen.onDemand, expirySkewMs: 30_000, refreshAhead: 1 });
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
  t.equal(seen.counts.cached, 1);
});

t.test('the skew is capped at a tenth of a short lifetime', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock, 10_000);
  const provider = new TokenProvider(idp.source, clock, { expirySkewMs: 30_000, refreshAhead: 1 });
  const first = provider.getToken();
  idp.succeed();
  await first;
  clock.advance(8_999);
  t.equal((await provider.getToken()).value, 'token-1', 'a 10 s token is used for 9 s, not refetched at once');
  t.equal(idp.pending, 0);
});

t.test('a failed fetch reaches every waiter; the next attempt waits for the backoff step', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock);
  const seen = demands();
  const provider = new TokenProvider(idp.source, clock, { onDemand: seen.onDemand, backoff: { initialMs: 1_000, maxMs: 60_000 }, random: () => 1 });
  const waiting = [provider.getToken(), provider.getToken()];
  idp.fail(new ProxyError('TOKEN_UNAVAILABLE'));
  for (const result of await Promise.allSettled(waiting)) {
    t.equal(result.status, 'rejected');
    t.equal((result as PromiseRejectedResult).reason.code, 'TOKEN_UNAVAILABLE');
  }
  t.equal(provider.stats.fetchFailures, 1);
  t.same(provider.state(), { status: 'empty' });

  clock.advance(999);
  await t.rejects(provider.getToken(), { code: 'TOKEN_UNAVAILABLE', headers: { 'retry-after': '1' } }, 'fails fast inside the step');
  t.equal(idp.pending, 0, 'without calling the IdP');
  clock.advance(1);
  const retry = provider.getToken();
  t.equal(idp.pending, 1, 'one attempt once the step has passed');
  idp.succeed();
  t.equal((await retry).value, 'token-1');
  t.equal(seen.counts.failedFast, 1);
});

t.test('the requests whose fetch failed get a Retry-After saying when the next attempt is due, as later ones do', async (t) => {
  const cases = [
    { error: new ProxyError('TOKEN_UNAVAILABLE', 'the identity provider refused the connection'), code: 'TOKEN_UNAVAILABLE', status: 503 },
    { error: new ProxyError('TOKEN_FETCH_FAILED', 'refused with invalid_client'), code: 'TOKEN_FETCH_FAILED', status: 502 },
    { error: new Error('not a ProxyError'), code: 'TOKEN_UNAVAILABLE', status: 503 },
  ];
  for (const { error, code, status } of cases) {
    const clock = manualClock();
    const idp = scriptedSource(clock);
    // A step of 4 s with this jitter is a wait of 2.6 s: Retry-After rounds it up to 3.
    const provider = new TokenProvider(idp.source, clock, { backoff: { initialMs: 4_000, maxMs: 60_000 }, random: () => 0.3 });
    const waiting = [provider.getToken(), provider.getToken()];
    idp.fail(error);
    for (const result of await Promise.allSettled(waiting)) {
      t.match((result as PromiseRejectedResult).reason, { code, status, headers: { 'retry-after': '3' } }, `${error.message}: each waiter`);
    }
    clock.advance(1_000);
    await t.rejects(provider.getToken(), { code, status, headers: { 'retry-after': '2' } }, `${error.message}: failed fast 1 s later`);
  }

  const clock = manualClock();
  const idp = scriptedSource(clock);
  const provider = new TokenProvider(idp.source, clock, { backoff: { initialMs: 200, maxMs: 60_000 }, random: () => 0 });
  const waiting = provider.getToken();
  idp.fail(new ProxyError('TOKEN_UNAVAILABLE'));
  await t.rejects(waiting, { code: 'TOKEN_UNAVAILABLE', headers: { 'retry-after': '1' } }, 'a wait under a second is still at least 1 s');
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

t.test('an upstream 401 drops the token at most once per interval, so callers cannot make the proxy hammer the IdP', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock, 3600_000);
  const provider = new TokenProvider(idp.source, clock, { rejectionRefetchIntervalMs: 30_000 });
  const first = provider.getToken();
  idp.succeed();
  const refused = await first;
  t.equal(provider.invalidate(refused), true, 'the first refusal drops the token');
  const second = provider.getToken();
  t.equal(idp.pending, 1, 'and the next request fetches another');
  idp.succeed();
  const fresh = await second;

  clock.advance(29_999);
  t.equal(provider.invalidate(fresh), false, 'another refusal within 30 s keeps the token');
  t.equal(await provider.getToken(), fresh, 'no fetch');
  t.equal(idp.pending, 0);
  clock.advance(1);
  t.equal(provider.invalidate(fresh), true, 'after 30 s a refusal drops it again');
  const third = provider.getToken();
  idp.succeed();
  t.equal((await third).value, 'token-3');
  t.equal(provider.stats.fetches, 3);
});

/** A source that answers at once, succeeding or failing as the test sets it. */
function switchableSource(clock: { now(): number }, lifetimeMs: number) {
  let up = true;
  let issued = 0;
  let calls = 0;
  const source: TokenSource = {
    name: 'switchable',
    fetchToken: async () => {
      calls++;
      if (!up) throw new ProxyError('TOKEN_UNAVAILABLE', 'IdP down', { headers: { 'retry-after': '5' } });
      const now = clock.now();
      return { value: `token-${++issued}`, tokenType: 'bearer', obtainedAt: now, expiresAt: now + lifetimeMs };
    },
  };
  return {
    source,
    get calls() {
      return calls;
    },
    set up(value: boolean) {
      up = value;
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

t.test('refresh-ahead: at 80% of its life a token is renewed in the background', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock, 100_000);
  const seen = demands();
  const provider = new TokenProvider(idp.source, clock, { onDemand: seen.onDemand });
  const first = provider.getToken();
  idp.succeed();
  await first;

  clock.advance(79_999);
  await provider.getToken();
  t.equal(idp.pending, 0, 'not yet due');
  clock.advance(1);
  t.equal((await provider.getToken()).value, 'token-1', 'the caller gets the current token at once');
  t.equal(idp.pending, 1, 'while a refresh starts in the background');
  t.equal((await provider.getToken()).value, 'token-1');
  t.equal(idp.pending, 1, 'only one refresh in flight');
  idp.succeed();
  await settle();
  t.equal((await provider.getToken()).value, 'token-2');
  t.same([seen.counts.waited, seen.counts.refreshedAhead], [1, 1]);
});

t.test('cachedToken answers what getToken would from the cache, refresh-ahead included, and nothing else', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock, 100_000);
  const seen = demands();
  const provider = new TokenProvider(idp.source, clock, { onDemand: seen.onDemand });
  t.equal(provider.cachedToken(), undefined, 'nothing held: only getToken can answer');
  t.equal(idp.pending, 0, 'and asking started no fetch');
  const first = provider.getToken();
  idp.succeed();
  const token = await first;
  t.equal(provider.cachedToken(), token, 'the token getToken gave, in the same tick');
  clock.advance(80_000);
  t.equal(provider.cachedToken(), token, 'due for renewal: still the current token');
  t.equal(idp.pending, 1, 'and the background refresh starts, as getToken starts it');
  idp.succeed();
  await settle();
  clock.advance(100_000);
  t.equal(provider.cachedToken(), undefined, 'expired: not answered from the cache');
  t.equal(idp.pending, 0, 'nor fetched for');
  t.same([seen.counts.cached, seen.counts.refreshedAhead, seen.counts.waited], [1, 1, 1], 'each answer counted once, the misses not at all');
});

t.test('steady traffic across ten expiries never waits on the IdP', async (t) => {
  const clock = manualClock();
  const idp = switchableSource(clock, 10_000);
  const answered = demands();
  const provider = new TokenProvider(idp.source, clock, { onDemand: answered.onDemand });
  const seen = new Set<string>();
  for (let second = 0; second < 100; second++) {
    for (let request = 0; request < 5; request++) seen.add((await provider.getToken()).value);
    await settle();
    clock.advance(1_000);
  }
  t.equal(answered.counts.waited, 1, 'only the very first request waited');
  t.ok(seen.size >= 10, `tokens were renewed (${seen.size} used)`);
  t.equal(provider.stats.fetches, idp.calls);
  t.equal(provider.stats.fetchFailures, 0);
});

t.test('IdP down with a valid token: requests succeed; after expiry: fail fast, one attempt per step; IdP back: recovery', async (t) => {
  const clock = manualClock();
  const idp = switchableSource(clock, 100_000);
  const provider = new TokenProvider(idp.source, clock, { backoff: { initialMs: 1_000, maxMs: 8_000 }, random: () => 1 });
  await provider.getToken();
  idp.up = false;

  clock.advance(80_000);
  for (let i = 0; i < 50; i++) t.equal((await provider.getToken()).value, 'token-1');
  await settle();
  t.equal(idp.calls, 2, 'one failed background refresh, not fifty');
  clock.advance(500);
  await provider.getToken();
  await settle();
  t.equal(idp.calls, 2, 'no new attempt inside the backoff step');

  clock.advance(20_000); // the token is now past its expiry (minus skew)
  const attemptsBefore = idp.calls;
  const outcomes: string[] = [];
  for (let ms = 0; ms < 30_000; ms += 250) {
    await provider.getToken().then(
      () => outcomes.push('ok'),
      (error: ProxyError) => outcomes.push(`${error.code} ${error.headers['retry-after']}`),
    );
    clock.advance(250);
  }
  t.notOk(outcomes.includes('ok'), 'no token while the IdP is down');
  t.ok(
    outcomes.every((outcome) => /^TOKEN_UNAVAILABLE \d+$/.test(outcome)),
    'always 503 material with Retry-After',
  );
  t.ok(idp.calls - attemptsBefore <= 7, `attempts follow the steps 2, 4, 8, 8… s (${idp.calls - attemptsBefore} in 30 s)`);

  idp.up = true;
  clock.advance(8_000);
  t.match((await provider.getToken()).value, /^token-/, 'recovered without a restart');
  t.equal(provider.state().status, 'valid');
});

t.test('backoff doubles up to its cap, with jitter between half and all of the step', async (t) => {
  const delays = async (random: number) => {
    const clock = manualClock();
    const idp = switchableSource(clock, 60_000);
    idp.up = false;
    const provider = new TokenProvider(idp.source, clock, { backoff: { initialMs: 1_000, maxMs: 8_000 }, random: () => random });
    const steps: number[] = [];
    let lastAttemptAt = clock.now();
    let lastCalls = 0;
    while (steps.length < 6) {
      await provider.getToken().catch(() => undefined);
      if (idp.calls !== lastCalls) {
        if (lastCalls > 0) steps.push(clock.now() - lastAttemptAt);
        lastCalls = idp.calls;
        lastAttemptAt = clock.now();
      }
      clock.advance(100);
    }
    return steps;
  };
  t.same(await delays(0.999), [1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  t.same(await delays(0), [500, 1_000, 2_000, 4_000, 4_000, 4_000]);
});

t.test('the source is told why it fetches: renewing the token held, or replacing one an upstream refused', async (t) => {
  const clock = manualClock();
  const contexts: Array<{ renewing?: string; rejected?: string }> = [];
  let issued = 0;
  const provider = new TokenProvider(
    {
      name: 'told',
      fetchToken: async (context) => {
        contexts.push({ ...(context?.renewing ? { renewing: context.renewing.value } : {}), ...(context?.rejected ? { rejected: context.rejected.value } : {}) });
        const now = clock.now();
        return { value: `token-${++issued}`, tokenType: 'bearer', obtainedAt: now, expiresAt: now + 100_000 };
      },
    },
    clock,
  );
  const first = await provider.getToken();
  clock.advance(80_000);
  await provider.getToken();
  await settle();
  const second = await provider.getToken();
  provider.invalidate(second);
  await provider.getToken();
  t.same(contexts, [{}, { renewing: 'token-1' }, { rejected: 'token-2' }]);
  t.equal(first.value, 'token-1');
  t.equal(provider.current()?.value, 'token-3', 'current() is the token held, without a fetch');
});

t.test('refresh() joins or starts a fetch, but keeps a failure’s backoff step', async (t) => {
  const clock = manualClock();
  const idp = switchableSource(clock, 600_000);
  const provider = new TokenProvider(idp.source, clock, { backoff: { initialMs: 10_000, maxMs: 10_000 }, random: () => 1 });
  await provider.getToken();
  const [a, b] = await Promise.all([provider.refresh(), provider.refresh()]);
  t.equal(a, b, 'two refreshes share one fetch');
  t.equal(idp.calls, 2);
  idp.up = false;
  await t.rejects(provider.refresh(), { code: 'TOKEN_UNAVAILABLE' });
  const failedFast = await provider.refresh().then(
    () => undefined,
    (error: unknown) => error as ProxyError,
  );
  t.equal(failedFast?.headers['retry-after'], '10', 'inside the step it fails fast');
  t.equal(idp.calls, 3);
});

t.test('honourRetryAfter: a relayed failure’s Retry-After lengthens the wait; otherwise the provider keeps its own', async (t) => {
  for (const honour of [false, true]) {
    const clock = manualClock();
    const idp = switchableSource(clock, 600_000); // fails with Retry-After: 5
    idp.up = false;
    const provider = new TokenProvider(idp.source, clock, { backoff: { initialMs: 1_000, maxMs: 1_000 }, random: () => 1, honourRetryAfter: honour });
    await provider.getToken().catch(() => undefined);
    clock.advance(1_001);
    await provider.getToken().catch(() => undefined);
    t.equal(idp.calls, honour ? 1 : 2, honour ? 'still waiting out the 5 s it was told' : 'its own 1 s step has passed');
  }
});

t.test('an IdP that says when to retry (RetryLaterError) is not asked sooner, nor waited for past backoff.max', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock);
  const provider = new TokenProvider(idp.source, clock, { backoff: { initialMs: 1_000, maxMs: 60_000 }, random: () => 1 });
  const first = provider.getToken();
  idp.fail(new RetryLaterError('TOKEN_UNAVAILABLE', 'throttled', 20_000));
  await t.rejects(first, { code: 'TOKEN_UNAVAILABLE', headers: { 'retry-after': '20' } }, 'callers are told the wait the IdP asked for');
  clock.advance(19_999);
  await t.rejects(provider.getToken(), { code: 'TOKEN_UNAVAILABLE' });
  t.equal(idp.pending, 0, 'past the 1 s backoff step but inside the 20 s asked for: no attempt');
  clock.advance(1);
  const second = provider.getToken();
  t.equal(idp.pending, 1, 'at 20 s it asks again');
  idp.fail(new RetryLaterError('TOKEN_UNAVAILABLE', 'throttled', 3_600_000));
  await t.rejects(second, { code: 'TOKEN_UNAVAILABLE', headers: { 'retry-after': '60' } }, 'an hour is capped at backoff.max');
});

t.test('what the status page reads: fetched at, and from when the next fetch happens', async (t) => {
  const clock = manualClock();
  const idp = scriptedSource(clock, 100_000);
  const provider = new TokenProvider(idp.source, clock, { refreshAhead: 0.8, backoff: { initialMs: 2_000, maxMs: 2_000 }, random: () => 1 });
  t.equal(provider.nextFetch(), undefined, 'nothing planned before the first request');
  t.notOk(provider.isFetching());
  const first = provider.getToken();
  t.ok(provider.isFetching(), 'a fetch under way');
  idp.succeed();
  await first;
  t.notOk(provider.isFetching());
  t.same(provider.state(), { status: 'valid', obtainedAt: 1_000_000, expiresAt: 1_100_000 });
  t.same(provider.nextFetch(), { reason: 'refresh', at: 1_080_000 }, 'refreshed from 80% of its lifetime');
  clock.advance(85_000);
  const cached = provider.getToken();
  t.ok(provider.isFetching(), 'past that point a request starts the refresh');
  idp.fail(new ProxyError('TOKEN_UNAVAILABLE', 'down'));
  await cached;
  await new Promise((resolve) => setImmediate(resolve));
  t.same(provider.nextFetch(), { reason: 'retry', at: 1_087_000 }, 'after a failure: the end of the backoff step');
  clock.advance(100_000);
  t.match(provider.state(), { status: 'expired', obtainedAt: 1_000_000, expiresAt: 1_100_000 }, 'an expired token says when it was fetched too');
});
