/**
 * Byte mutations shared by the stream and range fuzz targets (the same kinds as `envelope.ts`:
 * bit flips, insertions, deletions, truncations, splices of two envelopes, huge length fields,
 * overwrites), plus helpers to describe a case and to find where the recipients sit.
 */
import fc from 'fast-check';
import { encodeCbor } from '../../src/sdk/format/cbor.js';
import { DEFAULT_LIMITS } from '../../src/sdk/format/constants.js';
import { encodeRecipient, parseEnvelopeHeader } from '../../src/sdk/format/header.js';

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'splice'; at: number; from: number }
  | { kind: 'length'; value: number }
  | { kind: 'overwrite'; at: number; bytes: Uint8Array };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), from: fc.nat() }),
  fc.record({ kind: fc.constant('length' as const), value: fc.oneof(fc.constant(0xffffffff), fc.constant(0x80000000), fc.nat(0xffffffff)) }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
);

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Applies one mutation; returns the new bytes and the range of original offsets it touched. */
export function apply(envelope: Uint8Array, other: Uint8Array, m: Mutation): { bytes: Uint8Array; touched: [number, number] } {
  const n = envelope.length;
  if (n === 0) return { bytes: envelope, touched: [0, 0] };
  switch (m.kind) {
    case 'flip': {
      const at = m.at % n;
      const bytes = envelope.slice();
      bytes[at]! ^= 1 << m.bit;
      return { bytes, touched: [at, at + 1] };
    }
    case 'insert': {
      const at = m.at % (n + 1);
      const bytes = new Uint8Array(n + m.bytes.length);
      bytes.set(envelope.subarray(0, at));
      bytes.set(m.bytes, at);
      bytes.set(envelope.subarray(at), at + m.bytes.length);
      return { bytes, touched: [at, n] };
    }
    case 'delete': {
      const at = m.at % n;
      const end = Math.min(n, at + m.count);
      const bytes = new Uint8Array(n - (end - at));
      bytes.set(envelope.subarray(0, at));
      bytes.set(envelope.subarray(end), at);
      return { bytes, touched: [at, n] };
    }
    case 'truncate': {
      const at = m.at % n;
      return { bytes: envelope.subarray(0, at), touched: [at, n] };
    }
    case 'splice': {
      const at = m.at % n;
      const from = m.from % other.length;
      const tail = other.subarray(from);
      const bytes = new Uint8Array(at + tail.length);
      bytes.set(envelope.subarray(0, at));
      bytes.set(tail, at);
      return { bytes, touched: [at, n] };
    }
    case 'length': {
      if (n < 8) return { bytes: envelope, touched: [n, n] };
      const bytes = envelope.slice();
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(4, m.value);
      return { bytes, touched: [4, 8] };
    }
    case 'overwrite': {
      const at = m.at % n;
      const bytes = envelope.slice();
      bytes.set(m.bytes.subarray(0, n - at), at);
      return { bytes, touched: [at, Math.min(n, at + m.bytes.length)] };
    }
  }
}

export interface Mutated {
  bytes: Uint8Array;
  /** Byte-identical to the original, or to the other envelope (a splice can rebuild it whole). */
  unchanged: boolean;
  /** Differs from the original (or the other envelope) only inside its unauthenticated recipients, at the same length: decryption may still succeed. */
  onlyRecipients: boolean;
}

/** Where the recipients array starts in an envelope, and where the header ends. */
export function recipientsRange(envelope: Uint8Array): [number, number] {
  const parsed = parseEnvelopeHeader(envelope, DEFAULT_LIMITS);
  return [parsed.headerLength - encodeCbor(parsed.recipients.map(encodeRecipient)).length, parsed.headerLength];
}

/** Same length as `ref`, and every differing byte inside `range`. */
function differsOnlyWithin(bytes: Uint8Array, ref: Uint8Array, range: [number, number]): boolean {
  if (bytes.length !== ref.length) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== ref[i] && (i < range[0] || i >= range[1])) return false;
  return true;
}

/**
 * Applies `mutations` to `envelope`. `other` is a second valid envelope of the same plaintext (the
 * splice source); `recipients` and `otherRecipients` are their recipient ranges.
 */
export function mutate(envelope: Uint8Array, other: Uint8Array, recipients: [number, number], mutations: Mutation[], otherRecipients: [number, number] = recipients): Mutated {
  let bytes = envelope;
  for (const m of mutations) {
    bytes = apply(bytes, other, m).bytes;
    if (bytes.length === 0) break;
  }
  const unchanged = equalBytes(bytes, envelope) || equalBytes(bytes, other);
  const onlyRecipients = differsOnlyWithin(bytes, envelope, recipients) || differsOnlyWithin(bytes, other, otherRecipients);
  return { bytes, unchanged, onlyRecipients };
}

export function describe(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
  } catch {
    return String(value);
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
