/**
 * The proxy, unchanged, with its metrics and ops endpoints from the outside (withOps +
 * instrumentProxyConfig): a real local KMS upstream over HTTP, the proxy in-process, a known mix of
 * calls (allowed, denied by policy, rate-limited, a SigV4 replay, an upstream error), then the
 * exposition checked line by line.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AwsClient } from 'aws4fetch';
import { createHealth, httpReachable } from '../../../src/edge/ops/health.js';
import { instrumentProxyConfig, withOps } from '../../../src/edge/ops/instrument.js';
import { createSealboxMetrics } from '../../../src/edge/ops/metrics.js';
import { createOpsRoutes } from '../../../src/edge/ops/routes.js';
import { createProxy } from '../../../src/edge/proxy/index.js';
import type { ProxyConfig, ReplayCache } from '../../../src/edge/proxy/config.js';
import { startLocalKmsServer, type LocalKmsServer } from '../../../src/node/kms/index.js';
import { MACHINE, REGION, ROOT_KEY, SEED, baseConfig, bearer, token } from '../proxy/helpers.js';

let dir: string;
let kms: LocalKmsServer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealbox-ops-'));
  kms = await startLocalKmsServer({ port: 0, dataDir: join(dir, 'kms'), rootKey: ROOT_KEY, env: {}, log: () => {}, seed: SEED, audit: false });
});
after(async () => {
  await kms.close();
  await rm(dir, { recursive: true, force: true });
});

const URL_ = 'http://proxy.test/';
const json = (target: string, body: unknown, headers: Record<string, string> = {}) =>
  new Request(URL_, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${target}`, ...headers }, body: JSON.stringify(body) });
const family = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

test('a known mix through the proxy: requests, upstream calls and errors, audit writes, rate limits, replays, store errors', async () => {
  const metrics = createSealboxMetrics();
  const audit: string[] = [];
  let storeDown = false;
  const seen = new Set<string>();
  const shared: ReplayCache = {
    remember(sig) {
      if (storeDown) throw new Error('store unreachable');
      if (seen.has(sig)) return false;
      seen.add(sig);
      return true;
    },
  };
  const base = baseConfig(kms, audit) as ProxyConfig;
  const config = instrumentProxyConfig({ ...base, rateLimit: { capacity: 2, refillPerSecond: 0.0001 }, auth: { ...base.auth, sigv4: { keys: [MACHINE], replayCache: shared } } }, metrics);
  const health = createHealth({ checks: { upstream: httpReachable(kms.url) } });
  const handler = withOps(createProxy(config).fetch, { metrics, routes: createOpsRoutes({ health, metrics: { expose: () => metrics.registry.expose(), token: 't' } }) });

  const alice = bearer(await token({ sub: 'alice', tenant: 'a', role: 'uploader' }));
  const carol = bearer(await token({ sub: 'carol', tenant: 'b', role: 'reader' }));
  const gen = { KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } };
  const status = async (r: Request) => (await handler(r)).status;
  assert.equal(await status(json('GenerateDataKey', gen, alice)), 200);
  const blob = ((await (await handler(json('GenerateDataKey', gen, alice))).json()) as { CiphertextBlob: string }).CiphertextBlob;
  assert.equal(await status(json('GenerateDataKey', gen, alice)), 400); // third call: alice's bucket is empty
  assert.equal(await status(json('Decrypt', { KeyId: 'alias/tenant-a', CiphertextBlob: blob, EncryptionContext: { tenant: 'a' } }, carol)), 400); // policy
  assert.equal(await status(json('Decrypt', { KeyId: 'alias/tenant-a', CiphertextBlob: Buffer.alloc(80, 1).toString('base64'), EncryptionContext: { tenant: 'b' } }, carol)), 400); // upstream InvalidCiphertext
  const aws = new AwsClient({ ...MACHINE, service: 'kms', region: REGION, retries: 0 });
  const signed = await aws.sign(json('DescribeKey', { KeyId: 'alias/tenant-b' }));
  assert.equal(await status(signed.clone()), 200);
  assert.equal(await status(signed.clone()), 400); // replay
  storeDown = true;
  assert.equal(await status(await aws.sign(json('DescribeKey', { KeyId: 'alias/tenant-a' }))), 500);
  // Probes: answered before the proxy, not audited, not counted.
  assert.equal((await handler(new Request(`${URL_}readyz`))).status, 200);
  assert.equal((await handler(new Request(`${URL_}metrics`))).status, 401);

  const text = await (await handler(new Request(`${URL_}metrics`, { headers: { authorization: 'Bearer t' } }))).text();
  assert.deepEqual(family(text, 'sealbox_requests_total'), [
    'sealbox_requests_total{op="Decrypt",outcome="deny"} 1',
    'sealbox_requests_total{op="Decrypt",outcome="error"} 1',
    'sealbox_requests_total{op="DescribeKey",outcome="allow"} 1',
    'sealbox_requests_total{op="DescribeKey",outcome="deny"} 1',
    'sealbox_requests_total{op="DescribeKey",outcome="error"} 1',
    'sealbox_requests_total{op="GenerateDataKey",outcome="allow"} 2',
    'sealbox_requests_total{op="GenerateDataKey",outcome="throttled"} 1',
  ]);
  assert.deepEqual(family(text, 'sealbox_upstream_errors_total'), ['sealbox_upstream_errors_total{type="InvalidCiphertextException"} 1']);
  assert.deepEqual(family(text, 'sealbox_rate_limit_rejections_total'), ['sealbox_rate_limit_rejections_total{principal_class="jwt"} 1']);
  assert.deepEqual(family(text, 'sealbox_replay_refusals_total'), ['sealbox_replay_refusals_total 1']);
  assert.deepEqual(family(text, 'sealbox_shared_store_errors_total'), ['sealbox_shared_store_errors_total{store="replay"} 1']);
  // One audit record per call (the probes have none), each write timed.
  assert.equal(audit.length, 8);
  assert.deepEqual(family(text, 'sealbox_audit_write_duration_seconds_count'), ['sealbox_audit_write_duration_seconds_count 8']);
  // Upstream calls: each op's count is what the KMS was asked (key lookups included), all timed.
  const upstream = family(text, 'sealbox_upstream_duration_seconds_count');
  assert.ok(upstream.some((l) => /op="GenerateDataKey"\} 2$/.test(l)), upstream.join('\n'));
  assert.ok(upstream.some((l) => /op="Decrypt"\} [12]$/.test(l)), upstream.join('\n'));
});
