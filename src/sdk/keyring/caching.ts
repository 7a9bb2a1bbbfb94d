/**
 * Data-key caching: reuses a data key (and its wrapped copies) for several messages, within
 * limits of age, messages and bytes, to cut KMS calls. Every message still gets its own keys:
 * Cobblestone derives them from the data key *and* a random per-message salt.
 *
 * Encrypt: entries are keyed by the header AAD (magic ‖ version ‖ protected header: the encryption
 * context, suite and chunk size), so a data key is only reused for the same context and header
 * parameters. LRU with `capacity` entries. A message of unknown length (a stream) bypasses the
 * cache when `maxBytes` is finite, since its bytes cannot be counted; so does a message longer
 * than `maxBytes`, and a request that brings its own data key (a non-generator in a MultiKeyring).
 *
 * Decrypt: unwrapped keys are cached for `maxAge` ms by SHA-256 of the header AAD and all the
 * recipients (type, key id and wrapped key), so envelopes made with one cached data key (which
 * share their recipients) cost one unwrap. A key disabled in the KMS keeps decrypting from the
 * cache until the entry expires: choose `maxAge` accordingly.
 *
 * The caller wipes the data key it gets, so the cache hands out copies.
 */
import { SealboxError } from '../errors.js';
import { requireSubtle } from '../crypto/backend.js';
import { concatBytes, toBase64, utf8Encode, writeU32BE } from '../crypto/bytes.js';
import type { Recipient } from '../format/header.js';
import type { DataKey, Keyring, UnwrapRequest, WrapRequest, WrapResult } from './types.js';

/**
 * Options of `CachingKeyring`: the keyring to cache and the bounds of reuse.
 *
 * @example
 * ```ts
 * new CachingKeyring({ keyring, maxAge: 5 * 60_000, maxBytes: 1 << 30 });
 * ```
 */
export interface CachingKeyringOptions {
  keyring: Keyring;
  /** Longest reuse of a data key, in ms (encrypt), and lifetime of an unwrapped key (decrypt). */
  maxAge: number;
  /** Messages per data key. Default 2^32. */
  maxMessages?: number;
  /** Plaintext bytes per data key. Default: no limit. */
  maxBytes?: number;
  /** Entries kept (each side), least recently used evicted first. Default 100. */
  capacity?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

interface EncryptEntry {
  result: Promise<WrapResult>;
  created: number;
  messages: number;
  bytes: number;
  /** Callers that reserved a use and have not copied the key yet. */
  users: number;
  evicted: boolean;
}

interface DecryptEntry {
  dataKey: DataKey;
  expires: number;
}

function positive(value: unknown, name: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) throw new SealboxError('ERR_INVALID_ARGUMENT', `CachingKeyring: ${name} must be a positive number`);
  return value;
}

/**
 * Reuses data keys from another keyring for a bounded number of messages, bytes and seconds, to cut KMS calls.
 *
 * @example
 * ```ts
 * const keyring = new CachingKeyring({ keyring: kmsKeyring, maxAge: 60_000, maxMessages: 1000 });
 * ```
 */
export class CachingKeyring implements Keyring {
  readonly keyring: Keyring;
  readonly maxAge: number;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly capacity: number;
  readonly #now: () => number;
  readonly #encrypt = new Map<string, EncryptEntry>();
  readonly #decrypt = new Map<string, DecryptEntry>();

  constructor(options: CachingKeyringOptions) {
    const inner = options?.keyring;
    if (!inner || typeof inner.wrapDataKey !== 'function' || typeof inner.unwrapDataKey !== 'function') {
      throw new SealboxError('ERR_INVALID_ARGUMENT', 'CachingKeyring needs options.keyring');
    }
    this.keyring = inner;
    this.maxAge = positive(options.maxAge, 'maxAge');
    this.maxMessages = positive(options.maxMessages, 'maxMessages', 2 ** 32);
    this.maxBytes = positive(options.maxBytes, 'maxBytes', Infinity);
    this.capacity = Math.floor(positive(options.capacity, 'capacity', 100));
    this.#now = options.now ?? Date.now;
  }

  async wrapDataKey(request: WrapRequest): Promise<WrapResult> {
    const length = request.plaintextLength;
    const countable = length !== undefined ? length <= this.maxBytes : this.maxBytes === Infinity;
    if (request.dataKey !== undefined || !countable) return this.keyring.wrapDataKey(request);
    const id = toBase64(request.headerAad);
    const bytes = length ?? 0;
    const now = this.#now();
    let entry = this.#encrypt.get(id);
    if (entry && (now - entry.created >= this.maxAge || entry.messages >= this.maxMessages || entry.bytes + bytes > this.maxBytes)) {
      this.#evict(id, entry);
      entry = undefined;
    }
    if (!entry) {
      const result = this.keyring.wrapDataKey({ ...request });
      entry = { result, created: now, messages: 0, bytes: 0, users: 0, evicted: false };
      const created = entry;
      result.catch(() => this.#encrypt.get(id) === created && this.#encrypt.delete(id));
      this.#encrypt.set(id, entry);
      for (const [oldId, old] of this.#encrypt) {
        if (this.#encrypt.size <= this.capacity) break;
        this.#evict(oldId, old);
      }
    } else {
      this.#encrypt.delete(id);
      this.#encrypt.set(id, entry); // most recently used
    }
    entry.messages++;
    entry.bytes += bytes;
    entry.users++;
    try {
      const { dataKey, recipients } = await entry.result;
      return { dataKey: dataKey.slice(), recipients: recipients.map((r): Recipient => ({ ...r, params: new Map(r.params) })) };
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) void wipeResult(entry.result);
    }
  }

  #evict(id: string, entry: EncryptEntry): void {
    this.#encrypt.delete(id);
    entry.evicted = true;
    if (entry.users === 0) void wipeResult(entry.result);
  }

  async unwrapDataKey(request: UnwrapRequest): Promise<DataKey | undefined> {
    const id = await cacheId(request);
    const now = this.#now();
    const hit = this.#decrypt.get(id);
    if (hit) {
      this.#decrypt.delete(id);
      if (hit.expires > now) {
        this.#decrypt.set(id, hit);
        return copy(hit.dataKey);
      }
      wipeKey(hit.dataKey);
    }
    const dataKey = await this.keyring.unwrapDataKey(request);
    if (dataKey === undefined) return undefined;
    this.#decrypt.set(id, { dataKey: copy(dataKey), expires: now + this.maxAge });
    for (const [oldId, old] of this.#decrypt) {
      if (this.#decrypt.size <= this.capacity) break;
      this.#decrypt.delete(oldId);
      wipeKey(old.dataKey);
    }
    return dataKey;
  }

  /** Drops (and wipes) every cached key. */
  clear(): void {
    for (const [id, entry] of this.#encrypt) this.#evict(id, entry);
    for (const entry of this.#decrypt.values()) wipeKey(entry.dataKey);
    this.#decrypt.clear();
  }
}

function copy(key: DataKey): DataKey {
  return key instanceof Uint8Array ? key.slice() : key;
}

function wipeKey(key: DataKey): void {
  if (key instanceof Uint8Array) key.fill(0);
}

async function wipeResult(result: Promise<WrapResult>): Promise<void> {
  try {
    (await result).dataKey.fill(0);
  } catch {
    // A failed generation holds no key.
  }
}

async function cacheId(request: UnwrapRequest): Promise<string> {
  const parts: Uint8Array[] = [writeU32BE(request.headerAad.length), request.headerAad];
  for (const r of request.recipients) {
    const keyId = utf8Encode(r.keyId);
    parts.push(writeU32BE(r.type), writeU32BE(keyId.length), keyId, writeU32BE(r.wrappedKey.length), r.wrappedKey);
  }
  const digest = await requireSubtle('SHA-256').digest('SHA-256', concatBytes(...parts) as BufferSource);
  return toBase64(new Uint8Array(digest));
}
