/**
 * The CLI against a real local KMS over HTTP: `keys` management, encrypt/decrypt with KMS keys
 * (symmetric and RSA, several recipients, discovery decrypt), auth failures, and `rewrap`.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { EXIT, type Kms, fixtures, payloadOf, sealbox, startKms, workDir } from './helpers.js';

let w: Awaited<ReturnType<typeof workDir>>;
let f: Awaited<ReturnType<typeof fixtures>>;
let kms: Kms;

before(async () => {
  w = await workDir();
  f = await fixtures(w.dir);
  kms = await startKms();
});
after(async () => {
  await kms.close();
  await w.cleanup();
});

async function cli(args: string[], options: { input?: Uint8Array | string; env?: Record<string, string> } = {}) {
  return sealbox(args[0] === 'inspect' ? args : [...args, '--kms', kms.url], { ...options, env: { ...kms.env, ...options.env } });
}
async function ok(args: string[], input?: Uint8Array | string) {
  const r = await cli(args, input === undefined ? {} : { input });
  assert.equal(r.code, EXIT.OK, `sealbox ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}
const json = async (args: string[]) => JSON.parse((await ok([...args, '--json'])).stdout.toString());

let symmetric: string;
let rsa: string;

describe('keys', () => {
  test('create: symmetric and RSA, with aliases and a description', async () => {
    const sym = await json(['keys', 'create', '--alias', 'cli-sym', '--description', 'CLI test key']);
    assert.equal(sym.KeyMetadata.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(sym.KeyMetadata.Description, 'CLI test key');
    assert.equal(sym.AliasName, 'alias/cli-sym');
    symmetric = sym.KeyMetadata.KeyId;
    const pair = await json(['keys', 'create', '--spec', 'RSA_2048', '--alias', 'alias/cli-rsa']);
    assert.equal(pair.KeyMetadata.KeySpec, 'RSA_2048');
    assert.equal(pair.KeyMetadata.KeyUsage, 'ENCRYPT_DECRYPT');
    rsa = pair.KeyMetadata.KeyId;
    await json(['keys', 'create', '--alias', 'cli-other']);
  });

  test('list and describe', async () => {
    const list = await json(['keys', 'list']);
    const sym = list.Keys.find((k: { KeyId: string }) => k.KeyId === symmetric);
    assert.deepEqual(sym.Aliases, ['alias/cli-sym']);
    assert.equal(sym.KeyState, 'Enabled');
    assert.ok(list.Keys.some((k: { KeyId: string; KeySpec: string }) => k.KeyId === rsa && k.KeySpec === 'RSA_2048'));
    const human = (await ok(['keys', 'list'])).stdout.toString();
    assert.match(human, new RegExp(`${symmetric}\\s+Enabled\\s+SYMMETRIC_DEFAULT`));
    const described = await json(['keys', 'describe', 'alias/cli-sym']);
    assert.equal(described.KeyMetadata.KeyId, symmetric);
    assert.deepEqual(described.Aliases, ['alias/cli-sym']);
  });

  test('disable makes encryption fail with AUTH; enable restores it', async () => {
    await ok(['keys', 'disable', 'alias/cli-sym']);
    assert.equal((await json(['keys', 'describe', symmetric])).KeyMetadata.KeyState, 'Disabled');
    const r = await cli(['encrypt', '--key', 'alias/cli-sym', '-o', w.path('disabled.sbx'), f.plain]);
    assert.equal(r.code, EXIT.AUTH, r.stderr);
    assert.match(r.stderr, /ERR_KEY_DISABLED/);
    assert.equal((await w.files()).some((n) => n.includes('disabled.sbx')), false);
    await ok(['keys', 'enable', 'alias/cli-sym']);
    assert.equal((await json(['keys', 'describe', symmetric])).KeyMetadata.KeyState, 'Enabled');
  });

  test('alias: create, then point at another key', async () => {
    const created = await json(['keys', 'alias', 'cli-moving', symmetric]);
    assert.deepEqual([created.AliasName, created.TargetKeyId, created.Created], ['alias/cli-moving', symmetric, true]);
    const other = (await json(['keys', 'describe', 'alias/cli-other'])).KeyMetadata.KeyId;
    const updated = await json(['keys', 'alias', 'alias/cli-moving', 'alias/cli-other']);
    assert.deepEqual([updated.TargetKeyId, updated.Created], [other, false]);
    assert.equal((await json(['keys', 'describe', 'alias/cli-moving'])).KeyMetadata.KeyId, other);
  });

  test('policy get and put', async () => {
    const got = await json(['keys', 'policy', 'get', 'alias/cli-other']);
    assert.ok(Array.isArray(got.Policy.Statement));
    const policy = { ...got.Policy, Id: 'cli-test-policy' };
    await writeFile(w.path('policy.json'), JSON.stringify(policy));
    await ok(['keys', 'policy', 'put', 'alias/cli-other', w.path('policy.json')]);
    assert.deepEqual((await json(['keys', 'policy', 'get', 'alias/cli-other'])).Policy, policy);
    const notJson = await cli(['keys', 'policy', 'put', 'alias/cli-other', f.plain]);
    assert.equal(notJson.code, EXIT.USAGE);
  });

  test('schedule-deletion and cancel-deletion', async () => {
    const tooSoon = await cli(['keys', 'schedule-deletion', 'alias/cli-other', '--days', '3']);
    assert.equal(tooSoon.code, EXIT.USAGE);
    const scheduled = await json(['keys', 'schedule-deletion', 'alias/cli-other', '--days', '7']);
    assert.equal(scheduled.KeyState, 'PendingDeletion');
    assert.equal((await json(['keys', 'describe', 'alias/cli-other'])).KeyMetadata.KeyState, 'PendingDeletion');
    await ok(['keys', 'cancel-deletion', 'alias/cli-other']);
    assert.equal((await json(['keys', 'describe', 'alias/cli-other'])).KeyMetadata.KeyState, 'Disabled');
    await ok(['keys', 'enable', 'alias/cli-other']);
  });

  test('errors: unknown key → FAILURE, bad credentials → AUTH, no endpoint → USAGE', async () => {
    const missing = await cli(['keys', 'describe', 'alias/nope']);
    assert.equal(missing.code, EXIT.FAILURE);
    assert.match(missing.stderr, /ERR_NOT_FOUND/);
    const denied = await cli(['keys', 'list'], { env: { SEALBOX_KMS_SECRET_ACCESS_KEY: 'wrong' } });
    assert.equal(denied.code, EXIT.AUTH, denied.stderr);
    const noEndpoint = await sealbox(['keys', 'list']);
    assert.equal(noEndpoint.code, EXIT.USAGE);
    const unknown = await cli(['keys', 'frob']);
    assert.equal(unknown.code, EXIT.USAGE);
  });
});

describe('encrypt and decrypt with KMS keys', () => {
  test('symmetric key, with a context; decrypt by key or by discovery', async () => {
    await ok(['encrypt', '--key', 'alias/cli-sym', '--context', 'tenant=acme', '-o', w.path('kms.sbx'), f.plain]);
    const info = await json(['inspect', w.path('kms.sbx')]);
    assert.equal(info.recipients[0].type, 'kms');
    assert.match(info.recipients[0].keyId, new RegExp(`:key/${symmetric}$`));
    await ok(['decrypt', '--key', 'alias/cli-sym', '--expect-context', 'tenant=acme', '-o', w.path('kms.out'), w.path('kms.sbx')]);
    assert.deepEqual(await readFile(w.path('kms.out')), f.data);
    const discovered = await ok(['decrypt', w.path('kms.sbx')]);
    assert.deepEqual(discovered.stdout, f.data);
  });

  test('RSA KMS key through a pipe (wrapped offline with its public key)', async () => {
    const enc = await ok(['encrypt', '--key', 'alias/cli-rsa'], f.data);
    const info = JSON.parse((await ok(['inspect', '--json'], enc.stdout)).stdout.toString());
    assert.equal(info.recipients[0].type, 'rsa-oaep-256');
    const dec = await ok(['decrypt'], enc.stdout);
    assert.deepEqual(dec.stdout, f.data);
  });

  test('several recipients: a KMS key, an RSA public key and an AES key; each decrypts alone', async () => {
    await ok(['encrypt', '--key', 'alias/cli-sym', '--rsa-public', f.rsaPublic, '--aes-key', f.aes, '-o', w.path('multi.sbx'), f.plain]);
    const info = await json(['inspect', w.path('multi.sbx')]);
    assert.deepEqual(info.recipients.map((r: { type: string }) => r.type), ['kms', 'rsa-oaep-256', 'raw-aes-256-gcm']);
    for (const args of [['decrypt', '--key', 'alias/cli-sym'], ['decrypt', '--rsa-private', f.rsaPrivate], ['decrypt', '--aes-key', f.aes]]) {
      // Local keys need no KMS: run those without --kms.
      const r = args[1] === '--key' ? await cli([...args, w.path('multi.sbx')]) : await sealbox([...args, w.path('multi.sbx')]);
      assert.equal(r.code, EXIT.OK, r.stderr);
      assert.deepEqual(r.stdout, f.data);
    }
  });

  test('bad credentials → AUTH, and no output file', async () => {
    const r = await cli(['decrypt', '-o', w.path('denied.out'), w.path('kms.sbx')], { env: { SEALBOX_KMS_SECRET_ACCESS_KEY: 'wrong' } });
    assert.equal(r.code, EXIT.AUTH, r.stderr);
    assert.match(r.stderr, /ERR_ACCESS_DENIED/);
    assert.equal((await w.files()).some((n) => n.includes('denied.out')), false);
  });

  test('a KMS envelope and no credentials at all → USAGE', async () => {
    const r = await sealbox(['decrypt', '--kms', kms.url, w.path('kms.sbx')]);
    assert.equal(r.code, EXIT.USAGE, r.stderr);
  });
});

describe('rewrap', () => {
  test('ReEncrypt to another key, in place: the payload is byte-identical, the mode kept', async () => {
    await ok(['encrypt', '--key', 'alias/cli-sym', '--aes-key', f.aes, '--context', 'tenant=acme', '-o', w.path('rw.sbx'), f.plain]);
    const before = await readFile(w.path('rw.sbx'));
    const { chmod } = await import('node:fs/promises');
    await chmod(w.path('rw.sbx'), 0o640);
    await ok(['rewrap', '--to-key', 'alias/cli-other', w.path('rw.sbx')]);
    const afterBytes = await readFile(w.path('rw.sbx'));
    assert.deepEqual(payloadOf(afterBytes), payloadOf(before));
    assert.equal((await stat(w.path('rw.sbx'))).mode & 0o777, 0o640);
    const info = await json(['inspect', w.path('rw.sbx')]);
    const other = (await json(['keys', 'describe', 'alias/cli-other'])).KeyMetadata.Arn;
    assert.deepEqual(info.recipients.map((r: { keyId: string }) => r.keyId), [other, 'aes.key'], 'the kms recipient replaced, the AES one kept');
    // The old key is no longer needed: disable it and decrypt with the new one.
    await ok(['keys', 'disable', 'alias/cli-sym']);
    try {
      const dec = await ok(['decrypt', '--key', 'alias/cli-other', w.path('rw.sbx')]);
      assert.deepEqual(dec.stdout, f.data);
    } finally {
      await ok(['keys', 'enable', 'alias/cli-sym']);
    }
  });

  test('after rotate, rewrap to the same key; payload unchanged', async () => {
    await ok(['encrypt', '--key', 'alias/cli-sym', '-o', w.path('rot.sbx'), f.plain]);
    const before = await readFile(w.path('rot.sbx'));
    await ok(['keys', 'rotate', 'alias/cli-sym']);
    await ok(['rewrap', '--to-key', 'alias/cli-sym', '-o', w.path('rot2.sbx'), w.path('rot.sbx')]);
    assert.deepEqual(await readFile(w.path('rot.sbx')), before, 'with -o the input is untouched');
    const after = await readFile(w.path('rot2.sbx'));
    assert.deepEqual(payloadOf(after), payloadOf(before));
    assert.notDeepEqual(after.subarray(0, 200), before.subarray(0, 200), 'a new wrapped key');
    assert.deepEqual((await ok(['decrypt', w.path('rot2.sbx')])).stdout, f.data);
  });

  test('keyring to keyring: AES → KMS key, stdin to stdout', async () => {
    const enc = await sealbox(['encrypt', '--aes-key', f.aes], { input: f.data });
    const rewrapped = await ok(['rewrap', '--aes-key', f.aes, '--to-key', 'alias/cli-sym', '-'], enc.stdout);
    assert.deepEqual(payloadOf(rewrapped.stdout), payloadOf(enc.stdout));
    const info = JSON.parse((await ok(['inspect', '--json'], rewrapped.stdout)).stdout.toString());
    assert.deepEqual(info.recipients.map((r: { type: string }) => r.type), ['kms']);
    assert.deepEqual((await ok(['decrypt'], rewrapped.stdout)).stdout, f.data);
  });

  test('keyring to keyring: RSA private key → another AES key, offline', async () => {
    await sealbox(['encrypt', '--rsa-public', f.rsaPublic, '-o', w.path('off.sbx'), f.plain]);
    const r = await sealbox(['rewrap', '--rsa-private', f.rsaPrivate, '--to-aes-key', f.aes2, '--to-aes-key-name', 'new', w.path('off.sbx')]);
    assert.equal(r.code, EXIT.OK, r.stderr);
    const dec = await sealbox(['decrypt', '--aes-key', f.aes2, '--aes-key-name', 'new', w.path('off.sbx')]);
    assert.deepEqual(dec.stdout, f.data);
  });

  test('a tampered header or a wrong key leaves the file as it was', async () => {
    await sealbox(['encrypt', '--aes-key', f.aes, '-o', w.path('keep.sbx'), f.plain]);
    const before = await readFile(w.path('keep.sbx'));
    const wrong = await sealbox(['rewrap', '--aes-key', f.aes2, '--aes-key-name', 'aes.key', '--to-aes-key', f.aes2, w.path('keep.sbx')]);
    assert.equal(wrong.code, EXIT.AUTH, wrong.stderr);
    const noTarget = await sealbox(['rewrap', '--aes-key', f.aes, w.path('keep.sbx')]);
    assert.equal(noTarget.code, EXIT.USAGE, noTarget.stderr);
    const notEnvelope = await sealbox(['rewrap', '--aes-key', f.aes, '--to-aes-key', f.aes2, f.plain]);
    assert.equal(notEnvelope.code, EXIT.INVALID_INPUT, notEnvelope.stderr);
    assert.deepEqual(await readFile(w.path('keep.sbx')), before);
    assert.deepEqual((await w.files()).filter((n) => n.endsWith('.sealbox-tmp')), []);
  });
});
