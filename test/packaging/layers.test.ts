// The layer rule of src/ (see test/README.md): three layers, arrows downward only, no import cycle.
//   src/index.ts, src/sdk/   SDK core: runs everywhere, Web APIs only
//   src/edge/                edge server: may import sdk; Web APIs only
//   src/node/                Node only: may import anything, including node: built-ins
// Every import counts (static, dynamic `import()`, `import type`), so a cycle through types or a
// lazily loaded module fails too. The runtime check of the shipped entries (bundled for browsers with
// rollup) is in package.test.ts; this one reads the sources, so it names the file and the line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(root, 'src');
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

type Layer = 'sdk' | 'edge' | 'node';
const RANK: Record<Layer, number> = { sdk: 0, edge: 1, node: 2 };

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function layerOf(file: string): Layer {
  const rel = relative(src, file).split('/');
  if (rel.length === 1) return 'sdk'; // src/index.ts, the root entry
  if (rel[0] === 'sdk' || rel[0] === 'edge' || rel[0] === 'node') return rel[0];
  throw new Error(`${relative(root, file)} is in no layer: put it under src/sdk, src/edge or src/node`);
}

/** Code without comments (string contents stay, so specifiers are kept). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

interface Import { specifier: string; line: number }
function imports(text: string): Import[] {
  const out: Import[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+|\bexport\s*\*\s*from\s*)(['"])([^'"]+)\1/gm;
  for (const m of text.matchAll(re)) out.push({ specifier: m[2]!, line: text.slice(0, m.index).split('\n').length });
  return out;
}

const files = walk(src).sort();
const graph = new Map<string, string[]>();
const problems: string[] = [];
const nodeApis: string[] = [];
for (const file of files) {
  const layer = layerOf(file);
  const text = code(readFileSync(file, 'utf8'));
  const edges: string[] = [];
  for (const { specifier, line } of imports(text)) {
    const where = `${relative(root, file)}:${line}`;
    if (specifier.startsWith('.')) {
      const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
      if (!files.includes(target)) { problems.push(`${where} imports ${specifier}, which is not a source file`); continue; }
      edges.push(target);
      const to = layerOf(target);
      if (RANK[to] > RANK[layer]) problems.push(`${where}: ${layer} imports ${to} (${relative(root, target)}): arrows run downward only`);
    } else if (layer !== 'node' && (specifier.startsWith('node:') || builtins.has(specifier) || builtins.has(specifier.split('/')[0]!))) {
      nodeApis.push(`${where} imports the Node built-in ${specifier}`);
    }
  }
  if (layer !== 'node') {
    text.split('\n').forEach((line, i) => {
      if (/\bBuffer\b|\bprocess\.|\brequire\s*\(/.test(line)) nodeApis.push(`${relative(root, file)}:${i + 1} uses a Node global: ${line.trim()}`);
    });
  }
  graph.set(file, edges);
}

/** Strongly connected components with more than one file (or a file importing itself): Tarjan. */
function cycles(): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || graph.get(v)!.includes(v)) out.push(scc.map((f) => relative(root, f)).sort());
    }
  };
  for (const file of files) if (!idx.has(file)) visit(file);
  return out;
}

test('src/: every file is in a layer and imports only its own layer or a lower one', () => {
  assert.ok(files.length > 50, 'the walk found the sources');
  assert.deepEqual(problems, []);
});

test('src/: no import cycle (static, dynamic or type-only)', () => {
  assert.deepEqual(cycles(), []);
});

test('src/sdk, src/edge and the root entry: no Node built-in, Buffer, process or require', () => {
  assert.deepEqual(nodeApis, []);
});

test('every runtime-agnostic package entry (".", "./proxy", "./policy", "./audit", "./storage", "./wire") is in sdk or edge', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | { default: string }> };
  const nodeOnly = new Set(['./kms', './node', './proxy/redis', './package.json']);
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (nodeOnly.has(subpath)) continue;
    const file = typeof target === 'string' ? target : target.default;
    const source = join(root, file.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
    assert.ok(files.includes(source), `${subpath} → ${file} has no source ${relative(root, source)}`);
    assert.notEqual(layerOf(source), 'node', `${subpath} is a Node-only file`);
  }
});
