/**
 * Token bucket per principal (runtime-agnostic): a bucket holds up to `capacity` tokens and gains
 * `refillPerSecond` per second; each request takes one; an empty bucket answers with how long until
 * the next token (for `Retry-After`). The buckets live in the proxy's `SharedStateStore`
 * (src/edge/state: in memory by default, or shared by instances through Redis or a Durable Object);
 * what happens when that store does not answer is `rateLimit.onStoreError` (see ./shared-state.ts).
 */
import { MemoryStateStore } from '../state/memory.js';
import type { SharedStateStore, TokenBucketSpec } from '../state/store.js';
import { describe, storeUnavailable } from './shared-state.js';

export type OnStoreError = 'allow' | 'deny';

/** Per-principal token buckets on a shared store, with the `onStoreError` fallback. */
export class RateLimiter {
  readonly #store: SharedStateStore;
  readonly #spec: TokenBucketSpec;
  readonly #onStoreError: OnStoreError;
  /** This instance's buckets, used while the shared store is down (`onStoreError: 'allow'`). */
  readonly #local: MemoryStateStore;

  constructor(store: SharedStateStore, spec: TokenBucketSpec, onStoreError: OnStoreError, now: () => number) {
    this.#store = store;
    this.#spec = spec;
    this.#onStoreError = onStoreError;
    this.#local = store instanceof MemoryStateStore ? store : new MemoryStateStore({ now });
  }

  /**
   * Takes a token for `key`: `waitMs` 0 when granted. `stateError` is set when the shared store did
   * not answer and this instance's own bucket decided instead. Throws 503 with `onStoreError: 'deny'`.
   */
  async take(key: string): Promise<{ waitMs: number; stateError?: string }> {
    try {
      return { waitMs: await this.#store.take(`bucket:${key}`, this.#spec) };
    } catch (e) {
      if (this.#onStoreError === 'deny') throw storeUnavailable('rate limit failed closed (rateLimit.onStoreError: deny)', e);
      return {
        waitMs: this.#local.takeSync(`bucket:${key}`, this.#spec),
        stateError: `state store unavailable: rate limit enforced by this instance alone: ${describe(e)}`,
      };
    }
  }
}
