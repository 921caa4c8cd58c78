import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Parameters for new hashes: the OWASP-recommended scrypt cost for interactive logins. */
const DEFAULT_COST = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LENGTH = 32;

function scryptAsync(password: string, salt: Buffer, options: ScryptOptions, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, { ...options, maxmem: 256 * options.N! * options.r! }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** `scrypt$N$r$p$<salt base64>$<key base64>`: self-describing, so the cost can change without breaking old hashes. */
export async function hashPassword(password: string, cost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, cost, KEY_LENGTH);
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export function parsePasswordHash(hash: string): { N: number; r: number; p: number; salt: Buffer; key: Buffer } | undefined {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const key = Buffer.from(parts[5]!, 'base64');
  // Bounded so a hash in the config cannot ask for more than 256 MiB per check (scrypt uses 128·N·r bytes).
  const valid =
    [N, r, p].every(Number.isSafeInteger) &&
    N > 1 &&
    N <= 2 ** 20 &&
    Number.isInteger(Math.log2(N)) &&
    r > 0 &&
    p > 0 &&
    p <= 16 &&
    128 * N * r <= 256 * 1024 * 1024 &&
    salt.length >= 8 &&
    key.length >= 16;
  return valid ? { N, r, p, salt, key } : undefined;
}

export async function verifyPasswordHash(password: string, hash: string): Promise<boolean> {
  const parsed = parsePasswordHash(hash);
  if (!parsed) return false;
  const key = await scryptAsync(password, parsed.salt, parsed, parsed.key.length);
  return timingSafeEqual(key, parsed.key);
}
