/**
 * The local KMS server's /healthz, /readyz and /metrics, over real HTTP: the AWS SDK makes a known
 * mix of calls, then /metrics is scraped and the counts checked exactly. The ops endpoints are not
 * authenticated (metrics: bearer token), not audited and not counted against quotas.
 */
import assert from 'node:assert/strict';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateKeyCommand, DecryptCommand, DisableKeyCommand, EncryptCommand, ListAliasesCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { rejectsWith, startHarness, type Harness } from './helpers.js';

const TOKEN = 'metrics-token-0123456789';

/** The sample lines of one metric family (without HELP/TYPE), in exposition order. */
function family(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('metrics on, with a bearer token', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ metrics: { token: TOKEN }, quotas: { clock: () => 0, management: { ListAliases: 1 } } });
  });
  after(() => h.close());

  test('a known mix of calls, then the exact counts by op and outcome', async () => {
    const scrape = (auth?: string) => fetch(`${h.server.url}/metrics`, auth ? { headers: { authorization: auth } } : {});
    assert.equal((await scrape()).status, 401);
    assert.equal((await scrape('Bearer nope')).status, 401);

    const { KeyMetadata } = await h.client.send(new CreateKeyCommand({}));
    const KeyId = KeyMetadata!.KeyId!;
    const blobs: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) blobs.push((await h.client.send(new EncryptCommand({ KeyId, Plaintext: new Uint8Array([i]) }))).CiphertextBlob!);
    await h.client.send(new DecryptCommand({ CiphertextBlob: blobs[0] }));
    await h.client.send(new DecryptCommand({ CiphertextBlob: blobs[1] }));
    await rejectsWith(h.client.send(new DecryptCommand({ CiphertextBlob: new Uint8Array(64) })), 'InvalidCiphertextException');
    await h.client.send(new ListAliasesCommand({}));
    await rejectsWith(h.client.send(new ListAliasesCommand({})), 'ThrottlingException');
    await rejectsWith(h.clientFor({ secretAccessKey: 'wrong-secret' }).send(new ListKeysCommand({})), 'InvalidSignatureException');
    await h.client.send(new DisableKeyCommand({ KeyId }));
    await rejectsWith(h.client.send(new EncryptCommand({ KeyId, Plaintext: new Uint8Array([9]) })), 'DisabledException');
    // Probes in between are neither counted nor audited.
    for (const path of ['/healthz', '/readyz']) assert.equal((await fetch(h.server.url + path)).status, 200);

    const r = await scrape(`Bearer ${TOKEN}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await r.text();
    assert.deepEqual(family(text, 'sealbox_requests_total'), [
      'sealbox_requests_total{op="CreateKey",outcome="allow"} 1',
      'sealbox_requests_total{op="Decrypt",outcome="allow"} 2',
      'sealbox_requests_total{op="Decrypt",outcome="error"} 1',
      'sealbox_requests_total{op="DisableKey",outcome="allow"} 1',
      'sealbox_requests_total{op="Encrypt",outcome="allow"} 3',
      'sealbox_requests_total{op="Encrypt",outcome="error"} 1',
      'sealbox_requests_total{op="ListAliases",outcome="allow"} 1',
      'sealbox_requests_total{op="ListAliases",outcome="throttled"} 1',
      'sealbox_requests_total{op="ListKeys",outcome="deny"} 1',
    ]);
    assert.deepEqual(family(text, 'sealbox_request_duration_seconds_count'), [
      'sealbox_request_duration_seconds_count{op="CreateKey"} 1',
      'sealbox_request_duration_seconds_count{op="Decrypt"} 3',
      'sealbox_request_duration_seconds_count{op="DisableKey"} 1',
      'sealbox_request_duration_seconds_count{op="Encrypt"} 4',
      'sealbox_request_duration_seconds_count{op="ListAliases"} 2',
      'sealbox_request_duration_seconds_count{op="ListKeys"} 1',
    ]);
    // Every call is audited (failures too), and each audit write is timed: 12 records, 12 samples.
    const audit = (await readFile(join(h.dir, 'audit.log'), 'utf8')).trim().split('\n');
    assert.equal(audit.length, 12, audit.map((l) => (JSON.parse(l) as { eventName: string }).eventName).join(' '));
    assert.deepEqual(family(text, 'sealbox_audit_write_duration_seconds_count'), ['sealbox_audit_write_duration_seconds_count 12']);
    assert.ok(!audit.some((l) => /healthz|readyz|metrics/.test(l)));
    // No upstream here: the family is there, empty. prom-client's process metrics follow ours.
    assert.match(text, /# TYPE sealbox_upstream_duration_seconds histogram\n# HELP sealbox_upstream_errors_total/);
    assert.match(text, /^sealbox_process_memory_bytes\{type="rss"\} \d+$/m);
    assert.match(text, /^process_resident_memory_bytes \d+$/m);
    assert.match(text, /^nodejs_heap_size_used_bytes \d+$/m);
  });
});

describe('health on, metrics off (the defaults)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ healthCacheMs: 0 });
  });
  after(() => h.close());

  test('/healthz and /readyz name their checks; /metrics is not served; a read-only audit file fails readiness', async () => {
    const live = await fetch(`${h.server.url}/healthz`);
    assert.equal(live.status, 200);
    assert.equal(((await live.json()) as { status: string }).status, 'ok');
    const ready = await fetch(`${h.server.url}/readyz`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> };
    assert.equal(body.status, 'ok');
    assert.deepEqual(Object.keys(body.checks), ['store', 'audit']);
    assert.equal(body.checks.store!.detail, 'writable');
    // /metrics falls through to the KMS, which refuses an unsigned GET.
    const metrics = await fetch(`${h.server.url}/metrics`);
    assert.notEqual(metrics.status, 200);
    if (process.getuid?.() !== 0) {
      await chmod(join(h.dir, 'audit.log'), 0o400);
      const notReady = await fetch(`${h.server.url}/readyz`);
      assert.equal(notReady.status, 503);
      const failed = (await notReady.json()) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> };
      assert.equal(failed.status, 'fail');
      assert.equal(failed.checks.store!.ok, true);
      assert.equal(failed.checks.audit!.ok, false);
      assert.match(failed.checks.audit!.detail!, /EACCES/);
      await chmod(join(h.dir, 'audit.log'), 0o600);
    }
  });
});

describe('custom paths, health off, the hono adapter', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ adapter: 'hono', health: false, metrics: true, opsPaths: { metrics: '/internal/metrics' } });
  });
  after(() => h.close());

  test('metrics without a token on its own path; no health endpoints', async () => {
    await h.client.send(new ListKeysCommand({}));
    const r = await fetch(`${h.server.url}/internal/metrics`);
    assert.equal(r.status, 200);
    assert.deepEqual(family(await r.text(), 'sealbox_requests_total'), ['sealbox_requests_total{op="ListKeys",outcome="allow"} 1']);
    assert.notEqual((await fetch(`${h.server.url}/healthz`)).status, 200);
  });
});
