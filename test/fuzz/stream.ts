/**
 * Mutation fuzzing of `DecryptStream` and `decryptRange` (fast-check, seeded).
 *
 * DecryptStream oracle: the mutated envelope is fed in random pieces. Unless the envelope is
 * unchanged (or only its unauthenticated recipients changed), the stream must end in a
 * SealboxError — never a clean end — and what it emitted before the error must be a prefix of the
 * original plaintext made of whole chunks (chunk size multiples, or the whole plaintext). When it
 * may pass, it must give exactly the original plaintext.
 *
 * decryptRange oracle: a random range of the mutated envelope, read through a function source with
 * or without the size. A success must return exactly the original plaintext slice, and may only
 * happen when every byte range the source served is identical to the original's (ranged reads
 * legitimately ignore damage outside the chunks they read), or when only recipients changed. An
 * unchanged envelope must succeed in range and fail with ERR_RANGE past the end. Anything else
 * must be a SealboxError.
 */
import fc from 'fast-check';
import { SealboxError } from '../../src/sdk/errors.js';
import { DecryptStream, RawAesKeyring, decryptRange, encrypt } from '../../src/index.js';
import { describe, equalBytes, errorText, mutate, mutation, recipientsRange } from './mutate.js';
import type { FuzzTarget } from './envelope.js';

const CHUNK = 16384;
const key = new Uint8Array(32).fill(11);
const keyring = new RawAesKeyring({ keyName: 'fuzz-stream', key });
const context = { tenant: 'fuzz' };
// Three full chunks and a short final one.
const plaintext = new Uint8Array(3 * CHUNK + 5000).map((_, i) => (i * 31 + (i >> 8)) & 0xff);

interface Fixture {
  envelope: Uint8Array;
  other: Uint8Array;
  recipients: [number, number];
  otherRecipients: [number, number];
}

let fixture: Promise<Fixture> | undefined;
function getFixture(): Promise<Fixture> {
  fixture ??= (async () => {
    const envelope = await encrypt(plaintext, { keyring, context });
    const other = await encrypt(plaintext, { keyring, context });
    return { envelope, other, recipients: recipientsRange(envelope), otherRecipients: recipientsRange(other) };
  })();
  return fixture;
}

/** Cuts `bytes` into pieces of the given sizes (the rest as the last piece). */
function pieces(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of cuts) {
    if (at >= bytes.length) break;
    out.push(bytes.slice(at, at + c));
    at += c;
  }
  if (at < bytes.length) out.push(bytes.slice(at));
  return out;
}

/** Runs the stream; returns what it emitted and how it ended. */
export async function runDecryptStream(bytes: Uint8Array, cuts: number[], inFlightBytes?: number): Promise<{ output: Uint8Array; error: unknown; clean: boolean }> {
  const stream = new DecryptStream(inFlightBytes === undefined ? { keyring } : { keyring, inFlightBytes });
  const parts = pieces(bytes, cuts);
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = parts.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
  });
  const reader = source.pipeThrough(stream).getReader();
  const chunks: Uint8Array[] = [];
  let error: unknown;
  let clean = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        clean = true;
        break;
      }
      chunks.push(value);
    }
  } catch (e) {
    error = e;
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const output = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    output.set(c, at);
    at += c.length;
  }
  return { output, error, clean };
}

export async function checkStreamCase(
  bytes: Uint8Array,
  unchanged: boolean,
  onlyRecipients: boolean,
  cuts: number[],
  inFlightBytes: number | undefined,
  what: string,
): Promise<void> {
  const { output, error, clean } = await runDecryptStream(bytes, cuts, inFlightBytes);
  if (clean) {
    if (!unchanged && !onlyRecipients) throw new Error(`${what}: a mutated envelope streamed to a clean end (${output.length} bytes)`);
    if (!equalBytes(output, plaintext)) throw new Error(`${what}: clean end with a different plaintext`);
    return;
  }
  if (!(error instanceof SealboxError)) throw new Error(`${what}: stream failed with ${errorText(error)}, not a SealboxError`);
  if (unchanged) throw new Error(`${what}: an envelope that should decrypt failed with ${error.code}: ${error.message}`);
  if (output.length > plaintext.length || !equalBytes(output, plaintext.subarray(0, output.length))) {
    throw new Error(`${what}: emitted ${output.length} bytes that are not a prefix of the plaintext`);
  }
  if (output.length % CHUNK !== 0 && output.length !== plaintext.length) {
    throw new Error(`${what}: emitted ${output.length} bytes, not whole chunks`);
  }
}

export async function checkRangeCase(
  bytes: Uint8Array,
  original: Uint8Array,
  unchanged: boolean,
  onlyRecipients: boolean,
  offset: number,
  length: number,
  withSize: boolean,
  what: string,
): Promise<void> {
  let readDiffers = false;
  let readCount = 0;
  const read = async (start: number, end: number) => {
    readCount++;
    if (readCount > 200) throw new Error(`${what}: more than 200 reads`);
    const got = bytes.slice(start, Math.min(end, bytes.length));
    const want = original.subarray(start, Math.min(end, original.length));
    if (!equalBytes(got, want)) readDiffers = true;
    return got;
  };
  let result: Uint8Array;
  try {
    result = await decryptRange(withSize ? { read, size: bytes.length } : read, { keyring, offset, length });
  } catch (error) {
    if (!(error instanceof SealboxError)) throw new Error(`${what}: threw ${errorText(error)}, not a SealboxError`);
    if (unchanged) {
      const inRange = offset + length <= plaintext.length;
      if (inRange || error.code !== 'ERR_RANGE') throw new Error(`${what}: a readable envelope failed with ${error.code}: ${error.message}`);
    }
    return;
  }
  if (offset + length > plaintext.length) throw new Error(`${what}: a range past the end returned ${result.length} bytes`);
  if (!equalBytes(result, plaintext.subarray(offset, offset + length))) throw new Error(`${what}: returned bytes that are not the plaintext slice`);
  // Reads that differ from the original are fine only when the bytes are a valid envelope anyway
  // (the other envelope, rebuilt by a splice) or differ from one only in its recipients.
  if (readDiffers && !unchanged && !onlyRecipients) throw new Error(`${what}: succeeded although it read tampered bytes`);
}

const cutsArb = fc.array(fc.integer({ min: 1, max: 3 * CHUNK }), { maxLength: 6 });
const inFlightArb = fc.option(fc.constantFrom(1, CHUNK, 4 * CHUNK), { nil: undefined });

export const streamTargets: FuzzTarget[] = [
  {
    name: 'DecryptStream: mutated valid envelopes in random pieces (prefix of whole verified chunks, then an error)',
    async run(numRuns, seed) {
      const { envelope, other, recipients, otherRecipients } = await getFixture();
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), cutsArb, inFlightArb, async (mutations, cuts, inFlight) => {
          const m = mutate(envelope, other, recipients, mutations, otherRecipients);
          await checkStreamCase(m.bytes, m.unchanged, m.onlyRecipients, cuts, inFlight, describe({ mutations, cuts, inFlight }));
        }),
        { numRuns, seed },
      );
    },
  },
  {
    name: 'decryptRange: random ranges of mutated valid envelopes (sized and unsized sources)',
    async run(numRuns, seed) {
      const { envelope, other, recipients, otherRecipients } = await getFixture();
      const n = plaintext.length;
      const rangeArb = fc.oneof(
        fc.tuple(fc.integer({ min: 0, max: n }), fc.integer({ min: 0, max: 2 * CHUNK })),
        fc.tuple(fc.integer({ min: 0, max: n + 2 * CHUNK }), fc.integer({ min: 0, max: 40 })),
        fc.tuple(fc.constant(0), fc.constant(n)),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(mutation, { minLength: 0, maxLength: 3 }),
          rangeArb,
          fc.boolean(),
          async (mutations, [offset, length], withSize) => {
            const m = mutate(envelope, other, recipients, mutations, otherRecipients);
            await checkRangeCase(m.bytes, envelope, m.unchanged, m.onlyRecipients, offset, length, withSize, describe({ mutations, offset, length, withSize }));
          },
        ),
        { numRuns, seed },
      );
    },
  },
];

/** Re-runs one decryptRange case (for regression tests of counterexamples). */
export async function replayRangeCase(mutations: Parameters<typeof mutate>[3], offset: number, length: number, withSize: boolean): Promise<void> {
  const { envelope, other, recipients, otherRecipients } = await getFixture();
  const m = mutate(envelope, other, recipients, mutations, otherRecipients);
  await checkRangeCase(m.bytes, envelope, m.unchanged, m.onlyRecipients, offset, length, withSize, describe({ mutations, offset, length, withSize }));
}

/** Re-runs one DecryptStream case. */
export async function replayStreamCase(mutations: Parameters<typeof mutate>[3], cuts: number[], inFlight?: number): Promise<void> {
  const { envelope, other, recipients, otherRecipients } = await getFixture();
  const m = mutate(envelope, other, recipients, mutations, otherRecipients);
  await checkStreamCase(m.bytes, m.unchanged, m.onlyRecipients, cuts, inFlight, describe({ mutations, cuts, inFlight }));
}
