// The npm scripts of package.json point at things that exist, in the form Node 20 can run.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scripts: Record<string, string> = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;

/** The file-like words of a command: paths to scripts and tests, quotes removed. */
function paths(command: string): string[] {
  return command
    .split(/\s+/)
    .map((word) => word.replace(/^["']|["']$/g, ''))
    .filter((word) => !word.startsWith('-') && /\.(m?[jt]s)$/.test(word));
}

test('every file an npm script names exists (Node 20 expands no globs for node --test)', () => {
  for (const [name, command] of Object.entries(scripts)) {
    for (const path of paths(command)) {
      assert.ok(!/[*?[\]{}]/.test(path), `npm run ${name}: "${path}" is a glob, which node --test on Node 20 does not expand`);
      assert.ok(existsSync(join(root, path)), `npm run ${name}: ${path} does not exist`);
    }
  }
});

test('npm run test:node runs the Node part of npm test, not a second list of files', () => {
  assert.equal(scripts['test:node'], 'node scripts/test.mjs node');
  assert.equal(scripts.test, 'node scripts/test.mjs');
});
