/** The KMS keyring for the CLI's --kms/--key flags. */
import { SealboxError } from '../../errors.js';
import type { Keyring } from '../../keyring/types.js';
import type { KmsTarget } from '../kms-call.js';

export async function kmsKeyring(_target: KmsTarget, _keyIds: string[]): Promise<Keyring> {
  throw new SealboxError('ERR_UNSUPPORTED', 'the KMS keyring has not landed yet');
}
