/**
 * The tamper campaign: for small single-recipient envelopes (raw AES and RSA), every truncation
 * point and every single-bit flip must fail with a SealboxError. The one exception is a flip
 * inside the recipient entry, which is unauthenticated by design (rewrap replaces it): there it
 * may instead give exactly the original plaintext and context. Nothing else may pass.
 */
import { SealboxError } from '../../src/sdk/errors.js';
import { type Keyring, RawAesKeyring, RsaOaepKeyring, decrypt, encrypt } from '../../src/index.js';
import { encodeCbor } from '../../src/sdk/format/cbor.js';
import { DEFAULT_LIMITS } from '../../src/sdk/format/constants.js';
import { encodeRecipient, parseEnvelopeHeader } from '../../src/sdk/format/header.js';
import { AssertionError, type TestCase, bytesEqual, deepEqual, equal, pattern } from './harness.js';
import { AES_KEY, rsaTestPair } from './keys.js';

const BATCH = 32;

async function campaign(label: string, envelope: Uint8Array, keyring: Keyring, plaintext: Uint8Array, context: Record<string, string>) {
  const parsed = parseEnvelopeHeader(envelope, DEFAULT_LIMITS);
  // The recipients array is the header's last item, so it ends where the header ends.
  const recipientsLength = encodeCbor(parsed.recipients.map(encodeRecipient)).length;
  const recipientsStart = parsed.headerLength - recipientsLength;
  let passedInRecipient = 0;

  const attempt = async (candidate: Uint8Array, what: string, mayPass: boolean) => {
    let result;
    try {
      result = await decrypt(candidate, { keyring });
    } catch (error) {
      if (!(error instanceof SealboxError)) throw new AssertionError(`${label}: ${what} threw ${String(error)}, not a SealboxError`);
      return;
    }
    if (!mayPass) throw new AssertionError(`${label}: ${what} was accepted`);
    bytesEqual(result.plaintext, plaintext, `${label}: ${what} gave other plaintext`);
    deepEqual(result.context, context, `${label}: ${what} gave another context`);
    passedInRecipient++;
  };

  const jobs: (() => Promise<void>)[] = [];
  for (let length = 0; length < envelope.length; length++) {
    jobs.push(() => attempt(envelope.subarray(0, length), `truncation to ${length} bytes`, false));
  }
  for (let i = 0; i < envelope.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      jobs.push(() => {
        const flipped = envelope.slice();
        flipped[i]! ^= 1 << bit;
        return attempt(flipped, `flip of bit ${bit} of byte ${i}`, i >= recipientsStart && i < parsed.headerLength);
      });
    }
  }
  for (let start = 0; start < jobs.length; start += BATCH) await Promise.all(jobs.slice(start, start + BATCH).map((job) => job()));
  equal(jobs.length, envelope.length * 9, 'every truncation and every flip was tried');
  return passedInRecipient;
}

export const tamperCases: TestCase[] = [
  {
    name: 'tamper campaign: raw AES envelope, every truncation and every bit flip',
    async run() {
      const keyring = new RawAesKeyring({ keyName: 'k', key: AES_KEY });
      const plaintext = pattern(9, 42);
      const context = { t: 'a' };
      const envelope = await encrypt(plaintext, { keyring, context });
      await campaign('raw AES', envelope, keyring, plaintext, context);
    },
  },
  {
    name: 'tamper campaign: RSA-OAEP envelope, every truncation and every bit flip',
    async run() {
      const pair = await rsaTestPair();
      const plaintext = pattern(9, 43);
      const context = { t: 'b' };
      const envelope = await encrypt(plaintext, { keyring: new RsaOaepKeyring({ publicKey: pair.publicKey, keyId: 'r' }), context });
      await campaign('RSA', envelope, new RsaOaepKeyring({ privateKey: pair.privateKey, keyId: 'r' }), plaintext, context);
    },
  },
];
