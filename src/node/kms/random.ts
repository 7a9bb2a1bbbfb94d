/** Random bytes from a pooled buffer: one randomFillSync per 16 KiB instead of one per call. */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 16 * 1024;
let pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** A fresh copy of `n` random bytes (n ≤ 1024 uses the pool). */
export function randomBytesFast(n: number): Buffer {
  if (n > 1024) return randomFillSync(Buffer.allocUnsafe(n));
  if (offset + n > POOL_SIZE) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + n));
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}
