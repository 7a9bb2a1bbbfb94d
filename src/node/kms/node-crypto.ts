/** node:crypto versions of the hashing the runtime-agnostic SigV4 verifier and audit chain accept. */
import { createHmac, hash } from 'node:crypto';
import type { Sha256 } from '../../edge/audit/chain.js';
import type { SigV4Crypto } from '../../edge/aws/sigv4.js';

export const nodeSha256: Sha256 = (data) => hash('sha256', data, 'buffer');

/** SHA-256 of `text` (UTF-8) as lowercase hex, in one call. */
export const nodeSha256Hex = (text: string | Uint8Array): string => hash('sha256', text, 'hex');

/** Synchronous node:crypto SigV4 primitives, with the hex shortcuts (no encode, hex loop or promise). */
export const nodeSigV4Crypto: SigV4Crypto = {
  sha256: nodeSha256 as (data: Uint8Array) => Uint8Array,
  hmacSha256: (k, d) => createHmac('sha256', k).update(d).digest(),
  sha256Hex: nodeSha256Hex,
  hmacSha256Hex: (k, d) => createHmac('sha256', k).update(d).digest('hex'),
};
