import type { Dispatcher } from 'undici';
import { ConnectionWaitTimeout, type ConnectionLimit } from '../http/connection-limit.ts';

/** Where an upstream response's body goes, chosen when its head arrives. */
export interface BodySink {
  /** false asks the upstream to pause until the sink calls the controller's resume. */
  write(chunk: Buffer): boolean;
  end(): void;
  /** The body broke off (the upstream failed, or the request was aborted). */
  fail(error: Error): void;
}

export interface ExchangeControl {
  /** Lets a paused upstream body flow again. */
  resume(): void;
  /** Stops the upstream request (a sink that has read enough). */
  abort(reason: Error): void;
}

/** Picks the sink for a response head; runs in the tick the head arrived, so the first body bytes already find it. */
export type SinkFactory<S extends BodySink> = (statusCode: number, rawHeaders: Buffer[], control: ExchangeControl) => S;

export interface Exchanged<S extends BodySink> {
  readonly statusCode: number;
  /** Seconds from sending until the response head arrived. */
  readonly headersSeconds: number;
  readonly sink: S;
  /** Set when the body broke off after the head (the sink was told too). */
  readonly bodyError: Error | undefined;
}

/** What a request waits for upstream, and how long: a free connection (within the bound on them), then the response head. */
export interface UpstreamWait {
  limit: ConnectionLimit;
  /** The route timeout: the most a request waits for a free connection, and then for the response head. */
  timeoutMs: number;
  /**
   * The exchange keeps the wait for the response head itself, to the millisecond. undici
   * keeps it with timers that tick every half second and fire 0.5–1 s late: a 200 ms
   * route timeout acted as 1 s, 2 s as up to 3 s. Set for short route timeouts only,
   * where that lateness shows; a timer of its own per request is not free.
   */
  keepsHeadersTimeout: boolean;
  /** Told of each request that waits (for the route's metrics). */
  waited(): void;
}

/** What undici calls a headers timeout, so one kept here reads the same to whoever maps errors. */
export class HeadersTimeout extends Error {
  override readonly name = 'HeadersTimeoutError';
  readonly code = 'UND_ERR_HEADERS_TIMEOUT';
  constructor(readonly timeoutMs: number) {
    super(`no response headers within ${timeoutMs} ms`);
  }
}

/**
 * One upstream request through undici's dispatch API: the response goes straight from the
 * connection into the sink, with no promise per chunk, no body stream wrapped around it
 * and no AbortController. (undici's request() API costs twice the CPU here.) The handler
 * uses undici 7's original callbacks, which take the raw headers as they are; its newer
 * controller API parses every header into an object first.
 *
 * Resolves once the body has ended or broken off; rejects when no response head arrived
 * (connect, DNS, TLS failure, headers timeout, abort), with undici's error, or with a
 * ConnectionWaitTimeout when every connection stayed busy for the wait's timeout, or a
 * HeadersTimeout when the exchange keeps that wait itself and the head is late; with
 * what describeFailure makes of it when given (here, not in a catch handler: one promise
 * less per request).
 */
export function exchange<S extends BodySink>(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  sinkFor: SinkFactory<S>,
  wait?: UpstreamWait,
  describeFailure?: (error: Error) => Error,
): UpstreamExchange<S> {
  const handler = new UpstreamExchange(sinkFor, wait?.limit, describeFailure, wait?.keepsHeadersTimeout ? wait.timeoutMs : undefined);
  if (wait?.limit.enter()) {
    wait.waited();
    handler.waitAtMost(wait.timeoutMs);
  }
  dispatcher.dispatch(options, handler);
  return handler;
}

export class UpstreamExchange<S extends BodySink> implements Dispatcher.DispatchHandler, ExchangeControl {
  readonly done: Promise<Exchanged<S>>;
  #settle!: (outcome: Exchanged<S>) => void;
  #reject!: (error: Error) => void;
  readonly #sinkFor: SinkFactory<S>;
  readonly #started = performance.now();
  #abort: ((error?: Error) => void) | undefined;
  #abortReason: Error | undefined;
  #resume: (() => void) | undefined;
  #statusCode = 0;
  #headersSeconds = 0;
  #sink: S | undefined;
  /** Left once the request has finished or failed; unset after. */
  #limit: ConnectionLimit | undefined;
  #waitTimer: NodeJS.Timeout | undefined;
  readonly #headersWithinMs: number | undefined;
  #headersTimer: NodeJS.Timeout | undefined;

  constructor(sinkFor: SinkFactory<S>, limit?: ConnectionLimit, describeFailure?: (error: Error) => Error, headersWithinMs?: number) {
    this.#sinkFor = sinkFor;
    this.#limit = limit;
    this.#headersWithinMs = headersWithinMs;
    this.done = new Promise((resolve, reject) => {
      this.#settle = resolve;
      this.#reject = describeFailure ? (error) => reject(describeFailure(error)) : reject;
    });
  }

  /**
   * Stops the request whatever its stage. Before it has a connection it settles at once,
   * and the pool drops it when its turn comes (undici cannot take it out of its queue).
   */
  abort(reason: Error): void {
    this.#abortReason ??= reason;
    clearTimeout(this.#waitTimer);
    clearTimeout(this.#headersTimer);
    if (this.#abort) this.#abort(reason);
    else this.#reject(reason);
  }

  /** Every connection is taken: give up if none is free within this time (the request is then never sent). */
  waitAtMost(timeoutMs: number): void {
    const limit = this.#limit!;
    this.#waitTimer = setTimeout(() => this.abort(new ConnectionWaitTimeout(limit.maxConnections, timeoutMs)), timeoutMs).unref();
  }

  resume(): void {
    this.#resume?.();
  }

  /** undici calls this as it writes the request: where its own headers timeout starts too. */
  onConnect(abort: (error?: Error) => void): void {
    clearTimeout(this.#waitTimer);
    this.#abort = abort;
    if (this.#abortReason) return abort(this.#abortReason);
    const within = this.#headersWithinMs;
    if (within !== undefined) this.#headersTimer = setTimeout(() => this.abort(new HeadersTimeout(within)), within).unref();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 100 Continue, 103 Early Hints: the final head follows
    clearTimeout(this.#headersTimer);
    this.#statusCode = statusCode;
    this.#headersSeconds = (performance.now() - this.#started) / 1000;
    this.#resume = resume;
    this.#sink = this.#sinkFor(statusCode, rawHeaders, this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    // undici flushes its parser with an empty chunk on every resume: pausing for that one
    // again, on a sink that drains at once (the multipart rewriter), spun the CPU forever.
    if (chunk.length === 0) return true;
    return this.#sink!.write(chunk);
  }

  onComplete(): void {
    this.#leave();
    this.#sink!.end();
    this.#settle({ statusCode: this.#statusCode, headersSeconds: this.#headersSeconds, sink: this.#sink!, bodyError: undefined });
  }

  onError(error: Error): void {
    clearTimeout(this.#headersTimer);
    this.#leave();
    const sink = this.#sink;
    if (!sink) {
      this.#reject(error);
      return;
    }
    sink.fail(error);
    this.#settle({ statusCode: this.#statusCode, headersSeconds: this.#headersSeconds, sink, bodyError: error });
  }

  #leave(): void {
    this.#limit?.leave();
    this.#limit = undefined;
  }
}
