/**
 * Pull-based byte sources for parsing a stream piece by piece: a part of a multipart
 * body is a source that ends at its boundary, and the parser of a nested multipart reads
 * from it as from any other. Bytes read too far are put back with unread().
 */
export abstract class ByteSource {
  readonly #front: Buffer[] = [];

  /** The next bytes (never empty), or null at the end. */
  async read(): Promise<Buffer | null> {
    return this.#front.shift() ?? (await this.pull());
  }

  /** Puts bytes back, to be read next. */
  unread(bytes: Buffer): void {
    if (bytes.length > 0) this.#front.unshift(bytes);
  }

  protected abstract pull(): Promise<Buffer | null>;
}

/** The chunks of a stream (or any async iterable). */
export class StreamSource extends ByteSource {
  readonly #chunks: AsyncIterator<Buffer>;

  constructor(chunks: AsyncIterable<Buffer>) {
    super();
    this.#chunks = chunks[Symbol.asyncIterator]();
  }

  protected async pull(): Promise<Buffer | null> {
    for (;;) {
      const { value, done } = (await this.#chunks.next()) as IteratorResult<Buffer, unknown>;
      if (done) return null;
      if (value.length > 0) return value;
    }
  }
}

/** Some bytes, then another source. */
export class PrefixedSource extends ByteSource {
  #prefix: Buffer | undefined;

  constructor(
    prefix: Buffer,
    private readonly rest: ByteSource,
  ) {
    super();
    this.#prefix = prefix.length > 0 ? prefix : undefined;
  }

  protected async pull(): Promise<Buffer | null> {
    const prefix = this.#prefix;
    this.#prefix = undefined;
    return prefix ?? (await this.rest.read());
  }
}

/**
 * A source's bytes up to a delimiter, which is consumed; what follows it is put back on
 * the source. Holds back only the delimiter's length less one byte, so a delimiter cut
 * across chunks is still found. `found` tells whether it ended at a delimiter or at the
 * source's end.
 */
export class DelimitedSource extends ByteSource {
  #pending: Buffer = Buffer.alloc(0);
  #ended = false;
  found = false;

  constructor(
    private readonly parent: ByteSource,
    private readonly delimiter: Buffer,
  ) {
    super();
  }

  protected async pull(): Promise<Buffer | null> {
    for (;;) {
      if (this.#ended) return null;
      const at = this.#pending.indexOf(this.delimiter);
      if (at !== -1) {
        this.#ended = true;
        this.found = true;
        this.parent.unread(this.#pending.subarray(at + this.delimiter.length));
        return at > 0 ? this.#pending.subarray(0, at) : null;
      }
      const safe = this.#pending.length - (this.delimiter.length - 1);
      if (safe > 0) {
        const out = this.#pending.subarray(0, safe);
        this.#pending = this.#pending.subarray(safe);
        return out;
      }
      const more = await this.parent.read();
      if (more === null) {
        this.#ended = true;
        return this.#pending.length > 0 ? this.#pending : null;
      }
      this.#pending = this.#pending.length === 0 ? more : Buffer.concat([this.#pending, more]);
    }
  }
}

/**
 * Reads up to and through a marker (a blank line after headers, the end of a line) when
 * it comes within limit bytes; what follows is put back. Otherwise everything read so far
 * comes back unfound, to be passed on as it is.
 */
export async function readThrough(source: ByteSource, marker: Buffer, limit: number): Promise<{ bytes: Buffer; found: boolean }> {
  let bytes: Buffer = Buffer.alloc(0);
  for (;;) {
    const at = bytes.indexOf(marker);
    if (at !== -1 && at + marker.length <= limit) {
      source.unread(bytes.subarray(at + marker.length));
      return { bytes: bytes.subarray(0, at + marker.length), found: true };
    }
    if (bytes.length > limit + marker.length) return { bytes, found: false };
    const more = await source.read();
    if (more === null) return { bytes, found: false };
    bytes = bytes.length === 0 ? more : Buffer.concat([bytes, more]);
  }
}

/** Exactly length bytes, or fewer at the source's end; the rest is put back. */
export async function readExactly(source: ByteSource, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < length) {
    const more = await source.read();
    if (more === null) break;
    const needed = length - total;
    if (more.length > needed) {
      chunks.push(more.subarray(0, needed));
      source.unread(more.subarray(needed));
      total = length;
    } else {
      chunks.push(more);
      total += more.length;
    }
  }
  return Buffer.concat(chunks);
}

/** Every remaining byte of a source, as it comes. */
export async function* remaining(source: ByteSource): AsyncGenerator<Buffer> {
  for (let chunk = await source.read(); chunk !== null; chunk = await source.read()) yield chunk;
}

/** The first length bytes of a source; what follows is left on it. */
export class LimitedSource extends ByteSource {
  #left: number;

  constructor(
    private readonly parent: ByteSource,
    length: number,
  ) {
    super();
    this.#left = length;
  }

  protected async pull(): Promise<Buffer | null> {
    if (this.#left === 0) return null;
    const more = await this.parent.read();
    if (more === null) return null;
    if (more.length > this.#left) this.parent.unread(more.subarray(this.#left));
    const taken = more.subarray(0, this.#left);
    this.#left -= taken.length;
    return taken;
  }
}
