// Browser bundle of the core entry. Input is tsc's output (dist/), so what we measure is what we ship.
// The noble fallback is a dynamic import, so it lands in its own chunk, loaded only where
// crypto.subtle is missing.
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';

// scripts/build.mjs builds into a staging directory and names it here.
const dist = process.env.SEALBOX_DIST ?? 'dist';

export default {
  input: `${dist}/index.js`,
  output: {
    dir: `${dist}/browser`,
    format: 'es',
    entryFileNames: 'sealbox.min.js',
    chunkFileNames: 'chunks/[name]-[hash].min.js',
    sourcemap: true,
  },
  plugins: [nodeResolve({ browser: true, preferBuiltins: false }), terser({ ecma: 2020, module: true })],
  onwarn(warning, warn) {
    // cbor-x uses `this` at module top level in a branch browsers never take.
    if (warning.code === 'THIS_IS_UNDEFINED') return;
    warn(warning);
  },
};
