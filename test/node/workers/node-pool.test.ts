// sealbox/node's NodeWorkerPool: the Worker engine on real worker_threads. The Worker engine's shared
// cases (test/suite/workers.ts, the ones real browsers run) run against it, with node:crypto inside
// the threads; then what is Node's own: batches leave this thread (their buffers are transferred),
// useNodeWorkers() makes `workers: n | 'auto'` start threads, uploadEncrypted through threads writes
// the bytes of encrypt(), and an idle pool does not keep the process alive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { NodeWorkerPool, useNodeWorkers } from '../../../src/node/crypto/index.js';
import { threadExecArgv } from '../../../src/node/workers/pool.js';
import { encrypt } from '../../../src/index.js';
import { resolveEngine } from '../../../src/sdk/payload/engine.js';
import { deriveMessageKeys } from '../../../src/sdk/payload/cobblestone.js';
import { uploadEncrypted } from '../../../src/sdk/storage/upload.js';
import type { MultipartTarget, UploadedPart } from '../../../src/sdk/storage/target.js';
import { workerCases } from '../../suite/workers.js';
import { SALT, fixedKeyring } from '../../suite/streams.js';
import { pattern } from '../../suite/harness.js';

const pool = new NodeWorkerPool({ size: 2 });
const fresh: NodeWorkerPool[] = [];
after(() => {
  pool.terminate();
  for (const p of fresh) p.terminate();
  useNodeWorkers(false);
});

useNodeWorkers();
const env = { runtime: 'node' as const, readText: async () => '' };
for (const testCase of workerCases(() => ({ engine: pool, numbers: true, fresh: () => (fresh.push(new NodeWorkerPool({ size: 2 })), fresh.at(-1)!) }))) {
  test(`node pool: ${testCase.name}`, { skip: testCase.skip?.(env) }, () => testCase.run(env));
}

test('node pool: a batch runs in another thread (its buffer is transferred away) and comes back sealed', async () => {
  const keys = await deriveMessageKeys(new Uint8Array(32).fill(1), SALT, new Uint8Array(0));
  const data = pattern(64 * 16384, 3) as Uint8Array<ArrayBuffer>;
  const expected = await encrypt(pattern(64 * 16384, 3), { keyring: fixedKeyring(), salt: SALT });
  assert.ok(expected.length > 0);
  const sealed = await pool.run({ op: 'seal', keys, chunkSize: 16384, first: 0, data, final: false });
  assert.equal(data.byteLength, 0, 'the input buffer was transferred to the thread');
  assert.equal(sealed.length, 64 * (16384 + 16));
  const opened = await pool.run({ op: 'open', keys, chunkSize: 16384, first: 0, data: sealed as Uint8Array<ArrayBuffer>, final: false });
  assert.deepEqual(opened, pattern(64 * 16384, 3));
  assert.equal(pool.pending, 0);
});

test('node pool: useNodeWorkers() makes workers: n and auto start a NodeWorkerPool, ended after the operation; off again, they run in-thread', async () => {
  const keys = await deriveMessageKeys(new Uint8Array(32).fill(1), SALT, new Uint8Array(0));
  for (const workers of [3, 'auto'] as const) {
    const resolved = await resolveEngine({ workers }, keys);
    assert.ok(resolved?.engine instanceof NodeWorkerPool);
    if (workers === 3) assert.equal(resolved.engine.size, 3);
    resolved.release();
    assert.equal((resolved.engine as NodeWorkerPool).terminated, true);
  }
  useNodeWorkers(false);
  try {
    assert.equal(await resolveEngine({ workers: 2 }, keys), undefined);
  } finally {
    useNodeWorkers();
  }
  assert.throws(() => new NodeWorkerPool({ size: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => new NodeWorkerPool({ size: 65 }), { code: 'ERR_INVALID_ARGUMENT' });
});

test('node pool: uploadEncrypted through worker threads writes the bytes of encrypt()', async () => {
  const keyring = fixedKeyring();
  const plaintext = pattern(11 * 1024 * 1024 + 777, 8);
  const parts = new Map<number, Uint8Array>();
  let object: Uint8Array | undefined;
  const target: MultipartTarget = {
    create: async () => 'u',
    uploadPart: async (_id, n, body) => (parts.set(n, body.slice()), `"${n}"`),
    complete: async (_id, list: UploadedPart[]) => {
      object = new Uint8Array(list.reduce((sum, p) => sum + parts.get(p.partNumber)!.length, 0));
      let at = 0;
      for (const p of list) (object.set(parts.get(p.partNumber)!, at), (at += parts.get(p.partNumber)!.length));
    },
    abort: async () => {},
    listParts: async () => [],
  };
  await uploadEncrypted(new Blob([plaintext as Uint8Array<ArrayBuffer>]), { keyring, salt: SALT, target, partSize: 5 * 1024 * 1024, workers: pool });
  assert.deepEqual(object, await encrypt(plaintext, { keyring, salt: SALT }));
});

test('node pool: a pool left running (no terminate) does not keep the process from exiting', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-pool-'));
  try {
    const script = join(dir, 'left-running.mts');
    const src = (path: string) => JSON.stringify(new URL(`../../../src/${path}`, import.meta.url).href);
    await writeFile(
      script,
      `import { NodeWorkerPool } from ${src('node/crypto/index.ts')};
import { encrypt, RawAesKeyring } from ${src('index.ts')};
const pool = new NodeWorkerPool({ size: 2 });
const sealed = await encrypt(new Uint8Array(3 << 20), { keyring: new RawAesKeyring({ keyName: 'k', key: new Uint8Array(32) }), workers: pool });
console.log('sealed', sealed.length);
`,
    );
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    clearTimeout(timer);
    assert.equal(signal, null, `the process had to be killed: ${out}`);
    assert.equal(code, 0, out);
    assert.match(out, /^sealed \d+/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('node pool: threads inherit the Node flags but not the entry-point ones (a `node --input-type=module -e` script could start no thread)', () => {
  assert.deepEqual(threadExecArgv(['--input-type=module', '-e', 'code', '--max-old-space-size=100']), ['--max-old-space-size=100']);
  assert.deepEqual(threadExecArgv(['--import', 'tsx', '--input-type', 'module', '--eval', 'x', '-p', 'y', '--print=z']), ['--import', 'tsx']);
  assert.deepEqual(threadExecArgv([]), []);
});
