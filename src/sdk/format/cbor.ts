/**
 * The deterministic CBOR subset the envelope header uses (RFC 8949 §4.2.1 core deterministic
 * encoding): unsigned integers, byte strings, text strings, arrays and maps, nothing else.
 *
 * Decoding is strict so that every header has exactly one encoding: shortest-form heads only,
 * definite lengths only, map keys in ascending order of their encoded bytes (which also rules
 * out duplicates), well-formed UTF-8, no tags, floats or simple values, no trailing bytes, and no
 * length that points past the end of the input (so a forged length allocates nothing).
 *
 * (cbor-x was the planned codec; it probes `new Function` when it loads, which a strict
 * Content-Security-Policy reports as a violation, and its only no-eval build is CommonJS. This
 * subset is ~150 lines and also gives us the strictness we would otherwise check by re-encoding.)
 */
import { SealboxError } from '../errors.js';
import { utf8Decode, utf8Encode } from '../crypto/bytes.js';

export type CborValue = number | string | Uint8Array | CborValue[] | CborMap;
export type CborMap = Map<number | string, CborValue>;

const MAJOR_UINT = 0;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAX_DEPTH = 8;

function formatError(message: string): SealboxError {
  return new SealboxError('ERR_FORMAT', `header CBOR: ${message}`);
}

// ── encoding ────────────────────────────────────────────────────────────────────────────────

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }
  head(major: number, value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new SealboxError('ERR_INVALID_ARGUMENT', `CBOR cannot encode ${value}`);
    const m = major << 5;
    if (value < 24) this.push(Uint8Array.of(m | value));
    else if (value < 0x100) this.push(Uint8Array.of(m | 24, value));
    else if (value < 0x10000) this.push(Uint8Array.of(m | 25, value >>> 8, value & 0xff));
    else if (value < 0x100000000) this.push(Uint8Array.of(m | 26, value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff));
    else {
      const high = Math.floor(value / 0x100000000);
      const low = value >>> 0;
      this.push(Uint8Array.of(m | 27, 0, (high >>> 16) & 0xff, (high >>> 8) & 0xff, high & 0xff, low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff));
    }
  }
  result(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

function encodeInto(writer: Writer, value: CborValue): void {
  if (typeof value === 'number') writer.head(MAJOR_UINT, value);
  else if (typeof value === 'string') {
    const bytes = utf8Encode(value);
    writer.head(MAJOR_TEXT, bytes.length);
    writer.push(bytes);
  } else if (value instanceof Uint8Array) {
    writer.head(MAJOR_BYTES, value.length);
    writer.push(value);
  } else if (Array.isArray(value)) {
    writer.head(MAJOR_ARRAY, value.length);
    for (const item of value) encodeInto(writer, item);
  } else {
    // Deterministic order: ascending by the encoded key bytes.
    const entries = [...value].map(([key, item]) => [encodeCbor(key), item] as const);
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    writer.head(MAJOR_MAP, entries.length);
    for (let i = 0; i < entries.length; i++) {
      if (i > 0 && compareBytes(entries[i - 1]![0], entries[i]![0]) === 0) throw new SealboxError('ERR_INVALID_ARGUMENT', 'duplicate CBOR map key');
      writer.push(entries[i]![0]);
      encodeInto(writer, entries[i]![1]);
    }
  }
}

export function encodeCbor(value: CborValue): Uint8Array {
  const writer = new Writer();
  encodeInto(writer, value);
  return writer.result();
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

// ── decoding ────────────────────────────────────────────────────────────────────────────────

class Reader {
  offset = 0;
  constructor(readonly bytes: Uint8Array) {}

  private need(count: number): void {
    if (count > this.bytes.length - this.offset) throw formatError('unexpected end of data');
  }

  head(): { major: number; value: number } {
    this.need(1);
    const initial = this.bytes[this.offset++]!;
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (info < 24) return { major, value: info };
    if (info === 31) throw formatError('indefinite-length items are not allowed');
    if (info > 27) throw formatError(`reserved additional information ${info}`);
    const size = 1 << (info - 24);
    this.need(size);
    let value = 0;
    for (let i = 0; i < size; i++) value = value * 256 + this.bytes[this.offset++]!;
    if (!Number.isSafeInteger(value)) throw formatError('integer too large');
    const minimum = [24, 0x100, 0x10000, 0x100000000][info - 24]!;
    if (value < minimum) throw formatError('integer or length not in shortest form');
    return { major, value };
  }

  take(count: number): Uint8Array {
    this.need(count);
    const out = this.bytes.slice(this.offset, this.offset + count);
    this.offset += count;
    return out;
  }

  item(depth: number): CborValue {
    if (depth > MAX_DEPTH) throw formatError('nested too deeply');
    const start = this.offset;
    const { major, value } = this.head();
    switch (major) {
      case MAJOR_UINT:
        return value;
      case MAJOR_BYTES:
        return this.take(value);
      case MAJOR_TEXT: {
        const bytes = this.take(value);
        try {
          return utf8Decode(bytes);
        } catch {
          throw formatError('text string is not valid UTF-8');
        }
      }
      case MAJOR_ARRAY: {
        // Each item takes at least one byte, so a count beyond the remaining bytes is a lie.
        this.need(value);
        const out: CborValue[] = [];
        for (let i = 0; i < value; i++) out.push(this.item(depth + 1));
        return out;
      }
      case MAJOR_MAP: {
        this.need(value * 2);
        const out: CborMap = new Map();
        let previousKey: Uint8Array | undefined;
        for (let i = 0; i < value; i++) {
          const keyStart = this.offset;
          const key = this.item(depth + 1);
          if (typeof key !== 'number' && typeof key !== 'string') throw formatError('map keys must be integers or text');
          const keyBytes = this.bytes.subarray(keyStart, this.offset);
          if (previousKey) {
            const order = compareBytes(previousKey, keyBytes);
            if (order === 0) throw formatError('duplicate map key');
            if (order > 0) throw formatError('map keys not in deterministic order');
          }
          previousKey = keyBytes;
          out.set(key, this.item(depth + 1));
        }
        return out;
      }
      default:
        this.offset = start;
        throw formatError(`major type ${major} (${['uint', 'negative int', 'bytes', 'text', 'array', 'map', 'tag', 'float/simple'][major]}) is not allowed`);
    }
  }
}

/** Decodes exactly one item that must fill `bytes` completely. */
export function decodeCbor(bytes: Uint8Array): CborValue {
  const reader = new Reader(bytes);
  const value = reader.item(0);
  if (reader.offset !== bytes.length) throw formatError(`${bytes.length - reader.offset} trailing bytes after the item`);
  return value;
}
