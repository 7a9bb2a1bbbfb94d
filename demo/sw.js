// The demo's Service Worker (scope /): Sealbox's prebuilt worker, which serves the objects the page
// registers under /sealbox/o/ (see docs/SERVICE-WORKER.md) and leaves every other request alone.
importScripts('/sealbox/sealbox-sw.js');
