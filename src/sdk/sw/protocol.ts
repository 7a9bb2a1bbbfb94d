/**
 * The messages between a page and the Sealbox Service Worker (`sealbox/sw`). Every request carries
 * a MessagePort; the worker answers on it with an `Ack`. Only what is needed to read and decrypt
 * one object crosses: its URL (and headers for the ciphertext store), a non-extractable HMAC
 * SHA-512 CryptoKey of the object's data key, and how to present the plaintext.
 */
import type { EncryptionContext } from '../format/header.js';

/** The path prefix under which objects are served unless the app picks another. */
export const DEFAULT_PREFIX = '/sealbox/o/';

export interface RegisterMessage {
  type: 'sealbox:register';
  /** The path the worker answers, e.g. `/sealbox/o/<id>` (prefix + encoded id). */
  path: string;
  /** Where the ciphertext is (presigned or same-origin URL, resolved against the page). */
  url: string;
  headers?: Record<string, string>;
  /** The data key as a non-extractable HMAC SHA-512 CryptoKey. */
  key: CryptoKey;
  expectContext?: EncryptionContext;
  contentType?: string;
  filename?: string;
  /** The ciphertext's size in bytes, when known (saves nothing but a check). */
  size?: number;
  /** Always answer with `Content-Disposition: attachment`. */
  download?: boolean;
}

export interface RevokeMessage {
  type: 'sealbox:revoke';
  path: string;
}

export interface PingMessage {
  type: 'sealbox:ping';
}

export type SealboxSwMessage = RegisterMessage | RevokeMessage | PingMessage;

export type Ack = { ok: true; paths?: string[] } | { ok: false; code: string; message: string };

/** `/prefix/` + the id, URL-encoded. */
export function objectPath(prefix: string, id: string): string {
  return `${prefix.endsWith('/') ? prefix : `${prefix}/`}${encodeURIComponent(id)}`;
}
