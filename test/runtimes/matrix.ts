/**
 * Cross-runtime matrix: every runtime produces envelopes with fixed keys (the AES keys of
 * test/suite/keys.ts and the RSA pair checked in under test/runtimes/fixtures), one-shot and with
 * EncryptStream; then every runtime decrypts what every runtime produced three ways: one-shot
 * `decrypt`, `DecryptStream` fed in uneven pieces, and `decryptRange` across a chunk boundary.
 * Every payload spans at least three chunks, the last one short.
 */
import { DecryptStream, EncryptStream, MultiKeyring, RawAesKeyring, RsaOaepKeyring, decrypt, decryptRange, encrypt, inspect } from '../../src/index.js';
import type { Keyring } from '../../src/index.js';
import { type SuiteEnv, bytesEqual, deepEqual, equal, pattern, unbase64 } from '../suite/harness.js';
import { AES_KEY, AES_KEY_2, AES_KEY_NAME, AES_KEY_NAME_2 } from '../suite/keys.js';

export const RSA_PUBLIC_PEM = 'test/runtimes/fixtures/rsa-2048.spki.pem';
export const RSA_PRIVATE_PEM = 'test/runtimes/fixtures/rsa-2048.pkcs8.pem';
export const RSA_KEY_ID = 'matrix/rsa-2048';
export const MATRIX_CHUNK = 16384;
/** Three full chunks and a short fourth one. */
export const MATRIX_PAYLOAD_BYTES = 3 * MATRIX_CHUNK + 1234;
export const MATRIX_SEED = 20261123;

export interface Produced {
  runtime: string;
  /** kind → base64 envelope */
  envelopes: Record<string, string>;
}

export interface ConsumeResult {
  consumer: string;
  producer: string;
  kind: string;
  ok: boolean;
  error?: string;
}

interface Kind {
  name: string;
  chunkSize?: number;
  /** Produced with EncryptStream (fed in uneven pieces) rather than one-shot `encrypt`. */
  stream?: boolean;
  /** The keyring that encrypts, from the public halves. */
  encryptWith(env: SuiteEnv): Promise<Keyring>;
  /** The keyring that decrypts, from the secret halves. */
  decryptWith(env: SuiteEnv): Promise<Keyring>;
}

const aes = () => new RawAesKeyring({ keyName: AES_KEY_NAME, key: AES_KEY });

/** The kinds every runtime produces and consumes. Add a kind here and every cell gets it. */
export const KINDS: Kind[] = [
  { name: 'aes', encryptWith: async () => aes(), decryptWith: async () => aes() },
  {
    name: 'rsa',
    encryptWith: async (env) => new RsaOaepKeyring({ publicKey: await env.readText(RSA_PUBLIC_PEM), keyId: RSA_KEY_ID }),
    decryptWith: async (env) => new RsaOaepKeyring({ privateKey: await env.readText(RSA_PRIVATE_PEM), keyId: RSA_KEY_ID }),
  },
  {
    // AES generator plus an RSA recovery recipient; decrypted with the second AES key only.
    name: 'multi-64k',
    chunkSize: 65536,
    encryptWith: async (env) =>
      new MultiKeyring({
        generator: aes(),
        others: [
          new RawAesKeyring({ keyName: AES_KEY_NAME_2, key: AES_KEY_2 }),
          new RsaOaepKeyring({ publicKey: await env.readText(RSA_PUBLIC_PEM), keyId: RSA_KEY_ID }),
        ],
      }),
    decryptWith: async () => new RawAesKeyring({ keyName: AES_KEY_NAME_2, key: AES_KEY_2 }),
  },
  { name: 'stream-aes', stream: true, encryptWith: async () => aes(), decryptWith: async () => aes() },
  {
    name: 'stream-rsa',
    stream: true,
    encryptWith: async (env) => new RsaOaepKeyring({ publicKey: await env.readText(RSA_PUBLIC_PEM), keyId: RSA_KEY_ID }),
    decryptWith: async (env) => new RsaOaepKeyring({ privateKey: await env.readText(RSA_PRIVATE_PEM), keyId: RSA_KEY_ID }),
  },
];

/** Uneven pieces (1, 1000, 7001, 1000, 7001…), so no piece lines up with a chunk. */
function piecesOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  let turn = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      const size = turn++ === 0 ? 1 : turn % 2 ? 1000 : 7001;
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function payloadFor(kind: Kind): Uint8Array {
  return pattern(kind.chunkSize ? 2 * kind.chunkSize + 77 : MATRIX_PAYLOAD_BYTES, MATRIX_SEED);
}

function contextFor(producer: string, kind: string): Record<string, string> {
  return { matrix: 'v1', producer, kind };
}

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export async function produce(env: SuiteEnv): Promise<Produced> {
  const envelopes: Record<string, string> = {};
  for (const kind of KINDS) {
    const base = { keyring: await kind.encryptWith(env), context: contextFor(env.runtime, kind.name) };
    const options = kind.chunkSize ? { ...base, chunkSize: kind.chunkSize } : base;
    const envelope = kind.stream
      ? await collect(piecesOf(payloadFor(kind)).pipeThrough(new EncryptStream(options)))
      : await encrypt(payloadFor(kind), options);
    envelopes[kind.name] = toBase64(envelope);
  }
  return { runtime: env.runtime, envelopes };
}

export async function consume(env: SuiteEnv, produced: Produced[]): Promise<ConsumeResult[]> {
  const results: ConsumeResult[] = [];
  for (const { runtime: producer, envelopes } of produced) {
    for (const kind of KINDS) {
      const cell = { consumer: env.runtime, producer, kind: kind.name };
      try {
        const encoded = envelopes[kind.name];
        if (encoded === undefined) throw new Error(`${producer} produced no "${kind.name}" envelope`);
        const envelope = unbase64(encoded);
        const info = await inspect(envelope);
        equal(info.chunkSize, kind.chunkSize ?? MATRIX_CHUNK, 'chunk size');
        const payload = payloadFor(kind);
        const result = await decrypt(envelope, { keyring: await kind.decryptWith(env), expectContext: { producer } });
        deepEqual(result.context, contextFor(producer, kind.name), 'context');
        bytesEqual(result.plaintext, payload, 'plaintext');
        const streamed = new DecryptStream({ keyring: await kind.decryptWith(env), expectContext: { producer } });
        bytesEqual(await collect(piecesOf(envelope).pipeThrough(streamed)), payload, 'DecryptStream plaintext');
        deepEqual((await streamed.header).context, contextFor(producer, kind.name), 'DecryptStream context');
        const chunk = kind.chunkSize ?? MATRIX_CHUNK;
        const [offset, length] = [chunk - 100, 300];
        const range = await decryptRange(new Blob([envelope as BlobPart]), { keyring: await kind.decryptWith(env), offset, length });
        bytesEqual(range, payload.subarray(offset, offset + length), 'decryptRange across a chunk boundary');
        results.push({ ...cell, ok: true });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        results.push({ ...cell, ok: false, error: `${typeof code === 'string' ? code : (error as Error).name}: ${(error as Error).message}` });
      }
    }
  }
  return results;
}
