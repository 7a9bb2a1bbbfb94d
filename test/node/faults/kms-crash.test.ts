// The local KMS killed with SIGKILL 50 times at random points of a mixed workload (CreateKey,
// RotateKeyOnDemand, GenerateDataKey, Encrypt in concurrent lanes). After the last restart: every
// acknowledged key is there and enabled, every acknowledged rotation is counted, every ciphertext
// made with them decrypts to its plaintext, the audit file's hash chain verifies up to its last
// complete (durable) line, and every acknowledged request has its audit record.
// (test/node/kms/persistence.test.ts kills a create/encrypt/rotate loop 12 times and checks keys
// and decrypts; this adds data keys, rotation counts, the audit chain and 50 kills.)
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { verifyAuditChain } from '../../../src/edge/audit/chain.js';
import { nodeSha256 } from '../../../src/node/kms/audit-file.js';
import { sign } from '../../fuzz/sign.js';

const KILLS = Number(process.env.SEALBOX_CRASH_KILLS ?? 50);
const CREDS = { accessKeyId: 'AKIACRASHFAULTS00001', secretAccessKey: 'crash-faults-secret-0123456789abcdefgh' };
const env = {
  ...process.env,
  SEALBOX_ROOT_KEY: Buffer.alloc(32, 8).toString('base64'),
  SEALBOX_KMS_ACCESS_KEY_ID: CREDS.accessKeyId,
  SEALBOX_KMS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
  NODE_NO_WARNINGS: '1',
};

interface Warm {
  child: ChildProcess;
  start(dataDir: string): Promise<string>;
}

function spawnWarm(): Warm {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/node/faults/kms-child.ts'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`KMS process exited (${code ?? signal}) before listening`))));
  exited.catch(() => {});
  const line = new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return {
    child,
    async start(dataDir) {
      child.stdin!.end(`${dataDir}\n`);
      const first = await Promise.race([line, exited]);
      return (JSON.parse(first) as { url: string }).url;
    },
  };
}

async function call(url: string, op: string, body: unknown): Promise<{ status: number; json: Record<string, any>; requestId: string | null }> {
  const s = sign({
    method: 'POST',
    url: `${url}/`,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}` },
    body: JSON.stringify(body),
    ...CREDS,
    region: 'us-east-1',
    service: 'kms',
    time: Date.now(),
  });
  const res = await fetch(s.url, { method: 'POST', headers: s.headers, body: s.body });
  return { status: res.status, json: (await res.json()) as Record<string, any>, requestId: res.headers.get('x-amzn-requestid') };
}

interface AckedKey {
  keyId: string;
  rotations: number;
  blobs: Array<{ blob: string; plaintext: string; context?: Record<string, string> }>;
}

test(`SIGKILL ${KILLS} times during a mixed workload: acknowledged keys, rotations and ciphertexts survive; the audit chain verifies`, { timeout: 600_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-faults-crash-'));
  const keys: AckedKey[] = [];
  const ackedRequests = new Set<string>();
  // Two warm spares: a restart after a kill takes only the store's open time.
  const spares = [spawnWarm(), spawnWarm()];
  const live = new Set<ChildProcess>(spares.map((w) => w.child));
  const nextSpare = () => {
    const w = spares.shift()!;
    const fresh = spawnWarm();
    spares.push(fresh);
    live.add(fresh.child);
    return w;
  };
  let ops = 0;
  let killsMidRequest = 0;
  try {
    for (let round = 0; round < KILLS; round++) {
      const current = nextSpare();
      const url = await current.start(dir);
      let dead = false;
      let ackedThisRound = 0;
      let inFlight = 0;
      const ack = (requestId: string | null) => {
        if (requestId) ackedRequests.add(requestId);
        ops++;
        ackedThisRound++;
      };
      const lane = async (n: number) => {
        let i = n;
        while (!dead) {
          try {
            const choice = keys.length < 2 ? 0 : (i++ * 7 + Math.floor(Math.random() * 10)) % 10;
            inFlight++;
            if (choice === 0) {
              const r = await call(url, 'CreateKey', { Description: `round ${round}` });
              if (r.status !== 200) throw new Error(`CreateKey ${r.status} ${JSON.stringify(r.json)}`);
              keys.push({ keyId: r.json.KeyMetadata.KeyId, rotations: 0, blobs: [] });
              ack(r.requestId);
            } else if (choice <= 2) {
              const key = keys[Math.floor(Math.random() * keys.length)]!;
              if (key.rotations >= 25) {
                inFlight--;
                continue;
              }
              const r = await call(url, 'RotateKeyOnDemand', { KeyId: key.keyId });
              if (r.status !== 200) throw new Error(`RotateKeyOnDemand ${r.status} ${JSON.stringify(r.json)}`);
              key.rotations++;
              ack(r.requestId);
            } else if (choice <= 6) {
              const key = keys[Math.floor(Math.random() * keys.length)]!;
              const context = { round: String(round), lane: String(n) };
              const r = await call(url, 'GenerateDataKey', { KeyId: key.keyId, KeySpec: 'AES_256', EncryptionContext: context });
              if (r.status !== 200) throw new Error(`GenerateDataKey ${r.status} ${JSON.stringify(r.json)}`);
              key.blobs.push({ blob: r.json.CiphertextBlob, plaintext: r.json.Plaintext, context });
              ack(r.requestId);
            } else {
              const key = keys[Math.floor(Math.random() * keys.length)]!;
              const plaintext = Buffer.from(`round ${round} op ${ops}`).toString('base64');
              const r = await call(url, 'Encrypt', { KeyId: key.keyId, Plaintext: plaintext });
              if (r.status !== 200) throw new Error(`Encrypt ${r.status} ${JSON.stringify(r.json)}`);
              key.blobs.push({ blob: r.json.CiphertextBlob, plaintext });
              ack(r.requestId);
            }
            inFlight--;
          } catch (e) {
            inFlight--;
            if (dead) return; // killed mid-request: that request was never acknowledged
            throw e;
          }
        }
      };
      const lanes = [lane(0), lane(1), lane(2), lane(3)];
      // Kill at a random point once the round has made some progress (on a busy machine a fixed
      // delay may end a round before its first answer).
      const target = 1 + Math.floor(Math.random() * 6);
      for (let waited = 0; ackedThisRound < target && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, Math.random() * 40));
      const exited = new Promise((r) => current.child.once('exit', r));
      dead = true;
      if (inFlight > 0) killsMidRequest++;
      current.child.kill('SIGKILL');
      await exited;
      live.delete(current.child);
      await Promise.all(lanes);
    }
    assert.ok(keys.length >= Math.ceil(KILLS / 5), `only ${keys.length} keys acknowledged`);
    assert.ok(killsMidRequest >= KILLS / 2, `only ${killsMidRequest} of ${KILLS} kills hit requests in flight`);

    // Restart once more and check everything acknowledged.
    const last = nextSpare();
    const url = await last.start(dir);
    try {
      for (const key of keys) {
        const d = await call(url, 'DescribeKey', { KeyId: key.keyId });
        assert.equal(d.status, 200, `key ${key.keyId} lost: ${JSON.stringify(d.json)}`);
        assert.equal(d.json.KeyMetadata.KeyState, 'Enabled');
        const rot = await call(url, 'ListKeyRotations', { KeyId: key.keyId, Limit: 1000 });
        assert.equal(rot.status, 200);
        assert.ok(rot.json.Rotations.length >= key.rotations, `key ${key.keyId}: ${rot.json.Rotations.length} rotations stored, ${key.rotations} acknowledged`);
        for (const b of key.blobs) {
          const r = await call(url, 'Decrypt', { CiphertextBlob: b.blob, ...(b.context ? { EncryptionContext: b.context } : {}) });
          assert.equal(r.status, 200, `ciphertext of ${key.keyId} does not decrypt: ${JSON.stringify(r.json)}`);
          assert.equal(r.json.Plaintext, b.plaintext);
        }
      }
    } finally {
      const exited = new Promise((r) => last.child.once('exit', r));
      last.child.kill('SIGKILL');
      await exited;
      live.delete(last.child);
    }

    // The audit chain verifies up to the last complete line, and holds every acknowledged request.
    const text = await readFile(join(dir, 'audit.log'), 'utf8');
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    const lines = complete.split('\n');
    const chain = await verifyAuditChain(lines, nodeSha256);
    assert.ok(chain.ok, chain.ok ? '' : `audit chain broken at line ${chain.line}: ${chain.reason}`);
    const ids = new Set(lines.filter((l) => l !== '').map((l) => (JSON.parse(l) as { requestId: string }).requestId));
    const missing = [...ackedRequests].filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], `${missing.length} acknowledged requests have no audit record`);
    assert.ok(ops >= KILLS, `only ${ops} operations acknowledged`);
  } finally {
    for (const child of live) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
