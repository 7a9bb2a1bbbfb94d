/**
 * The Worker engine's cases (issue 16), run against any `ChunkEngine`: the real SealboxWorkerPool
 * in browsers (test/browser/workers.test.ts), and an in-thread engine in Node
 * (test/sdk/workers/engine.test.ts), which checks the batching without Workers. Output bytes are
 * pinned to the in-thread path; truncation, tamper and cancel fail as there.
 */
import { DecryptStream, EncryptStream, decrypt, encrypt } from '../../src/index.js';
import type { ChunkEngine } from '../../src/sdk/payload/engine.js';
import { BLOB_BATCH_BYTES } from '../../src/sdk/payload/batching.js';
import { decryptBlob, encryptBlob } from '../../src/sdk/workers/blob.js';
import { type TestCase, bytesEqual, equal, ok, pattern, rejectsWith } from './harness.js';
import { C, SALT, SEALED, collect, cut, fixedKeyring, readUntilError } from './streams.js';

const MiB = 1024 * 1024;
/** 0, 1, around chunk boundaries, around a batch (1 MiB = 64 chunks), a few MiB. */
export const SIZES = [0, 1, C - 1, C, C + 1, 2 * C, 64 * C - 1, 64 * C, 64 * C + 1, 3 * MiB + 12345];

function source(bytes: Uint8Array, sizes = [65536, 1000, 70000]): ReadableStream<Uint8Array> {
  const parts = cut(bytes, sizes);
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const part = parts[next++];
      if (part === undefined) controller.close();
      else controller.enqueue(part);
    },
  });
}

export interface WorkerEnv {
  /** The engine the cases share (a pool of 2 Workers in browsers). */
  engine: ChunkEngine;
  /** A fresh engine to terminate, when the engine can be terminated. */
  fresh?: () => ChunkEngine & { terminate(): void };
  /** `workers: 2` works here (browsers). */
  numbers: boolean;
  workerUrl?: string | URL;
}

export function workerCases(env: () => WorkerEnv): TestCase[] {
  const keyring = fixedKeyring();
  const opts = { keyring, salt: SALT };
  return [
    {
      name: 'workers: EncryptStream/encrypt/encryptBlob output is byte-identical to the in-thread path (0, 1, chunk and batch boundaries, 3 MiB)',
      async run() {
        const { engine } = env();
        for (const size of SIZES) {
          const plaintext = pattern(size, size + 1);
          const expected = await encrypt(plaintext, opts);
          bytesEqual(await collect(source(plaintext).pipeThrough(new EncryptStream({ ...opts, workers: engine }))), expected, `EncryptStream ${size}`);
          bytesEqual(await encrypt(plaintext, { ...opts, workers: engine }), expected, `encrypt ${size}`);
          bytesEqual(await collect(encryptBlob(new Blob([plaintext as Uint8Array<ArrayBuffer>]), { ...opts, workers: engine })), expected, `encryptBlob ${size}`);
        }
      },
    },
    {
      name: 'workers: in-thread output decrypts with workers and worker output decrypts in-thread (DecryptStream, decrypt, decryptBlob)',
      async run() {
        const { engine } = env();
        for (const size of SIZES) {
          const plaintext = pattern(size, size + 7);
          const envelope = await encrypt(plaintext, { keyring });
          bytesEqual(await collect(source(envelope).pipeThrough(new DecryptStream({ keyring, workers: engine }))), plaintext, `DecryptStream ${size}`);
          bytesEqual((await decrypt(envelope, { keyring, workers: engine })).plaintext, plaintext, `decrypt ${size}`);
          const blob = decryptBlob(new Blob([envelope as Uint8Array<ArrayBuffer>]), { keyring, workers: engine });
          bytesEqual(await collect(blob.readable), plaintext, `decryptBlob ${size}`);
          equal((await blob.header).chunkSize, C);
          const sealed = await encrypt(plaintext, { keyring, workers: engine });
          bytesEqual((await decrypt(sealed, { keyring })).plaintext, plaintext, `in-thread decrypt of worker output ${size}`);
        }
      },
    },
    {
      name: 'workers: encryptBlob/decryptBlob across their 4 MiB Blob batches (read through stream() in the Worker) match encrypt/decrypt',
      async run() {
        const { engine } = env();
        const batch = BLOB_BATCH_BYTES / C;
        for (const size of [batch * C - 1, batch * C, batch * C + 1, 2 * batch * C + 12345]) {
          const plaintext = pattern(size, size + 3);
          const expected = await encrypt(plaintext, opts);
          const sealed = await collect(encryptBlob(new Blob([plaintext as Uint8Array<ArrayBuffer>]), { ...opts, workers: engine }));
          bytesEqual(sealed, expected, `encryptBlob ${size}`);
          bytesEqual(await collect(decryptBlob(new Blob([sealed as Uint8Array<ArrayBuffer>]), { keyring, workers: engine }).readable), plaintext, `decryptBlob ${size}`);
        }
      },
    },
    {
      name: 'workers: a tampered chunk fails with ERR_TAMPERED, its batch released no plaintext; truncation fails with ERR_TRUNCATED',
      async run() {
        const { engine } = env();
        const plaintext = pattern(3 * MiB, 3);
        const envelope = await encrypt(plaintext, { keyring });
        const head = envelope.length - (Math.floor(plaintext.length / C) * SEALED + (plaintext.length % C) + 16);
        const k = 70; // in the second batch
        const tampered = envelope.slice();
        tampered[head + k * SEALED + 100]! ^= 1;
        const { out, error } = await readUntilError(source(tampered).pipeThrough(new DecryptStream({ keyring, workers: engine })));
        equal((error as { code?: string }).code, 'ERR_TAMPERED', 'DecryptStream');
        ok(out.length <= k * C, `plaintext past the tampered chunk: ${out.length}`);
        bytesEqual(out, plaintext.subarray(0, out.length), 'what was released is authentic');
        await rejectsWith(decrypt(tampered, { keyring, workers: engine }), 'ERR_TAMPERED');
        const viaBlob = await readUntilError(decryptBlob(new Blob([tampered as Uint8Array<ArrayBuffer>]), { keyring, workers: engine }).readable);
        equal((viaBlob.error as { code?: string }).code, 'ERR_TAMPERED', 'decryptBlob');
        ok(viaBlob.out.length <= k * C);
        // Truncated on a chunk boundary (a full-size chunk last), inside a tag, and before any chunk.
        for (const [cutAt, code] of [
          [head + 64 * SEALED, 'ERR_TRUNCATED'],
          [head + 3 * SEALED + 5, 'ERR_TRUNCATED'],
          [head, 'ERR_TRUNCATED'],
        ] as const) {
          const short = envelope.subarray(0, cutAt);
          const streamed = await readUntilError(source(short).pipeThrough(new DecryptStream({ keyring, workers: engine })));
          equal((streamed.error as { code?: string }).code, code, `DecryptStream cut at ${cutAt}`);
          const inThread = await readUntilError(source(short).pipeThrough(new DecryptStream({ keyring })));
          equal((inThread.error as { code?: string }).code, code, `in-thread cut at ${cutAt}`);
          equal((streamed.error as Error).message, (inThread.error as Error).message, 'same message as in-thread');
          const blob = await readUntilError(decryptBlob(new Blob([short as Uint8Array<ArrayBuffer>]), { keyring, workers: engine }).readable);
          equal((blob.error as { code?: string }).code, code, `decryptBlob cut at ${cutAt}`);
          equal(blob.out.length, 0, 'decryptBlob checks the length before any plaintext');
        }
      },
    },
    {
      name: 'workers: cancelling mid-stream stops the work and the stream',
      async run() {
        const { engine } = env();
        const plaintext = pattern(4 * MiB, 9);
        for (const make of [
          () => source(plaintext).pipeThrough(new EncryptStream({ keyring, workers: engine })),
          () => encryptBlob(new Blob([plaintext as Uint8Array<ArrayBuffer>]), { keyring, workers: engine }),
        ]) {
          const reader = make().getReader();
          let got = 0;
          while (got < MiB) got += (await reader.read()).value!.length;
          await reader.cancel('enough');
          const after = await reader.closed.then(() => 'closed', () => 'errored');
          equal(after, 'closed');
        }
        // The shared engine still works after a cancel.
        bytesEqual((await decrypt(await encrypt(plaintext, { keyring, workers: engine }), { keyring, workers: engine })).plaintext, plaintext);
      },
    },
    {
      name: 'workers: one shared pool serves several concurrent streams',
      async run() {
        const { engine } = env();
        const inputs = [0, 1, 2, 3].map((i) => pattern(MiB + i * 77777, i + 20));
        const outputs = await Promise.all(
          inputs.map((plaintext) =>
            collect(source(plaintext).pipeThrough(new EncryptStream({ keyring, workers: engine })).pipeThrough(new DecryptStream({ keyring, workers: engine }))),
          ),
        );
        outputs.forEach((out, i) => bytesEqual(out, inputs[i]!, `stream ${i}`));
      },
    },
    {
      name: 'workers: terminate() fails batches in flight and later ones with ERR_ABORTED; workers: 2 starts and ends its own Workers',
      skip: () => (env().fresh ? undefined : 'no terminable engine here'),
      async run() {
        const { fresh, numbers, workerUrl } = env();
        const pool = fresh!();
        const plaintext = pattern(8 * MiB, 5);
        const running = encrypt(plaintext, { keyring, workers: pool });
        pool.terminate();
        await rejectsWith(running, 'ERR_ABORTED');
        await rejectsWith(encrypt(plaintext, { keyring, workers: pool }), 'ERR_ABORTED');
        if (numbers) {
          const small = pattern(2 * MiB + 3, 6);
          const options = { keyring, salt: SALT, workers: 2, ...(workerUrl ? { workerUrl } : {}) };
          bytesEqual(await encrypt(small, options), await encrypt(small, { keyring, salt: SALT }));
          bytesEqual(await collect(source(small).pipeThrough(new EncryptStream(options))), await encrypt(small, { keyring, salt: SALT }));
        }
      },
    },
  ];
}
