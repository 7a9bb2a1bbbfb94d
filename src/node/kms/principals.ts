/**
 * Principals of the local KMS: access keys mapped to an account's root, an IAM user, an IAM role or
 * an assumed-role session, as key policies and grants name them.
 *
 * `<dataDir>/principals.json` (mode 0600, optional) and a seed file's `"principals"` list:
 *
 * ```json
 * { "principals": [
 *   { "accessKeyId": "AKIAOWNER…", "secretAccessKey": "…", "principalArn": "arn:aws:iam::111122223333:root" },
 *   { "accessKeyId": "AKIAREADER…", "secretAccessKey": "…", "principalArn": "arn:aws:iam::444455556666:role/reader" },
 *   { "accessKeyId": "AKIAPROXY…", "secretAccessKey": "…", "principalArn": "arn:aws:iam::111122223333:role/sealbox-proxy",
 *     "trustedForViaService": true }
 * ] }
 * ```
 *
 * The account is the one in the ARN. `trustedForViaService` lets that credential (a proxy in front
 * of the KMS) set the `x-sealbox-via-service` header, which becomes the `kms:ViaService` condition
 * key; from any other credential (or when the header is not among the SigV4 SignedHeaders) it is
 * ignored, so a caller cannot claim a service it is not.
 */
import { readFile } from 'node:fs/promises';
import type { StoredCredential } from './store.js';

export const VIA_SERVICE_HEADER = 'x-sealbox-via-service';

export interface PrincipalEntry {
  accessKeyId: string;
  secretAccessKey: string;
  principalArn: string;
  /** Optional; must match the ARN's account. */
  account?: string;
  trustedForViaService?: boolean;
}

export class PrincipalsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrincipalsError';
  }
}

const PRINCIPAL_RE = /^arn:aws:(?:iam::(\d{12}):(?:root|user\/[\w+=,.@/-]{1,512}|role\/[\w+=,.@/-]{1,512})|sts::(\d{12}):assumed-role\/[\w+=,.@-]{1,64}\/[\w+=,.@-]{1,64})$/;

/** The account of a principal ARN, or undefined if it is not one the local KMS understands. */
export function accountOfPrincipal(arn: string): string | undefined {
  const m = PRINCIPAL_RE.exec(arn);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** Validates entries and turns them into stored credentials. */
export function toCredentials(entries: unknown, where: string): StoredCredential[] {
  if (!Array.isArray(entries)) throw new PrincipalsError(`${where}: "principals" must be a list`);
  const out: StoredCredential[] = [];
  for (const [i, e] of entries.entries()) {
    const at = `${where}: principals[${i}]`;
    const p = e as Partial<PrincipalEntry> | null;
    if (typeof p !== 'object' || p === null) throw new PrincipalsError(`${at} must be an object`);
    if (typeof p.accessKeyId !== 'string' || !/^[A-Z0-9]{16,128}$/.test(p.accessKeyId)) throw new PrincipalsError(`${at}: accessKeyId must be 16–128 of A-Z and 0-9`);
    if (typeof p.secretAccessKey !== 'string' || p.secretAccessKey.length < 8) throw new PrincipalsError(`${at}: secretAccessKey must be a string of at least 8 characters`);
    if (typeof p.principalArn !== 'string') throw new PrincipalsError(`${at}: principalArn is required`);
    const account = accountOfPrincipal(p.principalArn);
    if (!account) {
      throw new PrincipalsError(`${at}: principalArn ${p.principalArn} is not an account root, IAM user, IAM role or assumed-role session ARN`);
    }
    if (p.account !== undefined && p.account !== account) throw new PrincipalsError(`${at}: account ${String(p.account)} does not match ${p.principalArn}`);
    if (p.trustedForViaService !== undefined && typeof p.trustedForViaService !== 'boolean') throw new PrincipalsError(`${at}: trustedForViaService must be a boolean`);
    const c: StoredCredential = { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey, account, principalArn: p.principalArn };
    if (p.trustedForViaService) c.trustedForViaService = true;
    out.push(c);
  }
  return out;
}

/** Reads `<dataDir>/principals.json`; an absent file is no principals. */
export async function loadPrincipalsFile(path: string): Promise<StoredCredential[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  let parsed: { principals?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (e) {
    throw new PrincipalsError(`${path} is not valid JSON (${(e as Error).message}); refusing to start.`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new PrincipalsError(`${path} must be a JSON object with "principals"`);
  return toCredentials(parsed.principals ?? [], path);
}

/** Adds `extra` to `into`; the same access key twice must be the same credential. */
export function mergeCredentials(into: StoredCredential[], extra: StoredCredential[], where: string): void {
  for (const c of extra) {
    const i = into.findIndex((x) => x.accessKeyId === c.accessKeyId);
    if (i < 0) {
      into.push(c);
      continue;
    }
    const old = into[i]!;
    if (old.secretAccessKey !== c.secretAccessKey) throw new PrincipalsError(`${where}: access key ${c.accessKeyId} is defined twice with different secrets`);
    into[i] = { ...old, ...c };
  }
}
