// The npm scripts of package.json point at things that exist, in the form Node 20 can run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
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

/** The Node test files an npm script would run, as `scripts/test.mjs --list` reports them. */
function listed(script: string): string[] {
  const out = execFileSync('npm', ['run', '--silent', script, '--', '--list'], { cwd: root, encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

/** Every Node test file in test/ (the browser ones run in Chromium, not in Node). */
function testFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return path === 'test/browser' ? [] : testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

test('npm run test:node runs the Node part of npm test, not a second list of files', () => {
  const node = listed('test:node');
  assert.ok(node.length > 0, 'test:node lists its files');
  assert.deepEqual(listed('test'), node);
});

test('npm test runs every Node test file under test/, and only files that exist', () => {
  const node = listed('test');
  for (const file of node) assert.ok(existsSync(join(root, file)), `${file} does not exist`);
  assert.deepEqual([...node].sort(), testFiles('test').sort());
});
