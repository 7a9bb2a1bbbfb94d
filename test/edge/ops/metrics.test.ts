/** The metrics registry and Sealbox's metric set: a known mix recorded, the exposition checked byte for byte. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry, createSealboxMetrics, formatValue, outcomeOf } from '../../../src/edge/ops/metrics.js';

test('counters, gauges and histograms in Prometheus text format, series sorted by labels, values escaped', () => {
  const r = new Registry();
  const c = r.counter('app_calls_total', 'Calls.\nBy path \\ method.', ['path', 'method']);
  const g = r.gauge('app_queue', 'Queue length.');
  const h = r.histogram('app_seconds', 'Latency.', ['op'], [0.1, 1]);
  r.counter('app_unused_total', 'Never incremented.');
  c.inc({ path: '/b', method: 'GET' });
  c.inc({ method: 'GET', path: '/a' }, 2);
  c.inc({ path: '/b', method: 'GET' });
  c.inc({ path: 'say "hi"\n\\', method: 'POST' });
  g.set(undefined, 3);
  g.dec();
  h.observe({ op: 'x' }, 0.05);
  h.observe({ op: 'x' }, 0.1);
  h.observe({ op: 'x' }, 0.5);
  h.observe({ op: 'x' }, 7);
  assert.equal(
    r.expose(),
    [
      '# HELP app_calls_total Calls.\\nBy path \\\\ method.',
      '# TYPE app_calls_total counter',
      'app_calls_total{path="/a",method="GET"} 2',
      'app_calls_total{path="/b",method="GET"} 2',
      'app_calls_total{path="say \\"hi\\"\\n\\\\",method="POST"} 1',
      '# HELP app_queue Queue length.',
      '# TYPE app_queue gauge',
      'app_queue 2',
      '# HELP app_seconds Latency.',
      '# TYPE app_seconds histogram',
      'app_seconds_bucket{op="x",le="0.1"} 2',
      'app_seconds_bucket{op="x",le="1"} 3',
      'app_seconds_bucket{op="x",le="+Inf"} 4',
      'app_seconds_sum{op="x"} 7.65',
      'app_seconds_count{op="x"} 4',
      '# HELP app_unused_total Never incremented.',
      '# TYPE app_unused_total counter',
      '',
    ].join('\n'),
  );
  assert.equal(c.get({ path: '/b', method: 'GET' }), 2);
  assert.deepEqual(h.get({ op: 'x' }), { count: 4, sum: 7.65 });
});

test('misuse throws: bad names, unknown or missing labels, a counter going down, a name twice, unsorted buckets', () => {
  const r = new Registry();
  assert.throws(() => r.counter('bad-name', 'x'), /not valid/);
  assert.throws(() => r.counter('ok_total', 'x', ['le']), /not valid/);
  const c = r.counter('ok_total', 'x', ['a']);
  assert.throws(() => c.inc({ b: '1' }), /unknown label "b"/);
  assert.throws(() => c.inc(), /label "a" is missing/);
  assert.throws(() => c.inc({ a: '1' }, -1), /only goes up/);
  assert.throws(() => r.gauge('ok_total', 'x'), /already registered/);
  assert.throws(() => r.histogram('h', 'x', [], [1, 0.5]), /increasing/);
  assert.deepEqual([formatValue(Infinity), formatValue(-Infinity), formatValue(NaN), formatValue(1e-7)], ['+Inf', '-Inf', 'NaN', '1e-7']);
});

test('outcomeOf: allow, throttled, deny, error from status and AWS error type', () => {
  assert.equal(outcomeOf(200), 'allow');
  assert.equal(outcomeOf(400, 'ThrottlingException'), 'throttled');
  assert.equal(outcomeOf(429), 'throttled');
  assert.equal(outcomeOf(400, 'com.amazonaws.kms#AccessDeniedException'), 'deny');
  assert.equal(outcomeOf(400, 'UnrecognizedClientException'), 'deny');
  assert.equal(outcomeOf(400, 'DisabledException'), 'error');
  assert.equal(outcomeOf(400, 'ValidationException'), 'error');
  assert.equal(outcomeOf(500, 'KMSInternalException'), 'error');
});

test("Sealbox's metric set after a known mix of calls: the exact exposition", () => {
  let rss = 1000;
  const m = createSealboxMetrics({ buckets: [0.01, 0.1, 1], memory: () => ({ rss: (rss += 24) }) });
  m.request('Decrypt', 'allow', 0.005);
  m.request('Decrypt', 'allow', 0.05);
  m.request('Decrypt', 'deny', 0.002);
  m.request('GenerateDataKey', 'throttled', 0.001);
  m.request('GenerateDataKey', 'error', 2);
  m.request('Not An Op!', 'error', 0.001);
  m.upstream('Decrypt', 0.004);
  m.upstream('Decrypt', 0.04);
  m.upstream('GenerateDataKey', 1.5, 'DependencyTimeoutException');
  m.auditWrite(0.003);
  m.auditWrite(0.02);
  m.rateLimited('jwt');
  m.rateLimited('jwt');
  m.rateLimited('sigv4');
  m.replayRefused();
  m.sharedStoreError('replay');
  const h = (name: string, labels: string, counts: number[], sum: number) => {
    const l = labels === '' ? '' : `${labels},`;
    const base = labels === '' ? '' : `{${labels}}`;
    return [
      `${name}_bucket{${l}le="0.01"} ${counts[0]}`,
      `${name}_bucket{${l}le="0.1"} ${counts[1]}`,
      `${name}_bucket{${l}le="1"} ${counts[2]}`,
      `${name}_bucket{${l}le="+Inf"} ${counts[3]}`,
      `${name}_sum${base} ${sum}`,
      `${name}_count${base} ${counts[3]}`,
    ];
  };
  const expected = [
    '# HELP sealbox_requests_total Calls by KMS operation and outcome (allow, deny, error, throttled).',
    '# TYPE sealbox_requests_total counter',
    'sealbox_requests_total{op="Decrypt",outcome="allow"} 2',
    'sealbox_requests_total{op="Decrypt",outcome="deny"} 1',
    'sealbox_requests_total{op="GenerateDataKey",outcome="error"} 1',
    'sealbox_requests_total{op="GenerateDataKey",outcome="throttled"} 1',
    'sealbox_requests_total{op="other",outcome="error"} 1',
    '# HELP sealbox_request_duration_seconds Time from request to response, by operation.',
    '# TYPE sealbox_request_duration_seconds histogram',
    ...h('sealbox_request_duration_seconds', 'op="Decrypt"', [2, 3, 3, 3], 0.005 + 0.05 + 0.002),
    ...h('sealbox_request_duration_seconds', 'op="GenerateDataKey"', [1, 1, 1, 2], 2.001),
    ...h('sealbox_request_duration_seconds', 'op="other"', [1, 1, 1, 1], 0.001),
    '# HELP sealbox_upstream_duration_seconds Time of calls to the upstream KMS, by operation.',
    '# TYPE sealbox_upstream_duration_seconds histogram',
    ...h('sealbox_upstream_duration_seconds', 'op="Decrypt"', [1, 2, 2, 2], 0.004 + 0.04),
    ...h('sealbox_upstream_duration_seconds', 'op="GenerateDataKey"', [0, 0, 0, 1], 1.5),
    '# HELP sealbox_upstream_errors_total Upstream KMS calls that failed, by error type (network errors and timeouts included).',
    '# TYPE sealbox_upstream_errors_total counter',
    'sealbox_upstream_errors_total{type="DependencyTimeoutException"} 1',
    '# HELP sealbox_audit_write_duration_seconds Time to write (and sync) one audit record.',
    '# TYPE sealbox_audit_write_duration_seconds histogram',
    ...h('sealbox_audit_write_duration_seconds', '', [1, 2, 2, 2], 0.003 + 0.02),
    '# HELP sealbox_rate_limit_rejections_total Calls refused by the rate limiter, by principal class (jwt, sigv4, anonymous).',
    '# TYPE sealbox_rate_limit_rejections_total counter',
    'sealbox_rate_limit_rejections_total{principal_class="jwt"} 2',
    'sealbox_rate_limit_rejections_total{principal_class="sigv4"} 1',
    '# HELP sealbox_replay_refusals_total SigV4 signatures refused because they were seen before.',
    '# TYPE sealbox_replay_refusals_total counter',
    'sealbox_replay_refusals_total 1',
    '# HELP sealbox_shared_store_errors_total Failed calls to a shared state store, by store.',
    '# TYPE sealbox_shared_store_errors_total counter',
    'sealbox_shared_store_errors_total{store="replay"} 1',
    '# HELP sealbox_process_memory_bytes Process memory by type, where the runtime reports it.',
    '# TYPE sealbox_process_memory_bytes gauge',
    'sealbox_process_memory_bytes{type="rss"} 1024',
    '',
  ].join('\n');
  assert.equal(m.registry.expose(), expected);
});

test('operation labels are bounded: an allow-list, or at most maxOps distinct names', () => {
  const listed = createSealboxMetrics({ ops: ['Decrypt'] });
  listed.request('Decrypt', 'allow', 0);
  listed.request('Encrypt', 'allow', 0);
  assert.equal(listed.requests.get({ op: 'other', outcome: 'allow' }), 1);
  const capped = createSealboxMetrics({ maxOps: 2 });
  for (const op of ['A', 'B', 'C', 'A', 'D']) capped.request(op, 'allow', 0);
  assert.deepEqual(['A', 'B', 'other'].map((op) => capped.requests.get({ op, outcome: 'allow' })), [2, 1, 2]);
});
