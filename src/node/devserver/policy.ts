/**
 * The proxy's policy for the demo (AWS key-policy shape, evaluated by the proxy per call):
 *
 * - everyone signed in may read key metadata and public keys;
 * - an uploader may make data keys and encrypt, and rewrap (ReEncrypt), for their own tenant's
 *   context only;
 * - a reader may decrypt, for their own tenant's context only (separation of duties: an uploader
 *   cannot read back, a reader cannot write);
 * - an explicit deny for any context of another tenant, whatever else allows (so the page can
 *   name the statement that refused a cross-tenant read).
 *
 * For RSA keys the proxy takes the context from the envelope (checked against its commitment), so
 * the same rule holds for objects encrypted offline.
 */
import type { Policy } from '../../edge/policy/index.js';

export function demoProxyPolicy(): Policy {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ReadKeyMetadata',
        Effect: 'Allow',
        Principal: '*',
        Action: ['kms:DescribeKey', 'kms:GetPublicKey'],
        Resource: '*',
      },
      {
        Sid: 'UploadersEncryptForTheirTenant',
        Effect: 'Allow',
        Principal: '*',
        Action: ['kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Encrypt', 'kms:ReEncrypt*'],
        Resource: '*',
        Condition: {
          StringEquals: { 'jwt:role': 'uploader', 'kms:EncryptionContext:tenant': '${jwt:tenant}' },
        },
      },
      {
        Sid: 'ReadersDecryptForTheirTenant',
        Effect: 'Allow',
        Principal: '*',
        Action: 'kms:Decrypt',
        Resource: '*',
        Condition: {
          StringEquals: { 'jwt:role': 'reader', 'kms:EncryptionContext:tenant': '${jwt:tenant}' },
        },
      },
      {
        Sid: 'TenantIsolation',
        Effect: 'Deny',
        Principal: '*',
        Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
        Resource: '*',
        Condition: {
          StringNotEquals: { 'kms:EncryptionContext:tenant': '${jwt:tenant}' },
        },
      },
    ],
  };
}
