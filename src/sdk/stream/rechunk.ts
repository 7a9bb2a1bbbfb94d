/**
 * Cutting a stream of arbitrarily sized pieces into fixed-size blocks without re-concatenating:
 * whole blocks inside a piece are yielded as views (no copy); only a block that straddles two
 * pieces is copied, into a buffer of one block. With `recycle`, that buffer is reused once the
 * consumer asks for the next block: for consumers that copy a block before they resume the
 * generator, as WebCrypto does (its methods copy their input before returning). Allocating a
 * fresh large buffer per chunk costs more than the copy itself (page faults, GC of external memory).
 */
export class Rechunker {
  readonly size: number;
  readonly #holdBack: boolean;
  /** A partial block being filled (copied), `#length` bytes of it used. */
  #partial: Uint8Array | undefined;
  #length = 0;
  /** A whole block kept back until we know whether more bytes follow it. */
  #held: Uint8Array | undefined;
  /** Whether `#held` is one of our buffers (so it can be recycled), not a view of the input. */
  #heldOwned = false;
  readonly #recycle: boolean;
  #spare: Uint8Array | undefined;

  /**
   * With `holdBack`, the last whole block is kept until more bytes arrive, and `end()` returns it:
   * the decrypting side must not treat a full-size sealed chunk as final before it knows what follows.
   */
  constructor(size: number, holdBack: boolean, recycle = false) {
    this.size = size;
    this.#holdBack = holdBack;
    this.#recycle = recycle;
  }

  #buffer(): Uint8Array {
    const spare = this.#spare;
    this.#spare = undefined;
    return spare ?? new Uint8Array(this.size);
  }

  #release(buffer: Uint8Array): void {
    if (this.#recycle) this.#spare = buffer;
  }

  /** Yields every block that `data` completes, in order. */
  *push(data: Uint8Array): Generator<Uint8Array, void, void> {
    if (data.length === 0) return;
    const size = this.size;
    if (this.#held) {
      const held = this.#held;
      const owned = this.#heldOwned;
      this.#held = undefined;
      this.#heldOwned = false;
      yield held;
      if (owned) this.#release(held);
    }
    let pos = 0;
    if (this.#length > 0) {
      const partial = this.#partial!;
      pos = Math.min(size - this.#length, data.length);
      partial.set(data.subarray(0, pos), this.#length);
      this.#length += pos;
      if (this.#length < size) return;
      this.#partial = undefined;
      this.#length = 0;
      if (this.#holdBack && pos === data.length) {
        this.#held = partial;
        this.#heldOwned = true;
        return;
      }
      yield partial;
      this.#release(partial);
    }
    while (data.length - pos >= size) {
      const block = data.subarray(pos, pos + size);
      pos += size;
      if (this.#holdBack && pos === data.length) {
        this.#held = block;
        return;
      }
      yield block;
    }
    if (pos < data.length) {
      const partial = this.#buffer();
      partial.set(data.subarray(pos));
      this.#partial = partial;
      this.#length = data.length - pos;
    }
  }

  /** What is left at the end: a partial block (0 to size−1 bytes), or the held-back whole block. */
  end(): Uint8Array {
    const rest = this.#held ?? this.#partial?.subarray(0, this.#length) ?? new Uint8Array(0);
    this.clear();
    return rest;
  }

  clear(): void {
    this.#held = undefined;
    this.#heldOwned = false;
    this.#partial = undefined;
    this.#spare = undefined;
    this.#length = 0;
  }
}

/** Collects the first bytes of a stream (a header) as views, copying only what is asked for. */
export class ByteCollector {
  #parts: Uint8Array[] = [];
  length = 0;

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.#parts.push(data);
    this.length += data.length;
  }

  /** A copy of the first `n` bytes (n ≤ length). */
  first(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    for (const part of this.#parts) {
      if (at >= n) break;
      const take = Math.min(part.length, n - at);
      out.set(part.subarray(0, take), at);
      at += take;
    }
    return out;
  }

  /** Views of everything after the first `n` bytes; empties the collector. */
  takeAfter(n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let skip = n;
    for (const part of this.#parts) {
      if (skip >= part.length) {
        skip -= part.length;
        continue;
      }
      out.push(skip > 0 ? part.subarray(skip) : part);
      skip = 0;
    }
    this.clear();
    return out;
  }

  clear(): void {
    this.#parts = [];
    this.length = 0;
  }
}
