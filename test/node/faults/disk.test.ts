// The disk fills up under the local KMS: a small tmpfs mounted over its data dir (needs root and
// mount(8); the test is skipped otherwise), filled to the last byte. Changes (CreateKey, rotation,
// aliases, descriptions, policies) are refused with a clear error, nothing is acknowledged that is
// not stored, reads keep being served when the audit trail lives on another disk, and nothing
// stored before is damaged: after space is freed and the KMS restarted, every key, alias and
// ciphertext is intact and the audit hash chain verifies.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, writeSync, closeSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyAuditChain } from '../../../src/edge/audit/chain.js';
import { nodeSha256 } from '../../../src/node/kms/audit-file.js';
import { createLocalKms, type LocalKms } from '../../../src/node/kms/index.js';
import { sign } from '../../fuzz/sign.js';

const CREDS = { accessKeyId: 'AKIADISKFAULTS000001', secretAccessKey: 'disk-faults-secret-0123456789abcdefghij' };
const ROOT_KEY = Buffer.alloc(32, 6).toString('base64');

function tryMount(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function umount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {}
}

async function call(kms: LocalKms, op: string, body: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const s = sign({
    method: 'POST',
    url: 'http://kms.disk.local/',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}` },
    body: JSON.stringify(body),
    ...CREDS,
    region: 'us-east-1',
    service: 'kms',
    time: Date.now(),
  });
  const res = await kms.fetch(new Request(s.url, { method: 'POST', headers: s.headers, body: s.body }));
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** Fills the file system holding `dir` to the last byte; returns the filler's path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (let size = block.length; size >= 1; ) {
      try {
        writeSync(fd, block, 0, size);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        size = Math.floor(size / 2);
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

interface Stored {
  keys: string[];
  blobs: Array<{ blob: string; plaintext: string }>;
}

async function populate(kms: LocalKms): Promise<Stored> {
  const keys: string[] = [];
  const blobs: Stored['blobs'] = [];
  for (let i = 0; i < 3; i++) {
    const r = await call(kms, 'CreateKey', { Description: `before ${i}` });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    keys.push(r.json.KeyMetadata.KeyId);
    assert.equal((await call(kms, 'RotateKeyOnDemand', { KeyId: r.json.KeyMetadata.KeyId })).status, 200);
    const plaintext = Buffer.from(`secret ${i}`).toString('base64');
    const e = await call(kms, 'Encrypt', { KeyId: r.json.KeyMetadata.KeyId, Plaintext: plaintext });
    blobs.push({ blob: e.json.CiphertextBlob, plaintext });
  }
  assert.equal((await call(kms, 'CreateAlias', { AliasName: 'alias/before', TargetKeyId: keys[0] })).status, 200);
  return { keys, blobs };
}

async function checkIntact(kms: LocalKms, stored: Stored): Promise<void> {
  for (const keyId of stored.keys) {
    const d = await call(kms, 'DescribeKey', { KeyId: keyId });
    assert.equal(d.status, 200, JSON.stringify(d.json));
    assert.equal(d.json.KeyMetadata.KeyState, 'Enabled');
    assert.match(d.json.KeyMetadata.Description, /^before /);
  }
  for (const { blob, plaintext } of stored.blobs) {
    const r = await call(kms, 'Decrypt', { CiphertextBlob: blob });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.Plaintext, plaintext);
  }
  assert.equal((await call(kms, 'DescribeKey', { KeyId: 'alias/before' })).json.KeyMetadata.KeyId, stored.keys[0]);
}

/** Every change an operator or client may attempt, each against the full disk. */
function changes(stored: Stored): Array<[string, Record<string, unknown>]> {
  return [
    ['CreateKey', { Description: 'during' }],
    ['RotateKeyOnDemand', { KeyId: stored.keys[1] }],
    ['CreateAlias', { AliasName: 'alias/during', TargetKeyId: stored.keys[1] }],
    ['UpdateKeyDescription', { KeyId: stored.keys[2], Description: 'during' }],
    ['DisableKey', { KeyId: stored.keys[2] }],
    ['TagResource', { KeyId: stored.keys[2], Tags: [{ TagKey: 'k', TagValue: 'v'.repeat(200) }] }],
  ];
}

for (const auditElsewhere of [true, false]) {
  test(`disk full under the KMS (audit ${auditElsewhere ? 'on another disk' : 'in the data dir'}): changes refused clearly, reads ${auditElsewhere ? 'served' : 'refused while unauditable'}, nothing damaged`, { timeout: 60_000 }, async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'sealbox-faults-disk-'));
    const mnt = join(base, 'mnt');
    mkdirSync(mnt);
    if (!tryMount(mnt, '2m')) {
      await rm(base, { recursive: true, force: true });
      t.skip('cannot mount a tmpfs (needs root): disk-full not simulated');
      return;
    }
    const dataDir = join(mnt, 'kms');
    const auditPath = auditElsewhere ? join(base, 'audit.log') : join(dataDir, 'audit.log');
    const open = () => createLocalKms({ dataDir, rootKey: ROOT_KEY, env: {}, log: () => {}, credentials: [CREDS], audit: auditPath });
    let kms: LocalKms | undefined;
    const errors: string[] = [];
    const origError = console.error;
    console.error = (...args: unknown[]) => void errors.push(args.map(String).join(' '));
    try {
      kms = await open();
      const stored = await populate(kms);
      const filler = fill(mnt);

      for (const [op, body] of changes(stored)) {
        const r = await call(kms, op, body);
        assert.notEqual(r.status, 200, `${op} was acknowledged on a full disk`);
        assert.equal(typeof r.json.__type, 'string');
        // A clear error: says the change could not be stored, and why.
        assert.match(`${r.json.__type}: ${r.json.message}`, /no space|ENOSPC|disk|could not be (stored|saved|written)/i, `${op}: ${JSON.stringify(r.json)}`);
      }
      if (auditElsewhere) {
        // Reads and data-key calls keep working: they change nothing on the full disk.
        await checkIntact(kms, stored);
        const g = await call(kms, 'GenerateDataKey', { KeyId: stored.keys[0], KeySpec: 'AES_256' });
        assert.equal(g.status, 200, JSON.stringify(g.json));
      } else {
        // The audit trail cannot grow: answers are refused (fail closed) with a clear error rather than given unaudited.
        const r = await call(kms, 'Decrypt', { CiphertextBlob: stored.blobs[0]!.blob });
        if (r.status !== 200) assert.match(`${r.json.__type}: ${r.json.message}`, /audit|no space|ENOSPC|disk/i, JSON.stringify(r.json));
      }

      // Space comes back: the same KMS accepts changes again.
      rmSync(filler);
      const c = await call(kms, 'CreateKey', { Description: 'after' });
      assert.equal(c.status, 200, JSON.stringify(c.json));
      await kms.close();
      kms = undefined;

      // Nothing already stored was damaged: a fresh start loads the store, and everything is there.
      assert.deepEqual(readdirSync(dataDir).filter((n) => n.includes('.tmp-')), []);
      kms = await open();
      await checkIntact(kms, stored);
      assert.equal((await call(kms, 'DescribeKey', { KeyId: c.json.KeyMetadata.KeyId })).status, 200);
      await kms.close();
      kms = undefined;
      const text = await readFile(auditPath, 'utf8');
      const chain = await verifyAuditChain(text.split('\n'), nodeSha256);
      assert.ok(chain.ok, chain.ok ? '' : `audit chain broken at line ${chain.line} of ${text.split('\n').length - 1}: ${chain.reason}`);
    } finally {
      console.error = origError;
      await kms?.close().catch(() => {});
      umount(mnt);
      await rm(base, { recursive: true, force: true });
    }
  });
}

test('disk full under the proxy’s audit file: answers are withheld, and the chain still verifies once space returns', { timeout: 60_000 }, async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'sealbox-faults-proxy-disk-'));
  const mnt = join(base, 'mnt');
  mkdirSync(mnt);
  if (!tryMount(mnt, '1m')) {
    await rm(base, { recursive: true, force: true });
    t.skip('cannot mount a tmpfs (needs root): disk-full not simulated');
    return;
  }
  const { createNodeProxy } = await import('../../../src/node/proxy/node.js');
  const { SignJWT } = await import('jose');
  const secret = 'disk-faults-jwt-secret-0123456789abcdef01234';
  const kms = await createLocalKms({ dataDir: join(base, 'kms'), rootKey: ROOT_KEY, env: {}, log: () => {}, credentials: [CREDS], audit: false, seed: { keys: [{ id: '0d0d0d0d-0d0d-4d0d-8d0d-0d0d0d0d0d0d', aliases: ['alias/disk'] }] } });
  const auditPath = join(mnt, 'proxy-audit.log');
  const { proxy, auditFile } = await createNodeProxy({
    upstream: { endpoint: 'http://kms.disk.local', region: 'us-east-1', credentials: CREDS, fetch: (input, init) => kms.fetch(new Request(input as Request, init)) },
    auth: { jwt: { secret, issuer: 'https://idp.disk/', audience: 'disk' } },
    policy: { Statement: [{ Effect: 'Allow', Principal: { AWS: 'jwt/*' }, Action: 'kms:GenerateDataKey', Resource: '*' }] },
    rateLimit: false,
    audit: { file: auditPath },
  });
  const token = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://idp.disk/').setAudience('disk').setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(secret));
  const gdk = async () => {
    const res = await proxy.fetch(
      new Request('http://proxy.disk/', {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.GenerateDataKey', authorization: `Bearer ${token}` },
        body: JSON.stringify({ KeyId: 'alias/disk', KeySpec: 'AES_256', EncryptionContext: { purpose: 'x'.repeat(300) } }),
      }),
    );
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  };
  const origError = console.error;
  console.error = () => {};
  try {
    for (let i = 0; i < 3; i++) assert.equal((await gdk()).status, 200);
    const filler = fill(mnt);
    let withheld = 0;
    for (let i = 0; i < 20; i++) {
      const r = await gdk();
      if (r.status === 200) continue; // the audit file's last page still had room for this line
      withheld++;
      assert.equal(r.json.__type, 'KMSInternalException');
      assert.equal(r.json.Plaintext, undefined);
    }
    assert.ok(withheld > 0, 'no answer was withheld on a full disk');
    rmSync(filler);
    for (let i = 0; i < 3; i++) assert.equal((await gdk()).status, 200);
    await auditFile!.close();
    const text = await readFile(auditPath, 'utf8');
    const chain = await verifyAuditChain(text.split('\n'), nodeSha256);
    assert.ok(chain.ok, chain.ok ? '' : `proxy audit chain broken at line ${chain.line}: ${chain.reason}`);
  } finally {
    console.error = origError;
    await auditFile?.close().catch(() => {});
    await kms.close();
    umount(mnt);
    await rm(base, { recursive: true, force: true });
  }
});
