/**
 * The proxy's use of a `SharedStateStore` (src/edge/state): the SigV4 replay cache and the per-principal
 * rate limit, and what happens when the store cannot answer.
 *
 * Failure policy (docs/DEPLOYMENT.md, "When the store is down"):
 * - SigV4 fails CLOSED. When the store cannot say whether a signature was seen before, a replay
 *   cannot be ruled out, so the call is refused with 503 `ServiceUnavailableException` and
 *   `Retry-After: 1`. 503, not 4xx: the request is fine and a retry (re-signed, as SDKs do) will
 *   succeed once the store is back; AWS SDKs and Sealbox's KmsClient retry 5xx with backoff.
 *   `ServiceUnavailableException` (AWS's common 503 error), not `KMSInternalException` (500) or
 *   `DependencyTimeoutException`: nothing timed out at the KMS and no KMS fault happened, so naming
 *   the KMS would send operators to the wrong place; the audit reason says which store failed.
 * - Rate limiting (`./rate-limit.ts`) follows `rateLimit.onStoreError`:
 *   - `'allow'` (the default): the call is not refused because the store is down; this instance's
 *     own in-memory bucket applies instead, so during an outage each instance enforces the limit
 *     on its own (at most N× the shared limit with N instances), never no limit at all. Rate
 *     limiting protects capacity, not access: authentication and policy are checked on every call
 *     whatever the store does, so keeping browsers (JWT) working through a Redis outage is worth
 *     a limit that is briefly per instance.
 *   - `'deny'`: the call is refused with 503 `ServiceUnavailableException` (the proxy cannot tell
 *     whether the principal is within its limit).
 *   Either way the audit record says so (`stateError` on an allowed call, `reason` on a refused one).
 * - A bounded store that is full (the memory store's replay cache) answers 400 `ThrottlingException`
 *   with `Retry-After: 1`, as before.
 */
import { MemoryStateStore } from '../state/memory.js';
import { StateStoreError, type SharedStateStore } from '../state/store.js';
import type { ReplayCache } from './config.js';
import { AwsError } from '../aws/errors.js';

/**
 * Replay records in a shared store live this much longer than the signature's window, so that an
 * instance whose clock is behind another's (by less than this) still finds the record.
 */
export const SHARED_CLOCK_MARGIN_MS = 60_000;

export const describe = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** 503 ServiceUnavailableException for a store that did not answer. */
export function storeUnavailable(what: string, e: unknown): AwsError {
  return new AwsError('ServiceUnavailableException', 'The service is temporarily unavailable; retry the request.', 503, {
    headers: { 'retry-after': '1' },
    reason: `state store unavailable: ${what}: ${describe(e)}`,
  });
}

/** The SigV4 replay cache on a shared store (`sigv4:<signature>` keys). Fails closed. */
export function replayCacheFor(store: SharedStateStore): ReplayCache {
  const margin = store instanceof MemoryStateStore ? 0 : SHARED_CLOCK_MARGIN_MS;
  return {
    async remember(signature: string, expiresAt: number): Promise<boolean> {
      try {
        return await store.rememberOnce(`sigv4:${signature}`, expiresAt + margin);
      } catch (e) {
        if (e instanceof StateStoreError && e.kind === 'full') {
          throw new AwsError('ThrottlingException', 'Too many signed requests in the replay window; try again shortly.', 400, {
            headers: { 'retry-after': '1' },
            reason: 'replay cache full',
          });
        }
        throw storeUnavailable('sigv4 replay check failed closed', e);
      }
    },
  };
}
