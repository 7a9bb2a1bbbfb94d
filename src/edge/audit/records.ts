/**
 * Reading audit files (runtime-agnostic): a chain verifier that takes one line at a time (so a
 * report or a watcher verifies while it reads, and can say where a chain broke), and one event shape
 * for both record kinds:
 *
 * - the proxy's (`src/edge/proxy/config.ts` AuditRecord): `time`, `principal`, `op`, `keyId`,
 *   `requestedKeyId`, `context`, `outcome` allow/deny/error, `status`, `errorType`;
 * - the local KMS's (`src/node/kms/audit.ts`, CloudTrail-like): `eventTime`, `userIdentity.arn`,
 *   `eventName`, `keyId`, `encryptionContext`, `requestParameters`, `outcome` success/failure,
 *   `errorCode`.
 */
import { GENESIS_HASH, toHex, webCryptoSha256, type Sha256 } from './chain.js';
import { outcomeOf } from '../ops/metrics.js';

export type AuditOutcome = 'allow' | 'deny' | 'error' | 'throttled';

export interface AuditEvent {
  source: 'proxy' | 'kms';
  /** ISO time as recorded, and as ms since the epoch (NaN when unreadable). */
  time: string;
  ms: number;
  /** The caller (`jwt/alice`, an IAM ARN), or `-` when unauthenticated. */
  principal: string;
  op: string;
  /** The key ARN the call resolved to, or null. */
  keyId: string | null;
  /** The key as the caller named it (alias, id), when known and different. */
  requestedKeyId?: string;
  outcome: AuditOutcome;
  errorType?: string;
  context?: Record<string, string>;
  requestId?: string;
}

/** Error types that mean "refused" (authentication or authorization), as the metrics count them. */
const isDenyType = (type: string | undefined) => type !== undefined && outcomeOf(400, type) === 'deny';

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

function contextOf(v: unknown): Record<string, string> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The event of a proxy or KMS audit record; undefined for a record of neither shape. */
export function auditEvent(r: Record<string, unknown>): AuditEvent | undefined {
  if (typeof r.eventName === 'string' && typeof r.eventTime === 'string') {
    const identity = r.userIdentity as { arn?: unknown } | null | undefined;
    const errorType = str(r.errorCode);
    const params = r.requestParameters as Record<string, unknown> | undefined;
    const requested = str(params?.keyId) ?? str(params?.KeyId);
    const e: AuditEvent = {
      source: 'kms',
      time: r.eventTime,
      ms: Date.parse(r.eventTime),
      principal: str(identity?.arn) ?? '-',
      op: r.eventName,
      keyId: str(r.keyId) ?? null,
      outcome: outcomeOf(r.outcome === 'failure' ? 400 : 200, errorType),
    };
    if (requested !== undefined && requested !== e.keyId) e.requestedKeyId = requested;
    if (errorType !== undefined) e.errorType = errorType;
    const context = contextOf(r.encryptionContext);
    if (context) e.context = context;
    if (typeof r.requestId === 'string') e.requestId = r.requestId;
    return e;
  }
  if (typeof r.op === 'string' && typeof r.time === 'string' && typeof r.outcome === 'string') {
    const errorType = str(r.errorType);
    // The proxy records 'deny' for every refusal under 500 (policy, auth, limits, upstream 4xx): keep
    // its word, but tell throttling apart, and call upstream key-state errors what they are.
    const proxyOutcome = r.outcome === 'allow' || r.outcome === 'deny' || r.outcome === 'error' ? r.outcome : 'error';
    let outcome: AuditOutcome = proxyOutcome;
    if (errorType === 'ThrottlingException') outcome = 'throttled';
    else if (proxyOutcome === 'deny' && errorType !== undefined && !isDenyType(errorType) && /^(Disabled|KMSInvalidState|NotFound|KeyUnavailable|InvalidCiphertext|IncorrectKey|InvalidKeyUsage)/.test(errorType)) outcome = 'error';
    const e: AuditEvent = {
      source: 'proxy',
      time: r.time,
      ms: Date.parse(r.time),
      principal: str(r.principal) ?? '-',
      op: r.op,
      keyId: str(r.keyId) ?? null,
      outcome,
    };
    const requested = str(r.requestedKeyId);
    if (requested !== undefined) e.requestedKeyId = requested;
    if (errorType !== undefined) e.errorType = errorType;
    const context = contextOf(r.context);
    if (context) e.context = context;
    if (typeof r.requestId === 'string') e.requestId = r.requestId;
    return e;
  }
  return undefined;
}

export type VerifiedLine = { ok: true; record: Record<string, unknown>; hash: string } | { ok: false; reason: string };

const TAIL = /,"hash":"([0-9a-f]{64})"\}$/;
const encoder = new TextEncoder();

/**
 * Verifies a chain one line at a time (the rules of `verifyAuditChain` in chain.ts). After a
 * failure it stays failed: lines past a break are not trusted.
 */
export class ChainVerifier {
  #expected: string;
  #count = 0;
  #broken: { line: number; reason: string } | undefined;
  readonly #sha256: Sha256;
  /** With `trustFirst`, the first line's `prevHash` is taken as given (reading from the middle of a file). */
  #trustFirst: boolean;

  constructor(sha256: Sha256 = webCryptoSha256, options: { prevHash?: string; trustFirst?: boolean } = {}) {
    this.#sha256 = sha256;
    this.#expected = options.prevHash ?? GENESIS_HASH;
    this.#trustFirst = options.trustFirst ?? false;
  }

  /** Lines verified so far. */
  get count(): number {
    return this.#count;
  }
  /** Hash of the last verified line. */
  get lastHash(): string {
    return this.#expected;
  }
  /** Where the chain broke (1-based line of those pushed), if it did. */
  get broken(): { line: number; reason: string } | undefined {
    return this.#broken;
  }

  async push(raw: string): Promise<VerifiedLine> {
    if (this.#broken) return { ok: false, reason: `after the break at line ${this.#broken.line}` };
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const fail = (reason: string): VerifiedLine => {
      this.#broken = { line: this.#count + 1, reason };
      return { ok: false, reason };
    };
    const m = TAIL.exec(line);
    if (!m) return fail('no trailing "hash" member');
    const body = `${line.slice(0, m.index)}}`;
    const hash = toHex(await this.#sha256(encoder.encode(body)));
    if (hash !== m[1]) return fail('hash does not match the line (edited)');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return fail('not JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('not a JSON object');
    const prev = (parsed as { prevHash?: unknown }).prevHash;
    if (this.#trustFirst && this.#count === 0 && typeof prev === 'string') this.#expected = prev;
    if (prev !== this.#expected) return fail('prevHash does not match the previous line (a line was removed, inserted or reordered)');
    this.#expected = hash;
    this.#count++;
    const record = parsed as Record<string, unknown>;
    delete record.prevHash;
    return { ok: true, record, hash };
  }
}

/** `15m`, `2h`, `7d`, `30s` → ms; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}

/** `--since`: an ISO time, or a duration back from `now`. Undefined when neither. */
export function parseSince(text: string, now: number): number | undefined {
  const d = parseDuration(text);
  if (d !== undefined) return now - d;
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
}
