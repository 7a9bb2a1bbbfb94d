// The audit trail: hash chain (runtime-agnostic), the KMS's file sink, and `sealbox audit verify`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { CreateKeyCommand, DecryptCommand, GenerateDataKeyCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { AuditChain, GENESIS_HASH, toHex, verifyAuditChain } from '../../../src/edge/audit/chain.js';
import { AuditFile } from '../../../src/node/kms/audit-file.js';
import { nodeSha256, nodeSha256Hex } from '../../../src/node/kms/node-crypto.js';
import { startHarness, tempDir } from './helpers.js';

const run = promisify(execFile);

async function chainOf(n: number): Promise<string[]> {
  const chain = new AuditChain();
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(await chain.append({ eventName: 'Decrypt', n: i, note: `a "quoted" ${i}\n` }));
  return lines;
}

describe('hash chain', () => {
  test('a fresh chain verifies; each line holds the previous line hash', async () => {
    const lines = await chainOf(5);
    const r = await verifyAuditChain(lines);
    assert.deepEqual(r.ok && r.count, 5);
    assert.equal(JSON.parse(lines[0]!).prevHash, GENESIS_HASH);
    assert.equal(JSON.parse(lines[1]!).prevHash, JSON.parse(lines[0]!).hash);
    assert.deepEqual(await verifyAuditChain([]), { ok: true, count: 0, lastHash: GENESIS_HASH });
  });

  test('edits, deletions, insertions and reorders are reported at the first bad line', async () => {
    const lines = await chainOf(6);
    const edited = [...lines];
    edited[2] = edited[2]!.replace('"n":2', '"n":7');
    assert.deepEqual(await verifyAuditChain(edited), { ok: false, count: 2, line: 3, reason: 'hash does not match the line (edited)' });
    const deleted = lines.filter((_, i) => i !== 3);
    const d = await verifyAuditChain(deleted);
    assert.equal(!d.ok && d.line, 4);
    const swapped = [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)];
    const s = await verifyAuditChain(swapped);
    assert.equal(!s.ok && s.line, 2);
    const inserted = [...lines.slice(0, 2), lines[0]!, ...lines.slice(2)];
    const ins = await verifyAuditChain(inserted);
    assert.equal(!ins.ok && ins.line, 3);
    const garbage = [...lines.slice(0, 4), 'not json'];
    const g = await verifyAuditChain(garbage);
    assert.equal(!g.ok && g.line, 5);
    // Recomputing an edited line's own hash is caught by the next line's link.
    const rechained = await (async () => {
      const c = new AuditChain(JSON.parse(lines[1]!).hash);
      const forged = await c.append({ eventName: 'Decrypt', n: 99, note: 'forged' });
      return [lines[0]!, lines[1]!, forged, ...lines.slice(3)];
    })();
    const rc = await verifyAuditChain(rechained);
    assert.equal(!rc.ok && rc.line, 4);
  });

  test('appendSync with a hex SHA-256 writes the same lines as the WebCrypto chain', async () => {
    const expected = await chainOf(4);
    const sync = new AuditChain(GENESIS_HASH, nodeSha256, nodeSha256Hex);
    const bytesOnly = new AuditChain(GENESIS_HASH, nodeSha256);
    for (let i = 0; i < 4; i++) {
      const record = { eventName: 'Decrypt', n: i, note: `a "quoted" ${i}\n` };
      assert.equal(sync.appendSync(record), expected[i]);
      assert.equal(bytesOnly.appendSync(record), expected[i]);
    }
    assert.equal(toHex(new Uint8Array([0, 1, 15, 16, 171, 255])), '00010f10abff');
  });

  test('each line is JSON.stringify({ ...record, prevHash }) plus its hash, for any record shape', async () => {
    class Event {
      eventName = 'FromClass';
      toJSON() {
        return { eventName: 'viaToJSON' };
      }
    }
    const records: Array<Record<string, unknown>> = [
      { eventName: 'Decrypt', userIdentity: { arn: 'arn:aws:iam::111122223333:root' }, encryptionContext: { 'é': '\u2028"\\' } },
      {},
      { only: undefined },
      { a: undefined, b: 1 },
      { 2: 'integer keys first', z: 1, 1: 'one' },
      JSON.parse('{"__proto__":"own","x":1}') as Record<string, unknown>,
      Object.assign(Object.create(null) as Record<string, unknown>, { nullProto: true }),
      new Event() as unknown as Record<string, unknown>,
      { toJSON: () => ({ replaced: true }) },
    ];
    for (const [i, sha256] of [[0, undefined], [1, nodeSha256]] as const) {
      const chain = new AuditChain(GENESIS_HASH, sha256, i === 1 ? nodeSha256Hex : undefined);
      for (const record of records) {
        const prevHash = chain.lastHash;
        const line = i === 0 ? await chain.append(record) : chain.appendSync(record);
        const expected = JSON.stringify({ ...record, prevHash });
        assert.equal(line.slice(0, line.lastIndexOf(',"hash":"')) + '}', expected);
      }
    }
  });

  test('file sink: group commit, chain continues across reopen, a torn last line is cut', async () => {
    const dir = await tempDir();
    const path = join(dir, 'audit.log');
    let sink = await AuditFile.open(path);
    await Promise.all(Array.from({ length: 50 }, (_, i) => sink.record({ eventName: 'X', i })));
    await sink.close();
    await appendFile(path, '{"eventName":"torn"');
    const warnings: string[] = [];
    sink = await AuditFile.open(path, (m) => warnings.push(m));
    await sink.record({ eventName: 'after' });
    await sink.close();
    assert.equal(warnings.length, 1);
    const lines = (await readFile(path, 'utf8')).split('\n');
    const r = await verifyAuditChain(lines);
    assert.ok(r.ok);
    assert.equal(r.count, 51);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('KMS audit trail and `sealbox audit verify`', () => {
  test('every call is recorded with CloudTrail-like fields and no secrets; verify passes, then catches an edit', { timeout: 300_000 }, async () => {
    const dir = await tempDir();
    const h2 = await startHarness({ dataDir: dir });
    const id = (await h2.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const gd = await h2.client.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256', EncryptionContext: { tenant: 'acme' } }));
    await h2.client.send(new DecryptCommand({ CiphertextBlob: gd.CiphertextBlob, EncryptionContext: { tenant: 'acme' } }));
    await h2.client.send(new DecryptCommand({ CiphertextBlob: gd.CiphertextBlob, EncryptionContext: { tenant: 'evil' } })).catch(() => {});
    await h2.clientFor({ secretAccessKey: 'wrong' }).send(new ListKeysCommand({})).catch(() => {});
    await h2.close();
    const auditPath = join(dir, 'audit.log');
    const text = await readFile(auditPath, 'utf8');
    const records = text.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => `${r.eventName}:${r.outcome}`), [
      'CreateKey:success',
      'GenerateDataKey:success',
      'Decrypt:success',
      'Decrypt:failure',
      'ListKeys:failure',
    ]);
    const gdk = records[1];
    for (const field of ['eventTime', 'requestId', 'eventName', 'awsRegion', 'recipientAccountId', 'userIdentity', 'keyId', 'outcome', 'prevHash', 'hash']) {
      assert.ok(field in gdk, field);
    }
    assert.deepEqual(gdk.encryptionContext, { tenant: 'acme' });
    assert.equal(gdk.keyId, `arn:aws:kms:us-east-1:111122223333:key/${id}`);
    assert.equal(records[3].errorCode, 'InvalidCiphertextException');
    assert.equal(records[4].errorCode, 'InvalidSignatureException');
    // No secrets: plaintext data key, blob, secret key never appear.
    assert.ok(!text.includes(Buffer.from(gd.Plaintext!).toString('base64')));
    assert.ok(!text.includes(Buffer.from(gd.CiphertextBlob!).toString('base64')));
    assert.ok(!text.includes(h2.server.credentials.secretAccessKey));

    const cli = (args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'test/fixtures/kms/cli.ts', ...args], { env: { ...process.env, NODE_NO_WARNINGS: '1' } }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );
    const ok = await cli(['audit', 'verify', auditPath]);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /^ok, 5 records/);
    const tail = await cli(['audit', 'tail', auditPath, '-n', '2']);
    assert.equal(tail.code, 0);
    assert.equal(tail.stdout.trim().split('\n').length, 2);
    const lines = text.split('\n');
    lines[2] = lines[2]!.replace('"outcome":"success"', '"outcome":"failure"');
    await writeFile(auditPath, lines.join('\n'));
    const bad = await cli(['audit', 'verify', auditPath]);
    assert.equal(bad.code, 4);
    assert.match(bad.stderr, /audit\.log:3: /);
    const help = await cli(['kms', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--seed/);
    await rm(dir, { recursive: true, force: true });
  });
});
