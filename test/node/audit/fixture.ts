/**
 * Real audit files for the report and watch tests: a local KMS (audit file on) behind a proxy (audit
 * file on), and a known mix of calls through the proxy with JWTs:
 *
 * - alice (uploader, tenant a): GenerateDataKey on alias/tenant-a, context tenant=a, twice (allow);
 * - bob (reader, tenant a): Decrypt of alice's first key (allow);
 * - carol (reader, tenant b): Decrypt of it with context tenant=a, four times (deny: policy);
 * - alice: GenerateDataKey on alias/tenant-b with context tenant=a (allowed by the proxy policy,
 *   which checks the context against the caller's tenant but not the key: a cross-tenant use);
 * - tenant b's key is disabled (directly at the KMS), then dave (uploader, tenant b):
 *   GenerateDataKey on alias/tenant-b (DisabledException from the KMS).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { startLocalKmsServer } from '../../../src/node/kms/index.js';
import { startProxyServer } from '../../../src/node/proxy/node.js';
import { KEY_IDS, ROOT_KEY, SEED, arn, baseConfig, bearer, call, token } from '../../edge/proxy/helpers.js';

export interface AuditFixture {
  dir: string;
  proxyAudit: string;
  kmsAudit: string;
  kmsPrincipal: string;
  cleanup(): Promise<void>;
}

export const TENANT_A = arn(KEY_IDS.tenantA);
export const TENANT_B = arn(KEY_IDS.tenantB);

export async function makeAuditFiles(): Promise<AuditFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-audit-'));
  const kmsAudit = join(dir, 'kms-audit.log');
  const proxyAudit = join(dir, 'proxy-audit.log');
  const kms = await startLocalKmsServer({ port: 0, dataDir: join(dir, 'kms'), rootKey: ROOT_KEY, env: {}, log: () => {}, seed: SEED, audit: kmsAudit });
  const proxy = await startProxyServer({ config: { ...baseConfig(kms, []), audit: { file: proxyAudit } }, port: 0 });
  try {
    const alice = bearer(await token({ sub: 'alice', tenant: 'a', role: 'uploader' }));
    const bob = bearer(await token({ sub: 'bob', tenant: 'a', role: 'reader' }));
    const carol = bearer(await token({ sub: 'carol', tenant: 'b', role: 'reader' }));
    const dave = bearer(await token({ sub: 'dave', tenant: 'b', role: 'uploader' }));
    const ok = <R extends { status: number; body: unknown }>(r: R, want: number): R => {
      if (r.status !== want) throw new Error(`expected ${want}, got ${r.status}: ${JSON.stringify(r.body)}`);
      return r;
    };
    const gen = { KeyId: 'alias/tenant-a', KeySpec: 'AES_256', EncryptionContext: { tenant: 'a' } };
    const first = ok(await call(proxy.url, 'GenerateDataKey', gen, alice), 200);
    ok(await call(proxy.url, 'GenerateDataKey', gen, alice), 200);
    const decrypt = { CiphertextBlob: first.body.CiphertextBlob, EncryptionContext: { tenant: 'a' } };
    ok(await call(proxy.url, 'Decrypt', decrypt, bob), 200);
    for (let i = 0; i < 4; i++) ok(await call(proxy.url, 'Decrypt', decrypt, carol), 400);
    ok(await call(proxy.url, 'GenerateDataKey', { ...gen, KeyId: 'alias/tenant-b' }, alice), 200);
    const admin = new KMSClient({ endpoint: kms.url, region: kms.region, credentials: kms.credentials, maxAttempts: 1 });
    await admin.send(new DisableKeyCommand({ KeyId: KEY_IDS.tenantB }));
    admin.destroy();
    ok(await call(proxy.url, 'GenerateDataKey', { KeyId: 'alias/tenant-b', KeySpec: 'AES_256', EncryptionContext: { tenant: 'b' } }, dave), 400);
  } finally {
    await proxy.close();
    await kms.close();
  }
  return {
    dir,
    proxyAudit,
    kmsAudit,
    kmsPrincipal: `arn:aws:iam::111122223333:user/sealbox-dev`,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
