/**
 * Several keyrings as one: the generator makes the data key and wraps it; every other keyring
 * wraps the same key, so any one of them can decrypt (two KMS regions, a KMS key plus an offline
 * RSA recovery key…). Decryption tries the generator, then the others, in order.
 */
import { SealboxError } from '../errors.js';
import type { DataKey, Keyring, UnwrapRequest, WrapRequest, WrapResult } from './types.js';

/**
 * Options of `MultiKeyring`.
 *
 * @example
 * ```ts
 * new MultiKeyring({ generator, others: [a, b] });
 * ```
 */
export interface MultiKeyringOptions {
  generator?: Keyring;
  others?: Keyring[];
}

/**
 * Several keyrings as one: the generator makes the data key, the others wrap it too; decryption tries each.
 *
 * @example
 * ```ts
 * const keyring = new MultiKeyring({ generator: new KmsKeyring({ client, keyId: 'alias/app' }), others: [recoveryKeyring] });
 * ```
 */
export class MultiKeyring implements Keyring {
  readonly generator?: Keyring;
  readonly others: readonly Keyring[];

  constructor(options: MultiKeyringOptions) {
    if (!options || (!options.generator && !options.others?.length)) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'MultiKeyring needs a generator, other keyrings, or both');
    }
    if (options.generator) this.generator = options.generator;
    this.others = [...(options.others ?? [])];
  }

  async wrapDataKey(request: WrapRequest): Promise<WrapResult> {
    if (!this.generator && request.dataKey === undefined) {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'this MultiKeyring has no generator, so it cannot encrypt on its own');
    }
    const first = this.generator ? await this.generator.wrapDataKey(request) : { dataKey: request.dataKey!, recipients: [] };
    const rest = await Promise.all(this.others.map((keyring) => keyring.wrapDataKey({ ...request, dataKey: first.dataKey })));
    return { dataKey: first.dataKey, recipients: [...first.recipients, ...rest.flatMap((r) => r.recipients)] };
  }

  async unwrapDataKey(request: UnwrapRequest): Promise<DataKey | undefined> {
    const errors: unknown[] = [];
    for (const keyring of this.generator ? [this.generator, ...this.others] : this.others) {
      try {
        const dataKey = await keyring.unwrapDataKey(request);
        if (dataKey) return dataKey;
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 0) return undefined;
    if (errors.length === 1) throw errors[0];
    const reasons = errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
    throw new SealboxError('ERR_NO_KEYRING_MATCH', `no keyring could unwrap the data key: ${reasons}`, { cause: new AggregateError(errors) });
  }
}
