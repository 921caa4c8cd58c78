import type { Dispatcher } from 'undici';

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

/**
 * One upstream request through undici's dispatch API: the response goes straight from the
 * connection into the sink, with no promise per chunk, no body stream wrapped around it
 * and no AbortController. (undici's request() API costs twice the CPU here.) The handler
 * uses undici 7's original callbacks, which take the raw headers as they are; its newer
 * controller API parses every header into an object first.
 *
 * Resolves once the body has ended or broken off; rejects when no response head arrived
 * (connect, DNS, TLS failure, headers timeout, abort), with undici's error.
 */
export function exchange<S extends BodySink>(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, sinkFor: SinkFactory<S>): UpstreamExchange<S> {
  const handler = new UpstreamExchange(sinkFor);
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

  constructor(sinkFor: SinkFactory<S>) {
    this.#sinkFor = sinkFor;
    this.done = new Promise((resolve, reject) => {
      this.#settle = resolve;
      this.#reject = reject;
    });
  }

  /** Stops the request whatever its stage; before it is connected, as soon as it is. */
  abort(reason: Error): void {
    this.#abortReason ??= reason;
    this.#abort?.(reason);
  }

  resume(): void {
    this.#resume?.();
  }

  onConnect(abort: (error?: Error) => void): void {
    this.#abort = abort;
    if (this.#abortReason) abort(this.#abortReason);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 100 Continue, 103 Early Hints: the final head follows
    this.#statusCode = statusCode;
    this.#headersSeconds = (performance.now() - this.#started) / 1000;
    this.#resume = resume;
    this.#sink = this.#sinkFor(statusCode, rawHeaders, this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.#sink!.write(chunk);
  }

  onComplete(): void {
    this.#sink!.end();
    this.#settle({ statusCode: this.#statusCode, headersSeconds: this.#headersSeconds, sink: this.#sink!, bodyError: undefined });
  }

  onError(error: Error): void {
    const sink = this.#sink;
    if (!sink) {
      this.#reject(error);
      return;
    }
    sink.fail(error);
    this.#settle({ statusCode: this.#statusCode, headersSeconds: this.#headersSeconds, sink, bodyError: error });
  }
}
