/**
 * The prebuilt Service Worker script (`dist/browser/sealbox-sw.js`): installs Sealbox's handlers
 * on `self` with the default prefix `/sealbox/o/`. Serve it from your origin at the scope you want.
 */
import { installSealboxServiceWorker, type ServiceWorkerScopeLike } from './worker.js';

installSealboxServiceWorker(globalThis as unknown as ServiceWorkerScopeLike);
