// Issue 18: the local KMS as AWS KMS documents it, through the official @aws-sdk/client-kms against a
// real local KMS over HTTP. Each case states the AWS behaviour it checks.
import assert from 'node:assert/strict';
import {
  constants,
  createCipheriv,
  createECDH,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
  verify as nodeVerify,
} from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DeriveSharedSecretCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateMacCommand,
  GetKeyRotationStatusCommand,
  GetParametersForImportCommand,
  GetPublicKeyCommand,
  ImportKeyMaterialCommand,
  ListKeyRotationsCommand,
  ListResourceTagsCommand,
  ReEncryptCommand,
  ReplicateKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  TagResourceCommand,
  UpdateKeyDescriptionCommand,
  VerifyCommand,
  VerifyMacCommand,
  type DataKeyPairSpec,
  type KMSClient,
  type KeySpec,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { recordingClient, rejectsWith, startHarness, type Harness, type WireExchange } from './helpers.js';

let h: Harness;
let kms: KMSClient;
let wire: { client: KMSClient; last(): WireExchange };
const te = new TextEncoder();
const ACCOUNT = '111122223333';

before(async () => {
  h = await startHarness();
  kms = h.client;
  wire = await recordingClient(h);
});
after(async () => {
  wire.client.destroy();
  await h.close();
});

const symmetricKey = async (): Promise<string> => (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;

/** The error's `__type`, status and message as sent on the wire (through the recording SDK client). */
async function wireError(p: Promise<unknown>): Promise<{ type: string; status: number; message: unknown }> {
  await assert.rejects(p);
  const e = wire.last();
  return { type: String(e.body.__type), status: e.status, message: e.body.message };
}

describe('GenerateDataKeyPair / GenerateDataKeyPairWithoutPlaintext', () => {
  const specs: Array<[DataKeyPairSpec, string, string | number]> = [
    ['RSA_2048', 'rsa', 2048],
    ['RSA_3072', 'rsa', 3072],
    ['RSA_4096', 'rsa', 4096],
    ['ECC_NIST_P256', 'ec', 'prime256v1'],
    ['ECC_NIST_P384', 'ec', 'secp384r1'],
    ['ECC_NIST_P521', 'ec', 'secp521r1'],
    ['ECC_SECG_P256K1', 'ec', 'secp256k1'],
    ['ECC_NIST_EDWARDS25519', 'ed25519', ''],
  ];
  for (const [spec, type, detail] of specs) {
    test(`${spec}: PKCS#8 private key, SPKI public key of that spec, the private key encrypted under the KMS key`, async () => {
      const keyId = await symmetricKey();
      const r = await kms.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: spec, EncryptionContext: { purpose: 'pair' } }));
      assert.equal(r.KeyPairSpec, spec);
      assert.equal(r.KeyId, `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`);
      const priv = createPrivateKey({ key: Buffer.from(r.PrivateKeyPlaintext!), format: 'der', type: 'pkcs8' });
      assert.equal(priv.asymmetricKeyType, type);
      if (type === 'rsa') assert.equal(priv.asymmetricKeyDetails!.modulusLength, detail);
      if (type === 'ec') assert.equal(priv.asymmetricKeyDetails!.namedCurve, detail);
      const pub = createPublicKey({ key: Buffer.from(r.PublicKey!), format: 'der', type: 'spki' });
      assert.deepEqual(createPublicKey(priv).export({ type: 'spki', format: 'der' }), pub.export({ type: 'spki', format: 'der' }));
      const d = await kms.send(new DecryptCommand({ CiphertextBlob: r.PrivateKeyCiphertextBlob, EncryptionContext: { purpose: 'pair' } }));
      assert.deepEqual(Buffer.from(d.Plaintext!), Buffer.from(r.PrivateKeyPlaintext!));
      const md = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
      assert.equal(r.KeyMaterialId, md.CurrentKeyMaterialId);
    });
  }

  test('WithoutPlaintext: no PrivateKeyPlaintext; the encrypted private key matches the public key', async () => {
    const keyId = await symmetricKey();
    const r = await wire.client.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' }));
    assert.deepEqual(Object.keys(wire.last().body).sort(), ['KeyId', 'KeyMaterialId', 'KeyPairSpec', 'PrivateKeyCiphertextBlob', 'PublicKey']);
    const d = await kms.send(new DecryptCommand({ CiphertextBlob: r.PrivateKeyCiphertextBlob }));
    const priv = createPrivateKey({ key: Buffer.from(d.Plaintext!), format: 'der', type: 'pkcs8' });
    assert.deepEqual(createPublicKey(priv).export({ type: 'spki', format: 'der' }), Buffer.from(r.PublicKey!));
  });

  test('DryRun: DryRunOperationException (412); an asymmetric key: InvalidKeyUsageException; a bad spec: ValidationException naming the values', async () => {
    const keyId = await symmetricKey();
    for (const C of [GenerateDataKeyPairCommand, GenerateDataKeyPairWithoutPlaintextCommand]) {
      const e = await wireError(wire.client.send(new C({ KeyId: keyId, KeyPairSpec: 'RSA_2048', DryRun: true })));
      assert.deepEqual([e.type, e.status], ['DryRunOperationException', 412]);
    }
    const signing = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    await rejectsWith(kms.send(new GenerateDataKeyPairCommand({ KeyId: signing, KeyPairSpec: 'RSA_2048' })), 'InvalidKeyUsageException');
    const bad = await wireError(wire.client.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'RSA_1024' as DataKeyPairSpec })));
    assert.equal(bad.type, 'ValidationException');
    assert.equal(
      bad.message,
      "1 validation error detected: Value 'RSA_1024' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: " +
        '[RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SM2, ECC_NIST_EDWARDS25519]',
    );
  });
});

describe('DeriveSharedSecret (KEY_AGREEMENT keys)', () => {
  for (const [spec, curve] of [['ECC_NIST_P256', 'prime256v1'], ['ECC_NIST_P384', 'secp384r1'], ['ECC_NIST_P521', 'secp521r1']] as const) {
    test(`${spec}: ECDH with the caller's DER SPKI public key gives the raw shared secret both sides compute`, async () => {
      const md = (await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'KEY_AGREEMENT' }))).KeyMetadata!;
      assert.deepEqual(md.KeyAgreementAlgorithms, ['ECDH']);
      assert.equal(md.SigningAlgorithms, undefined);
      const pub = await kms.send(new GetPublicKeyCommand({ KeyId: md.KeyId }));
      assert.equal(pub.KeyUsage, 'KEY_AGREEMENT');
      assert.deepEqual(pub.KeyAgreementAlgorithms, ['ECDH']);
      const mine = generateKeyPairSync('ec', { namedCurve: curve });
      const r = await kms.send(
        new DeriveSharedSecretCommand({ KeyId: md.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: mine.publicKey.export({ type: 'spki', format: 'der' }) }),
      );
      const theirs = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
      assert.deepEqual(Buffer.from(r.SharedSecret!), diffieHellman({ privateKey: mine.privateKey, publicKey: theirs }));
      assert.equal(r.KeyAgreementAlgorithm, 'ECDH');
      assert.equal(r.KeyOrigin, 'AWS_KMS');
      assert.equal(r.KeyId, md.Arn);
    });
  }

  test('a public key of another curve: ValidationException; a SIGN_VERIFY key: InvalidKeyUsageException; secp256k1 cannot agree keys', async () => {
    const id = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' }))).KeyMetadata!.KeyId!;
    const other = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'der' });
    await rejectsWith(kms.send(new DeriveSharedSecretCommand({ KeyId: id, KeyAgreementAlgorithm: 'ECDH', PublicKey: other })), 'ValidationException');
    const signing = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });
    await rejectsWith(kms.send(new DeriveSharedSecretCommand({ KeyId: signing, KeyAgreementAlgorithm: 'ECDH', PublicKey: p256 })), 'InvalidKeyUsageException');
    await rejectsWith(kms.send(new CreateKeyCommand({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'KEY_AGREEMENT' })), 'ValidationException');
    await rejectsWith(kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'KEY_AGREEMENT' })), 'ValidationException');
  });

  test('grants on a KEY_AGREEMENT key may allow DeriveSharedSecret and GetPublicKey (and not Sign)', async () => {
    const id = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'KEY_AGREEMENT' }))).KeyMetadata!.KeyId!;
    const grantee = `arn:aws:iam::${ACCOUNT}:role/agree`;
    const g = await kms.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: grantee, Operations: ['DeriveSharedSecret', 'GetPublicKey'] }));
    assert.ok(g.GrantId);
    await rejectsWith(kms.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: grantee, Operations: ['Sign'] })), 'ValidationException');
  });
});

describe('key specs ECC_NIST_P521, ECC_SECG_P256K1, HMAC_224', () => {
  for (const [spec, alg, hash] of [['ECC_NIST_P521', 'ECDSA_SHA_512', 'sha512'], ['ECC_SECG_P256K1', 'ECDSA_SHA_256', 'sha256']] as const) {
    test(`${spec}: ${alg} signatures that node:crypto verifies`, async () => {
      const md = (await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!;
      assert.equal(md.KeySpec, spec);
      assert.deepEqual(md.SigningAlgorithms, [alg]);
      const pub = createPublicKey({ key: Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: md.KeyId }))).PublicKey!), format: 'der', type: 'spki' });
      const message = te.encode('curve');
      const s = await kms.send(new SignCommand({ KeyId: md.KeyId, Message: message, SigningAlgorithm: alg }));
      assert.ok(nodeVerify(hash, message, pub, s.Signature!));
      assert.equal((await kms.send(new VerifyCommand({ KeyId: md.KeyId, Message: message, Signature: s.Signature, SigningAlgorithm: alg }))).SignatureValid, true);
    });
  }

  test('HMAC_224: HMAC_SHA_224 MACs (28 bytes) as node:crypto computes them', async () => {
    const md = (await kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_224', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!;
    assert.deepEqual(md.MacAlgorithms, ['HMAC_SHA_224']);
    const m = await kms.send(new GenerateMacCommand({ KeyId: md.KeyId, Message: te.encode('m'), MacAlgorithm: 'HMAC_SHA_224' }));
    assert.equal(m.Mac!.length, createHmac('sha224', 'k').digest().length);
    assert.equal((await kms.send(new VerifyMacCommand({ KeyId: md.KeyId, Message: te.encode('m'), Mac: m.Mac, MacAlgorithm: 'HMAC_SHA_224' }))).MacValid, true);
    await rejectsWith(kms.send(new GenerateMacCommand({ KeyId: md.KeyId, Message: te.encode('m'), MacAlgorithm: 'HMAC_SHA_256' })), 'InvalidKeyUsageException');
  });
});

describe('Sign / Verify with MessageType DIGEST', () => {
  const cases: Array<[KeySpec, SigningAlgorithmSpec, string]> = [
    ['RSA_2048', 'RSASSA_PSS_SHA_256', 'sha256'],
    ['RSA_2048', 'RSASSA_PSS_SHA_384', 'sha384'],
    ['RSA_2048', 'RSASSA_PSS_SHA_512', 'sha512'],
    ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_384', 'sha384'],
    ['ECC_NIST_P256', 'ECDSA_SHA_256', 'sha256'],
    ['ECC_NIST_P384', 'ECDSA_SHA_384', 'sha384'],
    ['ECC_NIST_P521', 'ECDSA_SHA_512', 'sha512'],
    ['ECC_SECG_P256K1', 'ECDSA_SHA_256', 'sha256'],
  ];
  const keys = new Map<string, string>();
  const keyFor = async (spec: KeySpec) => {
    if (!keys.has(spec)) keys.set(spec, (await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!);
    return keys.get(spec)!;
  };
  for (const [spec, alg, hash] of cases) {
    test(`${spec} ${alg}: a signature over the digest verifies over the message (node:crypto) and through KMS, RAW and DIGEST`, async () => {
      const id = await keyFor(spec);
      const pub = createPublicKey({ key: Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: id }))).PublicKey!), format: 'der', type: 'spki' });
      const message = te.encode(`digest ${alg}`);
      const digest = createHash(hash).update(message).digest();
      const s = await kms.send(new SignCommand({ KeyId: id, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: alg }));
      const opts = alg.includes('PSS')
        ? { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: createHash(hash).digest().length }
        : alg.startsWith('RSA')
          ? pub
          : { key: pub, dsaEncoding: 'der' as const };
      assert.ok(nodeVerify(hash, message, opts, s.Signature!));
      assert.equal((await kms.send(new VerifyCommand({ KeyId: id, Message: message, Signature: s.Signature, SigningAlgorithm: alg }))).SignatureValid, true);
      assert.equal(
        (await kms.send(new VerifyCommand({ KeyId: id, Message: digest, MessageType: 'DIGEST', Signature: s.Signature, SigningAlgorithm: alg }))).SignatureValid,
        true,
      );
      const other = createHash(hash).update('other').digest();
      const bad = await wireError(wire.client.send(new VerifyCommand({ KeyId: id, Message: other, MessageType: 'DIGEST', Signature: s.Signature, SigningAlgorithm: alg })));
      assert.deepEqual(bad, { type: 'KMSInvalidSignatureException', status: 400, message: '' });
      // A digest of the wrong length for the algorithm: ValidationException.
      const short = await wireError(wire.client.send(new SignCommand({ KeyId: id, Message: digest.subarray(1), MessageType: 'DIGEST', SigningAlgorithm: alg })));
      assert.equal(short.type, 'ValidationException');
    });
  }
});

/** EncryptedKeyMaterial for GetParametersForImport's public key: RSA-OAEP, or RSA-OAEP of an AES key plus AES key wrap with padding. */
function wrapMaterial(publicKeyDer: Uint8Array, algorithm: string, material: Uint8Array): Uint8Array {
  const key = createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' });
  const oaepHash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  if (algorithm.startsWith('RSAES_OAEP')) return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, material);
  const aes = randomBytes(32);
  const c = createCipheriv('id-aes256-wrap-pad', aes, Buffer.from('a65959a6', 'hex'));
  return Buffer.concat([publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, aes), c.update(material), c.final()]);
}

async function importInto(keyId: string, material: Uint8Array, extra: Record<string, unknown> = {}, algorithm = 'RSAES_OAEP_SHA_256') {
  const p = await kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm as never, WrappingKeySpec: 'RSA_3072' }));
  return kms.send(
    new ImportKeyMaterialCommand({
      KeyId: keyId,
      ImportToken: p.ImportToken,
      EncryptedKeyMaterial: wrapMaterial(p.PublicKey!, algorithm, material),
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
      ...extra,
    }),
  );
}

describe('imported key material', () => {
  test('CreateKey with Origin EXTERNAL: PendingImport and no ExpirationModel before there is material', async () => {
    const created = await wire.client.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    assert.equal(created.KeyMetadata!.KeyState, 'PendingImport');
    assert.equal((wire.last().body.KeyMetadata as Record<string, unknown>).ExpirationModel, undefined);
    const r = await importInto(created.KeyMetadata!.KeyId!, randomBytes(32));
    assert.match(r.KeyMaterialId!, /^[0-9a-f]{64}$/);
    assert.equal(r.KeyId, created.KeyMetadata!.Arn);
    const md = (await kms.send(new DescribeKeyCommand({ KeyId: created.KeyMetadata!.KeyId }))).KeyMetadata!;
    assert.equal(md.ExpirationModel, 'KEY_MATERIAL_DOES_NOT_EXPIRE');
    assert.equal(md.CurrentKeyMaterialId, r.KeyMaterialId);
  });

  test('asymmetric keys (RSA, ECC) and HMAC keys take imported material (RSA_AES_KEY_WRAP_SHA_256 for private keys)', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaId = (await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    await importInto(rsaId, rsa.privateKey.export({ type: 'pkcs8', format: 'der' }), {}, 'RSA_AES_KEY_WRAP_SHA_256');
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: rsaId }));
    assert.deepEqual(Buffer.from(pub.PublicKey!), rsa.publicKey.export({ type: 'spki', format: 'der' }));
    const s = await kms.send(new SignCommand({ KeyId: rsaId, Message: te.encode('imported'), SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }));
    assert.ok(nodeVerify('sha256', te.encode('imported'), rsa.publicKey, s.Signature!));

    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const ecId = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT', Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    await importInto(ecId, ec.privateKey.export({ type: 'pkcs8', format: 'der' }), {}, 'RSA_AES_KEY_WRAP_SHA_1');
    const peer = createECDH('prime256v1');
    peer.generateKeys();
    const peerPair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const shared = await kms.send(new DeriveSharedSecretCommand({ KeyId: ecId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peerPair.publicKey.export({ type: 'spki', format: 'der' }) }));
    assert.deepEqual(Buffer.from(shared.SharedSecret!), diffieHellman({ privateKey: peerPair.privateKey, publicKey: ec.publicKey }));
    assert.equal(shared.KeyOrigin, 'EXTERNAL');

    const hmacKey = randomBytes(48);
    const hId = (await kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_384', KeyUsage: 'GENERATE_VERIFY_MAC', Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    await importInto(hId, hmacKey);
    const mac = await kms.send(new GenerateMacCommand({ KeyId: hId, Message: te.encode('x'), MacAlgorithm: 'HMAC_SHA_384' }));
    assert.deepEqual(Buffer.from(mac.Mac!), createHmac('sha384', hmacKey).update('x').digest());

    // Private key material of the wrong spec, and ImportType on a key with one material only.
    const wrongId = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'SIGN_VERIFY', Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    await rejectsWith(importInto(wrongId, ec.privateKey.export({ type: 'pkcs8', format: 'der' }), {}, 'RSA_AES_KEY_WRAP_SHA_256'), 'IncorrectKeyMaterialException');
    await rejectsWith(importInto(hId, randomBytes(48), { ImportType: 'NEW_KEY_MATERIAL' }), 'UnsupportedOperationException');
  });

  test('new material (ImportType NEW_KEY_MATERIAL) waits for RotateKeyOnDemand; without it RotateKeyOnDemand is KMSInvalidStateException', async () => {
    const id = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    const first = randomBytes(32);
    const r1 = await importInto(id, first);
    const e = await wireError(wire.client.send(new RotateKeyOnDemandCommand({ KeyId: id })));
    assert.deepEqual([e.type, e.status], ['KMSInvalidStateException', 400]);
    const before = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: te.encode('before') }));
    // The same material again as NEW: refused; new material: pending, not yet used.
    await rejectsWith(importInto(id, first, { ImportType: 'NEW_KEY_MATERIAL' }), 'IncorrectKeyMaterialException');
    const r2 = await importInto(id, randomBytes(32), { ImportType: 'NEW_KEY_MATERIAL' });
    assert.notEqual(r2.KeyMaterialId, r1.KeyMaterialId);
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.CurrentKeyMaterialId, r1.KeyMaterialId);
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: id }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.CurrentKeyMaterialId, r2.KeyMaterialId);
    const after = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: te.encode('after') }));
    const d1 = await kms.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }));
    const d2 = await kms.send(new DecryptCommand({ CiphertextBlob: after.CiphertextBlob }));
    assert.deepEqual([d1.KeyMaterialId, d2.KeyMaterialId], [r1.KeyMaterialId, r2.KeyMaterialId]);
    const rotations = await kms.send(new ListKeyRotationsCommand({ KeyId: id }));
    assert.deepEqual(rotations.Rotations!.map((x) => [x.RotationType, x.KeyMaterialId]), [['ON_DEMAND', r2.KeyMaterialId]]);
    await rejectsWith(kms.send(new RotateKeyOnDemandCommand({ KeyId: id })), 'KMSInvalidStateException');
  });

  test('DeleteImportedKeyMaterial: the key is PendingImport until the same material is imported again; other material is refused', async () => {
    const id = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!.KeyId!;
    const material = randomBytes(32);
    const r = await importInto(id, material);
    const blob = (await kms.send(new EncryptCommand({ KeyId: id, Plaintext: te.encode('kept') }))).CiphertextBlob!;
    const del = await wire.client.send(new DeleteImportedKeyMaterialCommand({ KeyId: id }));
    assert.deepEqual(wire.last().body, { KeyId: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${id}`, KeyMaterialId: r.KeyMaterialId });
    assert.equal(del.KeyMaterialId, r.KeyMaterialId);
    const md = (await wire.client.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    assert.equal(md.KeyState, 'PendingImport');
    assert.equal(md.ExpirationModel, undefined);
    await rejectsWith(kms.send(new DecryptCommand({ CiphertextBlob: blob })), 'KMSInvalidStateException');
    await rejectsWith(importInto(id, randomBytes(32)), 'IncorrectKeyMaterialException');
    await importInto(id, material);
    assert.equal(new TextDecoder().decode((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext), 'kept');
    // Not an imported key: UnsupportedOperationException.
    await rejectsWith(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: await symmetricKey() })), 'UnsupportedOperationException');
  });
});

describe('rotation status, response fields', () => {
  test('GetKeyRotationStatus has no OnDemandRotationStartDate once the on-demand rotation completed (RotateKeyOnDemand completes before it answers)', async () => {
    const id = await symmetricKey();
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: id }));
    await wire.client.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    assert.deepEqual(wire.last().body, { KeyId: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${id}`, KeyRotationEnabled: false });
  });

  test('Decrypt returns the KeyMaterialId of the material that encrypted (symmetric keys), none for RSA; ReEncrypt both sides', async () => {
    const id = await symmetricKey();
    const g = await kms.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256' }));
    const old = (await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.CurrentKeyMaterialId;
    assert.equal(g.KeyMaterialId, old);
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: id }));
    const current = (await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.CurrentKeyMaterialId;
    assert.notEqual(current, old);
    assert.equal((await kms.send(new DecryptCommand({ CiphertextBlob: g.CiphertextBlob }))).KeyMaterialId, old);
    const re = await kms.send(new ReEncryptCommand({ CiphertextBlob: g.CiphertextBlob, DestinationKeyId: id }));
    assert.deepEqual([re.SourceKeyMaterialId, re.DestinationKeyMaterialId], [old, current]);
    const rsa = (await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!.KeyId!;
    const e = await kms.send(new EncryptCommand({ KeyId: rsa, Plaintext: te.encode('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    await wire.client.send(new DecryptCommand({ KeyId: rsa, CiphertextBlob: e.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    assert.deepEqual(Object.keys(wire.last().body).sort(), ['EncryptionAlgorithm', 'KeyId', 'Plaintext']);
  });

  test('ReplicateKey: Description empty unless given, no CurrentKeyMaterialId in ReplicaKeyMetadata', async () => {
    const id = (await kms.send(new CreateKeyCommand({ MultiRegion: true, Description: 'the primary' }))).KeyMetadata!.KeyId!;
    await wire.client.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-west-1' }));
    const md = wire.last().body.ReplicaKeyMetadata as Record<string, unknown>;
    assert.equal(md.Description, '');
    assert.equal('CurrentKeyMaterialId' in md, false);
    const given = (await kms.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: 'eu-central-1', Description: 'mine' }))).ReplicaKeyMetadata!;
    assert.equal(given.Description, 'mine');
  });
});

describe('validation and its order', () => {
  test('an HMAC (or ECC) key without KeyUsage: ValidationException (AWS defaults KeyUsage to ENCRYPT_DECRYPT)', async () => {
    await rejectsWith(kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256' })), 'ValidationException');
    await rejectsWith(kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256' })), 'ValidationException');
    assert.equal((await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048' }))).KeyMetadata!.KeyUsage, 'ENCRYPT_DECRYPT');
  });

  test('tags: duplicate keys and aws: keys are TagException; over-long keys and values are ValidationException', async () => {
    const id = await symmetricKey();
    for (const Tags of [[{ TagKey: 'a', TagValue: '1' }, { TagKey: 'a', TagValue: '2' }], [{ TagKey: 'aws:owner', TagValue: 'x' }]]) {
      await rejectsWith(kms.send(new CreateKeyCommand({ Tags })), 'TagException');
      await rejectsWith(kms.send(new TagResourceCommand({ KeyId: id, Tags })), 'TagException');
    }
    const long = await wireError(wire.client.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'k'.repeat(129), TagValue: 'v' }] })));
    assert.equal(long.type, 'ValidationException');
    assert.match(String(long.message), /^1 validation error detected: Value 'k{129}' at 'tags\.1\.member\.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128$/);
    await rejectsWith(kms.send(new CreateKeyCommand({ Tags: [{ TagKey: 'k', TagValue: 'v'.repeat(257) }] })), 'ValidationException');
  });

  test('an invalid SigningAlgorithm is ValidationException (a valid one the key cannot use is InvalidKeyUsageException)', async () => {
    const id = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    const e = await wireError(wire.client.send(new SignCommand({ KeyId: id, Message: te.encode('m'), SigningAlgorithm: 'ECDSA_SHA_1' as SigningAlgorithmSpec })));
    assert.equal(e.type, 'ValidationException');
    assert.match(String(e.message), /^1 validation error detected: Value 'ECDSA_SHA_1' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: \[RSASSA_PSS_SHA_256, /);
    await rejectsWith(kms.send(new SignCommand({ KeyId: id, Message: te.encode('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' })), 'InvalidKeyUsageException');
  });

  test('malformed members are reported before the key is looked up (ValidationException, not NotFoundException)', async () => {
    const missing = '1234abcd-12ab-34cd-56ef-1234567890ab';
    await rejectsWith(kms.send(new SignCommand({ KeyId: missing, Message: te.encode('m'), SigningAlgorithm: 'NOPE' as SigningAlgorithmSpec })), 'ValidationException');
    await rejectsWith(kms.send(new EncryptCommand({ KeyId: missing, Plaintext: new Uint8Array(4097) })), 'ValidationException');
    await rejectsWith(kms.send(new GenerateDataKeyCommand({ KeyId: missing, NumberOfBytes: 2000 })), 'ValidationException');
    await rejectsWith(kms.send(new GenerateMacCommand({ KeyId: missing, Message: te.encode('m'), MacAlgorithm: 'HMAC_MD5' as never })), 'ValidationException');
    await rejectsWith(kms.send(new ScheduleKeyDeletionCommand({ KeyId: missing, PendingWindowInDays: 6 })), 'ValidationException');
    await rejectsWith(kms.send(new EnableKeyRotationCommand({ KeyId: missing, RotationPeriodInDays: 10 })), 'ValidationException');
    await rejectsWith(kms.send(new UpdateKeyDescriptionCommand({ KeyId: missing, Description: 'd'.repeat(8193) })), 'ValidationException');
    await rejectsWith(kms.send(new TagResourceCommand({ KeyId: missing, Tags: [{ TagKey: '', TagValue: 'v' }] })), 'ValidationException');
    await rejectsWith(kms.send(new ListResourceTagsCommand({ KeyId: missing, Limit: 51 })), 'ValidationException');
    await rejectsWith(kms.send(new ReplicateKeyCommand({ KeyId: missing, ReplicaRegion: 'Nowhere' })), 'ValidationException');
    await rejectsWith(kms.send(new CreateGrantCommand({ KeyId: missing, GranteePrincipal: 'arn:aws:iam::111122223333:role/x', Operations: ['Fly' as never] })), 'ValidationException');
    await rejectsWith(kms.send(new EncryptCommand({ KeyId: missing, Plaintext: te.encode('m') })), 'NotFoundException');
  });
});

describe('messages', () => {
  test("NotFoundException: Key '<arn>' does not exist; Invalid keyId '<id>'", async () => {
    const missing = '1234abcd-12ab-34cd-56ef-1234567890ab';
    assert.deepEqual(await wireError(wire.client.send(new DescribeKeyCommand({ KeyId: missing }))), {
      type: 'NotFoundException',
      status: 400,
      message: `Key 'arn:aws:kms:us-east-1:${ACCOUNT}:key/${missing}' does not exist`,
    });
    assert.deepEqual(await wireError(wire.client.send(new DescribeKeyCommand({ KeyId: 'not-a-key' }))), {
      type: 'NotFoundException',
      status: 400,
      message: "Invalid keyId 'not-a-key'",
    });
  });

  test('validation messages name the member, its value and the allowed values', async () => {
    const e = await wireError(wire.client.send(new CreateKeyCommand({ KeySpec: 'AES_512' as KeySpec })));
    assert.deepEqual(e, {
      type: 'ValidationException',
      status: 400,
      message:
        "1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: " +
        '[RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SYMMETRIC_DEFAULT, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_DSA_44, ML_DSA_65, ML_DSA_87, ECC_NIST_EDWARDS25519]',
    });
  });

  test('InvalidCiphertextException, KMSInvalidSignatureException and KMSInvalidMacException carry an empty message', async () => {
    const id = await symmetricKey();
    const blob = Buffer.from((await kms.send(new EncryptCommand({ KeyId: id, Plaintext: te.encode('x') }))).CiphertextBlob!);
    blob[blob.length - 1]! ^= 1;
    assert.deepEqual(await wireError(wire.client.send(new DecryptCommand({ CiphertextBlob: blob }))), { type: 'InvalidCiphertextException', status: 400, message: '' });
    const mac = (await kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!.KeyId!;
    assert.deepEqual(
      await wireError(wire.client.send(new VerifyMacCommand({ KeyId: mac, Message: te.encode('m'), Mac: new Uint8Array(32), MacAlgorithm: 'HMAC_SHA_256' }))),
      { type: 'KMSInvalidMacException', status: 400, message: '' },
    );
  });
});

describe('out of scope, as the compatibility page says', () => {
  test('custom key stores, CloudHSM/XKS origins, SM2/ML-DSA/Ed25519 keys: UnsupportedOperationException; custom key store operations: UnknownOperationException', async () => {
    for (const input of [{ KeySpec: 'SM2' }, { KeySpec: 'ML_DSA_44', KeyUsage: 'SIGN_VERIFY' }, { KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' }, { Origin: 'AWS_CLOUDHSM' }, { Origin: 'EXTERNAL_KEY_STORE' }, { CustomKeyStoreId: 'cks-1234567890abcdef0' }] as const) {
      await rejectsWith(kms.send(new CreateKeyCommand(input as never)), 'UnsupportedOperationException');
    }
    const e = await wireError(wire.client.send(new DescribeCustomKeyStoresCommand({})));
    assert.deepEqual([e.type, e.status], ['UnknownOperationException', 400]);
  });
});
