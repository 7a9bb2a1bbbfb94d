/**
 * How a stream hands its chunks' outputs to the readable side. Each enqueue costs a trip through
 * the Web Streams machinery (enqueue, the reader's read, the sink's write): in workerd about 13 µs,
 * more than AES-GCM of a 16 KiB chunk there, and workerd's WebCrypto settles inline, so several
 * outputs are ready at once. There, and on the noble fallback (also inline), outputs under 64 KiB
 * are joined (one copy, about 1 µs per 16 KiB) before they are enqueued. Where WebCrypto runs on
 * worker threads (Node, Deno, Bun, browsers), outputs come back one at a time and each is enqueued
 * as it is: in Chromium allocating the joined buffer costs more than the enqueues it saves.
 */
import type { AeadKey } from '../crypto/aes-gcm.js';

/** Outputs smaller than this are joined when joining pays (see above); larger ones pass untouched. */
export const OUTPUT_JOIN_BYTES = 64 * 1024;

export interface ChunkOutput {
  push(bytes: Uint8Array): void;
  /** Enqueues what is held: called when every chunk started so far has been emitted, and at the end. */
  flush(): void;
  clear(): void;
}

/** Joins outputs into pieces of about OUTPUT_JOIN_BYTES. */
export class JoiningOutput implements ChunkOutput {
  #parts: Uint8Array[] = [];
  #length = 0;
  readonly #enqueue: (bytes: Uint8Array) => void;

  constructor(enqueue: (bytes: Uint8Array) => void) {
    this.#enqueue = enqueue;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.#length === 0 && bytes.length >= OUTPUT_JOIN_BYTES) return this.#enqueue(bytes);
    this.#parts.push(bytes);
    this.#length += bytes.length;
    if (this.#length >= OUTPUT_JOIN_BYTES) this.flush();
  }

  flush(): void {
    if (this.#length === 0) return;
    let out: Uint8Array;
    if (this.#parts.length === 1) {
      out = this.#parts[0]!;
    } else {
      out = new Uint8Array(this.#length);
      let at = 0;
      for (const part of this.#parts) {
        out.set(part, at);
        at += part.length;
      }
    }
    this.#parts = [];
    this.#length = 0;
    this.#enqueue(out);
  }

  clear(): void {
    this.#parts = [];
    this.#length = 0;
  }
}

/** Enqueues each output as it comes. */
class DirectOutput implements ChunkOutput {
  constructor(readonly push: (bytes: Uint8Array) => void) {}
  flush(): void {}
  clear(): void {}
}

let inlineProbe: Promise<boolean> | undefined;

/**
 * Whether this runtime's WebCrypto settles within a few microtasks (runs AES inline) rather than
 * after a turn of the event loop. Probed once per process, with a throwaway all-zero key on empty
 * input, so no key or nonce of a real message is ever used twice. Deno settles inline most of the
 * time but not always, so three tries vote.
 */
export function webCryptoSettlesInline(): Promise<boolean> {
  inlineProbe ??= (async () => {
    try {
      const key = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt']);
      let votes = 0;
      for (let attempt = 0; attempt < 3; attempt++) {
        let settled = false;
        const done = () => {
          settled = true;
        };
        crypto.subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, key, new Uint8Array(0)).then(done, done);
        for (let tick = 0; tick < 8 && !settled; tick++) await undefined;
        if (settled) votes++;
      }
      return votes >= 2;
    } catch {
      return false;
    }
  })();
  return inlineProbe;
}

/** The output for a stream whose chunks are sealed or opened with `aead`. */
export async function chunkOutput(aead: AeadKey, enqueue: (bytes: Uint8Array) => void): Promise<ChunkOutput> {
  const inline = 'raw' in aead || (await webCryptoSettlesInline());
  return inline ? new JoiningOutput(enqueue) : new DirectOutput(enqueue);
}
