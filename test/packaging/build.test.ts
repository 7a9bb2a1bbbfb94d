// scripts/build.mjs replaces dist/ only with a complete build: a failed build leaves the old dist/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('a build that fails leaves dist/ as it was, and no staging directory behind', (t) => {
  const index = join(root, 'dist/index.js');
  if (!existsSync(index)) return t.skip('no dist/ yet (npm test builds it first)');
  const before = statSync(index).mtimeMs;
  // An `npx` that fails, first on PATH: tsc "fails" at once, without compiling anything.
  const bin = mkdtempSync(join(tmpdir(), 'sealbox-fake-npx-'));
  try {
    writeFileSync(join(bin, 'npx'), '#!/bin/sh\necho "fake npx: failing on purpose" >&2\nexit 1\n');
    chmodSync(join(bin, 'npx'), 0o755);
    const result = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, env: { ...process.env, PATH: bin }, encoding: 'utf8' });
    assert.notEqual(result.status, 0, 'the build must fail');
    assert.match(result.stderr, /fake npx/);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
  assert.ok(existsSync(index), 'dist/index.js is still there');
  assert.equal(statSync(index).mtimeMs, before);
  assert.deepEqual(readdirSync(root).filter((name) => name.startsWith('.dist-build-')), []);
});
