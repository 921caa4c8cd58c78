import { createScrub, type Scrub } from '../http/scrub.ts';
import type { BodySink, ExchangeControl } from './exchange.ts';

/** The most of an upstream 401 body read to explain it to the client; past it the request is stopped. */
const REJECTION_BODY_LIMIT = 8 * 1024;

/**
 * Takes in an upstream 401 (which never reaches the client) and keeps what explains it:
 * the `WWW-Authenticate` challenge and the start of the body.
 */
export class RejectionSink implements BodySink {
  readonly #challenge: string | undefined;
  readonly #control: ExchangeControl;
  #text = '';

  constructor(rawHeaders: readonly Buffer[], control: ExchangeControl) {
    this.#control = control;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if (rawHeaders[i]!.toString('latin1').toLowerCase() === 'www-authenticate') this.#challenge = rawHeaders[i + 1]!.toString('latin1');
    }
  }

  write(chunk: Buffer): boolean {
    this.#text += chunk.toString('utf8');
    if (this.#text.length <= REJECTION_BODY_LIMIT) return true;
    // Enough to explain a refusal: the rest is not read (a hostile upstream could send gigabytes).
    this.#text = this.#text.slice(0, REJECTION_BODY_LIMIT);
    this.#control.abort(new Error('401 body past the read limit'));
    return false;
  }

  end(): void {}

  fail(): void {}

  /** The upstream's own words for the 401, from its challenge or an OData/OAuth error body, scrubbed and bounded. */
  reason(scrub: Scrub = createScrub([])): string | undefined {
    return rejectionReason(this.#challenge, this.#text, scrub);
  }
}

/** Scrubbed before it is cut (createScrub bounds to 300 characters), so no prefix of a quoted token survives a cut. */
export function rejectionReason(challenge: string | undefined, body: string, scrub: Scrub = createScrub([])): string | undefined {
  const fromChallenge = /error_description="([^"]*)"/.exec(challenge ?? '')?.[1];
  let fromBody: string | undefined;
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; error_description?: unknown; message?: unknown };
    const candidate = typeof parsed.error === 'object' ? parsed.error?.message : (parsed.error_description ?? parsed.message ?? parsed.error);
    if (typeof candidate === 'string') fromBody = candidate;
  } catch {
    fromBody = undefined;
  }
  const reason = fromChallenge ?? fromBody;
  return reason === undefined ? undefined : scrub(reason);
}
