// `sealbox kms` with its ops endpoints: --metrics-token-env, the probes, --no-health. From source, as in serve.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
let dir: string;
let script: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealbox-cli-kms-ops-'));
  script = join(dir, 'main.mts');
  await writeFile(script, `import { main } from ${JSON.stringify(join(ROOT, 'src/node/cli/main.ts'))};\nprocess.exitCode = await main(process.argv.slice(2));\n`);
});
after(() => rm(dir, { recursive: true, force: true }));

/** Starts `sealbox kms`, runs `use` with its URL, then SIGTERM; resolves with the exit code and output. */
function withKms(args: string[], env: Record<string, string>, use: (url: string, out: string) => Promise<void>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, 'kms', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    let started = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      const m = /endpoint\s+(http:\/\/\S+)[\s\S]*AWS_ENDPOINT_URL_KMS/.exec(out);
      if (m && !started) {
        started = true;
        use(m[1]!, out).then(() => child.kill('SIGTERM'), (e) => (child.kill('SIGTERM'), reject(e)));
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

test('sealbox kms --metrics-token-env: /metrics needs the token; the probes answer; the banner names them', async () => {
  const r = await withKms(['--data', join(dir, 'a'), '--metrics-token-env', 'KMS_METRICS_TOKEN'], { KMS_METRICS_TOKEN: 'tok-123' }, async (url, out) => {
    assert.match(out, new RegExp(`ops\\s+${url}/healthz ${url}/readyz ${url}/metrics \\(bearer token\\)`));
    assert.equal((await fetch(`${url}/metrics`)).status, 401);
    const m = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer tok-123' } });
    assert.equal(m.status, 200);
    assert.match(await m.text(), /# TYPE sealbox_requests_total counter/);
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(Object.keys(((await ready.json()) as { checks: object }).checks), ['store', 'audit']);
  });
  assert.equal(r.code, 0, r.err);
});

test('sealbox kms --no-health: no probes, no metrics (off by default)', async () => {
  const r = await withKms(['--data', join(dir, 'b'), '--no-health'], {}, async (url, out) => {
    assert.doesNotMatch(out, /ops\s+http/);
    assert.notEqual((await fetch(`${url}/healthz`)).status, 200);
    assert.notEqual((await fetch(`${url}/metrics`)).status, 200);
  });
  assert.equal(r.code, 0, r.err);
});

test('sealbox kms --metrics-token-env with the variable unset is a usage error', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', script, 'kms', '--port', '0', '--data', join(dir, 'c'), '--metrics-token-env', 'SEALBOX_NOT_SET_ANYWHERE'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d));
  const code = await new Promise((r) => child.on('close', r));
  assert.equal(code, 2);
  assert.match(err, /--metrics-token-env SEALBOX_NOT_SET_ANYWHERE: the variable is not set/);
});
