/**
 * EncryptStream / DecryptStream: byte-identical to one-shot encrypt whatever the input chunking,
 * truncation and tampering fail (never a clean end), backpressure is bounded, cancel stops the
 * work, and the Wycheproof vectors pass through the streaming core.
 */
import fc from 'fast-check';
import { SealboxError } from '../../src/sdk/errors.js';
import { DecryptStream, EncryptStream, decrypt, encrypt } from '../../src/index.js';
import type { Keyring } from '../../src/sdk/keyring/types.js';
import { CobblestoneDecryptStream, CobblestoneEncryptStream } from '../../src/sdk/stream/chunk-stream.js';
import { joinsOutputs } from '../../src/sdk/stream/output.js';
import { COBBLESTONE_HEADER_BYTES, SALT_BYTES, TAG_BYTES, checkCommitment, deriveMessageKeys } from '../../src/sdk/payload/cobblestone.js';
import { AssertionError, type TestCase, bytesEqual, equal, inflate, ok, pattern, sha, unhex } from './harness.js';
import { loadWycheproof } from './wycheproof.js';

export const C = 16384;
export const SEALED = C + TAG_BYTES;
export const SALT = unhex('0102030405060708090a0b0c0d0e0f101112131415161718');

/** A keyring with one fixed data key, so that envelopes are reproducible byte for byte. */
export function fixedKeyring(keyByte = 0x42): Keyring {
  const dataKey = new Uint8Array(32).fill(keyByte);
  const recipient = { type: 200, keyId: `fixed-${keyByte}`, wrappedKey: Uint8Array.of(keyByte), params: new Map() };
  return {
    async wrapDataKey() {
      return { dataKey: dataKey.slice(), recipients: [recipient] };
    },
    async unwrapDataKey(request) {
      return request.recipients.some((r) => r.type === 200 && r.keyId === recipient.keyId) ? dataKey.slice() : undefined;
    },
  };
}

/** A pull-based source over `parts` that counts what it was asked for. */
export function countingSource(parts: Uint8Array[]): { stream: ReadableStream<Uint8Array>; pulled: () => number; cancelled: () => unknown } {
  let next = 0;
  let pulled = 0;
  let cancelReason: unknown;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const part = parts[next++];
        if (part === undefined) return controller.close();
        pulled += part.length;
        controller.enqueue(part);
      },
      cancel(reason) {
        cancelReason = reason ?? 'cancelled';
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => pulled, cancelled: () => cancelReason };
}

/** Cuts `bytes` into pieces of the given sizes (cycling), as views. */
export function cut(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = Math.max(1, sizes[i % sizes.length]!);
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** One-byte pieces within `radius` of each point, and whole pieces between. */
export function oneByteAround(bytes: Uint8Array, points: number[], radius: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const point of [...points].sort((a, b) => a - b)) {
    const from = Math.max(at, point - radius);
    const to = Math.min(bytes.length, point + radius);
    if (from > at) out.push(bytes.subarray(at, from));
    for (let i = Math.max(at, from); i < to; i++) out.push(bytes.subarray(i, i + 1));
    at = Math.max(at, to);
  }
  if (at < bytes.length) out.push(bytes.subarray(at));
  return out;
}

export async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const { out, error } = await readUntilError(stream);
  if (error !== undefined) throw error;
  return out;
}

/** Reads to the end or the first error; then checks that reading again keeps failing with the same error. */
export async function readUntilError(stream: ReadableStream<Uint8Array>): Promise<{ out: Uint8Array; error?: unknown }> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await reader.read();
    } catch (error) {
      try {
        await reader.read();
      } catch (again) {
        if (again !== error) throw new AssertionError('a second read gave a different error');
        return { out: join(parts, length), error };
      }
      throw new AssertionError('a read after an error ended cleanly');
    }
    if (result.done) return { out: join(parts, length) };
    parts.push(result.value);
    length += result.value.length;
  }
}

function join(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function streamOf(parts: Uint8Array[]): ReadableStream<Uint8Array> {
  return countingSource(parts).stream;
}

export async function encryptStreamed(plaintext: Uint8Array, sizes: number[], options: { chunkSize?: number; context?: Record<string, string> } = {}): Promise<Uint8Array> {
  return collect(streamOf(cut(plaintext, sizes)).pipeThrough(new EncryptStream({ keyring: fixedKeyring(), salt: SALT, ...options })));
}

export async function decryptStreamed(envelope: Uint8Array, sizes: number[], keyring: Keyring = fixedKeyring()): Promise<Uint8Array> {
  return collect(streamOf(cut(envelope, sizes)).pipeThrough(new DecryptStream({ keyring })));
}

async function expectStreamError(envelope: Uint8Array, sizes: number[], codes: string[], message: string, maxReleased = Infinity): Promise<Uint8Array> {
  const { out, error } = await readUntilError(streamOf(cut(envelope, sizes)).pipeThrough(new DecryptStream({ keyring: fixedKeyring() })));
  if (error === undefined) throw new AssertionError(`${message}: the stream ended cleanly after ${out.length} bytes`);
  if (!(error instanceof SealboxError) || !codes.includes(error.code)) {
    throw new AssertionError(`${message}: expected ${codes.join('/')}, got ${error instanceof SealboxError ? error.code : String(error)}`);
  }
  ok(out.length <= maxReleased, `${message}: released ${out.length} bytes, at most ${maxReleased} allowed`);
  return out;
}

/** Whether this runtime calls a transformer's `cancel` when the writable side is aborted. */
async function transformerCancelSupported(): Promise<boolean> {
  let called = false;
  const transformer = { cancel: () => void (called = true) };
  await new TransformStream(transformer as Transformer).writable.abort('probe');
  return called;
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `value()` stops changing for a few rounds (the pipe has done all it can). */
async function settle(value: () => number): Promise<void> {
  let last = -1;
  let stable = 0;
  while (stable < 5) {
    await tick(5);
    const now = value();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
}

const SIZES = [0, 1, C - 1, C, C + 1, 3 * C, 3 * C + 7, 40_000];

export const streamCases: TestCase[] = [
  {
    name: 'streams: sizes 0, 1, c−1, c, c+1, 3c, 3c+7 and 40000 give one-shot encrypt\'s bytes, and decrypt back',
    async run() {
      for (const size of SIZES) {
        const plaintext = pattern(size, size + 3);
        const expected = await encrypt(plaintext, { keyring: fixedKeyring(), salt: SALT });
        for (const sizes of [[size || 1], [1000], [C], [7, 16_400, 3]]) {
          const envelope = await encryptStreamed(plaintext, sizes);
          bytesEqual(envelope, expected, `size ${size}, pieces ${sizes}`);
        }
        bytesEqual(await decryptStreamed(expected, [expected.length]), plaintext, `decrypt size ${size}`);
        bytesEqual(await decryptStreamed(expected, [SEALED]), plaintext, `decrypt size ${size} by sealed chunks`);
        bytesEqual(await decryptStreamed(expected, [1, 100, 20_000]), plaintext, `decrypt size ${size} odd pieces`);
      }
    },
  },
  {
    name: 'streams: outputs are joined into 64 KiB pieces in workerd (where an enqueue costs more than AES of a chunk), else one per chunk',
    async run() {
      const joined = joinsOutputs();
      equal(joined, typeof navigator !== 'undefined' && navigator.userAgent === 'Cloudflare-Workers', 'joined in workerd only');
      const plaintext = pattern(9 * C + 100, 11);
      const expected = await encrypt(plaintext, { keyring: fixedKeyring(), salt: SALT });
      const sizes = async (stream: ReadableStream<Uint8Array>) => {
        const out: number[] = [];
        await stream.pipeTo(new WritableStream({ write: (piece) => void out.push(piece.length) }));
        return out;
      };
      const encrypted = await sizes(streamOf([plaintext]).pipeThrough(new EncryptStream({ keyring: fixedKeyring(), salt: SALT })));
      const head = expected.length - (9 * SEALED + 100 + TAG_BYTES);
      equal(encrypted[0], head, 'the header comes first, alone');
      const body = encrypted.slice(1);
      equal(body.reduce((a, b) => a + b, 0), expected.length - head);
      // Joined, 4 sealed chunks per piece; what is held is flushed when all chunks started so far are
      // out, so the last full chunk comes alone before the final one.
      if (joined) equal(JSON.stringify(body), JSON.stringify([4 * SEALED, 4 * SEALED, SEALED, 100 + TAG_BYTES]), 'joined: 4 sealed chunks per piece');
      else equal(JSON.stringify(body), JSON.stringify([...Array<number>(9).fill(SEALED), 100 + TAG_BYTES]), 'one piece per sealed chunk');
      const decrypted = await sizes(streamOf([expected]).pipeThrough(new DecryptStream({ keyring: fixedKeyring() })));
      if (joined) equal(JSON.stringify(decrypted), JSON.stringify([4 * C, 4 * C, C, 100]), 'joined plaintext');
      else equal(JSON.stringify(decrypted), JSON.stringify([...Array<number>(9).fill(C), 100]), 'one plaintext piece per chunk');
    },
  },
  {
    name: 'streams: one byte at a time in and out, around the header and every chunk boundary',
    async run() {
      const plaintext = pattern(2 * C + 3, 5);
      const expected = await encrypt(plaintext, { keyring: fixedKeyring(), salt: SALT });
      const body = expected.length - (2 * SEALED + 3 + TAG_BYTES);
      bytesEqual(
        await collect(streamOf(oneByteAround(plaintext, [0, C, 2 * C, plaintext.length], 300)).pipeThrough(new EncryptStream({ keyring: fixedKeyring(), salt: SALT }))),
        expected,
        'encrypt',
      );
      bytesEqual(
        await collect(streamOf(oneByteAround(expected, [0, body, body + SEALED, body + 2 * SEALED, expected.length], 300)).pipeThrough(new DecryptStream({ keyring: fixedKeyring() }))),
        plaintext,
        'decrypt',
      );
    },
  },
  {
    name: 'streams: property — random sizes, chunk sizes and input cuts give identical bytes, and decrypt back',
    async run() {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 5 * C + 100 }),
          fc.constantFrom(C, 2 * C),
          fc.array(fc.integer({ min: 1, max: 3 * C }), { minLength: 1, maxLength: 8 }),
          fc.array(fc.integer({ min: 1, max: 3 * C }), { minLength: 1, maxLength: 8 }),
          fc.integer({ min: 1, max: 1000 }),
          async (size, chunkSize, inCuts, outCuts, seed) => {
            const plaintext = pattern(size, seed);
            const expected = await encrypt(plaintext, { keyring: fixedKeyring(), salt: SALT, chunkSize });
            bytesEqual(await encryptStreamed(plaintext, inCuts, { chunkSize }), expected, 'encrypt');
            bytesEqual(await decryptStreamed(expected, outCuts), plaintext, 'decrypt');
          },
        ),
        { numRuns: 25 },
      );
    },
  },
  {
    name: 'streams: the stream\'s output decrypts one-shot, with the context, and .header tells the header',
    async run() {
      const plaintext = pattern(2 * C + 9, 11);
      const envelope = await encryptStreamed(plaintext, [5000], { context: { tenant: 'acme' }, chunkSize: 2 * C });
      const result = await decrypt(envelope, { keyring: fixedKeyring(), expectContext: { tenant: 'acme' } });
      bytesEqual(result.plaintext, plaintext);
      const stream = new DecryptStream({ keyring: fixedKeyring(), expectContext: { tenant: 'acme' } });
      const out = await collect(streamOf([envelope]).pipeThrough(stream));
      bytesEqual(out, plaintext);
      const header = await stream.header;
      equal(header.chunkSize, 2 * C);
      equal(header.context['tenant'], 'acme');
    },
  },
  {
    name: 'streams: truncation at every chunk boundary, inside chunks, tags and the header fails (ERR_TRUNCATED, or ERR_TAMPERED past a tag), never a clean end',
    async run() {
      const plaintext = pattern(3 * C + 5, 2);
      const envelope = await encrypt(plaintext, { keyring: fixedKeyring(), salt: SALT });
      const body = envelope.length - (3 * SEALED + 5 + TAG_BYTES);
      const cuts = new Set<number>();
      for (let i = 0; i <= body; i++) cuts.add(i);
      for (let k = 0; k <= 3; k++) {
        const start = body + k * SEALED;
        for (const d of [-17, -16, -15, -1, 0, 1, 2, 15, 16, 17, C / 2, C, C + 1, C + 15]) cuts.add(start + d);
      }
      for (const at of [...cuts].filter((n) => n >= 0 && n < envelope.length).sort((a, b) => a - b)) {
        const chunksBefore = Math.max(0, Math.floor((at - body) / SEALED));
        // FORMAT.md §4: ending on a chunk boundary or inside a tag is ERR_TRUNCATED; ending later
        // inside a chunk leaves what reads as a short final chunk, which fails its tag: ERR_TAMPERED.
        const rest = at < body ? 0 : (at - body) % SEALED;
        const code = rest < TAG_BYTES ? 'ERR_TRUNCATED' : 'ERR_TAMPERED';
        for (const sizes of [[at || 1], [4099]]) {
          await expectStreamError(envelope.subarray(0, at), sizes, [code], `cut at ${at}`, chunksBefore * C);
        }
      }
    },
  },
  {
    name: 'streams: the AWS-ESDK bug — a message cut at a chunk boundary must not end cleanly with short plaintext',
    async run() {
      // The final chunk of a c-multiple message is empty: dropping it leaves a stream that looks
      // whole at every frame boundary. A decryptor that ends cleanly here silently loses data.
      for (const size of [C, 2 * C, 2 * C + 100]) {
        const plaintext = pattern(size, 21);
        const envelope = await encrypt(plaintext, { keyring: fixedKeyring(), salt: SALT });
        const finalLength = (size % C) + TAG_BYTES;
        const cutShort = envelope.subarray(0, envelope.length - finalLength);
        await expectStreamError(cutShort, [cutShort.length], ['ERR_TRUNCATED'], `size ${size} without its final chunk`);
        // Piped to a sink, the sink is aborted with the error, never closed.
        let closed = false;
        let aborted: unknown;
        const sink = new WritableStream<Uint8Array>({ close: () => void (closed = true), abort: (reason) => void (aborted = reason) });
        let piped: unknown;
        await streamOf([cutShort]).pipeThrough(new DecryptStream({ keyring: fixedKeyring() })).pipeTo(sink).catch((e: unknown) => (piped = e));
        ok(!closed, 'the sink was closed');
        ok(aborted instanceof SealboxError && aborted.code === 'ERR_TRUNCATED', 'the sink was aborted with ERR_TRUNCATED');
        ok(piped instanceof SealboxError && piped.code === 'ERR_TRUNCATED', 'pipeTo rejected with ERR_TRUNCATED');
      }
    },
  },
  {
    name: 'streams: reordered, duplicated, dropped and modified chunks, and trailing bytes, fail',
    async run() {
      const plaintext = pattern(3 * C + 5, 4);
      const envelope = await encrypt(plaintext, { keyring: fixedKeyring(), salt: SALT });
      const body = envelope.length - (3 * SEALED + 5 + TAG_BYTES);
      const head = envelope.subarray(0, body);
      const chunk = (k: number) => envelope.subarray(body + k * SEALED, Math.min(envelope.length, body + (k + 1) * SEALED));
      const build = (...parts: Uint8Array[]) => {
        const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) {
          out.set(p, at);
          at += p.length;
        }
        return out;
      };
      const cases: [string, Uint8Array, string[], number][] = [
        ['chunks 0 and 1 swapped', build(head, chunk(1), chunk(0), chunk(2), chunk(3)), ['ERR_TAMPERED'], 0],
        ['chunk 0 duplicated over chunk 1', build(head, chunk(0), chunk(0), chunk(2), chunk(3)), ['ERR_TAMPERED'], C],
        ['chunk 1 dropped', build(head, chunk(0), chunk(2), chunk(3)), ['ERR_TAMPERED'], C],
        ['final chunk dropped', build(head, chunk(0), chunk(1), chunk(2)), ['ERR_TRUNCATED'], 3 * C],
        ['one trailing byte', build(envelope, Uint8Array.of(0)), ['ERR_TAMPERED'], 3 * C],
        ['a trailing copy of the final chunk', build(envelope, chunk(3)), ['ERR_TAMPERED'], 3 * C],
        ['a trailing full chunk', build(envelope, chunk(1)), ['ERR_TAMPERED'], 3 * C],
      ];
      for (const [what, bytes, codes, max] of cases) {
        for (const sizes of [[bytes.length], [SEALED], [333]]) await expectStreamError(bytes, sizes, codes, what, max);
      }
      for (const at of [body + 5, body + SEALED + 100, body + 2 * SEALED + SEALED - 1, envelope.length - 1]) {
        const flipped = envelope.slice();
        flipped[at]! ^= 1;
        const k = Math.floor((at - body) / SEALED);
        await expectStreamError(flipped, [7000], ['ERR_TAMPERED'], `bit flipped in chunk ${k}`, k * C);
      }
    },
  },
  {
    name: 'streams: header failures — wrong key, commitment, context, limits, magic — release nothing and reject .header',
    async run() {
      const plaintext = pattern(C + 1, 8);
      const envelope = await encrypt(plaintext, { keyring: fixedKeyring(), salt: SALT, context: { tenant: 'a' } });
      const body = envelope.length - (SEALED + 1 + TAG_BYTES);
      const commitmentFlipped = envelope.slice();
      commitmentFlipped[body - COBBLESTONE_HEADER_BYTES + SALT_BYTES + 3]! ^= 1;
      const saltFlipped = envelope.slice();
      saltFlipped[body - COBBLESTONE_HEADER_BYTES]! ^= 1;
      const badMagic = envelope.slice();
      badMagic[0] = 0x41;
      const cases: [string, Uint8Array, DecryptStream, string][] = [
        ['another data key', envelope, new DecryptStream({ keyring: fixedKeyring(0x43) }), 'ERR_NO_KEYRING_MATCH'],
        ['commitment flipped', commitmentFlipped, new DecryptStream({ keyring: fixedKeyring() }), 'ERR_COMMITMENT'],
        ['salt flipped', saltFlipped, new DecryptStream({ keyring: fixedKeyring() }), 'ERR_COMMITMENT'],
        ['context mismatch', envelope, new DecryptStream({ keyring: fixedKeyring(), expectContext: { tenant: 'b' } }), 'ERR_CONTEXT_MISMATCH'],
        ['header over the limit', envelope, new DecryptStream({ keyring: fixedKeyring(), limits: { maxHeaderBytes: 10 } }), 'ERR_LIMIT'],
        ['bad magic', badMagic, new DecryptStream({ keyring: fixedKeyring() }), 'ERR_FORMAT'],
      ];
      for (const [what, bytes, stream, code] of cases) {
        const { out, error } = await readUntilError(streamOf(cut(bytes, [50])).pipeThrough(stream));
        ok(error instanceof SealboxError && error.code === code, `${what}: expected ${code}, got ${String(error)}`);
        equal(out.length, 0, `${what}: released bytes`);
        let headerError: unknown;
        await stream.header.catch((e: unknown) => (headerError = e));
        ok(headerError === error, `${what}: .header rejects with the same error`);
      }
    },
  },
  {
    name: 'streams: errors reach both ends — the writer\'s writes and close reject once decryption fails',
    async run() {
      const envelope = await encrypt(pattern(4 * C, 3), { keyring: fixedKeyring(), salt: SALT });
      const tampered = envelope.slice();
      tampered[tampered.length - 2 * SEALED]! ^= 1;
      const stream = new DecryptStream({ keyring: fixedKeyring() });
      const writer = stream.writable.getWriter();
      const reading = readUntilError(stream.readable);
      let writeError: unknown;
      for (const part of cut(tampered, [1000])) {
        try {
          await writer.write(part);
        } catch (e) {
          writeError = e;
          break;
        }
      }
      if (!writeError) await writer.close().catch((e: unknown) => (writeError = e));
      const { error } = await reading;
      ok(error instanceof SealboxError && error.code === 'ERR_TAMPERED', `reader: ${String(error)}`);
      ok(writeError === error, 'the writer sees the same error');
    },
  },
  {
    name: 'streams: backpressure — a reader that does not read holds the source back to a bounded number of bytes',
    async run() {
      const inFlightBytes = 64 * 1024;
      const plaintext = pattern(4 * 1024 * 1024, 6);
      const bound = 4 * inFlightBytes + 2 * 4096 + 2 * C;
      {
        const source = countingSource(cut(plaintext, [4096]));
        const readable = source.stream.pipeThrough(new EncryptStream({ keyring: fixedKeyring(), salt: SALT, inFlightBytes }));
        await settle(source.pulled);
        ok(source.pulled() <= bound, `encrypt pulled ${source.pulled()} bytes while nobody read (bound ${bound})`);
        ok(source.pulled() > 0, 'encrypt started');
        const out = await collect(readable);
        bytesEqual(out, await encrypt(plaintext, { keyring: fixedKeyring(), salt: SALT }));
      }
      {
        const envelope = await encrypt(plaintext, { keyring: fixedKeyring(), salt: SALT });
        const source = countingSource(cut(envelope, [4096]));
        const readable = source.stream.pipeThrough(new DecryptStream({ keyring: fixedKeyring(), inFlightBytes }));
        await settle(source.pulled);
        ok(source.pulled() <= bound, `decrypt pulled ${source.pulled()} bytes while nobody read (bound ${bound})`);
        bytesEqual(await collect(readable), plaintext);
      }
    },
  },
  {
    name: 'streams: cancelling the reader stops the work and cancels the source; aborting the writer errors the reader',
    async run() {
      const plaintext = pattern(4 * 1024 * 1024, 7);
      const envelope = await encrypt(plaintext, { keyring: fixedKeyring(), salt: SALT });
      for (const [make, input] of [
        [() => new EncryptStream({ keyring: fixedKeyring(), salt: SALT, inFlightBytes: 64 * 1024 }), plaintext],
        [() => new DecryptStream({ keyring: fixedKeyring(), inFlightBytes: 64 * 1024 }), envelope],
      ] as [() => TransformStream<Uint8Array, Uint8Array>, Uint8Array][]) {
        const source = countingSource(cut(input, [4096]));
        const reader = source.stream.pipeThrough(make()).getReader();
        for (let i = 0; i < 5; i++) await reader.read();
        await reader.cancel('user went away');
        await settle(source.pulled);
        const after = source.pulled();
        await tick(20);
        equal(source.pulled(), after, 'no more pulls after cancel');
        ok(after < input.length / 2, `pulled ${after} of ${input.length}`);
        ok(source.cancelled() !== undefined, 'the source was cancelled');
      }
      const stream = new DecryptStream({ keyring: fixedKeyring() });
      const writer = stream.writable.getWriter();
      const reading = readUntilError(stream.readable);
      await writer.abort(new SealboxError('ERR_ABORTED', 'upload cancelled'));
      const { error } = await reading;
      ok(error instanceof SealboxError && error.code === 'ERR_ABORTED', `reader after abort: ${String(error)}`);
      // Runtimes that call a transformer's cancel() on abort (Node; not Chromium 156, Firefox 153
      // or WebKitGTK 2.50) also reject .header; elsewhere it stays pending, and the readable side
      // errors as above.
      if (await transformerCancelSupported()) {
        await stream.header.then(
          () => {
            throw new AssertionError('.header resolved after an abort before the header');
          },
          (e: unknown) => ok(e instanceof SealboxError && e.code === 'ERR_ABORTED', '.header rejects with ERR_ABORTED'),
        );
      }
    },
  },
  {
    name: 'streams: bad arguments — options, chunk size, non-bytes chunks',
    async run() {
      const sync = (f: () => unknown, code: string) => {
        try {
          f();
        } catch (e) {
          ok(e instanceof SealboxError && e.code === code, `expected ${code}, got ${String(e)}`);
          return;
        }
        throw new AssertionError(`expected ${code}`);
      };
      sync(() => new EncryptStream(undefined as never), 'ERR_INVALID_ARGUMENT');
      sync(() => new EncryptStream({ keyring: fixedKeyring(), chunkSize: 1000 }), 'ERR_LIMIT');
      sync(() => new EncryptStream({ keyring: fixedKeyring(), inFlightBytes: -1 }), 'ERR_INVALID_ARGUMENT');
      sync(() => new DecryptStream(null as never), 'ERR_INVALID_ARGUMENT');
      const { error } = await readUntilError(
        streamOf(['text' as unknown as Uint8Array]).pipeThrough(new EncryptStream({ keyring: fixedKeyring() })),
      );
      ok(error instanceof SealboxError && error.code === 'ERR_INVALID_ARGUMENT', `non-bytes: ${String(error)}`);
      const failing = await readUntilError(streamOf([pattern(10)]).pipeThrough(new EncryptStream({ keyring: {} as Keyring })));
      ok(failing.error instanceof SealboxError && failing.error.code === 'ERR_INVALID_ARGUMENT', 'a bad keyring errors the stream');
    },
  },
  {
    name: 'wycheproof: all 35 vectors through the streaming core (random cuts): valid ones decrypt, invalid ones release at most the valid prefix then keep failing',
    async run(env) {
      const vectors = await loadWycheproof(env.readText);
      for (const v of vectors) {
        const ct = await inflate(unhex(v.ct));
        const key = unhex(v.key);
        const ctx = unhex(v.ctx);
        for (const sizes of [[ct.length || 1], [SEALED], [1, 55, 9000, 16_401]]) {
          const stream = new CobblestoneDecryptStream({
            keys: async (head) => {
              const keys = await deriveMessageKeys(key, head.subarray(0, SALT_BYTES), ctx);
              checkCommitment(keys, head.subarray(SALT_BYTES, COBBLESTONE_HEADER_BYTES));
              return keys;
            },
          });
          const { out, error } = await readUntilError(streamOf(cut(ct, sizes)).pipeThrough(stream));
          const what = `tcId ${v.tcId} (${v.comment}), pieces ${sizes}`;
          if (v.result === 'valid') {
            if (error !== undefined) throw new AssertionError(`${what}: ${String(error)}`);
            equal(out.length, v.msgLength, `${what} length`);
            equal(await sha('SHA-512', out), v.msgSha512, `${what} sha512`);
            continue;
          }
          ok(error instanceof SealboxError, `${what}: must fail with a SealboxError, got ${error === undefined ? 'a clean end' : String(error)}`);
          const allowed = v.flags.includes('PartialPlaintext') ? (v.msgLength ?? 0) : 0;
          ok(out.length <= allowed, `${what}: released ${out.length} bytes, at most ${allowed}`);
          if (out.length > 0 && out.length === v.msgLength) equal(await sha('SHA-512', out), v.msgSha512, `${what} prefix sha512`);
        }
      }
    },
  },
  {
    name: 'wycheproof: valid vectors re-encrypted through the streaming core give the same bytes',
    async run(env) {
      for (const v of (await loadWycheproof(env.readText)).filter((v) => v.result === 'valid')) {
        const ct = await inflate(unhex(v.ct));
        const salt = ct.subarray(0, SALT_BYTES);
        const keys = await deriveMessageKeys(unhex(v.key), salt, unhex(v.ctx));
        const message = await collect(
          streamOf([ct]).pipeThrough(new CobblestoneDecryptStream({ keys: async () => keys })),
        );
        const again = await collect(streamOf(cut(message, [5000, 1])).pipeThrough(new CobblestoneEncryptStream({ keys, salt })));
        bytesEqual(again, ct, `tcId ${v.tcId}`);
      }
    },
  },
];
