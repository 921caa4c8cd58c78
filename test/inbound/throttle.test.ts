import t from 'tap';
import { isProxyError, type ProxyError } from '../../src/errors.ts';
import { addressKey, DEFAULT_ADDRESS_POLICY, DEFAULT_USER_POLICY, LoginThrottle, type LoginThrottleOptions } from '../../src/inbound/throttle.ts';

/** A throttle on a clock the test moves, whose waits are recorded instead of slept. */
function throttle(options: Partial<LoginThrottleOptions> = {}) {
  let now = 1_000_000;
  const waits: number[] = [];
  const events: string[] = [];
  const limiter = new LoginThrottle({
    clock: { now: () => now },
    sleep: async (ms) => void waits.push(ms),
    onThrottle: (by, action) => events.push(`${by} ${action}`),
    ...options,
  });
  /** One guess, settled as given; resolves with 'ok', 'failed' or the refusal. */
  const guess = async (address: string, user: string, ok = false): Promise<string | ProxyError> => {
    try {
      const attempt = await limiter.admit(address, user);
      attempt.settle(ok);
      return ok ? 'ok' : 'failed';
    } catch (error) {
      if (isProxyError(error)) return error;
      throw error;
    }
  };
  return { limiter, waits, events, guess, advance: (ms: number) => (now += ms) };
}

const refused = (outcome: string | ProxyError) => typeof outcome !== 'string' && outcome.code === 'AUTH_THROTTLED';

t.test('one address: free failures, then growing waits, then 429 with Retry-After', async (t) => {
  const { waits, guess, events } = throttle();
  const outcomes = [];
  for (let i = 0; i < DEFAULT_ADDRESS_POLICY.blockAfter + 1; i++) outcomes.push(await guess('203.0.113.5', `user${i}`));
  t.same(outcomes.slice(0, DEFAULT_ADDRESS_POLICY.blockAfter).map(String), Array(DEFAULT_ADDRESS_POLICY.blockAfter).fill('failed'), 'the first ten are checked');
  t.same(waits, [250, 500, 1000, 2000, 4000], 'after five free failures each waits twice as long, up to 4 s');
  const refusal = outcomes.at(-1) as ProxyError;
  t.ok(refused(refusal), 'the eleventh is refused');
  t.match(refusal, { status: 429, headers: { 'retry-after': '60' } }, 'for a minute, and says so');
  t.ok(events.includes('address refused') && events.includes('address delayed'), 'each is reported (metrics)');
});

t.test('the block grows while the guessing goes on, and passes when it stops', async (t) => {
  const { guess, advance } = throttle();
  for (let i = 0; i < DEFAULT_ADDRESS_POLICY.blockAfter; i++) await guess('203.0.113.5', `u${i}`);
  advance(59_000);
  t.ok(refused(await guess('203.0.113.5', 'x')), 'still blocked after 59 s');
  advance(1_000);
  t.equal(await guess('203.0.113.5', 'x'), 'failed', 'after the minute one more guess is checked');
  const again = await guess('203.0.113.5', 'y');
  t.match(again, { headers: { 'retry-after': '120' } }, 'and failing, doubles the block');
  advance(30 * 60_000 + 120_000);
  t.equal(await guess('203.0.113.5', 'z'), 'failed', 'half an hour after the last failure it is forgotten');
});

t.test('concurrent guesses count before they finish: sixteen connections gain nothing', async (t) => {
  const { limiter } = throttle();
  const admitted = [];
  const outcomes = await Promise.allSettled(Array.from({ length: 16 }, () => limiter.admit('203.0.113.5', 'gateway')));
  for (const outcome of outcomes) if (outcome.status === 'fulfilled') admitted.push(outcome.value);
  t.equal(admitted.length, DEFAULT_ADDRESS_POLICY.blockAfter, 'only as many as would block are admitted at once');
  t.ok(
    outcomes.filter((outcome) => outcome.status === 'rejected').every((outcome) => refused(outcome.reason)),
    'the rest are refused',
  );
});

t.test('another address is not held back by this one’s failures', async (t) => {
  const { guess, waits } = throttle();
  for (let i = 0; i < 12; i++) await guess('203.0.113.5', `u${i}`);
  waits.length = 0;
  t.equal(await guess('198.51.100.7', 'gateway', true), 'ok');
  t.same(waits, [], 'without a wait');
});

t.test('a user name guessed from many addresses is throttled by name, but not for an address its owner used', async (t) => {
  const { guess, events } = throttle();
  t.equal(await guess('198.51.100.7', 'gateway', true), 'ok', 'the owner logs in from the gateway host');
  // A botnet: every address stays under its own limit.
  const outcomes = [];
  for (let i = 0; i < DEFAULT_USER_POLICY.blockAfter + 5; i++) outcomes.push(await guess(`203.0.113.${i}`, 'gateway'));
  t.equal(outcomes.filter((outcome) => outcome === 'failed').length, DEFAULT_USER_POLICY.blockAfter, 'twenty guesses at the name are checked');
  t.ok(outcomes.slice(DEFAULT_USER_POLICY.blockAfter).every(refused), 'the rest are refused, from any new address');
  t.ok(events.includes('user refused'));
  t.equal(await guess('198.51.100.7', 'gateway', true), 'ok', 'the owner, from the address it used before, is let in');
  t.ok(refused(await guess('192.0.2.99', 'gateway', true)), 'a first login from an address never seen waits out the block');
  t.equal(await guess('203.0.113.1', 'other-user'), 'failed', 'other names are unaffected');
});

t.test('a success clears its address; an abandoned check counts for nothing', async (t) => {
  const { limiter, guess, waits } = throttle();
  for (let i = 0; i < 8; i++) await guess('203.0.113.5', 'gateway');
  t.equal(await guess('203.0.113.5', 'gateway', true), 'ok');
  waits.length = 0;
  t.equal(await guess('203.0.113.5', 'gateway'), 'failed');
  t.same(waits, [], 'the address starts again from zero after logging in');
  for (let i = 0; i < 20; i++) (await limiter.admit('198.51.100.1', 'x')).abandon();
  t.equal(await guess('198.51.100.1', 'x'), 'failed', 'twenty abandoned checks (AUTH_BUSY) did not count');
});

t.test('bounded memory: beyond maxKeys the oldest keys are forgotten', async (t) => {
  const { guess } = throttle({ maxKeys: 100 });
  for (let i = 0; i < 10; i++) await guess('203.0.113.5', 'a');
  for (let i = 0; i < 150; i++) await guess(`10.0.${i >> 8}.${i & 255}`, `name-${i}`);
  t.equal(await guess('203.0.113.5', 'a'), 'failed', 'the first address was forgotten (its memory is bounded, not its count)');
});

t.test('addressKey: IPv4 as is, IPv4-mapped as IPv4, IPv6 by /64', async (t) => {
  const cases: Array<[string | undefined, string]> = [
    ['203.0.113.5', '203.0.113.5'],
    ['::ffff:203.0.113.5', '203.0.113.5'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::99', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    [undefined, '?'],
  ];
  for (const [address, key] of cases) t.equal(addressKey(address), key, String(address));
});
