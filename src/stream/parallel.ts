/**
 * How many chunks to keep in flight. WebCrypto's AES runs off the main thread, so a serial loop
 * leaves cores idle; too many large chunks in flight only thrash memory. The bound is in bytes.
 */
export const DEFAULT_IN_FLIGHT_BYTES = 1024 * 1024;
const MAX_IN_FLIGHT_CHUNKS = 64;

export function chunksInFlight(chunkSize: number, inFlightBytes = DEFAULT_IN_FLIGHT_BYTES): number {
  return Math.max(1, Math.min(MAX_IN_FLIGHT_CHUNKS, Math.floor(inFlightBytes / chunkSize)));
}

/**
 * Runs `task(0 … count-1)` with at most `concurrency` running at once. Stops starting new tasks
 * after the first failure and rejects with the failure of the lowest index, so the error a caller
 * sees does not depend on timing.
 */
export async function forEachIndex(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  const state: { next: number; failed?: { index: number; error: unknown } } = { next: 0 };
  const fail = (index: number, error: unknown) => {
    if (!state.failed || index < state.failed.index) state.failed = { index, error };
  };
  const worker = async () => {
    while (state.next < count && !state.failed) {
      const index = state.next++;
      await task(index).catch((error: unknown) => fail(index, error));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (state.failed) throw state.failed.error;
}
