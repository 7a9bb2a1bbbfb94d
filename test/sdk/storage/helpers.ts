/** What the storage tests share: a real S3 (Ceph RGW) with a fresh bucket, a relay in front of it, keyrings. */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { s3Service } from '../../support/ceph-rgw.js';
import { type S3Relay, startS3Relay } from '../../support/s3-relay.js';
import { type S3Storage, s3Storage } from '../../../src/node/storage/s3.js';
import { SealboxError } from '../../../src/sdk/errors.js';
import type { Recipient } from '../../../src/sdk/format/header.js';
import { RawAesKeyring } from '../../../src/sdk/keyring/raw-aes.js';
import type { Keyring, UnwrapRequest, WrapRequest, WrapResult } from '../../../src/sdk/keyring/types.js';

export { pattern } from '../../suite/harness.js';

export const MiB = 1024 * 1024;

export interface TestS3 {
  bucket: string;
  service: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  /** Presigns for RGW directly. */
  direct: S3Storage;
  /** Presigns for the relay, so requests go through it. */
  relayed: S3Storage;
  relay: S3Relay;
  client: S3Client;
  getObject(key: string): Promise<Uint8Array>;
  putObject(key: string, body: Uint8Array): Promise<void>;
  /** Whether the object exists (HEAD). */
  exists(key: string): Promise<boolean>;
  /** Multipart uploads in progress for `key`. */
  uploads(key: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startTestS3(): Promise<TestS3> {
  const service = await s3Service();
  const bucket = `sealbox-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  await service.createBucket(bucket, {
    cors: [{ AllowedOrigins: ['*'], AllowedMethods: ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag', 'Content-Range'] }],
  });
  const credentials = { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey };
  const relay = await startS3Relay(service.endpoint);
  const direct = s3Storage({ bucket, endpoint: service.endpoint, region: service.region, credentials });
  const relayed = s3Storage({ bucket, endpoint: relay.url, region: service.region, credentials });
  const client = new S3Client({ endpoint: service.endpoint, region: service.region, credentials, forcePathStyle: true });
  return {
    bucket,
    service: { endpoint: service.endpoint, region: service.region, accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
    direct,
    relayed,
    relay,
    client,
    async getObject(key) {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return out.Body!.transformToByteArray();
    },
    async putObject(key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    async exists(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (error) {
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
        throw error;
      }
    },
    async uploads(key) {
      const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
      return (out.Uploads ?? []).filter((u) => u.Key === key).map((u) => u.UploadId!);
    },
    async stop() {
      direct.close();
      relayed.close();
      client.destroy();
      await relay.stop();
      await service.stop();
    },
  };
}

export const aesKey = new Uint8Array(32).fill(0x5a);
export function aesKeyring(): RawAesKeyring {
  return new RawAesKeyring({ keyName: 'storage-test', key: aesKey });
}

/**
 * A keyring that always hands out the same data key and recipients, so two uploads (or an upload
 * and `encrypt`) with the same salt give the same bytes. Unwraps through `inner`.
 */
export class FixedKeyring implements Keyring {
  readonly #inner: Keyring;
  readonly #dataKey: Uint8Array;
  #recipients: Recipient[] | undefined;
  constructor(inner: Keyring, dataKey: Uint8Array, recipients?: Recipient[]) {
    this.#inner = inner;
    this.#dataKey = dataKey;
    this.#recipients = recipients;
  }
  async wrapDataKey(request: WrapRequest): Promise<WrapResult> {
    this.#recipients ??= (await this.#inner.wrapDataKey({ ...request, dataKey: this.#dataKey.slice() })).recipients;
    return { dataKey: this.#dataKey.slice(), recipients: this.#recipients };
  }
  unwrapDataKey(request: UnwrapRequest) {
    return this.#inner.unwrapDataKey(request);
  }
}

export async function rejectsCode(promise: Promise<unknown>, code: string): Promise<SealboxError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SealboxError && error.code === code) return error;
    throw new Error(`expected ${code}, got ${error instanceof SealboxError ? error.code : ''} ${String(error)}`, { cause: error });
  }
  throw new Error(`expected ${code}, but it resolved`);
}
