/**
 * `sealbox encrypt --to s3://…`, `decrypt s3://…`, `inspect s3://…` and `rewrap s3://…` against a
 * real S3 (Ceph RGW, from SEALBOX_TEST_S3_* or started here), spawned as a user runs them, with
 * the endpoint and credentials in the usual AWS variables. A relay in front of RGW counts the bytes
 * the CLI reads.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type S3Service, s3Service, uniqueBucketName } from '../../support/ceph-rgw.js';
import { type S3Relay, startS3Relay } from '../../support/s3-relay.js';
import { EXIT, ROOT, type RunResult, fixtures, payloadOf, workDir } from './helpers.js';

const MiB = 1024 * 1024;

function run(args: string[], options: { env?: Record<string, string>; input?: Uint8Array; noAwsSdk?: boolean } = {}): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(AWS_|SEALBOX_)/.test(k)) env[k] = v;
  return new Promise((resolve, reject) => {
    const hook = options.noAwsSdk ? ['--import', join(ROOT, 'test/node/cli/no-aws-sdk.mjs')] : [];
    const child = spawn(process.execPath, [...hook, '--import', 'tsx', join(ROOT, 'test/node/cli/s3-child.ts'), ...args], {
      cwd: ROOT,
      env: { ...env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

describe('sealbox on s3:// objects (real S3: Ceph RGW)', () => {
  let service: S3Service;
  let relay: S3Relay;
  let client: S3Client;
  let bucket: string;
  let work: Awaited<ReturnType<typeof workDir>>;
  let fx: Awaited<ReturnType<typeof fixtures>>;
  let env: Record<string, string>;
  const get = async (key: string) => Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
  const put = (key: string, body: Uint8Array) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  const ok = (r: RunResult) => assert.equal(r.code, EXIT.OK, r.stderr);

  before(async () => {
    service = await s3Service();
    bucket = uniqueBucketName('cli');
    await service.createBucket(bucket);
    relay = await startS3Relay(service.endpoint);
    client = new S3Client(service.clientConfig());
    work = await workDir();
    fx = await fixtures(work.dir);
    env = {
      AWS_ENDPOINT_URL: service.endpoint,
      AWS_REGION: service.region,
      AWS_ACCESS_KEY_ID: service.accessKeyId,
      AWS_SECRET_ACCESS_KEY: service.secretAccessKey,
    };
  });
  after(async () => {
    client?.destroy();
    await relay?.stop();
    await work?.cleanup();
    await service?.stop();
  });

  test('encrypt --to s3:// then decrypt s3:// round trips (file and stdin, file and stdout, context checked)', async () => {
    ok(await run(['encrypt', '--aes-key', fx.aes, '--context', 'app=demo', '--to', `s3://${bucket}/dir/a b.sbx`, fx.plain], { env }));
    const object = await get('dir/a b.sbx');
    assert.equal(object.subarray(0, 3).toString('latin1'), 'SBX');
    ok(await run(['decrypt', '--aes-key', fx.aes, '--expect-context', 'app=demo', '-o', work.path('out.bin'), `s3://${bucket}/dir/a b.sbx`], { env }));
    assert.ok((await readFile(work.path('out.bin'))).equals(fx.data));

    const viaStdin = await run(['encrypt', '--aes-key', fx.aes, '--to', `s3://${bucket}/stdin.sbx`, '-'], { env, input: fx.data });
    ok(viaStdin);
    const out = await run(['decrypt', '--aes-key', fx.aes, `s3://${bucket}/stdin.sbx`], { env });
    ok(out);
    assert.ok(out.stdout.equals(fx.data));

    const wrong = await run(['decrypt', '--aes-key', fx.aes, '--expect-context', 'app=other', '-o', work.path('no.bin'), `s3://${bucket}/dir/a b.sbx`], { env });
    assert.equal(wrong.code, EXIT.INVALID_INPUT, wrong.stderr);
    assert.ok(!(await work.files()).includes('no.bin'));
  });

  test('a multipart object (3 parts of 5 MiB) decrypts byte-identically; inspect reads only its first 4 KiB with one ranged GET', async () => {
    const data = randomBytes(12 * MiB + 123);
    await writeFile(work.path('big.bin'), data);
    const key = `s3://${bucket}/big.sbx`;
    ok(await run(['encrypt', '--aes-key', fx.aes, '--rsa-public', fx.rsaPublic, '--part-size', '5MiB', '--concurrency', '2', '--chunk-size', '64KiB', '--to', key, work.path('big.bin')], { env }));
    ok(await run(['decrypt', '--rsa-private', fx.rsaPrivate, '-o', work.path('big.out'), '--s3-endpoint', relay.url, key], { env }));
    assert.ok((await readFile(work.path('big.out'))).equals(data));

    relay.reset();
    const inspected = await run(['inspect', '--json', '--s3-endpoint', relay.url, key], { env });
    ok(inspected);
    const info = JSON.parse(inspected.stdout.toString('utf8'));
    assert.equal(info.file, key);
    assert.equal(info.chunkSize, 65536);
    assert.equal(info.plaintextLength, data.length);
    assert.equal(info.size, (await get('big.sbx')).length);
    assert.deepEqual(info.recipients.map((r: { type: string }) => r.type).sort(), ['raw-aes-256-gcm', 'rsa-oaep-256']);
    assert.equal(relay.requests.length, 1, 'one ranged GET');
    assert.equal(relay.requests[0]!.headers.range, 'bytes=0-4095');
    assert.ok(relay.responseBytes() <= 4096, `read ${relay.responseBytes()} bytes`);
    const table = await run(['inspect', key], { env });
    ok(table);
    assert.match(table.stdout.toString('utf8'), /plaintext\s+12583035 bytes/);
  });

  test('a tampered object fails authentication (exit 4) and leaves no output file', async () => {
    ok(await run(['encrypt', '--aes-key', fx.aes, '--to', `s3://${bucket}/t.sbx`, fx.plain], { env }));
    const object = await get('t.sbx');
    object[object.length - 100]! ^= 1;
    await put('t.sbx', object);
    const result = await run(['decrypt', '--aes-key', fx.aes, '-o', work.path('t.out'), `s3://${bucket}/t.sbx`], { env });
    assert.equal(result.code, EXIT.INVALID_INPUT, result.stderr);
    assert.match(result.stderr, /ERR_TAMPERED/);
    assert.ok(!(await work.files()).some((f) => f.includes('t.out')));
    const notEnvelope = await (async () => {
      await put('plain.txt', Buffer.from('hello, not an envelope'));
      return run(['inspect', `s3://${bucket}/plain.txt`], { env });
    })();
    assert.equal(notEnvelope.code, EXIT.INVALID_INPUT, notEnvelope.stderr);
  });

  test('a missing bucket or object is one clear line (exit 1); wrong credentials exit 3; bad flags exit 2', async () => {
    const noBucket = await run(['encrypt', '--aes-key', fx.aes, '--to', 's3://no-such-bucket-sealbox/k.sbx', fx.plain], { env });
    assert.equal(noBucket.code, EXIT.FAILURE, noBucket.stderr);
    assert.match(noBucket.stderr, /^sealbox encrypt: no bucket "no-such-bucket-sealbox" \(.*NoSuchBucket.*\) \[ERR_STORAGE/);
    assert.equal(noBucket.stderr.trim().split('\n').length, 1, noBucket.stderr);
    const noObject = await run(['decrypt', '--aes-key', fx.aes, '-o', work.path('x.out'), `s3://${bucket}/nothing-here.sbx`], { env });
    assert.equal(noObject.code, EXIT.FAILURE, noObject.stderr);
    assert.match(noObject.stderr, /no object s3:\/\/.*\/nothing-here\.sbx/);
    const inspectMissing = await run(['inspect', 's3://no-such-bucket-sealbox/k.sbx'], { env });
    assert.equal(inspectMissing.code, EXIT.FAILURE, inspectMissing.stderr);
    assert.match(inspectMissing.stderr, /no bucket/);

    const denied = await run(['inspect', `s3://${bucket}/big.sbx`], { env: { ...env, AWS_SECRET_ACCESS_KEY: 'wrong' } });
    assert.equal(denied.code, EXIT.AUTH, denied.stderr);
    assert.match(denied.stderr, /SignatureDoesNotMatch|AccessDenied/);

    // Without the optional AWS SDK: one line saying what to install; files still work.
    const noSdk = await run(['inspect', `s3://${bucket}/big.sbx`], { env, noAwsSdk: true });
    assert.equal(noSdk.code, EXIT.FAILURE, noSdk.stderr);
    assert.match(noSdk.stderr, /^sealbox inspect: s3:\/\/ URLs need the optional packages @aws-sdk\/client-s3 and @aws-sdk\/s3-request-presigner \(npm install .*\) \[ERR_STORAGE\]\n$/);
    const fileStill = await run(['encrypt', '--aes-key', fx.aes, '-o', work.path('f.sbx'), fx.plain], { env, noAwsSdk: true });
    assert.equal(fileStill.code, EXIT.OK, fileStill.stderr);

    for (const args of [
      ['encrypt', '--aes-key', fx.aes, '--to', '/tmp/x', fx.plain],
      ['encrypt', '--aes-key', fx.aes, '--to', 's3://bucket-only', fx.plain],
      ['encrypt', '--aes-key', fx.aes, '--to', `s3://${bucket}/k`, '--part-size', '1MiB', fx.plain],
      ['encrypt', '--aes-key', fx.aes, '--s3-endpoint', 'http://x', '-o', work.path('y'), fx.plain],
      ['decrypt', '--aes-key', fx.aes, '-o', `s3://${bucket}/k`, fx.plain],
    ]) {
      const result = await run(args, { env });
      assert.equal(result.code, EXIT.USAGE, `${args.join(' ')}: ${result.stderr}`);
    }
  });

  test('rewrap s3:// writes a new object with the new header and the same body bytes (small: PutObject; large: UploadPartCopy)', async () => {
    const big = randomBytes(20 * MiB + 7);
    await writeFile(work.path('r.bin'), big);
    for (const [name, file, data, method] of [
      ['small.sbx', fx.plain, fx.data, /PutObject/],
      ['large.sbx', work.path('r.bin'), big, /copied inside S3/],
    ] as const) {
      const url = `s3://${bucket}/${name}`;
      ok(await run(['encrypt', '--aes-key', fx.aes, '--to', url, file], { env }));
      const before = await get(name);
      const result = await run(['rewrap', '--aes-key', fx.aes, '--to-aes-key', fx.aes2, url], { env });
      ok(result);
      assert.match(result.stderr, method);
      const afterBytes = await get(name);
      assert.ok(Buffer.from(payloadOf(afterBytes)).equals(payloadOf(before)), `${name}: the body is unchanged`);
      assert.ok(!afterBytes.subarray(0, 8 + before.readUInt32BE(4)).equals(before.subarray(0, 8 + before.readUInt32BE(4))), 'the header changed');
      const old = await run(['decrypt', '--aes-key', fx.aes, '-o', work.path('old.out'), url], { env });
      assert.equal(old.code, EXIT.AUTH, old.stderr);
      ok(await run(['decrypt', '--aes-key', fx.aes2, '-o', work.path('new.out'), url], { env }));
      assert.ok((await readFile(work.path('new.out'))).equals(data));
    }
    // -o another key: the source stays as it was.
    const before = await get('small.sbx');
    ok(await run(['rewrap', '-q', '--aes-key', fx.aes2, '--to-aes-key', fx.aes, '-o', `s3://${bucket}/copy.sbx`, `s3://${bucket}/small.sbx`], { env }));
    assert.ok((await get('small.sbx')).equals(before));
    ok(await run(['decrypt', '--aes-key', fx.aes, '-o', work.path('copy.out'), `s3://${bucket}/copy.sbx`], { env }));
    assert.ok((await readFile(work.path('copy.out'))).equals(fx.data));
  });
});
