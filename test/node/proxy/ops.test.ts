// The Node proxy's operations endpoints over real HTTP, in front of a real local KMS: /healthz and
// /readyz (on by default, not audited, not rate-limited), /metrics (off by default; a bearer token
// when configured), and the metrics counting a known mix of calls exactly.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { bearer, call, startEnv, token, type Env } from '../../edge/proxy/helpers.js';

let env: Env;
before(async () => {
  env = await startEnv();
});
after(() => env.close());

const gdk = (tenant: string) => ({ KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant } });

/** The value of one sample line of the exposition (0 when absent). */
function sample(text: string, line: string): number {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

test('health and readiness: on by default, not audited, not rate-limited; /metrics is off unless asked for', async () => {
  const proxy = await env.extraProxy({ rateLimit: { capacity: 1, refillPerSecond: 0.001 } });
  const before = env.audit.length;
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${proxy.url}/healthz`)).status, 200);
  const ready = await fetch(`${proxy.url}/readyz`);
  assert.equal(ready.status, 200);
  const report = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
  assert.equal(report.status, 'ok');
  assert.equal(report.checks.upstream?.ok, true);
  assert.equal(env.audit.length, before, 'probes are not audited');
  const metrics = await fetch(`${proxy.url}/metrics`, { method: 'GET' });
  assert.notEqual(metrics.status, 200, 'metrics are off by default');
  // The probes took nothing from the caller's bucket: its one call still passes.
  const uploader = await token({ sub: 'alice', tenant: 'a', role: 'uploader' });
  assert.equal((await call(proxy.url, 'GenerateDataKey', gdk('a'), bearer(uploader))).status, 200);
});

test('readiness fails, with the failing check named, when the upstream cannot be reached', async () => {
  const proxy = await env.extraProxy({ upstream: { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: env.kms.credentials, timeoutMs: 1000 } });
  const ready = await fetch(`${proxy.url}/readyz`);
  assert.equal(ready.status, 503);
  const report = (await ready.json()) as { checks: Record<string, { ok: boolean; error?: string }> };
  assert.equal(report.checks.upstream?.ok, false);
  assert.equal((await fetch(`${proxy.url}/healthz`)).status, 200, 'the process itself is alive');
});

test('/metrics counts a known mix of calls exactly, behind a bearer token', async () => {
  const proxy = await env.extraProxy({ ops: { metrics: { token: 'scrape-token-0123' } }, rateLimit: { capacity: 3, refillPerSecond: 0.001 } });
  const uploaderA = await token({ sub: 'alice', tenant: 'a', role: 'uploader' });
  const uploaderB = await token({ sub: 'bea', tenant: 'b', role: 'uploader' });
  assert.equal((await call(proxy.url, 'GenerateDataKey', gdk('a'), bearer(uploaderA))).status, 200);
  assert.equal((await call(proxy.url, 'GenerateDataKey', gdk('a'), bearer(uploaderA))).status, 200);
  assert.equal((await call(proxy.url, 'GenerateDataKey', gdk('a'), bearer(uploaderB))).body.__type, 'AccessDeniedException');
  assert.equal((await call(proxy.url, 'GenerateDataKey', gdk('a'), bearer(uploaderA))).status, 200);
  assert.equal((await call(proxy.url, 'GenerateDataKey', gdk('a'), bearer(uploaderA))).body.__type, 'ThrottlingException');
  assert.equal((await call(proxy.url, 'DescribeKey', { KeyId: 'alias/no-such-key' }, bearer(uploaderB))).status, 400);

  assert.equal((await fetch(`${proxy.url}/metrics`)).status, 401);
  assert.equal((await fetch(`${proxy.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  const scrape = await fetch(`${proxy.url}/metrics`, { headers: { authorization: 'Bearer scrape-token-0123' } });
  assert.equal(scrape.status, 200);
  assert.match(scrape.headers.get('content-type')!, /text\/plain; version=0\.0\.4/);
  const text = await scrape.text();
  assert.equal(sample(text, 'sealbox_requests_total{op="GenerateDataKey",outcome="allow"}'), 3);
  assert.equal(sample(text, 'sealbox_requests_total{op="GenerateDataKey",outcome="deny"}'), 1);
  assert.equal(sample(text, 'sealbox_requests_total{op="GenerateDataKey",outcome="throttled"}'), 1);
  assert.equal(sample(text, 'sealbox_rate_limit_rejections_total{principal_class="jwt"}'), 1);
  assert.equal(sample(text, 'sealbox_request_duration_seconds_count{op="GenerateDataKey"}'), 5);
  // Upstream: three data keys (the denial and the throttled call never left the proxy), one key
  // resolution (DescribeKey + ListAliases, then cached), and for the unknown key a resolution and
  // the forwarded DescribeKey (policy allows DescribeKey on any name), both NotFoundException.
  assert.equal(sample(text, 'sealbox_upstream_duration_seconds_count{op="GenerateDataKey"}'), 3);
  assert.equal(sample(text, 'sealbox_upstream_duration_seconds_count{op="ListAliases"}'), 1);
  assert.equal(sample(text, 'sealbox_upstream_duration_seconds_count{op="DescribeKey"}'), 3);
  assert.equal(sample(text, 'sealbox_upstream_errors_total{type="NotFoundException"}'), 2);
  assert.equal(sample(text, 'sealbox_audit_write_duration_seconds_count'), 6);
  assert.match(text, /^process_resident_memory_bytes \d+/m);
});
