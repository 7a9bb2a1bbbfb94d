/**
 * Alert rules over audit events (runtime-agnostic), for `sealbox audit watch`:
 *
 * - `denials`: more than `maxDenials` denials from one principal within `windowSeconds` (default 60),
 *   by the records' own times; one alert per principal per window.
 * - `new-principal-on-key`: a principal used a key (an allowed call) it was not seen using before.
 * - `key-state`: any call that met a disabled key or one in an unusable state (pending deletion,
 *   pending import): `DisabledException`, `KMSInvalidStateException`, `KeyUnavailableException`.
 * - `cross-tenant`: a call on a tenant's key with another tenant's encryption context. A key's tenant
 *   comes from `tenants.keys` (key ARN, id or alias → tenant) or `tenants.pattern` (e.g.
 *   `alias/tenant-<t>`, matched against the key as the caller named it and its ARN); the context's
 *   from `tenants.contextKey` (default `tenant`).
 *
 * The rules file (`--rules rules.json`) is this object as JSON:
 *
 * ```json
 * { "maxDenials": 5, "windowSeconds": 60, "newPrincipalOnKey": true, "keyState": true,
 *   "tenants": { "pattern": "alias/<t>", "keys": { "arn:aws:kms:…:key/…": "tenant-a" }, "contextKey": "tenant" } }
 * ```
 */
import type { AuditEvent } from './records.js';

export interface WatchRules {
  /** Alert when a principal has more than this many denials in `windowSeconds`. Unset: rule off. */
  maxDenials?: number;
  windowSeconds?: number;
  /** Default true. */
  newPrincipalOnKey?: boolean;
  /** Default true. */
  keyState?: boolean;
  tenants?: { keys?: Record<string, string>; pattern?: string; contextKey?: string };
}

export type AlertRule = 'denials' | 'new-principal-on-key' | 'key-state' | 'cross-tenant' | 'chain';

export interface Alert {
  rule: AlertRule;
  time: string;
  principal: string;
  keyId: string | null;
  message: string;
  file?: string;
  line?: number;
  requestId?: string;
}

export class RulesError extends Error {
  override readonly name = 'RulesError';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a rules object (from a file); throws RulesError naming the bad member. */
export function parseRules(doc: unknown): WatchRules {
  if (!isRecord(doc)) throw new RulesError('rules must be a JSON object');
  const known = ['maxDenials', 'windowSeconds', 'newPrincipalOnKey', 'keyState', 'tenants'];
  for (const k of Object.keys(doc)) if (!known.includes(k)) throw new RulesError(`unknown rule "${k}" (known: ${known.join(', ')})`);
  const out: WatchRules = {};
  for (const k of ['maxDenials', 'windowSeconds'] as const) {
    const v = doc[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < (k === 'maxDenials' ? 0 : 1)) throw new RulesError(`${k} must be a whole number${k === 'maxDenials' ? ' ≥ 0' : ' ≥ 1'}`);
    out[k] = v;
  }
  for (const k of ['newPrincipalOnKey', 'keyState'] as const) {
    const v = doc[k];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') throw new RulesError(`${k} must be true or false`);
    out[k] = v;
  }
  if (doc.tenants !== undefined) {
    const t = doc.tenants;
    if (!isRecord(t)) throw new RulesError('tenants must be an object: { keys?, pattern?, contextKey? }');
    for (const k of Object.keys(t)) if (!['keys', 'pattern', 'contextKey'].includes(k)) throw new RulesError(`tenants has an unknown member "${k}"`);
    const tenants: NonNullable<WatchRules['tenants']> = {};
    if (t.keys !== undefined) {
      if (!isRecord(t.keys) || !Object.values(t.keys).every((v) => typeof v === 'string')) throw new RulesError('tenants.keys must map key names to tenant names');
      tenants.keys = t.keys as Record<string, string>;
    }
    if (t.pattern !== undefined) {
      if (typeof t.pattern !== 'string' || t.pattern.split('<t>').length !== 2) throw new RulesError('tenants.pattern must contain <t> once, e.g. "alias/tenant-<t>"');
      tenants.pattern = t.pattern;
    }
    if (t.contextKey !== undefined) {
      if (typeof t.contextKey !== 'string' || t.contextKey === '') throw new RulesError('tenants.contextKey must be a non-empty string');
      tenants.contextKey = t.contextKey;
    }
    out.tenants = tenants;
  }
  return out;
}

const KEY_STATE_ERRORS: Record<string, string> = {
  DisabledException: 'is disabled',
  KMSInvalidStateException: 'is not in a usable state (pending deletion or import)',
  KeyUnavailableException: 'is unavailable',
};

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What the rules have learnt, as JSON (for `audit watch --state`: cron runs pick up where the last one stopped). */
export interface RuleMemory {
  /** Key → principals seen using it. */
  seen: Record<string, string[]>;
  /** Principal → times (ms) of recent denials. */
  denials: Record<string, number[]>;
  /** Principal → no further denial alert before this time (ms). */
  alertedUntil: Record<string, number>;
}

export class RuleEngine {
  readonly #rules: WatchRules;
  readonly #window: number;
  readonly #denials = new Map<string, number[]>();
  readonly #alertedUntil = new Map<string, number>();
  readonly #seen = new Map<string, Set<string>>();
  readonly #pattern: RegExp | undefined;

  constructor(rules: WatchRules) {
    this.#rules = rules;
    this.#window = (rules.windowSeconds ?? 60) * 1000;
    const p = rules.tenants?.pattern;
    if (p !== undefined) {
      const [before, after] = p.split('<t>') as [string, string];
      this.#pattern = new RegExp(`^(?:.*:)?${escapeRegExp(before)}(.+?)${escapeRegExp(after)}$`);
    }
  }

  /** What the rules have learnt so far. */
  memory(): RuleMemory {
    return {
      seen: Object.fromEntries([...this.#seen].map(([k, p]) => [k, [...p].sort()])),
      denials: Object.fromEntries(this.#denials),
      alertedUntil: Object.fromEntries(this.#alertedUntil),
    };
  }

  /** Takes back what `memory()` returned (from a state file); ignores anything malformed. */
  remember(m: Partial<RuleMemory> | undefined): void {
    if (!m || typeof m !== 'object') return;
    for (const [k, p] of Object.entries(m.seen ?? {})) if (Array.isArray(p)) this.#seen.set(k, new Set(p.filter((x) => typeof x === 'string')));
    for (const [p, t] of Object.entries(m.denials ?? {})) if (Array.isArray(t)) this.#denials.set(p, t.filter((x) => typeof x === 'number'));
    for (const [p, t] of Object.entries(m.alertedUntil ?? {})) if (typeof t === 'number') this.#alertedUntil.set(p, t);
  }

  /** The tenant a key belongs to, by the map or the pattern; undefined when neither says. */
  tenantOf(e: AuditEvent): string | undefined {
    const names = [e.requestedKeyId, e.keyId].filter((n): n is string => typeof n === 'string');
    const keys = this.#rules.tenants?.keys;
    if (keys) for (const n of names) if (Object.hasOwn(keys, n)) return keys[n];
    if (this.#pattern) {
      for (const n of names) {
        const m = this.#pattern.exec(n);
        if (m) return m[1];
      }
    }
    return undefined;
  }

  /**
   * Takes one event in order; returns its alerts. With `alerting` false the event only teaches the
   * rules (the principals seen on each key, recent denials): a baseline.
   */
  observe(e: AuditEvent, alerting = true): Alert[] {
    const alerts: Alert[] = [];
    const alert = (rule: Alert['rule'], message: string) => {
      const a: Alert = { rule, time: e.time, principal: e.principal, keyId: e.keyId, message };
      if (e.requestId !== undefined) a.requestId = e.requestId;
      alerts.push(a);
    };
    const r = this.#rules;
    if (r.maxDenials !== undefined && e.outcome === 'deny' && Number.isFinite(e.ms)) {
      let times = this.#denials.get(e.principal);
      if (!times) this.#denials.set(e.principal, (times = []));
      times.push(e.ms);
      while (times.length > 0 && times[0]! <= e.ms - this.#window) times.shift();
      if (times.length > r.maxDenials && (this.#alertedUntil.get(e.principal) ?? -Infinity) <= e.ms) {
        this.#alertedUntil.set(e.principal, e.ms + this.#window);
        alert('denials', `${e.principal}: ${times.length} denials within ${this.#window / 1000}s (more than ${r.maxDenials})`);
      }
    }
    if (r.newPrincipalOnKey !== false && e.outcome === 'allow' && e.keyId !== null && e.principal !== '-') {
      let principals = this.#seen.get(e.keyId);
      if (!principals) this.#seen.set(e.keyId, (principals = new Set()));
      if (!principals.has(e.principal)) {
        principals.add(e.principal);
        alert('new-principal-on-key', `${e.principal} used ${e.keyId} for the first time (${e.op})`);
      }
    }
    if (r.keyState !== false && e.errorType !== undefined && Object.hasOwn(KEY_STATE_ERRORS, e.errorType)) {
      alert('key-state', `${e.principal} called ${e.op} on ${e.requestedKeyId ?? e.keyId ?? 'a key'}, which ${KEY_STATE_ERRORS[e.errorType]} (${e.errorType})`);
    }
    if (r.tenants && e.context) {
      const contextKey = r.tenants.contextKey ?? 'tenant';
      const contextTenant = e.context[contextKey];
      const keyTenant = contextTenant === undefined ? undefined : this.tenantOf(e);
      if (contextTenant !== undefined && keyTenant !== undefined && contextTenant !== keyTenant) {
        alert('cross-tenant', `${e.principal} called ${e.op} (${e.outcome}) on ${keyTenant}'s key ${e.requestedKeyId ?? e.keyId} with ${contextKey}=${contextTenant}`);
      }
    }
    return alerting ? alerts : [];
  }
}
