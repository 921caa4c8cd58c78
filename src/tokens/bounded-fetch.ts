/**
 * The most of one IdP answer (token or discovery) that is read. A token response is a few
 * KB, a discovery document rarely 20 KB; an IdP that sends more is broken or hostile.
 */
export const IDP_ANSWER_LIMIT = 1024 * 1024;

type FetchFunction = typeof globalThis.fetch;

/** An IdP answer longer than the limit: refused without reading the rest. */
export class IdpAnswerTooLargeError extends Error {
  readonly code = 'IDP_ANSWER_TOO_LARGE';
  constructor(readonly limitBytes: number) {
    super(`the identity provider's answer exceeds ${formatBytes(limitBytes)}`);
    this.name = 'IdpAnswerTooLargeError';
  }
}

/**
 * Wraps a fetch so that every answer's body is read here, chunk by chunk, and given to the
 * caller (openid-client, which would read it whole) only once it is known to fit: a 1 GiB
 * answer costs at most the limit in memory, and each backoff retry at most that again.
 * Counting the decoded chunks also bounds a small compressed answer that inflates to gigabytes.
 * The caller's signal (openid-client's timeout) still aborts a body that trickles in.
 */
export function boundedFetch(fetch: FetchFunction, limitBytes = IDP_ANSWER_LIMIT): FetchFunction {
  return async (input: Parameters<FetchFunction>[0], init?: Parameters<FetchFunction>[1]) => {
    const response = await fetch(input, init);
    if (response.body === null) return response;
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > limitBytes) {
      await response.body.cancel().catch(() => undefined);
      throw new IdpAnswerTooLargeError(limitBytes);
    }
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = (await reader.read()) as { done: true; value?: undefined } | { done: false; value: Uint8Array };
      if (done) break;
      total += value.byteLength;
      if (total > limitBytes) {
        await reader.cancel().catch(() => undefined);
        throw new IdpAnswerTooLargeError(limitBytes);
      }
      chunks.push(value);
    }
    return new Response(NULL_BODY_STATUSES.has(response.status) ? null : Buffer.concat(chunks), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

/** Statuses a Response cannot be built with a body for. */
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

export function formatBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}
