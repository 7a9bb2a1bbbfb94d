/**
 * Shared state for the proxy (runtime-agnostic): the SigV4 replay cache and the rate-limit token
 * buckets behind one small interface, so several proxy instances can share one set of limits.
 *
 * Implementations:
 * - `MemoryStateStore` (`./memory.ts`): this process or isolate only. The default.
 * - `DurableObjectStateStore` (`./durable-object.ts`): a Cloudflare Durable Object shared by every
 *   isolate of a Worker.
 * - `RedisStateStore` (`src/node/state/redis.ts`, subpath `sealbox/proxy/redis`): Redis, for several
 *   Node processes behind a load balancer.
 *
 * Both operations must be atomic in the store: two instances asking at once for the same replay key
 * get one `true` between them, and two takes from one bucket never both spend its last token.
 * A store that cannot answer (down, timed out) throws `StateStoreError` with `kind: 'unavailable'`;
 * the proxy decides what that means (see `src/edge/proxy/shared-state.ts`): SigV4 fails closed, rate
 * limiting follows `rateLimit.onStoreError`.
 */

export interface TokenBucketSpec {
  /** Bucket size: the burst allowed (tokens). */
  capacity: number;
  /** Tokens added per second. */
  refillPerSecond: number;
  /** Tokens this call takes (default 1; at most `capacity`). */
  cost?: number;
}

export interface SharedStateStore {
  /**
   * Records `key` until `expiresAtMs` (epoch ms, the caller's clock). Resolves to `true` if the key
   * was not already recorded (the caller is the first), `false` if a live record exists. Atomic.
   */
  rememberOnce(key: string, expiresAtMs: number): Promise<boolean>;
  /**
   * Takes `cost` tokens from the bucket `bucketKey` (created full). Resolves to 0 when granted, else
   * to the milliseconds until enough tokens are there (nothing is taken then). Atomic.
   */
  take(bucketKey: string, spec: TokenBucketSpec): Promise<number>;
  /** Releases connections (optional). */
  close?(): Promise<void>;
}

/**
 * A store could not do what was asked. `unavailable`: it did not answer (down, timed out,
 * overloaded) — the outcome of the operation is unknown. `full`: a bounded store has no room for a
 * new live entry (the memory store's replay cache).
 */
export class StateStoreError extends Error {
  readonly kind: 'unavailable' | 'full';
  constructor(kind: 'unavailable' | 'full', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StateStoreError';
    this.kind = kind;
  }
}

export function isStateStore(v: unknown): v is SharedStateStore {
  return typeof v === 'object' && v !== null && typeof (v as SharedStateStore).rememberOnce === 'function' && typeof (v as SharedStateStore).take === 'function';
}

/** Checks a bucket spec (throws RangeError): positive finite capacity and rate, 0 < cost ≤ capacity. */
export function checkBucketSpec(spec: TokenBucketSpec): number {
  const cost = spec.cost ?? 1;
  if (!(spec.capacity > 0 && Number.isFinite(spec.capacity))) throw new RangeError('capacity must be a positive number');
  if (!(spec.refillPerSecond > 0 && Number.isFinite(spec.refillPerSecond))) throw new RangeError('refillPerSecond must be a positive number');
  if (!(cost > 0 && cost <= spec.capacity)) throw new RangeError('cost must be > 0 and at most capacity');
  return cost;
}

/**
 * The token-bucket arithmetic every store uses (the Redis script is the same in Lua): refill since
 * `at`, then take `cost` or say how long until there is enough.
 */
export function refillAndTake(
  state: { tokens: number; at: number } | undefined,
  now: number,
  spec: TokenBucketSpec,
): { tokens: number; at: number; waitMs: number } {
  const cost = spec.cost ?? 1;
  let tokens = state === undefined ? spec.capacity : Math.min(spec.capacity, state.tokens + (Math.max(0, now - state.at) / 1000) * spec.refillPerSecond);
  // A clock that went back leaves `at` where it was, so time is never counted twice.
  const at = state === undefined ? now : Math.max(now, state.at);
  if (tokens >= cost) {
    tokens -= cost;
    return { tokens, at, waitMs: 0 };
  }
  return { tokens, at, waitMs: Math.max(1, Math.ceil(((cost - tokens) / spec.refillPerSecond) * 1000)) };
}

/** Milliseconds until a bucket with `tokens` is full again (it can be forgotten then: a missing bucket is a full one). */
export function msUntilFull(tokens: number, spec: TokenBucketSpec): number {
  return Math.ceil((Math.max(0, spec.capacity - tokens) / spec.refillPerSecond) * 1000);
}

