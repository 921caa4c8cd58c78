import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { InboundConfig } from '../config/schema.ts';
import { ProxyError } from '../errors.ts';
import { refuseCrossSite, refuseRebinding } from './browser-guard.ts';
import { isLoopbackAddress } from './loopback.ts';
import { hashPassword, verifyPasswordHash } from './password.ts';
import { LoginThrottle } from './throttle.ts';
import { systemClock } from '../clock.ts';

export const BASIC_CHALLENGE = 'Basic realm="bearer-proxy", charset="UTF-8"';
const CHALLENGE_HEADERS = { 'www-authenticate': BASIC_CHALLENGE };

export type AuthResult = { user?: string };

export interface Authenticator {
  /**
   * The caller's identity, or a rejection with AUTH_REQUIRED / AUTH_INVALID (never a
   * throw). A caller let in without credentials is answered at once, not with a promise:
   * that is every request from Power BI Desktop, and a promise per request showed in its
   * cost. `loopback` is the request's own decision about its socket, made once by the caller.
   */
  authenticate(req: IncomingMessage, loopback?: boolean): AuthResult | Promise<AuthResult>;
}

const ANONYMOUS: AuthResult = Object.freeze({});

interface Account {
  name: string;
  check(password: string): Promise<boolean>;
}

/**
 * Power Query sends Basic credentials with every request, and scrypt is slow on purpose,
 * so a successful check is remembered for the life of this authenticator, keyed by an
 * HMAC under a random per-process key (the password itself is never kept).
 */
const VERIFIED_CACHE_LIMIT = 1000;

export interface AuthenticatorOptions {
  /**
   * Brute-force throttling; one per server, so a reload keeps what it has counted.
   * Default: a new one for this authenticator. null turns it off (tests of other behaviour).
   */
  throttle?: LoginThrottle | null;
  /** scrypt cost of the hashes made at load for plain passwords (tests make it cheap). */
  plainPasswordCost?: Parameters<typeof hashPassword>[1];
}

export function createAuthenticator(inbound: Pick<InboundConfig, 'anonymous' | 'users'> & { allowedHosts?: readonly string[] }, options: AuthenticatorOptions = {}): Authenticator {
  const allowedHosts = new Set(inbound.allowedHosts ?? []);
  const hashChecks = new HashCheckQueue();
  const throttle = options.throttle === undefined ? new LoginThrottle({ clock: systemClock }) : options.throttle;
  const hashes = new Map(inbound.users.map((user) => [user.name, storedHash(user, options.plainPasswordCost)]));
  const accounts = new Map<string, Account>(inbound.users.map((user) => [user.name, toAccount(user.name, hashes.get(user.name)!, hashChecks)]));
  const rejectUnknownUser = unknownUserCheck([...hashes.values()][0], hashChecks);
  const cacheKey = randomBytes(32);
  const verified = new Set<string>();

  const anonymousAllowed = (loopback: boolean): boolean => inbound.anonymous === 'any' || (inbound.anonymous === 'loopback' && loopback);

  const checkCredentials = async (req: IncomingMessage, credentials: BasicCredentials): Promise<AuthResult> => {
    const account = accounts.get(credentials.user);
    const fingerprint = createHmac('sha256', cacheKey).update(credentials.user).update('\0').update(credentials.password).digest('base64');
    // Before the cache too: answered from it unthrottled, a blocked guesser would learn at
    // full speed whether a guess is a password someone has used.
    const attempt = await throttle?.admit(req.socket.remoteAddress, credentials.user);
    if (account && verified.has(fingerprint)) {
      attempt?.settle(true);
      return { user: account.name };
    }
    let ok: boolean;
    try {
      ok = account ? await account.check(credentials.password) : await rejectUnknownUser(credentials.password);
    } catch (error) {
      attempt?.abandon();
      throw error;
    }
    attempt?.settle(ok && account !== undefined);
    // The name tried is logged so an operator can see who is failing; the password never is.
    if (!ok || !account) throw new ProxyError('AUTH_INVALID', undefined, { headers: CHALLENGE_HEADERS, logDetails: { attemptedUser: credentials.user.slice(0, 64) } });
    if (verified.size >= VERIFIED_CACHE_LIMIT) verified.clear();
    verified.add(fingerprint);
    return { user: account.name };
  };

  return {
    authenticate(req, loopback = isLoopbackAddress(req.socket.remoteAddress)) {
      try {
        // Before any password is looked at: a page elsewhere must not act with credentials the browser cached.
        refuseCrossSite(req, allowedHosts);
        const header = req.headers.authorization;
        const credentials = header === undefined ? undefined : parseBasic(header);
        // A caller allowed in anonymously may still send credentials (Power Query's Basic
        // mode does); they are checked only when accounts exist to check them against.
        if (anonymousAllowed(loopback) && (credentials === undefined || accounts.size === 0)) {
          refuseRebinding(req, allowedHosts);
          return ANONYMOUS;
        }
        if (header === undefined) throw new ProxyError('AUTH_REQUIRED', undefined, { headers: CHALLENGE_HEADERS });
        if (!credentials) throw new ProxyError('AUTH_INVALID', 'The Authorization header must use the Basic scheme.', { headers: CHALLENGE_HEADERS });
        return checkCredentials(req, credentials);
      } catch (error) {
        // Refused as a rejection, whichever check refused: callers await one kind of failure.
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
  };
}

/**
 * A plain password is hashed with scrypt when the config is loaded, so every account is
 * checked the same slow way: a plain one no longer answers a guess in microseconds (500-1,400
 * guesses per second per core), and its name is not told apart from an unknown one by timing.
 */
function storedHash(user: InboundConfig['users'][number], cost: AuthenticatorOptions['plainPasswordCost']): Promise<string> {
  if (user.passwordHash !== undefined) return Promise.resolve(user.passwordHash);
  const hashed = hashPassword(user.password ?? '', cost);
  hashed.catch(() => undefined); // a failure surfaces at the first check, not as an unhandled rejection
  return hashed;
}

function toAccount(name: string, hash: Promise<string>, hashChecks: HashCheckQueue): Account {
  return { name, check: async (password) => hashChecks.run(async () => verifyPasswordHash(password, await hash)) };
}

/**
 * An unknown user name costs what a known one does, so timing does not reveal which
 * names exist: a full scrypt run against an account's hash (of the same cost).
 */
function unknownUserCheck(decoy: Promise<string> | undefined, hashChecks: HashCheckQueue): (password: string) => Promise<false> {
  return async (password) => {
    if (decoy) await hashChecks.run(async () => verifyPasswordHash(password, await decoy));
    return false;
  };
}

/** scrypt checks run at once; two of libuv's four threads stay free for DNS lookups and zlib. */
export const HASH_CHECKS_AT_ONCE = 2;
/** Checks that may wait for a turn; a login beyond them is refused at once. */
export const HASH_CHECKS_WAITING = 32;

/**
 * scrypt is slow on purpose and runs on libuv's thread pool, which DNS lookups and zlib
 * share. Unbounded, a burst of wrong passwords (no cache can answer those) would hold every
 * thread and stall the proxy for everyone, logged-in callers included. So few run at once,
 * some wait, and the rest get 503 AUTH_BUSY with Retry-After.
 */
class HashCheckQueue {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  async run<T>(check: () => Promise<T>): Promise<T> {
    if (this.#running < HASH_CHECKS_AT_ONCE) this.#running++;
    else if (this.#waiting.length < HASH_CHECKS_WAITING) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else throw new ProxyError('AUTH_BUSY', undefined, { headers: { 'retry-after': '1' } });
    try {
      return await check();
    } finally {
      // The slot passes straight to the next waiter, or is given back.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}

export interface BasicCredentials {
  user: string;
  password: string;
}

export function parseBasic(header: string): BasicCredentials | undefined {
  const match = /^Basic[ ]+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
