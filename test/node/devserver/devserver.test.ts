// The dev server (`sealbox start`) over real HTTP: blob store (streamed PUT, Range, multi-part,
// header replacement), tokens and roles, the proxy in front of the in-process local KMS, the audit
// trail, persistence across restarts, static files and CSP, a port in use, and the CLI's signals.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KmsClient } from '../../../src/sdk/client/kms-client.js';
import { decrypt } from '../../../src/sdk/envelope/decrypt.js';
import { encrypt } from '../../../src/sdk/envelope/encrypt.js';
import { envelopeHeadLength, rewrapHeader } from '../../../src/sdk/envelope/rewrap.js';
import { KmsKeyring } from '../../../src/sdk/keyring/kms.js';
import { startDevServer, type DevServer } from '../../../src/node/devserver/server.js';
import { parseRange } from '../../../src/node/devserver/blobs.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'sealbox-devserver-'));
}

interface Ctx {
  server: DevServer;
  url: (path: string) => string;
  token: (user: string) => Promise<string>;
  client: (user: string) => KmsClient;
}

function context(server: DevServer): Ctx {
  const tokens = new Map<string, string>();
  const token = async (user: string) => {
    let t = tokens.get(user);
    if (!t) {
      const r = await fetch(new URL('/api/token', server.url), { method: 'POST', body: JSON.stringify({ user }) });
      assert.equal(r.status, 200);
      t = ((await r.json()) as { token: string }).token;
      tokens.set(user, t);
    }
    return t;
  };
  return {
    server,
    url: (path) => new URL(path, server.url).href,
    token,
    client: (user) => new KmsClient({ endpoint: new URL('/kms', server.url).href, auth: async () => ({ authorization: `Bearer ${await token(user)}` }), retry: false }),
  };
}

async function sealFor(c: Ctx, user: string, tenant: string, id: string, data: Uint8Array): Promise<Uint8Array> {
  return encrypt(data, { keyring: new KmsKeyring({ client: c.client(user), keyId: `alias/${tenant}` }), context: { tenant, object: id } });
}

/** A Uint8Array as a fetch body (TypeScript's DOM types want an ArrayBuffer-backed view). */
const raw = (u: Uint8Array): BodyInit => u as unknown as BodyInit;

const bytes = (n: number, seed = 1) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
};

describe('dev server', () => {
  let dir: string;
  let c: Ctx;
  before(async () => {
    dir = await tempDir();
    c = context(await startDevServer({ port: 0, dataDir: join(dir, 'data'), log: () => {} }));
  });
  after(async () => {
    await c.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the page is served with a strict CSP; paths cannot escape demo/', async () => {
    const r = await fetch(c.url('/'));
    assert.equal(r.status, 200);
    const csp = r.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.match(await r.text(), /<script type="module" src="app.js"><\/script>/);
    assert.doesNotMatch(await (await fetch(c.url('/'))).text(), /<script>(?!<)/, 'no inline script');
    for (const p of ['/..%2fpackage.json', '/%2e%2e/package.json', '/lib/..%2f..%2fpackage.json']) {
      assert.equal((await fetch(c.url(p))).status, 404, p);
    }
  });

  test('tokens: four demo users; unknown users refused', async () => {
    const config = (await (await fetch(c.url('/api/config'))).json()) as { users: { sub: string; tenant: string; role: string }[]; offline: { keyArn: string } };
    assert.deepEqual(
      config.users.map((u) => `${u.sub}:${u.tenant}:${u.role}`),
      ['alice:tenant-a:uploader', 'bob:tenant-a:reader', 'carol:tenant-b:uploader', 'dave:tenant-b:reader'],
    );
    assert.match(config.offline.keyArn, /^arn:aws:kms:/);
    assert.equal((await fetch(c.url('/api/token'), { method: 'POST', body: '{"user":"mallory"}' })).status, 400);
  });

  test('the proxy: uploader encrypts, reader decrypts, other tenant denied, and every call audited in a valid chain', async () => {
    const envelope = await sealFor(c, 'alice', 'tenant-a', 'x1', bytes(100_000));
    const reader = new KmsKeyring({ client: c.client('bob'), keyId: 'alias/tenant-a' });
    assert.deepEqual((await decrypt(envelope, { keyring: reader })).plaintext, bytes(100_000));
    // Separation of duties: the uploader cannot decrypt; the other tenant's reader is denied.
    await assert.rejects(decrypt(envelope, { keyring: new KmsKeyring({ client: c.client('alice'), keyId: 'alias/tenant-a' }) }), /not authorized/);
    await assert.rejects(decrypt(envelope, { keyring: new KmsKeyring({ client: c.client('dave'), keyId: 'alias/tenant-a' }) }), /explicit deny/);
    // An uploader cannot encrypt for the other tenant, whatever key it names.
    await assert.rejects(sealFor(c, 'alice', 'tenant-b', 'x2', bytes(10)), /not authorized/);
    const audit = (await (await fetch(c.url('/api/audit'))).json()) as { entries: { record: { principal: string; op: string; outcome: string; statement?: string } }[]; verify: { ok: boolean } };
    assert.equal(audit.verify.ok, true);
    const dave = audit.entries.find((e) => e.record.principal === 'jwt/dave' && e.record.op === 'Decrypt');
    assert.equal(dave?.record.outcome, 'deny');
    assert.equal(dave?.record.statement, 'TenantIsolation');
  });

  test('blobs: only uploaders write; only envelopes are stored; GET, HEAD and Range', async () => {
    const envelope = await sealFor(c, 'alice', 'tenant-a', 'r1', bytes(70_000));
    assert.equal((await fetch(c.url('/blobs/r1'), { method: 'PUT', body: raw(envelope) })).status, 401);
    assert.equal((await fetch(c.url('/blobs/r1'), { method: 'PUT', body: raw(envelope), headers: { authorization: `Bearer ${await c.token('bob')}` } })).status, 403);
    const alice = { authorization: `Bearer ${await c.token('alice')}` };
    assert.equal((await fetch(c.url('/blobs/junk'), { method: 'PUT', body: 'plaintext, not an envelope', headers: alice })).status, 400);
    assert.equal((await fetch(c.url('/blobs/bad%2Fid'), { method: 'PUT', body: raw(envelope), headers: alice })).status, 400);
    const put = await fetch(c.url('/blobs/r1'), { method: 'PUT', body: raw(envelope), headers: { ...alice, 'x-sealbox-name': encodeURIComponent('report ü.txt'), 'x-sealbox-type': 'text/plain' } });
    assert.equal(put.status, 201);
    // Another tenant's uploader may not replace it.
    const carol = { authorization: `Bearer ${await c.token('carol')}` };
    assert.equal((await fetch(c.url('/blobs/r1'), { method: 'PUT', body: raw(envelope), headers: carol })).status, 403);
    assert.equal((await fetch(c.url('/uploads'), { method: 'POST', body: '{"id":"r1"}', headers: carol })).status, 403);
    assert.equal((await fetch(c.url('/blobs/r1/header'), { method: 'PUT', body: raw(envelope.subarray(0, 8 + Buffer.from(envelope).readUInt32BE(4))), headers: carol })).status, 403);
    const full = await fetch(c.url('/blobs/r1'));
    assert.equal(full.headers.get('accept-ranges'), 'bytes');
    assert.deepEqual(new Uint8Array(await full.arrayBuffer()), envelope);
    const head = await fetch(c.url('/blobs/r1'), { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(envelope.length));
    const part = await fetch(c.url('/blobs/r1'), { headers: { range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${envelope.length}`);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), envelope.subarray(100, 200));
    const suffix = await fetch(c.url('/blobs/r1'), { headers: { range: 'bytes=-10' } });
    assert.deepEqual(new Uint8Array(await suffix.arrayBuffer()), envelope.subarray(envelope.length - 10));
    const past = await fetch(c.url('/blobs/r1'), { headers: { range: `bytes=${envelope.length}-` } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${envelope.length}`);
    assert.equal((await fetch(c.url('/blobs/nope'))).status, 404);
    const list = (await (await fetch(c.url('/blobs'))).json()) as { objects: { id: string; name: string; uploadedBy: string; keyVersions: { version: number }[] }[] };
    const r1 = list.objects.find((o) => o.id === 'r1')!;
    assert.equal(r1.name, 'report ü.txt');
    assert.equal(r1.uploadedBy, 'alice');
    assert.deepEqual(r1.keyVersions.map((v) => v.version), [1]);
  });

  test('parseRange', () => {
    assert.deepEqual(parseRange('bytes=0-0', 10), { start: 0, end: 0 });
    assert.deepEqual(parseRange('bytes=5-', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRange('bytes=5-100', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRange('bytes=-3', 10), { start: 7, end: 9 });
    assert.deepEqual(parseRange('bytes=-30', 10), { start: 0, end: 9 });
    assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=5-2', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-1,5-6', 10), undefined);
    assert.equal(parseRange('items=0-1', 10), undefined);
    assert.equal(parseRange(null, 10), undefined);
  });

  test('multi-part upload: in order, a repeated last part replaces it, out of order refused, others cannot touch it', async () => {
    const envelope = await sealFor(c, 'alice', 'tenant-a', 'm1', bytes(300_000, 7));
    const alice = { authorization: `Bearer ${await c.token('alice')}` };
    const created = await fetch(c.url('/uploads'), { method: 'POST', body: JSON.stringify({ id: 'm1', name: 'm1.bin' }), headers: alice });
    assert.equal(created.status, 201);
    const { uploadId } = (await created.json()) as { uploadId: string };
    const putPart = (n: number, body: Uint8Array, headers = alice) => fetch(c.url(`/uploads/${uploadId}/parts/${n}`), { method: 'PUT', body: raw(body), headers });
    assert.equal((await putPart(0, envelope.subarray(0, 100_000))).status, 200);
    assert.equal((await putPart(1, new Uint8Array(5000))).status, 200); // a bad attempt…
    assert.equal((await putPart(1, envelope.subarray(100_000, 200_000))).status, 200); // …replaced
    assert.equal((await putPart(3, envelope.subarray(200_000))).status, 409);
    assert.equal((await putPart(2, envelope.subarray(200_000), { authorization: `Bearer ${await c.token('carol')}` })).status, 403);
    assert.equal((await putPart(2, envelope.subarray(200_000))).status, 200);
    assert.equal((await fetch(c.url('/blobs/m1'))).status, 404, 'not visible before completion');
    const done = await fetch(c.url(`/uploads/${uploadId}/complete`), { method: 'POST', headers: alice });
    assert.equal(done.status, 201);
    assert.deepEqual(new Uint8Array(await (await fetch(c.url('/blobs/m1'))).arrayBuffer()), envelope);
    assert.deepEqual((await decrypt(envelope, { keyring: new KmsKeyring({ client: c.client('bob'), keyId: 'alias/tenant-a' }) })).plaintext, bytes(300_000, 7));
    assert.equal((await fetch(c.url(`/uploads/${uploadId}/complete`), { method: 'POST', headers: alice })).status, 404);
    // Aborted uploads leave nothing behind.
    const again = (await (await fetch(c.url('/uploads'), { method: 'POST', body: '{"id":"m2"}', headers: alice })).json()) as { uploadId: string };
    await fetch(c.url(`/uploads/${again.uploadId}/parts/0`), { method: 'PUT', body: raw(envelope.subarray(0, 1000)), headers: alice });
    assert.equal((await fetch(c.url(`/uploads/${again.uploadId}`), { method: 'DELETE', headers: alice })).status, 204);
    assert.deepEqual(await readdir(join(c.server.dataDir, 'blobs', '.tmp')), []);
  });

  test('rotate and rewrap: a new header, the payload byte for byte, still decrypts; protected header changes refused', async () => {
    const plaintext = bytes(200_000, 3);
    const envelope = await sealFor(c, 'alice', 'tenant-a', 'w1', plaintext);
    const alice = { authorization: `Bearer ${await c.token('alice')}` };
    assert.equal((await fetch(c.url('/blobs/w1'), { method: 'PUT', body: raw(envelope), headers: alice })).status, 201);
    assert.equal((await fetch(c.url('/api/keys/rotate'), { method: 'POST', headers: { authorization: `Bearer ${await c.token('bob')}` } })).status, 403);
    const rotated = await fetch(c.url('/api/keys/rotate'), { method: 'POST', headers: alice });
    assert.equal(rotated.status, 200);
    const { rotations } = (await rotated.json()) as { rotations: number };
    assert.ok(rotations >= 1);
    const before = (await (await fetch(c.url('/blobs/w1/payload-digest'))).json()) as { sha256: string; headerLength: number };
    const head = envelope.subarray(0, envelopeHeadLength(envelope.subarray(0, 8)));
    const rewrapped = await rewrapHeader(head, { client: c.client('alice'), destinationKeyId: 'alias/tenant-a' });
    const newHeader = rewrapped.subarray(0, 8 + Buffer.from(rewrapped).readUInt32BE(4));
    // Only uploaders; and a header whose protected part differs is refused.
    assert.equal((await fetch(c.url('/blobs/w1/header'), { method: 'PUT', body: raw(newHeader), headers: { authorization: `Bearer ${await c.token('bob')}` } })).status, 403);
    const other = await sealFor(c, 'alice', 'tenant-a', 'other', bytes(10));
    const otherHeader = other.subarray(0, 8 + Buffer.from(other).readUInt32BE(4));
    const refused = await fetch(c.url('/blobs/w1/header'), { method: 'PUT', body: raw(otherHeader), headers: alice });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: string }).error, /protected/);
    assert.equal((await fetch(c.url('/blobs/w1/header'), { method: 'PUT', body: raw(newHeader), headers: alice })).status, 200);
    const after = (await (await fetch(c.url('/blobs/w1/payload-digest'))).json()) as { sha256: string };
    assert.equal(after.sha256, before.sha256);
    const stored = new Uint8Array(await (await fetch(c.url('/blobs/w1'))).arrayBuffer());
    assert.deepEqual(stored.subarray(newHeader.length), envelope.subarray(before.headerLength));
    assert.deepEqual((await decrypt(stored, { keyring: new KmsKeyring({ client: c.client('bob'), keyId: 'alias/tenant-a' }) })).plaintext, plaintext);
    const list = (await (await fetch(c.url('/blobs'))).json()) as { objects: { id: string; keyVersions: { version: number }[] }[] };
    assert.equal(list.objects.find((o) => o.id === 'w1')!.keyVersions[0]!.version, rotations + 1);
  });
});

describe('dev server lifecycle', () => {
  test('data survives a restart (keys, blobs, audit chain); stale temp files are dropped', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    try {
      let c = context(await startDevServer({ port: 0, dataDir, log: () => {} }));
      const envelope = await sealFor(c, 'carol', 'tenant-b', 'p1', bytes(50_000));
      assert.equal((await fetch(c.url('/blobs/p1'), { method: 'PUT', body: raw(envelope), headers: { authorization: `Bearer ${await c.token('carol')}` } })).status, 201);
      const count = ((await (await fetch(c.url('/api/audit/verify'))).json()) as { count: number }).count;
      await c.server.close();
      await writeFile(join(dataDir, 'blobs', '.tmp', 'leftover'), 'half an upload');

      c = context(await startDevServer({ port: 0, dataDir, log: () => {} }));
      try {
        const stored = new Uint8Array(await (await fetch(c.url('/blobs/p1'))).arrayBuffer());
        assert.deepEqual(stored, envelope);
        assert.deepEqual((await decrypt(stored, { keyring: new KmsKeyring({ client: c.client('dave'), keyId: 'alias/tenant-b' }) })).plaintext, bytes(50_000));
        const verify = (await (await fetch(c.url('/api/audit/verify'))).json()) as { ok: boolean; count: number };
        assert.equal(verify.ok, true);
        assert.ok(verify.count > count, 'the chain continues across the restart');
        assert.deepEqual(await readdir(join(dataDir, 'blobs', '.tmp')), []);
      } finally {
        await c.server.close();
      }
      // An edited audit line is caught.
      const path = join(dataDir, 'proxy-audit.log');
      const lines = (await readFile(path, 'utf8')).split('\n');
      lines[0] = lines[0]!.replace('"allow"', '"deny"');
      await writeFile(path, lines.join('\n'));
      c = context(await startDevServer({ port: 0, dataDir, log: () => {} }));
      try {
        const verify = (await (await fetch(c.url('/api/audit/verify'))).json()) as { ok: boolean; line: number };
        assert.equal(verify.ok, false);
        assert.equal(verify.line, 1);
      } finally {
        await c.server.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a port in use: EADDRINUSE, before anything is written to the data dir', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const dir = await tempDir();
    try {
      await assert.rejects(startDevServer({ port, dataDir: join(dir, 'data'), log: () => {} }), { code: 'EADDRINUSE' });
      assert.equal(existsSync(join(dir, 'data')), false);
    } finally {
      blocker.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('sealbox start: prints the URL, stops cleanly on SIGTERM; a clear error and exit 1 when the port is taken; usage errors', async () => {
    const dir = await tempDir();
    const script = join(dir, 'start.mts');
    await mkdir(dir, { recursive: true });
    await writeFile(script, `import { main } from ${JSON.stringify(join(ROOT, 'src/node/cli/main.ts'))};\nprocess.exitCode = await main(process.argv.slice(2));\n`);
    const run = (args: string[], onLine?: (line: string, child: ReturnType<typeof spawn>) => void) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d;
          for (const line of d.toString().split('\n')) if (line) onLine?.(line, child);
        });
        child.stderr.on('data', (d: Buffer) => (err += d));
        child.on('close', (code) => resolve({ code, out, err }));
      });
    try {
      const usage = await run(['start', '--port', 'abc']);
      assert.equal(usage.code, 2);
      assert.match(usage.err, /--port must be a number/);
      assert.equal((await run(['start', '--help'])).code, 0);

      const blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      const port = (blocker.address() as { port: number }).port;
      const taken = await run(['start', '--port', String(port), '--data', join(dir, 'd1')]);
      blocker.close();
      assert.equal(taken.code, 1);
      assert.match(taken.err, new RegExp(`port ${port} .* already in use`));

      let url = '';
      const ok = await run(['start', '--port', '0', '--data', join(dir, 'd2')], (line, child) => {
        const m = /Sealbox demo: (http:\/\/\S+)/.exec(line);
        if (m) {
          url = m[1]!;
          fetch(url).then((r) => {
            assert.equal(r.status, 200);
            child.kill('SIGTERM');
          });
        }
      });
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      assert.equal(ok.code, 0, ok.err);
      assert.match(ok.err, /stopped/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
