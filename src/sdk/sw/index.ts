/**
 * `sealbox/sw`: decrypted objects as ordinary URLs, served by a Service Worker. The worker side
 * (`installSealboxServiceWorker`, prebuilt as `dist/browser/sealbox-sw.js`) and the page side
 * (`startSealboxServiceWorker`, `registerObject`, `revokeObject`). See docs/SERVICE-WORKER.md.
 */
export { installSealboxServiceWorker, parseRange, contentDisposition, type SealboxServiceWorker, type SealboxServiceWorkerOptions, type ServiceWorkerScopeLike } from './worker.js';
export { registerObject, revokeObject, registeredObjects, startSealboxServiceWorker, unwrapObjectKey, type RegisterObjectOptions, type SwTarget } from './client.js';
export { DEFAULT_PREFIX, objectPath, type Ack, type RegisterMessage, type RevokeMessage, type SealboxSwMessage } from './protocol.js';
