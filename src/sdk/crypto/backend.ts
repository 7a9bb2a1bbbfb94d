/**
 * Where the primitives come from. WebCrypto when `crypto.subtle` exists (secure contexts, Node,
 * Deno, Bun, Workers); otherwise the audited noble implementations, imported lazily so that the
 * core bundle does not carry them. Checked on each call rather than cached, so a page that loses
 * or gains `crypto.subtle` (and our tests, which remove it) get the right one.
 */
import { SealboxError } from '../errors.js';

export type NobleFallback = typeof import('./noble.js');

export function subtleOrUndefined(): SubtleCrypto | undefined {
  return (globalThis.crypto as Crypto | undefined)?.subtle ?? undefined;
}

export function requireSubtle(what: string): SubtleCrypto {
  const subtle = subtleOrUndefined();
  if (!subtle) {
    throw new SealboxError(
      'ERR_UNSUPPORTED',
      `${what} needs WebCrypto (crypto.subtle), which this runtime does not expose; ` +
        'browsers expose it only in secure contexts (https:// or http://localhost)',
    );
  }
  return subtle;
}

let noble: Promise<NobleFallback> | undefined;
export function loadNoble(): Promise<NobleFallback> {
  noble ??= import('./noble.js');
  return noble;
}

export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  // getRandomValues works in insecure contexts too; it caps each call at 65536 bytes.
  for (let i = 0; i < length; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(length, i + 65536)));
  return out;
}
