/**
 * Object storage: encrypted, parallel, resumable multipart uploads (`uploadEncrypted`,
 * `resumeUpload`) to any `MultipartTarget`, S3 through presigned URLs (`s3MultipartTarget`), and
 * ranged reads over HTTP (`httpRangeSource`) for `decryptRange` and `DecryptStream`. Web APIs only.
 */
export {
  uploadEncrypted,
  resumeUpload,
  type UploadEncryptedOptions,
  type ResumeUploadOptions,
  type UploadResult,
  type UploadProgress,
  type UploadRetryOptions,
} from './upload.js';
export type { MultipartTarget, UploadedPart, UploadInit } from './target.js';
export { s3MultipartTarget, type S3ServerCallbacks, type S3PresignCallbacks, type S3Operation } from './s3.js';
export type { PresignedRequest } from './http.js';
export { httpRangeSource, type HttpRangeSource, type HttpRangeSourceOptions } from './http-range.js';
