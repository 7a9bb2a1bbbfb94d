// Persistence: restart keeps everything; corrupt or foreign stores refuse to load; SIGKILL at any
// moment in a create/rotate loop loses no acknowledged key.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  KMSClient,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import { createLocalKms, StoreError } from '../../../src/node/kms/index.js';
import { ROOT_KEY, startHarness, tempDir } from './helpers.js';

test('keys, versions, aliases and policies survive a restart; nothing secret is in plaintext on disk', async () => {
  const dir = await tempDir();
  let h = await startHarness({ dataDir: dir });
  const id = (await h.client.send(new CreateKeyCommand({ Description: 'durable' }))).KeyMetadata!.KeyId!;
  await h.client.send(new CreateAliasCommand({ AliasName: 'alias/durable', TargetKeyId: id }));
  const blob1 = (await h.client.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array([1, 2, 3]) }))).CiphertextBlob!;
  await h.client.send(new RotateKeyOnDemandCommand({ KeyId: id }));
  const blob2 = (await h.client.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array([4]) }))).CiphertextBlob!;
  const creds = h.server.credentials;
  await h.close();
  h = await startHarness({ dataDir: dir });
  try {
    assert.deepEqual(h.server.credentials, creds, 'generated credentials are kept per data dir');
    assert.equal((await h.client.send(new DescribeKeyCommand({ KeyId: 'alias/durable' }))).KeyMetadata!.Description, 'durable');
    assert.deepEqual([...(await h.client.send(new DecryptCommand({ CiphertextBlob: blob1 }))).Plaintext!], [1, 2, 3]);
    assert.deepEqual([...(await h.client.send(new DecryptCommand({ CiphertextBlob: blob2 }))).Plaintext!], [4]);
    const keyDir = join(dir, 'keys', 'us-east-1', '111122223333');
    const files = await readdir(keyDir);
    assert.deepEqual(files, [`${id}.key`]);
    const text = await readFile(join(keyDir, files[0]!), 'utf8');
    assert.ok(!text.includes('durable'), 'key records are encrypted at rest');
    assert.equal((await stat(join(keyDir, files[0]!))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'credentials.json'))).mode & 0o777, 0o600);
  } finally {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a root.key is created 0600 with a warning when no root key is given', async () => {
  const dir = await tempDir();
  const warnings: string[] = [];
  const kms = await createLocalKms({ dataDir: dir, env: {}, log: (m) => warnings.push(m), audit: false });
  await kms.close();
  assert.equal((await stat(join(dir, 'root.key'))).mode & 0o777, 0o600);
  assert.ok(warnings.some((w) => /development only/.test(w)));
  // Reopening uses it, silently.
  const again = await createLocalKms({ dataDir: dir, env: {}, log: (m) => warnings.push(m), audit: false });
  await again.close();
  assert.equal(warnings.length, 1);
  // A different root key is refused.
  await assert.rejects(createLocalKms({ dataDir: dir, env: { SEALBOX_ROOT_KEY: ROOT_KEY }, audit: false }), (e: unknown) => e instanceof StoreError && /different root key/.test((e as Error).message));
  await rm(dir, { recursive: true, force: true });
});

test('corrupt and foreign stores fail to load with a clear error and are left untouched', async () => {
  const dir = await tempDir();
  const h = await startHarness({ dataDir: dir });
  const id = (await h.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  await h.close();
  const keyFile = join(dir, 'keys', 'us-east-1', '111122223333', `${id}.key`);
  const original = await readFile(keyFile, 'utf8');
  const open = () => createLocalKms({ dataDir: dir, rootKey: ROOT_KEY, env: {}, audit: false, log: () => {} });

  // Flip one byte of the sealed data.
  const parsed = JSON.parse(original);
  const data = Buffer.from(parsed.data, 'base64');
  data[5]! ^= 1;
  await writeFile(keyFile, JSON.stringify({ ...parsed, data: data.toString('base64') }));
  await assert.rejects(open(), (e: unknown) => e instanceof StoreError && (e as Error).message.includes(keyFile));
  // Truncated file.
  await writeFile(keyFile, original.slice(0, 20));
  await assert.rejects(open(), StoreError);
  // A key file renamed to another id does not load either (AAD binds the id).
  await writeFile(keyFile, original);
  const renamed = join(dir, 'keys', 'us-east-1', '111122223333', '00000000-0000-4000-8000-000000000000.key');
  await writeFile(renamed, original);
  await assert.rejects(open(), StoreError);
  await rm(renamed);
  // Corrupt store marker.
  const marker = await readFile(join(dir, 'store.json'), 'utf8');
  await writeFile(join(dir, 'store.json'), '{"format":"something-else"}');
  await assert.rejects(open(), (e: unknown) => e instanceof StoreError && /not a Sealbox KMS store/.test((e as Error).message));
  await writeFile(join(dir, 'store.json'), marker);
  // Corrupt alias file.
  await mkdir(join(dir, 'aliases', 'us-east-1'), { recursive: true });
  await writeFile(join(dir, 'aliases', 'us-east-1', '111122223333.json'), '{oops');
  await assert.rejects(open(), StoreError);
  await rm(join(dir, 'aliases', 'us-east-1', '111122223333.json'));
  // Repaired: loads again, and the original key file was never replaced.
  const kms = await open();
  await kms.close();
  assert.equal(await readFile(keyFile, 'utf8'), original);

  // A foreign directory is refused, not initialised over.
  const foreign = await tempDir();
  await writeFile(join(foreign, 'notes.txt'), 'mine');
  await assert.rejects(
    createLocalKms({ dataDir: foreign, rootKey: ROOT_KEY, env: {}, audit: false }),
    (e: unknown) => e instanceof StoreError && /not a Sealbox KMS data directory/.test((e as Error).message),
  );
  assert.deepEqual(await readdir(foreign), ['notes.txt']);
  await rm(dir, { recursive: true, force: true });
  await rm(foreign, { recursive: true, force: true });
});

// ── crash test ───────────────────────────────────────────────────────────────────────────────────

const env = {
  ...process.env,
  SEALBOX_ROOT_KEY: ROOT_KEY,
  SEALBOX_KMS_ACCESS_KEY_ID: 'AKIACRASHTEST000000',
  SEALBOX_KMS_SECRET_ACCESS_KEY: 'crash-test-secret',
  NODE_NO_WARNINGS: '1',
};

/** A KMS child with its modules already loaded, waiting for its data dir on stdin. */
function spareServer(): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/kms/server.ts'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
}

async function startOn(child: ChildProcess, dir: string): Promise<{ child: ChildProcess; url: string }> {
  const line = new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before listening`)));
  });
  child.stdin!.end(`${dir}\n`);
  return { child, url: (JSON.parse(await line) as { url: string }).url };
}

function client(url: string): KMSClient {
  return new KMSClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: env.SEALBOX_KMS_ACCESS_KEY_ID, secretAccessKey: env.SEALBOX_KMS_SECRET_ACCESS_KEY },
    maxAttempts: 1,
  });
}

test('SIGKILL in the middle of a create/rotate loop, 12 times: every acknowledged key is back and decrypts', { timeout: 300_000 }, async () => {
  const dir = await tempDir('sealbox-kms-crash-');
  const acked: Array<{ keyId: string; blobs: Array<{ blob: Uint8Array; byte: number }> }> = [];
  let counter = 0;
  try {
    let spare = spareServer();
    for (let round = 0; round < 12; round++) {
      const { child, url } = await startOn(spare, dir);
      spare = spareServer();
      const kms = client(url);
      const exited = new Promise((r) => child.once('exit', r));
      // Run the loop in several concurrent lanes; kill after a random delay, mid-flight.
      let dead = false;
      const lane = async () => {
        while (!dead) {
          try {
            const created = await kms.send(new CreateKeyCommand({}));
            const entry = { keyId: created.KeyMetadata!.KeyId!, blobs: [] as Array<{ blob: Uint8Array; byte: number }> };
            acked.push(entry);
            for (let r = 0; r < 2 && !dead; r++) {
              const byte = counter++ % 256;
              const e = await kms.send(new EncryptCommand({ KeyId: entry.keyId, Plaintext: new Uint8Array([byte]) }));
              entry.blobs.push({ blob: e.CiphertextBlob!, byte });
              await kms.send(new RotateKeyOnDemandCommand({ KeyId: entry.keyId }));
            }
          } catch {
            return; // the server died mid-request: that request was never acknowledged
          }
        }
      };
      const before = acked.length;
      const lanes = [lane(), lane(), lane()];
      // Kill at a random moment once this round has made progress (robust on a loaded machine).
      const started = Date.now();
      while (acked.length === before && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, Math.random() * 250));
      child.kill('SIGKILL');
      dead = true;
      await exited;
      await Promise.all(lanes);
      kms.destroy();
    }
    assert.ok(acked.length >= 12, `only ${acked.length} keys were acknowledged`);
    const { child, url } = await startOn(spare, dir);
    const kms = client(url);
    try {
      for (const { keyId, blobs } of acked) {
        const md = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
        assert.equal(md.KeyMetadata!.KeyState, 'Enabled');
        for (const { blob, byte } of blobs) {
          const d = await kms.send(new DecryptCommand({ CiphertextBlob: blob }));
          assert.deepEqual([...d.Plaintext!], [byte]);
        }
      }
    } finally {
      kms.destroy();
      child.kill('SIGKILL');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a first start interrupted before store.json was written can be completed; the same root key is kept', async () => {
  const dir = await tempDir();
  const kms = await createLocalKms({ dataDir: dir, env: {}, log: () => {}, audit: false });
  const creds = kms.credentials;
  await kms.close();
  const rootKey = await readFile(join(dir, 'root.key'), 'utf8');
  await rm(join(dir, 'store.json'));
  const again = await createLocalKms({ dataDir: dir, env: {}, log: () => {}, audit: false });
  await again.close();
  assert.deepEqual(again.credentials, creds);
  assert.equal(await readFile(join(dir, 'root.key'), 'utf8'), rootKey);
  await rm(dir, { recursive: true, force: true });
});
