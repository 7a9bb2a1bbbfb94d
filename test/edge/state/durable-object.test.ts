// The proxy as a Cloudflare Worker in workerd (Miniflare), its state in a real Durable Object
// (SQLite-backed): two Worker services, proxy-a and proxy-b (separate isolates, as two instances),
// bind the same Durable Object namespace; proxy-memory keeps its state in its own isolate (the
// control); proxy-broken binds a Durable Object that fails every call, proxy-slow one that answers
// after 5 s (the store times out at 300 ms). A real local KMS answers
// behind them. Requests reach every Worker through Miniflare's one loopback entry (its Host
// header), so a signature made for it verifies on any of them.
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { AwsClient } from 'aws4fetch';
import { AUDIENCE, ISSUER, JWT_SECRET, MACHINE, POLICY, REGION, startEnv, token, type Env } from '../proxy/helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Miniflare's entry URL: the Host header every Worker sees. */
let URL_: string;
const RATE = { capacity: 6, refillPerSecond: 0.001 };
let env: Env;
let mf: Miniflare;
/** What these tests use of a Miniflare worker fetcher. */
interface Worker {
  fetch(url: string, init: { method: string; headers: Record<string, string>; body: string }): Promise<{ status: number; text(): Promise<string> }>;
}
const w: Record<'a' | 'b' | 'memory' | 'broken' | 'slow', Worker> = {} as never;

before(async () => {
  env = await startEnv();
  const out = await build({
    entryPoints: [join(root, 'test/fixtures/proxy/worker-state.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['worker', 'browser'],
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const script = out.outputFiles[0]!.text;
  const CONFIG = JSON.stringify({
    upstream: { endpoint: env.kms.url, region: REGION, credentials: env.kms.credentials },
    auth: { jwt: { secret: JWT_SECRET, issuer: ISSUER, audience: AUDIENCE }, sigv4: { keys: [MACHINE] } },
    policy: POLICY,
    rateLimit: RATE,
  });
  const common = { modules: true, script, compatibilityDate: '2025-01-01' };
  mf = new Miniflare({
    workers: [
      { ...common, name: 'proxy-a', bindings: { CONFIG, INSTANCE: 'worker-a' }, durableObjects: { STATE: { className: 'SealboxStateObject', useSQLite: true } } },
      { ...common, name: 'proxy-b', bindings: { CONFIG, INSTANCE: 'worker-b' }, durableObjects: { STATE: { className: 'SealboxStateObject', scriptName: 'proxy-a', useSQLite: true } } },
      { ...common, name: 'proxy-memory', bindings: { CONFIG, INSTANCE: 'worker-memory' } },
      // A Durable Object that throws on every call (as one being reset does): the store is "down".
      // One that answers after 5 s, with the store's timeout at 300 ms.
      {
        ...common,
        name: 'proxy-slow',
        bindings: { CONFIG, INSTANCE: 'worker-slow', STATE_OPTIONS: { timeoutMs: 300 } },
        durableObjects: { STATE: { className: 'SlowStateObject', useSQLite: true } },
      },
      // The Durable Object class with test paths, to run the sweep on demand.
      { ...common, name: 'sweep', bindings: { CONFIG, INSTANCE: 'worker-sweep' }, durableObjects: { STATE: { className: 'InspectableStateObject', useSQLite: true } } },
      { ...common, name: 'proxy-broken', bindings: { CONFIG, INSTANCE: 'worker-broken' }, durableObjects: { STATE: { className: 'BrokenStateObject', useSQLite: true } } },
    ],
  });
  URL_ = (await mf.ready).href;
  const get = (name: string) => mf.getWorker(name) as Promise<unknown> as Promise<Worker>;
  [w.a, w.b, w.memory, w.broken, w.slow] = await Promise.all([get('proxy-a'), get('proxy-b'), get('proxy-memory'), get('proxy-broken'), get('proxy-slow')]);
});

after(async () => {
  await mf?.dispose();
  await env?.close();
});

const machine = new AwsClient({ ...MACHINE, service: 'kms', region: REGION, retries: 0 });

async function signed(keyId: string): Promise<{ headers: Record<string, string>; body: string }> {
  const body = JSON.stringify({ KeyId: keyId });
  const req = await machine.sign(URL_, { method: 'POST', headers: { 'x-amz-target': 'TrentService.DescribeKey', 'content-type': 'application/x-amz-json-1.1' }, body });
  return { headers: Object.fromEntries(req.headers), body };
}

async function send(worker: Worker, headers: Record<string, string>, body: string): Promise<{ status: number; body: Record<string, any> }> {
  const res = await worker.fetch(URL_, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : JSON.parse(text) };
}

async function jwtCall(worker: Worker, sub: string) {
  const jwt = await token({ sub, tenant: 'a', role: 'reader' });
  return send(worker, { authorization: `Bearer ${jwt}`, 'x-amz-target': 'TrentService.DescribeKey', 'content-type': 'application/x-amz-json-1.1' }, JSON.stringify({ KeyId: 'alias/tenant-a' }));
}

describe('Workers: the proxy with a Durable Object state store (workerd via Miniflare)', () => {
  test('a signed request replayed to the other isolate is refused (the memory-only isolate would take it)', async () => {
    const { headers, body } = await signed('alias/tenant-a');
    const first = await send(w.a, headers, body);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const replay = await send(w.b, headers, body);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.__type, 'InvalidSignatureException');
    assert.match(replay.body.message, /replay/);
    // The control: an isolate with its own memory store has not seen it.
    assert.equal((await send(w.memory, headers, body)).status, 200);
  });

  test('a replay racing itself: 16 concurrent copies over both isolates, exactly one accepted', async () => {
    const { headers, body } = await signed('alias/tenant-b');
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => send(i % 2 ? w.a : w.b, headers, body)));
    assert.equal(answers.filter((r) => r.status === 200).length, 1, JSON.stringify(answers.map((r) => r.status)));
  });

  test("one bucket per principal across both isolates (capacity 6: 6 of 12 calls pass), kept apart from look-alike names", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await jwtCall(i % 2 ? w.a : w.b, 'do-bucket')).status);
    assert.equal(statuses.filter((s) => s === 200).length, RATE.capacity, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 400).length, 12 - RATE.capacity);
    // Names built to collide with it (separators, prefixes) and a very long one: buckets of their own.
    for (const sub of ['do-bucket:', 'do-bucket:jwt', 'jwt:jwt/do-bucket', 'bucket:jwt:jwt/do-bucket', 'd'.repeat(4000)]) {
      assert.equal((await jwtCall(w.a, sub)).status, 200, sub.slice(0, 30));
    }
  });

  test('the Durable Object fails: SigV4 503 (fails closed), JWT served (onStoreError allow)', async () => {
    const { headers, body } = await signed('alias/tenant-a');
    const r = await send(w.broken, headers, body);
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.__type, 'ServiceUnavailableException');
    assert.equal((await jwtCall(w.broken, 'broken-gina')).status, 200);
  });

  test('the Durable Object does not answer within timeoutMs (300 ms): SigV4 503 at once, JWT served', async () => {
    const { headers, body } = await signed('alias/tenant-a');
    const t0 = Date.now();
    const r = await send(w.slow, headers, body);
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.ok(Date.now() - t0 < 3000, `answered in ${Date.now() - t0} ms`);
    assert.equal((await jwtCall(w.slow, 'slow-jack')).status, 200);
  });

  test('the alarm sweep drops expired replay records and full buckets, and keeps live ones', async () => {
    type Stub = { fetch(url: string, init: { method: string; headers?: Record<string, string>; body: string }): Promise<{ status: number; json(): Promise<unknown>; text(): Promise<string> }> };
    const ns = (await mf.getDurableObjectNamespace('STATE', 'sweep')) as unknown as { idFromName(name: string): unknown; get(id: unknown): Stub };
    const stub = ns.get(ns.idFromName('sweep-test'));
    const post = async (path: string, body: unknown = {}) => {
      const r = await stub.fetch(`https://state${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return r.json() as Promise<any>;
    };
    assert.deepEqual(await post('/remember', { key: 'soon', expiresAtMs: Date.now() + 200 }), { fresh: true });
    assert.deepEqual(await post('/remember', { key: 'later', expiresAtMs: Date.now() + 60_000 }), { fresh: true });
    assert.deepEqual(await post('/take', { key: 'refills', capacity: 2, refillPerSecond: 100 }), { waitMs: 0 });
    assert.deepEqual(await post('/take', { key: 'stays', capacity: 100, refillPerSecond: 0.001 }), { waitMs: 0 });
    assert.deepEqual(await post('/__keys'), ['b:refills', 'b:stays', 'r:later', 'r:soon']);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await post('/__sweep'), ['b:stays', 'r:later']);
    assert.deepEqual(await post('/remember', { key: 'later', expiresAtMs: Date.now() + 60_000 }), { fresh: false }, 'a live record survives the sweep');
    assert.deepEqual(await post('/remember', { key: 'soon', expiresAtMs: Date.now() + 60_000 }), { fresh: true });
    // Bad input is a 4xx answer, never a crash of the object.
    const bad = await stub.fetch('https://state/take', { method: 'POST', body: '{"key":"x","capacity":1,"refillPerSecond":1,"cost":5}' });
    assert.equal(bad.status, 400);
    await bad.text();
  });
});
