/** Liveness/readiness with cached check results, and the ops routes (paths, HEAD, the metrics token). */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createHealth, httpReachable } from '../../../src/edge/ops/health.js';
import { createOpsRoutes } from '../../../src/edge/ops/routes.js';
import { PROMETHEUS_CONTENT_TYPE } from '../../../src/edge/ops/metrics.js';

test('readyz: each check named, cached for cacheMs with its age, one run in flight; 503 when one fails', async () => {
  let t = 1_000_000;
  let upstreamRuns = 0;
  let auditOk = true;
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const health = createHealth({
    now: () => t,
    cacheMs: 5000,
    checks: {
      upstream: async () => {
        upstreamRuns++;
        await gate;
        return 'HTTP 400';
      },
      audit: () => {
        if (!auditOk) throw new Error('EROFS: read-only file system');
      },
      state: undefined,
    },
  });
  // Two probes at once: one upstream run.
  const [a, b] = [health.readyz(), health.readyz()];
  t += 30;
  release();
  const first = await a;
  await b;
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('content-type'), 'application/json');
  assert.deepEqual(await first.json(), {
    status: 'ok',
    checks: { upstream: { ok: true, ageMs: 0, durationMs: 30, detail: 'HTTP 400' }, audit: { ok: true, ageMs: 0, durationMs: 30 } },
  });
  assert.equal(upstreamRuns, 1);
  // Within cacheMs: cached, with its age; the audit failure is not seen yet.
  t += 4000;
  auditOk = false;
  assert.deepEqual((await health.report()).checks.upstream, { ok: true, ageMs: 4000, durationMs: 30, detail: 'HTTP 400' });
  assert.equal(upstreamRuns, 1);
  // After cacheMs: both run again; the audit check fails → 503.
  t += 1100;
  const later = await health.readyz();
  assert.equal(later.status, 503);
  assert.deepEqual(await later.json(), {
    status: 'fail',
    checks: { upstream: { ok: true, ageMs: 0, durationMs: 0, detail: 'HTTP 400' }, audit: { ok: false, ageMs: 0, durationMs: 0, detail: 'EROFS: read-only file system' } },
  });
  assert.equal(upstreamRuns, 2);
  const live = health.healthz();
  assert.equal(live.status, 200);
  assert.deepEqual(await live.json(), { status: 'ok', uptimeSeconds: 5 });
});

test('a check that hangs fails after timeoutMs', async () => {
  const health = createHealth({ timeoutMs: 50, checks: { upstream: () => new Promise(() => {}) } });
  const r = await health.report();
  assert.equal(r.status, 'fail');
  assert.equal(r.checks.upstream!.detail, 'no answer within 50 ms');
});

test('httpReachable: any HTTP answer is up (no KMS call); a closed port is down', async () => {
  const server = createServer((_req, res) => {
    res.statusCode = 400;
    res.end('{"__type":"MissingAuthenticationTokenException"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  assert.equal(await httpReachable(url)(), 'HTTP 400');
  await new Promise<void>((r) => server.close(() => r()));
  await assert.rejects(async () => httpReachable(url)());
});

test('ops routes: default paths, configurable paths, HEAD, other methods and paths fall through, metrics token', async () => {
  const health = createHealth({ checks: { audit: () => {} } });
  const routes = createOpsRoutes({ health, metrics: { expose: () => 'm_total 1\n', token: 's3cret' }, paths: { readyz: '/ready' } });
  const get = (path: string, init: RequestInit = {}) => routes.fetch(new Request(`http://x${path}`, init));
  assert.equal((await get('/healthz'))!.status, 200);
  assert.equal(get('/readyz'), undefined);
  assert.equal((await get('/ready'))!.status, 200);
  assert.equal(get('/healthz', { method: 'POST' }), undefined);
  assert.equal(get('/'), undefined);
  const head = await get('/healthz', { method: 'HEAD' });
  assert.equal(head!.status, 200);
  assert.equal(await head!.text(), '');
  const noToken = await get('/metrics');
  assert.equal(noToken!.status, 401);
  assert.equal(noToken!.headers.get('www-authenticate'), 'Bearer realm="metrics"');
  assert.equal((await get('/metrics', { headers: { authorization: 'Bearer wrong' } }))!.status, 401);
  const ok = await get('/metrics', { headers: { authorization: 'Bearer s3cret' } });
  assert.equal(ok!.status, 200);
  assert.equal(ok!.headers.get('content-type'), PROMETHEUS_CONTENT_TYPE);
  assert.equal(await ok!.text(), 'm_total 1\n');
  // Metrics off by default.
  assert.equal(createOpsRoutes({ health }).fetch(new Request('http://x/metrics')), undefined);
});
