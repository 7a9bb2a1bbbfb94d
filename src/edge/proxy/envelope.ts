/**
 * The `SealboxEnvelope` wire extension of `Decrypt` (runtime-agnostic). For RSA keys the KMS binds
 * no encryption context to the wrapped data key, so the caller sends the envelope's protected header,
 * salt and key commitment:
 *
 *   "SealboxEnvelope": { "Protected": <base64 protected header bytes>, "Salt": <base64, 24 bytes>,
 *                        "Commitment": <base64, 32 bytes> }
 *
 * After the KMS unwraps the 32-byte data key, the proxy derives the Cobblestone keys
 * (`deriveMessageKeys(dek, salt, "SBX" 0x01 ‖ protected)`) and compares the commitment: only then is
 * the context decoded from the protected header authenticated, and policy is applied to it. Any
 * mismatch withholds the plaintext.
 */
import { fromBase64 } from '../../sdk/crypto/bytes.js';
import { DEFAULT_LIMITS, type EnvelopeLimits } from '../../sdk/format/constants.js';
import { decodeProtected, headerAad, type EncryptionContext } from '../../sdk/format/header.js';
import { COMMITMENT_BYTES, SALT_BYTES, checkCommitment, deriveMessageKeys } from '../../sdk/payload/cobblestone.js';
import { validation } from './errors.js';

export interface SealboxEnvelope {
  protectedBytes: Uint8Array;
  salt: Uint8Array;
  commitment: Uint8Array;
  /** The context the protected header claims (authenticated only after `verifyEnvelope`). */
  context: EncryptionContext;
}

function bytesField(v: unknown, name: string, length?: number, max = 65536): Uint8Array {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw validation(`SealboxEnvelope.${name} must be a base64 string.`);
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(v);
  } catch {
    throw validation(`SealboxEnvelope.${name} is not valid base64.`);
  }
  if (length !== undefined && bytes.length !== length) throw validation(`SealboxEnvelope.${name} must be ${length} bytes.`);
  return bytes;
}

export function parseEnvelope(value: unknown, limits: EnvelopeLimits = DEFAULT_LIMITS): SealboxEnvelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw validation('SealboxEnvelope must be an object { Protected, Salt, Commitment }.');
  }
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) {
    if (k !== 'Protected' && k !== 'Salt' && k !== 'Commitment') throw validation(`SealboxEnvelope has an unknown member '${k}'.`);
  }
  const protectedBytes = bytesField(v.Protected, 'Protected');
  const salt = bytesField(v.Salt, 'Salt', SALT_BYTES);
  const commitment = bytesField(v.Commitment, 'Commitment', COMMITMENT_BYTES);
  let context: EncryptionContext;
  try {
    context = decodeProtected(protectedBytes, limits).context;
  } catch (e) {
    throw validation(`SealboxEnvelope.Protected is not a valid protected header: ${(e as Error).message}`);
  }
  return { protectedBytes, salt, commitment, context };
}

/** True when `dataKey` (the KMS's plaintext) commits to this envelope's protected header and salt. */
export async function verifyEnvelope(envelope: SealboxEnvelope, dataKey: Uint8Array): Promise<boolean> {
  if (dataKey.length !== 32) return false;
  try {
    const keys = await deriveMessageKeys(dataKey, envelope.salt, headerAad(envelope.protectedBytes));
    checkCommitment(keys, envelope.commitment);
    return true;
  } catch {
    return false;
  }
}
