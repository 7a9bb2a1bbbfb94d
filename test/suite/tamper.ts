/**
 * The tamper campaign: for small single-recipient envelopes (raw AES and RSA), every truncation
 * point and every single-bit flip must fail with a SealboxError. The one exception is a flip
 * inside the recipient entry, which is unauthenticated by design (rewrap replaces it): there it
 * may instead give exactly the original plaintext and context. Nothing else may pass.
 *
 * Every candidate goes through the whole `decrypt`. What is spared is the one costly step whose
 * answer cannot change: unwrapping a recipient list byte-identical to the original's (a flip or
 * truncation elsewhere in the header or in the body) gives the original's data key, since a
 * keyring's unwrap sees only the recipients. So those candidates get a fresh copy of the key the
 * first, untampered decryption unwrapped (`ReuseUnwrap`), and only the ones that touch the
 * recipient entry (for RSA, ~2,000 flips of the wrapped key) unwrap for real. For RSA that is
 * ~700 fewer private-key operations of ~2,700 (4–10 ms each in Firefox and WebKit).
 */
import { SealboxError } from '../../src/sdk/errors.js';
import { type DataKey, type Keyring, RawAesKeyring, type UnwrapRequest, type WrapRequest, RsaOaepKeyring, decrypt, encrypt } from '../../src/index.js';
import { encodeCbor } from '../../src/sdk/format/cbor.js';
import { DEFAULT_LIMITS } from '../../src/sdk/format/constants.js';
import { encodeRecipient, parseEnvelopeHeader } from '../../src/sdk/format/header.js';
import { AssertionError, type TestCase, bytesEqual, deepEqual, equal, pattern } from './harness.js';
import { AES_KEY, rsaTestPair } from './keys.js';

const BATCH = 32;

const recipientBytes = (request: UnwrapRequest) => encodeCbor(request.recipients.map(encodeRecipient));
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => byte === b[i]);

/**
 * A keyring that unwraps through `inner` once for the original recipient list, then answers a
 * byte-identical list with a copy of that data key (a copy each time: `decrypt` may wipe the key it
 * was given). Any other list is unwrapped by `inner`, every time.
 */
class ReuseUnwrap implements Keyring {
  original?: { recipients: Uint8Array; dataKey: DataKey };
  reused = 0;
  unwrapped = 0;
  constructor(
    readonly inner: Keyring,
    readonly reuse: boolean,
  ) {}
  wrapDataKey(request: WrapRequest) {
    return this.inner.wrapDataKey(request);
  }
  async unwrapDataKey(request: UnwrapRequest): Promise<DataKey | undefined> {
    const recipients = recipientBytes(request);
    if (this.original && sameBytes(recipients, this.original.recipients)) {
      this.reused++;
      const key = this.original.dataKey;
      return key instanceof Uint8Array ? key.slice() : key;
    }
    this.unwrapped++;
    const dataKey = await this.inner.unwrapDataKey(request);
    if (this.reuse && !this.original && dataKey !== undefined) {
      this.original = { recipients, dataKey: dataKey instanceof Uint8Array ? dataKey.slice() : dataKey };
    }
    return dataKey;
  }
}

async function campaign(label: string, envelope: Uint8Array, innerKeyring: Keyring, plaintext: Uint8Array, context: Record<string, string>, reuse: boolean) {
  // With reuse off, ReuseUnwrap never has an original, so every candidate unwraps for real.
  const keyring = new ReuseUnwrap(innerKeyring, reuse);
  // The untampered envelope first: it decrypts, and its unwrapped data key is the one reused.
  const original = await decrypt(envelope, { keyring });
  bytesEqual(original.plaintext, plaintext, `${label}: the untampered envelope`);
  if (reuse && !keyring.original) throw new AssertionError(`${label}: the untampered envelope's data key was not unwrapped`);
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
  return { passedInRecipient, reused: keyring.reused, unwrapped: keyring.unwrapped };
}

export const tamperCases: TestCase[] = [
  {
    name: 'tamper campaign: raw AES envelope, every truncation and every bit flip',
    async run() {
      const keyring = new RawAesKeyring({ keyName: 'k', key: AES_KEY });
      const plaintext = pattern(9, 42);
      const context = { t: 'a' };
      const envelope = await encrypt(plaintext, { keyring, context });
      // AES unwraps are cheap: this campaign unwraps every candidate for real (no reuse).
      await campaign('raw AES', envelope, keyring, plaintext, context, false);
    },
  },
  {
    name: 'tamper campaign: RSA-OAEP envelope, every truncation and every bit flip',
    async run() {
      const pair = await rsaTestPair();
      const plaintext = pattern(9, 43);
      const context = { t: 'b' };
      const envelope = await encrypt(plaintext, { keyring: new RsaOaepKeyring({ publicKey: pair.publicKey, keyId: 'r' }), context });
      const stats = await campaign('RSA', envelope, new RsaOaepKeyring({ privateKey: pair.privateKey, keyId: 'r' }), plaintext, context, true);
      // The flips of the 256-byte wrapped key (2,048) at least unwrap for real; the rest reuse.
      if (stats.unwrapped < 2048 || stats.reused === 0) throw new AssertionError(`RSA: ${stats.unwrapped} real unwraps, ${stats.reused} reused`);
    },
  },
];
