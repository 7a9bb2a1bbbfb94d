// Several proxy instances, one set of limits: two `sealbox proxy` PROCESSES (the CLI, from source)
// sharing one real redis-server, in front of one real local KMS, as behind a load balancer (every
// request carries the balancer's Host, so a signature made for it verifies on either instance).
// - a SigV4 request replayed to the other instance is refused, and N concurrent copies of one
//   signed request spread over both get exactly one 200;
// - a principal's rate limit holds across both (allowed calls within 10 % of capacity + rate × time);
// - Redis killed: SigV4 calls answer 503 ServiceUnavailableException, JWT calls follow
//   rateLimit.onStoreError ('allow': this instance's bucket; 'deny': 503), nothing crashes;
//   Redis back: service resumes by itself;
// - every call is audited, each file's chain names its instance, `sealbox audit verify a b c` checks all.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { AwsClient } from 'aws4fetch';
import { startLocalKmsServer, type LocalKmsServer } from '../../../src/node/kms/index.js';
import { AUDIENCE, ISSUER, JWT_SECRET, MACHINE, POLICY, REGION, ROOT_KEY, SEED, token } from '../../edge/proxy/helpers.js';
import { startRedis, type LocalRedis } from '../../support/redis.js';

const root = resolve(fileURLToPath(import.meta.url), '../../../..');
const cli = join(root, 'test/fixtures/proxy/cli.ts');
/** The host name clients use (the load balancer's): signed into every SigV4 request. */
const LB_HOST = 'kms-proxy.lb.test';
// A slow refill, so that the callers outrun it even on a busy machine.
const RATE = { capacity: 8, refillPerSecond: 4 };

interface Instance {
  id: string;
  port: number;
  child: ChildProcess;
  auditPath: string;
  /** Requests this test sent to the instance (each must have an audit record). */
  sent: number;
  output: () => string;
}

let dir: string;
/** A Redis of this test's own (it is killed and restarted). */
let redis: LocalRedis;
let kms: LocalKmsServer;
const instances: Record<'a' | 'b' | 'deny', Instance> = {} as never;

async function startInstance(id: string, onStoreError: 'allow' | 'deny'): Promise<Instance> {
  const configPath = join(dir, `${id}.json`);
  const auditPath = join(dir, `${id}-audit.log`);
  await writeFile(
    configPath,
    JSON.stringify({
      upstream: { endpoint: kms.url, region: REGION, credentials: kms.credentials, timeoutMs: 5000 },
      auth: { jwt: { secret: JWT_SECRET, issuer: ISSUER, audience: AUDIENCE }, sigv4: { keys: [MACHINE] } },
      policy: POLICY,
      rateLimit: { ...RATE, onStoreError },
      state: { redis: { url: redis.url, keyPrefix: 'sealbox:test:', commandTimeoutMs: 500 } },
      instanceId: id,
      audit: { file: auditPath },
    }),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'proxy', '--config', configPath, '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const port = await new Promise<number>((done, fail) => {
    const check = () => {
      const m = /Sealbox proxy: http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) done(Number(m[1]));
    };
    child.stdout!.on('data', check);
    child.once('close', (code) => fail(new Error(`proxy ${id} exited ${code}: ${out}`)));
  });
  return { id, port, child, auditPath, sent: 0, output: () => out };
}

interface Answer {
  status: number;
  body: Record<string, any>;
  headers: Record<string, string | string[] | undefined>;
}

/** One KMS call to an instance, with the balancer's Host header (as a load balancer forwards it). */
function send(inst: Instance, headers: Record<string, string>, body: string): Promise<Answer> {
  inst.sent++;
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port: inst.port, method: 'POST', path: '/', headers: { ...headers, host: LB_HOST, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (p: Buffer) => parts.push(p));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        done({ status: res.statusCode!, body: text === '' ? {} : JSON.parse(text), headers: res.headers });
      });
    });
    req.on('error', fail);
    req.end(body);
  });
}

const machine = new AwsClient({ ...MACHINE, service: 'kms', region: REGION, retries: 0 });

/** A SigV4-signed DescribeKey for the balancer's URL: the headers, to send as often as wanted. */
async function signed(op = 'DescribeKey', input: unknown = { KeyId: 'alias/tenant-a' }): Promise<{ headers: Record<string, string>; body: string }> {
  const body = JSON.stringify(input);
  const req = await machine.sign(`http://${LB_HOST}/`, { method: 'POST', headers: { 'x-amz-target': `TrentService.${op}`, 'content-type': 'application/x-amz-json-1.1' }, body });
  const headers = Object.fromEntries(req.headers);
  delete headers.host;
  return { headers, body };
}

async function jwtCall(inst: Instance, sub: string): Promise<Answer> {
  const jwt = await token({ sub, tenant: 'a', role: 'reader' });
  return send(inst, { authorization: `Bearer ${jwt}`, 'x-amz-target': 'TrentService.DescribeKey', 'content-type': 'application/x-amz-json-1.1' }, JSON.stringify({ KeyId: 'alias/tenant-a' }));
}

async function stopInstance(inst: Instance): Promise<void> {
  if (inst.child.exitCode !== null) return;
  const closed = new Promise((r) => inst.child.once('close', r));
  inst.child.kill('SIGTERM');
  await closed;
}

const alive = (inst: Instance) => inst.child.exitCode === null && inst.child.signalCode === null;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealbox-state-'));
  redis = await startRedis();
  kms = await startLocalKmsServer({ port: 0, dataDir: join(dir, 'kms'), rootKey: ROOT_KEY, env: {}, log: () => {}, seed: SEED, audit: false });
  [instances.a, instances.b, instances.deny] = await Promise.all([startInstance('proxy-a', 'allow'), startInstance('proxy-b', 'allow'), startInstance('proxy-deny', 'deny')]);
});

after(async () => {
  for (const inst of Object.values(instances)) if (inst) await stopInstance(inst);
  await kms?.close();
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('two proxy processes, one Redis', () => {
  test('a signed request replayed to the other instance is refused', async () => {
    const { a, b } = instances;
    const { headers, body } = await signed();
    const first = await send(a, headers, body);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const replay = await send(b, headers, body);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.__type, 'InvalidSignatureException');
    assert.match(replay.body.message, /replay/);
    // The other way round, with a fresh signature.
    const next = await signed('DescribeKey', { KeyId: 'alias/tenant-b' });
    assert.equal((await send(b, next.headers, next.body)).status, 200);
    assert.equal((await send(a, next.headers, next.body)).status, 400);
  });

  test('a replay racing itself: 24 concurrent copies over both instances, exactly one accepted', async () => {
    const { a, b } = instances;
    const { headers, body } = await signed('DescribeKey', { KeyId: 'alias/rsa-shared' });
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => send(i % 2 ? a : b, headers, body)));
    assert.equal(answers.filter((r) => r.status === 200).length, 1, JSON.stringify(answers.map((r) => r.status)));
    assert.ok(answers.every((r) => r.status === 200 || (r.status === 400 && r.body.__type === 'InvalidSignatureException')));
  });

  test("a principal's rate limit holds across both instances (within 10 %)", async (t) => {
    const { a, b } = instances;
    const jwt = await token({ sub: 'rate-carol', tenant: 'a', role: 'reader' });
    const headers = { authorization: `Bearer ${jwt}`, 'x-amz-target': 'TrentService.DescribeKey', 'content-type': 'application/x-amz-json-1.1' };
    const body = JSON.stringify({ KeyId: 'alias/tenant-a' });
    let allowed = 0;
    let throttled = 0;
    // The bucket's tokens are taken between a request's sending and its answer: the first and last
    // takes lie in [min sent, min answered] and [max sent, max answered], which bounds the time the
    // bucket refilled for, however slow the machine is.
    let minSent = Infinity;
    let maxSent = 0;
    let minAnswered = Infinity;
    let maxAnswered = 0;
    const start = Date.now();
    const durationMs = 4000;
    // 8 callers in a loop, alternating instances, as fast as they are answered.
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; Date.now() - start < durationMs; i++) {
          const sent = Date.now();
          const r = await send((w + i) % 2 ? a : b, headers, body);
          const answered = Date.now();
          [minSent, maxSent, minAnswered, maxAnswered] = [Math.min(minSent, sent), Math.max(maxSent, sent), Math.min(minAnswered, answered), Math.max(maxAnswered, answered)];
          if (r.status === 200) allowed++;
          else if (r.status === 400 && r.body.__type === 'ThrottlingException') throttled++;
          else assert.fail(`unexpected ${r.status} ${JSON.stringify(r.body)}`);
        }
      }),
    );
    const low = RATE.capacity + (RATE.refillPerSecond * Math.max(0, maxSent - minAnswered)) / 1000;
    const high = RATE.capacity + (RATE.refillPerSecond * (maxAnswered - minSent)) / 1000;
    t.diagnostic(`allowed ${allowed}, throttled ${throttled}; capacity + rate × time between ${low.toFixed(1)} and ${high.toFixed(1)}`);
    assert.ok(throttled > allowed, `the callers must outrun the limit (allowed ${allowed}, throttled ${throttled})`);
    // Within 10 % (and one token of rounding) of what one shared bucket allows; per-instance
    // buckets would allow about twice as much.
    assert.ok(allowed >= Math.floor(low * 0.9) - 1 && allowed <= Math.ceil(high * 1.1) + 1, `allowed ${allowed}, expected ${low.toFixed(1)}…${high.toFixed(1)}`);
    assert.ok(allowed < 1.5 * low, `a shared bucket, not two (allowed ${allowed})`);
  });

  test('Redis down: SigV4 503, JWT per rateLimit.onStoreError, no crash; Redis back: service resumes', async () => {
    const { a, b, deny } = instances;
    await redis.kill();
    for (const inst of [a, b, deny]) {
      const s = await signed();
      const r = await send(inst, s.headers, s.body);
      assert.equal(r.status, 503, `${inst.id}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.__type, 'ServiceUnavailableException');
      assert.equal(r.headers['retry-after'], '1');
    }
    // JWT with 'allow': served, limited by each instance's own bucket meanwhile.
    for (const inst of [a, b]) assert.equal((await jwtCall(inst, 'outage-dave')).status, 200);
    const burst = await Promise.all(Array.from({ length: 20 }, () => jwtCall(a, 'outage-erin')));
    const ok = burst.filter((r) => r.status === 200).length;
    assert.ok(ok >= RATE.capacity && ok < 20, `instance-local bucket: ${ok} of 20 allowed`);
    // JWT with 'deny': 503.
    const denied = await jwtCall(deny, 'outage-dave');
    assert.equal(denied.status, 503);
    assert.equal(denied.body.__type, 'ServiceUnavailableException');
    for (const inst of [a, b, deny]) assert.ok(alive(inst), `${inst.id} is still running:\n${inst.output()}`);

    await redis.restart();
    const deadline = Date.now() + 10_000;
    let last: Answer | undefined;
    for (;;) {
      const s = await signed();
      last = await send(a, s.headers, s.body);
      if (last.status === 200 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(last.status, 200, 'SigV4 works again once Redis is back');
    for (const inst of [b, deny]) {
      let r: Answer;
      const until = Date.now() + 10_000;
      do {
        const s = await signed();
        r = await send(inst, s.headers, s.body);
      } while (r.status !== 200 && Date.now() < until && (await new Promise((res) => setTimeout(res, 200)), true));
      assert.equal(r.status, 200, inst.id);
      assert.equal((await jwtCall(inst, 'after-frank')).status, 200);
    }
  });

  test('every call audited, each chain names its instance; sealbox audit verify takes the three files', async () => {
    for (const inst of Object.values(instances)) await stopInstance(inst);
    const files = Object.values(instances).map((i) => i.auditPath);
    for (const inst of Object.values(instances)) {
      const records = (await readFile(inst.auditPath, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(records.length, inst.sent, `${inst.id}: ${inst.sent} calls, ${records.length} records`);
      assert.ok(records.every((r) => r.instance === inst.id), inst.id);
      const outage = records.filter((r) => r.status === 503);
      assert.ok(outage.length > 0 && outage.every((r) => r.outcome === 'error' && /^state store unavailable/.test(r.reason)), inst.id);
      if (inst.id !== 'proxy-deny') assert.ok(records.some((r) => r.outcome === 'allow' && /^state store unavailable/.test(r.stateError ?? '')), inst.id);
    }
    const verify = async (args: string[]) => {
      const child = spawn(process.execPath, ['--import', 'tsx', cli, 'audit', 'verify', ...args], { cwd: root });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const code = await new Promise((r) => child.once('close', r));
      return { code, out };
    };
    const all = await verify(files);
    assert.equal(all.code, 0, all.out);
    for (const inst of Object.values(instances)) assert.match(all.out, new RegExp(`${inst.auditPath}: ok, ${inst.sent} records, instance ${inst.id} `));
    assert.match(all.out, new RegExp(`ok, 3 files, ${Object.values(instances).reduce((n, i) => n + i.sent, 0)} records`));
    // The same chain twice would count its records twice.
    const twice = await verify([files[0]!, files[1]!, files[0]!]);
    assert.equal(twice.code, 4, twice.out);
    assert.match(twice.out, /the same chain as/);
  });
});
