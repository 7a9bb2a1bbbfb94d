// Run by upload.test.ts as a separate process, to be killed (SIGKILL) in the middle of an upload:
// uploads `pattern(SIZE, SEED)` to KEY through presigned part URLs and prints one JSON line when
// the upload exists (uploadId and head) and one per part that landed.
import { s3Storage } from '../../../src/node/storage/s3.js';
import { s3MultipartTarget } from '../../../src/sdk/storage/s3.js';
import { uploadEncrypted } from '../../../src/sdk/storage/upload.js';
import { aesKeyring, pattern } from './helpers.js';

const env = (name: string) => process.env[name] ?? '';
const s3 = s3Storage({
  bucket: env('CHILD_BUCKET'),
  endpoint: env('CHILD_ENDPOINT'),
  region: env('CHILD_REGION'),
  credentials: { accessKeyId: env('CHILD_ACCESS_KEY_ID'), secretAccessKey: env('CHILD_SECRET_ACCESS_KEY') },
});
const data = pattern(Number(env('CHILD_SIZE')), Number(env('CHILD_SEED')));
const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};
await uploadEncrypted(new Blob([data as BlobPart]), {
  keyring: aesKeyring(),
  context: { test: 'resume' },
  target: s3MultipartTarget(s3.callbacks(env('CHILD_KEY'))),
  partSize: 5 * 1024 * 1024,
  concurrency: 2,
  onCreate: ({ uploadId, head }) => print({ uploadId, head: Buffer.from(head).toString('base64') }),
  onProgress: ({ parts }) => print({ parts }),
});
print({ done: true });
