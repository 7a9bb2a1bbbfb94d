/** ReEncrypt: ReEncryptTo on the destination and ReEncryptFrom on the source key (symmetric sources only), checked against the keys that answered. */
import { AwsError } from '../../aws/errors.js';
import { accessDenied } from '../errors.js';
import type { ResolvedKey } from '../keys.js';
import { ProxyOperations, contextOf, forwardedFields, optionalString, type Ctx, type Json } from './shared.js';

export async function reEncryptOp(p: ProxyOperations, ctx: Ctx, input: Json): Promise<Json> {
  const out = forwardedFields(input);
  const srcAlg = optionalString(input, 'SourceEncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
  const dstAlg = optionalString(input, 'DestinationEncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
  if (srcAlg !== 'SYMMETRIC_DEFAULT') {
    throw accessDenied(
      `ReEncrypt from ${srcAlg} is refused by the proxy: the KMS binds no context to it. Decrypt with SealboxEnvelope and wrap again.`,
      'reencrypt from an asymmetric key',
    );
  }
  const srcContext = contextOf(input, 'SourceEncryptionContext');
  const dstContext = contextOf(input, 'DestinationEncryptionContext');
  if (dstContext ?? srcContext) ctx.context = dstContext ?? srcContext!;
  const destId = optionalString(input, 'DestinationKeyId', true)!;
  const dest = await p.resolveKey(ctx, destId);
  p.check(ctx, 'kms:ReEncryptTo', dest, destId, dstContext, { 'kms:EncryptionAlgorithm': dstAlg });
  if (dest) out.DestinationKeyId = dest.arn;
  const srcId = optionalString(input, 'SourceKeyId');
  let src: ResolvedKey | undefined;
  if (srcId !== undefined) {
    src = await p.keys.resolve(srcId);
    p.check(ctx, 'kms:ReEncryptFrom', src, srcId, srcContext, { 'kms:EncryptionAlgorithm': srcAlg });
    if (src) out.SourceKeyId = src.arn;
  }
  const body = await p.forward(ctx, 'ReEncrypt', out);
  try {
    if (typeof body.SourceKeyId !== 'string') throw new AwsError('KMSInternalException', 'The KMS answer has no SourceKeyId.', 500);
    if (dest) p.sameKey(ctx, dest, body.KeyId);
    if (src) p.sameKey(ctx, src, body.SourceKeyId);
    else {
      const answered = await p.keys.resolve(body.SourceKeyId);
      if (!answered) throw new AwsError('KMSInternalException', 'The source key cannot be described.', 500);
      p.check(ctx, 'kms:ReEncryptFrom', answered, undefined, srcContext, { 'kms:EncryptionAlgorithm': srcAlg });
    }
    if (dest === undefined) {
      const answered = typeof body.KeyId === 'string' ? await p.keys.resolve(body.KeyId) : undefined;
      if (!answered) throw new AwsError('KMSInternalException', 'The destination key cannot be described.', 500);
      p.check(ctx, 'kms:ReEncryptTo', answered, undefined, dstContext, { 'kms:EncryptionAlgorithm': dstAlg });
    }
  } catch (e) {
    delete body.CiphertextBlob;
    throw e;
  }
  return body;
}
