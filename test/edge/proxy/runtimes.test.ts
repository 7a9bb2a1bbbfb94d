// The proxy's fetch handler runs unchanged in Deno and Bun: one esbuild bundle of
// test/fixtures/proxy/runtime-host.ts, run by each runtime against a real local KMS over HTTP.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { verifyAuditChain } from '../../../src/edge/audit/chain.js';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import { AUDIENCE, ISSUER, JWT_SECRET, POLICY, REGION, bearer, call, startEnv, token, type Env } from './helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
let env: Env;
let bundlePath: string;
let workerPath: string;

/** Bundles a proxy fixture for the edge runtimes (worker/browser conditions) into the env dir. */
async function bundleFixture(fixture: string, outName: string): Promise<string> {
  const out = await build({
    entryPoints: [join(root, 'test/fixtures/proxy', fixture)],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['worker', 'browser'],
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const path = join(env.dir, outName);
  await writeFile(path, out.outputFiles[0]!.text);
  return path;
}

before(async () => {
  env = await startEnv();
  bundlePath = await bundleFixture('runtime-host.ts', 'runtime-host.mjs');
  workerPath = await bundleFixture('worker.ts', 'proxy-worker.mjs');
});
after(() => env.close());

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(command, args, { cwd: env.dir, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function input(): Promise<string> {
  return JSON.stringify({
    kmsUrl: env.kms.url,
    region: REGION,
    credentials: env.kms.credentials,
    jwtSecret: JWT_SECRET,
    issuer: ISSUER,
    audience: AUDIENCE,
    policy: POLICY,
    tokens: {
      uploader: await token({ sub: 'alice', tenant: 'a', role: 'uploader' }),
      reader: await token({ sub: 'ann', tenant: 'a', role: 'reader' }),
      otherReader: await token({ sub: 'bob', tenant: 'b', role: 'reader' }),
    },
  });
}

const expected = { generate: 200, decrypt: 200, same: true, denied: 'AccessDeniedException', auditLines: 3, chainOk: true };
const bin = (name: string) => join(root, 'node_modules/.bin', name);

describe('the proxy in other runtimes', () => {
  test('Deno', { skip: !existsSync(bin('deno')) && 'deno not installed' }, async () => {
    const port = new URL(env.kms.url).port;
    const r = await run(bin('deno'), ['run', '--no-config', '--no-lock', `--allow-net=127.0.0.1:${port}`, bundlePath, await input()]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), expected);
  });

  test('Bun', { skip: !existsSync(bin('bun')) && 'bun not installed' }, async () => {
    const r = await run(bin('bun'), [bundlePath, await input()]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), expected);
  });
});

/** The proxy as a Worker in workerd (no nodejs_compat), outbound allowed to loopback for the local KMS. */
async function startWorkerd(): Promise<{ url: string; output: () => string; stop(): Promise<void> }> {
  await writeFile(
    join(env.dir, 'proxy-config.json'),
    JSON.stringify({
      upstream: { endpoint: env.kms.url, region: REGION, credentials: env.kms.credentials },
      auth: { jwt: { secret: JWT_SECRET, issuer: ISSUER, audience: AUDIENCE } },
      policy: POLICY,
    }),
  );
  await writeFile(
    join(env.dir, 'proxy.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .proxyWorker),
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);
const proxyWorker :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "proxy-worker.mjs") ],
  compatibilityDate = "2025-09-01",
  bindings = [ (name = "CONFIG", text = embed "proxy-config.json") ],
  globalOutbound = "net",
);
`,
  );
  const child = spawn(bin('workerd'), ['serve', join(env.dir, 'proxy.capnp'), '--control-fd=3'], { cwd: env.dir, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const port = await new Promise<number>((resolvePort, reject) => {
    let buf = '';
    (child.stdio[3] as Readable).on('data', (d) => {
      buf += d;
      for (const line of buf.split('\n')) {
        try {
          const m = JSON.parse(line) as { event?: string; socket?: string; port?: number };
          if (m.event === 'listen' && m.socket === 'http' && m.port) resolvePort(m.port);
        } catch {}
      }
    });
    child.on('close', (code) => reject(new Error(`workerd exited ${code}: ${out}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    async stop() {
      const closed = new Promise((r) => child.on('close', r));
      child.kill('SIGTERM');
      await closed;
    },
  };
}

test('workerd (Cloudflare Workers runtime): the proxy as a Worker module', { skip: !existsSync(bin('workerd')) && 'workerd not installed' }, async () => {
  const w = await startWorkerd();
  try {
    const uploader = await token({ sub: 'alice', tenant: 'a', role: 'uploader' });
    const gen = await call(w.url, 'GenerateDataKey', { KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }, bearer(uploader));
    assert.equal(gen.status, 200, JSON.stringify(gen.body));
    const body = { CiphertextBlob: gen.body.CiphertextBlob, EncryptionContext: { tenant: 'a' } };
    const dec = await call(w.url, 'Decrypt', body, bearer(await token({ sub: 'ann', tenant: 'a', role: 'reader' })));
    assert.equal(dec.body.Plaintext, gen.body.Plaintext);
    const denied = await call(w.url, 'Decrypt', body, bearer(await token({ sub: 'bob', tenant: 'b', role: 'reader' })));
    assert.equal(denied.body.__type, 'AccessDeniedException');
    // The console sink: three chained audit lines in workerd's log.
    await new Promise((r) => setTimeout(r, 200));
    const lines = w.output().split('\n').map((l) => l.slice(l.indexOf('{'))).filter((l) => l.startsWith('{"time"'));
    assert.equal(lines.length, 3, w.output());
    assert.equal((await verifyAuditChain(lines)).ok, true);
  } finally {
    await w.stop();
  }
});
