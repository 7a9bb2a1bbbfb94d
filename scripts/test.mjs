// `npm test`: the whole suite. Type-check, build, bundle budget, Node tests, then Chromium tests.
// `node scripts/test.mjs node` (npm run test:node) runs only the Node tests, on the dist/ there is;
// `… browser` only the Chromium tests. Node 20's test runner takes no globs, so files are listed here.
// `--list` prints the Node test files the given parts would run, and runs nothing.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { run, root } from './lib/run.mjs';
import { ensureChromium } from './lib/chromium.mjs';

function find(dir, suffix) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path, suffix));
    else if (name.endsWith(suffix)) out.push(relative(root, path));
  }
  return out.sort();
}

const args = process.argv.slice(2);
const list = args.includes('--list');
const parts = args.filter((arg) => arg !== '--list');
for (const part of parts) {
  if (part !== 'node' && part !== 'browser') {
    console.error(`unknown part "${part}": use node, browser, or nothing for the whole suite`);
    process.exit(2);
  }
}
const whole = parts.length === 0;
// test/ mirrors src/ (see test/README.md): sdk, edge and node, plus the packaging checks.
const nodeTests = () => ['test/sdk', 'test/edge', 'test/node', 'test/packaging'].flatMap((dir) => find(join(root, dir), '.test.ts'));
if (list) {
  if (whole || parts.includes('node')) console.log(nodeTests().join('\n'));
  process.exit(0);
}
process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
const chrome = ensureChromium();
process.env.CHROME_PATH = chrome;
const step = (title) => console.log(`\n── ${title} ──`);
if (whole) {
  step('type-check');
  run('npm', ['run', '--silent', 'typecheck']);
  step('build (tsc + rollup)');
  run('npm', ['run', '--silent', 'build']);
  step('bundle size');
  run('node', ['scripts/size.mjs']);
}
if (whole || parts.includes('node')) {
  step('Node tests');
  run('node', ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...nodeTests()]);
}
if (whole || parts.includes('browser')) {
  step(`Chromium tests (${chrome})`);
  run('npx', ['web-test-runner', '--config', 'web-test-runner.config.mjs']);
}
console.log(whole ? '\nAll suites passed.' : `\n${parts.join(' and ')} tests passed.`);
