/**
 * decryptRange: random ranges equal the plaintext slice, only the header and the covering chunks
 * are read (counted), the commitment is checked first, a range past the end is ERR_RANGE once the
 * final chunk is authenticated, and the Wycheproof vectors go through the ranged path.
 */
import fc from 'fast-check';
import { SealboxError } from '../../src/sdk/errors.js';
import { decryptRange, encrypt, type RangeSource } from '../../src/index.js';
import { COBBLESTONE_HEADER_BYTES, SALT_BYTES, checkCommitment, deriveMessageKeys, layoutFromCiphertextLength } from '../../src/sdk/payload/cobblestone.js';
import { readCobblestoneRange } from '../../src/sdk/stream/range.js';
import { AssertionError, type TestCase, bytesEqual, equal, inflate, ok, pattern, rejectsWith, sha, unhex } from './harness.js';
import { C, SALT, SEALED, fixedKeyring } from './streams.js';
import { loadWycheproof } from './wycheproof.js';

type Mode = 'blob' | 'sized' | 'function';

/** A source over `bytes` in one of the three shapes, counting requests and bytes returned. */
function counted(bytes: Uint8Array, mode: Mode) {
  const log = { requests: 0, bytes: 0 };
  const read = async (start: number, end: number) => {
    log.requests++;
    const out = bytes.slice(start, Math.min(end, bytes.length));
    log.bytes += out.length;
    return out;
  };
  let source: RangeSource;
  if (mode === 'function') source = read;
  else if (mode === 'sized') source = { read, size: bytes.length };
  else {
    const blob = new Blob([bytes as BlobPart]);
    source = new Proxy(blob, {
      get(target, key) {
        if (key === 'slice') {
          return (start: number, end: number) => {
            log.requests++;
            log.bytes += Math.max(0, Math.min(end, bytes.length) - start);
            return target.slice(start, end);
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
  return { source, log };
}

async function makeEnvelope(size: number, chunkSize = C) {
  const plaintext = pattern(size, size + 17);
  const envelope = await encrypt(plaintext, { keyring: fixedKeyring(), salt: SALT, chunkSize });
  const headerLength = envelope.length - (Math.floor(size / chunkSize) * (chunkSize + 16) + (size % chunkSize) + 16) - COBBLESTONE_HEADER_BYTES;
  return { plaintext, envelope, headerLength };
}

const MODES: Mode[] = ['blob', 'sized', 'function'];

export const rangeCases: TestCase[] = [
  {
    name: 'decryptRange: property — random ranges equal the plaintext slice and read only the header and covering chunks',
    async run() {
      const sizes = [0, 1, C - 1, C, C + 1, 3 * C, 5 * C + 77];
      const envelopes = await Promise.all(sizes.map((size) => makeEnvelope(size)));
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: sizes.length - 1 }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.constantFrom(...MODES),
          async (which, a, b, mode) => {
            const { plaintext, envelope, headerLength } = envelopes[which]!;
            const offset = Math.floor(a * plaintext.length);
            const length = Math.floor(b * (plaintext.length - offset));
            const { source, log } = counted(envelope, mode);
            const out = await decryptRange(source, { keyring: fixedKeyring(), offset, length });
            bytesEqual(out, plaintext.subarray(offset, offset + length), `size ${plaintext.length} [${offset}, +${length}) ${mode}`);
            const first = Math.floor(offset / C);
            const last = length === 0 ? first : Math.floor((offset + length - 1) / C);
            const spanStart = headerLength + COBBLESTONE_HEADER_BYTES + first * SEALED;
            const spanEnd = Math.min(envelope.length, headerLength + COBBLESTONE_HEADER_BYTES + (last + 1) * SEALED);
            const expected = headerLength + COBBLESTONE_HEADER_BYTES + (spanEnd - spanStart);
            equal(log.bytes, expected, `bytes read for [${offset}, +${length}) of ${plaintext.length} (${mode})`);
            equal(log.requests, 3, 'requests: prefix, header, chunks');
          },
        ),
        { numRuns: 60 },
      );
    },
  },
  {
    name: 'decryptRange: larger chunk size, whole message, single bytes at chunk edges',
    async run() {
      const { plaintext, envelope } = await makeEnvelope(3 * 2 * C + 5, 2 * C);
      for (const mode of MODES) {
        const { source } = counted(envelope, mode);
        bytesEqual(await decryptRange(source, { keyring: fixedKeyring(), offset: 0, length: plaintext.length }), plaintext, `${mode} whole`);
        for (const at of [0, 2 * C - 1, 2 * C, 6 * C - 1, 6 * C, plaintext.length - 1]) {
          bytesEqual(await decryptRange(source, { keyring: fixedKeyring(), offset: at, length: 1 }), plaintext.subarray(at, at + 1), `${mode} byte ${at}`);
        }
        equal((await decryptRange(source, { keyring: fixedKeyring(), offset: plaintext.length, length: 0 })).length, 0, 'empty range at the end');
      }
    },
  },
  {
    name: 'decryptRange: past the end is ERR_RANGE, after the final chunk authenticated (a modified final chunk is not ERR_RANGE)',
    async run() {
      for (const size of [0, 10, C, 3 * C + 5]) {
        const { envelope } = await makeEnvelope(size);
        const tampered = envelope.slice();
        tampered[tampered.length - 1]! ^= 1;
        for (const mode of MODES) {
          for (const [offset, length] of [
            [size, 1],
            [size + 1, 0],
            [Math.max(0, size - 3), 4],
            [size + 5 * C, 10],
            [0, size + 1],
          ] as [number, number][]) {
            const what = `size ${size} [${offset}, +${length}) ${mode}`;
            await rejectsWith(decryptRange(counted(envelope, mode).source, { keyring: fixedKeyring(), offset, length }), 'ERR_RANGE', what);
            const error = await rejectsWith(decryptRange(counted(tampered, mode).source, { keyring: fixedKeyring(), offset, length }), undefined, what);
            ok(error.code !== 'ERR_RANGE', `${what}: a modified final chunk must not be reported as ERR_RANGE`);
          }
        }
      }
    },
  },
  {
    name: 'decryptRange: the commitment is checked first — a wrong one reads no chunk',
    async run() {
      const { envelope, headerLength } = await makeEnvelope(3 * C);
      const flipped = envelope.slice();
      flipped[headerLength + SALT_BYTES + 1]! ^= 1;
      for (const mode of MODES) {
        const { source, log } = counted(flipped, mode);
        await rejectsWith(decryptRange(source, { keyring: fixedKeyring(), offset: C, length: 10 }), 'ERR_COMMITMENT', mode);
        equal(log.bytes, headerLength + COBBLESTONE_HEADER_BYTES, `${mode}: bytes read`);
        await rejectsWith(decryptRange(counted(envelope, mode).source, { keyring: fixedKeyring(0x43), offset: 0, length: 1 }), 'ERR_NO_KEYRING_MATCH');
        await rejectsWith(decryptRange(counted(envelope, mode).source, { keyring: fixedKeyring(), offset: 0, length: 1, expectContext: { a: 'b' } }), 'ERR_CONTEXT_MISMATCH');
      }
    },
  },
  {
    name: 'decryptRange: truncated objects, swapped chunks and bad arguments fail',
    async run() {
      const { envelope, headerLength } = await makeEnvelope(3 * C + 5);
      const body = headerLength + COBBLESTONE_HEADER_BYTES;
      const noFinal = envelope.subarray(0, body + 3 * SEALED);
      const midTag = envelope.subarray(0, body + 3 * SEALED + 7);
      const swapped = envelope.slice();
      swapped.set(envelope.subarray(body, body + SEALED), body + SEALED);
      swapped.set(envelope.subarray(body + SEALED, body + 2 * SEALED), body);
      for (const mode of MODES) {
        if (mode === 'function') {
          // Without a size, a range inside full chunks never looks at the end: its bytes are authentic.
          await decryptRange(counted(noFinal, mode).source, { keyring: fixedKeyring(), offset: 0, length: 3 * C });
        } else {
          await rejectsWith(decryptRange(counted(noFinal, mode).source, { keyring: fixedKeyring(), offset: 0, length: 3 * C }), 'ERR_TRUNCATED', `${mode} no final chunk`);
        }
        await rejectsWith(decryptRange(counted(noFinal, mode).source, { keyring: fixedKeyring(), offset: 3 * C, length: 1 }), 'ERR_TRUNCATED', `${mode} no final chunk, range in it`);
        await rejectsWith(decryptRange(counted(midTag, mode).source, { keyring: fixedKeyring(), offset: 3 * C, length: 1 }), 'ERR_TRUNCATED', `${mode} mid tag`);
        await rejectsWith(decryptRange(counted(swapped, mode).source, { keyring: fixedKeyring(), offset: 10, length: 10 }), 'ERR_TAMPERED', `${mode} swapped`);
        await rejectsWith(decryptRange(counted(envelope.subarray(0, headerLength + 20), mode).source, { keyring: fixedKeyring(), offset: 0, length: 1 }), 'ERR_TRUNCATED', `${mode} cut in the salt`);
      }
      const { source } = counted(envelope, 'blob');
      for (const [offset, length] of [[-1, 1], [0, -1], [0.5, 1], [Number.NaN, 1]] as [number, number][]) {
        await rejectsWith(decryptRange(source, { keyring: fixedKeyring(), offset, length }), 'ERR_INVALID_ARGUMENT', `offset ${offset} length ${length}`);
      }
      await rejectsWith(decryptRange('nope' as never, { keyring: fixedKeyring(), offset: 0, length: 1 }), 'ERR_INVALID_ARGUMENT');
      await rejectsWith(decryptRange(async () => new Uint8Array(100), { keyring: fixedKeyring(), offset: 0, length: 1 }), 'ERR_INVALID_ARGUMENT', 'over-long reads');
    },
  },
  {
    name: 'wycheproof: the vectors through the ranged path — valid ones give every slice, invalid ones fail over the whole message',
    async run(env) {
      for (const v of await loadWycheproof(env.readText)) {
        const ct = await inflate(unhex(v.ct));
        for (const sized of [true, false]) {
          const what = `tcId ${v.tcId} (${v.comment}) ${sized ? 'sized' : 'unsized'}`;
          const attempt = async (offset: number, length: number) => {
            if (ct.length < COBBLESTONE_HEADER_BYTES) throw new SealboxError('ERR_TRUNCATED', 'short');
            const keys = await deriveMessageKeys(unhex(v.key), ct.subarray(0, SALT_BYTES), unhex(v.ctx));
            checkCommitment(keys, ct.subarray(SALT_BYTES, COBBLESTONE_HEADER_BYTES));
            const read = async (start: number, end: number) => ct.slice(start, Math.min(end, ct.length));
            return readCobblestoneRange({ read, size: sized ? ct.length : undefined }, keys, C, offset, length);
          };
          if (v.result === 'valid') {
            const length = v.msgLength!;
            const whole = await attempt(0, length);
            equal(await sha('SHA-512', whole), v.msgSha512, `${what} whole`);
            for (const [offset, n] of [[0, 1], [length >> 1, length >> 2], [Math.max(0, length - 5), Math.min(5, length)], [C, 1]] as [number, number][]) {
              if (offset + n > length) continue;
              bytesEqual(await attempt(offset, n), whole.subarray(offset, offset + n), `${what} [${offset}, +${n})`);
            }
            await rejectsWith(attempt(length, 1), 'ERR_RANGE', `${what} past the end`);
          } else {
            // The whole message its length claims (or, when the length itself is impossible, a
            // range that needs its end): every chunk is read, so it must fail, and not as ERR_RANGE.
            const body = Math.max(0, ct.length - COBBLESTONE_HEADER_BYTES);
            let claimed: number;
            try {
              claimed = layoutFromCiphertextLength(ct.length, C).plaintextLength;
            } catch {
              claimed = Math.floor(body / SEALED) * C + 1;
            }
            // (a) Everything the length claims: fails, or (for a valid prefix) gives exactly that prefix.
            try {
              const out = await attempt(0, claimed);
              ok(v.flags.includes('PartialPlaintext') && out.length === v.msgLength, `${what}: [0, ${claimed}) was accepted`);
              equal(await sha('SHA-512', out), v.msgSha512, `${what}: the accepted prefix`);
            } catch (error) {
              if (error instanceof AssertionError) throw error;
              ok(error instanceof SealboxError, `${what}: must fail with a SealboxError, got ${String(error)}`);
              ok(error.code !== 'ERR_RANGE', `${what}: [0, ${claimed}) failed with ERR_RANGE, not on the invalid chunk`);
            }
            // (b) One byte more needs the end of the message: it must fail; only a vector whose
            // final chunk is valid may get as far as ERR_RANGE.
            let error: unknown;
            try {
              await attempt(0, claimed + 1);
            } catch (e) {
              error = e;
            }
            if (!(error instanceof SealboxError)) throw new AssertionError(`${what}: past the end must fail with a SealboxError, got ${String(error)}`);
            ok(error.code !== 'ERR_RANGE' || v.flags.includes('ValidFinalChunk'), `${what}: ERR_RANGE, yet the final chunk is invalid`);
          }
        }
      }
    },
  },
];
