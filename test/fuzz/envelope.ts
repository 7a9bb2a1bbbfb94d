/**
 * Mutation fuzzing of the envelope decoder and one-shot decrypt (fast-check, seeded). Shared by
 * `npm run fuzz` (100,000 cases per target) and a short run in `npm test`.
 *
 * Oracle: every input either decrypts to exactly the original plaintext and context (allowed only
 * when the mutation touched nothing but the unauthenticated recipients) or fails with a
 * SealboxError. Anything else — another exception type, a different plaintext — is a bug.
 */
import fc from 'fast-check';
import { SealboxError } from '../../src/errors.js';
import { RawAesKeyring, decrypt, encrypt } from '../../src/index.js';
import { DEFAULT_LIMITS } from '../../src/format/constants.js';
import { parseEnvelopeHeader } from '../../src/format/header.js';

export interface FuzzTarget {
  name: string;
  run(numRuns: number, seed: number): Promise<void>;
}

const key = new Uint8Array(32).fill(7);
const keyring = new RawAesKeyring({ keyName: 'fuzz', key });

function equalBytes(a: Uint8Array, b: Uint8Array) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'splice'; at: number; from: number }
  | { kind: 'length'; value: number }
  | { kind: 'overwrite'; at: number; bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), from: fc.nat() }),
  fc.record({ kind: fc.constant('length' as const), value: fc.oneof(fc.constant(0xffffffff), fc.constant(0x80000000), fc.nat(0xffffffff)) }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
);

/** Applies a mutation; returns the new bytes and the range of original offsets it touched. */
function apply(envelope: Uint8Array, other: Uint8Array, m: Mutation): { bytes: Uint8Array; touched: [number, number] } {
  const n = envelope.length;
  switch (m.kind) {
    case 'flip': {
      const at = m.at % n;
      const bytes = envelope.slice();
      bytes[at]! ^= 1 << m.bit;
      return { bytes, touched: [at, at + 1] };
    }
    case 'insert': {
      const at = m.at % (n + 1);
      const bytes = new Uint8Array(n + m.bytes.length);
      bytes.set(envelope.subarray(0, at));
      bytes.set(m.bytes, at);
      bytes.set(envelope.subarray(at), at + m.bytes.length);
      return { bytes, touched: [at, n] };
    }
    case 'delete': {
      const at = m.at % n;
      const bytes = new Uint8Array([...envelope.subarray(0, at), ...envelope.subarray(at + m.count)]);
      return { bytes, touched: [at, n] };
    }
    case 'truncate': {
      const at = m.at % n;
      return { bytes: envelope.subarray(0, at), touched: [at, n] };
    }
    case 'splice': {
      // The start of this envelope, then the rest of another from some point on.
      const at = m.at % n;
      const from = m.from % other.length;
      return { bytes: new Uint8Array([...envelope.subarray(0, at), ...other.subarray(from)]), touched: [at, n] };
    }
    case 'length': {
      if (n < 8) return { bytes: envelope, touched: [n, n] };
      const bytes = envelope.slice();
      new DataView(bytes.buffer).setUint32(4, m.value);
      return { bytes, touched: [4, 8] };
    }
    case 'overwrite': {
      const at = m.at % n;
      const bytes = envelope.slice();
      bytes.set(m.bytes.subarray(0, n - at), at);
      return { bytes, touched: [at, Math.min(n, at + m.bytes.length)] };
    }
  }
}

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
      const parsed = parseEnvelopeHeader(envelope, DEFAULT_LIMITS);
      // Offsets of the recipients array: the last item of the header.
      const { encodeCbor } = await import('../../src/format/cbor.js');
      const { encodeRecipient } = await import('../../src/format/header.js');
      const recipientsStart = parsed.headerLength - encodeCbor(parsed.recipients.map(encodeRecipient)).length;
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
          let bytes = envelope;
          let lo = Infinity;
          let hi = -Infinity;
          for (const m of mutations) {
            const result = apply(bytes, other, m);
            bytes = result.bytes;
            lo = Math.min(lo, result.touched[0]);
            hi = Math.max(hi, result.touched[1]);
            if (bytes.length === 0) break;
          }
          const unchanged = equalBytes(bytes, envelope);
          const onlyRecipients = lo >= recipientsStart && hi <= parsed.headerLength && bytes.length === envelope.length;
          await checkDecrypt(bytes, plaintext, context, unchanged || onlyRecipients, JSON.stringify(mutations, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v)));
        }),
        { numRuns, seed },
      );
    },
  },
];
