/**
 * The AWS JSON 1.1 protocol as KMS speaks it, for the servers: every call is a POST with the
 * content type `application/x-amz-json-1.1` and an `X-Amz-Target: TrentService.<Operation>` header.
 * The two literals are written once, in the SDK's wire module (src/sdk/client/wire.ts, which the
 * KmsClient uses and which the edge layer may import); this module names them for the servers and
 * parses targets.
 */
import { KMS_JSON_CONTENT_TYPE, KMS_TARGET_PREFIX } from '../../sdk/client/wire.js';

export const JSON_CONTENT_TYPE = KMS_JSON_CONTENT_TYPE;
export { KMS_TARGET_PREFIX };

/** `TrentService.<op>`. */
export function kmsTarget(operation: string): string {
  return `${KMS_TARGET_PREFIX}${operation}`;
}

/** Whether an `X-Amz-Target` names a KMS operation (starts with `TrentService.`). */
export function isKmsTarget(target: string): boolean {
  return target.startsWith(KMS_TARGET_PREFIX);
}

/** The operation an `X-Amz-Target` names: the part after `TrentService.`, or the whole target when it lacks the prefix. */
export function kmsOperation(target: string): string {
  return isKmsTarget(target) ? target.slice(KMS_TARGET_PREFIX.length) : target;
}
