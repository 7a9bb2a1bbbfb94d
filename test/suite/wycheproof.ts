/** The 35 Wycheproof Cobblestone-256 vectors, through our Cobblestone layer. */
import { SealboxError } from '../../src/sdk/errors.js';
import {
  COBBLESTONE_HEADER_BYTES,
  SALT_BYTES,
  STANDARD_CHUNK_SIZE,
  TAG_BYTES,
  checkCommitment,
  deriveMessageKeys,
  layoutFromCiphertextLength,
  openChunk,
  sealChunk,
  type MessageKeys,
} from '../../src/sdk/payload/cobblestone.js';
import { importAeadKey } from '../../src/sdk/crypto/aes-gcm.js';
import { AssertionError, type TestCase, bytesEqual, equal, hex, inflate, ok, sha, unhex } from './harness.js';

export const WYCHEPROOF_PATH = 'test/vectors/wycheproof/c2sp_chunked_encryption_aes_256_gcm_test.json';

export interface WycheproofVector {
  tcId: number;
  comment: string;
  key: string;
  ctx: string;
  ct: string;
  aeadKey?: string;
  baseNonce?: string;
  msgLength?: number;
  msgSha512?: string;
  result: 'valid' | 'invalid';
  flags: string[];
}

export async function loadWycheproof(readText: (path: string) => Promise<string>): Promise<WycheproofVector[]> {
  const file = JSON.parse(await readText(WYCHEPROOF_PATH));
  return file.testGroups.flatMap((group: { tests: WycheproofVector[] }) => group.tests);
}

/** Cobblestone decryption of a whole message, from the primitives the envelope code uses. */
export async function cobblestoneDecrypt(inputKey: Uint8Array, context: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
  const layout = layoutFromCiphertextLength(ciphertext.length, STANDARD_CHUNK_SIZE);
  const keys = await deriveMessageKeys(inputKey, ciphertext.subarray(0, SALT_BYTES), context);
  checkCommitment(keys, ciphertext.subarray(SALT_BYTES, COBBLESTONE_HEADER_BYTES));
  return openAll(keys, ciphertext.subarray(COBBLESTONE_HEADER_BYTES), layout.chunkCount, layout.plaintextLength);
}

async function openAll(keys: MessageKeys, body: Uint8Array, chunkCount: number, plaintextLength: number): Promise<Uint8Array> {
  const out = new Uint8Array(plaintextLength);
  const sealed = STANDARD_CHUNK_SIZE + TAG_BYTES;
  for (let i = 0; i < chunkCount; i++) {
    const end = i === chunkCount - 1 ? body.length : (i + 1) * sealed;
    out.set(await openChunk(keys, i, body.subarray(i * sealed, end)), i * STANDARD_CHUNK_SIZE);
  }
  return out;
}

async function sealAll(keys: MessageKeys, message: Uint8Array): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for (let i = 0; ; i++) {
    const chunk = message.subarray(i * STANDARD_CHUNK_SIZE, (i + 1) * STANDARD_CHUNK_SIZE);
    parts.push(await sealChunk(keys, i, chunk));
    if (chunk.length < STANDARD_CHUNK_SIZE) return parts;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export const wycheproofCases: TestCase[] = [
  {
    name: 'wycheproof: all 35 Cobblestone-256 vectors decrypt or fail as stated',
    async run(env) {
      const vectors = await loadWycheproof(env.readText);
      equal(vectors.length, 35, 'vector count');
      for (const v of vectors) {
        const ct = await inflate(unhex(v.ct));
        const attempt = cobblestoneDecrypt(unhex(v.key), unhex(v.ctx), ct);
        if (v.result === 'valid') {
          const message = await attempt;
          equal(message.length, v.msgLength, `tcId ${v.tcId} length`);
          equal(await sha('SHA-512', message), v.msgSha512, `tcId ${v.tcId} sha512`);
        } else {
          let error: unknown;
          try {
            await attempt;
          } catch (e) {
            error = e;
          }
          if (!(error instanceof SealboxError)) throw new AssertionError(`tcId ${v.tcId} (${v.comment}) should fail with a SealboxError, got ${String(error)}`);
          if (v.flags.includes('HeaderFailure') && !v.flags.includes('Truncation')) {
            ok(['ERR_COMMITMENT', 'ERR_INVALID_ARGUMENT'].includes(error.code), `tcId ${v.tcId}: header failures fail before any chunk (${error.code})`);
          }
        }
      }
    },
  },
  {
    name: 'wycheproof: re-encrypting valid messages with the same key, context and salt gives the same bytes',
    async run(env) {
      for (const v of (await loadWycheproof(env.readText)).filter((v) => v.result === 'valid')) {
        const ct = await inflate(unhex(v.ct));
        const message = await cobblestoneDecrypt(unhex(v.key), unhex(v.ctx), ct);
        const keys = await deriveMessageKeys(unhex(v.key), ct.subarray(0, SALT_BYTES), unhex(v.ctx));
        const again = concat([ct.subarray(0, SALT_BYTES), keys.commitment, ...(await sealAll(keys, message))]);
        bytesEqual(again, ct, `tcId ${v.tcId} re-encryption`);
      }
    },
  },
  {
    name: 'wycheproof: raw-mode key and base nonce match the derived ones',
    async run(env) {
      for (const v of (await loadWycheproof(env.readText)).filter((v) => v.aeadKey && v.baseNonce && !v.flags.includes('InvalidKeySize'))) {
        const ct = await inflate(unhex(v.ct));
        if (ct.length < COBBLESTONE_HEADER_BYTES) continue;
        const derived = await deriveMessageKeys(unhex(v.key), ct.subarray(0, SALT_BYTES), unhex(v.ctx));
        equal(hex(derived.baseNonce), v.baseNonce, `tcId ${v.tcId} base nonce`);
        // The derived AEAD key is not extractable; check it by decrypting raw-mode chunk 0 with the vector's key.
        const raw = { aead: await importAeadKey(unhex(v.aeadKey!)), baseNonce: unhex(v.baseNonce!), commitment: derived.commitment };
        const first = ct.subarray(COBBLESTONE_HEADER_BYTES, COBBLESTONE_HEADER_BYTES + STANDARD_CHUNK_SIZE + TAG_BYTES);
        const [a, b] = await Promise.allSettled([openChunk(raw, 0, first), openChunk(derived, 0, first)]);
        equal(a.status, b.status, `tcId ${v.tcId} raw vs derived key agree on chunk 0`);
      }
    },
  },
];
