/**
 * Token bucket per principal (runtime-agnostic, in memory: per process, or per isolate on Workers).
 * A bucket holds up to `capacity` tokens and gains `refillPerSecond` per second; each request takes
 * one. An empty bucket answers with how long until the next token (for `Retry-After`).
 */
export interface TokenBucketOptions {
  capacity: number;
  refillPerSecond: number;
  now: () => number;
  /** Buckets kept at most (full buckets are dropped first; default 10 000). */
  maxBuckets?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  readonly #o: TokenBucketOptions;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: TokenBucketOptions) {
    this.#o = options;
  }

  /** Takes a token for `key`: 0 when granted, else the ms until one is available. */
  take(key: string): number {
    const now = this.#o.now();
    const { capacity, refillPerSecond } = this.#o;
    let b = this.#buckets.get(key);
    if (b === undefined) {
      this.#evict(now);
      b = { tokens: capacity, at: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(capacity, b.tokens + (Math.max(0, now - b.at) / 1000) * refillPerSecond);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / refillPerSecond) * 1000);
  }

  #evict(now: number): void {
    const max = this.#o.maxBuckets ?? 10_000;
    if (this.#buckets.size < max) return;
    const { capacity, refillPerSecond } = this.#o;
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * refillPerSecond >= capacity) this.#buckets.delete(k);
    }
    // Still full of busy principals: drop the oldest (a dropped bucket restarts full, which only
    // ever grants more, never less, than the configured rate to that one principal).
    while (this.#buckets.size >= max) this.#buckets.delete(this.#buckets.keys().next().value!);
  }
}
