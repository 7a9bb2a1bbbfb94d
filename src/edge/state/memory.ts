/**
 * The in-memory state store: replay records and token buckets in this process (Node, Deno, Bun) or
 * this isolate (Workers). The default, and what the proxy did before shared stores: with several
 * instances each has its own replay cache and buckets (a replay to another instance is not seen,
 * and every limit is multiplied by the number of instances). Both maps are bounded.
 */
import { StateStoreError, checkBucketSpec, refillAndTake, type SharedStateStore, type TokenBucketSpec } from './store.js';

export interface MemoryStateStoreOptions {
  /** Live replay records kept at most (default 100 000); beyond that `rememberOnce` throws `StateStoreError('full')`. */
  maxReplayEntries?: number;
  /** Buckets kept at most (default 10 000): full ones are dropped first, then the oldest. */
  maxBuckets?: number;
  /** Clock in ms (tests). Default `Date.now`. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
  spec: TokenBucketSpec;
}

export class MemoryStateStore implements SharedStateStore {
  readonly #seen = new Map<string, number>();
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxReplay: number;
  readonly #maxBuckets: number;
  readonly #now: () => number;

  constructor(options: MemoryStateStoreOptions = {}) {
    this.#maxReplay = options.maxReplayEntries ?? 100_000;
    this.#maxBuckets = options.maxBuckets ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Synchronous `rememberOnce` (the memory store needs no I/O). */
  rememberOnceSync(key: string, expiresAtMs: number): boolean {
    const now = this.#now();
    const prev = this.#seen.get(key);
    if (prev !== undefined && prev > now) return false;
    if (prev === undefined && this.#seen.size >= this.#maxReplay) {
      for (const [k, exp] of this.#seen) if (exp <= now) this.#seen.delete(k);
      if (this.#seen.size >= this.#maxReplay) throw new StateStoreError('full', `replay cache full (${this.#maxReplay} live entries)`);
    }
    this.#seen.set(key, expiresAtMs);
    return true;
  }

  async rememberOnce(key: string, expiresAtMs: number): Promise<boolean> {
    return this.rememberOnceSync(key, expiresAtMs);
  }

  /** Synchronous `take`. */
  takeSync(bucketKey: string, spec: TokenBucketSpec): number {
    checkBucketSpec(spec);
    const now = this.#now();
    let b = this.#buckets.get(bucketKey);
    if (b === undefined) this.#evict(now);
    const next = refillAndTake(b, now, spec);
    if (b === undefined) {
      b = { ...next, spec };
      this.#buckets.set(bucketKey, b);
    } else {
      b.tokens = next.tokens;
      b.at = next.at;
      b.spec = spec;
    }
    return next.waitMs;
  }

  async take(bucketKey: string, spec: TokenBucketSpec): Promise<number> {
    return this.takeSync(bucketKey, spec);
  }

  #evict(now: number): void {
    if (this.#buckets.size < this.#maxBuckets) return;
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * b.spec.refillPerSecond >= b.spec.capacity) this.#buckets.delete(k);
    }
    // Still full of busy principals: drop the oldest (a dropped bucket restarts full, which only
    // ever grants more, never less, than the configured rate to that one principal).
    while (this.#buckets.size >= this.#maxBuckets) this.#buckets.delete(this.#buckets.keys().next().value!);
  }
}
