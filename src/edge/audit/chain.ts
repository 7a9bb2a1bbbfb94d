/**
 * Hash-chained audit lines (runtime-agnostic: WebCrypto only, no Node imports).
 *
 * Each audit record is one line of JSON. A line is built from a record in two steps:
 *
 *   body = JSON.stringify({ ...record, prevHash })        prevHash = hash of the previous line
 *   hash = hex(SHA-256(UTF-8(body)))                        (64 zeros before the first line)
 *   line = body without its final "}"  +  ',"hash":"' + hash + '"}'
 *
 * So every line carries its own hash as its last member and the hash of the line before it
 * (`prevHash`). `verifyAuditChain` recomputes both: an edited line fails its own hash (or, if the
 * editor recomputed that, the next line's `prevHash`); a deleted, inserted or reordered line breaks
 * the `prevHash` link. Removing lines from the *end* of a file cannot be detected from the file
 * alone: compare the last hash with one kept elsewhere (`lastHash` in the result).
 *
 * The same chain serves the local KMS's audit file and the proxy's.
 *
 * Several proxy instances write several chains, one per instance (each record's `instance` member
 * names it; records without it, from before, verify the same): `sealbox audit verify a.log b.log`
 * checks each file as its own chain. The format has no version field: members are only ever added,
 * and a verifier reads none but `prevHash` and `hash`.
 */

export const GENESIS_HASH = '0'.repeat(64);

/** A SHA-256 implementation; defaults to WebCrypto. Node callers may pass a synchronous one. */
export type Sha256 = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

const encoder = new TextEncoder();

export const webCryptoSha256: Sha256 = async (data) =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));

const HEX = Array.from({ length: 256 }, (_, i) => (i < 16 ? '0' : '') + i.toString(16));

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

/** SHA-256 of a string's UTF-8 bytes as lowercase hex, in one synchronous call (e.g. node:crypto `hash`). */
export type Sha256Hex = (text: string) => string;

/**
 * `JSON.stringify({ ...record, prevHash })`. For a plain record (no own `prevHash` or `toJSON`) with
 * at least one member, that is the record's own JSON with `prevHash` added last, made here without
 * copying the record first; anything else takes the copy.
 */
function chainBody(record: Record<string, unknown>, prevHash: string): string {
  if (Object.getPrototypeOf(record) === Object.prototype && !Object.hasOwn(record, 'prevHash') && !Object.hasOwn(record, 'toJSON')) {
    const json = JSON.stringify(record);
    if (json.length > 2) return `${json.slice(0, -1)},"prevHash":${JSON.stringify(prevHash)}}`;
  }
  return JSON.stringify({ ...record, prevHash });
}

export interface ChainedLine {
  /** The full line, without a trailing newline. */
  line: string;
  /** This line's hash (the next line's `prevHash`). */
  hash: string;
}

/**
 * Serialises `record` as the next line after the line whose hash is `prevHash`. The record must not
 * have its own `prevHash` or `hash` members.
 */
export async function chainLine(
  record: Record<string, unknown>,
  prevHash: string,
  sha256: Sha256 = webCryptoSha256,
): Promise<ChainedLine> {
  const body = chainBody(record, prevHash);
  const hash = toHex(await sha256(encoder.encode(body)));
  return { line: `${body.slice(0, -1)},"hash":"${hash}"}`, hash };
}

/** Synchronous `chainLine`, for callers with a synchronous SHA-256 (e.g. node:crypto). */
export function chainLineSync(record: Record<string, unknown>, prevHash: string, sha256: (data: Uint8Array) => Uint8Array): ChainedLine {
  const body = chainBody(record, prevHash);
  const hash = toHex(sha256(encoder.encode(body)));
  return { line: `${body.slice(0, -1)},"hash":"${hash}"}`, hash };
}

/**
 * Appends records one after another; keeps the running hash. Not safe to call concurrently:
 * callers serialise (the KMS file sink does).
 */
export class AuditChain {
  #last: string;
  readonly #sha256: Sha256;
  readonly #sha256Hex: Sha256Hex | undefined;

  /** `sha256Hex`, when given, must compute the same SHA-256 as `sha256`; `appendSync` uses it. */
  constructor(lastHash: string = GENESIS_HASH, sha256: Sha256 = webCryptoSha256, sha256Hex?: Sha256Hex) {
    this.#last = lastHash;
    this.#sha256 = sha256;
    this.#sha256Hex = sha256Hex;
  }

  get lastHash(): string {
    return this.#last;
  }

  async append(record: Record<string, unknown>): Promise<string> {
    const { line, hash } = await chainLine(record, this.#last, this.#sha256);
    this.#last = hash;
    return line;
  }

  /** Like `append`, but the chain's SHA-256 must be synchronous (throws otherwise). */
  appendSync(record: Record<string, unknown>): string {
    const body = chainBody(record, this.#last);
    let hash: string;
    if (this.#sha256Hex) hash = this.#sha256Hex(body);
    else {
      const digest = this.#sha256(encoder.encode(body));
      if (digest instanceof Promise) throw new TypeError('appendSync needs a synchronous SHA-256');
      hash = toHex(digest);
    }
    this.#last = hash;
    return `${body.slice(0, -1)},"hash":"${hash}"}`;
  }
}

export type AuditVerifyResult =
  | { ok: true; count: number; lastHash: string }
  | { ok: false; count: number; line: number; reason: string };

const TAIL = /,"hash":"([0-9a-f]{64})"\}$/;

/** Returns the hash recorded in a line (without verifying it), or undefined if it has none. */
export function lineHash(line: string): string | undefined {
  return TAIL.exec(line)?.[1];
}

/**
 * Checks a sequence of lines (a trailing empty line, from a final newline, is ignored). `line` in a
 * failure is 1-based: the first line that does not verify. `count` is the number of good lines
 * before it. `onRecord`, when given, sees each verified record (parsed) with its line number.
 */
export async function verifyAuditChain(
  lines: Iterable<string> | AsyncIterable<string>,
  sha256: Sha256 = webCryptoSha256,
  onRecord?: (record: Record<string, unknown>, line: number) => void,
): Promise<AuditVerifyResult> {
  let expected = GENESIS_HASH;
  let n = 0;
  let pendingEmpty = false;
  for await (const raw of lines as AsyncIterable<string>) {
    if (pendingEmpty) return { ok: false, count: n, line: n + 1, reason: 'empty line' };
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') {
      pendingEmpty = true;
      continue;
    }
    const lineNo = n + 1;
    const m = TAIL.exec(line);
    if (!m) return { ok: false, count: n, line: lineNo, reason: 'no trailing "hash" member' };
    const body = `${line.slice(0, m.index)}}`;
    const hash = toHex(await sha256(encoder.encode(body)));
    if (hash !== m[1]) return { ok: false, count: n, line: lineNo, reason: 'hash does not match the line (edited)' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return { ok: false, count: n, line: lineNo, reason: 'not JSON' };
    }
    const prev = (parsed as { prevHash?: unknown } | null)?.prevHash;
    if (typeof parsed !== 'object' || parsed === null || prev !== expected) {
      return {
        ok: false,
        count: n,
        line: lineNo,
        reason: 'prevHash does not match the previous line (a line was removed, inserted or reordered)',
      };
    }
    expected = hash;
    n = lineNo;
    onRecord?.(parsed as Record<string, unknown>, lineNo);
  }
  return { ok: true, count: n, lastHash: expected };
}
