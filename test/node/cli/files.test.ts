/**
 * `sealbox encrypt|decrypt|inspect` with local keys (raw AES, RSA-OAEP): round trips through
 * files and pipes, several recipients, contexts, and the exit codes of bad input and bad usage.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { EXIT, fixtures, sealbox, workDir } from './helpers.js';

let w: Awaited<ReturnType<typeof workDir>>;
let f: Awaited<ReturnType<typeof fixtures>>;

before(async () => {
  w = await workDir();
  f = await fixtures(w.dir);
});
after(() => w.cleanup());

async function ok(args: string[], input?: Uint8Array | string) {
  const r = await sealbox(args, input === undefined ? {} : { input });
  assert.equal(r.code, EXIT.OK, `sealbox ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}

describe('round trips', { concurrency: 4 }, () => {
  test('AES key, files, with a context and --expect-context', async () => {
    await ok(['encrypt', '--aes-key', f.aes, '--aes-key-name', 'k1', '--context', 'tenant=acme', '--context', 'v=a=b', '-o', w.path('aes.sbx'), f.plain]);
    const envelope = await readFile(w.path('aes.sbx'));
    assert.equal(envelope.subarray(0, 3).toString(), 'SBX');
    assert.equal(envelope.indexOf(f.data.subarray(0, 64)), -1, 'no plaintext in the envelope');
    await ok(['decrypt', '--aes-key', f.aes, '--aes-key-name', 'k1', '--expect-context', 'tenant=acme', '--expect-context', 'v=a=b', '-o', w.path('aes.out'), w.path('aes.sbx')]);
    assert.deepEqual(await readFile(w.path('aes.out')), f.data);
  });

  test('RSA key pair, files; the private key alone finds its recipient', async () => {
    await ok(['encrypt', '--rsa-public', f.rsaPublic, '-o', w.path('rsa.sbx'), f.plain]);
    await ok(['decrypt', '--rsa-private', f.rsaPrivate, '-o', w.path('rsa.out'), w.path('rsa.sbx')]);
    assert.deepEqual(await readFile(w.path('rsa.out')), f.data);
  });

  test('pipes: stdin to stdout, both ways, with a 64 KiB chunk size', async () => {
    const enc = await ok(['encrypt', '--aes-key', f.aes, '--chunk-size', '64KiB'], f.data);
    const info = JSON.parse((await ok(['inspect', '--json'], enc.stdout)).stdout.toString());
    assert.equal(info.chunkSize, 65536);
    const dec = await ok(['decrypt', '--aes-key', f.aes, '-'], enc.stdout);
    assert.deepEqual(dec.stdout, f.data);
  });

  test('empty input', async () => {
    const enc = await ok(['encrypt', '--aes-key', f.aes], '');
    const dec = await ok(['decrypt', '--aes-key', f.aes], enc.stdout);
    assert.equal(dec.stdout.length, 0);
  });

  test('several recipients: each key alone decrypts', async () => {
    await ok(['encrypt', '--aes-key', f.aes, '--rsa-public', f.rsaPublic, '--aes-key', f.aes2, '-o', w.path('multi.sbx'), f.plain]);
    const info = JSON.parse((await ok(['inspect', '--json', w.path('multi.sbx')])).stdout.toString());
    assert.deepEqual(
      info.recipients.map((r: { type: string }) => r.type),
      ['rsa-oaep-256', 'raw-aes-256-gcm', 'raw-aes-256-gcm'],
    );
    for (const key of [['--aes-key', f.aes], ['--aes-key', f.aes2], ['--rsa-private', f.rsaPrivate]]) {
      const dec = await ok(['decrypt', ...key, w.path('multi.sbx')]);
      assert.deepEqual(dec.stdout, f.data);
    }
  });
});

describe('inspect', { concurrency: 4 }, () => {
  test('--json shape', async () => {
    await ok(['encrypt', '--aes-key', f.aes, '--aes-key-name', 'main', '--context', 'tenant=acme', '-o', w.path('i.sbx'), f.plain]);
    const info = JSON.parse((await ok(['inspect', '--json', w.path('i.sbx')])).stdout.toString());
    assert.deepEqual(Object.keys(info).sort(), ['chunkCount', 'chunkSize', 'context', 'file', 'headerLength', 'plaintextLength', 'recipients', 'size', 'suite', 'version']);
    assert.equal(info.version, 1);
    assert.equal(info.suite, 'cobblestone-256');
    assert.equal(info.chunkSize, 16384);
    assert.deepEqual(info.context, { tenant: 'acme' });
    assert.equal(info.plaintextLength, f.data.length);
    assert.equal(info.chunkCount, Math.floor(f.data.length / 16384) + 1);
    assert.equal(info.size, (await readFile(w.path('i.sbx'))).length);
    assert.deepEqual(info.recipients, [{ type: 'raw-aes-256-gcm', typeId: 3, keyId: 'main', wrappedKeyLength: 48 }]);
    const human = (await ok(['inspect', w.path('i.sbx')])).stdout.toString();
    assert.match(human, /tenant=acme/);
    assert.match(human, /raw-aes-256-gcm\s+main/);
  });

  test('not an envelope → INVALID_INPUT', async () => {
    const r = await sealbox(['inspect', f.plain]);
    assert.equal(r.code, EXIT.INVALID_INPUT);
    assert.match(r.stderr, /ERR_FORMAT/);
  });
});

describe('bad input: exit 4 and no output file', { concurrency: 4 }, () => {
  let envelope: Buffer;
  before(async () => {
    await ok(['encrypt', '--aes-key', f.aes, '--context', 'tenant=acme', '-o', w.path('good.sbx'), f.plain]);
    envelope = await readFile(w.path('good.sbx'));
  });

  const cases: [string, () => Buffer, RegExp][] = [
    ['a flipped bit in the last chunk', () => Buffer.from(envelope).fill(envelope.at(-5)! ^ 1, envelope.length - 5, envelope.length - 4), /ERR_TAMPERED/],
    ['a flipped bit in the first chunk', () => Buffer.from(envelope).fill(envelope[300]! ^ 0x80, 300, 301), /ERR_TAMPERED/],
    ['cut after a whole chunk', () => envelope.subarray(0, envelope.length - (f.data.length % 16384) - 16), /ERR_TRUNCATED/],
    ['cut inside the header', () => envelope.subarray(0, 40), /ERR_TRUNCATED/],
    ['not an envelope', () => Buffer.from('hello, world'), /ERR_FORMAT/],
  ];
  cases.forEach(([name, make, code], i) => {
    test(name, async () => {
      await writeFile(w.path(`bad${i}.sbx`), make());
      const r = await sealbox(['decrypt', '--aes-key', f.aes, '-o', w.path(`bad${i}.out`), w.path(`bad${i}.sbx`)]);
      assert.match(r.stderr, code);
      assert.equal(r.code, EXIT.INVALID_INPUT, r.stderr);
      assert.deepEqual((await w.files()).filter((name) => name.includes(`bad${i}.out`)), [], 'no output file and no temp file left');
    });
  });

  test('a changed context fails the key commitment (RSA: the wrapped key does not bind the header)', async () => {
    await ok(['encrypt', '--rsa-public', f.rsaPublic, '--context', 'tenant=acme', '-o', w.path('ctx.sbx'), f.plain]);
    const bad = Buffer.from((await readFile(w.path('ctx.sbx'))).toString('latin1').replace('acme', 'acmf'), 'latin1');
    await writeFile(w.path('ctx-bad.sbx'), bad);
    const r = await sealbox(['decrypt', '--rsa-private', f.rsaPrivate, '-o', w.path('ctx-bad.out'), w.path('ctx-bad.sbx')]);
    assert.equal(r.code, EXIT.INVALID_INPUT, r.stderr);
    assert.match(r.stderr, /ERR_COMMITMENT/);
    assert.deepEqual((await w.files()).filter((name) => name.includes('ctx-bad.out')), []);
  });

  test('a changed context makes the AES recipient fail (its AAD is the header): exit 3', async () => {
    const bad = Buffer.from(envelope.toString('latin1').replace('acme', 'acmf'), 'latin1');
    const r = await sealbox(['decrypt', '--aes-key', f.aes], { input: bad });
    assert.equal(r.code, EXIT.AUTH, r.stderr);
    assert.equal(r.stdout.length, 0);
  });

  test('--expect-context mismatch', async () => {
    const r = await sealbox(['decrypt', '--aes-key', f.aes, '--expect-context', 'tenant=other', '-o', w.path('ctx.out'), w.path('good.sbx')]);
    assert.equal(r.code, EXIT.INVALID_INPUT);
    assert.match(r.stderr, /ERR_CONTEXT_MISMATCH/);
    assert.deepEqual((await w.files()).includes('ctx.out'), false);
  });

  test('tampered input through a pipe fails non-zero', async () => {
    const bad = Buffer.from(envelope);
    bad[bad.length - 1]! ^= 1;
    const r = await sealbox(['decrypt', '--aes-key', f.aes], { input: bad });
    assert.equal(r.code, EXIT.INVALID_INPUT);
    assert.match(r.stderr, /ERR_TAMPERED/);
    assert.ok(r.stdout.length < f.data.length, 'the last chunk is never released');
  });

  test('an existing output file is left as it was when decryption fails', async () => {
    await writeFile(w.path('keep.out'), 'previous contents');
    const bad = Buffer.from(envelope);
    bad[bad.length - 1]! ^= 1;
    await writeFile(w.path('keep.sbx'), bad);
    const r = await sealbox(['decrypt', '--aes-key', f.aes, '-o', w.path('keep.out'), w.path('keep.sbx')]);
    assert.equal(r.code, EXIT.INVALID_INPUT);
    assert.equal(await readFile(w.path('keep.out'), 'utf8'), 'previous contents');
  });
});

describe('keys that do not fit: exit 3', { concurrency: 4 }, () => {
  test('wrong AES key under the same name', async () => {
    await ok(['encrypt', '--aes-key', f.aes, '--aes-key-name', 'k', '-o', w.path('k.sbx'), f.plain]);
    const r = await sealbox(['decrypt', '--aes-key', f.aes2, '--aes-key-name', 'k', '-o', w.path('k.out'), w.path('k.sbx')]);
    assert.equal(r.code, EXIT.AUTH, r.stderr);
    assert.match(r.stderr, /ERR_NO_KEYRING_MATCH/);
    assert.equal((await w.files()).includes('k.out'), false);
  });

  test('another RSA private key', async () => {
    await ok(['encrypt', '--rsa-public', f.rsaPublic, '-o', w.path('r.sbx'), f.plain]);
    const r = await sealbox(['decrypt', '--rsa-private', f.rsaPrivate2, w.path('r.sbx')]);
    assert.equal(r.code, EXIT.AUTH, r.stderr);
  });
});

describe('usage errors: exit 2', { concurrency: 4 }, () => {
  const cases: [string, string[]][] = [
    ['unknown flag', ['encrypt', '--nope']],
    ['no key', ['encrypt', f0('plain.bin')]],
    ['bad context', ['encrypt', '--aes-key', f0('aes.key'), '--context', 'novalue', f0('plain.bin')]],
    ['bad chunk size', ['encrypt', '--aes-key', f0('aes.key'), '--chunk-size', '1000', f0('plain.bin')]],
    ['AES key of the wrong length', ['encrypt', '--aes-key', f0('plain.bin'), f0('plain.bin')]],
    ['private key to encrypt', ['encrypt', '--rsa-private', f0('rsa.pem'), f0('plain.bin')]],
    ['two inputs', ['decrypt', '--aes-key', f0('aes.key'), 'a', 'b']],
    ['--key without --kms', ['encrypt', '--key', 'alias/x', f0('plain.bin')]],
    ['unknown command', ['frobnicate']],
  ];
  // Paths are resolved when the test runs (the work dir is made in before()).
  function f0(name: string): string {
    return `@${name}`;
  }
  for (const [name, args] of cases) {
    test(name, async () => {
      const r = await sealbox(args.map((a) => (a.startsWith('@') ? w.path(a.slice(1)) : a)));
      assert.equal(r.code, EXIT.USAGE, r.stderr);
    });
  }

  test('--help on every command exits 0', async () => {
    for (const cmd of ['encrypt', 'decrypt', 'inspect', 'rewrap', 'keys']) {
      const r = await ok([cmd, '--help']);
      assert.match(r.stdout.toString(), new RegExp(`Usage: sealbox ${cmd}`));
    }
  });
});
