/**
 * Stream throughput against each runtime's own raw WebCrypto ceiling, for `npm run bench`
 * (scripts/bench/runtimes.ts). The bodies are the ones Node runs in process (scripts/bench/core.ts).
 * `bench` runs the whole measurement where the runtime's clock can time it; `bench-step` runs one
 * step, for workerd, whose clock stands still while a request computes (timing side-channel
 * mitigation), so the caller times each step from outside (`noop` is an empty step).
 */
import * as lib from '../../src/index.js';
import * as core from '../../scripts/bench/core.js';

export interface BenchRequest {
  op: 'bench';
  total: number;
  chunkSizes: number[];
  pieceSize: number;
  depths: Record<number, number>;
  reps?: number;
}

export type BenchStep = 'ceiling-encrypt' | 'ceiling-decrypt' | 'plain-encrypt' | 'plain-decrypt' | 'encrypt-stream' | 'decrypt-stream' | 'make-envelope' | 'noop';

export interface BenchStepRequest {
  op: 'bench-step';
  step: BenchStep;
  total: number;
  chunkSize: number;
  depth: number;
  pieceSize: number;
}

export function bench(request: BenchRequest): Promise<core.Row[]> {
  const { total, chunkSizes, pieceSize, depths, reps } = request;
  return core.throughput(lib, reps === undefined ? { total, chunkSizes, pieceSize, depths } : { total, chunkSizes, pieceSize, depths, reps });
}

/**
 * What the decrypt steps read, per chunk size: an envelope per total (a caller that times two sizes
 * makes both), and raw AES-GCM chunks for the ceiling, as many as the largest total needs (a
 * smaller total reads a prefix).
 */
let prepared: { chunkSize: number; envelopes: Map<number, Uint8Array>; sealed: Uint8Array<ArrayBuffer>; sealedTotal: number } | undefined;

function preparedFor(total: number, chunkSize: number) {
  const envelope = prepared?.chunkSize === chunkSize ? prepared.envelopes.get(total) : undefined;
  if (!prepared || !envelope || prepared.sealedTotal < total) throw new Error('run make-envelope first');
  return { envelope, sealed: prepared.sealed };
}

/** Runs one step; returns the bytes it processed (checked by the caller). */
export async function benchStep(request: BenchStepRequest): Promise<{ bytes: number }> {
  const { step, total, chunkSize, depth, pieceSize } = request;
  switch (step) {
    case 'noop':
      return { bytes: 0 };
    case 'ceiling-encrypt':
      await core.ceiling({ total, chunkSize, depth, op: 'encrypt' });
      return { bytes: total };
    case 'ceiling-decrypt':
      await core.ceiling({ total, chunkSize, depth, op: 'decrypt', sealed: preparedFor(total, chunkSize).sealed });
      return { bytes: total };
    case 'plain-encrypt':
      await core.plainStream({ total, chunkSize, depth, pieceSize, op: 'encrypt' });
      return { bytes: total };
    case 'plain-decrypt':
      await core.plainStream({ total, chunkSize, depth, pieceSize, op: 'decrypt', sealed: preparedFor(total, chunkSize).sealed });
      return { bytes: total };
    case 'encrypt-stream':
      return { bytes: (await core.encryptStream(lib, { total, chunkSize, pieceSize })).bytes };
    case 'make-envelope': {
      if (prepared?.chunkSize !== chunkSize) prepared = { chunkSize, envelopes: new Map(), sealed: new Uint8Array(0), sealedTotal: 0 };
      const envelope = await core.makeEnvelope(lib, { total, chunkSize });
      prepared.envelopes.set(total, envelope);
      if (prepared.sealedTotal < total) Object.assign(prepared, { sealed: await core.rawCiphertext(total, chunkSize), sealedTotal: total });
      return { bytes: envelope.length };
    }
    case 'decrypt-stream':
      return { bytes: (await core.decryptStream(lib, preparedFor(total, chunkSize).envelope, { pieceSize })).bytes };
  }
}
