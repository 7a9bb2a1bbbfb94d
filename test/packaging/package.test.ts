// Package checks on what npm would publish (`npm pack` of the built dist/):
// - publint (strict) and @arethetypeswrong/cli on the tarball;
// - every export ("sealbox", "sealbox/proxy", …) resolves without a bundler: Node and Bun import
//   it by name, Deno and Bun by file path, from a consumer folder where the tarball is installed;
//   then a core round trip, and another with crypto.subtle removed, which loads the lazy noble
//   chunk through its bare `@noble/*` imports;
// - every export bundled for browsers with rollup has no Node built-in; the core has no side
//   effect at import time; the shipped browser bundle has no eval / new Function (CSP without
//   'unsafe-eval', workerd) and keeps noble in a separate, lazily imported chunk.
// Everything runs on the unpacked tarball, not on dist/, so it checks what users would get.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { builtinModules } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { rollup } from 'rollup';
import { exec } from '../../scripts/runtimes/hosts.js';
import { buildDir, root } from '../../scripts/runtimes/build.js';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};
/** Subpaths with Node built-ins or an optional dependency (ioredis) that also run in Bun and Deno: never bundled for browsers. */
const NODE_ONLY = new Set(['./proxy/redis']);
type Exports = Record<string, string | { default?: string; node?: string }>;
function manifestExports(): Exports {
  return (JSON.parse(readFileSync(join(consumer, 'node_modules', pkg.name, 'package.json'), 'utf8')) as { exports: Exports }).exports;
}
/** [subpath, file] for every runtime-agnostic JavaScript entry (a "default" condition) in the packed package.json's "exports". */
function subpaths(): Array<[string, string]> {
  return Object.entries(manifestExports())
    .filter(([subpath, target]) => subpath !== './package.json' && (typeof target === 'string' || target.default !== undefined))
    .map(([subpath, target]) => [subpath, typeof target === 'string' ? target : target.default!]);
}
/** [subpath, file] for the Node-only entries (a "node" condition and no "default", e.g. "./kms"). */
function nodeOnlySubpaths(): Array<[string, string]> {
  return Object.entries(manifestExports())
    .filter(([, target]) => typeof target !== 'string' && target.default === undefined && target.node !== undefined)
    .map(([subpath, target]) => [subpath, (target as { node: string }).node]);
}
let work: string;
let tarball: string;
let consumer: string;

before(async () => {
  if (!existsSync(join(root, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  mkdirSync(buildDir, { recursive: true });
  work = mkdtempSync(join(buildDir, 'package-'));
  const { stdout } = await exec('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work]);
  tarball = join(work, (JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string }>)[0]!.filename);
  // A consumer with the tarball installed; its own package.json stops Node from resolving
  // "sealbox" as a self-reference to the repository.
  consumer = join(work, 'consumer');
  const installed = join(consumer, 'node_modules', pkg.name);
  mkdirSync(installed, { recursive: true });
  await exec('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  // Optional dependencies too (ioredis for ./proxy/redis), when installed here.
  for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}).filter((d) => existsSync(join(root, 'node_modules', d)))]) {
    mkdirSync(join(consumer, 'node_modules', dep, '..'), { recursive: true });
    symlinkSync(join(root, 'node_modules', dep), join(consumer, 'node_modules', dep));
  }
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { [pkg.name]: pkg.version } }));
  // One import per export subpath ("sealbox", "sealbox/proxy", …), then round trips with the core.
  const check = (byName: boolean) => {
    const specifiers = Object.fromEntries(
      subpaths().map(([subpath, file]) => [subpath, byName ? `${pkg.name}${subpath.slice(1)}` : `./node_modules/${pkg.name}/${file.replace(/^\.\//, '')}`]),
    );
    return `const specifiers = ${JSON.stringify(specifiers)};
const exports = {};
for (const [subpath, specifier] of Object.entries(specifiers)) exports[subpath] = Object.keys(await import(specifier)).sort();
const { encrypt, decrypt, RawAesKeyring } = await import(specifiers['.']);
const key = new Uint8Array(32).fill(7);
const keyring = () => new RawAesKeyring({ keyName: 'k', key });
const message = new TextEncoder().encode('sealbox '.repeat(8000));
const same = (bytes) => bytes.length === message.length && bytes.every((b, i) => b === message[i]);
const envelope = await encrypt(message, { keyring: keyring() });
const webcrypto = same((await decrypt(envelope, { keyring: keyring() })).plaintext);
const real = globalThis.crypto;
Object.defineProperty(globalThis, 'crypto', { value: { getRandomValues: (a) => real.getRandomValues(a) }, configurable: true, writable: true });
const noble = same((await decrypt(envelope, { keyring: keyring() })).plaintext);
console.log('RESULT ' + JSON.stringify({ webcrypto, noble, exports }));
`;
  };
  writeFileSync(join(consumer, 'by-name.mjs'), check(true));
  writeFileSync(join(consumer, 'by-path.mjs'), check(false));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('publint (strict) finds nothing in the packed package', async () => {
  // The installed copy holds exactly the packed files, so publint lints it as they are (pack: false).
  const { messages, pkg: manifest } = await publint({ pkgDir: join(consumer, 'node_modules', pkg.name), strict: true, level: 'suggestion', pack: false });
  if (messages.length) throw new Error(`publint:\n${messages.map((m) => `- ${m.type}: ${formatMessage(m, manifest, { color: false })}`).join('\n')}`);
});

test('@arethetypeswrong/cli: types resolve for TypeScript users (ESM-only profile)', async () => {
  // The package is ESM only ("type": "module", no "require" condition), as its engines (Node ≥ 20)
  // allow. The esm-only profile ignores the two CommonJS resolutions (node10, node16 from CJS),
  // where "CJS resolves to ESM" is the intended outcome; every ESM and bundler resolution must
  // be clean.
  try {
    await exec(join(root, 'node_modules/.bin/attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii'], { env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
  } catch (error) {
    throw new Error(`attw found problems:\n${(error as Error).message}`);
  }
});

async function importIn(command: string, args: string[]): Promise<{ webcrypto: boolean; noble: boolean; exports: Record<string, string[]> }> {
  const { stdout } = await exec(command, args, { cwd: consumer });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`no result from ${command}:\n${stdout}`);
  return JSON.parse(line.slice('RESULT '.length));
}

test('every export resolves without a bundler: Node and Bun by package name, Deno and Bun by path', async () => {
  const bin = (name: string) => join(root, 'node_modules/.bin', name);
  const runs = {
    'node (import "sealbox")': importIn(process.execPath, ['by-name.mjs']),
    'bun (import "sealbox")': importIn(bin('bun'), ['by-name.mjs']),
    'bun (dist/index.js)': importIn(bin('bun'), ['by-path.mjs']),
    'deno (dist/index.js)': importIn(bin('deno'), ['run', '--no-lock', '--no-prompt', '--node-modules-dir=manual', '--allow-read=.', '--allow-env', 'by-path.mjs']),
  };
  const problems: string[] = [];
  const core = ['encrypt', 'decrypt', 'inspect', 'RawAesKeyring', 'RsaOaepKeyring', 'MultiKeyring', 'SealboxError', 'isSealboxError', 'DEFAULT_LIMITS'];
  const seen = new Set<string>();
  for (const [name, run] of Object.entries(runs)) {
    try {
      const result = await run;
      if (!result.webcrypto) problems.push(`${name}: round trip failed`);
      if (!result.noble) problems.push(`${name}: round trip without crypto.subtle (lazy noble chunk) failed`);
      const missing = core.filter((e) => !result.exports['.']?.includes(e));
      if (missing.length) problems.push(`${name}: missing exports ${missing.join(', ')}`);
      for (const [subpath] of subpaths()) if (!result.exports[subpath]?.length) problems.push(`${name}: ${subpath} exports nothing`);
      seen.add(JSON.stringify(result.exports));
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
    }
  }
  if (seen.size > 1) problems.push(`the runtimes see different exports:\n  ${[...seen].join('\n  ')}`);
  if (problems.length) throw new Error(problems.join('\n'));
});

test('every Node-only export ("sealbox/kms", "sealbox/node") imports by package name in Node and exports what it documents', async () => {
  const entries = nodeOnlySubpaths();
  assert.deepEqual(entries.map(([subpath]) => subpath), ['./kms', './node']);
  const documented: Record<string, string[]> = { kms: ['createLocalKms', 'startLocalKmsServer'], node: ['NodeWorkerPool', 'useNodeCrypto', 'useNodeWorkers'] };
  for (const [subpath, expected] of Object.entries(documented)) {
    const script = `const m = await import('${pkg.name}/${subpath}'); console.log('RESULT ' + JSON.stringify(Object.keys(m).sort()));`;
    const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer });
    const names = JSON.parse(stdout.split('\n').find((l) => l.startsWith('RESULT '))!.slice('RESULT '.length)) as string[];
    for (const name of expected) assert.ok(names.includes(name), `sealbox/${subpath} lacks ${name}`);
  }
});

test('sealbox/node: a NodeWorkerPool from the installed package starts its worker_threads script (dist/node/workers/chunk-worker.js) and seals', async () => {
  const script = [
    `const { NodeWorkerPool } = await import('${pkg.name}/node');`,
    `const { encrypt, decrypt, RawAesKeyring } = await import('${pkg.name}');`,
    `const keyring = new RawAesKeyring({ keyName: 'k', key: new Uint8Array(32).fill(1) });`,
    `const pool = new NodeWorkerPool({ size: 1 });`,
    `const envelope = await encrypt(new Uint8Array(3 << 20).fill(7), { keyring, workers: pool });`,
    `const { plaintext } = await decrypt(envelope, { keyring, workers: pool });`,
    `pool.terminate();`,
    `console.log('RESULT ' + plaintext.length + ' ' + plaintext.every((b) => b === 7));`,
  ].join('\n');
  const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer });
  assert.match(stdout, /^RESULT 3145728 true$/m);
});

test('every export bundled for browsers with rollup: no Node built-in, nothing unresolved', async (t) => {
  for (const [subpath, file] of subpaths().filter(([subpath]) => !NODE_ONLY.has(subpath))) await t.test(subpath, () => browserBundle(join(consumer, 'node_modules', pkg.name, file)));
});

async function browserBundle(input: string): Promise<void> {
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  const offending: string[] = [];
  const bundle = await rollup({
    input,
    plugins: [
      {
        name: 'flag-node-builtins',
        resolveId(source, importer) {
          if (source.startsWith('node:') || builtins.has(source) || builtins.has(source.split('/')[0]!)) {
            offending.push(`${source} (imported by ${importer})`);
            return { id: source, external: true };
          }
          return null;
        },
      },
      nodeResolve({ browser: true, preferBuiltins: false }),
    ],
    onwarn(warning) {
      if (warning.code === 'UNRESOLVED_IMPORT') offending.push(`unresolved ${warning.exporter ?? warning.message}`);
    },
  });
  const { output } = await bundle.generate({ format: 'es' });
  await bundle.close();
  if (offending.length) throw new Error(`the browser bundle of ${input} imports:\n- ${offending.join('\n- ')}`);
  const imports = output.flatMap((chunk) => (chunk.type === 'chunk' ? chunk.imports : []));
  const external = imports.filter((id) => !output.some((c) => c.fileName === id));
  if (external.length) throw new Error(`external imports left in the bundle: ${external.join(', ')}`);
}

test('core has no side effects at import: tree-shaken, `import "sealbox"` bundles to nothing', async () => {
  const entry = '\0entry';
  const bundle = await rollup({
    input: entry,
    // moduleSideEffects: true ignores package.json's "sideEffects": false, so this checks the code itself.
    treeshake: { moduleSideEffects: true },
    plugins: [
      { name: 'entry', resolveId: (id) => (id === entry ? id : null), load: (id) => (id === entry ? `import ${JSON.stringify(join(consumer, 'node_modules', pkg.name, 'dist/index.js'))};` : null) },
      nodeResolve({ browser: true, preferBuiltins: false }),
    ],
    onwarn() {},
  });
  const { output } = await bundle.generate({ format: 'es' });
  await bundle.close();
  const code = output.map((chunk) => (chunk.type === 'chunk' ? chunk.code : '')).join('').trim();
  if (code) throw new Error(`importing the core runs code:\n${code.slice(0, 2000)}`);
});

test('shipped browser bundle: no eval or new Function, noble only in a lazily imported chunk', () => {
  const dir = join(consumer, 'node_modules', pkg.name, 'dist/browser');
  const main = readFileSync(join(dir, 'sealbox.min.js'), 'utf8');
  const chunks = readdirSync(join(dir, 'chunks')).filter((f) => f.endsWith('.js'));
  for (const [name, code] of [['sealbox.min.js', main], ...chunks.map((f) => [f, readFileSync(join(dir, 'chunks', f), 'utf8')])] as const) {
    if (/\bnew Function\b|\beval\s*\(|\bFunction\s*\(/.test(code)) throw new Error(`${name} evaluates strings (eval / Function)`);
    if (/\brequire\s*\(|from\s*["']node:/.test(code)) throw new Error(`${name} has require() or a node: import`);
  }
  const noble = chunks.filter((f) => f.startsWith('noble-'));
  if (noble.length === 0) throw new Error('no noble chunk in dist/browser/chunks');
  const staticImports = [...main.matchAll(/(?:^|[;}\s])import\s*(?:[\w{}*\s,$]+from\s*)?["']([^"']+)["']/g)].map((m) => m[1]!);
  if (staticImports.some((s) => s.includes('noble-'))) throw new Error('sealbox.min.js imports the noble chunk statically');
  if (!noble.some((f) => main.includes(`import("./chunks/${f}")`))) throw new Error('sealbox.min.js does not import the noble chunk lazily');
});
