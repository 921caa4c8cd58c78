import { open } from 'node:fs/promises';
import { ProxyError } from '../errors.ts';

/** A projected service-account token or GitHub OIDC token is 1–2 KB; anything much larger is the wrong file. */
const ASSERTION_FILE_LIMIT = 64 * 1024;

/** Three base64url parts: a JWS in compact form, which is what an IdP accepts as client_assertion. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Reads the client assertion a platform writes and rotates (AKS workload identity, a
 * projected Kubernetes service-account token, GitHub's OIDC token), fresh for every token
 * request: the file is replaced while the proxy runs, and yesterday's token is expired.
 * What the file holds is sent to the IdP only when it looks like a JWT, so a misnamed path
 * (a private key, a config file) is never sent anywhere. A failure is TOKEN_UNAVAILABLE:
 * the platform may write the file a moment later. Messages name the path, never the content.
 */
export async function readAssertionFile(source: string, path: string): Promise<string> {
  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size > ASSERTION_FILE_LIMIT) throw unusable(source, path, `larger than ${ASSERTION_FILE_LIMIT / 1024} KiB, which no client assertion is`);
      const buffer = Buffer.alloc(ASSERTION_FILE_LIMIT + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > ASSERTION_FILE_LIMIT) throw unusable(source, path, `larger than ${ASSERTION_FILE_LIMIT / 1024} KiB, which no client assertion is`);
      text = buffer.subarray(0, bytesRead).toString('utf8').trim();
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof ProxyError) throw error;
    throw unusable(source, path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`, error);
  }
  if (text === '') throw unusable(source, path, 'is empty');
  if (!JWT_SHAPE.test(text)) throw unusable(source, path, 'does not hold a JWT (three base64url parts separated by dots); nothing was sent');
  return text;
}

function unusable(source: string, path: string, reason: string, cause?: unknown): ProxyError {
  return new ProxyError('TOKEN_UNAVAILABLE', `No access token for "${source}": the client assertion file ${JSON.stringify(path)} ${reason}.`, { cause });
}
