// A bench re-runs itself as its server processes. This bundles that script (with the servers it
// starts) into one plain-JS file, as a build would run it, and returns the node arguments that run
// the bundle; without esbuild it falls back to running the TypeScript through tsx.
import { fileURLToPath } from 'node:url';

export async function bundleSelf(scriptUrl: string, outfile: string): Promise<string[]> {
  const self = fileURLToPath(scriptUrl);
  try {
    const { build } = await import('esbuild');
    await build({
      entryPoints: [self],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      sourcemap: false,
      logLevel: 'warning',
      external: ['autocannon'],
      // Bundled CommonJS dependencies call require() for Node built-ins.
      banner: { js: "import { createRequire as __sealboxRequire } from 'node:module'; const require = __sealboxRequire(import.meta.url);" },
    });
    return [outfile];
  } catch {
    return ['--import', 'tsx', self];
  }
}
