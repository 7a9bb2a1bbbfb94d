/**
 * `src/edge/state`: the proxy's shared state (replay cache, rate-limit buckets). The interface and
 * its rules are in `./store.ts`; implementations for one process (`./memory.ts`) and for Cloudflare
 * Workers (`./durable-object.ts`). Redis (Node) is `src/node/state/redis.ts`.
 */
export { StateStoreError, checkBucketSpec, isStateStore, msUntilFull, refillAndTake, type SharedStateStore, type TokenBucketSpec } from './store.js';
export { MemoryStateStore, type MemoryStateStoreOptions } from './memory.js';
export {
  DurableObjectStateStore,
  SealboxStateObject,
  type DurableObjectNamespaceLike,
  type DurableObjectStateLike,
  type DurableObjectStateStoreOptions,
  type DurableObjectStorageLike,
  type DurableObjectStubLike,
} from './durable-object.js';
