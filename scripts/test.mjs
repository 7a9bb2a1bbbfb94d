// `npm test`: the whole suite. System packages, type-check, build, bundle budget, Node tests, then
// browser tests (Chromium, Firefox, WebKit; SEALBOX_BROWSERS=chromium,firefox,webkit picks, see
// scripts/lib/browsers.mjs). `node scripts/test.mjs node` (npm run test:node) runs only the Node
// tests, on the dist/ there is; `… browser` only the browser tests. Node 20's test runner takes no
// globs, so files are listed here. `--list` prints the Node test files the given parts would run.
// The Debian packages the tests run (browsers, Ceph RGW, Redis, ffmpeg) are installed first when
// missing (scripts/lib/system-deps.mjs). One Ceph RGW (S3) and one Redis are started for the whole
// run, while the type-check and build go on, and handed to the Node and browser tests through
// SEALBOX_TEST_S3_* and SEALBOX_TEST_REDIS_URL (scripts/lib/services.mjs).
import { readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { root } from './lib/run.mjs';
import { ensureChromium } from './lib/chromium.mjs';
import { ensureSystemDeps } from './lib/system-deps.mjs';
import { startServices } from './lib/services.mjs';
import { selectedEngines } from './lib/browsers.mjs';

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
// test/ mirrors src/ (see test/README.md): sdk, edge and node, plus the packaging checks and the
// checks of the test services themselves (test/support).
const nodeTests = () =>
  ['test/sdk', 'test/edge', 'test/node', 'test/packaging', 'test/support'].flatMap((dir) => find(join(root, dir), '.test.ts'));
if (list) {
  if (whole || parts.includes('node')) console.log(nodeTests().join('\n'));
  process.exit(0);
}
process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
const step = (title) => console.log(`\n── ${title} ──`);

ensureSystemDeps();
const chrome = ensureChromium();
process.env.CHROME_PATH = chrome;

const services = startServices();

/** Runs a step in the project root; on failure stops the services and exits with its status. */
async function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`\n✗ ${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
    await services.stop();
    process.exit(result.status || 1);
  }
}

if (whole) {
  step('type-check');
  await run('npm', ['run', '--silent', 'typecheck']);
  step('build (tsc + rollup)');
  await run('npm', ['run', '--silent', 'build']);
  step('bundle size');
  await run('node', ['scripts/size.mjs']);
}
step('services for the tests');
try {
  await services.ready();
} catch (error) {
  console.error(`\n✗ ${error.message}`);
  await services.stop();
  process.exit(1);
}
if (whole || parts.includes('node')) {
  step('Node tests');
  await run('node', ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...nodeTests()]);
}
if (whole || parts.includes('browser')) {
  step(`Browser tests (${selectedEngines().join(', ')})`);
  await run('npx', ['web-test-runner', '--config', 'web-test-runner.config.mjs']);
}
await services.stop();
console.log(whole ? '\nAll suites passed.' : `\n${parts.join(' and ')} tests passed.`);
