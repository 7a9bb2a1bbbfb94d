/**
 * `s3://bucket/key` for the file commands (encrypt --to, decrypt, inspect, rewrap). The AWS SDK
 * (`@aws-sdk/client-s3` and `@aws-sdk/s3-request-presigner`, optional dependencies) is loaded only
 * when an s3:// URL is used. Endpoint, region and credentials come from the flags or the usual AWS
 * variables; the SDK's default credential chain does the rest (AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE, ~/.aws, instance roles).
 *
 * Parts go up with the SDK-independent `uploadEncrypted` over presigned part URLs (the same code as
 * a browser's), and reads are ranged GETs through a presigned URL (`httpRangeSource`), pinned to
 * the object's ETag: nothing here decrypts bytes that did not authenticate.
 */
import { SealboxError } from '../../../sdk/errors.js';
import { PREFIX_BYTES, resolveLimits } from '../../../sdk/format/constants.js';
import { readPrefix } from '../../../sdk/format/header.js';
import { envelopeHeadLength } from '../../../sdk/envelope/rewrap.js';
import type { HttpRangeSource } from '../../../sdk/storage/http-range.js';
import type { S3Storage } from '../../storage/s3.js';
import { UsageError } from './errors.js';

export const S3_OPTIONS = {
  's3-endpoint': { type: 'string' },
  's3-region': { type: 'string' },
  's3-path-style': { type: 'boolean' },
} as const;

export const S3_HELP = `S3 (for s3://bucket/key; needs the optional package @aws-sdk/client-s3):
  --s3-endpoint <url>     an S3-compatible endpoint (MinIO, Ceph RGW, R2…); default
                          AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS S3
  --s3-region <region>    default AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1
                          (--region is the KMS's region)
  --s3-path-style         path-style URLs (http://host/bucket/key); on by default with an endpoint
  Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE, …
  (the AWS SDK's default chain).`;

export interface S3Flags {
  's3-endpoint'?: string | undefined;
  's3-region'?: string | undefined;
  's3-path-style'?: boolean | undefined;
}

export interface S3Location {
  bucket: string;
  key: string;
  url: string;
}

export function isS3Url(text: string | undefined): text is string {
  return typeof text === 'string' && /^s3:\/\//i.test(text);
}

/** `s3://bucket/key` (the key may hold slashes; it must not be empty). */
export function parseS3Url(text: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/(.+)$/i.exec(text);
  if (!match) throw new UsageError(`${JSON.stringify(text)} is not s3://bucket/key`);
  return { bucket: match[1]!, key: match[2]!, url: text };
}

/** True when any S3 flag is given (they need an s3:// URL). */
export function hasS3Flags(flags: S3Flags): boolean {
  return flags['s3-endpoint'] !== undefined || flags['s3-region'] !== undefined || flags['s3-path-style'] !== undefined;
}

export type S3Module = typeof import('@aws-sdk/client-s3');

/** The AWS SDK, or one clear line when it is not installed. */
export async function loadS3(): Promise<S3Module> {
  // The SDK warns on every run under Node < 22 (8 lines on stderr) that its 2027 releases will need
  // Node 22. The CLI supports Node 20; set the variable to false to see the warning.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  try {
    const [s3] = await Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/s3-request-presigner')]);
    return s3;
  } catch (error) {
    throw new SealboxError(
      'ERR_STORAGE',
      's3:// URLs need the optional packages @aws-sdk/client-s3 and @aws-sdk/s3-request-presigner (npm install @aws-sdk/client-s3 @aws-sdk/s3-request-presigner)',
      { cause: error },
    );
  }
}

/** An S3Storage for the location's bucket, from the flags and the environment. */
export async function openS3(flags: S3Flags, location: S3Location): Promise<{ storage: S3Storage; s3: S3Module }> {
  const s3 = await loadS3();
  const { s3Storage } = await import('../../storage/s3.js');
  const endpoint = flags['s3-endpoint'] ?? (process.env.AWS_ENDPOINT_URL_S3 || undefined) ?? (process.env.AWS_ENDPOINT_URL || undefined);
  if (endpoint !== undefined && !/^https?:\/\/[^/]/i.test(endpoint)) throw new UsageError(`--s3-endpoint ${JSON.stringify(endpoint)}: expected an http(s):// URL`);
  const region = flags['s3-region'] ?? (process.env.AWS_REGION || undefined) ?? (process.env.AWS_DEFAULT_REGION || undefined);
  const storage = s3Storage({
    bucket: location.bucket,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(flags['s3-path-style'] ? { forcePathStyle: true } : {}),
  });
  return { storage, s3 };
}

/** Makes a 404's message say what was missing (the bucket or the object). */
export function notFound(error: unknown, location: S3Location): unknown {
  if (error instanceof SealboxError && error.code === 'ERR_STORAGE' && error.status === 404) {
    const what = /NoSuchBucket/.test(error.message) ? `no bucket ${JSON.stringify(location.bucket)}` : /NoSuchKey/.test(error.message) ? `no object ${location.url}` : undefined;
    if (what) return new SealboxError('ERR_STORAGE', `${what} (${error.message})`, { status: 404, cause: error, ...(error.requestId ? { requestId: error.requestId } : {}) });
  }
  return error;
}

/**
 * The envelope's head (prefix, header, salt, commitment) with ranged GETs: one of `firstBytes`
 * (enough for most headers), and a second one only for a header longer than that.
 */
export async function readHeadRanged(source: HttpRangeSource, firstBytes = 4096): Promise<{ head: Uint8Array; headLength: number; read: number }> {
  let bytes = await source.read(0, firstBytes);
  if (bytes.length < PREFIX_BYTES) throw new SealboxError('ERR_TRUNCATED', `the object has ${bytes.length} bytes: too short for an envelope`);
  readPrefix(bytes, resolveLimits()); // magic, version and the header-size limit, before reading more
  const headLength = envelopeHeadLength(bytes.subarray(0, PREFIX_BYTES));
  let read = bytes.length;
  if (bytes.length < headLength) {
    const more = await source.read(bytes.length, headLength);
    read += more.length;
    const all = new Uint8Array(bytes.length + more.length);
    all.set(bytes, 0);
    all.set(more, bytes.length);
    bytes = all;
  }
  return { head: bytes, headLength, read };
}

/** `--part-size`: `8MiB`, `16m`, `5242880`; at least 5 MiB (S3's minimum part), at most 5 GiB. */
export function parsePartSize(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const units: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };
  const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? units[match[2]!.toLowerCase()] : undefined;
  const size = match && unit !== undefined ? Number(match[1]) * unit : NaN;
  if (!(size >= 5 * 1024 ** 2 && size <= 5 * 1024 ** 3)) throw new UsageError(`--part-size ${text}: must be from 5MiB to 5GiB, e.g. 8MiB`);
  return size;
}
