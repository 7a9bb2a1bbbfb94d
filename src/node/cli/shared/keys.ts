/**
 * The key flags shared by encrypt, decrypt and rewrap, and the keyrings they make. Several key
 * flags at once make a multi-recipient envelope (encrypt) or several keys to try (decrypt).
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Keyring } from '../../../sdk/keyring/types.js';
import { MultiKeyring } from '../../../sdk/keyring/multi.js';
import { RawAesKeyring } from '../../../sdk/keyring/raw-aes.js';
import { RsaOaepKeyring } from '../../../sdk/keyring/rsa-oaep.js';
import { kmsTarget } from './kms-call.js';
import { UsageError } from './errors.js';
import { kmsKeyring } from './kms.js';

export const KEY_OPTIONS = {
  kms: { type: 'string' },
  key: { type: 'string', multiple: true },
  region: { type: 'string' },
  token: { type: 'string' },
  'rsa-public': { type: 'string', multiple: true },
  'rsa-private': { type: 'string', multiple: true },
  'rsa-key-id': { type: 'string', multiple: true },
  'aes-key': { type: 'string', multiple: true },
  'aes-key-name': { type: 'string', multiple: true },
} as const;

export interface KeyFlags {
  kms?: string | undefined;
  key?: string[] | undefined;
  region?: string | undefined;
  token?: string | undefined;
  'rsa-public'?: string[] | undefined;
  'rsa-private'?: string[] | undefined;
  'rsa-key-id'?: string[] | undefined;
  'aes-key'?: string[] | undefined;
  'aes-key-name'?: string[] | undefined;
}

export const KEY_HELP = `Keys (repeat or combine them for several recipients):
  --kms <url> --key <id|alias|arn>  a KMS key (AWS KMS, the local KMS, or a Sealbox proxy);
                                    --key repeats; credentials from SEALBOX_KMS_ACCESS_KEY_ID /
                                    SEALBOX_KMS_SECRET_ACCESS_KEY (else AWS_ACCESS_KEY_ID /
                                    AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN), region from
                                    --region, the AWS endpoint's name, SEALBOX_KMS_REGION or
                                    AWS_REGION
  --token <jwt>                     authenticate to a proxy with a bearer token instead
  --rsa-public <pem>                RSA public key (SPKI PEM): encrypts offline
  --rsa-private <pem>               RSA private key (PKCS#8 PEM): decrypts
  --rsa-key-id <id>                 key id stored for the RSA key (default sha256:<SPKI hash>;
                                    use the KMS key ARN for a KMS RSA key's public key)
  --aes-key <file>                  a 32-byte raw AES-256 key file (head -c 32 /dev/urandom > k)
  --aes-key-name <name>             the name stored with it (default: the file's base name)`;

/**
 * Which way the keyrings are used: encrypt needs wrapping keys, decrypt unwrapping ones; rewrap
 * unwraps too, but needs the data key as bytes (so RSA private keys are imported for `decrypt`
 * rather than `unwrapKey`).
 */
export type KeyUse = 'encrypt' | 'decrypt' | 'rewrap';

/** PKCS#8 PEM → a non-extractable RSA-OAEP private key that decrypts to bytes. */
async function rsaDecryptKey(pem: string): Promise<CryptoKey> {
  const body = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  const der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  return crypto.subtle.importKey('pkcs8', der, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['decrypt']);
}

async function readKeyFile(path: string, flag: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw new UsageError(`${flag} ${path}: ${(error as Error).message}`);
  }
}

/** The keyrings named by the flags, in flag order (KMS, then RSA, then AES). */
export async function keyringsFrom(flags: KeyFlags, use: KeyUse): Promise<Keyring[]> {
  const keyrings: Keyring[] = [];
  const kmsKeys = flags.key ?? [];
  if (kmsKeys.length > 0 || flags.kms !== undefined) {
    if (use === 'encrypt' && kmsKeys.length === 0) throw new UsageError('--kms needs --key <id|alias> to encrypt');
    if (flags.kms === undefined && process.env.SEALBOX_KMS_ENDPOINT === undefined) throw new UsageError('--key needs --kms <url>');
    keyrings.push(await kmsKeyring(kmsTarget(flags), kmsKeys));
  } else if (flags.token !== undefined || flags.region !== undefined) {
    throw new UsageError('--token and --region go with --kms');
  }

  const publics = flags['rsa-public'] ?? [];
  const privates = flags['rsa-private'] ?? [];
  const rsaIds = flags['rsa-key-id'] ?? [];
  if (use === 'encrypt' && privates.length > 0 && publics.length === 0) {
    throw new UsageError('encrypt takes --rsa-public (the public key); --rsa-private is for decrypt');
  }
  const rsaFiles = use === 'encrypt' ? publics : privates.length > 0 ? privates : [];
  if (use !== 'encrypt' && publics.length > 0 && privates.length === 0) {
    throw new UsageError('decrypt takes --rsa-private (the private key); --rsa-public is for encrypt');
  }
  if (rsaIds.length > rsaFiles.length) throw new UsageError('more --rsa-key-id than RSA keys');
  for (const [i, file] of rsaFiles.entries()) {
    const pem = new TextDecoder().decode(await readKeyFile(file, use === 'encrypt' ? '--rsa-public' : '--rsa-private'));
    const expected = use === 'encrypt' ? 'PUBLIC KEY' : 'PRIVATE KEY';
    if (!pem.includes(`-----BEGIN ${expected}-----`)) {
      throw new UsageError(`${file}: expected a PEM "${expected}" (${use === 'encrypt' ? 'SPKI' : 'PKCS#8'})`);
    }
    const keyId = rsaIds[i];
    keyrings.push(
      new RsaOaepKeyring({
        ...(use === 'encrypt' ? { publicKey: pem } : { privateKey: use === 'rewrap' ? await rsaDecryptKey(pem) : pem }),
        ...(keyId !== undefined ? { keyId } : {}),
      }),
    );
  }

  const aesFiles = flags['aes-key'] ?? [];
  const aesNames = flags['aes-key-name'] ?? [];
  if (aesNames.length > aesFiles.length) throw new UsageError('more --aes-key-name than --aes-key');
  for (const [i, file] of aesFiles.entries()) {
    const key = await readKeyFile(file, '--aes-key');
    if (key.length !== 32) throw new UsageError(`--aes-key ${file}: a raw AES-256 key is exactly 32 bytes, this file has ${key.length}`);
    keyrings.push(new RawAesKeyring({ keyName: aesNames[i] ?? basename(file), key }));
  }
  return keyrings;
}

/** One keyring for the flags: the first generates the data key, the rest wrap it too. */
export async function keyringFrom(flags: KeyFlags, use: KeyUse): Promise<Keyring> {
  const keyrings = await keyringsFrom(flags, use);
  if (keyrings.length === 0) {
    throw new UsageError(`no key given: use --kms <url> --key <id>, ${use === 'encrypt' ? '--rsa-public' : '--rsa-private'} <pem> or --aes-key <file>`);
  }
  if (keyrings.length === 1) return keyrings[0]!;
  return use === 'encrypt' ? new MultiKeyring({ generator: keyrings[0]!, others: keyrings.slice(1) }) : new MultiKeyring({ others: keyrings });
}
