/**
 * Mutation fuzzing of the envelope decoder and one-shot decrypt (fast-check, seeded). Shared by
 * `npm run fuzz` (100,000 cases per target) and a short run in `npm test`.
 *
 * Oracle: every input either decrypts to exactly the original plaintext and context (allowed only
 * when the mutation touched nothing but the unauthenticated recipients) or fails with a
 * SealboxError. Anything else — another exception type, a different plaintext — is a bug.
 */
import fc from 'fast-check';
import { SealboxError } from '../../src/sdk/errors.js';
import { RawAesKeyring, decrypt, encrypt } from '../../src/index.js';
import { DEFAULT_LIMITS } from '../../src/sdk/format/constants.js';
import { parseEnvelopeHeader } from '../../src/sdk/format/header.js';
import { describe, equalBytes, mutate, mutation, recipientsRange } from './mutate.js';

export interface FuzzTarget {
  name: string;
  run(numRuns: number, seed: number): Promise<void>;
}

const key = new Uint8Array(32).fill(7);
const keyring = new RawAesKeyring({ keyName: 'fuzz', key });

async function checkDecrypt(bytes: Uint8Array, plaintext: Uint8Array, context: Record<string, string>, mayPass: boolean, what: string) {
  let result;
  try {
    result = await decrypt(bytes, { keyring });
  } catch (error) {
    if (error instanceof SealboxError) return;
    throw new Error(`${what}: threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}, not a SealboxError`);
  }
  if (!mayPass) throw new Error(`${what}: a mutated envelope was accepted`);
  if (!equalBytes(result.plaintext, plaintext) || JSON.stringify(result.context) !== JSON.stringify(context)) {
    throw new Error(`${what}: accepted with different plaintext or context`);
  }
}

export const envelopeTargets: FuzzTarget[] = [
  {
    name: 'header decoder: random bytes after a valid prefix',
    async run(numRuns, seed) {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (cbor) => {
          const bytes = new Uint8Array(8 + cbor.length);
          bytes.set([0x53, 0x42, 0x58, 0x01]);
          new DataView(bytes.buffer).setUint32(4, cbor.length);
          bytes.set(cbor, 8);
          try {
            parseEnvelopeHeader(bytes, DEFAULT_LIMITS);
          } catch (error) {
            if (!(error instanceof SealboxError)) throw error;
          }
        }),
        { numRuns, seed },
      );
    },
  },
  {
    name: 'decrypt: mutated valid envelopes (flips, insertions, deletions, splices, truncations, length fields)',
    async run(numRuns, seed) {
      const plaintext = new Uint8Array(40000).map((_, i) => (i * 13) & 0xff);
      const context = { tenant: 'fuzz' };
      const envelope = await encrypt(plaintext, { keyring, context });
      const other = await encrypt(plaintext, { keyring, context });
      const recipients = recipientsRange(envelope);
      const otherRecipients = recipientsRange(other);
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
          // A splice can rebuild `other` whole, a valid envelope of the same plaintext: mutate() counts it as unchanged.
          const mutated = mutate(envelope, other, recipients, mutations, otherRecipients);
          await checkDecrypt(mutated.bytes, plaintext, context, mutated.unchanged || mutated.onlyRecipients, describe(mutations));
        }),
        { numRuns, seed },
      );
    },
  },
];
