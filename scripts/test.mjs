// `npm test`: the whole suite. Type-check, build, bundle budget, Node tests, then Chromium tests.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { run, root } from './lib/run.mjs';
import { ensureChromium } from './lib/chromium.mjs';

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
const chrome = ensureChromium();
process.env.CHROME_PATH = chrome;

function find(dir, suffix) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path, suffix));
    else if (name.endsWith(suffix)) out.push(relative(root, path));
  }
  return out.sort();
}

const step = (title) => console.log(`\n── ${title} ──`);
step('type-check');
run('npm', ['run', '--silent', 'typecheck']);
step('build (tsc + rollup)');
run('npm', ['run', '--silent', 'build']);
step('bundle size');
run('node', ['scripts/size.mjs']);
step('Node tests');
const nodeTests = find(join(root, 'test/node'), '.test.ts');
run('node', ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...nodeTests]);
step(`Chromium tests (${chrome})`);
run('npx', ['web-test-runner', '--config', 'web-test-runner.config.mjs']);
console.log('\nAll suites passed.');
