/**
 * The AWS JSON 1.1 protocol as KMS speaks it: every call is a POST with this content type and an
 * `X-Amz-Target: TrentService.<Operation>` header. One place for both, on the server side (the SDK's
 * KmsClient, which may not import the edge layer, writes its own two literals).
 */

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/** The `X-Amz-Target` prefix of every KMS operation. */
export const KMS_TARGET_PREFIX = 'TrentService.';

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
