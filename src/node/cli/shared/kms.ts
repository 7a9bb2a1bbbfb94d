/** The KMS keyring for the CLI's --kms/--key flags. */
import { KmsKeyring } from '../../../sdk/keyring/kms.js';
import type { DataKey, Keyring, UnwrapRequest, WrapRequest, WrapResult } from '../../../sdk/keyring/types.js';
import { RECIPIENT_KMS, RECIPIENT_RSA_OAEP_256 } from '../../../sdk/format/constants.js';
import { SealboxError } from '../../../sdk/errors.js';
import { type KmsTarget, kmsClient } from './kms-call.js';

/**
 * `--kms <url> --key a --key b`: a KmsKeyring (a generates, b wraps too). With no --key (decrypt
 * only), a keyring that asks the KMS to unwrap every KMS recipient of the envelope in turn (the
 * recipients name their key ARNs), like the AWS Encryption SDK's discovery keyring.
 */
export async function kmsKeyring(target: KmsTarget, keyIds: string[]): Promise<Keyring> {
  const client = kmsClient(target);
  const [first, ...rest] = keyIds;
  if (first !== undefined) return new KmsKeyring({ client, keyId: first, additionalKeyIds: rest });
  return {
    async wrapDataKey(_request: WrapRequest): Promise<WrapResult> {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'encrypting with a KMS needs --key');
    },
    async unwrapDataKey(request: UnwrapRequest): Promise<DataKey | undefined> {
      const ids = request.recipients
        .filter((r) => r.type === RECIPIENT_KMS || (r.type === RECIPIENT_RSA_OAEP_256 && r.keyId.startsWith('arn:')))
        .map((r) => r.keyId);
      const [id, ...more] = [...new Set(ids)];
      if (id === undefined) return undefined;
      return new KmsKeyring({ client, keyId: id, additionalKeyIds: more }).unwrapDataKey(request);
    },
  };
}
