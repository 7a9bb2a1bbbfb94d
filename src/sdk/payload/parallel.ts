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

/**
 * When a full window takes tasks again. A window of many small chunks (16 or more: chunks of
 * 64 KiB or less in the default 1 MiB) refills in batches, once it has drained to 1/16 of its
 * capacity (4 of 64 chunks of 16 KiB): a 16 KiB AES-GCM job costs less than waking a thread, and
 * batches let each wake-up of WebCrypto's workers, and of the caller's thread, serve many chunks. In
 * Node this cut the main thread's time per 16 KiB chunk by about a third. A window of a few large
 * chunks refills one by one: there the AES work dominates and every chunk of overlap counts.
 */
function resumeAtFor(capacity: number): number {
  return capacity >= 16 ? Math.floor(capacity / 16) : capacity - 1;
}

/**
 * An in-order window over concurrent tasks, for the streams: `add` starts tracking a task; once
 * `capacity` tasks are pending, `room()` resolves only when the window has drained to `resumeAt`
 * pending, so a caller that awaits it before each `add` never has more than `capacity` in flight.
 * Results are handed to `emit` strictly in the order the tasks were added, as soon as every earlier
 * one has finished (not when the window happens to fill), so a slow writer still sees its output
 * promptly. The first failure in that order goes to `fail` (once); results after it are dropped,
 * and so the error does not depend on timing.
 */
export class OrderedWindow<T> {
  readonly capacity: number;
  /** How many tasks may still be pending when a full window takes new ones again. */
  readonly resumeAt: number;
  #slots: { settled: boolean; failed: boolean; value?: T; error?: unknown }[] = [];
  #waiters: (() => void)[] = [];
  #stopped = false;
  #failure: { error: unknown } | undefined;
  readonly #emit: (value: T) => void;
  readonly #fail: (error: unknown) => void;
  readonly #idle: (() => void) | undefined;

  /** `idle` is called whenever every task added so far has been emitted. */
  constructor(capacity: number, emit: (value: T) => void, fail: (error: unknown) => void, idle?: () => void) {
    this.capacity = Math.max(1, capacity);
    this.resumeAt = resumeAtFor(this.capacity);
    this.#emit = emit;
    this.#fail = fail;
    this.#idle = idle;
  }

  /** Tasks started and not yet emitted. */
  get pending(): number {
    return this.#slots.length;
  }

  /**
   * Nothing when a task may be added at once; otherwise (the window is full) a promise that
   * resolves once it has drained to `resumeAt` pending, so the hot path costs no promise tick.
   * Callers wait for room before they start a task, not after: while they wait, the next chunk's
   * input can be gathered, so it is ready the moment room frees. Throws, or rejects, once the
   * window has failed.
   */
  room(): Promise<void> | undefined {
    this.#check();
    return this.#slots.length >= this.capacity ? this.#room() : undefined;
  }

  /** Tracks `task` (after `room()` said there is room). Throws once the window has failed. */
  add(task: Promise<T>): void {
    this.#check();
    const slot: { settled: boolean; failed: boolean; value?: T; error?: unknown } = { settled: false, failed: false };
    this.#slots.push(slot);
    task.then(
      (value) => {
        slot.settled = true;
        slot.value = value;
        this.#release();
      },
      (error: unknown) => {
        slot.settled = true;
        slot.failed = true;
        slot.error = error;
        this.#release();
      },
    );
  }

  async #room(): Promise<void> {
    while (!this.#stopped && this.#slots.length > this.resumeAt) await this.#wait();
    this.#check();
  }

  /** Resolves when every task added so far has been emitted; rejects if one failed. */
  async drain(): Promise<void> {
    while (!this.#stopped && this.#slots.length > 0) await this.#wait();
    this.#check();
  }

  /** Stops for good (cancel): drops pending results and wakes every waiter. */
  stop(error: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#failure ??= { error };
    this.#slots = [];
    this.#wake();
  }

  #check(): void {
    if (this.#failure) throw this.#failure.error;
  }

  #wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Emits what is ready at the head. Waiters are woken only when something was emitted (or on
   * stop): a task that settles behind an unsettled one frees no room, so waking them would only
   * cost promise ticks.
   */
  #release(): void {
    let emitted = false;
    while (!this.#stopped && this.#slots[0]?.settled) {
      const slot = this.#slots.shift()!;
      emitted = true;
      if (slot.failed) {
        this.stop(slot.error);
        this.#fail(slot.error);
        return;
      }
      try {
        this.#emit(slot.value as T);
        if (this.#slots.length === 0) this.#idle?.();
      } catch (error) {
        // The consumer went away (the readable side was cancelled or errored).
        this.stop(error);
        return;
      }
    }
    if (emitted) this.#wake();
  }
}
