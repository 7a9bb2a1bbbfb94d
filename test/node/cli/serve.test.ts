// The long-running commands, `sealbox kms` and `sealbox proxy` (`sealbox start` has its own test in
// test/node/devserver): they print where they listen, stop cleanly on SIGTERM, say so when the
// port is taken, and reject a bad --port as a usage error.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
let dir: string;
let script: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealbox-cli-serve-'));
  script = join(dir, 'main.mts');
  await writeFile(script, `import { main } from ${JSON.stringify(join(ROOT, 'src/node/cli/main.ts'))};\nprocess.exitCode = await main(process.argv.slice(2));\n`);
});
after(() => rm(dir, { recursive: true, force: true }));

/** Runs the CLI; `ready` matches the line that says it is serving, and then the child gets SIGTERM. */
function run(args: string[], ready?: RegExp): Promise<{ code: number | null; out: string; err: string; url?: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let url: string | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      const match = ready?.exec(out);
      if (match && !url) {
        url = match[1]!;
        // It answers before it is asked to stop.
        fetch(url, { method: 'POST' }).then(
          () => child.kill('SIGTERM'),
          () => child.kill('SIGTERM'),
        );
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => resolve({ code, out, err, ...(url ? { url } : {}) }));
  });
}

async function proxyConfig(): Promise<string> {
  const path = join(dir, 'proxy.json');
  await writeFile(
    path,
    JSON.stringify({
      upstream: { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: { accessKeyId: 'AKIASERVETEST0000001', secretAccessKey: 'serve-test-secret-0123456789abcdefghij' } },
      auth: { jwt: { secret: 'serve-test-jwt-secret-0123456789abcdef', issuer: 'https://idp.serve/', audience: 'serve' } },
      policy: { Statement: [{ Effect: 'Allow', Principal: { AWS: 'jwt/*' }, Action: 'kms:DescribeKey', Resource: '*' }] },
    }),
  );
  return path;
}

async function withTakenPort<T>(use: (port: number) => Promise<T>): Promise<T> {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  try {
    return await use((blocker.address() as AddressInfo).port);
  } finally {
    blocker.close();
  }
}

test('sealbox kms: serves, stops cleanly on SIGTERM', async () => {
  const r = await run(['kms', '--port', '0', '--data', join(dir, 'kms')], /endpoint\s+(http:\/\/\S+)/);
  assert.ok(r.url, r.out + r.err);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /sealbox kms: SIGTERM, shutting down/);
  assert.match(r.err, /sealbox kms: stopped\./);
});

test('sealbox proxy: serves, stops cleanly on SIGTERM', async () => {
  const r = await run(['proxy', '--config', await proxyConfig(), '--port', '0'], /Sealbox proxy: (http:\/\/\S+)/);
  assert.ok(r.url, r.out + r.err);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /sealbox proxy: stopped\./);
});

test('a port that is taken: a one-line error and exit 1, for kms and proxy alike', async () => {
  const config = await proxyConfig();
  await withTakenPort(async (port) => {
    for (const args of [['kms', '--data', join(dir, 'kms-taken')], ['proxy', '--config', config]]) {
      const r = await run([...args, '--port', String(port)]);
      assert.equal(r.code, 1, r.err);
      // (A first start of the KMS may warn about its new root key first.)
      assert.equal(r.err.trimEnd().split('\n').at(-1), `sealbox ${args[0]}: port ${port} on 127.0.0.1 is already in use; pick another with --port`);
    }
  });
});

test('a bad --port is a usage error (exit 2) with the same words in every command', async () => {
  for (const args of [['kms'], ['proxy', '--config', 'unused.json'], ['start']]) {
    for (const bad of ['70000', 'abc', '-1', '1e3']) {
      const r = await run([...args, `--port=${bad}`]);
      assert.equal(r.code, 2, `${args[0]} --port=${bad}: ${r.err}`);
      assert.equal(r.err, `sealbox ${args[0]}: --port must be a number from 0 to 65535 (got '${bad}')\n`);
    }
  }
});
