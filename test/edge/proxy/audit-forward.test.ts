// The proxy's audit file (hash chain, continued across restarts, edits detected by
// `sealbox audit verify`), forwarding (SigV4-signed the same way for the local KMS and AWS), the
// `sealbox proxy` command, and the runtime-agnostic module graph.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { verifyAuditChain } from '../../../src/edge/audit/chain.js';
import { verifySigV4 } from '../../../src/edge/aws/sigv4.js';
import { createProxy } from '../../../src/edge/proxy/index.js';
import { ACCOUNT, AUDIENCE, ISSUER, JWT_SECRET, POLICY, REGION, arn, KEY_IDS, bearer, call, serve, startEnv, token, type Env } from './helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
let env: Env;
before(async () => {
  env = await startEnv();
});
after(() => env.close());

/** Runs a CLI command in-process (`sealbox <argv>`), capturing what it prints. */
async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import('../../../src/node/cli/main.js');
  const log = console.log;
  const error = console.error;
  let stdout = '';
  let stderr = '';
  console.log = (...a: unknown[]) => void (stdout += `${a.join(' ')}\n`);
  console.error = (...a: unknown[]) => void (stderr += `${a.join(' ')}\n`);
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    console.log = log;
    console.error = error;
  }
}

describe('audit file', () => {
  test('every call is a chained line; the chain continues after a restart; an edit fails verify at that line', async () => {
    const file = join(env.dir, 'proxy-audit.log');
    const first = await env.extraProxy({ audit: { file } });
    const uploader = await token({ sub: 'alice', tenant: 'a', role: 'uploader' });
    const readerB = await token({ sub: 'bob', tenant: 'b', role: 'reader' });
    const gen = await call(first.url, 'GenerateDataKey', { KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }, bearer(uploader));
    assert.equal(gen.status, 200);
    const denied = await call(first.url, 'Decrypt', { CiphertextBlob: gen.body.CiphertextBlob, EncryptionContext: { tenant: 'a' } }, bearer(readerB));
    assert.equal(denied.body.__type, 'AccessDeniedException');
    await call(first.url, 'CreateKey', {}, bearer(uploader));
    await first.close();

    const second = await env.extraProxy({ audit: { file } });
    await call(second.url, 'DescribeKey', { KeyId: 'alias/tenant-b' }, bearer(readerB));
    await second.close();

    const text = await readFile(file, 'utf8');
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    const records = lines.map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => [r.op, r.outcome]), [
      ['GenerateDataKey', 'allow'],
      ['Decrypt', 'deny'],
      ['CreateKey', 'deny'],
      ['DescribeKey', 'allow'],
    ]);
    assert.equal(records[1].principal, 'jwt/bob');
    assert.deepEqual(records[1].context, { tenant: 'a' });
    for (const r of records) for (const k of ['time', 'requestId', 'principal', 'op', 'keyId', 'outcome', 'prevHash', 'hash']) assert.ok(k in r, k);
    assert.equal((await verifyAuditChain(lines)).ok, true);
    const ok = await runCli(['audit', 'verify', file]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /ok, 4 records/);

    // Turn the denial into an allow.
    const edited = [...lines];
    edited[1] = edited[1]!.replace('"outcome":"deny"', '"outcome":"allow"');
    assert.notEqual(edited[1], lines[1]);
    await writeFile(file, `${edited.join('\n')}\n`);
    const bad = await verifyAuditChain(edited);
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.line, 2);
    const cli = await runCli(['audit', 'verify', file]);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /:2: /);
  });
});

describe('forwarding: the same SigV4 path for the local KMS and AWS', () => {
  test('every upstream call the proxy makes verifies as SigV4 under its credentials', async () => {
    const seen: string[] = [];
    const checking = await serve(async (req) => {
      const body = new Uint8Array(await req.clone().arrayBuffer());
      const sig = await verifySigV4(req, body, { lookupSecret: (id) => (id === env.kms.credentials.accessKeyId ? { secretAccessKey: env.kms.credentials.secretAccessKey } : undefined), service: 'kms' });
      assert.equal(sig.region, REGION);
      seen.push(req.headers.get('x-amz-target')!);
      return env.kms.kms.fetch(req);
    });
    try {
      const proxy = await env.extraProxy({ upstream: { endpoint: checking.url, region: REGION, credentials: env.kms.credentials } });
      const r = await call(proxy.url, 'GenerateDataKey', { KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }, bearer(await token({ sub: 'alice', tenant: 'a', role: 'uploader' })));
      assert.equal(r.status, 200);
      assert.deepEqual(seen, ['TrentService.DescribeKey', 'TrentService.ListAliases', 'TrentService.GenerateDataKey']);
    } finally {
      await checking.close();
    }
  });

  test('with no endpoint, the same code signs for and calls AWS KMS in the region', async () => {
    const region = 'eu-west-1';
    const keyArn = `arn:aws:kms:${region}:${ACCOUNT}:key/${KEY_IDS.tenantA}`;
    const creds = { accessKeyId: 'AKIAUPSTREAMEXAMPLE1', secretAccessKey: 'upstream-secret-for-aws-test-000000000000' };
    const requests: Array<{ url: string; target: string; scope: string; keyId: unknown }> = [];
    const awsLike: typeof fetch = async (input, init) => {
      const req = new Request(input as Request, init);
      const body = new Uint8Array(await req.clone().arrayBuffer());
      const sig = await verifySigV4(req, body, { lookupSecret: (id) => (id === creds.accessKeyId ? { secretAccessKey: creds.secretAccessKey } : undefined), service: 'kms' });
      const target = req.headers.get('x-amz-target')!;
      requests.push({ url: req.url, target, scope: `${sig.region}/${sig.service}`, keyId: JSON.parse(new TextDecoder().decode(body)).KeyId });
      const json = (o: unknown) => new Response(JSON.stringify(o), { headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'aws-req-1' } });
      if (target === 'TrentService.DescribeKey') return json({ KeyMetadata: { Arn: keyArn, KeyId: KEY_IDS.tenantA, KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' } });
      if (target === 'TrentService.ListAliases') return json({ Aliases: [{ AliasName: 'alias/tenant-a', TargetKeyId: KEY_IDS.tenantA }], Truncated: false });
      return json({ KeyId: keyArn, CiphertextBlob: 'AQID', Plaintext: Buffer.alloc(32, 1).toString('base64') });
    };
    const audit: string[] = [];
    const proxy = createProxy({
      upstream: { region, credentials: creds, fetch: awsLike },
      auth: { jwt: { secret: JWT_SECRET, issuer: ISSUER, audience: AUDIENCE } },
      policy: POLICY,
      audit: (l) => void audit.push(l),
    });
    const jwt = await token({ sub: 'alice', tenant: 'a', role: 'uploader' });
    const res = await proxy.fetch(
      new Request('https://proxy.example/', {
        method: 'POST',
        headers: { 'x-amz-target': 'TrentService.GenerateDataKey', 'content-type': 'application/x-amz-json-1.1', ...bearer(jwt) },
        body: JSON.stringify({ KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } }),
      }),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(
      requests.map((r) => [new URL(r.url).host, r.target, r.scope]),
      [
        ['kms.eu-west-1.amazonaws.com', 'TrentService.DescribeKey', 'eu-west-1/kms'],
        ['kms.eu-west-1.amazonaws.com', 'TrentService.ListAliases', 'eu-west-1/kms'],
        ['kms.eu-west-1.amazonaws.com', 'TrentService.GenerateDataKey', 'eu-west-1/kms'],
      ],
    );
    assert.equal(JSON.parse(audit[0]!).upstreamRequestId, 'aws-req-1');
    // The forwarded request names the key by ARN (what was authorized), not by alias.
    assert.equal(requests[2]!.keyId, keyArn);
  });
});

describe('sealbox proxy (CLI)', () => {
  test('--help, bad flags, and serving a config file (secrets from the environment)', async () => {
    const help = await runCli(['proxy', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--config/);
    assert.equal((await runCli(['proxy'])).code, 2);
    assert.equal((await runCli(['proxy', '--bogus'])).code, 2);

    await writeFile(join(env.dir, 'policy.json'), JSON.stringify(POLICY));
    const configPath = join(env.dir, 'proxy.json');
    await writeFile(
      configPath,
      JSON.stringify({
        upstream: { endpoint: env.kms.url, region: REGION },
        auth: { jwt: { secretEnv: 'TEST_JWT_SECRET', issuer: ISSUER, audience: AUDIENCE } },
        policyFile: 'policy.json',
        audit: { file: 'cli-audit.log' },
      }),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/fixtures/proxy/cli.ts'), 'proxy', '--config', configPath, '--port', '0'], {
      cwd: root,
      env: { ...process.env, TEST_JWT_SECRET: JWT_SECRET, AWS_ACCESS_KEY_ID: env.kms.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: env.kms.credentials.secretAccessKey },
    });
    try {
      const url = await new Promise<string>((resolveUrl, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          const m = /Sealbox proxy: (http:\/\/\S+)/.exec(out);
          if (m) resolveUrl(m[1]!);
        });
        child.on('close', (code) => reject(new Error(`proxy exited ${code}`)));
      });
      const r = await call(url, 'DescribeKey', { KeyId: 'alias/tenant-a' }, bearer(await token({ sub: 'ann', tenant: 'a', role: 'reader' })));
      assert.equal(r.status, 200);
      assert.equal(r.body.KeyMetadata.Arn, arn(KEY_IDS.tenantA));
    } finally {
      const closed = new Promise((r) => child.on('close', r));
      child.kill('SIGTERM');
      await closed;
    }
    const audit = (await readFile(join(env.dir, 'cli-audit.log'), 'utf8')).trim().split('\n');
    assert.equal(audit.length, 1);
    assert.equal(JSON.parse(audit[0]!).op, 'DescribeKey');
  });
});

describe('runtime-agnostic', () => {
  test('the proxy module graph (all but node.ts) uses no Node built-ins, Buffer or process', async () => {
    const seen = new Set<string>();
    const queue = [join(root, 'src/edge/proxy/index.ts')];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const src = await readFile(file, 'utf8');
      const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      assert.doesNotMatch(code, /from ['"]node:|import\(['"]node:|require\(/, file);
      assert.doesNotMatch(code, /\bBuffer\b|\bprocess\./, file);
      for (const m of code.matchAll(/from ['"](\.{1,2}\/[^'"]+)\.js['"]/g)) queue.push(resolve(dirname(file), `${m[1]}.ts`));
    }
    assert.ok(seen.has(join(root, 'src/edge/aws/sigv4.ts')));
    assert.ok(seen.has(join(root, 'src/edge/audit/chain.ts')));
    assert.ok(!seen.has(join(root, 'src/node/proxy/node.ts')));
  });
});
