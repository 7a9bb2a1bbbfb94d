/** Decrypt: policy before the call when a KeyId is given, always against the key that answered; RSA decrypts need SealboxEnvelope, whose commitment must match the unwrapped key. */
import { fromBase64, wipe } from '../../../sdk/crypto/bytes.js';
import { AwsError } from '../../aws/errors.js';
import { parseEnvelope, verifyEnvelope, type SealboxEnvelope } from '../envelope.js';
import { accessDenied } from '../errors.js';
import type { ResolvedKey } from '../keys.js';
import { checkContextKeys } from '../shapes.js';
import { ProxyOperations, contextOf, forwardedFields, optionalString, type Ctx, type Json } from './shared.js';

export async function decryptOp(p: ProxyOperations, ctx: Ctx, input: Json): Promise<Json> {
  const out = forwardedFields(input);
  const algorithm = optionalString(input, 'EncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
  let envelope: SealboxEnvelope | undefined;
  if (input.SealboxEnvelope !== undefined) envelope = parseEnvelope(input.SealboxEnvelope);
  let context = contextOf(input, 'EncryptionContext');
  if (algorithm !== 'SYMMETRIC_DEFAULT') {
    if (!envelope) {
      throw accessDenied(
        `Decrypt with ${algorithm} through the proxy needs SealboxEnvelope (the envelope's protected header, salt and commitment).`,
        'rsa decrypt without SealboxEnvelope',
      );
    }
    // The KMS binds no context to asymmetric ciphertexts: policy sees the envelope's context.
    checkContextKeys(envelope.context, 'SealboxEnvelope.Protected context');
    context = envelope.context;
    delete out.EncryptionContext;
  }
  if (context) ctx.context = context;
  const extra = { 'kms:EncryptionAlgorithm': algorithm };
  const keyId = optionalString(input, 'KeyId');
  let key: ResolvedKey | undefined;
  if (keyId !== undefined) {
    key = await p.resolveKey(ctx, keyId);
    p.check(ctx, 'kms:Decrypt', key, keyId, context, extra);
    if (key) out.KeyId = key.arn;
  }
  const body = await p.forward(ctx, 'Decrypt', out);
  const plaintextB64 = body.Plaintext;
  try {
    const answeredAlgorithm = typeof body.EncryptionAlgorithm === 'string' ? body.EncryptionAlgorithm : algorithm;
    if (answeredAlgorithm !== 'SYMMETRIC_DEFAULT' && !envelope) throw accessDenied('Asymmetric decrypt needs SealboxEnvelope.', `upstream used ${answeredAlgorithm} without an envelope`);
    if (typeof body.KeyId !== 'string') throw new AwsError('KMSInternalException', 'The KMS answer has no KeyId.', 500);
    if (key) {
      p.sameKey(ctx, key, body.KeyId);
    } else {
      // No KeyId in the request (or it did not resolve): authorize against the key that answered.
      const answered = await p.keys.resolve(body.KeyId);
      if (!answered) throw new AwsError('KMSInternalException', 'The key that answered cannot be described.', 500);
      ctx.keyId = answered.arn;
      p.check(ctx, 'kms:Decrypt', answered, undefined, context, extra);
    }
    if (envelope) {
      if (typeof plaintextB64 !== 'string') throw new AwsError('KMSInternalException', 'The KMS answer has no Plaintext.', 500);
      let dek: Uint8Array;
      try {
        dek = fromBase64(plaintextB64);
      } catch {
        throw new AwsError('KMSInternalException', 'The KMS answer has an unreadable Plaintext.', 500);
      }
      const ok = await verifyEnvelope(envelope, dek);
      wipe(dek);
      if (!ok) {
        throw accessDenied(
          'The envelope commitment does not match the unwrapped key: the protected header, salt or commitment is not this key\'s.',
          'envelope commitment mismatch',
        );
      }
    }
  } catch (e) {
    delete body.Plaintext;
    throw e;
  }
  return body;
}
