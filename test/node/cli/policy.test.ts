// `sealbox policy check` on real files, and the check `sealbox kms` / `sealbox proxy` run at start
// (warnings on stderr, the server starts anyway). The CLI runs from source, as in serve.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { demoProxyPolicy } from '../../../src/node/devserver/policy.js';
import { demoSeed } from '../../../src/node/devserver/kms-setup.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, FINDINGS: 5 } as const;
let dir: string;
let script: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealbox-cli-policy-'));
  script = join(dir, 'main.mts');
  await writeFile(script, `import { main } from ${JSON.stringify(join(ROOT, 'src/node/cli/main.ts'))};\nprocess.exitCode = await main(process.argv.slice(2));\n`);
});
after(() => rm(dir, { recursive: true, force: true }));

/** Runs the CLI to its end, or (with `until`) until stdout matches (a server's banner, printed after its warnings), then SIGTERM. */
function cli(args: string[], until?: RegExp): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      if (until?.test(out)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

async function file(name: string, value: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return path;
}

const OPEN = { Version: '2012-10-17', Statement: [{ Sid: 'Open', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*' }] };
const MEDIUM = { Statement: [{ Sid: 'App', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:role/app' }, Action: 'kms:Decrypt', Resource: '*' }] };

test('policy check: a wide-open policy fails (exit 5) with the finding, its Sid and a fix', async () => {
  const r = await cli(['policy', 'check', await file('open.json', OPEN), '--kind', 'proxy']);
  assert.equal(r.code, EXIT.FINDINGS, r.err);
  assert.match(r.out, /^critical wildcard-principal-decrypt \[Open\] Any authenticated caller may kms:Decrypt \(Principal "\*", no condition\)\.\n\s+fix: Name the principals/);
  assert.match(r.out, /open\.json: 1 finding \(1 critical\); 1 at or above high\n$/);
});

test('policy check: --fail-on sets the bar; findings below it are printed, exit 0', async () => {
  const path = await file('medium.json', MEDIUM);
  const below = await cli(['policy', 'check', path]);
  assert.equal(below.code, EXIT.OK, below.err);
  assert.match(below.out, /medium\s+decrypt-without-context \[App\]/);
  assert.match(below.out, /1 finding \(1 medium\); 0 at or above high/);
  const at = await cli(['policy', 'check', path, '--fail-on', 'medium']);
  assert.equal(at.code, EXIT.FINDINGS);
  const admin = await cli(['policy', 'check', path, '--fail-on', 'info', '--admin', 'arn:aws:iam::111122223333:role/*']);
  assert.equal(admin.code, EXIT.OK);
  assert.match(admin.out, /no findings \(kms policy\)/);
});

test('policy check --json: the findings as data; a proxy config is checked as a proxy policy with --claims', async () => {
  const config = await file('proxy.json', {
    upstream: { region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
    policy: { Statement: [{ Sid: 'Readers', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': '${jwt:org}' } } }] },
  });
  const r = await cli(['policy', 'check', config, '--claims', 'sub,tenant', '--json']);
  assert.equal(r.code, EXIT.OK, r.err);
  const report = JSON.parse(r.out) as { kind: string; failOn: string; findings: Array<{ id: string; severity: string; sid: string }> };
  assert.equal(report.kind, 'proxy');
  assert.equal(report.failOn, 'high');
  assert.deepEqual(report.findings.map((f) => [f.severity, f.id, f.sid]), [['medium', 'claim-not-set', 'Readers']]);
});

test('policy check: the demo policies pass clean at --fail-on info', async () => {
  const proxy = await cli(['policy', 'check', await file('demo-proxy.json', demoProxyPolicy()), '--kind', 'proxy', '--claims', 'sub,name,tenant,role', '--fail-on', 'info']);
  assert.equal(proxy.code, EXIT.OK, proxy.out);
  for (const key of demoSeed('111122223333').keys ?? []) {
    if (key.policy === undefined) continue;
    const tenant = (key.tags as Record<string, string>).tenant!;
    const r = await cli(['policy', 'check', await file(`demo-${tenant}.json`, key.policy), '--tenant', tenant, '--fail-on', 'info']);
    assert.equal(r.code, EXIT.OK, r.out);
  }
});

test('policy check: usage errors and unreadable files', async () => {
  assert.equal((await cli(['policy', 'check'])).code, EXIT.USAGE);
  assert.equal((await cli(['policy', 'check', 'x.json', '--fail-on', 'severe'])).code, EXIT.USAGE);
  assert.equal((await cli(['policy', 'check', 'x.json', '--kind', 'iam'])).code, EXIT.USAGE);
  assert.equal((await cli(['policy', 'check', join(dir, 'missing.json')])).code, EXIT.FAILURE);
  const invalid = await cli(['policy', 'check', await file('bad.json', '{"Statement": [')]);
  assert.equal(invalid.code, EXIT.FINDINGS);
  assert.match(invalid.out, /critical policy-invalid \[\(policy\)\] The policy is not valid JSON/);
});

test('sealbox kms warns at start about a seeded key policy that is wide open, and serves anyway', async () => {
  const seed = await file('seed.json', {
    keys: [
      { aliases: ['alias/open'], policy: OPEN },
      { aliases: ['alias/acme'], tags: { tenant: 'acme' } },
    ],
  });
  const started = await cli(['kms', '--port', '0', '--data', join(dir, 'kms'), '--seed', seed], /AWS_ENDPOINT_URL_KMS/);
  assert.match(started.out, /endpoint\s+http:\/\//);
  assert.match(started.err, /sealbox kms: warning: key alias\/open: critical wildcard-principal-decrypt \[Open\] Any principal may kms:Decrypt/);
  assert.match(started.err, /sealbox kms: warning: key alias\/acme: high\s+tenant-key-without-context \[\(policy\)\] This key is tenant "acme"'s/);
});

test('sealbox proxy warns at start about its policy, with --claims', async () => {
  const config = await file('proxy-open.json', {
    upstream: { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: { accessKeyId: 'AKIASERVETEST0000001', secretAccessKey: 'serve-test-secret-0123456789abcdefghij' } },
    auth: { jwt: { secret: 'serve-test-jwt-secret-0123456789abcdef', issuer: 'https://idp.serve/', audience: 'serve' } },
    policy: { Statement: [{ Sid: 'All', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'jwt:group': 'x' } } }] },
  });
  const r = await cli(['proxy', '--config', config, '--port', '0', '--claims', 'sub,role'], /Sealbox proxy: http/);
  assert.match(r.out, /Sealbox proxy: http:\/\//);
  assert.match(r.err, /sealbox proxy: warning: policy: medium\s+claim-not-set \[All\] "StringEquals" reads "jwt:group", a claim the JWT issuer does not set \(claims: sub, role\)/);
});
