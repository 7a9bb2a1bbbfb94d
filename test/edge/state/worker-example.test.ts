// examples/worker-proxy (wrangler.jsonc + src/worker.ts) under `wrangler dev --local`, as the
// deployment page tells users to run it: it starts offline, its Durable Object state store
// answers, and a replayed signed request is refused. The example's own config is used, with the
// upstream pointed at a real local KMS here (`--var SEALBOX_CONFIG:…`) and the secrets as `--var`s.
// Needs dist/ (the example imports `sealbox/proxy`, which resolves to the built package).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { AwsClient } from 'aws4fetch';
import { startLocalKmsServer, type LocalKmsServer } from '../../../src/node/kms/index.js';
import { ROOT_KEY, SEED } from '../proxy/helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const example = join(root, 'examples/worker-proxy');
const wrangler = join(root, 'node_modules/.bin/wrangler');
const skip = (!existsSync(wrangler) && 'wrangler not installed') || (!existsSync(join(root, 'dist/edge/proxy/index.js')) && 'dist/ missing: npm run build');
const MACHINE = { accessKeyId: 'AKIAEXAMPLEMACHINE01', secretAccessKey: 'machine-secret-for-the-example-test-0123' };

let dir: string;
let kms: LocalKmsServer;
let child: ChildProcess | undefined;
let url: string;
let output = '';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** wrangler.jsonc's vars.SEALBOX_CONFIG (the file's comments are whole lines). */
function exampleConfig(): Record<string, any> {
  const text = readFileSync(join(example, 'wrangler.jsonc'), 'utf8')
    .split('\n')
    .filter((l) => !/^\s*\/\//.test(l))
    .join('\n');
  return JSON.parse(text).vars.SEALBOX_CONFIG;
}

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'sealbox-wrangler-'));
  kms = await startLocalKmsServer({ port: 0, dataDir: join(dir, 'kms'), rootKey: ROOT_KEY, env: {}, log: () => {}, seed: SEED, audit: false });
  const config = exampleConfig();
  config.upstream.endpoint = kms.url;
  const port = await freePort();
  const vars = {
    SEALBOX_CONFIG: JSON.stringify(config),
    AWS_ACCESS_KEY_ID: kms.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: kms.credentials.secretAccessKey,
    JWT_SECRET: 'example-test-jwt-secret-0123456789abcdef0123',
    MACHINE_SECRET: MACHINE.secretAccessKey,
  };
  const args = ['dev', '--local', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', join(dir, 'state'), '--show-interactive-dev-session=false'];
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  child = spawn(wrangler, args, { cwd: example, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', NO_COLOR: '1' } });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`wrangler dev did not start in 60 s:\n${output}`)), 60_000);
    child!.stdout!.on('data', () => {
      if (/Ready on http/.test(output)) {
        clearTimeout(timer);
        done(`http://127.0.0.1:${port}/`);
      }
    });
    child!.once('close', (code) => fail(new Error(`wrangler dev exited ${code}:\n${output}`)));
  });
});

after(async () => {
  if (child && child.exitCode === null) {
    const closed = new Promise((r) => child!.once('close', r));
    process.kill(-child.pid!, 'SIGTERM');
    await closed;
  }
  await kms?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('examples/worker-proxy runs under wrangler dev --local: Durable Object state, replay refused', { skip, timeout: 120_000 }, async () => {
  const none = await fetch(url, { method: 'POST', headers: { 'x-amz-target': 'TrentService.DescribeKey' }, body: '{}' });
  assert.equal(none.status, 403);
  const aws = new AwsClient({ ...MACHINE, service: 'kms', region: 'us-east-1', retries: 0 });
  const signed = await aws.sign(url, { method: 'POST', headers: { 'x-amz-target': 'TrentService.DescribeKey', 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify({ KeyId: 'alias/tenant-a' }) });
  const headers = Object.fromEntries(signed.headers);
  const first = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ KeyId: 'alias/tenant-a' }) });
  const firstBody = await first.text();
  assert.equal(first.status, 200, `${firstBody}\n${output}`);
  assert.match(firstBody, /alias|KeyMetadata/);
  const replay = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ KeyId: 'alias/tenant-a' }) });
  assert.equal(replay.status, 400);
  assert.match(await replay.text(), /replay/);
  // The record went to the Durable Object: its SQLite database under --persist-to.
  const files = readdirSync(join(dir, 'state'), { recursive: true }).map(String);
  assert.ok(files.some((f) => /SealboxStateObject.*\.sqlite$/.test(f)), `no Durable Object database in ${files.join(', ')}`);
});

test("examples/worker-proxy/src/worker.ts type-checks against the built package's types (Web types only)", { skip }, async () => {
  const tsc = join(root, 'node_modules/.bin/tsc');
  const args = ['--ignoreConfig', '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom', '--types', '', join(example, 'src/worker.ts')];
  const result = await new Promise<{ code: number | null; out: string }>((done) => {
    const c = spawn(tsc, args, { cwd: root });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.once('close', (code) => done({ code, out }));
  });
  assert.equal(result.code, 0, result.out);
});
