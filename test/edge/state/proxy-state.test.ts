// createProxy's `state`, `instanceId` and `rateLimit.onStoreError` options, in process: two proxies
// given one store share replay records and buckets; the older `auth.sigv4.replayCache` still works;
// bad values are refused at startup; audit records name their instance.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { AwsClient } from 'aws4fetch';
import { MemoryStateStore, ProxyConfigError, createProxy, type ReplayCache } from '../../../src/edge/proxy/index.js';
import { MACHINE, REGION, auditRecords, baseConfig, bearer, call, startEnv, token, type Env } from '../proxy/helpers.js';

let env: Env;
before(async () => {
  env = await startEnv();
});
after(() => env.close());

const aws = new AwsClient({ ...MACHINE, service: 'kms', region: REGION, retries: 0 });

/** The same signed request, to send to several proxies (all on 127.0.0.1, signed for the first's host). */
async function signedFor(url: string) {
  const body = JSON.stringify({ KeyId: 'alias/tenant-a' });
  const req = await aws.sign(url, { method: 'POST', headers: { 'x-amz-target': 'TrentService.DescribeKey', 'content-type': 'application/x-amz-json-1.1' }, body });
  return { headers: Object.fromEntries(req.headers), body };
}

describe('createProxy({ state, instanceId })', () => {
  test('two proxies given one store share replay records and buckets', async () => {
    const state = new MemoryStateStore();
    const config = { ...baseConfig(env.kms, env.audit), state, rateLimit: { capacity: 3, refillPerSecond: 0.001 } };
    const a = createProxy({ ...config, instanceId: 'in-a' } as never);
    const b = createProxy({ ...config, instanceId: 'in-b' } as never);
    const url = 'http://proxy.test/';
    const s = await signedFor(url);
    assert.equal((await a.fetch(new Request(url, { method: 'POST', headers: s.headers, body: s.body }))).status, 200);
    const replay = await b.fetch(new Request(url, { method: 'POST', headers: s.headers, body: s.body }));
    assert.equal(replay.status, 400);
    assert.match(await replay.text(), /replay/);
    const jwt = await token({ sub: 'shared-hal', tenant: 'a', role: 'reader' });
    const statuses: number[] = [];
    for (const p of [a, b, a, b, a]) {
      const r = await p.fetch(new Request(url, { method: 'POST', headers: { ...bearer(jwt), 'x-amz-target': 'TrentService.DescribeKey' }, body: '{"KeyId":"alias/tenant-a"}' }));
      statuses.push(r.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 400, 400]);
    const records = auditRecords(env.audit).filter((r) => r.instance === 'in-a' || r.instance === 'in-b');
    assert.equal(records.length, 7);
  });

  test('auth.sigv4.replayCache (the older option) is still used for replay', async () => {
    const seen: string[] = [];
    const replayCache: ReplayCache = { remember: (sig) => (seen.includes(sig) ? false : (seen.push(sig), true)) };
    const p = createProxy({ ...baseConfig(env.kms, env.audit), auth: { sigv4: { keys: [MACHINE], replayCache } } } as never);
    const url = 'http://proxy.test/';
    const s = await signedFor(url);
    assert.equal((await p.fetch(new Request(url, { method: 'POST', headers: s.headers, body: s.body }))).status, 200);
    assert.equal(seen.length, 1);
    assert.equal((await p.fetch(new Request(url, { method: 'POST', headers: s.headers, body: s.body }))).status, 400);
  });

  test('bad state, instanceId or onStoreError are refused at startup', () => {
    const base = baseConfig(env.kms, env.audit);
    assert.throws(() => createProxy({ ...base, state: {} } as never), ProxyConfigError);
    assert.throws(() => createProxy({ ...base, instanceId: 'has space' } as never), ProxyConfigError);
    assert.throws(() => createProxy({ ...base, instanceId: 'x'.repeat(129) } as never), ProxyConfigError);
    assert.throws(() => createProxy({ ...base, rateLimit: { onStoreError: 'maybe' } } as never), /onStoreError/);
  });

  test('audit records name the instance: <hostname>-<pid> by default on Node', async () => {
    const jwt = await token({ sub: 'named-ivy', tenant: 'a', role: 'reader' });
    await call(env.proxy.url, 'DescribeKey', { KeyId: 'alias/tenant-a' }, bearer(jwt));
    assert.equal(auditRecords(env.audit).at(-1)!.instance, `${hostname()}-${process.pid}`);
    const named = await env.extraProxy({ instanceId: 'proxy-7' });
    await call(named.url, 'DescribeKey', { KeyId: 'alias/tenant-a' }, bearer(jwt));
    assert.equal(auditRecords(env.audit).at(-1)!.instance, 'proxy-7');
  });
});
