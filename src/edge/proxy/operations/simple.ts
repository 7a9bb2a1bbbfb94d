/** GenerateDataKey(WithoutPlaintext), Encrypt, GetPublicKey, DescribeKey: one named key, checked before the call and again against the key that answered. */
import { AwsError } from '../../aws/errors.js';
import { ProxyOperations, contextOf, forwardedFields, optionalString, type Ctx, type Json, type Op } from './shared.js';

/** GenerateDataKey(WithoutPlaintext), Encrypt, GetPublicKey, DescribeKey: one named key. */
export async function simpleOp(p: ProxyOperations, ctx: Ctx, op: Op, input: Json): Promise<Json> {
  const out = forwardedFields(input);
  const keyId = optionalString(input, 'KeyId', true)!;
  const context = op === 'GetPublicKey' || op === 'DescribeKey' ? undefined : contextOf(input, 'EncryptionContext');
  if (context) ctx.context = context;
  const key = await p.resolveKey(ctx, keyId);
  const extra: Record<string, string> = {};
  if (op === 'Encrypt') extra['kms:EncryptionAlgorithm'] = optionalString(input, 'EncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
  if (op === 'GenerateDataKey' || op === 'GenerateDataKeyWithoutPlaintext') {
    const spec = optionalString(input, 'KeySpec');
    if (spec !== undefined) extra['kms:DataKeyPairSpec'] = spec;
  }
  p.check(ctx, `kms:${op}`, key, keyId, context, extra);
  if (key) out.KeyId = key.arn;
  const body = await p.forward(ctx, op, out);
  const answeredId = op === 'DescribeKey' ? (body.KeyMetadata as Json | undefined)?.Arn : body.KeyId;
  if (key) {
    p.sameKey(ctx, key, answeredId);
  } else {
    // Allowed on the literal name of a key that did not exist a moment ago: check the key that answered.
    const answered = typeof answeredId === 'string' ? await p.keys.resolve(answeredId) : undefined;
    if (!answered) throw new AwsError('KMSInternalException', 'The key that answered cannot be described.', 500);
    ctx.keyId = answered.arn;
    p.check(ctx, `kms:${op}`, answered, keyId, context, extra);
  }
  return body;
}
