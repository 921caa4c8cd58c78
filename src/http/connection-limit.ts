/**
 * Connections a route opens to its upstream at most, unless it says otherwise: more than
 * Power BI's parallel queries ever need (Desktop evaluates a few at a time, a gateway a few
 * dozen), few enough that a burst from a runaway client cannot flood the upstream with
 * connections, or leave the proxy holding a thousand idle ones afterwards.
 */
export const DEFAULT_MAX_CONNECTIONS = 64;
/** The most a route may set: past it the proxy would run out of file descriptors before the bound meant anything. */
export const MAX_CONNECTIONS_CEILING = 10_000;

/** Told when requests to an upstream start waiting for a connection (at most once a minute per upstream). */
export type OnConnectionsBusy = (origin: string, maxConnections: number) => void;

const BUSY_NOTICE_INTERVAL_MS = 60_000;

/**
 * The requests handed to one upstream origin's connection pool and not yet finished,
 * against the pool's bound (a route's maxConnections). undici's pool keeps the bound
 * itself and queues the requests beyond it, but it does not time their wait: its headers
 * timeout starts only when a request is written to a connection. Counting here tells a
 * request that it will wait, so that it alone arms a timer; every other request pays an
 * addition and a subtraction.
 */
export class ConnectionLimit {
  #inFlight = 0;
  #noticedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly origin: string,
    readonly maxConnections: number,
    private readonly onBusy: OnConnectionsBusy = () => undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A request goes to the pool; true when every connection is taken, so it waits for one. */
  enter(): boolean {
    if (++this.#inFlight <= this.maxConnections) return false;
    const now = this.now();
    if (now - this.#noticedAt >= BUSY_NOTICE_INTERVAL_MS) {
      this.#noticedAt = now;
      this.onBusy(this.origin, this.maxConnections);
    }
    return true;
  }

  /** A request the pool was given has finished or failed, whether or not it was ever sent. */
  leave(): void {
    this.#inFlight--;
  }

  get inFlight(): number {
    return this.#inFlight;
  }
}

/** Why a request was never sent: every connection to the upstream stayed busy for the route timeout. */
export class ConnectionWaitTimeout extends Error {
  override readonly name = 'ConnectionWaitTimeout';
  readonly code = 'BP_CONNECTION_WAIT_TIMEOUT';

  constructor(
    readonly maxConnections: number,
    readonly waitedMs: number,
  ) {
    super(`all ${maxConnections} connections to the upstream stayed busy for ${waitedMs} ms`);
  }
}
