import type { Clock } from '../clock.ts';
import { ProxyError } from '../errors.ts';

/** How failures of one kind of key (client address, or user name) are answered. */
export interface ThrottlePolicy {
  /** Failures answered at once; after these, each attempt waits first. */
  freeFailures: number;
  /** The first wait; it doubles with each further failure, up to maxDelayMs. */
  delayMs: number;
  maxDelayMs: number;
  /** From this many failures on, attempts are refused (429) for blockMs, doubling with each further failure, up to maxBlockMs. */
  blockAfter: number;
  blockMs: number;
  maxBlockMs: number;
}

export interface LoginThrottleOptions {
  clock: Clock;
  /** Per client address (IPv6 by /64, which one machine usually holds whole). */
  address?: Partial<ThrottlePolicy>;
  /** Per user name, whatever address the attempts come from. */
  user?: Partial<ThrottlePolicy>;
  /** A key's failures are forgotten this long after its last one. */
  forgetAfterMs?: number;
  /** Keys tracked at most (each map); the oldest are forgotten first. */
  maxKeys?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Told each wait and each refusal, for metrics. */
  onThrottle?: (by: 'address' | 'user', action: 'delayed' | 'refused') => void;
}

export interface LoginAttempt {
  /** Reports the check's outcome: a failure counts against the address and the name; a success clears the address. */
  settle(ok: boolean): void;
  /** The check did not run (the scrypt queue was full): nothing is counted. */
  abandon(): void;
}

export const DEFAULT_ADDRESS_POLICY: ThrottlePolicy = { freeFailures: 5, delayMs: 250, maxDelayMs: 4_000, blockAfter: 10, blockMs: 60_000, maxBlockMs: 15 * 60_000 };
export const DEFAULT_USER_POLICY: ThrottlePolicy = { freeFailures: 10, delayMs: 250, maxDelayMs: 4_000, blockAfter: 20, blockMs: 60_000, maxBlockMs: 15 * 60_000 };

/**
 * Brute-force throttling for Basic auth. Wrong guesses from one address, or for one user
 * name from anywhere, first wait longer and longer before they are checked, then are
 * refused with 429 AUTH_THROTTLED and Retry-After for a block that grows while they go on.
 * Attempts still being checked count as failures already, so concurrent connections gain
 * nothing. A user name under attack does not lock out its owner: an address that logged in
 * as that user before is not held back by the name's count, only by its own. A blocked
 * address is refused even the right password, since whatever answered it (scrypt, or the
 * cache of verified credentials) would tell a guesser which guess was right.
 */
export class LoginThrottle {
  readonly #clock: Clock;
  readonly #address: ThrottlePolicy;
  readonly #user: ThrottlePolicy;
  readonly #forgetAfterMs: number;
  readonly #maxKeys: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #onThrottle: LoginThrottleOptions['onThrottle'];
  readonly #byAddress = new Map<string, Failures>();
  readonly #byUser = new Map<string, Failures>();
  /** `user\0address` pairs that logged in, and when: the places a name's owner comes from. */
  readonly #familiar = new Map<string, number>();

  constructor(options: LoginThrottleOptions) {
    this.#clock = options.clock;
    this.#address = { ...DEFAULT_ADDRESS_POLICY, ...options.address };
    this.#user = { ...DEFAULT_USER_POLICY, ...options.user };
    this.#forgetAfterMs = options.forgetAfterMs ?? 30 * 60_000;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#onThrottle = options.onThrottle;
  }

  /** Waits as long as the failures so far ask, or refuses with AUTH_THROTTLED; resolves with the attempt to settle. */
  async admit(remoteAddress: string | undefined, user: string): Promise<LoginAttempt> {
    const address = addressKey(remoteAddress);
    const name = user.slice(0, 256);
    const now = this.#clock.now();
    const byAddress = this.#entry(this.#byAddress, address, now);
    // The name's count does not hold back an address its owner has logged in from.
    const byUser = this.#familiar.has(`${name}\0${address}`) ? undefined : this.#entry(this.#byUser, name, now);
    const blockedUntil = Math.max(byAddress.blockedUntil, byUser?.blockedUntil ?? 0);
    // Once a block has passed, one attempt at a time may try again (and, failing, doubles the block).
    const overAddress = byAddress.pending > 0 && byAddress.failures + byAddress.pending >= this.#address.blockAfter;
    const overUser = byUser !== undefined && byUser.pending > 0 && byUser.failures + byUser.pending >= this.#user.blockAfter;
    if (blockedUntil > now || overAddress || overUser) {
      this.#onThrottle?.(byAddress.blockedUntil > now || overAddress ? 'address' : 'user', 'refused');
      const waitMs = Math.max(blockedUntil - now, this.#address.blockMs / 4);
      throw new ProxyError('AUTH_THROTTLED', undefined, { headers: { 'retry-after': String(Math.ceil(waitMs / 1000)) }, logDetails: { attemptedUser: name.slice(0, 64) } });
    }
    const delay = Math.max(delayFor(this.#address, byAddress), byUser ? delayFor(this.#user, byUser) : 0);
    byAddress.pending++;
    if (byUser) byUser.pending++;
    if (delay > 0) {
      this.#onThrottle?.(delayFor(this.#address, byAddress) >= delay ? 'address' : 'user', 'delayed');
      await this.#sleep(delay);
    }
    let settled = false;
    const finish = (outcome: 'ok' | 'failed' | 'abandoned'): void => {
      if (settled) return;
      settled = true;
      byAddress.pending--;
      if (byUser) byUser.pending--;
      const at = this.#clock.now();
      if (outcome === 'failed') {
        this.#fail(this.#byAddress, address, this.#address, byAddress, at);
        if (byUser) this.#fail(this.#byUser, name, this.#user, byUser, at);
      } else if (outcome === 'ok') {
        this.#byAddress.delete(address);
        this.#remember(this.#familiar, `${name}\0${address}`, at);
      }
    };
    return { settle: (ok) => finish(ok ? 'ok' : 'failed'), abandon: () => finish('abandoned') };
  }

  #entry(map: Map<string, Failures>, key: string, now: number): Failures {
    let entry = map.get(key);
    if (entry && entry.pending === 0 && now - entry.lastFailureAt > this.#forgetAfterMs && now >= entry.blockedUntil) {
      map.delete(key);
      entry = undefined;
    }
    if (!entry) {
      entry = { failures: 0, pending: 0, lastFailureAt: now, blockedUntil: 0 };
      this.#remember(map, key, entry);
    }
    return entry;
  }

  #fail(map: Map<string, Failures>, key: string, policy: ThrottlePolicy, entry: Failures, now: number): void {
    // The newest failure keeps its key from being the first forgotten when the map is full.
    if (map.get(key) === entry) this.#remember(map, key, entry);
    entry.failures++;
    entry.lastFailureAt = now;
    if (entry.failures >= policy.blockAfter) {
      entry.blockedUntil = now + Math.min(policy.maxBlockMs, policy.blockMs * 2 ** Math.min(entry.failures - policy.blockAfter, 30));
    }
  }

  /** Sets a key as the newest; beyond maxKeys the oldest goes (an attacker with many addresses cannot grow this without bound). */
  #remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > this.#maxKeys) map.delete(map.keys().next().value!);
  }
}

interface Failures {
  failures: number;
  /** Attempts admitted and still being checked: counted as failures until they settle. */
  pending: number;
  lastFailureAt: number;
  blockedUntil: number;
}

function delayFor(policy: ThrottlePolicy, entry: Failures): number {
  const over = entry.failures + entry.pending - policy.freeFailures;
  return over < 0 ? 0 : Math.min(policy.maxDelayMs, policy.delayMs * 2 ** Math.min(over, 30));
}

/** IPv4 as is (also when IPv4-mapped), IPv6 by its /64: one host commonly has a whole /64 to pick addresses from. */
export function addressKey(address: string | undefined): string {
  if (!address) return '?';
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, '').toLowerCase())
    .join(':')}::/64`;
}
