/**
 * Demo identities: a few users in two tenants, each an uploader or a reader, and short-lived JWTs
 * (HS256) for them, signed with a secret generated once per data dir. The proxy verifies the
 * tokens with the same secret; the policy reads the `tenant` and `role` claims.
 *
 * This is a demo login (pick a user, no password): a real deployment points the proxy at its
 * identity provider's JWKS instead.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import { writeFileAtomic } from '../fs.js';

export const ISSUER = 'sealbox-dev';
export const AUDIENCE = 'sealbox-proxy';
export const TOKEN_TTL_SECONDS = 3600;

export type Role = 'uploader' | 'reader';

export interface DemoUser {
  sub: string;
  name: string;
  tenant: string;
  role: Role;
}

export const TENANTS = ['tenant-a', 'tenant-b'] as const;

export const DEMO_USERS: readonly DemoUser[] = [
  { sub: 'alice', name: 'Alice', tenant: 'tenant-a', role: 'uploader' },
  { sub: 'bob', name: 'Bob', tenant: 'tenant-a', role: 'reader' },
  { sub: 'carol', name: 'Carol', tenant: 'tenant-b', role: 'uploader' },
  { sub: 'dave', name: 'Dave', tenant: 'tenant-b', role: 'reader' },
];

export interface Claims extends JWTPayload {
  sub: string;
  name: string;
  tenant: string;
  role: Role;
}

/** The HMAC secret: `<dir>/jwt.secret` (base64), created on first start. */
export async function loadSecret(dir: string): Promise<Uint8Array> {
  const path = join(dir, 'jwt.secret');
  try {
    const bytes = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64');
    if (bytes.length >= 32) return new Uint8Array(bytes);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const secret = randomBytes(32);
  await writeFileAtomic(path, `${secret.toString('base64')}\n`, 0o600);
  return new Uint8Array(secret);
}

export class TokenIssuer {
  constructor(readonly secret: Uint8Array) {}

  async issue(user: DemoUser): Promise<{ token: string; expiresAt: number }> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ name: user.name, tenant: user.tenant, role: user.role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(user.sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + TOKEN_TTL_SECONDS)
      .setJti(randomBytes(9).toString('base64url'))
      .sign(this.secret);
    return { token, expiresAt: (now + TOKEN_TTL_SECONDS) * 1000 };
  }

  /** The caller's claims from `Authorization: Bearer …`, or undefined. */
  async verify(request: Request): Promise<Claims | undefined> {
    const auth = request.headers.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m) return undefined;
    try {
      const { payload } = await jwtVerify(m[1]!, this.secret, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || typeof payload.tenant !== 'string' || (payload.role !== 'uploader' && payload.role !== 'reader')) return undefined;
      return payload as Claims;
    } catch {
      return undefined;
    }
  }
}
