// Seed files: keys with given or generated material and several versions, aliases, policies,
// applied idempotently; and the ciphertext blob format.
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { rm, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyRotationStatusCommand,
  ListAliasesCommand,
  ListResourceTagsCommand,
  SignCommand,
} from '@aws-sdk/client-kms';
import { createLocalKms, SeedError } from '../../../src/node/kms/index.js';
import { encodeContext, openBlob, parseBlob, sealBlob } from '../../../src/node/kms/blob.js';
import { ROOT_KEY, rejectsWith, startHarness, tempDir } from './helpers.js';

const SEED = 'test/fixtures/kms/seed.json';

test('a seed creates keys, versions, aliases, tags, rotation and policies; applying it again changes nothing', { timeout: 300_000 }, async () => {
  const dir = await tempDir();
  let h = await startHarness({ dataDir: dir, seed: SEED });
  try {
    const md = (await h.client.send(new DescribeKeyCommand({ KeyId: 'alias/app' }))).KeyMetadata!;
    assert.equal(md.KeyId, '1234abcd-12ab-34cd-56ef-1234567890ab');
    assert.match(md.Description!, /three versions/);
    // A blob made offline with version 2 of the seeded material decrypts (simulated past rotation).
    const seed = JSON.parse(await readFile(SEED, 'utf8'));
    const v2 = Buffer.from(seed.keys[0].material[1], 'base64');
    const blob = sealBlob(md.KeyId!, 2, v2, new TextEncoder().encode('from the past'), { app: 'x' });
    const d = await h.client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { app: 'x' } }));
    assert.equal(new TextDecoder().decode(d.Plaintext), 'from the past');
    // New encryptions use version 3.
    const e = await h.client.send(new EncryptCommand({ KeyId: 'alias/app-current', Plaintext: new Uint8Array([1]) }));
    assert.equal(parseBlob(e.CiphertextBlob!)!.materialVersion, 3);
    assert.deepEqual((await h.client.send(new ListResourceTagsCommand({ KeyId: md.KeyId }))).Tags, [{ TagKey: 'team', TagValue: 'storage' }]);
    assert.equal((await h.client.send(new GetKeyRotationStatusCommand({ KeyId: md.KeyId }))).KeyRotationEnabled, true);
    // The seeded policy is enforced.
    await rejectsWith(h.client.send(new GenerateDataKeyCommand({ KeyId: 'alias/tenant-isolated', KeySpec: 'AES_256' })), 'AccessDeniedException');
    const g = await h.client.send(new GenerateDataKeyCommand({ KeyId: 'alias/tenant-isolated', KeySpec: 'AES_256', EncryptionContext: { tenant: 't' } }));
    assert.equal(parseBlob(g.CiphertextBlob!)!.materialVersion, 2);
    // Regions are separate.
    await rejectsWith(h.client.send(new SignCommand({ KeyId: 'alias/signing', Message: new Uint8Array([1]), SigningAlgorithm: 'ECDSA_SHA_256' })), 'NotFoundException');
    await h.clientFor({ region: 'eu-west-1' }).send(new SignCommand({ KeyId: 'alias/signing', Message: new Uint8Array([1]), SigningAlgorithm: 'ECDSA_SHA_256' }));
    const aliases = (await h.client.send(new ListAliasesCommand({}))).Aliases!.map((a) => a.AliasName);
    assert.deepEqual(aliases, ['alias/app', 'alias/app-current', 'alias/mac', 'alias/recovery-rsa', 'alias/tenant-isolated']);
    await h.close();

    const files = async () => {
      const out: Record<string, string> = {};
      for (const r of await readdir(join(dir, 'keys'))) {
        for (const a of await readdir(join(dir, 'keys', r))) {
          for (const f of await readdir(join(dir, 'keys', r, a))) out[f] = await readFile(join(dir, 'keys', r, a, f), 'utf8');
        }
      }
      return out;
    };
    const before = await files();
    assert.equal(Object.keys(before).length, 5);
    h = await startHarness({ dataDir: dir, seed: SEED });
    assert.deepEqual(await files(), before, 'a second application rewrites nothing');
  } finally {
    await h.close();
  }
  // A seed that would replace existing material is refused.
  const seed = JSON.parse(await readFile(SEED, 'utf8'));
  seed.keys[0].material[0] = Buffer.alloc(32, 1).toString('base64');
  const changed = join(dir, 'changed-seed.json');
  await writeFile(changed, JSON.stringify(seed));
  await assert.rejects(createLocalKms({ dataDir: dir, rootKey: ROOT_KEY, env: {}, audit: false, seed: changed }), SeedError);
  await assert.rejects(createLocalKms({ dataDir: dir, rootKey: ROOT_KEY, env: {}, audit: false, seed: { keys: [{ keySpec: 'SYMMETRIC_DEFAULT' }] } }), SeedError);
  await rm(dir, { recursive: true, force: true });
});

test('blob format: context encoding is unambiguous and order-independent; header fields are bound', () => {
  assert.notDeepEqual(encodeContext({ ab: 'c' }), encodeContext({ a: 'bc' }));
  assert.notDeepEqual(encodeContext({ a: '' }), encodeContext({}));
  assert.deepEqual(encodeContext({ a: '1', b: '2' }), encodeContext({ b: '2', a: '1' }));
  assert.deepEqual([...encodeContext({})], [0, 0, 0, 0]);
  const key = Buffer.alloc(32, 3);
  const blob = sealBlob('1234abcd-12ab-34cd-56ef-1234567890ab', 7, key, new Uint8Array([9, 9]), { ab: 'c' });
  const p = parseBlob(blob)!;
  assert.equal(p.materialVersion, 7);
  assert.deepEqual([...openBlob(p, key, { ab: 'c' })!], [9, 9]);
  assert.equal(openBlob(p, key, { a: 'bc' }), undefined);
  // Changing the version field in the header breaks authentication.
  const t = Uint8Array.from(blob);
  t[5 + 36 + 3] = 8;
  assert.equal(openBlob(parseBlob(t)!, key, { ab: 'c' }), undefined);
  assert.equal(parseBlob(new Uint8Array([1, 2, 3])), undefined);
  // A plain AES-GCM ciphertext without the header is not a blob.
  const c = createCipheriv('aes-256-gcm', key, Buffer.alloc(12));
  assert.equal(parseBlob(Buffer.concat([c.update('hello world, this is long enough'), c.final(), c.getAuthTag()])), undefined);
});
