/**
 * One-shot `encrypt`/`decrypt` through a `ChunkEngine`: the message's chunks cut into batches (the
 * last one ends the message), a few batches in flight per Worker, each batch's input copied out of
 * the caller's buffer (which stays the caller's) and its result written at its offset.
 */
import { type MessageKeys, TAG_BYTES } from './cobblestone.js';
import { BATCHES_PER_WORKER, type ChunkEngine, batchChunks } from './engine.js';
import { forEachIndex } from './parallel.js';

/** `input`: the plaintext (seal) or the chunks after salt and commitment (open); `out` takes the result from offset 0. */
export async function runBatches(engine: ChunkEngine, op: 'seal' | 'open', keys: MessageKeys, chunkSize: number, input: Uint8Array, out: Uint8Array): Promise<void> {
  const inUnit = op === 'seal' ? chunkSize : chunkSize + TAG_BYTES;
  const outUnit = op === 'seal' ? chunkSize + TAG_BYTES : chunkSize;
  const perBatch = batchChunks(chunkSize);
  // Chunks of the message: the whole ones, plus the final one (seal: possibly empty).
  const chunkCount = op === 'seal' ? Math.floor(input.length / chunkSize) + 1 : Math.ceil(input.length / inUnit);
  const batches = Math.ceil(chunkCount / perBatch);
  await forEachIndex(batches, Math.max(2, engine.size * BATCHES_PER_WORKER), async (b) => {
    const first = b * perBatch;
    const final = b === batches - 1;
    const start = first * inUnit;
    const end = final ? input.length : start + perBatch * inUnit;
    // A copy the engine owns, with room for the result (sealing grows it), so it can work in place.
    const data = new Uint8Array(new ArrayBuffer(op === 'seal' ? (perBatch + 1) * (chunkSize + TAG_BYTES) : end - start), 0, end - start);
    data.set(input.subarray(start, end));
    const result = await engine.run({ op, keys, chunkSize, first, data, final });
    out.set(result, first * outUnit);
  });
}
