/**
 * The demo's keys in the local KMS, and a small admin client that calls it in-process.
 *
 * - `alias/tenant-a`, `alias/tenant-b`: one symmetric key per tenant. Their key policies let the
 *   account (the proxy's credential) use them, and deny any use whose encryption context does not
 *   name the key's tenant (encrypt, decrypt, data keys and key pairs, rewrapping into or out of the
 *   key): tenant isolation holds in the KMS too, not only in the proxy.
 * - `alias/demo-offline`: an RSA-2048 key (RSAES_OAEP_SHA_256). The page encrypts with its public
 *   key alone (no KMS call); decrypting goes through the proxy, which checks the commitment and
 *   applies the tenant rule to the context the commitment authenticates.
 */
import { AwsClient } from 'aws4fetch';
import type { LocalKms, SeedFile } from '../kms/index.js';
import { AwsError } from '../../edge/aws/errors.js';
import { JSON_CONTENT_TYPE, kmsTarget } from '../../edge/aws/json-protocol.js';
import { TENANTS } from './tokens.js';

export const OFFLINE_ALIAS = 'alias/demo-offline';
export const tenantAlias = (tenant: string) => `alias/${tenant}`;

export function demoSeed(account: string): SeedFile {
  const root = `arn:aws:iam::${account}:root`;
  return {
    keys: [
      ...TENANTS.map((tenant) => ({
        keySpec: 'SYMMETRIC_DEFAULT',
        description: `Sealbox demo: data keys of ${tenant}`,
        aliases: [tenantAlias(tenant)],
        tags: { tenant, purpose: 'sealbox-demo' },
        policy: {
          Version: '2012-10-17',
          Statement: [
            { Sid: 'AccountAdmin', Effect: 'Allow', Principal: { AWS: root }, Action: 'kms:*', Resource: '*' },
            {
              Sid: 'OnlyThisTenantsContext',
              Effect: 'Deny',
              Principal: '*',
              // Every action that takes a context: rewrapping into or out of the key, and data key
              // pairs, too (\`sealbox policy check\`'s context-deny-gap).
              Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
              Resource: '*',
              Condition: { StringNotEquals: { 'kms:EncryptionContext:tenant': tenant } },
            },
          ],
        },
      })),
      {
        keySpec: 'RSA_2048',
        keyUsage: 'ENCRYPT_DECRYPT',
        description: 'Sealbox demo: offline encryption (RSA-OAEP public key)',
        aliases: [OFFLINE_ALIAS],
        tags: { purpose: 'sealbox-demo' },
      },
    ],
  };
}

/** Calls the in-process local KMS as its account admin (SigV4-signed, never over the network). */
export class KmsAdmin {
  readonly #aws: AwsClient;
  constructor(readonly kms: LocalKms) {
    this.#aws = new AwsClient({ ...kms.credentials, service: 'kms', region: kms.region, retries: 0 });
  }

  async call<T = Record<string, unknown>>(op: string, input: Record<string, unknown>): Promise<T> {
    const request = await this.#aws.sign(`https://kms.${this.kms.region}.amazonaws.com/`, {
      method: 'POST',
      headers: { 'content-type': JSON_CONTENT_TYPE, 'x-amz-target': kmsTarget(op) },
      body: JSON.stringify(input),
    });
    const response = await this.kms.fetch(request);
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      const type = String(body.__type ?? 'KMSError').split('#').pop()!;
      throw new AwsError(type, String(body.message ?? body.Message ?? response.statusText), response.status);
    }
    return body as T;
  }

  async describe(keyId: string): Promise<{ KeyId: string; Arn: string; KeySpec: string; Description: string; Enabled: boolean; CreationDate: number }> {
    const r = await this.call<{ KeyMetadata: { KeyId: string; Arn: string; KeySpec: string; Description: string; Enabled: boolean; CreationDate: number } }>('DescribeKey', { KeyId: keyId });
    return r.KeyMetadata;
  }

  async rotations(keyId: string): Promise<{ KeyId: string; RotationDate: number; RotationType: string }[]> {
    const r = await this.call<{ Rotations?: { KeyId: string; RotationDate: number; RotationType: string }[] }>('ListKeyRotations', { KeyId: keyId });
    return r.Rotations ?? [];
  }

  async rotate(keyId: string): Promise<void> {
    await this.call('RotateKeyOnDemand', { KeyId: keyId });
  }

  async publicKey(keyId: string): Promise<{ keyArn: string; spkiBase64: string }> {
    const r = await this.call<{ KeyId: string; PublicKey: string }>('GetPublicKey', { KeyId: keyId });
    return { keyArn: r.KeyId, spkiBase64: r.PublicKey };
  }
}
