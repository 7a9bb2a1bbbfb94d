/**
 * The dev server's blob store: ciphertext objects as files under `<data>/blobs/`, streamed to and
 * from disk (never buffered whole), written crash-safely (temp file → fsync → rename → fsync dir).
 *
 *   <data>/blobs/<id>.sbx     the envelope, byte for byte as uploaded
 *   <data>/blobs/<id>.json    what the uploader told us (file name, type, who, when); not secret,
 *                             but not authenticated either: the envelope's context is what counts
 *   <data>/blobs/.tmp/        uploads in progress (removed at start: an unfinished upload never
 *                             becomes a blob)
 *
 * Two ways in: one streamed `PUT` (curl, the CLI, browsers over HTTP/2), and multi-part uploads
 * (`createUpload` / `writePart` / `completeUpload`) for browsers that cannot stream a request body
 * over HTTP/1.1 (Chromium refuses `duplex: 'half'` bodies there), each part appended to the same
 * temp file and the whole renamed into place at the end.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fsyncDir, writeFileAtomic } from '../fs.js';
import { DEFAULT_LIMITS, PREFIX_BYTES } from '../../sdk/format/constants.js';
import { parseEnvelopeHeader, readPrefix } from '../../sdk/format/header.js';

export const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export interface BlobMeta {
  name?: string;
  type?: string;
  uploadedBy?: string;
  tenant?: string;
  createdAt?: string;
  rewrappedAt?: string;
}

export interface BlobInfo extends BlobMeta {
  id: string;
  size: number;
  mtimeMs: number;
  etag: string;
}

export class BlobError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'BlobError';
  }
}

interface Upload {
  id: string;
  meta: BlobMeta;
  owner: string;
  tmp: string;
  fh: FileHandle;
  /** Offsets where each part began; parts.length is the next part's number. */
  parts: number[];
  size: number;
  queue: Promise<unknown>;
  touched: number;
}

export interface BlobStoreOptions {
  /** Largest object (bytes). Default 64 GiB. */
  maxObjectBytes?: number;
  /** Largest part of a multi-part upload. Default 64 MiB. */
  maxPartBytes?: number;
  /** Uploads idle this long are dropped. Default 1 hour. */
  uploadIdleMs?: number;
}

export function newId(): string {
  return randomBytes(12).toString('base64url');
}

/** Copies a web stream into a file at `position`, in order; returns the bytes written. */
async function streamToFile(body: ReadableStream<Uint8Array> | null, fh: FileHandle, position: number, max: number): Promise<number> {
  if (!body) return 0;
  const reader = body.getReader();
  let written = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (written + value.length > max) throw new BlobError(413, `the body is larger than ${max} bytes`);
      let off = 0;
      while (off < value.length) {
        const { bytesWritten } = await fh.write(value, off, value.length - off, position + written + off);
        off += bytesWritten;
      }
      written += value.length;
    }
  } catch (e) {
    reader.cancel(e).catch(() => {});
    throw e;
  }
  return written;
}

export class BlobStore {
  readonly dir: string;
  readonly tmpDir: string;
  readonly maxObjectBytes: number;
  readonly maxPartBytes: number;
  readonly #uploadIdleMs: number;
  readonly #uploads = new Map<string, Upload>();
  readonly #locks = new Map<string, Promise<unknown>>();
  #sweeper: NodeJS.Timeout;

  private constructor(dir: string, options: BlobStoreOptions) {
    this.dir = dir;
    this.tmpDir = join(dir, '.tmp');
    this.maxObjectBytes = options.maxObjectBytes ?? 64 * 2 ** 30;
    this.maxPartBytes = options.maxPartBytes ?? 64 * 2 ** 20;
    this.#uploadIdleMs = options.uploadIdleMs ?? 3_600_000;
    this.#sweeper = setInterval(() => void this.#sweep(), 60_000);
    this.#sweeper.unref();
  }

  static async open(dir: string, options: BlobStoreOptions = {}): Promise<BlobStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Whatever is in .tmp belonged to a process that died mid-upload: never a blob, so drop it.
    await rm(join(dir, '.tmp'), { recursive: true, force: true });
    await mkdir(join(dir, '.tmp'), { mode: 0o700 });
    return new BlobStore(dir, options);
  }

  path(id: string): string {
    return join(this.dir, `${id}.sbx`);
  }

  #metaPath(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  #tmpPath(): string {
    return join(this.tmpDir, `${Date.now()}-${randomBytes(6).toString('hex')}`);
  }

  /** Serialises writers of one id (a rewrap and an overwrite must not interleave). */
  async #exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#locks.get(id) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    }
  }

  async stat(id: string): Promise<BlobInfo | undefined> {
    if (!ID_RE.test(id)) return undefined;
    let st;
    try {
      st = await stat(this.path(id));
    } catch {
      return undefined;
    }
    let meta: BlobMeta = {};
    try {
      meta = JSON.parse(await readFile(this.#metaPath(id), 'utf8')) as BlobMeta;
    } catch {
      // No metadata (written first, so only when someone deleted it): the blob still counts.
    }
    return { ...meta, id, size: st.size, mtimeMs: st.mtimeMs, etag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"` };
  }

  async list(): Promise<BlobInfo[]> {
    const names = await readdir(this.dir);
    const infos = await Promise.all(names.filter((n) => n.endsWith('.sbx')).map((n) => this.stat(n.slice(0, -4))));
    return infos.filter((i): i is BlobInfo => i !== undefined).sort((a, b) => b.mtimeMs - a.mtimeMs);
  }

  /** Bytes `start`..`end` (inclusive) of a blob as a web stream read from disk. */
  read(id: string, start: number, end: number): ReadableStream<Uint8Array> {
    const nodeStream = createReadStream(this.path(id), { start, end, highWaterMark: 256 * 1024 });
    return Readable.toWeb(nodeStream) as unknown as ReadableStream<Uint8Array>;
  }

  async #commit(id: string, tmp: string, fh: FileHandle, meta: BlobMeta): Promise<BlobInfo> {
    await fh.sync();
    await fh.close();
    await writeFileAtomic(this.#metaPath(id), `${JSON.stringify(meta, null, 2)}\n`);
    await rename(tmp, this.path(id));
    await fsyncDir(this.dir);
    return (await this.stat(id))!;
  }

  async #checkEnvelopeStart(tmp: string): Promise<void> {
    const fh = await open(tmp, 'r');
    try {
      const head = Buffer.alloc(PREFIX_BYTES);
      const { bytesRead } = await fh.read(head, 0, PREFIX_BYTES, 0);
      if (bytesRead < PREFIX_BYTES) throw new BlobError(400, 'not a Sealbox envelope: too short');
      try {
        readPrefix(head, DEFAULT_LIMITS);
      } catch (e) {
        throw new BlobError(400, `not a Sealbox envelope: ${(e as Error).message}`);
      }
    } finally {
      await fh.close();
    }
  }

  /** One streamed upload. Only envelopes are accepted (the server stores ciphertext, nothing else). */
  async put(id: string, body: ReadableStream<Uint8Array> | null, meta: BlobMeta): Promise<BlobInfo> {
    if (!ID_RE.test(id)) throw new BlobError(400, 'bad object id');
    const tmp = this.#tmpPath();
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await streamToFile(body, fh, 0, this.maxObjectBytes);
    } catch (e) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw e;
    }
    try {
      await this.#checkEnvelopeStart(tmp);
      return await this.#exclusive(id, () => this.#commit(id, tmp, fh, { ...meta, createdAt: new Date().toISOString() }));
    } catch (e) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /**
   * Makes a file already written under `tmpDir` (the joined parts of an S3-style multipart upload,
   * see ./multipart.ts) blob `id`: checked to start like an envelope, fsynced, renamed into place.
   */
  async adopt(id: string, tmp: string, meta: BlobMeta): Promise<BlobInfo> {
    if (!ID_RE.test(id)) throw new BlobError(400, 'bad object id');
    const fh = await open(tmp, 'r+');
    try {
      await this.#checkEnvelopeStart(tmp);
      return await this.#exclusive(id, () => this.#commit(id, tmp, fh, { ...meta, createdAt: new Date().toISOString() }));
    } catch (e) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw e;
    }
  }

  // ── multi-part uploads ──────────────────────────────────────────────────────────────────

  async createUpload(id: string, meta: BlobMeta, owner: string): Promise<string> {
    if (!ID_RE.test(id)) throw new BlobError(400, 'bad object id');
    const tmp = this.#tmpPath();
    const fh = await open(tmp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
    const uploadId = randomBytes(16).toString('base64url');
    this.#uploads.set(uploadId, { id, meta, owner, tmp, fh, parts: [], size: 0, queue: Promise.resolve(), touched: Date.now() });
    return uploadId;
  }

  #upload(uploadId: string, owner: string): Upload {
    const u = this.#uploads.get(uploadId);
    if (!u) throw new BlobError(404, 'no such upload (finished, aborted, expired, or the server restarted)');
    if (u.owner !== owner) throw new BlobError(403, 'this upload belongs to someone else');
    u.touched = Date.now();
    return u;
  }

  #queued<T>(u: Upload, fn: () => Promise<T>): Promise<T> {
    const run = u.queue.then(fn, fn);
    u.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Appends part `n` (0-based, in order). Sending the last part again replaces it (a retry after a
   * network error), so a client never has to know whether its previous attempt landed.
   */
  writePart(uploadId: string, owner: string, n: number, body: ReadableStream<Uint8Array> | null): Promise<{ part: number; size: number }> {
    const u = this.#upload(uploadId, owner);
    return this.#queued(u, async () => {
      let position: number;
      if (n === u.parts.length) position = u.size;
      else if (n === u.parts.length - 1) {
        position = u.parts[n]!;
        u.parts.pop();
      } else throw new BlobError(409, `expected part ${u.parts.length}, got part ${n}`);
      await u.fh.truncate(position);
      u.size = position;
      const max = Math.min(this.maxPartBytes, this.maxObjectBytes - position);
      const written = await streamToFile(body, u.fh, position, max);
      u.parts.push(position);
      u.size = position + written;
      return { part: n, size: u.size };
    });
  }

  completeUpload(uploadId: string, owner: string): Promise<BlobInfo> {
    const u = this.#upload(uploadId, owner);
    return this.#queued(u, async () => {
      this.#uploads.delete(uploadId);
      try {
        await this.#checkEnvelopeStart(u.tmp);
        return await this.#exclusive(u.id, () => this.#commit(u.id, u.tmp, u.fh, { ...u.meta, createdAt: new Date().toISOString() }));
      } catch (e) {
        await u.fh.close().catch(() => {});
        await rm(u.tmp, { force: true });
        throw e;
      }
    });
  }

  async abortUpload(uploadId: string, owner: string): Promise<void> {
    const u = this.#upload(uploadId, owner);
    this.#uploads.delete(uploadId);
    await this.#queued(u, async () => {
      await u.fh.close().catch(() => {});
      await rm(u.tmp, { force: true });
    });
  }

  async #sweep(): Promise<void> {
    const now = Date.now();
    for (const [uploadId, u] of this.#uploads) {
      if (now - u.touched < this.#uploadIdleMs) continue;
      this.#uploads.delete(uploadId);
      await u.fh.close().catch(() => {});
      await rm(u.tmp, { force: true });
    }
  }

  // ── rewrap support ──────────────────────────────────────────────────────────────────────

  async #headerLength(fh: FileHandle): Promise<{ headerLength: number; head: Buffer }> {
    const prefix = Buffer.alloc(PREFIX_BYTES);
    await fh.read(prefix, 0, PREFIX_BYTES, 0);
    const headerLength = PREFIX_BYTES + readPrefix(prefix, DEFAULT_LIMITS);
    const head = Buffer.alloc(headerLength);
    const { bytesRead } = await fh.read(head, 0, headerLength, 0);
    if (bytesRead < headerLength) throw new BlobError(500, 'the stored blob is truncated');
    return { headerLength, head };
  }

  /** The envelope's prefix and header (no salt, no payload). */
  async header(id: string): Promise<Uint8Array> {
    const fh = await open(this.path(id), 'r');
    try {
      return new Uint8Array((await this.#headerLength(fh)).head);
    } finally {
      await fh.close();
    }
  }

  /** SHA-256 of everything after the envelope header: the payload a rewrap must not touch. */
  async payloadDigest(id: string): Promise<{ headerLength: number; payloadBytes: number; sha256: string }> {
    if (!(await this.stat(id))) throw new BlobError(404, 'no such object');
    const fh = await open(this.path(id), 'r');
    let headerLength: number;
    let size: number;
    try {
      ({ headerLength } = await this.#headerLength(fh));
      size = (await fh.stat()).size;
    } finally {
      await fh.close();
    }
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(this.path(id), { start: headerLength, highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
    return { headerLength, payloadBytes: size - headerLength, sha256: hash.digest('hex') };
  }

  /**
   * Replaces an object's envelope header (what `rewrap` produces) and keeps every payload byte.
   * The new header must carry the same protected bytes (suite, chunk size, context): only the
   * recipients may change, or the key commitment would no longer match. Written to a temp file
   * (new header, then the old payload copied over) and renamed into place.
   */
  replaceHeader(id: string, newHead: Uint8Array, rewrappedBy: string): Promise<BlobInfo> {
    return this.#exclusive(id, async () => {
      const info = await this.stat(id);
      if (!info) throw new BlobError(404, 'no such object');
      let parsedNew;
      try {
        const length = PREFIX_BYTES + readPrefix(newHead, DEFAULT_LIMITS);
        if (length !== newHead.length) throw new Error(`the body is ${newHead.length} bytes, the header says ${length}`);
        parsedNew = parseEnvelopeHeader(newHead, DEFAULT_LIMITS);
      } catch (e) {
        throw new BlobError(400, `not an envelope header: ${(e as Error).message}`);
      }
      const src = await open(this.path(id), 'r');
      const tmp = this.#tmpPath();
      let out: FileHandle | undefined;
      try {
        const { headerLength, head } = await this.#headerLength(src);
        const parsedOld = parseEnvelopeHeader(head, DEFAULT_LIMITS);
        if (Buffer.compare(Buffer.from(parsedOld.protectedBytes), Buffer.from(parsedNew.protectedBytes)) !== 0) {
          throw new BlobError(400, 'the new header changes the protected part (suite, chunk size or context); a rewrap may only change recipients');
        }
        out = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
        await out.write(newHead, 0, newHead.length, 0);
        const buf = Buffer.alloc(1024 * 1024);
        let from = headerLength;
        let to = newHead.length;
        for (;;) {
          const { bytesRead } = await src.read(buf, 0, buf.length, from);
          if (bytesRead === 0) break;
          await out.write(buf, 0, bytesRead, to);
          from += bytesRead;
          to += bytesRead;
        }
        const { id: _id, size: _size, mtimeMs: _m, etag: _e, ...meta } = info;
        const fh = out;
        out = undefined;
        return await this.#commit(id, tmp, fh, { ...meta, rewrappedAt: new Date().toISOString(), ...(rewrappedBy ? { rewrappedBy } : {}) });
      } catch (e) {
        await out?.close().catch(() => {});
        await rm(tmp, { force: true });
        throw e;
      } finally {
        await src.close();
      }
    });
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    for (const [uploadId, u] of this.#uploads) {
      this.#uploads.delete(uploadId);
      await u.fh.close().catch(() => {});
      await rm(u.tmp, { force: true });
    }
  }
}

/**
 * Parses a single `Range: bytes=…` against `size`. Returns undefined for no (or an unsupported,
 * multi-part) range, which means "send it all"; 'unsatisfiable' for a range past the end.
 */
export function parseRange(header: string | null, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || (b !== '' && Number(b) < start)) return 'unsatisfiable';
  return { start, end };
}
