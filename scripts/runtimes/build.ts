/**
 * Bundles the runtime hosts (test/runtimes/hosts/*.ts, which import the shared suite) with esbuild:
 * ESM, platform neutral, every bare import bundled (only `node:*` stays external, for the Node host),
 * into .build/runtimes/<runtime>.mjs. Files are replaced atomically, so test processes building
 * at the same time never see a half-written bundle (they write the same bytes anyway).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Plugin, build } from 'esbuild';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const buildDir = join(root, '.build/runtimes');
export const HOSTS = ['node', 'deno', 'bun', 'workerd', 'browser'] as const;
export type HostBundle = (typeof HOSTS)[number];

/**
 * Gives each test/suite module its own `crypto`, captured when it loads. The library keeps reading
 * `globalThis.crypto` on every call, so the fallback check can take `crypto.subtle` away from the
 * library while the suite's oracles (expected digests, RSA test keys) keep real WebCrypto. With
 * `crypto.subtle` present, as in every other run, this changes nothing.
 */
const suiteCrypto: Plugin = {
  name: 'suite-crypto',
  setup(b) {
    b.onLoad({ filter: /[\\/]test[\\/]suite[\\/].*\.ts$/ }, (args) => ({
      contents: `const crypto = globalThis.crypto;\n${readFileSync(args.path, 'utf8')}`,
      loader: 'ts',
    }));
  },
};

let built: Promise<Record<HostBundle, string>> | undefined;

/** Builds once per process; returns the path of each bundle. */
export function buildHosts(): Promise<Record<HostBundle, string>> {
  built ??= (async () => {
    const result = await build({
      absWorkingDir: root,
      entryPoints: Object.fromEntries(HOSTS.map((h) => [h, `test/runtimes/hosts/${h}.ts`])),
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      target: 'es2022',
      external: ['node:*'],
      outdir: buildDir,
      outExtension: { '.js': '.mjs' },
      write: false,
      logLevel: 'silent',
      plugins: [suiteCrypto],
    });
    mkdirSync(buildDir, { recursive: true });
    const paths = {} as Record<HostBundle, string>;
    for (const file of result.outputFiles) {
      const temp = `${file.path}.${process.pid}.tmp`;
      mkdirSync(dirname(file.path), { recursive: true });
      writeFileSync(temp, file.contents);
      renameSync(temp, file.path);
      const name = relative(buildDir, file.path).replace(/\.mjs$/, '') as HostBundle;
      paths[name] = file.path;
    }
    return paths;
  })();
  return built;
}
