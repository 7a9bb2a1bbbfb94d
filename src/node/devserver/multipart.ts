/**
 * S3-style multipart uploads for the demo, with one shape for both stores, so the page's code is
 * the same for each: the server creates, completes, aborts and lists an upload and hands out a
 * "presigned" URL per part; the page PUTs each part there and reads the part's ETag from the
 * answer (`s3MultipartTarget` mode (a) in `sealbox/storage`).
 *
 *  - `embeddedMultipart(blobs, secret)`: the dev server's own blob store. Parts may come in any
 *    order and concurrently, each a file of its own under `<data>/blobs/.tmp/mpu-<uploadId>/`,
 *    ETag the quoted MD5 as S3's; complete joins them into the blob. Part URLs are the dev
 *    server's, signed with an HMAC (upload id, part number, expiry) like a presigned S3 URL, so a
 *    part PUT carries no token. Uploads live in memory: a server restart drops them.
 *  - `s3Multipart(storage)`: S3 through `s3Storage` (presigned part URLs, S3 does the rest).
 *
 * Both keep the upload's head (`UploadInit.head`: envelope header, salt, commitment; not secret)
 * beside the upload id, for `resumeUpload` after a reload.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../fs.js';
import { join } from 'node:path';
import { SealboxError } from '../../sdk/errors.js';
import type { UploadedPart } from '../../sdk/storage/target.js';
import type { CORSRule } from '@aws-sdk/client-s3';
import type { S3Storage } from '../storage/s3.js';
import { BlobError, ID_RE, type BlobInfo, type BlobMeta, type BlobStore } from './blobs.js';

export interface PartUrl {
  url: string;
  headers?: Record<string, string>;
}

export interface DemoUpload {
  uploadId: string;
  id: string;
  owner: string;
  meta: BlobMeta;
  head: Uint8Array;
}

/** What the demo's upload routes call, for either store. */
export interface DemoMultipart {
  readonly kind: 'embedded' | 's3';
  create(id: string, meta: BlobMeta, owner: string, head: Uint8Array): Promise<string>;
  /** The upload, if `owner` started it (404 / 403 otherwise). */
  get(uploadId: string, owner: string): DemoUpload;
  partUrl(upload: DemoUpload, partNumber: number): Promise<PartUrl>;
  listParts(upload: DemoUpload): Promise<UploadedPart[]>;
  complete(upload: DemoUpload, parts: readonly UploadedPart[]): Promise<{ id: string; size?: number; etag?: string }>;
  abort(upload: DemoUpload): Promise<void>;
  /** Where the page reads object `id` with ranged GETs. */
  readUrl(id: string): Promise<PartUrl>;
  /** The objects in the store, newest first (S3 mode; the embedded store lists its own). */
  list?(): Promise<BlobInfo[]>;
  close(): Promise<void>;
}

const PART_URL_SECONDS = 900;

class Registry {
  readonly uploads = new Map<string, DemoUpload & { touched: number }>();

  add(upload: DemoUpload): void {
    this.uploads.set(upload.uploadId, { ...upload, touched: Date.now() });
  }

  get(uploadId: string, owner: string): DemoUpload {
    const u = this.uploads.get(uploadId);
    if (!u) throw new BlobError(404, 'no such upload (finished, aborted, expired, or the server restarted)');
    if (u.owner !== owner) throw new BlobError(403, 'this upload belongs to someone else');
    u.touched = Date.now();
    return u;
  }
}

/** The dev server's own store behind the multipart shape. */
export function embeddedMultipart(blobs: BlobStore, secret: Uint8Array, options: { maxPartBytes?: number } = {}): DemoMultipart & {
  /** PUT /api/parts/<uploadId>/<n>?expires&sig: checks the signature, stores the part, answers its ETag. */
  putPart(uploadId: string, partNumber: number, expires: string | null, sig: string | null, body: ReadableStream<Uint8Array> | null): Promise<UploadedPart>;
} {
  const registry = new Registry();
  /** The parts that landed, per upload (a part sent again replaces its entry). */
  const stored = new Map<string, Map<number, UploadedPart>>();
  const maxPartBytes = options.maxPartBytes ?? blobs.maxPartBytes;
  const dirOf = (uploadId: string) => join(blobs.tmpDir, `mpu-${uploadId}`);
  const sign = (uploadId: string, partNumber: number, expires: number) =>
    createHmac('sha256', secret).update(`part\n${uploadId}\n${partNumber}\n${expires}`).digest('base64url');

  return {
    kind: 'embedded',
    async create(id, meta, owner, head) {
      const uploadId = randomBytes(16).toString('base64url');
      await mkdir(dirOf(uploadId), { mode: 0o700 });
      registry.add({ uploadId, id, owner, meta, head });
      stored.set(uploadId, new Map());
      return uploadId;
    },
    get: (uploadId, owner) => registry.get(uploadId, owner),
    async partUrl(upload, partNumber) {
      const expires = Math.floor(Date.now() / 1000) + PART_URL_SECONDS;
      const query = new URLSearchParams({ expires: String(expires), sig: sign(upload.uploadId, partNumber, expires) });
      return { url: `/api/parts/${encodeURIComponent(upload.uploadId)}/${partNumber}?${query}` };
    },
    async putPart(uploadId, partNumber, expires, sig, body) {
      const exp = Number(expires);
      const expected = Buffer.from(sign(uploadId, partNumber, exp));
      const given = Buffer.from(sig ?? '');
      if (!Number.isSafeInteger(exp) || given.length !== expected.length || !timingSafeEqual(given, expected)) throw new BlobError(403, 'bad part URL signature');
      if (exp < Date.now() / 1000) throw new BlobError(403, 'the part URL has expired');
      if (!registry.uploads.has(uploadId)) throw new BlobError(404, 'no such upload (finished, aborted, expired, or the server restarted)');
      if (!(partNumber >= 1 && partNumber <= 10_000)) throw new BlobError(400, 'part numbers are 1 … 10000');
      const dir = dirOf(uploadId);
      const tmp = join(dir, `${partNumber}.${randomBytes(6).toString('hex')}.tmp`);
      const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      const md5 = createHash('md5');
      let size = 0;
      try {
        if (body) {
          const reader = body.getReader();
          try {
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              size += value.length;
              if (size > maxPartBytes) throw new BlobError(413, `a part is at most ${maxPartBytes} bytes`);
              md5.update(value);
              let off = 0;
              while (off < value.length) off += (await fh.write(value, off, value.length - off)).bytesWritten;
            }
          } catch (e) {
            reader.cancel(e).catch(() => {});
            throw e;
          }
        }
      } catch (e) {
        await fh.close().catch(() => {});
        await rm(tmp, { force: true });
        throw e;
      }
      await fh.close();
      // The upload may have been completed or aborted meanwhile: then this part goes nowhere.
      const parts = stored.get(uploadId);
      if (!parts || !registry.uploads.has(uploadId)) {
        await rm(tmp, { force: true });
        throw new BlobError(404, 'the upload ended while the part was sent');
      }
      await rename(tmp, join(dir, `${partNumber}.part`));
      const part = { partNumber, etag: `"${md5.digest('hex')}"`, size };
      parts.set(partNumber, part);
      return part;
    },
    async listParts(upload) {
      return [...(stored.get(upload.uploadId)?.values() ?? [])];
    },
    async complete(upload, parts) {
      const have = stored.get(upload.uploadId) ?? new Map<number, UploadedPart>();
      if (parts.length === 0) throw new BlobError(400, 'an upload needs at least one part');
      parts.forEach((p, i) => {
        if (i > 0 && p.partNumber <= parts[i - 1]!.partNumber) throw new BlobError(400, 'parts must be in increasing order');
        const part = have.get(p.partNumber);
        if (!part || part.etag !== p.etag) throw new BlobError(400, `part ${p.partNumber} is missing or has another ETag (InvalidPart)`);
      });
      registry.uploads.delete(upload.uploadId);
      stored.delete(upload.uploadId);
      const dir = dirOf(upload.uploadId);
      const joined = join(blobs.tmpDir, `mpu-${upload.uploadId}.joined`);
      const out = await open(joined, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        const buffer = Buffer.alloc(1024 * 1024);
        let at = 0;
        for (const p of parts) {
          const src = await open(join(dir, `${p.partNumber}.part`), 'r');
          try {
            for (;;) {
              const { bytesRead } = await src.read(buffer, 0, buffer.length, null);
              if (bytesRead === 0) break;
              let off = 0;
              while (off < bytesRead) off += (await out.write(buffer, off, bytesRead - off, at + off)).bytesWritten;
              at += bytesRead;
            }
          } finally {
            await src.close();
          }
        }
        await out.close();
      } catch (e) {
        await out.close().catch(() => {});
        await rm(joined, { force: true });
        throw e;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      const info: BlobInfo = await blobs.adopt(upload.id, joined, upload.meta);
      return { id: info.id, size: info.size, etag: info.etag };
    },
    async abort(upload) {
      registry.uploads.delete(upload.uploadId);
      stored.delete(upload.uploadId);
      await rm(dirOf(upload.uploadId), { recursive: true, force: true });
    },
    async readUrl(id) {
      return { url: `/blobs/${encodeURIComponent(id)}` };
    },
    async close() {
      for (const uploadId of registry.uploads.keys()) await rm(dirOf(uploadId), { recursive: true, force: true });
      registry.uploads.clear();
      stored.clear();
    },
  };
}

/**
 * S3 behind the same shape: presigned part and GET URLs from `s3Storage`; object key =
 * `prefix + id + '.sbx'`. What the uploader said (name, type, who) is kept in `metaFile` (JSON), as
 * the embedded store keeps it beside each blob.
 */
export function s3Multipart(storage: S3Storage, options: { prefix?: string; metaFile?: string } = {}): DemoMultipart {
  const prefix = options.prefix ?? 'sealbox-demo/';
  const registry = new Registry();
  const keyOf = (id: string) => `${prefix}${id}.sbx`;
  let metas: Record<string, BlobMeta> | undefined;
  const loadMetas = async () => {
    if (metas) return metas;
    try {
      metas = options.metaFile ? (JSON.parse(await readFile(options.metaFile, 'utf8')) as Record<string, BlobMeta>) : {};
    } catch {
      metas = {};
    }
    return metas;
  };
  return {
    kind: 's3',
    async create(id, meta, owner, head) {
      const uploadId = await storage.createMultipart(keyOf(id), { contentType: 'application/vnd.sealbox.envelope' });
      registry.add({ uploadId, id, owner, meta, head });
      return uploadId;
    },
    get: (uploadId, owner) => registry.get(uploadId, owner),
    partUrl: async (upload, partNumber) => ({ url: await storage.presignPart(keyOf(upload.id), upload.uploadId, partNumber) }),
    listParts: (upload) => storage.listParts(keyOf(upload.id), upload.uploadId),
    async complete(upload, parts) {
      const out = await storage.complete(keyOf(upload.id), upload.uploadId, parts);
      registry.uploads.delete(upload.uploadId);
      const all = await loadMetas();
      all[upload.id] = { ...upload.meta, createdAt: new Date().toISOString() };
      if (options.metaFile) await writeFileAtomic(options.metaFile, `${JSON.stringify(all, null, 2)}\n`);
      return { id: upload.id, ...(out.etag ? { etag: out.etag } : {}) };
    },
    async abort(upload) {
      registry.uploads.delete(upload.uploadId);
      await storage.abort(keyOf(upload.id), upload.uploadId);
    },
    readUrl: async (id) => ({ url: await storage.presignGet(keyOf(id)) }),
    async list() {
      const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
      const client = await storage.client();
      const all = await loadMetas();
      const out: BlobInfo[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: storage.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of page.Contents ?? []) {
          const id = o.Key!.slice(prefix.length).replace(/\.sbx$/, '');
          if (!ID_RE.test(id) || o.Key !== keyOf(id)) continue;
          out.push({ ...all[id], id, size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0, etag: o.ETag ?? '' });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out.sort((a, b) => b.mtimeMs - a.mtimeMs);
    },
    async close() {
      registry.uploads.clear();
      storage.close();
    },
  };
}

/** The CORS rule the demo page needs on an S3 bucket (parts PUT, ranged GETs pinned with If-Match). */
export function demoCorsRule(origins: string[]) {
  return {
    ID: 'sealbox-demo',
    AllowedOrigins: origins,
    AllowedMethods: ['GET', 'PUT', 'HEAD'],
    AllowedHeaders: ['*'],
    ExposeHeaders: ['ETag', 'Content-Range', 'Content-Length'],
    MaxAgeSeconds: 600,
  };
}

/**
 * Adds the demo's CORS rule for `origins` to the bucket, keeping its other rules (a rule of ours
 * from an earlier start is replaced). Returns a warning instead of throwing when the credentials
 * may not read or set the bucket's CORS: the page then fails on its first part (no ETag) unless the
 * bucket already allows it.
 */
export async function ensureBucketCors(storage: S3Storage, origins: string[]): Promise<string | undefined> {
  const { GetBucketCorsCommand, PutBucketCorsCommand } = await import('@aws-sdk/client-s3');
  const client = await storage.client();
  const rule = demoCorsRule(origins);
  try {
    let rules: CORSRule[] = [];
    try {
      rules = (await client.send(new GetBucketCorsCommand({ Bucket: storage.bucket }))).CORSRules ?? [];
    } catch (error) {
      if ((error as { name?: string }).name !== 'NoSuchCORSConfiguration') throw error;
    }
    const others = rules.filter((r) => r.ID !== rule.ID);
    await client.send(new PutBucketCorsCommand({ Bucket: storage.bucket, CORSConfiguration: { CORSRules: [...others, rule] } }));
    return undefined;
  } catch (error) {
    const e = error as { name?: string; message?: string };
    return `could not set the bucket's CORS (${e.name ?? 'error'}: ${e.message ?? String(error)}); the page needs this rule on bucket ${storage.bucket} (see docs/STORAGE.md): ${JSON.stringify(rule)}`;
  }
}

/** Fails with one clear line when the bucket is missing or the credentials may not use it. */
export async function checkBucket(storage: S3Storage): Promise<void> {
  const { HeadBucketCommand } = await import('@aws-sdk/client-s3');
  const client = await storage.client();
  try {
    await client.send(new HeadBucketCommand({ Bucket: storage.bucket }));
  } catch (error) {
    const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    const what = status === 404 ? 'no such bucket' : status === 403 ? 'access denied (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)' : `${e.name ?? 'error'}: ${e.message ?? String(error)}`;
    throw new SealboxError('ERR_STORAGE', what, { cause: error, ...(status === undefined ? {} : { status }) });
  }
}
