// The root API documents itself: every name `sealbox` exports has a TSDoc comment with an @example
// at its declaration (what `npm run docs` turns into the API reference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** [name, source file] for every `export { … } from './…'` of a module. */
function reExports(file: string): Array<[string, string]> {
  const text = readFileSync(file, 'utf8');
  const out: Array<[string, string]> = [];
  for (const m of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'(\.[^']+)'/g)) {
    const target = resolve(dirname(file), m[2]!.replace(/\.js$/, '.ts'));
    for (const part of m[1]!.split(',')) {
      const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()!.trim();
      if (name) out.push([name, target]);
    }
  }
  return out;
}

/** The doc comment right above `name`'s declaration in `file`, or undefined. */
function docOf(file: string, name: string): string | undefined {
  const text = readFileSync(file, 'utf8');
  const decl = new RegExp(`^export (?:abstract )?(?:class|interface|type|const|function|async function) ${name}\\b`, 'm').exec(text);
  if (!decl) return undefined;
  const before = text.slice(0, decl.index).trimEnd();
  if (!before.endsWith('*/')) return undefined;
  return before.slice(before.lastIndexOf('/**'));
}

test('every export of the root entry has TSDoc with an @example', () => {
  const exports = reExports(join(root, 'src/index.ts'));
  assert.ok(exports.length > 30, 'the root entry was read');
  const missing = exports.filter(([name, file]) => !docOf(file, name)?.includes('@example')).map(([name]) => name);
  assert.deepEqual(missing, []);
});
