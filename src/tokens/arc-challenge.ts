import { open } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { ProxyError } from '../errors.ts';
import type { Scrub } from '../http/scrub.ts';

/** The Azure SDKs refuse a larger key file; the agent writes a few dozen bytes. */
export const ARC_KEY_FILE_LIMIT = 4096;

/**
 * Azure Arc's challenge: the first token request is answered 401 with
 * `WWW-Authenticate: Basic realm=<path of a .key file>` that only a local administrator (or
 * the himds group) can read; sending its contents back proves the caller runs on the
 * machine. The path comes from whatever answered on IDENTITY_ENDPOINT, so it is believed
 * only inside the agent's own directory and only for a .key file (the Azure SDKs' checks):
 * otherwise any local listener could make the proxy read a file of its choosing and send it.
 */
export async function readArcChallengeKey(source: string, challenge: string | null, directory: string, scrub: Scrub): Promise<string> {
  const refused = (reason: string) => new ProxyError('TOKEN_FETCH_FAILED', `No access token for "${source}": the Azure Arc identity endpoint's challenge ${reason}.`);
  const realm = challenge === null ? undefined : /^\s*Basic\s+realm=("?)(.+)\1\s*$/i.exec(challenge)?.[2];
  if (realm === undefined) throw refused(challenge === null ? 'is missing (a 401 without WWW-Authenticate)' : `is not Basic realm=<key file> (${scrub(challenge)})`);
  const path = resolve(realm);
  if (!basename(path).endsWith('.key') || dirname(path) !== resolve(directory)) {
    throw refused(`names ${JSON.stringify(scrub(realm))}, which is not a .key file in ${directory} (managedIdentity.arcKeyDirectory); it was not read`);
  }
  let key: string;
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size > ARC_KEY_FILE_LIMIT) throw refused(`key file is larger than ${ARC_KEY_FILE_LIMIT} bytes`);
      const buffer = Buffer.alloc(ARC_KEY_FILE_LIMIT + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > ARC_KEY_FILE_LIMIT) throw refused(`key file is larger than ${ARC_KEY_FILE_LIMIT} bytes`);
      key = buffer.subarray(0, bytesRead).toString('utf8').trim();
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof ProxyError) throw error;
    // EACCES: the proxy's user is not in the himds group (Linux) or not an administrator (Windows).
    throw refused(`key file cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}; the proxy's user must be allowed to read ${directory})`);
  }
  if (key === '') throw refused('key file is empty');
  return key;
}
