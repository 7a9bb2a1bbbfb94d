// Browser bundles: the core entry, the Service Worker and its page side, and sealbox/storage. Input is tsc's output (dist/), so what we measure is what we ship.
// The noble fallback is a dynamic import, so it lands in its own chunk, loaded only where
// crypto.subtle is missing.
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';

// scripts/build.mjs builds into a staging directory and names it here.
const dist = process.env.SEALBOX_DIST ?? 'dist';

const plugins = () => [nodeResolve({ browser: true, preferBuiltins: false }), terser({ ecma: 2020, module: true })];

export default [{
  input: `${dist}/index.js`,
  // The lazy pool chunk imports what it shares with the core from the core itself (extra exports
  // there), instead of rollup moving the core into a shared chunk behind a facade.
  preserveEntrySignatures: 'allow-extension',
  output: {
    dir: `${dist}/browser`,
    format: 'es',
    entryFileNames: 'sealbox.min.js',
    // The worker pool (sealbox/workers) is a lazy chunk the core loads only when `workers` is a
    // number or 'auto'. It sits at the top of dist/browser/, under a fixed name, so apps can import
    // SealboxWorkerPool and encryptBlob from it, and it finds the worker script beside itself.
    chunkFileNames: (chunk) => (chunk.name === 'pool' ? 'sealbox-workers.min.js' : 'chunks/[name]-[hash].min.js'),
    sourcemap: true,
  },
  plugins: plugins(),
  onwarn,
}, {
  // The Service Worker script (sealbox/sw): one self-contained classic script (no imports, so it
  // registers with or without { type: 'module' }), outside the core budget.
  input: `${dist}/sdk/sw/auto.js`,
  output: {
    file: `${dist}/browser/sealbox-sw.js`,
    format: 'iife',
    inlineDynamicImports: true,
    sourcemap: true,
  },
  plugins: plugins(),
  onwarn,
}, {
  // sealbox/sw as one ES module for pages without a bundler (the demo): registerObject and friends.
  input: `${dist}/sdk/sw/index.js`,
  output: {
    file: `${dist}/browser/sealbox-sw-client.min.js`,
    format: 'es',
    inlineDynamicImports: true,
    sourcemap: true,
  },
  plugins: plugins(),
  onwarn,
}, {
  // sealbox/storage for pages that import it without a bundler of their own (the demo): a build of
  // its own, so that the core bundle above stays exactly what it is (no chunk shared with it), and
  // with no AWS SDK (the entry has none: fetch and S3's XML only).
  input: `${dist}/sdk/storage/index.js`,
  output: {
    dir: `${dist}/browser`,
    format: 'es',
    entryFileNames: 'storage.min.js',
    chunkFileNames: 'chunks/storage-[name]-[hash].min.js',
    sourcemap: true,
  },
  plugins: plugins(),
  onwarn,
}, {
  // The worker script (sealbox/workers): one self-contained module worker (no imports to fetch, no
  // blob:, no eval).
  input: `${dist}/sdk/workers/sealbox-worker.js`,
  output: { file: `${dist}/browser/sealbox-worker.js`, format: 'es', sourcemap: true, inlineDynamicImports: true },
  plugins: plugins(),
  onwarn,
}];

function onwarn(warning, warn) {
  // cbor-x uses `this` at module top level in a branch browsers never take.
  if (warning.code === 'THIS_IS_UNDEFINED') return;
  warn(warning);
}
