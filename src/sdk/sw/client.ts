/**
 * The page side of `sealbox/sw`: register an object with the Sealbox Service Worker (the page
 * unwraps the data key through its keyring, as for any decryption, and hands the worker only a
 * non-extractable CryptoKey of it), revoke it, and start the worker.
 */
import { SealboxError } from '../errors.js';
import type { EncryptionContext } from '../format/header.js';
import { importHmacSha512Key } from '../crypto/hkdf.js';
import type { DataKey, Keyring } from '../keyring/types.js';
import type { Fetch } from '../storage/http.js';
import { httpRangeSource } from '../storage/http-range.js';
import { decryptRange } from '../stream/range.js';
import { type Ack, DEFAULT_PREFIX, type RegisterMessage, type SealboxSwMessage, objectPath } from './protocol.js';

/** A Service Worker registration, a worker (e.g. `navigator.serviceWorker.controller`), or nothing for the ready one. */
export type SwTarget = ServiceWorkerRegistration | ServiceWorker | null | undefined;

/**
 * What `registerObject` takes.
 *
 * @example
 * ```ts
 * await registerObject(registration, { id: 'clip', url: presignedGetUrl, key: keyring, contentType: 'video/webm' });
 * ```
 */
export interface RegisterObjectOptions {
  /** The object's id: its URL is `prefix + encodeURIComponent(id)`. */
  id: string;
  /** The ciphertext: a presigned or same-origin URL that answers `Range` requests. */
  url: string;
  /** Headers for the ciphertext requests (sent by the worker: keep credentials out of them where you can). */
  headers?: Record<string, string>;
  /**
   * A keyring (the page unwraps the data key with it, e.g. through the proxy; only a non-extractable
   * CryptoKey of the key reaches the worker), or that CryptoKey itself (HMAC SHA-512, non-extractable).
   */
  key: Keyring | CryptoKey;
  expectContext?: EncryptionContext;
  contentType?: string;
  /** The file name a download is saved as. */
  filename?: string;
  /** The ciphertext's size, if known (checked against the store's). */
  size?: number;
  /** Always answer as a download (`Content-Disposition: attachment`); otherwise only with `?download=1`. */
  download?: boolean;
  /** Default `/sealbox/o/`. A custom prefix must lie within the worker's scope. */
  prefix?: string;
  /** The page's fetch, for reading the header when `key` is a keyring. */
  fetch?: Fetch;
  /** How long to wait for the worker's acknowledgement (default 10 s). */
  timeoutMs?: number;
}

async function workerOf(target: SwTarget): Promise<ServiceWorker> {
  if (!target) {
    if (typeof navigator === 'undefined' || !navigator.serviceWorker) throw new SealboxError('ERR_UNSUPPORTED', 'Service Workers are not available here');
    target = await navigator.serviceWorker.ready;
  }
  if ('postMessage' in target) return target;
  const registration = target;
  if (registration.active) return registration.active;
  const pending = registration.installing ?? registration.waiting;
  if (!pending) throw new SealboxError('ERR_INVALID_ARGUMENT', 'the registration has no Service Worker');
  await new Promise<void>((resolve) => {
    const check = () => {
      if (pending.state === 'activated' || registration.active) {
        pending.removeEventListener('statechange', check);
        resolve();
      }
    };
    pending.addEventListener('statechange', check);
    check();
  });
  return registration.active ?? pending;
}

/** Posts a message with a MessagePort and waits for the worker's acknowledgement on it. */
async function send(target: SwTarget, message: SealboxSwMessage, timeoutMs = 10_000): Promise<Ack> {
  const worker = await workerOf(target);
  const channel = new MessageChannel();
  try {
    return await new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => reject(new SealboxError('ERR_TIMEOUT', `the Service Worker did not acknowledge ${message.type} within ${timeoutMs} ms`)), timeoutMs);
      channel.port1.onmessage = (event: MessageEvent<Ack>) => {
        clearTimeout(timer);
        resolve(event.data);
      };
      worker.postMessage(message, [channel.port2]);
    });
  } finally {
    channel.port1.close();
  }
}

function check(ack: Ack): void {
  if (!ack.ok) throw new SealboxError(ack.code as never, `the Service Worker refused: ${ack.message}`);
}

function isKeyring(key: unknown): key is Keyring {
  return typeof (key as Keyring | undefined)?.unwrapDataKey === 'function';
}

/**
 * Reads the object's header through the page (one request for it, one for the first chunk),
 * unwraps the data key with the keyring and checks the key commitment, and returns the key as a
 * non-extractable CryptoKey.
 */
export async function unwrapObjectKey(url: string, options: { keyring: Keyring; headers?: Record<string, string>; expectContext?: EncryptionContext; fetch?: Fetch }): Promise<CryptoKey> {
  let captured: CryptoKey | undefined;
  const keyring: Keyring = {
    wrapDataKey: (request) => options.keyring.wrapDataKey(request),
    async unwrapDataKey(request) {
      const key: DataKey | undefined = await options.keyring.unwrapDataKey(request);
      if (key instanceof Uint8Array) captured = await importHmacSha512Key(key, false);
      else if (key) captured = key;
      return key;
    },
  };
  const source = httpRangeSource(url, { ...(options.headers ? { headers: options.headers } : {}), ...(options.fetch ? { fetch: options.fetch } : {}) });
  await decryptRange(source, { keyring, offset: 0, length: 0, ...(options.expectContext ? { expectContext: options.expectContext } : {}) });
  if (!captured) throw new SealboxError('ERR_NO_KEYRING_MATCH', 'the keyring gave no data key');
  if (captured.extractable) throw new SealboxError('ERR_INVALID_ARGUMENT', 'the keyring gave an extractable CryptoKey: the Service Worker takes non-extractable keys only');
  return captured;
}

/**
 * Registers an object with the Sealbox Service Worker and returns its URL path (e.g.
 * `/sealbox/o/clip`), which then works as an ordinary URL in this origin: `<video src>`, `<a
 * href download>`, `fetch`. Resolves once the worker acknowledged it.
 *
 * @example
 * ```ts
 * const registration = await startSealboxServiceWorker('/sealbox-sw.js');
 * video.src = await registerObject(registration, { id: 'clip', url, key: keyring, contentType: 'video/webm' });
 * ```
 */
export async function registerObject(target: SwTarget, options: RegisterObjectOptions): Promise<string> {
  if (!options || typeof options.id !== 'string' || options.id === '') throw new SealboxError('ERR_INVALID_ARGUMENT', 'registerObject needs an id');
  if (typeof options.url !== 'string') throw new SealboxError('ERR_INVALID_ARGUMENT', 'registerObject needs the ciphertext url');
  const url = new URL(options.url, typeof location === 'undefined' ? undefined : location.href).href;
  const key = isKeyring(options.key)
    ? await unwrapObjectKey(url, {
        keyring: options.key,
        ...(options.headers ? { headers: options.headers } : {}),
        ...(options.expectContext ? { expectContext: options.expectContext } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      })
    : options.key;
  if (typeof CryptoKey === 'undefined' || !(key instanceof CryptoKey)) throw new SealboxError('ERR_INVALID_ARGUMENT', 'key must be a keyring or a CryptoKey');
  if (key.extractable) throw new SealboxError('ERR_INVALID_ARGUMENT', 'the Service Worker takes non-extractable keys only');
  const path = objectPath(options.prefix ?? DEFAULT_PREFIX, options.id);
  const message: RegisterMessage = { type: 'sealbox:register', path, url, key };
  if (options.headers) message.headers = { ...options.headers };
  if (options.expectContext) message.expectContext = { ...options.expectContext };
  if (options.contentType) message.contentType = options.contentType;
  if (options.filename) message.filename = options.filename;
  if (options.size !== undefined) message.size = options.size;
  if (options.download) message.download = true;
  check(await send(target, message, options.timeoutMs));
  return path;
}

/**
 * Forgets an object's key in the worker; its URL answers 403 from then on (until it is registered
 * again, or the worker restarts: then 404).
 *
 * @example
 * ```ts
 * await revokeObject('clip');
 * ```
 */
export async function revokeObject(id: string, options: { target?: SwTarget; prefix?: string; timeoutMs?: number } = {}): Promise<void> {
  check(await send(options.target, { type: 'sealbox:revoke', path: objectPath(options.prefix ?? DEFAULT_PREFIX, id) }, options.timeoutMs));
}

/** The paths the worker has registered (empty after a restart): to see whether to register again. */
export async function registeredObjects(target?: SwTarget, timeoutMs?: number): Promise<string[]> {
  const ack = await send(target, { type: 'sealbox:ping' }, timeoutMs);
  check(ack);
  return ack.ok ? (ack.paths ?? []) : [];
}

/**
 * Registers the Service Worker script (e.g. `dist/browser/sealbox-sw.js`, served from your origin)
 * and resolves once it controls this page, so that the page's own requests (`<video>`, links) go
 * through it.
 *
 * @example
 * ```ts
 * const registration = await startSealboxServiceWorker('/sealbox-sw.js', { scope: '/' });
 * ```
 */
export async function startSealboxServiceWorker(scriptURL: string, options?: RegistrationOptions): Promise<ServiceWorkerRegistration> {
  if (typeof navigator === 'undefined' || !navigator.serviceWorker) throw new SealboxError('ERR_UNSUPPORTED', 'Service Workers are not available here');
  const container = navigator.serviceWorker;
  const registration = await container.register(scriptURL, options);
  await workerOf(registration);
  if (!container.controller) {
    await new Promise<void>((resolve) => {
      const done = () => {
        container.removeEventListener('controllerchange', done);
        resolve();
      };
      container.addEventListener('controllerchange', done);
      if (container.controller) done();
    });
  }
  return registration;
}
