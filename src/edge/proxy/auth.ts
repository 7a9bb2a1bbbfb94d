/**
 * Caller authentication (runtime-agnostic): JWT bearer tokens for browsers (`jose`, shared secret or
 * JWKS), SigV4-signed requests for machines (`src/edge/aws/sigv4.ts`, plus a replay cache: a signature
 * is accepted once within its validity window).
 */
import { createRemoteJWKSet, jwtVerify, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { SigV4Error, verifySigV4, type SigV4Crypto, type SigV4Request } from '../aws/sigv4.js';
import { DEFAULTS, type JwtConfig, type ReplayCache, type SigV4Config } from './config.js';
import { AwsError, sigV4Failure } from '../aws/errors.js';

export interface Caller {
  authType: 'jwt' | 'sigv4';
  /** `jwt/<sub>` for tokens, the configured principal for SigV4 keys. */
  principal: string;
  /** Condition keys contributed by the caller (`jwt:<claim>`, `aws:PrincipalArn`, …). */
  conditionKeys: Record<string, string | string[] | boolean>;
  /** Policy variables (`${jwt:<claim>}`, `${aws:username}`, …). */
  variables: Record<string, string>;
}

const unauthenticated = (type: string, message: string, reason?: string) =>
  new AwsError(type, message, type === 'MissingAuthenticationTokenException' ? 403 : 400, {
    headers: { 'www-authenticate': 'Bearer' },
    ...(reason === undefined ? {} : { reason }),
  });

/** Remembers signatures in memory until they expire; bounded (refuses new ones when full of live entries). */
export class MemoryReplayCache implements ReplayCache {
  readonly #seen = new Map<string, number>();
  readonly #max: number;
  readonly #now: () => number;
  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#max = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  remember(signature: string, expiresAt: number): boolean {
    const now = this.#now();
    const prev = this.#seen.get(signature);
    if (prev !== undefined && prev > now) return false;
    if (this.#seen.size >= this.#max) {
      for (const [sig, exp] of this.#seen) if (exp <= now) this.#seen.delete(sig);
      if (this.#seen.size >= this.#max) {
        throw new AwsError('ThrottlingException', 'Too many signed requests in the replay window; try again shortly.', 400, {
          headers: { 'retry-after': '1' },
          reason: 'replay cache full',
        });
      }
    }
    this.#seen.set(signature, expiresAt);
    return true;
  }
}

function claimConditionKeys(claims: JWTPayload): { keys: Record<string, string | string[] | boolean>; vars: Record<string, string> } {
  const keys: Record<string, string | string[] | boolean> = {};
  const vars: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(claims)) {
    const lower = name.toLowerCase();
    // Condition keys are matched case-insensitively: two claims differing only in case are ambiguous.
    if (seen.has(lower)) throw unauthenticated('UnrecognizedClientException', 'The token has ambiguous claims.', `claims differ only in case: ${name}`);
    seen.add(lower);
    const key = `jwt:${name}`;
    if (typeof value === 'string') {
      keys[key] = value;
      vars[key] = value;
    } else if (typeof value === 'number' && Number.isFinite(value)) {
      keys[key] = String(value);
      vars[key] = String(value);
    } else if (typeof value === 'boolean') {
      keys[key] = value;
      vars[key] = String(value);
    } else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      keys[key] = value as string[];
    }
    // Objects and mixed arrays are not exposed.
  }
  return { keys, vars };
}

/** How long a verified token is trusted without verifying it again (bounded by its own exp). */
export const VERIFIED_TOKEN_TTL_MS = 60_000;
const VERIFIED_TOKEN_MAX = 10_000;

export class JwtAuthenticator {
  readonly #key: Uint8Array | JWTVerifyGetKey;
  readonly #config: JwtConfig;
  readonly #algorithms: string[];
  readonly #now: () => number;

  constructor(config: JwtConfig, now: () => number) {
    this.#config = config;
    this.#now = now;
    if (config.secret !== undefined) {
      this.#key = typeof config.secret === 'string' ? new TextEncoder().encode(config.secret) : config.secret;
      this.#algorithms = config.algorithms ?? ['HS256'];
    } else {
      this.#key = createRemoteJWKSet(new URL(config.jwksUrl!), { timeoutDuration: 5000, cooldownDuration: 30_000 });
      this.#algorithms = config.algorithms ?? ['RS256', 'PS256', 'ES256', 'EdDSA'];
    }
  }

  /**
   * Tokens already verified, with the caller they gave. A browser sends the same token with every
   * call until it expires, and verifying it (an HMAC or RSA/EC signature, through WebCrypto) is the
   * largest part of a call's cost: a token seen before is only checked against the clock. Entries
   * live at most `VERIFIED_TOKEN_TTL_MS`, so a JWKS key that is withdrawn stops being honoured soon
   * after; the map is bounded.
   */
  readonly #verified = new Map<string, { caller: Caller; until: number; notBefore: number }>();

  async authenticate(token: string): Promise<Caller> {
    const now = this.#now();
    const hit = this.#verified.get(token);
    if (hit !== undefined) {
      if (now < hit.until && now >= hit.notBefore) return hit.caller;
      this.#verified.delete(token);
    }
    const caller = await this.#verify(token);
    this.#remember(token, caller, now);
    return caller;
  }

  #remember(token: string, caller: Caller, now: number): void {
    const tolerance = (this.#config.clockToleranceSec ?? 0) * 1000;
    const claims = caller.conditionKeys;
    const exp = Number(claims['jwt:exp']) * 1000;
    if (!Number.isFinite(exp)) return;
    let until = Math.min(exp + tolerance, now + VERIFIED_TOKEN_TTL_MS);
    const iat = Number(claims['jwt:iat']) * 1000;
    if (this.#config.maxTokenAgeSec !== undefined) {
      if (!Number.isFinite(iat)) return;
      until = Math.min(until, iat + this.#config.maxTokenAgeSec * 1000 + tolerance);
    }
    const nbf = Number(claims['jwt:nbf']) * 1000;
    if (this.#verified.size >= VERIFIED_TOKEN_MAX) {
      // Oldest first (insertion order): drop a tenth at once rather than one per insert.
      let drop = VERIFIED_TOKEN_MAX / 10;
      for (const key of this.#verified.keys()) {
        this.#verified.delete(key);
        if (--drop <= 0) break;
      }
    }
    // Shared by every call with this token: nothing may change it.
    Object.freeze(caller.conditionKeys);
    Object.freeze(caller.variables);
    Object.freeze(caller);
    this.#verified.set(token, { caller, until, notBefore: Number.isFinite(nbf) ? nbf - tolerance : -Infinity });
  }

  async #verify(token: string): Promise<Caller> {
    let payload: JWTPayload;
    try {
      const options = {
        issuer: this.#config.issuer,
        audience: this.#config.audience,
        algorithms: this.#algorithms,
        clockTolerance: this.#config.clockToleranceSec ?? 0,
        currentDate: new Date(this.#now()),
        requiredClaims: ['exp'],
        ...(this.#config.maxTokenAgeSec === undefined ? {} : { maxTokenAge: this.#config.maxTokenAgeSec }),
      };
      const result =
        this.#key instanceof Uint8Array ? await jwtVerify(token, this.#key, options) : await jwtVerify(token, this.#key, options);
      payload = result.payload;
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw unauthenticated('ExpiredTokenException', 'The security token included in the request is expired.', 'jwt expired');
      const code = (e as { code?: string }).code ?? 'ERR_JWT_INVALID';
      throw unauthenticated('UnrecognizedClientException', 'The security token included in the request is invalid.', `jwt rejected: ${code}: ${(e as Error).message}`);
    }
    const claimName = this.#config.principalClaim ?? DEFAULTS.principalClaim;
    const id = payload[claimName];
    if (typeof id !== 'string' || id === '') {
      throw unauthenticated('UnrecognizedClientException', 'The security token included in the request is invalid.', `jwt has no '${claimName}' claim`);
    }
    const { keys, vars } = claimConditionKeys(payload);
    const principal = `jwt/${id}`;
    return {
      authType: 'jwt',
      principal,
      conditionKeys: { ...keys, 'aws:PrincipalArn': principal, 'sealbox:AuthType': 'jwt' },
      variables: { ...vars, 'aws:username': id, 'aws:PrincipalArn': principal },
    };
  }
}

export class SigV4Authenticator {
  readonly #secrets = new Map<string, { secretAccessKey: string; principal: string }>();
  readonly #config: SigV4Config;
  readonly #replay: ReplayCache;
  readonly #now: () => number;
  readonly #signingKeys = new Map<string, Uint8Array>();
  readonly #crypto: SigV4Crypto | undefined;

  constructor(config: SigV4Config, now: () => number, crypto?: SigV4Crypto) {
    this.#config = config;
    this.#now = now;
    this.#crypto = crypto;
    for (const k of config.keys) this.#secrets.set(k.accessKeyId, { secretAccessKey: k.secretAccessKey, principal: k.principal });
    this.#replay = config.replayCache ?? new MemoryReplayCache({ now });
  }

  async authenticate(request: SigV4Request, body: Uint8Array): Promise<Caller> {
    const skewMs = (this.#config.maxSkewSec ?? DEFAULTS.maxSkewSec) * 1000;
    let result;
    try {
      result = await verifySigV4(request, body, {
        lookupSecret: (id) => this.#secrets.get(id),
        now: this.#now,
        maxSkewMs: skewMs,
        service: 'kms',
        signingKeyCache: this.#signingKeys,
        ...(this.#crypto ? { crypto: this.#crypto } : {}),
      });
    } catch (e) {
      if (e instanceof SigV4Error) throw sigV4Failure(e, { reason: `sigv4 ${e.code}: ${e.message}` });
      throw e;
    }
    if (this.#config.regions && !this.#config.regions.includes(result.region)) {
      throw new AwsError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${result.region}'.`, 400, { reason: `sigv4 region ${result.region} not allowed` });
    }
    // A signature is valid while |now − signedAt| ≤ skew: remember it until then. It is the signature
    // the verifier checked, from the same parse of the header (never a second reading of it).
    const fresh = await this.#replay.remember(result.signature, result.signedAt + skewMs + 1000);
    if (!fresh) {
      throw new AwsError('InvalidSignatureException', 'The request signature has already been used (replayed request).', 400, { reason: 'sigv4 replay' });
    }
    const principal = (result.secret as unknown as { principal: string }).principal;
    return {
      authType: 'sigv4',
      principal,
      conditionKeys: { 'aws:PrincipalArn': principal, 'sealbox:AuthType': 'sigv4', 'sealbox:AccessKeyId': result.accessKeyId },
      variables: { 'aws:username': principal.split('/').pop() ?? principal, 'aws:PrincipalArn': principal },
    };
  }
}

/** Picks the scheme from the Authorization header: `Bearer <JWT>` or a SigV4 signature (each only when configured). */
export async function authenticateRequest(
  jwt: JwtAuthenticator | undefined,
  sigv4: SigV4Authenticator | undefined,
  request: SigV4Request,
  body: Uint8Array,
): Promise<Caller> {
  const auth = request.headers.get('authorization');
  if (auth === null) {
    throw new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403, {
      headers: jwt ? { 'www-authenticate': 'Bearer' } : {},
    });
  }
  if (/^bearer /i.test(auth)) {
    if (!jwt) throw new AwsError('IncompleteSignatureException', 'Bearer tokens are not accepted here.', 400);
    return jwt.authenticate(auth.slice(7).trim());
  }
  if (auth.startsWith('AWS4-HMAC-SHA256 ')) {
    if (!sigv4) throw new AwsError('IncompleteSignatureException', 'SigV4 signatures are not accepted here.', 400);
    return sigv4.authenticate(request, body);
  }
  throw new AwsError('IncompleteSignatureException', 'The Authorization header must be "Bearer <JWT>" or a SigV4 signature.', 400);
}
