import type { Dispatcher } from 'undici';

/** The most of an upstream 401 body read to explain it to the client. */
const REJECTION_BODY_LIMIT = 8 * 1024;

/** The upstream's own words for a 401, from `WWW-Authenticate` or an OData/OAuth error body. */
export async function rejectionReason(response: Dispatcher.ResponseData): Promise<string | undefined> {
  const challenge = response.headers['www-authenticate'];
  const fromChallenge = /error_description="([^"]*)"/.exec(String(challenge ?? ''))?.[1];
  let text = '';
  for await (const chunk of response.body) {
    text += (chunk as Buffer).toString('utf8');
    if (text.length > REJECTION_BODY_LIMIT) {
      response.body.destroy();
      break;
    }
  }
  let fromBody: string | undefined;
  try {
    // A body past the limit is cut there (a chunk can be larger than the limit): it then reads as no JSON at all.
    const parsed = JSON.parse(text.slice(0, REJECTION_BODY_LIMIT)) as { error?: { message?: unknown } | string; error_description?: unknown; message?: unknown };
    const candidate = typeof parsed.error === 'object' ? parsed.error?.message : (parsed.error_description ?? parsed.message ?? parsed.error);
    if (typeof candidate === 'string') fromBody = candidate;
  } catch {
    fromBody = undefined;
  }
  const reason = fromChallenge ?? fromBody;
  return reason === undefined ? undefined : reason.slice(0, 300);
}
