// The committed package-lock.json works for the ecosystem: `npm ci` (what CI pipelines run) accepts
// it, `npm install` leaves it as it is, and it records every platform's optional binaries (deno,
// bun, workerd, cbor-extract), not only this machine's. Runs npm offline in a temporary copy.
//
// Why "overrides": { "cbor-extract": "2.2.2" } in package.json: cbor-extract 2.2.3 (a dependency of
// cbor-x, used only in a differential test) names optional platform packages @cbor-extract/*@2.2.3
// that were never published (the newest is 2.2.2). `npm install` skips the missing optional
// packages silently and writes a lock without them; `npm ci` then refuses that lock as out of sync
// ("Missing: @cbor-extract/cbor-extract-darwin-arm64@ from lock file"). With 2.2.2 every one exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);
const npmFlags = ['--ignore-scripts', '--offline', '--no-audit', '--no-fund'];

function copy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sealbox-lock-'));
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  copyFileSync(join(root, 'package-lock.json'), join(dir, 'package-lock.json'));
  return dir;
}

async function npm(dir: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run('npm', [...args, ...npmFlags], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

test('npm ci accepts the committed lock file', async () => {
  const dir = copy();
  try {
    const { ok, output } = await npm(dir, ['ci', '--dry-run']);
    assert.ok(ok, `npm ci --dry-run refused the lock file:\n${output.split('\n').filter((l) => /error/.test(l)).slice(0, 12).join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm install leaves the committed lock file unchanged', async (t) => {
  const dir = copy();
  try {
    const { ok, output } = await npm(dir, ['install', '--package-lock-only']);
    if (!ok && /ENOTCACHED/.test(output)) return t.skip('npm has no cached metadata for an offline install here (run `npm install` once)');
    assert.ok(ok, `npm install --package-lock-only failed:\n${output.slice(-2000)}`);
    assert.equal(readFileSync(join(dir, 'package-lock.json'), 'utf8'), readFileSync(join(root, 'package-lock.json'), 'utf8'), 'npm install rewrote package-lock.json');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the lock file records every optional dependency of every locked package (all platforms' binaries)", () => {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { optionalDependencies?: Record<string, string> }> };
  const missing: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    for (const name of Object.keys(entry.optionalDependencies ?? {})) {
      // Node's lookup: node_modules/<name> next to the package, then in each parent's node_modules.
      let found = false;
      for (let base = path; ; ) {
        if (lock.packages[`${base ? `${base}/` : ''}node_modules/${name}`]) {
          found = true;
          break;
        }
        if (!base) break;
        const cut = base.lastIndexOf('/node_modules/');
        base = cut === -1 ? '' : base.slice(0, cut);
      }
      if (!found) missing.push(`${name} (optional dependency of ${path || 'the package'})`);
    }
  }
  assert.deepEqual(missing, []);
});
